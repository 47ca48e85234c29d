"""Portfolio KPIs: revenue concentration and revenue / logo retention.

Concentration
-------------
All concentration measures take one non-negative value per account (e.g. revenue over the
last 12 months) and share one definition of the Lorenz curve: accounts sorted by value
ascending, points ``(k / n, cumulative value of the k smallest / total)`` for ``k = 0..n``.

* :func:`gini` is the *population* Gini coefficient,
  ``G = Σ_i Σ_j |x_i − x_j| / (2 n² μ)``, which equals one minus twice the area under the
  (piecewise-linear) Lorenz curve. Equal values give 0; one non-zero value among ``n`` gives
  ``(n − 1) / n`` (not 1: there is no small-sample ``n / (n − 1)`` correction).
* :func:`hhi` is the Herfindahl–Hirschman index on shares summing to 1, in ``[1/n, 1]``
  (``1 / hhi`` is the "equivalent number" of equally large accounts).
* :func:`pareto_share` is the share of the total held by the top ``top`` fraction of accounts,
  read off the Lorenz curve with linear interpolation between accounts (so with 10 accounts
  and ``top=0.25`` it is the two largest plus half the third).

Negative values (accounts whose credit notes exceed their purchases) have no place on a
Lorenz curve: by default they raise; ``negative="clip"`` counts them as 0. An empty input, a
missing value or a zero total raises a ``ValueError``.

Retention
---------
:func:`revenue_retention` compares two periods, each a half-open interval ``[start, end)``
of dates. The base is the accounts *active* in period 1 (positive net revenue in it):

* NRR = Σ period-2 revenue of the base ÷ Σ their period-1 revenue (expansion counts);
* GRR = Σ min(max(period-2 revenue, 0), period-1 revenue) ÷ Σ period-1 revenue (no expansion);
* logo retention = share of the base with positive net revenue in period 2.

Accounts first active in period 2 are new business and count in none of the three ratios
(they are reported as ``new_accounts`` and ``new_revenue``).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from kamlab.data import Dataset

__all__ = [
    "RETENTION_FIELDS",
    "cohort_retention",
    "concentration_summary",
    "describe_cohorts",
    "describe_concentration",
    "describe_retention",
    "gini",
    "hhi",
    "lorenz_curve",
    "pareto_share",
    "revenue_retention",
]

#: The fields of a retention result, in order.
RETENTION_FIELDS = (
    "accounts",
    "retained_accounts",
    "logo_retention",
    "revenue_p1",
    "revenue_p2",
    "revenue_p2_capped",
    "nrr",
    "grr",
    "new_accounts",
    "new_revenue",
)


# --------------------------------------------------------------------------- concentration
def _values(values, negative: str = "raise") -> np.ndarray:
    """Validated one-dimensional float array of non-negative values with a positive total."""
    if negative not in ("raise", "clip"):
        raise ValueError(f"negative must be 'raise' or 'clip', not {negative!r}")
    arr = np.asarray(values, dtype=float)
    if arr.ndim != 1:
        arr = arr.ravel()
    if arr.size == 0:
        raise ValueError("no values: concentration is undefined for an empty portfolio")
    if np.isnan(arr).any():
        raise ValueError(f"{int(np.isnan(arr).sum())} missing value(s); drop or fill them first")
    if not np.isfinite(arr).all():
        raise ValueError("values must be finite")
    if (arr < 0).any():
        if negative == "raise":
            raise ValueError(
                f"{int((arr < 0).sum())} negative value(s) (min {arr.min():g}); concentration "
                f"needs non-negative values: pass negative='clip' to count them as 0"
            )
        arr = np.clip(arr, 0.0, None)
    total = arr.sum()
    if not total > 0:
        raise ValueError(f"the total is {total:g}; concentration needs a positive total")
    return arr


def lorenz_curve(values, *, negative: str = "raise") -> pd.DataFrame:
    """Points of the Lorenz curve.

    Parameters
    ----------
    values : array-like
        One non-negative value per account.
    negative : {"raise", "clip"}
        What to do with negative values (see the module docstring).

    Returns
    -------
    pandas.DataFrame
        ``n + 1`` rows with ``population_share`` (k / n) and ``value_share`` (share of the
        total held by the k smallest accounts), from (0, 0) to (1, 1).

    Examples
    --------
    >>> lorenz_curve([3, 1])["value_share"].tolist()
    [0.0, 0.25, 1.0]
    """
    arr = np.sort(_values(values, negative))
    n = arr.size
    cum = np.concatenate([[0.0], np.cumsum(arr)])
    share = cum / cum[-1]
    share[-1] = 1.0
    return pd.DataFrame({"population_share": np.arange(n + 1) / n, "value_share": share})


def gini(values, *, negative: str = "raise") -> float:
    """Population Gini coefficient, ``Σ_i Σ_j |x_i − x_j| / (2 n² μ)``.

    0 for equal values; ``(n − 1) / n`` when one of ``n`` accounts holds everything.

    Examples
    --------
    >>> gini([5, 5, 5]), gini([0, 0, 0, 4])
    (0.0, 0.75)
    """
    arr = np.sort(_values(values, negative))
    n = arr.size
    ranks = np.arange(1, n + 1)
    return float(2.0 * np.sum(ranks * arr) / (n * arr.sum()) - (n + 1) / n)


def hhi(values, *, negative: str = "raise") -> float:
    """Herfindahl–Hirschman index ``Σ s_i²`` of the shares ``s_i = x_i / Σ x``, in [1/n, 1].

    Examples
    --------
    >>> hhi([1, 1, 1, 1]), hhi([3, 1])
    (0.25, 0.625)
    """
    arr = _values(values, negative)
    shares = arr / arr.sum()
    return float(np.sum(shares**2))


def pareto_share(values, top: float = 0.2, *, negative: str = "raise") -> float:
    """Share of the total held by the largest ``top`` fraction of accounts.

    Parameters
    ----------
    values : array-like
        One non-negative value per account.
    top : float
        Fraction of accounts in (0, 1], e.g. 0.2 for the 80/20 rule.

    Returns
    -------
    float
        Interpolated linearly on the Lorenz curve, so ``top * n`` need not be whole.

    Examples
    --------
    >>> pareto_share(range(1, 11), top=0.25)  # 10 + 9 + half of 8, of 55
    0.4181818181818182
    """
    if not 0 < top <= 1:
        raise ValueError(f"top must be in (0, 1], got {top!r}")
    arr = np.sort(_values(values, negative))[::-1]
    n = arr.size
    k = top * n
    whole = int(np.floor(k + 1e-12))
    frac = k - whole
    held = arr[:whole].sum() + (arr[whole] * frac if whole < n and frac > 1e-12 else 0.0)
    return float(held / arr.sum())


def concentration_summary(
    values, *, tops: Sequence[float] = (0.01, 0.1, 0.2), negative: str = "raise"
) -> pd.Series:
    """The concentration measures of one portfolio in one Series.

    Returns
    -------
    pandas.Series
        ``accounts``, ``total``, ``gini``, ``hhi``, ``equivalent_accounts`` (1 / HHI),
        ``top_<p>pct_share`` for each ``p`` in ``tops``, and ``accounts_for_80pct`` (the
        fewest accounts that together hold at least 80 % of the total) with its share of
        accounts ``accounts_for_80pct_share``.

    Examples
    --------
    >>> summary = concentration_summary([50, 30, 10, 5, 5])
    >>> float(summary["accounts_for_80pct"]), float(summary["top_20pct_share"])
    (2.0, 0.5)
    """
    arr = _values(values, negative)
    desc = np.sort(arr)[::-1]
    cum = np.cumsum(desc) / desc.sum()
    k80 = int(np.searchsorted(cum, 0.8 - 1e-12) + 1)
    out = {
        "accounts": float(arr.size),
        "total": float(arr.sum()),
        "gini": gini(arr),
        "hhi": hhi(arr),
        "equivalent_accounts": 1.0 / hhi(arr),
    }
    for top in tops:
        out[f"top_{top * 100:g}pct_share"] = pareto_share(arr, top)
    out["accounts_for_80pct"] = float(k80)
    out["accounts_for_80pct_share"] = k80 / arr.size
    return pd.Series(out, name="concentration")


# --------------------------------------------------------------------------- retention
def _period(period, name: str) -> tuple[pd.Timestamp, pd.Timestamp]:
    try:
        start, end = period
    except (TypeError, ValueError):
        raise ValueError(f"{name} must be a (start, end) pair, got {period!r}") from None
    start, end = pd.Timestamp(start), pd.Timestamp(end)
    if not start < end:
        raise ValueError(f"{name}: start {start.date()} must be before end {end.date()}")
    return start, end


def _period_revenue(transactions, period, *, account_col, date_col, amount_col) -> pd.Series:
    start, end = period
    dates = transactions[date_col]
    inside = (dates >= start) & (dates < end)
    return transactions.loc[inside].groupby(account_col)[amount_col].sum()


def _retention(r1: pd.Series, r2: pd.Series) -> dict:
    """Retention fields from per-account revenue in period 1 and period 2."""
    base = r1[r1 > 0]
    later = r2.reindex(base.index, fill_value=0.0)
    capped = np.minimum(np.maximum(later.to_numpy(), 0.0), base.to_numpy())
    new = r2[(r2 > 0) & ~r2.index.isin(base.index)]
    rev1 = float(base.sum())
    retained = int((later > 0).sum())
    return {
        "accounts": int(base.size),
        "retained_accounts": retained,
        "logo_retention": retained / base.size if base.size else np.nan,
        "revenue_p1": rev1,
        "revenue_p2": float(later.sum()),
        "revenue_p2_capped": float(capped.sum()),
        "nrr": float(later.sum()) / rev1 if rev1 > 0 else np.nan,
        "grr": float(capped.sum()) / rev1 if rev1 > 0 else np.nan,
        "new_accounts": int(new.size),
        "new_revenue": float(new.sum()),
    }


def revenue_retention(
    transactions: pd.DataFrame,
    period1,
    period2,
    *,
    account_col: str = "account_id",
    date_col: str = "date",
    amount_col: str = "amount",
) -> pd.Series:
    """Net and gross revenue retention and logo retention between two periods.

    Parameters
    ----------
    transactions : pandas.DataFrame
        One row per transaction (contract columns ``account_id``, ``date``, ``amount``).
    period1, period2 : (date-like, date-like)
        Half-open intervals ``[start, end)``.
    account_col, date_col, amount_col : str
        Column names.

    Returns
    -------
    pandas.Series
        The fields of :data:`RETENTION_FIELDS` (counts as ``int``, the rest as ``float``):
        base ``accounts`` (active in period 1), ``retained_accounts``, ``logo_retention``,
        ``revenue_p1``, ``revenue_p2`` (of the base), ``revenue_p2_capped`` (each account
        capped at its period-1 revenue and at 0 from below), ``nrr``, ``grr``,
        ``new_accounts`` and ``new_revenue`` (accounts active in period 2 only).

    Raises
    ------
    ValueError
        When no account has positive revenue in period 1 (retention is undefined), a period
        is malformed, or a column is missing.

    Examples
    --------
    >>> tx = pd.DataFrame({"account_id": ["a", "a", "b", "c"],
    ...                    "date": pd.to_datetime(["2023-03-01", "2024-03-01", "2023-05-01",
    ...                                            "2024-05-01"]),
    ...                    "amount": [100.0, 150.0, 50.0, 70.0]})
    >>> r = revenue_retention(tx, ("2023-01-01", "2024-01-01"), ("2024-01-01", "2025-01-01"))
    >>> float(r["nrr"]), float(r["grr"]), int(r["new_accounts"])
    (1.0, 0.6666666666666666, 1)
    """
    for col in (account_col, date_col, amount_col):
        if col not in transactions:
            raise ValueError(f"transactions have no column {col!r}")
    p1, p2 = _period(period1, "period1"), _period(period2, "period2")
    kw = dict(account_col=account_col, date_col=date_col, amount_col=amount_col)
    r1 = _period_revenue(transactions, p1, **kw)
    r2 = _period_revenue(transactions, p2, **kw)
    result = _retention(r1, r2)
    if result["accounts"] == 0:
        raise ValueError(
            f"no account has positive revenue in period1 "
            f"[{p1[0].date()}, {p1[1].date()}); retention is undefined"
        )
    return pd.Series(result, name="retention", dtype=object)


def _acquisition_year(dataset: Dataset) -> pd.Series:
    """Acquisition year per account: ``acquired_on``, else the first transaction's year."""
    acc = dataset.accounts.set_index("account_id")
    first = dataset.transactions.groupby("account_id")["date"].min()
    acquired = acc["acquired_on"] if "acquired_on" in acc else pd.Series(pd.NaT, index=acc.index)
    acquired = acquired.fillna(first.reindex(acc.index))
    return acquired.dt.year.astype("Int64").rename("cohort")


