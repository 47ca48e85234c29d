"""Shifted-beta-geometric (sBG) model of contract renewals (Fader & Hardie 2007, "How to
project customer retention"), with the discounted expected residual lifetime of Fader & Hardie
(2010).

Each customer churns at each renewal with a constant probability θ, and θ varies across
customers as Beta(alpha, beta). The input is the number of customers alive at the start of each
renewal period: one cohort, or the cohort table of :func:`kamlab.churn.renewal_survivors`.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
from scipy.special import betaln, hyp2f1, psi

from kamlab.clv._mle import MLEModel

__all__ = ["ShiftedBetaGeometric"]


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
