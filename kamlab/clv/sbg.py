"""Shifted-beta-geometric (sBG) model of contract renewals (Fader & Hardie 2007, "How to
project customer retention"), with the discounted expected residual lifetime of Fader & Hardie
(2010).

Each customer churns at each renewal with a constant probability θ, and θ varies across
customers as Beta(alpha, beta). The input is the number of customers alive at the start of each
renewal period: one cohort, or the cohort table of :func:`kamlab.churn.renewal_survivors`.
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from scipy.special import betaln, hyp2f1, psi

from kamlab import fmt
from kamlab.clv._mle import MLEModel

#: Columns of :meth:`MLEModel.summary`.
SUMMARY_COLUMNS = ("estimate", "std_error", "ci_low", "ci_high", "identified", "note", "reported")

__all__ = ["RenewalOutlook", "ShiftedBetaGeometric", "describe_retention", "renewal_outlook"]


def _cohort_rows(table) -> list[tuple[int, np.ndarray]]:
    """(first observed period, contiguous observed counts) per cohort row with >= 2 periods."""
    frame = pd.DataFrame(table)
    values = frame.apply(pd.to_numeric, errors="coerce").to_numpy(dtype=float, na_value=np.nan)
    rows = []
    for label, row in zip(frame.index, values):
        seen = np.flatnonzero(~np.isnan(row))
        if seen.size == 0:
            continue
        if np.any(np.diff(seen) != 1):
            raise ValueError(f"cohort {label!r}: observed periods must be contiguous (no gaps)")
        counts = row[seen]
        if np.any(counts < 0):
            raise ValueError(f"cohort {label!r}: survivors must be non-negative")
        rises = np.flatnonzero(np.diff(counts) > 0)
        if rises.size:
            raise ValueError(
                f"cohort {label!r}: survivors must not increase (a cohort cannot grow); "
                f"first rise at period {int(seen[rises[0] + 1])}"
            )
        if seen.size >= 2 and counts[0] > 0:
            rows.append((int(seen[0]), counts))
    if not rows:
        raise ValueError(
            "no cohort has two consecutive observed periods with customers at the first"
        )
    return rows


def _terms(rows: list[tuple[int, np.ndarray]]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The log-likelihood as sum_k coef_k [betaln(alpha + da_k, beta + db_k) - betaln(alpha, beta)].

    A cohort observed from period k0 with counts n_k0..n_K contributes, for each renewal t,
    the churned (n_{t-1} - n_t) log P(T = t) with P(T = t) = B(alpha+1, beta+t-1) / B(alpha,
    beta), the survivors n_K log S(K) with S(t) = B(alpha, beta+t) / B(alpha, beta) and, when
    left-truncated (k0 > 0), minus n_k0 log S(k0): it enters conditionally on survival to k0.
    """
    coef, da, db = [], [], []
    for k0, counts in rows:
        churned = -np.diff(counts)
        t = np.arange(k0 + 1, k0 + len(counts), dtype=float)
        coef += list(churned) + [counts[-1]]
        da += [1.0] * len(churned) + [0.0]
        db += list(t - 1.0) + [float(k0 + len(counts) - 1)]
        if k0 > 0:
            coef.append(-counts[0])
            da.append(0.0)
            db.append(float(k0))
    return np.asarray(coef, float), np.asarray(da, float), np.asarray(db, float)