def cohort_retention(dataset: Dataset, periods: Sequence | None = None) -> pd.DataFrame:
    """Retention by acquisition-year cohort, for successive period pairs.

    Parameters
    ----------
    dataset : Dataset
        The loaded portfolio (acquisition year from ``accounts.acquired_on``, else the year of
        the account's first transaction).
    periods : sequence of (start, end), optional
        Consecutive periods; each neighbouring pair is compared. Default: the calendar years
        fully covered by the transactions, or the two halves of the data when fewer than two
        calendar years are covered.

    Returns
    -------
    pandas.DataFrame
        Indexed by ``(period, cohort)`` where ``period`` names the pair (e.g.
        ``"2022→2023"``), with the :data:`RETENTION_FIELDS` columns; one extra row per period
        with cohort ``"all"`` for the whole portfolio. Cohorts with no account active in the
        first period of a pair are left out.

    Examples
    --------
    >>> from kamlab.data import Dataset
    >>> from kamlab.synth import generate
    >>> p = generate(40, 3, seed=1)
    >>> data = Dataset(p.accounts, p.transactions, p.assessments, p.interactions)
    >>> cohort_retention(data).xs("all", level="cohort").index.tolist()
    ['2022→2023', '2023→2024']
    """
    tx = dataset.transactions
    if periods is None:
        first, last = tx["date"].min(), tx["date"].max()
        years = [
            y
            for y in range(first.year, last.year + 1)
            if pd.Timestamp(y, 1, 1) >= first.normalize()
            and pd.Timestamp(y, 12, 31) <= last.normalize()
        ]
        periods = [(f"{y}-01-01", f"{y + 1}-01-01") for y in years]
        labels = [str(y) for y in years]
        if len(periods) < 2:
            # Less than two full calendar years (e.g. one year of invoices): compare halves.
            start, stop = first.normalize(), last.normalize() + pd.Timedelta(days=1)
            middle = start + (stop - start) / 2
            middle = middle.normalize()
            periods = [(start, middle), (middle, stop)]
            labels = [f"{start.date()}", f"{middle.date()}"]
    else:
        labels = [f"{pd.Timestamp(s).date()}" for s, _ in periods]
    periods = [_period(p, f"periods[{i}]") for i, p in enumerate(periods)]
    if len(periods) < 2:
        raise ValueError("cohort_retention needs at least two periods (one pair) to compare")
    cohort = _acquisition_year(dataset)
    rows = []
    kw = dict(account_col="account_id", date_col="date", amount_col="amount")
    for (p1, p2), (l1, l2) in zip(zip(periods, periods[1:]), zip(labels, labels[1:])):
        r1 = _period_revenue(tx, p1, **kw)
        r2 = _period_revenue(tx, p2, **kw)
        name = f"{l1}→{l2}"
        c1 = cohort.reindex(r1.index)
        c2 = cohort.reindex(r2.index)
        for year in sorted(c1.dropna().unique()):
            res = _retention(r1[c1 == year], r2[c2 == year])
            if res["accounts"]:
                rows.append({"period": name, "cohort": str(year), **res})
        rows.append({"period": name, "cohort": "all", **_retention(r1, r2)})
    out = pd.DataFrame(rows).set_index(["period", "cohort"])
    return out[list(RETENTION_FIELDS)]


