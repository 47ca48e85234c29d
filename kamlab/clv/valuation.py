"""Discounted customer lifetime value from a purchase model and a spend model."""

from __future__ import annotations

import numpy as np
import pandas as pd

from kamlab.clv.bgnbd import BGNBD
from kamlab.clv.gamma_gamma import GammaGamma
from kamlab.clv.pareto_nbd import ParetoNBD
from kamlab.clv.rfm import RFMSummary, freq_days

__all__ = ["SPEND_SOURCES", "customer_lifetime_value", "expected_spend_or_observed"]

#: Values of the ``source`` column of :func:`expected_spend_or_observed`.
SPEND_SOURCES = ("gamma-gamma", "observed mean", "median of repeat buyers")


def _table(summary: RFMSummary | pd.DataFrame) -> pd.DataFrame:
    return summary.table if isinstance(summary, RFMSummary) else summary


def expected_spend_or_observed(
    model: GammaGamma,
    summary: RFMSummary | pd.DataFrame,
    *,
    frequency_col: str = "frequency",
    monetary_col: str = "monetary_value",
) -> pd.DataFrame:
    """Expected spend per purchase for every account, and where each number comes from.

    The Gamma-Gamma conditional expectation E[M | x, zbar] wherever it exists (p x + q > 1;
    for every account when q > 1). Where it does not (q <= 1, spend so heavy-tailed that the
    population mean is infinite, common in B2B portfolios; then for accounts without repeat
    purchases): the account's observed mean spend if it has repeat purchases with positive
    spend, else the median observed mean spend of those that have.

    Returns
    -------
    DataFrame
        Indexed like the summary: ``expected_spend`` and ``source`` (one of
        ``"gamma-gamma"``, ``"observed mean"``, ``"median of repeat buyers"``).

    Examples
    --------
    >>> summary = pd.DataFrame({"frequency": [0, 2, 3], "monetary_value": [0.0, 22.35, 30.0]},
    ...                        index=["a", "b", "c"])
    >>> heavy = GammaGamma()
    >>> heavy.params_ = pd.Series({"p": 6.2488, "q": 0.9, "gamma": 15.4477})
    >>> expected_spend_or_observed(heavy, summary).round(2)
       expected_spend                   source
    a           26.18  median of repeat buyers
    b           30.32              gamma-gamma
    c           35.34              gamma-gamma
    """
    table = _table(summary)
    x = table[frequency_col].to_numpy(dtype=float)
    z = table[monetary_col].to_numpy(dtype=float)
    exists = model.has_expected_spend(x)
    spend = np.full(len(x), np.nan)
    source = np.full(len(x), SPEND_SOURCES[0], dtype=object)
    if exists.any():
        spend[exists] = model.expected_spend(x[exists], z[exists])
    observed = ~exists & (x > 0) & (z > 0)
    spend[observed] = z[observed]
    source[observed] = SPEND_SOURCES[1]
    rest = ~exists & ~observed
    if rest.any():
        repeat = (x > 0) & (z > 0)
        if not repeat.any():
            raise ValueError(
                "Gamma-Gamma has no expected spend for these accounts and no account has "
                "repeat purchases with positive spend to fall back on"
            )
        spend[rest] = float(np.median(z[repeat]))
        source[rest] = SPEND_SOURCES[2]
    return pd.DataFrame({"expected_spend": spend, "source": source}, index=table.index)


def customer_lifetime_value(
    transaction_model: BGNBD | ParetoNBD,
    spend_model: GammaGamma | pd.Series,
    summary: RFMSummary | pd.DataFrame,
    periods: int = 52,
    discount_rate: float = 0.01,
    freq: str | None = None,
    *,
    frequency_col: str = "frequency",
    recency_col: str = "recency",
    T_col: str = "T",
    monetary_col: str = "monetary_value",
) -> pd.Series:
    """Discounted expected value of each account over the next ``periods`` periods.

    CLV = sum_{k=1..periods} [E(k) - E(k-1)] * E[M] / (1 + discount_rate)^k, with E(k) the
    conditional expected repeat purchases by the end of period k.

    Parameters
    ----------
    transaction_model : fitted BGNBD or ParetoNBD
    spend_model : GammaGamma or pandas.Series
        A fitted Gamma-Gamma model, or expected spend per account (indexed like the summary),
        e.g. the ``expected_spend`` column of :func:`expected_spend_or_observed`.
    summary : RFMSummary or DataFrame
        The accounts to value. A DataFrame is taken to be in the unit of ``freq``.
    periods : int
        Number of discounting periods, each one ``freq`` long (52 weekly periods = a year).
    discount_rate : float
        Discount rate per period.
    freq : {"D", "W", "M"}, optional
        Length of one period; default the summary's own unit. A weekly summary can be valued
        in months (``freq="M"``): the periods are converted to the summary's unit.

    Returns
    -------
    Series
        CLV per account (index of the summary), named ``"clv"``.

    Examples
    --------
    >>> from kamlab.clv import BGNBD
    >>> bg = BGNBD()
    >>> bg.params_ = pd.Series({"r": 0.2426, "alpha": 4.4135, "a": 0.7929, "b": 2.4258})
    >>> accounts = pd.DataFrame({"frequency": [2, 0], "recency": [30.43, 0.0], "T": [38.86, 38.86]})
    >>> spend = pd.Series([40.0, 35.0])
    >>> customer_lifetime_value(bg, spend, accounts, periods=39, discount_rate=0.0, freq="W").round(2)
    0    49.04
    1     6.82
    Name: clv, dtype: float64
    """
    if periods < 1 or int(periods) != periods:
        raise ValueError(f"periods must be a positive whole number, got {periods}")
    if discount_rate <= -1:
        raise ValueError("discount_rate must be > -1")
    table = _table(summary)
    own = summary.freq if isinstance(summary, RFMSummary) else freq
    if own is None:
        raise ValueError("freq is required when the summary is a DataFrame (its time unit)")
    step = freq_days(freq or own) / freq_days(own)
    f, r, T = table[frequency_col], table[recency_col], table[T_col]
    times = (np.arange(periods + 1, dtype=float) * step)[:, None]
    cum = transaction_model.expected_purchases(times, f, r, T)  # (periods + 1, n)
    inc = np.diff(cum, axis=0)
    disc = (1.0 + discount_rate) ** -np.arange(1, periods + 1, dtype=float)
    if isinstance(spend_model, GammaGamma):
        spend = spend_model.expected_spend(f, table[monetary_col])
    else:  # per-account expected spend, e.g. from expected_spend_or_observed
        spend = pd.Series(spend_model).reindex(table.index).to_numpy(dtype=float)
        if np.isnan(spend).any():
            missing = table.index[np.isnan(spend)]
            raise ValueError(
                f"spend_model as a Series must cover every account of the summary; "
                f"{len(missing)} missing, first: {list(missing[:5])}"
            )
    # einsum, not a BLAS matrix product: the same sum order under any thread count
    return pd.Series(np.einsum("k,kn->n", disc, inc) * spend, index=table.index, name="clv")