class ShiftedBetaGeometric(MLEModel):
    """Shifted-beta-geometric model of contract renewals (Fader & Hardie 2007).

    Parameters
    ----------
    max_iter : int
        Maximum L-BFGS-B iterations per starting point.

    Attributes
    ----------
    params_ : Series
        alpha, beta of the Beta distribution of the churn probability per renewal.
    std_error_, covariance_, identified_, log_likelihood_, converged_, n_iter_, n_obs_
        See :class:`kamlab.clv.MLEModel`; :meth:`summary` flags "wide" estimates.
    n0_ : float
        Customers at period 0 (1 for a cohort table, so that :meth:`expected_survivors` gives
        shares).
    n_periods_ : int
        The last observed period.
    n_cohorts_ : int
        Cohorts that entered the likelihood.

    Examples
    --------
    The "regular" customers of Fader & Hardie (2007), years 0–7:

    >>> alive = [1000, 631, 468, 382, 326, 289, 262, 241]
    >>> sbg = ShiftedBetaGeometric().fit(alive)
    >>> sbg.summary()[["reported", "ci_low", "ci_high"]].round(3)
              reported  ci_low  ci_high
    parameter
    alpha       0.7041   0.587    0.845
    beta         1.182   0.918    1.522
    >>> sbg.expected_survivors([8, 12]).round(1)
    array([220.1, 170. ])
    """

    _names = ("alpha", "beta")
    _label = "sBG"

    def fit(self, survivors: Any) -> ShiftedBetaGeometric:
        """Fit on the number alive at the start of periods 0..n (one cohort, or a cohort table).

        Parameters
        ----------
        survivors : array-like, DataFrame or RenewalCohorts
            One cohort: non-increasing counts, ``survivors[0]`` the cohort size. Several
            cohorts: a 2-D table (rows cohorts, columns periods 0..n, e.g. the ``table`` of
            :func:`kamlab.churn.renewal_survivors`, which may also be passed itself) with NaN
            where a period is not observed. Each row's observed periods must be contiguous; a
            row first observed at period k > 0 is left-truncated and enters the likelihood
            conditionally on survival to period k. Rows with fewer than two observed periods
            carry no information and are skipped.
        """
        table = getattr(survivors, "table", survivors)
        if np.ndim(table) == 2:
            rows = _cohort_rows(table)
            n0, n_cohorts = 1.0, len(rows)
        else:
            s = np.asarray(table, dtype=float).ravel()
            if len(s) < 2:
                raise ValueError("survivors needs at least two periods (0 and 1)")
            if not np.all(np.isfinite(s)):
                raise ValueError("survivors contains missing or non-finite values")
            if np.any(s < 0) or s[0] <= 0:
                raise ValueError(
                    "survivors must be non-negative with a positive cohort size at period 0"
                )
            rises = np.flatnonzero(np.diff(s) > 0)
            if rises.size:
                raise ValueError(
                    f"survivors must not increase (a cohort cannot grow); first rise at period {rises[0] + 1}"
                )
            rows = [(0, s)]
            n0, n_cohorts = float(s[0]), 1
        coef, da, db = _terms(rows)
        total = coef.sum()

        def objective(theta):
            alpha, beta = np.exp(theta)
            ab = alpha + da + beta + db
            ll = float(coef @ betaln(alpha + da, beta + db)) - total * betaln(alpha, beta)
            d_alpha = float(coef @ (psi(alpha + da) - psi(ab))) - total * (
                psi(alpha) - psi(alpha + beta)
            )
            d_beta = float(coef @ (psi(beta + db) - psi(ab))) - total * (
                psi(beta) - psi(alpha + beta)
            )
            return -ll, -np.array([d_alpha, d_beta]) * np.array([alpha, beta])

        n_first = float(sum(c[0] for _, c in rows))
        starts = [np.zeros(2), np.log([0.5, 2.0]), np.log([2.0, 0.5])]
        self._fit_mle(objective, starts, n_first, len(coef))
        self.n0_ = n0
        self.n_periods_ = max(k0 + len(c) - 1 for k0, c in rows)
        self.n_cohorts_ = n_cohorts
        return self

    def _ab(self) -> tuple[float, float]:
        alpha, beta = self._check_fitted()
        return float(alpha), float(beta)

    def survival(self, t) -> np.ndarray:
        """S(t) = P(still a customer at the start of period t) = B(alpha, beta + t) / B(alpha, beta)."""
        alpha, beta = self._ab()
        t = np.asarray(t, dtype=float)
        if np.any(t < 0):
            raise ValueError("t must be >= 0")
        return np.exp(betaln(alpha, beta + t) - betaln(alpha, beta))

    def retention_rate(self, t) -> np.ndarray:
        """r(t) = S(t) / S(t - 1) = (beta + t - 1) / (alpha + beta + t - 1), for t >= 1."""
        alpha, beta = self._ab()
        t = np.asarray(t, dtype=float)
        if np.any(t < 1):
            raise ValueError("retention_rate is defined for t >= 1")
        return (beta + t - 1.0) / (alpha + beta + t - 1.0)

    def expected_survivors(self, t) -> np.ndarray:
        """Expected number of the fitted cohort alive at the start of period t (a share for a
        cohort table)."""
        return getattr(self, "n0_", 1.0) * self.survival(t)

    def expected_residual_lifetime(self, discount_rate: float, periods_survived: int = 0) -> float:
        """Discounted expected residual lifetime (DERL, Fader & Hardie 2010).

        For a customer who has made ``periods_survived`` renewals (0 = just acquired), valued
        just before the next renewal decision: the expected number of future payments, the
        next one undiscounted and each later one discounted by ``1 + discount_rate`` per period::

            DERL = sum_{k>=0} S(n + 1 + k) / S(n) / (1 + d)^k
                 = B(alpha, beta + n + 1) / B(alpha, beta + n) * 2F1(1, beta + n + 1; alpha + beta + n + 1; 1/(1+d))

        Multiply by the per-period margin for a residual value.
        """
        alpha, beta = self._ab()
        if not discount_rate > 0:
            raise ValueError("discount_rate must be > 0 (the undiscounted sum may diverge)")
        n = periods_survived
        if n < 0 or int(n) != n:
            raise ValueError("periods_survived must be a non-negative integer")
        ratio = np.exp(betaln(alpha, beta + n + 1.0) - betaln(alpha, beta + n))
        return float(
            ratio * hyp2f1(1.0, beta + n + 1.0, alpha + beta + n + 1.0, 1.0 / (1.0 + discount_rate))
        )

    def residual_lifetimes(
        self, discount_rate: float, renewals: Sequence[int] = (0, 1, 2, 5, 10)
    ) -> pd.DataFrame:
        """What the model expects for an account that has renewed ``n`` times, for each ``n``
        in ``renewals``.

        Returns
        -------
        DataFrame
            Index ``renewals``: ``share_reaching`` (S(n), the share of a new cohort that gets
            this far), ``next_renewal_rate`` (r(n + 1), the chance it renews once more) and
            ``derl`` (:meth:`expected_residual_lifetime` at ``discount_rate``, in periods).

        Examples
        --------
        >>> sbg = ShiftedBetaGeometric().fit([1000, 631, 468, 382, 326, 289, 262, 241])
        >>> sbg.residual_lifetimes(0.10, [0, 4]).round(3)
                  share_reaching  next_renewal_rate   derl
        renewals
        0                  1.000              0.627  2.964
        4                  0.332              0.880  5.894
        """
        n = np.asarray(list(renewals), dtype=int)
        if np.any(n < 0):
            raise ValueError("renewals must be non-negative whole numbers")
        return pd.DataFrame(
            {
                "share_reaching": self.survival(n),
                "next_renewal_rate": self.retention_rate(n + 1),
                "derl": [self.expected_residual_lifetime(discount_rate, int(k)) for k in n],
            },
            index=pd.Index(n, name="renewals"),
        )


