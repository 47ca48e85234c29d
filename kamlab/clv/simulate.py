"""Simulated calibration summaries with planted parameters, for tests and benchmarks."""

from __future__ import annotations

import numpy as np
import pandas as pd

__all__ = ["simulate_bgnbd", "simulate_pareto_nbd"]


def _ages(n_customers: int, T) -> np.ndarray:
    return np.broadcast_to(np.asarray(T, dtype=float), (n_customers,)).copy()


def simulate_bgnbd(
    n_customers: int,
    r: float,
    alpha: float,
    a: float,
    b: float,
    T: float | np.ndarray = 39.0,
    *,
    random_state: int | np.random.Generator | None = 0,
) -> pd.DataFrame:
    """Draw calibration summaries (frequency, recency, T) from the BG/NBD model.

    Purchase rates are Gamma(r, scale 1/alpha), dropout probabilities Beta(a, b); a customer
    may drop out after each repeat purchase. Uses the fact that, given N Poisson arrivals in
    (0, T], the x-th arrival time is T times a Beta(x, N - x + 1) draw.

    Parameters
    ----------
    T : float or array
        Observation length per customer (same unit as 1/alpha).
    random_state : int or Generator
        Seed of the draws.

    Examples
    --------
    >>> simulate_bgnbd(3, r=0.5, alpha=2.0, a=0.8, b=3.0, T=10.0, random_state=1).round(2)
       frequency  recency     T
    0          1     0.70  10.0
    1          3     4.14  10.0
    2          0     0.00  10.0
    """
    rng = np.random.default_rng(random_state)
    T_arr = _ages(n_customers, T)
    lam = rng.gamma(r, 1.0 / alpha, n_customers)
    p = rng.beta(a, b, n_customers)
    n_arrivals = rng.poisson(lam * T_arr)
    # the repeat purchase after which the customer drops out
    last = rng.geometric(np.clip(p, 1e-300, 1.0))
    x = np.minimum(n_arrivals, last)
    pos = x > 0
    tx = np.zeros(n_customers)
    tx[pos] = T_arr[pos] * rng.beta(x[pos], n_arrivals[pos] - x[pos] + 1)
    return pd.DataFrame({"frequency": x.astype("int64"), "recency": tx, "T": T_arr})


def simulate_pareto_nbd(
    n_customers: int,
    r: float,
    alpha: float,
    s: float,
    beta: float,
    T: float | np.ndarray = 39.0,
    *,
    dropout: bool = True,
    random_state: int | np.random.Generator | None = 0,
) -> pd.DataFrame:
    """Draw calibration summaries (frequency, recency, T) from the Pareto/NBD model.

    Purchase rates are Gamma(r, scale 1/alpha) and dropout rates Gamma(s, scale 1/beta); a
    customer buys as a Poisson process until an exponential lifetime ends. With
    ``dropout=False`` nobody drops out (a plain NBD: the boundary case of both models).

    Examples
    --------
    >>> simulate_pareto_nbd(3, r=0.5, alpha=2.0, s=0.8, beta=10.0, T=10.0, random_state=1).round(2)
       frequency  recency     T
    0          0     0.00  10.0
    1          0     0.00  10.0
    2          1     0.48  10.0
    """
    rng = np.random.default_rng(random_state)
    T_arr = _ages(n_customers, T)
    lam = rng.gamma(r, 1.0 / alpha, n_customers)
    mu = rng.gamma(s, 1.0 / beta, n_customers)
    lifetime = rng.exponential(1.0 / mu)
    active = T_arr if not dropout else np.minimum(lifetime, T_arr)
    x = rng.poisson(lam * active)
    # the last of x uniform arrival times in (0, active] is active times a Beta(x, 1) draw
    tx = np.where(x > 0, active * rng.beta(np.maximum(x, 1), 1.0), 0.0)
    return pd.DataFrame({"frequency": x.astype("int64"), "recency": tx, "T": T_arr})
