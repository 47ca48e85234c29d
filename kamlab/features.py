"""Account features as of a cutoff date, and outcomes over a horizon after it.

The one rule that keeps every kamlab result honest: **features use only rows dated strictly
before the cutoff; outcomes use only rows dated on or after it** (and before cutoff + horizon).
Both come from :func:`account_features`, so leakage is impossible by construction, and a
back-test over several cutoffs is :func:`feature_panel`.

Time units are explicit: windows and horizons are in days (``365`` = one year); recency and
tenure are in days.
"""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np
import pandas as pd

from kamlab.data import Dataset

__all__ = [
    "ACCOUNT_ATTRIBUTES",
    "OUTCOME_COLUMNS",
    "account_features",
    "feature_columns",
    "feature_panel",
]

#: Outcome columns (everything else except the attributes is a feature).
OUTCOME_COLUMNS = (
    "base_revenue",
    "future_revenue",
    "log_growth",
    "growth_dh",
    "grew",
    "churned",
)
#: Static account attributes passed through (categorical controls, not scored features).
ACCOUNT_ATTRIBUTES = ("industry", "region", "size_band", "account_manager")
_DAY = np.timedelta64(1, "D")


def _days(value) -> int:
    """A window length in whole days from an int (days), a Timedelta or a string like '365D'."""
    if isinstance(value, (int, np.integer)):
        days = int(value)
    else:
        delta = pd.Timedelta(value)
        if delta % pd.Timedelta(days=1):
            raise ValueError(f"windows must be whole days, got {value!r}")
        days = delta.days
    if days <= 0:
        raise ValueError(f"windows must be positive, got {value!r}")
    return days


def _codes(ids: pd.Series, categories: pd.Index) -> np.ndarray:
    """Position of each id in ``categories`` (-1 when absent). Factorising first is several
    times faster than building a Categorical on millions of rows."""
    codes, uniques = pd.factorize(ids)
    positions = categories.get_indexer(uniques).astype(np.int64)
    return np.where(codes >= 0, positions[codes], -1)


def _sum(codes, mask, weights, n) -> np.ndarray:
    mask = mask & (codes >= 0)
    out = np.bincount(codes[mask], weights=None if weights is None else weights[mask], minlength=n)[
        :n
    ]
    return out.astype(float)  # bincount of an empty selection is int64


