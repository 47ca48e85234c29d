"""The one maximum-likelihood machinery of the CLV and contract models.

Every model (BG/NBD, Pareto/NBD, Gamma-Gamma, sBG) supplies its negative log-likelihood and its
analytic gradient in log-parameter space; :class:`MLEModel` does the rest, the same way for all:

1. **Fit.** L-BFGS-B on the mean negative log-likelihood from a few starting points, each
   log-parameter searched in ``[-20, 20]`` (parameters in ``[2e-9, 5e8]``), then a Newton
   polish with the Hessian (central differences of the analytic gradient) until the last step
   changes every parameter by less than 1e-10 relative. Everything runs under
   :func:`kamlab._threads.limit_threads` (one BLAS thread for small problems).
2. **Uncertainty.** The observed information in log space gives standard errors by the delta
   method and 95 % intervals ``exp(log p ± 1.96 se(log p))``, which are never below zero.
3. **Identification.** A parameter is *not identified* (reported "at the boundary") when its
   log lies on the search bound, or when the likelihood is flat in its direction: the
   Hessian has a non-positive eigenvalue that loads on it, or ``se(log p)`` exceeds
   :data:`LOG_SE_LIMIT` (the 95 % interval then spans more than eight orders of magnitude, so
   the data cannot tell even the order of magnitude). Such a parameter's number depends on
   where the optimiser happened to stop (last bits, BLAS, thread counts) and is never printed.
   An identified parameter whose standard error exceeds its estimate is flagged "wide".
"""

from __future__ import annotations

import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Self

import numpy as np
import pandas as pd
from scipy.optimize import minimize

from kamlab import fmt
from kamlab._threads import limit_threads

__all__ = ["LOG_SE_LIMIT", "CLVWarning", "ConvergenceWarning", "MLEModel"]

#: Each log-parameter is searched in [-LOG_BOUND, LOG_BOUND].
LOG_BOUND = 20.0
#: A parameter with a larger standard error of its logarithm is not identified.
LOG_SE_LIMIT = 5.0
Z95 = 1.959963984540054
#: Words for the ``note`` column of :meth:`MLEModel.summary`.
AT_BOUNDARY = "at the boundary (not identified)"
WIDE = "wide (std_error > estimate)"

#: value-and-gradient of the summed negative log-likelihood in log-parameter space
Objective = Callable[[np.ndarray], tuple[float, np.ndarray]]


class ConvergenceWarning(UserWarning):
    """The maximum-likelihood optimiser did not converge."""


class CLVWarning(UserWarning):
    """A numerical or modelling issue in a CLV model."""


# ---------------------------------------------------------------------------------------------
# input checks shared by the models
# ---------------------------------------------------------------------------------------------


def ids_of(values: Any, mask: np.ndarray, k: int = 5) -> list:
    """The first ``k`` index labels (or positions) where ``mask`` holds."""
    idx = values.index if isinstance(values, pd.Series) else pd.RangeIndex(len(mask))
    return list(idx[mask][:k])


def as_float(name: str, values: Any) -> np.ndarray:
    """A 1-D float array, refusing missing or infinite values with the offending ids."""
    arr = np.asarray(values, dtype=float).ravel()
    bad = ~np.isfinite(arr)
    if bad.any():
        raise ValueError(
            f"{name} has {int(bad.sum())} missing or non-finite value(s); first ids: {ids_of(values, bad)}"
        )
    return arr