def describe_retention(
    model: ShiftedBetaGeometric,
    discount_rate: float,
    *,
    later: int = 5,
    far: int = 10,
    unit: str = "years",
) -> str:
    """How long renewal cohorts stay, in words (Markdown): the mean churn probability per
    renewal, whether the parameters are well determined, the projected share remaining after
    ``later`` and ``far`` renewals and the discounted expected residual lifetime (DERL).

    Examples
    --------
    >>> sbg = ShiftedBetaGeometric().fit([1000, 631, 468, 382, 326, 289, 262, 241])
    >>> print(describe_retention(sbg, 0.10))  # doctest: +NORMALIZE_WHITESPACE
    Fitted to 1 cohort observed over 7 renewals, the chance of leaving at a renewal varies
    across accounts around a mean of 37.3% (alpha 0.7041, beta 1.182). Of a new cohort,
    29.2% are projected to remain after 5 years and 19.1% after 10; the renewal rate rises
    from 62.7% at the first renewal to 93.5% at renewal 10, as the accounts most likely to
    leave go first. Discounted at 10% a year, a new account is expected to stay another 2.96
    years (DERL: expected future renewals, each discounted) and one that has renewed 5 times
    another 6.26.
    """
    alpha, beta = model._ab()
    summary = model.summary()
    cohorts = getattr(model, "n_cohorts_", 1)
    mean = fmt.share(alpha / (alpha + beta))
    fitted = (
        f"Fitted to {fmt.count(cohorts)} cohort{'s' if cohorts != 1 else ''} observed over "
        f"{fmt.count(model.n_periods_)} renewals"
    )
    boundary = list(summary.index[~summary["identified"]])
    wide = list(summary.index[summary["note"].str.startswith("wide")])
    if boundary:
        text = (
            f"{fitted}, every account appears to have the same chance of leaving at a renewal, "
            f"{mean}: {' and '.join(boundary)} {'is' if len(boundary) == 1 else 'are'} at the "
            "boundary (not identified), because the data show no sign that accounts differ in "
            "it."
        )
    else:
        text = (
            f"{fitted}, the chance of leaving at a renewal varies across accounts around a "
            f"mean of {mean} (alpha {summary.loc['alpha', 'reported']}, beta "
            f"{summary.loc['beta', 'reported']})."
        )
    if wide:
        text += (
            f" {' and '.join(wide)} {'is' if len(wide) == 1 else 'are'} wide (standard error "
            "larger than the estimate): the data pin down the mean better than how much "
            f"accounts differ, so projections far beyond the {fmt.count(model.n_periods_)} "
            "observed renewals are uncertain."
        )
    s = model.survival([later, far])
    r = model.retention_rate([1, far])
    derl = model.residual_lifetimes(discount_rate, [0, later])["derl"]
    trend = (
        f"the renewal rate rises from {fmt.share(r[0])} at the first renewal to "
        f"{fmt.share(r[1])} at renewal {far}, as the accounts most likely to leave go first"
        if fmt.share(r[1]) != fmt.share(r[0]) and r[1] - r[0] >= 0.005
        else f"the renewal rate stays at about {fmt.share(r[0])}"
    )
    return text + (
        f" Of a new cohort, {fmt.share(s[0])} are projected to remain after {later} {unit} "
        f"and {fmt.share(s[1])} after {far}; {trend}. Discounted at "
        f"{fmt.share(discount_rate, 0)} a year, a new account is expected to stay another "
        f"{fmt.estimate(derl.iloc[0], 3)} {unit} (DERL: expected future renewals, each "
        f"discounted) and one that has renewed {later} times another "
        f"{fmt.estimate(derl.iloc[1], 3)}."
    )


