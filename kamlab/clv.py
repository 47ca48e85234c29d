"""Customer lifetime value: RFM summaries, BG/NBD, Pareto/NBD and Gamma-Gamma models.

The probability models follow the original papers:

- BG/NBD: Fader, Hardie & Lee (2005), "Counting your customers" the easy way.
- Pareto/NBD: Schmittlein, Morrison & Colombo (1987), with the likelihood and P(alive) in the
  form of Fader & Hardie (2005), "A note on deriving the Pareto/NBD model and related
  expressions" (hypergeometric argument kept in [0, 1)).
- Gamma-Gamma: Fader & Hardie (2013), "The Gamma-Gamma model of monetary value" (note 025).

All likelihoods are evaluated in log space with :mod:`scipy.special`; parameters are estimated in
log-parameter space with L-BFGS-B. Time is measured in the unit chosen in :func:`rfm_summary`
(``"D"`` days, ``"W"`` weeks = days / 7); every model and every horizon uses that same unit.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
import pandas as pd
from scipy.optimize import minimize
from scipy.special import betaln, expit, gammaln, hyp2f1, psi
from statsmodels.tools.numdiff import approx_fprime, approx_hess3

__all__ = [
    "BGNBD",
    "FREQ_DAYS",
    "CLVWarning",
    "ConvergenceWarning",
    "GammaGamma",
    "ParetoNBD",
    "cumulative_purchases",
    "customer_lifetime_value",
    "holdout_check",
    "plot_cumulative",
    "plot_holdout",
    "rfm_summary",
    "simulate_bgnbd",
    "value_vs_tier",
]

#: Length of one time unit in days, for the supported ``freq`` codes.
FREQ_DAYS: dict[str, float] = {"D": 1.0, "W": 7.0, "M": 365.25 / 12.0}

_LOG_BOUND = 20.0  # parameters are searched in [exp(-20), exp(20)]


class ConvergenceWarning(UserWarning):
    """The maximum-likelihood optimiser did not converge (or stopped at a bound)."""


class CLVWarning(UserWarning):
    """A numerical or modelling issue in a CLV model (e.g. Gamma-Gamma q <= 1)."""


# ---------------------------------------------------------------------------------------------
# RFM summary
# ---------------------------------------------------------------------------------------------


def _freq_days(freq: str) -> float:
    try:
        return FREQ_DAYS[freq]
    except KeyError:
        raise ValueError(f"freq must be one of {sorted(FREQ_DAYS)}, got {freq!r}") from None


def rfm_summary(
    transactions: pd.DataFrame,
    calibration_end: Any,
    holdout_end: Any = None,
    freq: str = "W",
    *,
    account_col: str = "account_id",
    date_col: str = "date",
    amount_col: str = "amount",
) -> pd.DataFrame:
    """Calibration (and optional holdout) RFM summary per account.

    Several transactions on one day count as one purchase (their amounts are summed, so a
    credit note on the day of an order reduces that order's value).

    Credit notes (negative amounts, allowed by the data contract) are not purchases: a
    *purchase day* is a day whose net amount is positive, or a day of zero-value orders only
    (e.g. free samples, as in CDNOW). A day with a negative net amount, or zero because
    credits cancel its orders, is not counted in ``frequency``, ``recency``, the first
    purchase, ``frequency_holdout`` or ``monetary_value``. How many account-days were left out
    and their net amount is recorded in ``attrs["credit_days"]`` and
    ``attrs["credit_amount"]`` (calibration period), so nothing is dropped silently.

    Parameters
    ----------
    transactions : DataFrame
        One row per transaction with account, date and amount columns.
    calibration_end : date-like
        Last day of the calibration period (inclusive).
    holdout_end : date-like, optional
        Last day of the holdout period (inclusive); the holdout starts the day after
        ``calibration_end``.
    freq : {"D", "W", "M"}
        Time unit of ``recency``, ``T`` and ``duration_holdout`` (days, weeks = days / 7,
        months = days / 30.4375).

    Returns
    -------
    DataFrame
        Indexed by account, columns ``frequency`` (repeat purchase days in calibration),
        ``recency`` (first to last purchase), ``T`` (first purchase to ``calibration_end``),
        ``monetary_value`` (mean day total over repeat purchase days, 0 when frequency is 0)
        and, with ``holdout_end``, ``frequency_holdout`` and ``duration_holdout``. Only accounts
        with a first purchase before ``calibration_end`` appear (those first seen on that day
        have no exposure, T = 0; their ids are in ``attrs["excluded_zero_T"]``).
        ``attrs["freq"]`` records the unit.
    """
    unit = _freq_days(freq)
    missing = [c for c in (account_col, date_col, amount_col) if c not in transactions.columns]
    if missing:
        raise ValueError(f"transactions lacks column(s) {missing}")
    cal_end = pd.Timestamp(calibration_end).normalize()
    hold_end = None if holdout_end is None else pd.Timestamp(holdout_end).normalize()
    if hold_end is not None and hold_end <= cal_end:
        raise ValueError(
            f"holdout_end {hold_end.date()} must be after calibration_end {cal_end.date()}"
        )
    dates = pd.to_datetime(transactions[date_col])
    if dates.isna().any():
        raise ValueError(f"{int(dates.isna().sum())} transactions have a missing {date_col!r}")
    amounts = pd.to_numeric(transactions[amount_col])
    if amounts.isna().any():
        raise ValueError(f"{int(amounts.isna().sum())} transactions have a missing {amount_col!r}")

    tx = pd.DataFrame(
        {
            "acc": transactions[account_col].to_numpy(),
            "day": dates.dt.normalize().to_numpy(),
            "amount": amounts.to_numpy(dtype=float),
        }
    )
    daily = _purchase_days(tx)
    credit_cal = daily[~daily["purchase"] & (daily["day"] <= cal_end)]
    daily = daily[daily["purchase"]]

    cal = daily[daily["day"] <= cal_end]
    g = cal.groupby("acc", sort=True, observed=True)
    first = g["day"].min()
    last = g["day"].max()
    n_days = g["day"].size()
    total = g["amount"].sum()
    first_amount = g["amount"].first()  # rows are sorted by day within account

    frequency = (n_days - 1).astype("int64")
    day_ns = np.timedelta64(1, "D")
    recency = ((last - first) / day_ns) / unit
    T = ((cal_end - first) / day_ns) / unit
    with np.errstate(invalid="ignore", divide="ignore"):
        monetary = np.where(
            frequency > 0, (total - first_amount) / frequency.where(frequency > 0, 1), 0.0
        )

    out = pd.DataFrame(
        {
            "frequency": frequency,
            "recency": recency.astype(float),
            "T": T.astype(float),
            "monetary_value": monetary.astype(float),
        },
        index=first.index,
    )
    out.index.name = account_col
    # An account first seen on the calibration end has T = 0: no exposure to learn from, and
    # the models' likelihoods are undefined there. Leave it out, but count it.
    zero_T = out.index[out["T"] <= 0]
    out = out.drop(index=zero_T)
    if hold_end is not None:
        hold = daily[(daily["day"] > cal_end) & (daily["day"] <= hold_end)]
        counts = hold.groupby("acc", sort=True, observed=True)["day"].size()
        out["frequency_holdout"] = (
            counts.reindex(out.index, fill_value=0).astype("int64").to_numpy()
        )
        out["duration_holdout"] = ((hold_end - cal_end) / day_ns) / unit
    out.attrs["freq"] = freq
    out.attrs["credit_days"] = int(len(credit_cal))
    out.attrs["credit_amount"] = float(credit_cal["amount"].sum())
    out.attrs["excluded_zero_T"] = [str(a) for a in zero_T]
    return out


def _purchase_days(tx: pd.DataFrame) -> pd.DataFrame:
    """Day totals per account (columns acc, day, amount) and whether each day is a purchase.

    ``tx`` has columns acc, day (normalised dates) and amount. A purchase day has a positive
    net amount, or only zero-value rows (no credit note).
    """
    g = tx.assign(credit=tx["amount"] < 0).groupby(["acc", "day"], sort=True, observed=True)
    daily = g.agg(amount=("amount", "sum"), credit=("credit", "any")).reset_index()
    daily["purchase"] = (daily["amount"] > 0) | ((daily["amount"] == 0) & ~daily["credit"])
    return daily.drop(columns="credit")


# ---------------------------------------------------------------------------------------------
# input checks
# ---------------------------------------------------------------------------------------------


def _ids_of(values: Any, mask: np.ndarray, k: int = 5) -> list:
    idx = values.index if isinstance(values, pd.Series) else pd.RangeIndex(len(mask))
    return list(idx[mask][:k])


def _as_float(name: str, values: Any) -> np.ndarray:
    arr = np.asarray(values, dtype=float).ravel()
    bad = ~np.isfinite(arr)
    if bad.any():
        raise ValueError(
            f"{name} has {int(bad.sum())} missing or non-finite value(s); first ids: {_ids_of(values, bad)}"
        )
    return arr


def _check_rfm(frequency: Any, recency: Any, T: Any) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    x = _as_float("frequency", frequency)
    tx = _as_float("recency", recency)
    t = _as_float("T", T)
    if not (len(x) == len(tx) == len(t)):
        raise ValueError(
            f"frequency, recency and T differ in length: {len(x)}, {len(tx)}, {len(t)}"
        )
    if len(x) == 0:
        raise ValueError("no customers: frequency, recency and T are empty")
    checks = [
        (x < 0, "frequency is negative"),
        (x != np.round(x), "frequency is not an integer (count repeat purchase days, not amounts)"),
        (tx < 0, "recency is negative"),
        (t <= 0, "T is not positive (customer acquired on the calibration end date?)"),
        (tx > t + 1e-9, "recency > T (last purchase after the calibration end, or units mixed up)"),
        ((x == 0) & (tx != 0), "recency is not 0 although frequency is 0"),
    ]
    for mask, what in checks:
        if mask.any():
            raise ValueError(
                f"{int(mask.sum())} row(s) where {what}; first ids: {_ids_of(frequency, mask)}"
            )
    return x, tx, t


def _compress(
    *cols: np.ndarray, weights: np.ndarray | None = None
) -> tuple[tuple[np.ndarray, ...], np.ndarray]:
    """Unique rows of the stacked columns and their summed weights (counts by default)."""
    stacked = np.column_stack(cols)
    uniq, inverse = np.unique(stacked, axis=0, return_inverse=True)
    w = np.bincount(inverse.ravel(), weights=weights, minlength=len(uniq)).astype(float)
    return tuple(uniq[:, j] for j in range(uniq.shape[1])), w


def _wsum(w: np.ndarray, v: np.ndarray) -> float:
    """Weighted sum without BLAS (threaded BLAS calls stall under CPU contention)."""
    return float(np.einsum("i,i->", w, v))


def _weights(weights: Any, n: int) -> np.ndarray | None:
    if weights is None:
        return None
    w = _as_float("weights", weights)
    if len(w) != n or np.any(w < 0):
        raise ValueError("weights must be non-negative, one per customer")
    return w


# ---------------------------------------------------------------------------------------------
# optimisation helper
# ---------------------------------------------------------------------------------------------


def _fit_mle(
    negll_mean: Callable[[np.ndarray], Any],
    starts: Sequence[np.ndarray],
    jac: bool,
    names: Sequence[str],
    max_iter: int,
    model: str,
) -> tuple[np.ndarray, Any, bool]:
    """Minimise a mean negative log-likelihood in log-parameter space from several starts.

    Starts after the first are tried only when the previous best did not converge.
    """
    bounds = [(-_LOG_BOUND, _LOG_BOUND)] * len(names)
    best = None
    for x0 in starts:
        res = minimize(
            negll_mean,
            np.asarray(x0, dtype=float),
            jac=jac,
            method="L-BFGS-B",
            bounds=bounds,
            options={"maxiter": max_iter, "ftol": 1e-13, "gtol": 1e-9},
        )
        if np.isfinite(res.fun) and (best is None or res.fun < best.fun):
            best = res
        if best is not None and best.success and np.all(np.abs(best.x) < _LOG_BOUND - 1e-6):
            break
    if best is None:
        raise RuntimeError(f"{model}: the log-likelihood was not finite at any starting point")
    at_bound = np.abs(best.x) >= _LOG_BOUND - 1e-6
    converged = bool(best.success) and not at_bound.any()
    if not converged:
        why = (
            f"parameter(s) {[n for n, b in zip(names, at_bound) if b]} at the search bound"
            if at_bound.any()
            else str(best.message)
        )
        warnings.warn(f"{model} fit did not converge: {why}", ConvergenceWarning, stacklevel=3)
    return best.x, best, converged


def _standard_errors(
    theta: np.ndarray, negll_sum: Callable, grad_sum: Callable | None
) -> tuple[np.ndarray, np.ndarray]:
    """Standard errors of exp(theta) from the inverse Hessian (log space, delta method)."""
    if grad_sum is not None:
        H = approx_fprime(theta, grad_sum, centered=True)
        H = 0.5 * (H + H.T)
    else:
        H = approx_hess3(theta, negll_sum)
    try:
        cov_log = np.linalg.inv(H)
    except np.linalg.LinAlgError:
        warnings.warn("Hessian is singular; standard errors are NaN", CLVWarning, stacklevel=3)
        n = len(theta)
        return np.full(n, np.nan), np.full((n, n), np.nan)
    p = np.exp(theta)
    cov = cov_log * np.outer(p, p)
    var = np.diag(cov)
    if np.any(var <= 0):
        warnings.warn(
            "Hessian is not positive definite at the optimum; some standard errors are NaN",
            CLVWarning,
            stacklevel=3,
        )
    with np.errstate(invalid="ignore"):
        se = np.sqrt(np.where(var > 0, var, np.nan))
    return se, cov


class _FitterBase:
    """Shared plumbing: parameter names, repr, fitted-state checks."""

    _names: tuple[str, ...] = ()

    def __init__(self, *, max_iter: int = 2000):
        self.max_iter = max_iter

    def __repr__(self) -> str:
        if hasattr(self, "params_"):
            inner = ", ".join(f"{k}={v:.4g}" for k, v in self.params_.items())
            return f"{type(self).__name__}({inner})"
        return f"{type(self).__name__}(max_iter={self.max_iter})"

    def _check_fitted(self) -> np.ndarray:
        if not hasattr(self, "params_"):
            raise RuntimeError(f"{type(self).__name__} is not fitted; call fit() first")
        return self.params_.to_numpy(dtype=float)

    def _store(self, theta, res, converged, negll_sum, grad_sum, n_obs) -> None:
        params = np.exp(theta)
        self.params_ = pd.Series(params, index=list(self._names), name="estimate")
        se, cov = _standard_errors(theta, negll_sum, grad_sum)
        self.standard_errors_ = pd.Series(se, index=list(self._names), name="std_error")
        self.covariance_ = pd.DataFrame(cov, index=list(self._names), columns=list(self._names))
        self.log_likelihood_ = float(-negll_sum(theta))
        self.converged_ = converged
        self.n_iter_ = int(res.nit)
        self.n_obs_ = int(n_obs)

    def summary(self) -> pd.DataFrame:
        """Parameter table with estimates, standard errors and 95 % Wald intervals."""
        self._check_fitted()
        z = 1.959963984540054
        return pd.DataFrame(
            {
                "estimate": self.params_,
                "std_error": self.standard_errors_,
                "ci_low": self.params_ - z * self.standard_errors_,
                "ci_high": self.params_ + z * self.standard_errors_,
            }
        )


# ---------------------------------------------------------------------------------------------
# BG/NBD
# ---------------------------------------------------------------------------------------------


def _bgnbd_loglik(p: np.ndarray, x, tx, T, grad: bool = False, x_groups=None):
    """Per-customer BG/NBD log-likelihood and (optionally) its gradient w.r.t. (r, alpha, a, b).

    ``x_groups = (unique_x, inverse)`` lets the special functions of x (integers with few
    distinct values) be evaluated once per distinct x instead of once per customer.
    """
    r, alpha, a, b = p
    xu, inv = np.unique(x, return_inverse=True) if x_groups is None else x_groups
    pos_u = xu > 0
    xs_u = np.where(pos_u, xu, 1.0)
    lb_ab = betaln(a, b)
    # terms that depend on x only, per distinct x
    c_u = gammaln(r + xu) - gammaln(r) + r * np.log(alpha)
    b2_u = betaln(a, b + xu) - lb_ab
    b3_u = np.where(pos_u, betaln(a + 1.0, b + xs_u - 1.0) - lb_ab, -np.inf)
    pos = pos_u[inv]
    rx = r + x
    log_aT = np.log(alpha + T)
    log_atx = np.log(alpha + tx)
    l2 = b2_u[inv] - rx * log_aT
    with np.errstate(invalid="ignore"):
        l3 = np.where(pos, b3_u[inv] - rx * log_atx, -np.inf)
    m = np.logaddexp(l2, l3)
    ll = c_u[inv] + m
    if not grad:
        return ll
    w3 = np.exp(l3 - m)
    w2 = 1.0 - w3
    psi_ab = psi(a + b)
    psi_abx_u = psi(a + b + xu)
    dr_c_u = psi(r + xu) - psi(r) + np.log(alpha)
    d2a_u = psi_ab - psi_abx_u
    d3a_u = psi(a + 1.0) - psi(a) + psi_ab - psi_abx_u
    d2b_u = psi(b + xu) - psi_abx_u - psi(b) + psi_ab
    d3b_u = np.where(pos_u, psi(b + xs_u - 1.0) - psi_abx_u - psi(b) + psi_ab, 0.0)
    d_r = dr_c_u[inv] - w2 * log_aT - w3 * log_atx
    d_alpha = r / alpha - rx * (w2 / (alpha + T) + w3 / (alpha + tx))
    d_a = w2 * d2a_u[inv] + w3 * d3a_u[inv]
    d_b = w2 * d2b_u[inv] + w3 * d3b_u[inv]
    return ll, np.stack([d_r, d_alpha, d_a, d_b])


def _hyp2f1_checked(a, b, c, z):
    val = hyp2f1(a, b, c, z)
    if not np.all(np.isfinite(val)):
        warnings.warn(
            "hyp2f1 returned non-finite values; predictions are NaN there", CLVWarning, stacklevel=4
        )
    return val


class BGNBD(_FitterBase):
    """Beta-geometric / NBD model of repeat purchasing (Fader, Hardie & Lee 2005).

    Parameters
    ----------
    max_iter : int
        Maximum L-BFGS-B iterations per starting point.

    Attributes
    ----------
    params_ : Series
        r, alpha (gamma heterogeneity of purchase rates), a, b (beta heterogeneity of dropout).
    standard_errors_, covariance_, log_likelihood_, converged_, n_iter_, n_obs_
    """

    _names = ("r", "alpha", "a", "b")

    def fit(self, frequency, recency, T, *, weights=None) -> BGNBD:
        """Fit by maximum likelihood.

        Parameters
        ----------
        frequency, recency, T : array-like
            Repeat purchases x, time of last purchase t_x and age T per customer (one time unit).
        weights : array-like, optional
            Number of customers sharing each row (for pre-aggregated data).
        """
        x, tx, t = _check_rfm(frequency, recency, T)
        (x, tx, t), w = _compress(x, tx, t, weights=_weights(weights, len(x)))
        n = w.sum()
        xg = np.unique(x, return_inverse=True)

        def fg(theta):
            ll, g = _bgnbd_loglik(np.exp(theta), x, tx, t, grad=True, x_groups=xg)
            f = -_wsum(w, ll) / n
            gr = -np.einsum("ij,j->i", g, w) * np.exp(theta) / n
            if not np.isfinite(f) or not np.all(np.isfinite(gr)):
                return np.inf, np.zeros_like(theta)
            return f, gr

        def negll_sum(theta):
            return -_wsum(w, _bgnbd_loglik(np.exp(theta), x, tx, t, x_groups=xg))

        def grad_sum(theta):
            _, g = _bgnbd_loglik(np.exp(theta), x, tx, t, grad=True, x_groups=xg)
            return -np.einsum("ij,j->i", g, w) * np.exp(theta)

        mean_x = _wsum(w, x) / n
        mean_T = _wsum(w, t) / n
        starts = [
            np.log([1.0, max(mean_T / max(mean_x, 0.1), 1e-3), 1.0, 1.0]),
            np.log([0.5, 1.0, 0.5, 2.0]),
            np.log([2.0, 10.0, 2.0, 5.0]),
        ]
        theta, res, conv = _fit_mle(fg, starts, True, self._names, self.max_iter, "BG/NBD")
        self._store(theta, res, conv, negll_sum, grad_sum, n)
        return self

    def _terms(self, frequency, recency, T):
        r, alpha, a, b = self._check_fitted()
        x, tx, t = _check_rfm(frequency, recency, T)
        return r, alpha, a, b, x, tx, t

    def probability_alive(self, frequency, recency, T) -> np.ndarray:
        """P(customer still active at T | x, t_x, T)."""
        r, alpha, a, b, x, tx, t = self._terms(frequency, recency, T)
        pos = x > 0
        xs = np.where(pos, x, 1.0)
        log_odds = (
            np.log(a) - np.log(b + xs - 1.0) + (r + x) * (np.log(alpha + t) - np.log(alpha + tx))
        )
        return np.where(pos, expit(-log_odds), 1.0)

    @staticmethod
    def _expected(params, t, x, tx, T, p_alive):
        r, alpha, a, b = params
        t = np.asarray(t, dtype=float)
        if np.any(t < 0):
            raise ValueError("horizon t must be non-negative")
        if abs(a - 1.0) < 1e-8:
            warnings.warn(
                "a is 1 to 8 digits: BG/NBD expectation is near a removable singularity",
                CLVWarning,
                stacklevel=3,
            )
        z = t / (alpha + T + t)
        # Euler transform: (1-z)^(r+x) 2F1(r+x, b+x; a+b+x-1; z) = (1-z)^(a-1) 2F1(a+b-1-r, a-1; a+b+x-1; z)
        h = _hyp2f1_checked(a + b - 1.0 - r, a - 1.0, a + b + x - 1.0, z)
        core = 1.0 - np.exp((a - 1.0) * np.log1p(-z)) * h
        return (a + b + x - 1.0) / (a - 1.0) * core * p_alive

    def expected_purchases(self, t, frequency, recency, T) -> np.ndarray:
        """Conditional expected repeat purchases in (T, T + t] given x, t_x, T.

        ``t`` may be a scalar, one value per customer, or an array broadcasting against the
        customers (e.g. shape (k, 1) for k horizons).
        """
        r, alpha, a, b, x, tx, tt = self._terms(frequency, recency, T)
        pa = self.probability_alive(frequency, recency, T)
        return self._expected((r, alpha, a, b), t, x, tx, tt, pa)

    def expected_purchases_new(self, t) -> np.ndarray | float:
        """Unconditional E[X(t)]: expected repeat purchases of a new customer in (0, t]."""
        params = self._check_fitted()
        zero = np.zeros(1)
        out = self._expected(params, t, zero, zero, zero, np.ones(1))
        return out if np.ndim(t) else float(out[0])


# ---------------------------------------------------------------------------------------------
# Pareto/NBD
# ---------------------------------------------------------------------------------------------


def _log_hyp2f1_a_ap1(aa, bb, z):
    """log 2F1(aa, bb; aa + 1; z) for 0 <= z < 1, overflow-free.

    Euler: 2F1(aa, bb; aa+1; z) = (1-z)^(1-bb) 2F1(1, aa+1-bb; aa+1; z). The large factor
    (1-z)^(1-bb) (the overflow trap when bb = r + x is large) is taken in log space; the
    remaining 2F1 has positive terms and a small first parameter, so it stays moderate.
    """
    return (1.0 - bb) * np.log1p(-z) + np.log(hyp2f1(1.0, aa + 1.0 - bb, aa + 1.0, z))


def _pnbd_parts(p: np.ndarray, x, tx, T):
    """Log of the two likelihood branches (without the common factor) and the common factor."""
    r, alpha, s, beta = p
    rsx = r + s + x
    c = gammaln(r + x) - gammaln(r) + r * np.log(alpha) + s * np.log(beta)
    l1 = -(r + x) * np.log(alpha + T) - s * np.log(beta + T)
    if alpha >= beta:
        bb, base_tx, base_T = s + 1.0, alpha + tx, alpha + T
        diff = alpha - beta
    else:
        bb, base_tx, base_T = r + x, beta + tx, beta + T
        diff = beta - alpha
    lt1 = _log_hyp2f1_a_ap1(rsx, bb, diff / base_tx) - rsx * np.log(base_tx)
    lt2 = _log_hyp2f1_a_ap1(rsx, bb, diff / base_T) - rsx * np.log(base_T)
    with np.errstate(divide="ignore"):
        log_a0 = lt1 + np.log(-np.expm1(np.minimum(lt2 - lt1, 0.0)))
    l2 = np.log(s) - np.log(rsx) + log_a0
    return c, l1, l2


def _pnbd_loglik(p, x, tx, T):
    c, l1, l2 = _pnbd_parts(p, x, tx, T)
    return c + np.logaddexp(l1, l2)


def _one_minus_q_pow_over(k: float, log_q: np.ndarray) -> np.ndarray:
    """(1 - q**k) / k, with its limit -log q at k = 0."""
    if abs(k) < 1e-10:
        return -log_q
    return -np.expm1(k * log_q) / k


class ParetoNBD(_FitterBase):
    """Pareto/NBD model of repeat purchasing (Schmittlein, Morrison & Colombo 1987).

    Attributes
    ----------
    params_ : Series
        r, alpha (purchase-rate heterogeneity), s, beta (dropout-rate heterogeneity).
    standard_errors_, covariance_, log_likelihood_, converged_, n_iter_, n_obs_
    """

    _names = ("r", "alpha", "s", "beta")

    def fit(self, frequency, recency, T, *, weights=None) -> ParetoNBD:
        """Fit by maximum likelihood (numerical gradient; data compressed to unique rows)."""
        x, tx, t = _check_rfm(frequency, recency, T)
        (x, tx, t), w = _compress(x, tx, t, weights=_weights(weights, len(x)))
        n = w.sum()

        def f(theta):
            with np.errstate(all="ignore"):
                v = -_wsum(w, _pnbd_loglik(np.exp(theta), x, tx, t)) / n
            return v if np.isfinite(v) else 1e10

        def negll_sum(theta):
            return -_wsum(w, _pnbd_loglik(np.exp(theta), x, tx, t))

        mean_x = _wsum(w, x) / n
        mean_T = _wsum(w, t) / n
        starts = [
            np.log([1.0, max(mean_T / max(mean_x, 0.1), 1e-3), 1.0, mean_T]),
            np.log([0.5, 10.0, 0.5, 10.0]),
            np.log([1.0, 1.0, 1.0, 1.0]),
        ]
        theta, res, conv = _fit_mle(f, starts, False, self._names, self.max_iter, "Pareto/NBD")
        self._store(theta, res, conv, negll_sum, None, n)
        return self

    def probability_alive(self, frequency, recency, T) -> np.ndarray:
        """P(customer still active at T | x, t_x, T)."""
        p = self._check_fitted()
        x, tx, t = _check_rfm(frequency, recency, T)
        _, l1, l2 = _pnbd_parts(p, x, tx, t)
        return expit(l1 - l2)

    def expected_purchases(self, t, frequency, recency, T) -> np.ndarray:
        """Conditional expected repeat purchases in (T, T + t] given x, t_x, T."""
        r, alpha, s, beta = self._check_fitted()
        x, _tx, tt = _check_rfm(frequency, recency, T)
        t = np.asarray(t, dtype=float)
        if np.any(t < 0):
            raise ValueError("horizon t must be non-negative")
        pa = self.probability_alive(frequency, recency, T)
        log_q = np.log(beta + tt) - np.log(beta + tt + t)
        return (r + x) * (beta + tt) / (alpha + tt) * _one_minus_q_pow_over(s - 1.0, log_q) * pa

    def expected_purchases_new(self, t):
        """Unconditional E[X(t)] for a new customer."""
        r, alpha, s, beta = self._check_fitted()
        t_arr = np.asarray(t, dtype=float)
        out = r * beta / alpha * _one_minus_q_pow_over(s - 1.0, np.log(beta) - np.log(beta + t_arr))
        return out if np.ndim(t) else float(out)


# ---------------------------------------------------------------------------------------------
# Gamma-Gamma
# ---------------------------------------------------------------------------------------------


def _gg_loglik(params, x, z, grad: bool = False):
    p, q, g = params
    px = p * x
    lgz = np.log(g + x * z)
    ll = (
        gammaln(px + q)
        - gammaln(px)
        - gammaln(q)
        + q * np.log(g)
        + (px - 1.0) * np.log(z)
        + px * np.log(x)
        - (px + q) * lgz
    )
    if not grad:
        return ll
    d_p = x * (psi(px + q) - psi(px) + np.log(z) + np.log(x) - lgz)
    d_q = psi(px + q) - psi(q) + np.log(g) - lgz
    d_g = q / g - (px + q) / (g + x * z)
    return ll, np.stack([d_p, d_q, np.broadcast_to(d_g, np.shape(d_p))])


class GammaGamma(_FitterBase):
    """Gamma-Gamma model of mean spend per transaction (Fader & Hardie 2013).

    Attributes
    ----------
    params_ : Series
        p (shape of spend per transaction), q and gamma (shape and scale of its rate).
    standard_errors_, covariance_, log_likelihood_, converged_, n_iter_, n_obs_
    """

    _names = ("p", "q", "gamma")

    @staticmethod
    def _check(frequency, monetary_value) -> tuple[np.ndarray, np.ndarray]:
        x = _as_float("frequency", frequency)
        z = _as_float("monetary_value", monetary_value)
        if len(x) != len(z):
            raise ValueError(f"frequency and monetary_value differ in length: {len(x)}, {len(z)}")
        if len(x) == 0:
            raise ValueError("no customers to fit")
        for mask, what in [
            (x < 0, "frequency is negative"),
            (x != np.round(x), "frequency is not an integer"),
        ]:
            if mask.any():
                raise ValueError(
                    f"{int(mask.sum())} row(s) where {what}; first ids: {_ids_of(frequency, mask)}"
                )
        return x, z

    def fit(self, frequency, monetary_value) -> GammaGamma:
        """Fit on customers with at least one repeat purchase and positive mean spend.

        Raises
        ------
        ValueError
            If any row has frequency 0 or monetary_value <= 0 (filter them first: the model
            is for positive spend of repeat purchases).
        """
        x, z = self._check(frequency, monetary_value)
        zero = x == 0
        if zero.any():
            raise ValueError(
                f"Gamma-Gamma is fitted on repeat customers only: {int(zero.sum())} row(s) have frequency 0; "
                f"first ids: {_ids_of(frequency, zero)} (pass summary[summary.frequency > 0])"
            )
        nonpos = z <= 0
        if nonpos.any():
            raise ValueError(
                f"Gamma-Gamma needs positive spend: {int(nonpos.sum())} row(s) have monetary_value <= 0 "
                f"(credit notes or zero-value orders); first ids: {_ids_of(monetary_value, nonpos)}"
            )
        (x, z), w = _compress(x, z)
        n = w.sum()

        def fg(theta):
            ll, g = _gg_loglik(np.exp(theta), x, z, grad=True)
            f = -_wsum(w, ll) / n
            gr = -np.einsum("ij,j->i", g, w) * np.exp(theta) / n
            if not np.isfinite(f) or not np.all(np.isfinite(gr)):
                return np.inf, np.zeros_like(theta)
            return f, gr

        def negll_sum(theta):
            return -_wsum(w, _gg_loglik(np.exp(theta), x, z))

        def grad_sum(theta):
            _, g = _gg_loglik(np.exp(theta), x, z, grad=True)
            return -np.einsum("ij,j->i", g, w) * np.exp(theta)

        zm = _wsum(w, z) / n
        starts = [np.log([1.0, 2.0, zm]), np.log([5.0, 5.0, zm]), np.log([1.0, 1.0, 1.0])]
        theta, res, conv = _fit_mle(fg, starts, True, self._names, self.max_iter, "Gamma-Gamma")
        self._store(theta, res, conv, negll_sum, grad_sum, n)
        q = self.params_["q"]
        if q <= 1.0:
            warnings.warn(
                f"Gamma-Gamma q = {q:.3f} <= 1: the population mean spend p*gamma/(q-1) is undefined "
                "(spend too heavy-tailed); expected_spend will raise",
                CLVWarning,
                stacklevel=2,
            )
        return self

    def expected_spend(self, frequency, monetary_value) -> np.ndarray:
        """Conditional expected mean spend per transaction, E[M | x, zbar].

        Customers with frequency 0 get the population mean p * gamma / (q - 1).

        Raises
        ------
        ValueError
            If q <= 1 (the population mean is undefined) or a repeat customer has a negative
            monetary_value. A zero mean (free repeat orders) is valid here: the estimate
            shrinks towards the population mean; only the fit needs positive spend.
        """
        p, q, g = self._check_fitted()
        if q <= 1.0:
            raise ValueError(f"Gamma-Gamma q = {q:.4g} <= 1: mean spend p*gamma/(q-1) is undefined")
        x, z = self._check(frequency, monetary_value)
        bad = (x > 0) & (z < 0)
        if bad.any():
            raise ValueError(
                f"{int(bad.sum())} repeat customer(s) have monetary_value < 0; first ids: "
                f"{_ids_of(monetary_value, bad)}"
            )
        z = np.where(x > 0, z, 0.0)
        return (g + x * z) * p / (p * x + q - 1.0)


# ---------------------------------------------------------------------------------------------
# CLV and validation
# ---------------------------------------------------------------------------------------------


def expected_spend_or_observed(
    model: GammaGamma,
    summary: pd.DataFrame,
    *,
    frequency_col: str = "frequency",
    monetary_col: str = "monetary_value",
) -> pd.Series:
    """Expected spend per account from Gamma-Gamma, or observed spend when the model has none.

    With q > 1 this is :meth:`GammaGamma.expected_spend`. With q <= 1 (spend so heavy-tailed
    that the population mean is infinite, common in B2B portfolios) it falls back to each
    repeat buyer's observed mean spend and, for accounts without repeat purchases, the
    median of those. ``attrs["method"]`` says which was used, so a notebook can report it.
    """
    x, z = summary[frequency_col], summary[monetary_col]
    if model.params_["q"] > 1:
        out = pd.Series(model.expected_spend(x, z), index=summary.index, name="expected_spend")
        out.attrs["method"] = "Gamma-Gamma conditional expectation"
        return out
    repeat = (x > 0) & (z > 0)
    if not repeat.any():
        raise ValueError("no repeat purchases with positive spend to fall back on")
    out = z.where(repeat, z[repeat].median()).astype(float).rename("expected_spend")
    out.attrs["method"] = (
        f"observed mean spend (Gamma-Gamma q = {model.params_['q']:.3f} <= 1: "
        f"population mean undefined)"
    )
    return out


def customer_lifetime_value(
    transaction_model: BGNBD | ParetoNBD,
    spend_model: GammaGamma | pd.Series,
    summary: pd.DataFrame,
    horizon: int = 52,
    discount_rate: float = 0.01,
    freq: str = "W",
    *,
    frequency_col: str = "frequency",
    recency_col: str = "recency",
    T_col: str = "T",
    monetary_col: str = "monetary_value",
) -> pd.Series:
    """Discounted expected value of each account over the next ``horizon`` periods.

    CLV = sum_{k=1..horizon} [E(k) - E(k-1)] * E[M] / (1 + discount_rate)^k, with E(k) the
    conditional expected repeat purchases by the end of period k.

    Parameters
    ----------
    spend_model : GammaGamma or pandas.Series
        A fitted Gamma-Gamma model, or expected spend per account (indexed like ``summary``),
        e.g. from :func:`expected_spend_or_observed`.
    freq : {"D", "W", "M"}
        Length of one discounting period. The summary's own unit is read from
        ``summary.attrs["freq"]`` (set by :func:`rfm_summary`; assumed equal to ``freq`` when
        absent) and periods are converted, so weekly models can be valued monthly.
    discount_rate : float
        Discount rate per period of ``freq``.

    Returns
    -------
    Series
        CLV per account (index of ``summary``), named ``"clv"``.
    """
    if horizon < 1 or int(horizon) != horizon:
        raise ValueError(f"horizon must be a positive integer number of periods, got {horizon}")
    if discount_rate <= -1:
        raise ValueError("discount_rate must be > -1")
    step = _freq_days(freq) / _freq_days(summary.attrs.get("freq", freq))
    f, r, T = summary[frequency_col], summary[recency_col], summary[T_col]
    times = (np.arange(horizon + 1, dtype=float) * step)[:, None]
    cum = transaction_model.expected_purchases(times, f, r, T)  # (horizon + 1, n)
    inc = np.diff(cum, axis=0)
    disc = (1.0 + discount_rate) ** -np.arange(1, horizon + 1, dtype=float)
    if isinstance(spend_model, GammaGamma):
        spend = spend_model.expected_spend(f, summary[monetary_col])
    else:  # per-account expected spend, e.g. from expected_spend_or_observed
        spend = pd.Series(spend_model).reindex(summary.index).to_numpy(dtype=float)
        if np.isnan(spend).any():
            raise ValueError("spend_model as a Series must cover every account of summary")
    return pd.Series(disc @ inc * spend, index=summary.index, name="clv")


def holdout_check(
    model: BGNBD | ParetoNBD,
    summary: pd.DataFrame,
    max_bucket: int = 7,
    bins: Sequence[int] | None = None,
) -> pd.DataFrame:
    """Predicted vs actual holdout repeat purchases by calibration frequency.

    Parameters
    ----------
    model : fitted BGNBD or ParetoNBD
    summary : DataFrame
        Output of :func:`rfm_summary` with ``holdout_end`` (needs ``frequency_holdout`` and
        ``duration_holdout``).
    max_bucket : int
        Frequencies >= this are pooled in one bucket labelled e.g. ``"7+"``.
    bins : sequence of int, optional
        Increasing lower edges of frequency buckets instead of one bucket per frequency, e.g.
        ``[0, 10, 25, 50]`` gives ``"0-9"``, ``"10-24"``, ``"25-49"``, ``"50+"`` (for frequent
        B2B buyers). Must start at 0.

    Returns
    -------
    DataFrame
        One row per bucket (``"0"`` ... ``"7+"``) plus ``"total"``: n customers, actual and
        predicted totals and means per customer.
    """
    need = {"frequency", "recency", "T", "frequency_holdout", "duration_holdout"}
    if not need <= set(summary.columns):
        raise ValueError(
            f"summary lacks {sorted(need - set(summary.columns))}; call rfm_summary(..., holdout_end=...)"
        )
    pred = model.expected_purchases(
        summary["duration_holdout"].to_numpy(float),
        summary["frequency"],
        summary["recency"],
        summary["T"],
    )
    freq_x = summary["frequency"].to_numpy()
    if bins is None:
        bucket = np.minimum(freq_x, max_bucket).astype(int)
        labels = [str(i) for i in range(max_bucket)] + [f"{max_bucket}+"]
    else:
        edges = np.asarray(bins, dtype=int)
        if len(edges) == 0 or edges[0] != 0 or np.any(np.diff(edges) <= 0):
            raise ValueError(f"bins must be increasing lower edges starting at 0, got {list(bins)}")
        bucket = np.searchsorted(edges, freq_x, side="right") - 1
        labels = [
            str(lo) if hi - lo == 1 else f"{lo}-{hi - 1}" for lo, hi in zip(edges[:-1], edges[1:])
        ]
        labels.append(f"{edges[-1]}+")
    df = pd.DataFrame(
        {
            "bucket": pd.Categorical.from_codes(bucket, labels),
            "actual": summary["frequency_holdout"].to_numpy(float),
            "predicted": pred,
        }
    )
    g = df.groupby("bucket", observed=False)
    out = pd.DataFrame(
        {"n": g.size(), "actual_total": g["actual"].sum(), "predicted_total": g["predicted"].sum()}
    )
    out.loc["total"] = out.sum()
    out["n"] = out["n"].astype(int)
    out["actual_mean"] = out["actual_total"] / out["n"].where(out["n"] > 0)
    out["predicted_mean"] = out["predicted_total"] / out["n"].where(out["n"] > 0)
    out.index = pd.Index([str(i) for i in out.index], name="frequency")
    return out


def plot_holdout(check: pd.DataFrame, ax=None):
    """Plot mean actual vs predicted holdout purchases per calibration frequency bucket."""
    import matplotlib.pyplot as plt

    if ax is None:
        _, ax = plt.subplots(figsize=(6, 4))
    data = check.drop(index="total", errors="ignore")
    pos = np.arange(len(data))
    ax.plot(pos, data["actual_mean"], marker="o", label="actual")
    ax.plot(pos, data["predicted_mean"], marker="s", linestyle="--", label="predicted")
    ax.set_xticks(pos, data.index)
    ax.set_xlabel("repeat purchases in calibration")
    ax.set_ylabel("mean repeat purchases in holdout")
    ax.legend()
    return ax


def cumulative_purchases(
    model: BGNBD | ParetoNBD,
    transactions: pd.DataFrame,
    calibration_end: Any,
    holdout_end: Any = None,
    freq: str = "W",
    *,
    account_col: str = "account_id",
    date_col: str = "date",
    amount_col: str = "amount",
) -> pd.DataFrame:
    """Actual and predicted cumulative repeat purchases of the calibration accounts over time.

    The population is the accounts of :func:`rfm_summary` (first purchase on or before
    ``calibration_end``); purchase days follow its rules (credit-note days are not purchases).
    The prediction at a date is the sum over accounts of the model's unconditional expectation
    E[X(age)] for a customer acquired at its first purchase (Fader, Hardie & Lee 2005, fig. 3),
    so the holdout part is a genuine out-of-sample check of the whole purchase process.

    Parameters
    ----------
    model : fitted BGNBD or ParetoNBD
        Fitted on ``rfm_summary(transactions, calibration_end, freq=freq)``.
    transactions : DataFrame
        Transactions with account, date and amount columns.
    calibration_end, holdout_end : date-like
        Last day of calibration (inclusive) and of the tracking window (default: the last
        transaction date, or ``calibration_end`` if no later transaction).
    freq : {"D", "W", "M"}
        Time unit of the grid and of the model.

    Returns
    -------
    DataFrame
        One row per grid point (every ``freq`` from the first purchase, plus the end):
        ``t`` (periods since the first purchase), ``date``, ``actual``, ``predicted`` and
        ``holdout`` (the date is after ``calibration_end``).
    """
    unit = _freq_days(freq)
    model._check_fitted()
    cal_end = pd.Timestamp(calibration_end).normalize()
    tx = pd.DataFrame(
        {
            "acc": transactions[account_col].to_numpy(),
            "day": pd.to_datetime(transactions[date_col]).dt.normalize().to_numpy(),
            "amount": pd.to_numeric(transactions[amount_col]).to_numpy(dtype=float),
        }
    )
    daily = _purchase_days(tx)
    daily = daily[daily["purchase"]]
    first = daily.groupby("acc", sort=True, observed=True)["day"].transform("min")
    daily = daily[first <= cal_end]
    first = first[first <= cal_end]
    if daily.empty:
        raise ValueError(f"no purchases on or before calibration_end {cal_end.date()}")
    end = (
        pd.Timestamp(holdout_end).normalize()
        if holdout_end is not None
        else max(daily["day"].max(), cal_end)
    )
    if end < cal_end:
        raise ValueError(f"holdout_end {end.date()} is before calibration_end {cal_end.date()}")
    start = daily["day"].min()
    day_ns = np.timedelta64(1, "D")
    repeat = ((daily.loc[daily["day"] > first, "day"] - start) / day_ns).to_numpy(dtype=float)
    repeat = np.sort(repeat[repeat <= (end - start) / day_ns])
    birth_day = daily.groupby("acc", sort=True, observed=True)["day"].min()
    births, counts = np.unique(
        ((birth_day - start) / day_ns).to_numpy(dtype=float), return_counts=True
    )
    span = (end - start) / day_ns
    grid = np.arange(0.0, span + 1e-9, unit)
    if grid[-1] < span:
        grid = np.append(grid, span)
    grid_days = np.floor(grid + 1e-9)
    ages = np.clip(grid_days[:, None] - births[None, :], 0.0, None) / unit
    expected = np.asarray(model.expected_purchases_new(ages), dtype=float)
    dates = start + pd.to_timedelta(grid_days, unit="D")
    out = pd.DataFrame(
        {
            "t": grid / unit,
            "date": dates,
            "actual": np.searchsorted(repeat, grid_days, side="right").astype("int64"),
            "predicted": np.einsum("kj,j->k", expected, counts.astype(float)),
            "holdout": dates > cal_end,
        }
    )
    out.attrs.update(freq=freq, calibration_t=float((cal_end - start) / day_ns) / unit)
    return out


def plot_cumulative(
    model: BGNBD | ParetoNBD,
    transactions: pd.DataFrame,
    calibration_end: Any,
    holdout_end: Any = None,
    freq: str = "W",
    *,
    ax=None,
    **columns: str,
):
    """Tracking plot: actual vs predicted cumulative repeat purchases, holdout shaded.

    Arguments as in :func:`cumulative_purchases` (``columns`` passes ``account_col``,
    ``date_col``, ``amount_col``). The calibration end is marked by the start of the shaded
    holdout span. Returns the Axes.
    """
    import matplotlib.pyplot as plt

    track = cumulative_purchases(model, transactions, calibration_end, holdout_end, freq, **columns)
    if ax is None:
        _, ax = plt.subplots(figsize=(7, 4))
    ax.plot(track["t"], track["actual"], label="actual")
    ax.plot(
        track["t"], track["predicted"], linestyle="--", label=f"predicted ({type(model).__name__})"
    )
    if track["holdout"].any():
        ax.axvspan(
            track.attrs["calibration_t"],
            float(track["t"].max()),
            color="grey",
            alpha=0.15,
            label="holdout",
        )
    unit = {"D": "days", "W": "weeks", "M": "months"}[freq]
    ax.set_xlabel(f"{unit} since {track['date'].iloc[0].date()}")
    ax.set_ylabel("cumulative repeat purchases")
    ax.legend(loc="upper left")
    return ax


def value_vs_tier(
    values: pd.Series,
    scores: pd.DataFrame,
    top: float = 0.10,
    key_tiers: Sequence[str] = ("key", "strategic"),
    *,
    tier_col: str = "tier",
    score_col: str = "score",
) -> pd.Series:
    """Do the rule-based key accounts hold the highest expected value?

    Parameters
    ----------
    values : Series
        Expected value per account (e.g. :func:`customer_lifetime_value`).
    scores : DataFrame
        Rule-based scores and tiers per account (``kamlab.criteria.score_accounts``).
    top : float
        Share of accounts with the highest value that counts as "top" (0.10 = top decile).
    key_tiers : sequence of str
        Tiers counted as key accounts.

    Returns
    -------
    Series
        ``n`` (accounts in both), ``n_top``, ``key_share_all`` (share of key accounts overall),
        ``key_share_top`` (among the top accounts), ``lift`` (their ratio), ``value_share_key``
        (share of total value held by key accounts), ``spearman`` and ``spearman_p`` (rank
        correlation of value with the rule score).
    """
    from scipy.stats import spearmanr

    if not 0 < top < 1:
        raise ValueError(f"top must be in (0, 1), got {top}")
    both = scores[[tier_col, score_col]].join(values.rename("_value"), how="inner").dropna()
    if len(both) < 3:
        raise ValueError(f"only {len(both)} account(s) have both a value and a rule score")
    n_top = max(1, int(round(top * len(both))))
    ranked = both.sort_values(["_value", score_col], ascending=False, kind="stable")
    is_key = ranked[tier_col].astype(str).isin(list(key_tiers)).to_numpy()
    rho, p = spearmanr(ranked["_value"], ranked[score_col])
    total = float(ranked["_value"].sum())
    share_all = float(is_key.mean())
    share_top = float(is_key[:n_top].mean())
    return pd.Series(
        {
            "n": float(len(ranked)),
            "n_top": float(n_top),
            "key_share_all": share_all,
            "key_share_top": share_top,
            "lift": share_top / share_all if share_all > 0 else np.nan,
            "value_share_key": float(ranked["_value"][is_key].sum()) / total if total else np.nan,
            "spearman": float(rho),
            "spearman_p": float(p),
        }
    )


def simulate_bgnbd(
    n_customers: int,
    r: float,
    alpha: float,
    a: float,
    b: float,
    T: float | np.ndarray = 39.0,
    *,
    seed: int | np.random.Generator | None = 0,
) -> pd.DataFrame:
    """Draw calibration summaries (frequency, recency, T) from the BG/NBD model.

    Purchase rates are Gamma(r, scale 1/alpha), dropout probabilities Beta(a, b); a customer
    may drop out after each repeat purchase. Uses the fact that, given N Poisson arrivals in
    (0, T], the x-th arrival time is T times a Beta(x, N - x + 1) draw.

    Parameters
    ----------
    T : float or array
        Observation length per customer (same unit as 1/alpha).
    seed : int or Generator
        Random seed.
    """
    rng = np.random.default_rng(seed)
    T_arr = np.broadcast_to(np.asarray(T, dtype=float), (n_customers,)).copy()
    lam = rng.gamma(r, 1.0 / alpha, n_customers)
    p = rng.beta(a, b, n_customers)
    n_arrivals = rng.poisson(lam * T_arr)
    last = rng.geometric(
        np.clip(p, 1e-300, 1.0)
    )  # repeat purchase after which the customer drops out
    x = np.minimum(n_arrivals, last)
    pos = x > 0
    tx = np.zeros(n_customers)
    tx[pos] = T_arr[pos] * rng.beta(x[pos], n_arrivals[pos] - x[pos] + 1)
    return pd.DataFrame({"frequency": x.astype("int64"), "recency": tx, "T": T_arr})
