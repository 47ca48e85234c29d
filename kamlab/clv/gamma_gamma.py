"""Gamma-Gamma model of mean spend per transaction (Fader & Hardie 2013, note 025).

A customer's spend per transaction is Gamma(p, ν) and ν ~ Gamma(q, γ) across customers; the
observed mean zbar of x repeat transactions then has the likelihood below, and the conditional
expectation E[M | x, zbar] = (γ + x zbar) p / (p x + q - 1) exists when p x + q > 1.
"""

from __future__ import annotations

import warnings

import numpy as np
from scipy.special import gammaln, psi

from kamlab.clv._mle import (
    CLVWarning,
    MLEModel,
    as_float,
    compress,
    ids_of,
    wgrad,
    wsum,
)

__all__ = ["GammaGamma"]


def _loglik(params, x, z, grad: bool = False, data_terms=None):
    """Per-customer log-likelihood (and its gradient); ``data_terms`` = (log x, log z, x z)
    precomputed once per fit, as they do not depend on the parameters."""
    p, q, g = params
    log_x, log_z, xz = (np.log(x), np.log(z), x * z) if data_terms is None else data_terms
    px = p * x
    lgz = np.log(g + xz)
    ll = (
        gammaln(px + q)
        - gammaln(px)
        - gammaln(q)
        + q * np.log(g)
        + (px - 1.0) * log_z
        + px * log_x
        - (px + q) * lgz
    )
    if not grad:
        return ll
    psi_pxq = psi(px + q)
    d_p = x * (psi_pxq - psi(px) + log_z + log_x - lgz)
    d_q = psi_pxq - psi(q) + np.log(g) - lgz
    d_g = q / g - (px + q) / (g + xz)
    return ll, np.stack([d_p, d_q, np.broadcast_to(d_g, np.shape(d_p))])


def _check(frequency, monetary_value) -> tuple[np.ndarray, np.ndarray]:
    x = as_float("frequency", frequency)
    z = as_float("monetary_value", monetary_value)
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
                f"{int(mask.sum())} row(s) where {what}; first ids: {ids_of(frequency, mask)}"
            )
    return x, z


class GammaGamma(MLEModel):
    """Gamma-Gamma model of mean spend per transaction (Fader & Hardie 2013).

    Parameters
    ----------
    max_iter : int
        Maximum L-BFGS-B iterations per starting point.

    Attributes
    ----------
    params_ : Series
        p (shape of spend per transaction), q and gamma (shape and scale of its rate).
    std_error_, covariance_, identified_, log_likelihood_, converged_, n_iter_, n_obs_
        See :class:`kamlab.clv.MLEModel`; :meth:`summary` tabulates them.

    Notes
    -----
    Cost of a fit: customers with identical (x, zbar) are one weighted row; one likelihood and
    gradient evaluation takes 4 log-gamma/digamma calls and about 30 operations per distinct
    row; a fit takes 20–50 evaluations plus 6 per Newton step and 6 for the standard errors:
    about 8 µs per distinct row on one core (CDNOW, 946 repeat buyers: ~8 ms).

    Examples
    --------
    >>> rng = np.random.default_rng(7)
    >>> x = rng.integers(1, 10, 3_000)
    >>> nu = rng.gamma(4.0, 1 / 20.0, 3_000)
    >>> zbar = rng.gamma(5.0 * x, 1 / nu) / x
    >>> model = GammaGamma().fit(x, zbar)
    >>> model.summary()["reported"].tolist()
    ['4.868', '3.981', '20.81']
    >>> model.expected_spend([0, 2, 2], [0.0, 10.0, 40.0]).round(2)
    array([33.99, 15.62, 38.59])
    """

    _names = ("p", "q", "gamma")
    _label = "Gamma-Gamma"

    def fit(self, frequency, monetary_value) -> GammaGamma:
        """Fit on customers with at least one repeat purchase and positive mean spend.

        Raises
        ------
        ValueError
            If any row has frequency 0 or monetary_value <= 0 (filter them first: the model
            is for positive spend of repeat purchases).
        """
        x, z = _check(frequency, monetary_value)
        zero = x == 0
        if zero.any():
            raise ValueError(
                f"Gamma-Gamma is fitted on repeat customers only: {int(zero.sum())} row(s) have frequency 0; "
                f"first ids: {ids_of(frequency, zero)} (pass rows with frequency > 0)"
            )
        nonpos = z <= 0
        if nonpos.any():
            raise ValueError(
                f"Gamma-Gamma needs positive spend: {int(nonpos.sum())} row(s) have monetary_value <= 0 "
                f"(credit notes or zero-value orders); first ids: {ids_of(monetary_value, nonpos)}"
            )
        (x, z), w = compress(x, z)
        n = w.sum()
        data_terms = (np.log(x), np.log(z), x * z)

        def objective(theta):
            par = np.exp(theta)
            with np.errstate(all="ignore"):
                ll, g = _loglik(par, x, z, grad=True, data_terms=data_terms)
            return -wsum(w, ll), -wgrad(w, g) * par

        zm = wsum(w, z) / n
        starts = [np.log([1.0, 2.0, zm]), np.log([5.0, 5.0, zm]), np.log([1.0, 1.0, 1.0])]
        self._fit_mle(objective, starts, n, len(x))
        q = self.params_["q"]
        if q <= 1.0:
            warnings.warn(
                f"Gamma-Gamma q = {q:.3f} <= 1: spend is so heavy-tailed that the population mean "
                "p*gamma/(q-1) is undefined; expected_spend exists only for repeat customers "
                "(use expected_spend_or_observed)",
                CLVWarning,
                stacklevel=2,
            )
        return self

    def expected_spend(self, frequency, monetary_value) -> np.ndarray:
        """Conditional expected mean spend per transaction, E[M | x, zbar].

        (gamma + x zbar) p / (p x + q - 1); customers with frequency 0 get the population mean
        p gamma / (q - 1). A zero mean (free repeat orders) is valid: the estimate shrinks
        towards the population mean; only the fit needs positive spend.

        Raises
        ------
        ValueError
            Where the expectation does not exist (p x + q <= 1: with q <= 1, every customer
            without repeat purchases), naming the rows; :func:`expected_spend_or_observed`
            falls back to observed spend there and says so. Also for a negative
            monetary_value of a repeat customer.
        """
        p, q, g = self._check_fitted()
        x, z = _check(frequency, monetary_value)
        bad = (x > 0) & (z < 0)
        if bad.any():
            raise ValueError(
                f"{int(bad.sum())} repeat customer(s) have monetary_value < 0; first ids: "
                f"{ids_of(monetary_value, bad)}"
            )
        undefined = ~self.has_expected_spend(x)
        if undefined.any():
            raise ValueError(
                f"Gamma-Gamma q = {q:.4g}, p = {p:.4g}: E[M | x, zbar] does not exist for "
                f"{int(undefined.sum())} customer(s) with p x + q <= 1 (first ids: "
                f"{ids_of(frequency, undefined)}); use expected_spend_or_observed"
            )
        z = np.where(x > 0, z, 0.0)
        return (g + x * z) * p / (p * x + q - 1.0)

    def has_expected_spend(self, frequency) -> np.ndarray:
        """Where E[M | x, zbar] exists: p x + q > 1 (always when q > 1)."""
        p, q, _ = self._check_fitted()
        x = as_float("frequency", frequency)
        return p * x + q > 1.0