def check_rfm(frequency: Any, recency: Any, T: Any) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Validated (x, t_x, T) arrays; every violation names its rows."""
    x = as_float("frequency", frequency)
    tx = as_float("recency", recency)
    t = as_float("T", T)
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
                f"{int(mask.sum())} row(s) where {what}; first ids: {ids_of(frequency, mask)}"
            )
    return x, tx, t


def check_weights(weights: Any, n: int) -> np.ndarray | None:
    if weights is None:
        return None
    w = as_float("weights", weights)
    if len(w) != n or np.any(w < 0):
        raise ValueError("weights must be non-negative, one per customer")
    return w


def compress(
    *cols: np.ndarray, weights: np.ndarray | None = None
) -> tuple[tuple[np.ndarray, ...], np.ndarray]:
    """Unique rows of the stacked columns and their summed weights (counts by default).

    Customers with identical data contribute identical likelihood terms, so a fit evaluates
    each distinct row once, weighted by how many customers share it.
    """
    columns = [np.asarray(c, dtype=float) for c in cols]
    # Rows in lexicographic order (first column first), as np.unique(axis=0) orders them; a
    # lexsort is ~10x faster than np.unique's sort of whole rows, and the fit's sums then add
    # in the same order.
    order = np.lexsort(columns[::-1])
    ordered = [c[order] for c in columns]
    new_row = np.zeros(len(order), dtype=bool)
    new_row[:1] = True
    for c in ordered:
        new_row[1:] |= c[1:] != c[:-1]
    group = np.cumsum(new_row) - 1
    w = np.bincount(
        group, weights=None if weights is None else np.asarray(weights, float)[order]
    ).astype(float)
    keep = w > 0
    return tuple(c[new_row][keep] for c in ordered), w[keep]


def wsum(w: np.ndarray, v: np.ndarray) -> float:
    """Weighted sum without BLAS (threaded BLAS calls stall under CPU contention)."""
    return float(np.einsum("i,i->", w, v))


def wgrad(w: np.ndarray, g: np.ndarray) -> np.ndarray:
    """Weighted sum over customers of a (k, n) gradient array."""
    return np.einsum("ij,j->i", g, w)


@dataclass(frozen=True)
class RFMProblem:
    """The fit of a purchase model (BG/NBD, Pareto/NBD) on validated, compressed RFM data.

    ``objective`` is the weighted negative log-likelihood and its gradient in log-parameter
    space; ``n_obs`` the number of customers, ``n_rows`` of distinct (x, t_x, T) rows;
    ``mean_x`` and ``mean_T`` the customers' mean frequency and age (for starting points).
    """

    objective: Objective
    n_obs: float
    n_rows: int
    mean_x: float
    mean_T: float

    @property
    def alpha_start(self) -> float:
        """A starting alpha: the scale of a Gamma(1, alpha) purchase rate with the mean
        observed rate (mean frequency over mean age)."""
        return max(self.mean_T / max(self.mean_x, 0.1), 1e-3)


def rfm_problem(
    loglik_grad: Callable[..., tuple[np.ndarray, np.ndarray]],
    frequency: Any,
    recency: Any,
    T: Any,
    weights: Any = None,
) -> RFMProblem:
    """Check and compress the RFM data and build the objective of a purchase model.

    ``loglik_grad(p, x, t_x, T, x_groups=...)`` returns the per-row log-likelihood and its
    (k, n) gradient with respect to the parameters ``p``; ``x_groups`` is
    ``np.unique(x, return_inverse=True)``, for terms that depend on x only.
    """
    x, tx, t = check_rfm(frequency, recency, T)
    (x, tx, t), w = compress(x, tx, t, weights=check_weights(weights, len(x)))
    n = w.sum()
    xg = np.unique(x, return_inverse=True)

    def objective(theta):
        p = np.exp(theta)
        with np.errstate(all="ignore"):
            ll, g = loglik_grad(p, x, tx, t, x_groups=xg)
        return -wsum(w, ll), -wgrad(w, g) * p

    return RFMProblem(objective, n, len(x), wsum(w, x) / n, wsum(w, t) / n)


# ---------------------------------------------------------------------------------------------
# optimisation
# ---------------------------------------------------------------------------------------------


def _lbfgsb(objective: Objective, x0: np.ndarray, scale: float, max_iter: int):
    def mean(theta):
        f, g = objective(theta)
        if not np.isfinite(f) or not np.all(np.isfinite(g)):
            return np.inf, np.zeros_like(theta)
        return f / scale, g / scale

    return minimize(
        mean,
        np.asarray(x0, dtype=float),
        jac=True,
        method="L-BFGS-B",
        bounds=[(-LOG_BOUND, LOG_BOUND)] * len(x0),
        options={"maxiter": max_iter, "ftol": 1e-13, "gtol": 1e-9},
    )


def hessian(
    objective: Objective, theta: np.ndarray, step: float = 1e-5, free: np.ndarray | None = None
) -> np.ndarray:
    """Symmetrised central differences of the analytic gradient (of the ``free`` block only,
    when given)."""
    idx = np.arange(len(theta)) if free is None else np.flatnonzero(free)
    H = np.empty((len(idx), len(idx)))
    for col, i in enumerate(idx):
        e = np.zeros(len(theta))
        e[i] = step
        H[:, col] = (objective(theta + e)[1][idx] - objective(theta - e)[1][idx]) / (2.0 * step)
    return 0.5 * (H + H.T)


def _newton(objective: Objective, theta: np.ndarray, steps: int = 12, free=None):
    """Newton polish with step halving, of all parameters or of the ``free`` ones only.

    Returns (theta, converged, f, g, H): converged when the full Newton step at ``theta``
    is below 1e-10 (so every parameter is within ~1e-10 relative of the optimum); f, g and H
    are the objective, gradient and Hessian (of the free block) at the returned ``theta``
    (H None if not computed there).
    """
    free = np.ones(len(theta), dtype=bool) if free is None else np.asarray(free, dtype=bool)
    f, g = objective(theta)
    for _ in range(steps):
        H = hessian(objective, theta, free=free)
        try:
            if np.linalg.eigvalsh(H).min() <= 0:
                return theta, False, f, g, H
            delta = np.zeros(len(theta))
            delta[free] = -np.linalg.solve(H, g[free])
        except np.linalg.LinAlgError:
            return theta, False, f, g, None
        if np.max(np.abs(delta)) < 1e-10:
            return theta, True, f, g, H
        for _half in range(30):
            trial = np.clip(theta + delta, -LOG_BOUND, LOG_BOUND)
            f_trial, g_trial = objective(trial)
            if np.isfinite(f_trial) and f_trial <= f + 1e-12 * abs(f):
                break
            delta = delta / 2.0
        else:
            return theta, False, f, g, None
        theta, f, g = trial, f_trial, g_trial
    return theta, False, f, g, None


def _identification(theta: np.ndarray, H: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Covariance of the log-parameters (NaN where not identified) and the identified flags.

    Flat directions are the Hessian's eigenvectors whose eigenvalue is below
    1 / LOG_SE_LIMIT² (or not positive): along them the log-likelihood changes by less than
    0.02 over a unit change of the log-parameters. A parameter at least 10 % of whose unit
    direction lies in flat directions (squared loading > 0.01), or at the search bound, is
    not identified. The covariance of the identified parameters is the inverse Hessian
    restricted to the other directions (the flat ones held at the estimate).
    """
    k = len(theta)
    try:
        lam, V = np.linalg.eigh(H)
    except np.linalg.LinAlgError:
        return np.full((k, k), np.nan), np.zeros(k, dtype=bool)
    if not np.all(np.isfinite(lam)):
        return np.full((k, k), np.nan), np.zeros(k, dtype=bool)
    flat = lam < 1.0 / LOG_SE_LIMIT**2
    cov = (V[:, ~flat] / lam[~flat]) @ V[:, ~flat].T
    in_flat = (V[:, flat] ** 2).sum(axis=1) > 0.01
    with np.errstate(invalid="ignore"):
        se_log = np.sqrt(np.diag(cov))
    identified = ~in_flat & (se_log <= LOG_SE_LIMIT) & (np.abs(theta) < LOG_BOUND - 1e-6)
    cov = np.where(np.outer(identified, identified), cov, np.nan)
    return cov, identified


