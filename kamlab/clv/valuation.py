"""Discounted customer lifetime value from a purchase model and a spend model, and the run's
valuation of every account as of the review date (:func:`value_accounts`)."""

from __future__ import annotations

import copy
import warnings
from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy.stats import norm

from kamlab import fmt
from kamlab.clv.bgnbd import BGNBD
from kamlab.clv.gamma_gamma import GammaGamma
from kamlab.clv.pareto_nbd import ParetoNBD
from kamlab.clv.rfm import RFMSummary, freq_days, rfm_summary

__all__ = [
    "SPEND_SOURCES",
    "Valuation",
    "customer_lifetime_value",
    "describe_inactive",
    "expected_spend_or_observed",
    "value_accounts",
]

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


# ----------------------------------------------------------------------------- the valuation
@dataclass(frozen=True)
class Valuation:
    """Every account valued as of a date (:func:`value_accounts`).

    Attributes
    ----------
    table : pandas.DataFrame
        Indexed by ``account_id``: ``frequency``, ``recency``, ``T``, ``monetary_value``
        (the RFM summary), ``p_alive`` (BG/NBD probability that the account still buys),
        ``expected_purchases`` (over the horizon), ``expected_spend`` and ``spend_source``
        (see :func:`expected_spend_or_observed`), ``clv`` and its interval ``clv_low``,
        ``clv_high`` (parameter uncertainty, delta method on the log scale).
    transaction_model : BGNBD
    spend_model : GammaGamma or None
        None when Gamma-Gamma could not be fitted (observed spend is used instead).
    rfm : RFMSummary
    periods : int
        Horizon in periods of ``freq``.
    discount_rate : float
        Per year.
    interval : float
        Coverage of ``clv_low``/``clv_high``.
    fixed : tuple of str
        Parameters at the boundary, held at their estimate in the interval.
    notes : tuple of str
        What the valuation had to decide (fallbacks), in words.
    churned_value : float
        What the models would have given the accounts with a recorded churn (valued at 0).
    """

    table: pd.DataFrame
    transaction_model: BGNBD
    spend_model: GammaGamma | None
    rfm: RFMSummary
    periods: int
    discount_rate: float
    interval: float
    fixed: tuple[str, ...]
    notes: tuple[str, ...]
    churned_value: float = 0.0

    def ranking(self, scored=None) -> pd.DataFrame:
        """Accounts from the most valuable (``clv_rank`` 1 = highest; ties by account), with
        the tier and type of ``scored`` (:class:`kamlab.criteria.Scores`) when given."""
        from kamlab.tiers import rank_accounts

        table = self.table
        if scored is not None:
            table = table.join(scored.table[["tier", "type"]])
        table = table.assign(clv_rank=rank_accounts(table["clv"])).sort_values(
            ["clv_rank"], kind="stable"
        )
        first = ["clv_rank", *(c for c in ("tier", "type") if c in table)]
        return table[first + [c for c in table.columns if c not in first]]

    def describe(self) -> str:
        """The valuation in words (Markdown)."""
        t = self.table
        value = t["clv"]
        top = value.nlargest(max(1, len(value) // 10)).sum() / value.sum() if value.sum() else 0
        unit = {"W": "weeks", "D": "days", "M": "months"}.get(self.rfm.freq, self.rfm.freq)
        sources = t["spend_source"].value_counts()
        parts = [
            f"Over the next {self.periods} {unit}, discounted at "
            f"{fmt.share(self.discount_rate, 0)} a year, the {fmt.count(len(t))} accounts are "
            f"expected to bring {fmt.money(value.sum())}; the median account "
            f"{fmt.money(value.median())}, the top 10 % of accounts {fmt.share(top)} of it.",
            "Expected spend per purchase: "
            + ", ".join(f"{source} for {fmt.count(n)}" for source, n in sources.items())
            + ".",
            f"Each account's {fmt.share(self.interval, 0)} interval reflects the uncertainty of "
            "the fitted parameters, not the randomness of the account's own purchases.",
        ]
        if self.fixed:
            parts.append(
                f"Parameters at the boundary ({', '.join(self.fixed)}) are held at "
                "their estimate there, so the intervals are too narrow."
            )
        return " ".join(parts + list(self.notes))


def _with_params(model, params: np.ndarray):
    clone = copy.copy(model)
    clone.params_ = pd.Series(params, index=model.params_.index, name="estimate")
    return clone


def _log_covariance(model) -> tuple[np.ndarray, np.ndarray]:
    """Covariance of the log-parameters (zero rows for parameters at the boundary)."""
    p = model.params_.to_numpy(dtype=float)
    cov = model.covariance_.to_numpy(dtype=float) / np.outer(p, p)
    fixed = ~model.identified_.to_numpy(dtype=bool)
    cov = np.where(fixed[:, None] | fixed[None, :], 0.0, cov)
    return np.nan_to_num(cov), fixed


def value_accounts(
    data,
    as_of,
    *,
    periods: int = 52,
    freq: str = "W",
    discount_rate: float = 0.10,
    interval: float = 0.80,
) -> Valuation:
    """Value every account as of ``as_of``: BG/NBD and Gamma-Gamma calibrated on all
    transactions before it, CLV over ``periods`` periods discounted at ``discount_rate`` a
    year, with an interval for each account.

    The interval is the delta method on the log scale: the gradient of each account's log CLV
    with respect to the log-parameters of both models (central differences) against their
    covariance. It is never below zero; parameters at the boundary are held fixed (said in
    ``fixed``).

    An account with a churn recorded before ``as_of`` (``accounts.churned_on``) is valued at
    0 (``recorded_churn``): the purchase models read purchases, not churn dates, and would
    otherwise value an account that has left (what they would have given is
    ``Valuation.churned_value``).

    Parameters
    ----------
    data : kamlab.data.Dataset or pandas.DataFrame
        A dataset (its transactions and, for recorded churn, its accounts), or contract
        transactions alone (``account_id``, ``date``, ``amount``).
    as_of : date-like
        The review date: calibration ends the day before.
    periods, freq : int, str
        Horizon (52 weekly periods = a year).
    discount_rate : float
        Per year; converted to the period's rate.
    interval : float
        Coverage of the interval (0.80 → 10th to 90th percentile).
    """
    if not 0 < interval < 1:
        raise ValueError(f"interval must be between 0 and 1, got {interval}")
    transactions = data.transactions if hasattr(data, "transactions") else data
    accounts = getattr(data, "accounts", None)
    end = pd.Timestamp(as_of).normalize() - pd.Timedelta(days=1)
    rfm = rfm_summary(transactions, end, freq=freq)
    table = rfm.table
    period_rate = (1 + discount_rate) ** (freq_days(freq) / 365.25) - 1
    bgnbd = BGNBD().fit(table["frequency"], table["recency"], table["T"])
    repeat = (table["frequency"] > 0) & (table["monetary_value"] > 0)
    notes: list[str] = []
    gamma_gamma: GammaGamma | None = None
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            gamma_gamma = GammaGamma().fit(
                table.loc[repeat, "frequency"], table.loc[repeat, "monetary_value"]
            )
    except (ValueError, RuntimeError) as exc:
        notes.append(f"Gamma-Gamma could not be fitted ({exc}); observed mean spend is used.")

    def spend_of(model) -> pd.DataFrame:
        if model is None:
            observed = table["monetary_value"].where(repeat)
            median = float(observed.median()) if repeat.any() else 0.0
            return pd.DataFrame(
                {
                    "expected_spend": observed.fillna(median),
                    "source": np.where(repeat, SPEND_SOURCES[1], SPEND_SOURCES[2]),
                },
                index=table.index,
            )
        return expected_spend_or_observed(model, table)

    def clv_of(bg, gg) -> np.ndarray:
        spend = spend_of(gg)["expected_spend"]
        return customer_lifetime_value(bg, spend, rfm, periods, period_rate).to_numpy()

    spend = spend_of(gamma_gamma)
    clv = clv_of(bgnbd, gamma_gamma)
    models = [bgnbd] + ([gamma_gamma] if gamma_gamma is not None else [])
    blocks = [_log_covariance(m) for m in models]
    sizes = [len(m.params_) for m in models]
    cov = np.zeros((sum(sizes), sum(sizes)))
    offset = 0
    for (c, _), size in zip(blocks, sizes):
        cov[offset : offset + size, offset : offset + size] = c
        offset += size
    fixed = tuple(
        name
        for m, (_, f) in zip(models, blocks)
        for name, is_fixed in zip(m.params_.index, f)
        if is_fixed
    )
    log_clv = np.log(np.maximum(clv, 1e-300))
    gradient = np.zeros((len(clv), sum(sizes)))
    step = 1e-4
    column = 0
    for which, model in enumerate(models):
        base = model.params_.to_numpy(dtype=float)
        for j in range(len(base)):
            moved = []
            for sign in (1, -1):
                params = base.copy()
                params[j] *= np.exp(sign * step)
                variant = _with_params(model, params)
                bg = variant if which == 0 else bgnbd
                gg = variant if which == 1 else gamma_gamma
                moved.append(np.log(np.maximum(clv_of(bg, gg), 1e-300)))
            gradient[:, column] = (moved[0] - moved[1]) / (2 * step)
            column += 1
    se_log = np.sqrt(np.maximum(np.einsum("ni,ij,nj->n", gradient, cov, gradient), 0.0))
    z = float(norm.ppf(0.5 + interval / 2))
    positive = clv > 0
    low = np.where(positive, np.exp(log_clv - z * se_log), clv)
    high = np.where(positive, np.exp(log_clv + z * se_log), clv)
    out = table[["frequency", "recency", "T", "monetary_value"]].copy()
    out["p_alive"] = bgnbd.probability_alive(table["frequency"], table["recency"], table["T"])
    out["expected_purchases"] = bgnbd.expected_purchases(
        periods * freq_days(freq) / freq_days(rfm.freq),
        table["frequency"],
        table["recency"],
        table["T"],
    )
    out["expected_spend"] = spend["expected_spend"]
    out["spend_source"] = spend["source"]
    out["clv"] = clv
    out["clv_low"] = low
    out["clv_high"] = high
    out["recorded_churn"] = False
    churned_value = 0.0
    if accounts is not None and "churned_on" in accounts:
        left = accounts.loc[accounts["churned_on"] < pd.Timestamp(as_of), "account_id"]
        gone = out.index.isin(pd.Index(left.astype(str)))
        churned_value = float(out.loc[gone, "clv"].sum())
        out.loc[gone, ["p_alive", "expected_purchases", "clv", "clv_low", "clv_high"]] = 0.0
        out.loc[gone, "recorded_churn"] = True
    out.index.name = "account_id"
    return Valuation(
        out,
        bgnbd,
        gamma_gamma,
        rfm,
        int(periods),
        float(discount_rate),
        float(interval),
        fixed,
        tuple(notes),
        churned_value,
    )


def describe_inactive(valuation: Valuation) -> str:
    """What the valuation did with accounts that have left (Markdown).

    Examples
    --------
    >>> table = pd.DataFrame({"clv": [90.0, 0.0, 0.0], "recorded_churn": [False, True, True]},
    ...                      index=pd.Index(["A", "B", "C"], name="account_id"))
    >>> v = Valuation(table, None, None, None, 52, 0.1, 0.8, (), (), churned_value=12.0)
    >>> print(describe_inactive(v))
    2 accounts with a churn recorded before the valuation date are valued at 0; the purchase model, which reads purchases and not churn dates, would have given them 12.
    >>> describe_inactive(Valuation(table.iloc[:1], None, None, None, 52, 0.1, 0.8, (), ()))
    'No valued account has a recorded churn before the valuation date.'
    """
    gone = int(valuation.table["recorded_churn"].sum())
    if not gone:
        return "No valued account has a recorded churn before the valuation date."
    return (
        f"{fmt.count(gone)} account{'s' if gone != 1 else ''} with a churn recorded before the "
        f"valuation date {'are' if gone != 1 else 'is'} valued at 0; the purchase model, which "
        f"reads purchases and not churn dates, would have given "
        f"{'them' if gone != 1 else 'it'} {fmt.money(valuation.churned_value)}."
    )