def _distinct(codes, mask, values, n) -> np.ndarray:
    """Number of distinct ``values`` (non-negative ints) per account among rows in ``mask``."""
    mask = mask & (codes >= 0)
    if not mask.any():
        return np.zeros(n)
    width = int(values[mask].max()) + 1
    # Sorting and comparing neighbours is much faster than np.unique on millions of keys.
    key = np.sort(codes[mask].astype(np.int64) * width + values[mask])
    uniq = key[np.r_[True, key[1:] != key[:-1]]]
    return np.bincount(uniq // width, minlength=n)[:n].astype(float)


def _last(codes, mask, dates_ns, n) -> np.ndarray:
    """Latest date (as int ns) per account among rows in ``mask``; -inf-like when none."""
    out = np.full(n, np.iinfo(np.int64).min)
    mask = mask & (codes >= 0)
    np.maximum.at(out, codes[mask], dates_ns[mask])
    return out


def account_features(
    dataset: Dataset,
    cutoff,
    horizon=365,
    *,
    window=365,
    growth_threshold: float = 0.10,
) -> pd.DataFrame:
    """One row per account with features before ``cutoff`` and outcomes after it.

    Parameters
    ----------
    dataset : Dataset
        A loaded, validated dataset (:func:`kamlab.data.load_dataset`).
    cutoff : date-like
        Features use rows dated strictly before it; outcomes rows on or after it.
    horizon : int or timedelta-like
        Outcome window in days after the cutoff (default 365).
    window : int or timedelta-like
        Look-back window in days for the recent-activity features (default 365).
    growth_threshold : float
        ``grew`` is true when future revenue exceeds base revenue by more than this share.

    Returns
    -------
    pandas.DataFrame
        Indexed by ``account_id``: the accounts acquired (or first buying) before the cutoff
        and not recorded as churned before it. Features:

        ``revenue_12m`` (net revenue in the look-back window), ``revenue_prev_12m`` (the window
        before), ``revenue_total``, ``revenue_share`` (of the portfolio's ``revenue_12m``),
        ``revenue_growth_12m`` (log ratio of the two windows; NaN unless both are positive),
        ``orders_12m`` (distinct purchase days), ``order_frequency`` (purchase days per month),
        ``recency_days`` (since the last purchase), ``tenure_days``, ``products_12m`` and
        ``categories_12m`` (breadth, when those columns exist), ``gross_margin_12m`` (when
        ``cost`` exists), ``credit_note_share_12m``, ``support_tickets_12m``,
        ``support_hours_12m``, ``cost_to_serve`` (support hours per 1,000 of revenue),
        ``qbr_12m``, ``nps`` (latest score), ``score_<criterion>`` (latest assessment of each
        criterion), plus the account attributes ``industry``, ``region``, ``size_band``,
        ``account_manager`` where present.

        Outcomes (see :data:`OUTCOME_COLUMNS`): ``base_revenue`` (revenue in the ``horizon``
        days before the cutoff, the like-for-like base), ``future_revenue`` (in the ``horizon``
        days from the cutoff), ``log_growth`` (log of their ratio; NaN unless both positive),
        ``growth_dh`` (symmetric growth (future − base) / mean of the two, in [−2, 2]; −2 for
        an account that stopped buying), ``grew`` (future > base · (1 + growth_threshold)) and
        ``churned`` (recorded ``churned_on`` inside the horizon, or no purchase in it).

        ``frame.attrs`` records ``cutoff``, ``horizon_days`` and ``window_days``.
    """
    cutoff = pd.Timestamp(cutoff)
    horizon_days, window_days = _days(horizon), _days(window)
    accounts = dataset.accounts.set_index("account_id")
    ids = accounts.index
    n = len(ids)
    cut = np.datetime64(cutoff, "ns").astype(np.int64)
    day_ns = _DAY.astype("timedelta64[ns]").astype(np.int64)

    tx = dataset.transactions
    codes = _codes(tx["account_id"], ids)
    t_ns = tx["date"].to_numpy().astype("datetime64[ns]").astype(np.int64)
    amount = tx["amount"].to_numpy(dtype=float)
    before = t_ns < cut
    recent = before & (t_ns >= cut - window_days * day_ns)
    previous = (
        before & (t_ns < cut - window_days * day_ns) & (t_ns >= cut - 2 * window_days * day_ns)
    )
    base_win = before & (t_ns >= cut - horizon_days * day_ns)
    future_win = (t_ns >= cut) & (t_ns < cut + horizon_days * day_ns)
    purchase = amount > 0
    day_index = (t_ns // day_ns).astype(np.int64)
    day_index -= day_index.min() if len(day_index) else 0

    revenue_12m = _sum(codes, recent, amount, n)
    revenue_prev = _sum(codes, previous, amount, n)
    orders_12m = _distinct(codes, recent & purchase, day_index, n)
    last_purchase = _last(codes, before & purchase, t_ns, n)
    first_tx = np.full(n, np.iinfo(np.int64).max)
    known = before & (codes >= 0)
    np.minimum.at(first_tx, codes[known], t_ns[known])

    feats = pd.DataFrame(index=ids)
    feats["revenue_12m"] = revenue_12m
    feats["revenue_prev_12m"] = revenue_prev
    feats["revenue_total"] = _sum(codes, before, amount, n)
    total_recent = revenue_12m[revenue_12m > 0].sum()
    feats["revenue_share"] = (
        np.where(revenue_12m > 0, revenue_12m, 0) / total_recent if total_recent > 0 else 0.0
    )
    with np.errstate(divide="ignore", invalid="ignore"):
        feats["revenue_growth_12m"] = np.where(
            (revenue_12m > 0) & (revenue_prev > 0), np.log(revenue_12m / revenue_prev), np.nan
        )
    feats["orders_12m"] = orders_12m
    feats["order_frequency"] = orders_12m / (window_days / (365.25 / 12))
    has_purchase = last_purchase > np.iinfo(np.int64).min
    feats["recency_days"] = np.where(has_purchase, (cut - last_purchase) / day_ns, np.nan)
    if "acquired_on" in accounts:
        acquired = accounts["acquired_on"].to_numpy().astype("datetime64[ns]").astype(np.int64)
        acquired = np.where(
            accounts["acquired_on"].isna().to_numpy(), first_tx, np.minimum(acquired, first_tx)
        )
    else:
        acquired = first_tx
    known_start = acquired < np.iinfo(np.int64).max
    feats["tenure_days"] = np.where(known_start, (cut - acquired) / day_ns, np.nan)
    if "product" in tx:
        product_codes = pd.factorize(tx["product"])[0].astype(np.int64)
        ok = recent & purchase & (product_codes >= 0)
        feats["products_12m"] = _distinct(codes, ok, product_codes, n)
    if "category" in tx:
        cat_codes = pd.factorize(tx["category"])[0].astype(np.int64)
        ok = recent & purchase & (cat_codes >= 0)
        feats["categories_12m"] = _distinct(codes, ok, cat_codes, n)
    if "cost" in tx:
        cost = tx["cost"].to_numpy(dtype=float)
        with_cost = recent & ~np.isnan(cost)
        rev_c = _sum(codes, with_cost, amount, n)
        cost_c = _sum(codes, with_cost, np.nan_to_num(cost), n)
        with np.errstate(divide="ignore", invalid="ignore"):
            feats["gross_margin_12m"] = np.where(rev_c > 0, (rev_c - cost_c) / rev_c, np.nan)
    gross = _sum(codes, recent & purchase, amount, n)
    credits = 0.0 - _sum(codes, recent & ~purchase, amount, n)
    with np.errstate(divide="ignore", invalid="ignore"):
        feats["credit_note_share_12m"] = np.where(gross > 0, credits / gross, np.nan)

    _interaction_features(feats, dataset.interactions, ids, cut, window_days, day_ns)
    _assessment_features(feats, dataset.assessments, cut)
    for col in ACCOUNT_ATTRIBUTES:
        if col in accounts:
            feats[col] = accounts[col]

    # Outcomes, strictly from the cutoff on.
    base = _sum(codes, base_win, amount, n)
    future = _sum(codes, future_win, amount, n)
    bought_after = _sum(codes, future_win & purchase, None, n) > 0
    feats["base_revenue"] = base
    feats["future_revenue"] = future
    with np.errstate(divide="ignore", invalid="ignore"):
        feats["log_growth"] = np.where((base > 0) & (future > 0), np.log(future / base), np.nan)
        pos_base, pos_future = np.maximum(base, 0), np.maximum(future, 0)
        mean = (pos_base + pos_future) / 2
        feats["growth_dh"] = np.where(mean > 0, (pos_future - pos_base) / mean, np.nan)
    feats["grew"] = future > base * (1 + growth_threshold)
    recorded = np.zeros(n, dtype=bool)
    if "churned_on" in accounts:
        churn_ns = accounts["churned_on"].to_numpy().astype("datetime64[ns]")
        valid = ~np.isnat(churn_ns)
        churn_i = np.where(valid, churn_ns.astype(np.int64), np.iinfo(np.int64).max)
        recorded = valid & (churn_i >= cut) & (churn_i < cut + horizon_days * day_ns)
        churned_before = valid & (churn_i < cut)
    else:
        churned_before = np.zeros(n, dtype=bool)
    feats["churned"] = recorded | ~bought_after

    population = known_start & (acquired < cut) & ~churned_before & (first_tx < cut)
    out = feats.loc[population].copy()
    out.index.name = "account_id"
    out.attrs.update(
        cutoff=cutoff.date().isoformat(), horizon_days=horizon_days, window_days=window_days
    )
    return out


def _interaction_features(feats, interactions, ids, cut, window_days, day_ns) -> None:
    n = len(ids)
    if interactions is None or not len(interactions):
        return
    codes = _codes(interactions["account_id"], ids)
    t_ns = interactions["date"].to_numpy().astype("datetime64[ns]").astype(np.int64)
    kind = interactions["kind"].astype("str").str.lower().to_numpy()
    value = (
        interactions["value"].to_numpy(dtype=float)
        if "value" in interactions
        else np.full(len(interactions), np.nan)
    )
    before = t_ns < cut
    recent = before & (t_ns >= cut - window_days * day_ns)
    tickets = recent & (kind == "support_ticket")
    if (kind == "support_ticket").any():
        feats["support_tickets_12m"] = _sum(codes, tickets, None, n).astype(float)
        feats["support_hours_12m"] = _sum(codes, tickets, np.nan_to_num(value), n)
        revenue = feats["revenue_12m"].to_numpy()
        with np.errstate(divide="ignore", invalid="ignore"):
            feats["cost_to_serve"] = np.where(
                revenue > 0, feats["support_hours_12m"] / (revenue / 1000), np.nan
            )
    if (kind == "qbr").any():
        feats["qbr_12m"] = _sum(codes, recent & (kind == "qbr"), None, n).astype(float)
    nps = before & (kind == "nps") & ~np.isnan(value)
    if (kind == "nps").any():
        frame = pd.DataFrame({"code": codes[nps], "t": t_ns[nps], "value": value[nps]})
        latest = frame.sort_values(["code", "t"], kind="stable").groupby("code")["value"].last()
        out = np.full(n, np.nan)
        out[latest.index.to_numpy()] = latest.to_numpy()
        feats["nps"] = out


def _assessment_features(feats, assessments, cut) -> None:
    if assessments is None or not len(assessments):
        return
    t_ns = assessments["assessed_on"].to_numpy().astype("datetime64[ns]").astype(np.int64)
    before = assessments.loc[t_ns < cut, ["account_id", "assessed_on", "criterion", "score"]]
    criteria = sorted(assessments["criterion"].astype("str").unique())
    # (account, assessed_on, criterion) is unique by contract, so the latest row is unambiguous.
    latest_rows = before.groupby(["account_id", "criterion"], sort=False)["assessed_on"].idxmax()
    latest = before.loc[latest_rows.to_numpy()].pivot(
        index="account_id", columns="criterion", values="score"
    )
    latest = latest.reindex(index=feats.index, columns=criteria)
    for criterion in criteria:
        feats[f"score_{criterion}"] = latest[criterion].to_numpy(dtype=float)


def feature_columns(frame: pd.DataFrame, numeric_only: bool = True) -> list[str]:
    """The feature columns of an :func:`account_features` frame (no outcomes, no cutoff)."""
    skip = set(OUTCOME_COLUMNS) | {"cutoff"}
    cols = [c for c in frame.columns if c not in skip]
    if numeric_only:
        cols = [
            c
            for c in cols
            if pd.api.types.is_numeric_dtype(frame[c]) and not pd.api.types.is_bool_dtype(frame[c])
        ]
    return cols


def feature_panel(dataset: Dataset, cutoffs: Iterable, horizon=365, **kwargs) -> pd.DataFrame:
    """:func:`account_features` at several cutoffs, stacked with a ``cutoff`` column.

    Returns a frame indexed by ``(cutoff, account_id)``; used for time-ordered validation and
    back-tests ("had we chosen key accounts on each past date, what happened next?").
    """
    frames = []
    for cutoff in cutoffs:
        frame = account_features(dataset, cutoff, horizon, **kwargs)
        frames.append(frame.assign(cutoff=pd.Timestamp(cutoff)).set_index("cutoff", append=True))
    if not frames:
        raise ValueError("cutoffs is empty")
    panel = pd.concat(frames).reorder_levels(["cutoff", "account_id"])
    return panel