class MLEModel:
    """Base of the maximum-likelihood models: fitting, uncertainty, identification, summary.

    Attributes (after ``fit``)
    --------------------------
    params_ : Series
        The maximum-likelihood estimates (used by every prediction).
    std_error_ : Series
        Delta-method standard errors (NaN where not identified).
    covariance_ : DataFrame
        Delta-method covariance of the parameters (NaN rows/columns where not identified).
    identified_ : Series of bool
        False for a parameter at the boundary (see the module docstring for the rule).
    log_likelihood_, converged_, n_iter_, n_obs_
    """

    _names: tuple[str, ...] = ()
    _label: str = ""

    def __init__(self, *, max_iter: int = 2000):
        self.max_iter = max_iter

    def __repr__(self) -> str:
        if hasattr(self, "params_"):
            inner = ", ".join(f"{k}={fmt.estimate(v)}" for k, v in self.params_.items())
            return f"{type(self).__name__}({inner})"
        return f"{type(self).__name__}(max_iter={self.max_iter})"

    def _check_fitted(self) -> np.ndarray:
        if not hasattr(self, "params_"):
            raise RuntimeError(f"{type(self).__name__} is not fitted; call fit() first")
        return self.params_.reindex(list(self._names)).to_numpy(dtype=float)

    def _fit_mle(
        self,
        objective: Objective,
        starts: Sequence[np.ndarray],
        n_obs: float,
        n_rows: int,
        loglik: Callable[[np.ndarray], float] | None = None,
        final_hessian: Callable[[np.ndarray], np.ndarray | None] | None = None,
    ) -> None:
        """Maximise the likelihood and store the fitted attributes.

        ``objective(theta)`` returns the summed negative log-likelihood and its gradient in
        log-parameter space; ``loglik(params)`` (optional) the reported log-likelihood at the
        estimate, when it is computed by a different (reference) formula than the fit's;
        ``final_hessian(theta)`` (optional) a Hessian for the standard errors where the
        model knows a better one than differences of its gradient (None: use those).
        """
        names = list(self._names)
        with limit_threads(n_rows):
            best: tuple | None = None
            for x0 in starts:
                res = _lbfgsb(objective, x0, n_obs, self.max_iter)
                if not np.isfinite(res.fun):
                    continue
                if res.nit < self.max_iter:
                    theta, ok, f, g, H = _newton(objective, res.x)
                else:
                    (f, g), theta, ok, H = objective(res.x), res.x, False, None
                if best is None or f < best[0] - 1e-9 * abs(best[0]):
                    best = (f, res, theta, ok, g, H)
                if ok or res.success:  # later starts only after a failed search
                    break
            if best is None:
                raise RuntimeError(
                    f"{self._label}: the log-likelihood was not finite at any starting point"
                )
            f, res, theta, polished, g, H = best
            special = None if final_hessian is None else final_hessian(theta)
            if special is not None:
                H = special
            elif H is None or not polished:
                H = hessian(objective, theta)
            cov_log, identified = _identification(theta, H)
            if not polished and identified.any() and not identified.all():
                # At a boundary: polish the identified parameters with the others held.
                theta, polished, f, g, _ = _newton(objective, theta, free=identified)
                special = None if final_hessian is None else final_hessian(theta)
                H = special if special is not None else hessian(objective, theta)
                cov_log, identified = _identification(theta, H)
        stopped = res.nit >= self.max_iter
        # At a boundary the optimum of the non-identified parameters is at infinity (their
        # gradient need not vanish); the identified ones must have a vanishing gradient.
        g_id = np.abs(g[identified]) / n_obs
        flat_enough = bool(g_id.size == 0 or g_id.max() < 1e-6)
        converged = bool(polished or (not stopped and (bool(res.success) or flat_enough)))
        if not converged:
            why = "iteration limit reached" if stopped else str(res.message)
            warnings.warn(
                f"{self._label} fit did not converge: {why}", ConvergenceWarning, stacklevel=3
            )
        params = np.exp(theta)
        self.params_ = pd.Series(params, index=names, name="estimate")
        cov = cov_log * np.outer(params, params)
        self.covariance_ = pd.DataFrame(cov, index=names, columns=names)
        self.std_error_ = pd.Series(np.sqrt(np.diag(cov)), index=names, name="std_error")
        self.identified_ = pd.Series(identified, index=names, name="identified")
        self._se_log = np.sqrt(np.diag(cov_log))
        self.log_likelihood_ = float(-f if loglik is None else loglik(params))
        self.converged_ = converged
        self.n_iter_ = int(res.nit)
        self.n_obs_ = int(round(n_obs))

    def summary(self) -> pd.DataFrame:
        """Parameter table: estimate, std_error, 95 % interval on the log scale, flags.

        Columns ``estimate``, ``std_error``, ``ci_low``, ``ci_high`` (all NaN for a parameter
        that is not identified), ``identified`` (bool), ``note`` (``""``, ``"wide (std_error >
        estimate)"`` or ``"at the boundary (not identified)"``) and ``reported``: the estimate as
        a report prints it, to four significant digits (:func:`kamlab.fmt.estimate`), or the
        words ``"at the boundary"``. The interval ``exp(log p ± 1.96 se(log p))`` is never
        below zero.
        """
        p = self._check_fitted()
        se_log = self._se_log
        ident = self.identified_.to_numpy()
        wide = ident & (se_log > 1.0)
        est = np.where(ident, p, np.nan)
        note = np.where(ident, np.where(wide, WIDE, ""), AT_BOUNDARY)
        return pd.DataFrame(
            {
                "estimate": est,
                "std_error": self.std_error_.to_numpy(),
                "ci_low": est * np.exp(-Z95 * se_log),
                "ci_high": est * np.exp(Z95 * se_log),
                "identified": ident,
                "note": note,
                "reported": [
                    fmt.estimate(v) if ok else "at the boundary" for v, ok in zip(p, ident)
                ],
            },
            index=pd.Index(list(self._names), name="parameter"),
        )


class PurchaseModel(MLEModel):
    """Base of the purchase models fitted to RFM summaries (BG/NBD, Pareto/NBD): their one
    ``fit``. A model supplies ``_loglik_grad`` (see :func:`rfm_problem`) and ``_starts``."""

    @staticmethod
    def _loglik_grad(p: np.ndarray, x, tx, T, x_groups) -> tuple[np.ndarray, np.ndarray]:
        raise NotImplementedError

    def _starts(self, problem: RFMProblem) -> list[np.ndarray]:
        raise NotImplementedError

    def fit(self, frequency, recency, T, *, weights=None) -> Self:
        """Fit by maximum likelihood.

        Parameters
        ----------
        frequency, recency, T : array-like
            Repeat purchases x, time of last purchase t_x and age T per customer (one time unit).
        weights : array-like, optional
            Number of customers sharing each row (for pre-aggregated data).
        """
        problem = rfm_problem(self._loglik_grad, frequency, recency, T, weights)
        self._fit_mle(problem.objective, self._starts(problem), problem.n_obs, problem.n_rows)
        return self