# --------------------------------------------------------------------------- prose
def describe_concentration(summary: pd.Series) -> str:
    """The concentration answer in words (Markdown), from :func:`concentration_summary`.

    Examples
    --------
    >>> print(describe_concentration(concentration_summary([50, 30, 10, 5, 5])))
    The top 20 % of accounts bring 50.0% of revenue and the top 1 % 2.5%; 2 accounts (40.0% of 5) make 80 % of it. Gini 0.46 (0 = all equal), HHI 0.35: as concentrated as 3 equal accounts.
    """
    from kamlab import fmt

    return (
        f"The top 20 % of accounts bring {fmt.share(summary['top_20pct_share'])} of revenue and "
        f"the top 1 % {fmt.share(summary['top_1pct_share'])}; "
        f"{fmt.count(summary['accounts_for_80pct'])} accounts "
        f"({fmt.share(summary['accounts_for_80pct_share'])} of {fmt.count(summary['accounts'])})"
        f" make 80 % of it. Gini {fmt.estimate(summary['gini'], 3)} (0 = all equal), HHI "
        f"{fmt.estimate(summary['hhi'], 2)}: as concentrated as "
        f"{fmt.count(summary['equivalent_accounts'])} equal accounts."
    )


def describe_retention(retention: pd.Series, periods) -> str:
    """The retention answer in words (Markdown), from :func:`revenue_retention`.

    ``periods`` are the two ``(start, end)`` windows that were compared.

    Examples
    --------
    >>> tx = pd.DataFrame({"account_id": ["a", "a", "b", "c"],
    ...                    "date": pd.to_datetime(["2023-03-01", "2024-03-01", "2023-05-01",
    ...                                            "2024-05-01"]),
    ...                    "amount": [100.0, 150.0, 50.0, 70.0]})
    >>> periods = (("2023-01-01", "2024-01-01"), ("2024-01-01", "2025-01-01"))
    >>> print(describe_retention(revenue_retention(tx, *periods), periods))
    Of the 2 accounts that bought between 2023-01-01 and 2023-12-31, 1 (50.0%) bought again between 2024-01-01 and 2024-12-31. They brought 100.0% of their earlier revenue (NRR); without expansion 66.7% (GRR), so 33.3% of the base was lost to accounts that shrank or left. 1 new account added 70 on top.
    """
    from kamlab import fmt

    (a0, a1), (b0, b1) = (tuple(pd.Timestamp(d) for d in p) for p in periods)
    day = pd.Timedelta(days=1)
    new = int(retention["new_accounts"])
    return (
        f"Of the {fmt.count(retention['accounts'])} accounts that bought between {a0.date()} "
        f"and {(a1 - day).date()}, {fmt.count(retention['retained_accounts'])} "
        f"({fmt.share(retention['logo_retention'])}) bought again between {b0.date()} and "
        f"{(b1 - day).date()}. They brought {fmt.share(retention['nrr'])} of their earlier "
        f"revenue (NRR); without expansion {fmt.share(retention['grr'])} (GRR), so "
        f"{fmt.share(1 - float(retention['grr']))} of the base was lost to accounts that shrank "
        f"or left. {fmt.count(new)} new account{'s' if new != 1 else ''} added "
        f"{fmt.money(retention['new_revenue'])} on top."
    )


def describe_cohorts(cohorts: pd.DataFrame) -> str:
    """How acquisition cohorts differ in the latest period pair (Markdown), from
    :func:`cohort_retention`."""
    from kamlab import fmt

    periods = list(dict.fromkeys(cohorts.index.get_level_values("period")))
    last = cohorts.xs(periods[-1], level="period")
    by_cohort = last.drop(index="all", errors="ignore")
    if by_cohort.empty:
        return f"In {periods[-1]} there is only the whole portfolio, no cohort to compare."
    low, high = by_cohort["nrr"].astype(float).idxmin(), by_cohort["nrr"].astype(float).idxmax()
    return (
        f"In {periods[-1]}, cohort NRR ranges from {fmt.share(by_cohort.loc[low, 'nrr'])} "
        f"(cohort {low}) to {fmt.share(by_cohort.loc[high, 'nrr'])} (cohort {high}); logo "
        f"retention from {fmt.share(by_cohort['logo_retention'].min())} to "
        f"{fmt.share(by_cohort['logo_retention'].max())}. The youngest cohort's base holds only "
        "part of its first year, which inflates its NRR the year after."
    )