@dataclass(frozen=True)
class RenewalOutlook:
    """The sBG model of a cohort table and what it projects (:func:`renewal_outlook`).

    Attributes
    ----------
    model : ShiftedBetaGeometric or None
        Fitted to the cohorts; None when ``skipped``.
    params : pandas.DataFrame
        ``model.summary()`` (``reported`` and ``note`` say "wide" or "at the boundary");
        empty when skipped.
    lifetimes : pandas.DataFrame
        :meth:`ShiftedBetaGeometric.residual_lifetimes` at ``discount_rate``; empty when
        skipped.
    discount_rate : float
        Per period.
    unit : str
        The period in words (``"years"`` for 365-day renewals).
    skipped : str or None
    notes : tuple of str
        Warnings of the fit (e.g. no convergence), kept for the report instead of printed.
    """

    model: ShiftedBetaGeometric | None
    params: pd.DataFrame
    lifetimes: pd.DataFrame
    discount_rate: float
    unit: str
    skipped: str | None
    notes: tuple[str, ...] = ()

    def describe(self) -> str:
        """:func:`describe_retention`, or why there is no model (Markdown)."""
        if self.model is None:
            return f"The renewal model was not fitted: {self.skipped}."
        text = describe_retention(self.model, self.discount_rate, unit=self.unit)
        return " ".join([text, *self.notes])


def renewal_outlook(
    cohorts, discount_rate: float, renewals: Sequence[int] = (0, 1, 2, 5, 10)
) -> RenewalOutlook:
    """Fit :class:`ShiftedBetaGeometric` to renewal cohorts and project retention and the
    discounted expected residual lifetime.

    Parameters
    ----------
    cohorts : RenewalCohorts or DataFrame
        :func:`kamlab.churn.renewal_cohorts` (its ``skipped`` reason is passed on) or a
        cohort table.
    discount_rate : float
        Per renewal period (per year for yearly renewals).
    renewals : sequence of int
        Renewals made so far, for :meth:`ShiftedBetaGeometric.residual_lifetimes`.

    Examples
    --------
    >>> outlook = renewal_outlook(pd.DataFrame([[1000, 631, 468, 382, 326, 289, 262, 241]]), 0.10)
    >>> outlook.params["reported"].tolist(), outlook.lifetimes.index.tolist()
    (['0.7041', '1.182'], [0, 1, 2, 5, 10])
    >>> renewal_outlook(pd.DataFrame([[5.0, np.nan]]), 0.10).skipped
    'no cohort has two consecutive observed periods with customers at the first'
    """
    period = getattr(cohorts, "period_days", 365)
    unit = "years" if period in (365, 366) else f"periods of {period} days"
    reason = getattr(cohorts, "skipped", None)
    model = None
    notes: list[str] = []
    if reason is None:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            try:
                model = ShiftedBetaGeometric().fit(cohorts)
            except ValueError as exc:
                reason = str(exc)
        notes = list(dict.fromkeys(str(w.message).rstrip(".") + "." for w in caught))
    if model is None:
        params = pd.DataFrame(columns=list(SUMMARY_COLUMNS), index=pd.Index([], name="parameter"))
        lifetimes = pd.DataFrame(
            columns=["share_reaching", "next_renewal_rate", "derl"],
            index=pd.Index([], name="renewals"),
        )
        return RenewalOutlook(None, params, lifetimes, float(discount_rate), unit, reason)
    return RenewalOutlook(
        model,
        model.summary(),
        model.residual_lifetimes(discount_rate, renewals),
        float(discount_rate),
        unit,
        None,
        tuple(notes),
    )
