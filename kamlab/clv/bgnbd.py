"""BG/NBD model of repeat purchasing (Fader, Hardie & Lee 2005, "Counting your customers" the
easy way).

Each customer buys as a Poisson process with rate λ ~ Gamma(r, α) and, after each repeat
purchase, drops out with probability p ~ Beta(a, b). Time is in the unit of the RFM summary.
"""

from __future__ import annotations

import numpy as np
from scipy.special import betaln, expit, gammaln, hyp2f1, psi

from kamlab.clv._mle import PurchaseModel, RFMProblem, check_rfm

__all__ = ["BGNBD"]

#: Within this distance of a = 1 the expectation is interpolated through its limit at a = 1.
_A_ONE = 1e-4


def _loglik(p: np.ndarray, x, tx, T, grad: bool = False, x_groups=None):
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


def _growth_direct(r, alpha, a, b, t, x, T):
    """(a+b+x-1)/(a-1) [1 - (1-z)^(a-1) 2F1(a+b-1-r, a-1; a+b+x-1; z)], z = t/(alpha+T+t).

    The Euler transform of eq. (10) of the paper: (1-z)^(r+x) 2F1(r+x, b+x; a+b+x-1; z) =
    (1-z)^(a-1) 2F1(a+b-1-r, a-1; a+b+x-1; z) keeps the hypergeometric function moderate for
    large x. Removable singularity at a = 1 (see :func:`_growth_at_one`).
    """
    z = t / (alpha + T + t)
    h = hyp2f1(a + b - 1.0 - r, a - 1.0, a + b + x - 1.0, z)
    core = 1.0 - np.exp((a - 1.0) * np.log1p(-z)) * h
    return (a + b + x - 1.0) / (a - 1.0) * core


def _growth_at_one(r, alpha, b, t, x, T):
    """The limit of :func:`_growth_direct` at a = 1:
    (b+x) [-log(1-z) - sum_{n>=1} (b-r)_n / (b+x)_n z^n / n]."""
    z = np.asarray(t / (alpha + T + t), dtype=float)
    A = np.broadcast_to(b - r, z.shape)
    C = np.broadcast_to(b + np.asarray(x, dtype=float), z.shape)
    term = np.ones(z.shape)
    total = np.zeros(z.shape)
    for n in range(1, 200_000):
        term = term * (A + n - 1.0) / (C + n - 1.0) * z
        step = term / n
        total = total + step
        if np.all(np.abs(step) <= 1e-17 * np.maximum(np.abs(total), 1e-300)):
            break
    return C * (-np.log1p(-z) - total)


def _growth(params, t, x, T):
    r, alpha, a, b = params
    if abs(a - 1.0) >= _A_ONE:
        return _growth_direct(r, alpha, a, b, t, x, T)
    # Near a = 1 the direct formula cancels catastrophically; the quadratic through
    # a = 1 - d, 1, 1 + d (d = 1e-4) is exact to about 1e-10 relative.
    d = _A_ONE
    lo = _growth_direct(r, alpha, 1.0 - d, b, t, x, T)
    hi = _growth_direct(r, alpha, 1.0 + d, b, t, x, T)
    mid = _growth_at_one(r, alpha, b, t, x, T)
    u = (a - 1.0) / d
    return mid + 0.5 * u * (hi - lo) + 0.5 * u * u * (hi - 2.0 * mid + lo)


class BGNBD(PurchaseModel):
    """Beta-geometric / NBD model of repeat purchasing (Fader, Hardie & Lee 2005).

    Parameters
    ----------
    max_iter : int
        Maximum L-BFGS-B iterations per starting point.

    Attributes
    ----------
    params_ : Series
        r, alpha (gamma heterogeneity of purchase rates), a, b (beta heterogeneity of dropout).
    std_error_, covariance_, identified_, log_likelihood_, converged_, n_iter_, n_obs_
        See :class:`kamlab.clv.MLEModel`; :meth:`summary` tabulates them.

    Notes
    -----
    Cost of a fit: customers with identical (x, t_x, T) are one weighted row; one likelihood
    and gradient evaluation takes about 40 floating-point operations and 3 logarithms or
    exponentials per distinct row, plus the special functions (betaln, digamma) once per
    distinct frequency. A fit takes 20–60 evaluations plus 8 per Newton step and 8 for the
    standard errors: about 4 µs per distinct row on one core (CDNOW, 2,357 customers in
    1,406 distinct rows: ~10 ms).

    Examples
    --------
    >>> from kamlab.clv import simulate_bgnbd
    >>> sim = simulate_bgnbd(5_000, r=0.5, alpha=6.0, a=0.8, b=3.0, T=30.0, random_state=1)
    >>> model = BGNBD().fit(sim["frequency"], sim["recency"], sim["T"])
    >>> model.summary()[["reported", "note"]]
              reported note
    parameter
    r           0.4768
    alpha        5.562
    a           0.6654
    b            2.415
    >>> model.probability_alive([2], [10.0], [30.0]).round(3)
    array([0.399])
    """

    _names = ("r", "alpha", "a", "b")
    _label = "BG/NBD"

    @staticmethod
    def _loglik_grad(p, x, tx, T, x_groups):
        return _loglik(p, x, tx, T, grad=True, x_groups=x_groups)

    def _starts(self, problem: RFMProblem) -> list[np.ndarray]:
        return [
            np.log([1.0, problem.alpha_start, 1.0, 1.0]),
            np.log([0.5, 1.0, 0.5, 2.0]),
            np.log([2.0, 10.0, 2.0, 5.0]),
        ]

    def _terms(self, frequency, recency, T):
        r, alpha, a, b = self._check_fitted()
        x, tx, t = check_rfm(frequency, recency, T)
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

    def expected_purchases(self, t, frequency, recency, T) -> np.ndarray:
        """Conditional expected repeat purchases in (T, T + t] given x, t_x, T.

        ``t`` may be a scalar, one value per customer, or an array broadcasting against the
        customers (e.g. shape (k, 1) for k horizons). Finite at a = 1 (the limit is used).
        """
        r, alpha, a, b, x, _tx, tt = self._terms(frequency, recency, T)
        t = np.asarray(t, dtype=float)
        if np.any(t < 0):
            raise ValueError("horizon t must be non-negative")
        pa = self.probability_alive(frequency, recency, T)
        return _growth((r, alpha, a, b), t, x, tt) * pa

    def expected_purchases_new(self, t) -> np.ndarray | float:
        """Unconditional E[X(t)]: expected repeat purchases of a new customer in (0, t]."""
        params = self._check_fitted()
        t_arr = np.asarray(t, dtype=float)
        if np.any(t_arr < 0):
            raise ValueError("horizon t must be non-negative")
        out = _growth(params, t_arr, 0.0, 0.0)
        return out if np.ndim(t) else float(out)

    def log_likelihood(self, frequency, recency, T) -> np.ndarray:
        """Per-customer log-likelihood at the fitted parameters."""
        params = self._check_fitted()
        x, tx, t = check_rfm(frequency, recency, T)
        return _loglik(params, x, tx, t)
