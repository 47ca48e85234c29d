"""The periodic key-account review: what changed, what is at risk, what the list misses.

The seed documents ask for the key-account list to be reviewed "every few months" and warn
against four classic mistakes: too many key accounts, choosing on size alone, set-and-forget and
under-resourcing. These functions turn the outputs of :mod:`kamlab.criteria`, :mod:`kamlab.churn`,
:mod:`kamlab.clv` and :mod:`kamlab.growth` at one review date into the tables of such a review
(notebook ``07_account_review``). Each is a pure function of small tables.

A review is *as of* its cutoff: every input must be measured from data before the cutoff
(features, scores, churn probabilities and CLV from models calibrated before it). Nothing here
reads an outcome.

Conventions: "designated" accounts are those in the tiers passed as ``designated`` (default
``key`` and ``strategic``); tiers are the ordered categories of :data:`kamlab.criteria.TIERS`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd

from kamlab.criteria import TIER_DTYPE, TIERS

__all__ = [
    "CHANGES",
    "DESIGNATED",
    "at_risk_accounts",
    "model_additions",
    "review_changes",
    "review_checklist",
    "review_dates",
    "review_summary",
    "tier_overview",
    "tier_streaks",
    "tier_value_mismatch",
]

#: Tiers that make an account a designated key account.
DESIGNATED = ("key", "strategic")
#: Kinds of change between two reviews, in display order.
CHANGES = ("promoted", "demoted", "new", "lost", "unchanged")
_DAY = pd.Timedelta(days=1)


def _tiers(obj, tier_col: str = "tier") -> pd.Series:
    """Tiers as an ordered categorical Series from a scored frame or a Series."""
    if isinstance(obj, pd.DataFrame):
        if tier_col not in obj:
            raise ValueError(f"the scored table has no {tier_col!r} column")
        obj = obj[tier_col]
    return pd.Series(obj).astype(TIER_DTYPE)


def _check_designated(designated: Sequence[str]) -> list[str]:
    bad = [t for t in designated if t not in TIERS]
    if bad or not designated:
        raise ValueError(f"designated must be a non-empty subset of {TIERS}, got {designated!r}")
    return list(designated)


# --------------------------------------------------------------------------------------------
# dates
# --------------------------------------------------------------------------------------------
def review_dates(
    cutoff, previous_cutoff, start, end=None, *, min_history_days: int = 365, max_reviews: int = 6
) -> list[pd.Timestamp]:
    """The review dates: this one, the previous one and earlier ones at the same spacing.

    Parameters
    ----------
    cutoff, previous_cutoff : date-like
        This review and the last one; ``previous_cutoff`` must be strictly earlier.
    start, end : date-like
        First and last date of the data (``end`` optional): both reviews must lie after
        ``start`` and no later than the day after ``end``.
    min_history_days : int
        Earlier reviews (before ``previous_cutoff``) are added only when at least this many
        days of data precede them, so their 12-month features are complete.
    max_reviews : int
        At most this many dates in all (at least 2).

    Returns
    -------
    list of pandas.Timestamp
        Oldest first; the last two are ``previous_cutoff`` and ``cutoff``. Earlier dates step
        back by the same number of calendar months when the two reviews fall on the same day
        of the month, else by the same number of days.

    Raises
    ------
    ValueError
        ``previous_cutoff`` not before ``cutoff``, or a review outside the data.
    """
    now, before = pd.Timestamp(cutoff).normalize(), pd.Timestamp(previous_cutoff).normalize()
    start = pd.Timestamp(start).normalize()
    if before >= now:
        raise ValueError(
            f"previous_cutoff {before.date()} must be before cutoff {now.date()}: "
            f"the previous review compares the list with an earlier date (pass "
            f"e.g. previous_cutoff={(now - pd.DateOffset(months=6)).date()})"
        )
    if before <= start:
        raise ValueError(
            f"previous_cutoff {before.date()} must be after the data's first date {start.date()}"
        )
    if end is not None and now > pd.Timestamp(end).normalize() + _DAY:
        raise ValueError(f"cutoff {now.date()} is after the data's end {pd.Timestamp(end).date()}")
    if max_reviews < 2:
        raise ValueError(f"max_reviews must be at least 2, got {max_reviews}")
    months = (now.year - before.year) * 12 + now.month - before.month
    whole_months = now.day == before.day and months > 0
    step = pd.DateOffset(months=months) if whole_months else now - before
    dates = [now, before]
    earliest = start + pd.Timedelta(days=min_history_days)
    while len(dates) < max_reviews and dates[-1] - step >= earliest:
        dates.append(dates[-1] - step)
    return sorted(dates)


# --------------------------------------------------------------------------------------------
# the current list
# --------------------------------------------------------------------------------------------
def tier_overview(
    scored: pd.DataFrame, revenue: pd.Series, *, tier_col: str = "tier"
) -> pd.DataFrame:
    """Accounts and revenue per tier.

    Parameters
    ----------
    scored : pandas.DataFrame
        :func:`kamlab.criteria.score_accounts` output (or any frame with a tier column).
    revenue : pandas.Series
        Revenue per account (e.g. ``revenue_12m``); negative totals count as 0 and accounts
        without a value as 0.

    Returns
    -------
    pandas.DataFrame
        One row per tier (``regular, key, strategic``) and a ``total`` row: ``accounts``,
        ``account_share``, ``revenue``, ``revenue_share``.
    """
    tiers = _tiers(scored, tier_col)
    money = revenue.reindex(tiers.index).fillna(0.0).clip(lower=0.0).astype(float)
    grouped = money.groupby(tiers, observed=False).agg(["size", "sum"]).reindex(list(TIERS))
    out = pd.DataFrame(
        {"accounts": grouped["size"].fillna(0).astype(int), "revenue": grouped["sum"].fillna(0.0)}
    )
    out.loc["total"] = [int(out["accounts"].sum()), float(out["revenue"].sum())]
    out["accounts"] = out["accounts"].astype(int)
    n, total = out.loc["total", "accounts"], out.loc["total", "revenue"]
    out.insert(1, "account_share", out["accounts"] / n if n else np.nan)
    out["revenue_share"] = out["revenue"] / total if total > 0 else np.nan
    out.index.name = "tier"
    return out


# --------------------------------------------------------------------------------------------
# changes since the previous review
# --------------------------------------------------------------------------------------------
def review_changes(
    previous_scored,
    current_scored,
    *,
    tier_col: str = "tier",
    designated: Sequence[str] = DESIGNATED,
) -> pd.DataFrame:
    """Each account's tier at the previous and at this review, and the kind of change.

    Parameters
    ----------
    previous_scored, current_scored : pandas.DataFrame or Series
        Tiers at the previous and at this review (:func:`kamlab.criteria.score_accounts`
        frames or tier Series) indexed by account; an account absent from one of them was not
        in the portfolio at that date.
    designated : sequence of str
        Tiers that count as key accounts.

    Returns
    -------
    pandas.DataFrame
        One row per account in either review, indexed by ``account_id``: ``previous_tier``,
        ``current_tier`` (ordered categoricals, missing when absent), ``change`` (one of
        :data:`CHANGES`: ``promoted``/``demoted`` to a higher/lower tier, ``new`` only at this
        review, ``lost`` only at the previous one, else ``unchanged``), ``designated_before``
        and ``designated_now`` (booleans). Sorted by change (in :data:`CHANGES` order), then by
        current tier (highest first), then by account.
    """
    keys = _check_designated(designated)
    before, now = _tiers(previous_scored, tier_col), _tiers(current_scored, tier_col)
    ids = before.index.union(now.index)
    a, b = before.reindex(ids), now.reindex(ids)
    code_a, code_b = a.cat.codes.to_numpy(), b.cat.codes.to_numpy()
    change = np.select(
        [code_a < 0, code_b < 0, code_b > code_a, code_b < code_a],
        ["new", "lost", "promoted", "demoted"],
        "unchanged",
    )
    out = pd.DataFrame(
        {
            "previous_tier": a,
            "current_tier": b,
            "change": pd.Categorical(change, categories=list(CHANGES)),
            "designated_before": a.isin(keys).to_numpy(),
            "designated_now": b.isin(keys).to_numpy(),
        },
        index=ids,
    )
    out.index.name = "account_id"
    order = pd.DataFrame(
        {
            "change": out["change"].cat.codes,
            "tier": -np.maximum(code_b, code_a),
            "id": out.index.astype(str),
        },
        index=out.index,
    )
    order = order.sort_values(["change", "tier", "id"], kind="mergesort")
    return out.loc[order.index]


# --------------------------------------------------------------------------------------------
# risk and value
# --------------------------------------------------------------------------------------------
def at_risk_accounts(
    scored: pd.DataFrame,
    churn_probability: pd.Series,
    *,
    base_rate: float,
    factor: float = 2.0,
    tier_col: str = "tier",
    designated: Sequence[str] = DESIGNATED,
) -> pd.DataFrame:
    """Designated accounts ranked by churn probability, flagged when well above the base rate.

    Parameters
    ----------
    scored : pandas.DataFrame
        Tiers per account at the review.
    churn_probability : pandas.Series
        Calibrated churn probability per account (from a model trained before the review).
    base_rate : float
        The churn rate the probabilities are compared with (e.g. the training rate), in (0, 1].
    factor : float
        ``at_risk`` is true when the probability is at least ``factor × base_rate``.

    Returns
    -------
    pandas.DataFrame
        Designated accounts with a probability, indexed by ``account_id``: ``tier``,
        ``churn_probability``, ``relative_risk`` (probability / base rate) and ``at_risk``;
        highest probability first (ties by account). ``attrs``: ``base_rate``, ``factor``.
    """
    keys = _check_designated(designated)
    if not 0 < base_rate <= 1:
        raise ValueError(f"base_rate must be in (0, 1], got {base_rate}")
    if factor <= 0:
        raise ValueError(f"factor must be positive, got {factor}")
    tiers = _tiers(scored, tier_col)
    proba = churn_probability.reindex(tiers.index).astype(float)
    keep = tiers.isin(keys) & proba.notna()
    out = pd.DataFrame({"tier": tiers[keep], "churn_probability": proba[keep]})
    out["relative_risk"] = out["churn_probability"] / base_rate
    out["at_risk"] = out["churn_probability"] >= factor * base_rate
    out.index.name = "account_id"
    order = pd.DataFrame(
        {"p": -out["churn_probability"], "id": out.index.astype(str)}, index=out.index
    ).sort_values(["p", "id"], kind="mergesort")
    out = out.loc[order.index]
    out.attrs.update(base_rate=float(base_rate), factor=float(factor))
    return out


def _ranks(values: pd.Series) -> pd.Series:
    """1 = highest value; ties broken by account id."""
    order = pd.DataFrame(
        {"v": -values.to_numpy(), "id": values.index.astype(str)}, index=values.index
    ).sort_values(["v", "id"], kind="mergesort")
    return pd.Series(np.arange(1, len(order) + 1), index=order.index).reindex(values.index)


def tier_value_mismatch(
    scored: pd.DataFrame,
    value: pd.Series,
    *,
    top_share: float | None = None,
    low_quantile: float = 0.5,
    tier_col: str = "tier",
    designated: Sequence[str] = DESIGNATED,
) -> pd.DataFrame:
    """Accounts whose tier disagrees with their expected value (CLV).

    Two kinds of mismatch:

    * ``high-value regular``: a regular account among the ``top_share`` of accounts by value
      (the list a value ranking of the same length would designate);
    * ``low-value key``: a designated account whose value is below the ``low_quantile`` of
      the values (default: below the median account).

    Parameters
    ----------
    scored : pandas.DataFrame
        Tiers per account at the review.
    value : pandas.Series
        Expected value per account (e.g. :func:`kamlab.clv.customer_lifetime_value`).
    top_share : float, optional
        Share of accounts counted as high value; default the share of designated accounts.
    low_quantile : float
        Quantile of value below which a designated account is low value.

    Returns
    -------
    pandas.DataFrame
        The mismatched accounts indexed by ``account_id``: ``tier``, ``value``,
        ``value_rank`` (1 = highest), ``value_percentile`` (share of the accounts valued at or
        below it) and ``mismatch``; high-value regular accounts first (highest value first),
        then low-value key accounts (lowest first). ``attrs``: ``n`` (accounts with both),
        ``n_top``, ``low_threshold``, ``missing_value`` (accounts without a value).
    """
    keys = _check_designated(designated)
    if not 0 < low_quantile < 1:
        raise ValueError(f"low_quantile must be in (0, 1), got {low_quantile}")
    tiers = _tiers(scored, tier_col)
    vals = value.reindex(tiers.index).astype(float)
    ok = vals.notna()
    tiers, vals = tiers[ok], vals[ok]
    n = len(vals)
    if n == 0:
        raise ValueError("no account has both a tier and a value")
    is_key = tiers.isin(keys)
    share = float(is_key.mean()) if top_share is None else float(top_share)
    if not 0 < share < 1:
        raise ValueError(f"top_share must be in (0, 1), got {share}")
    n_top = max(1, int(round(share * n)))
    rank = _ranks(vals)
    low = float(vals.quantile(low_quantile))
    high_regular = (rank <= n_top) & ~is_key
    low_key = is_key & (vals < low)
    out = pd.DataFrame(
        {
            "tier": tiers,
            "value": vals,
            "value_rank": rank,
            "value_percentile": vals.rank(method="max") / n,
        }
    )
    out["mismatch"] = np.where(
        high_regular, "high-value regular", np.where(low_key, "low-value key", "")
    )
    out = out[high_regular | low_key]
    out.index.name = "account_id"
    order = pd.DataFrame(
        {
            "kind": (out["mismatch"] == "low-value key").astype(int),
            "r": np.where(
                out["mismatch"] == "low-value key", -out["value_rank"], out["value_rank"]
            ),
        },
        index=out.index,
    )
    out = out.loc[order.sort_values(["kind", "r"], kind="mergesort").index]
    out.attrs.update(n=n, n_top=n_top, low_threshold=low, missing_value=int((~ok).sum()))
    return out


def model_additions(
    scored: pd.DataFrame,
    learned_scores: pd.Series,
    k: int | None = None,
    *,
    tier_col: str = "tier",
    rank_col: str = "rank",
    designated: Sequence[str] = DESIGNATED,
) -> pd.DataFrame:
    """Accounts a learned model would put on the key list that the rule set leaves off.

    Parameters
    ----------
    scored : pandas.DataFrame
        Rule-based tiers (and ``rank``, when present) per account at the review.
    learned_scores : pandas.Series
        The learned model's score per account (higher = more deserving, e.g. predicted growth).
    k : int, optional
        Length of the learned list; default the number of designated accounts.

    Returns
    -------
    pandas.DataFrame
        Accounts in the learned top ``k`` that are not designated, indexed by ``account_id``:
        ``learned_score``, ``learned_rank`` (1 = best; ties by account), ``tier`` and, when
        ``scored`` has it, ``rule_rank``; best learned rank first. ``attrs``: ``k``,
        ``overlap`` (designated accounts also in the learned top ``k``), ``n_designated``.
    """
    keys = _check_designated(designated)
    tiers = _tiers(scored, tier_col)
    learned = learned_scores.reindex(tiers.index).astype(float).dropna()
    is_key = tiers.isin(keys)
    n_key = int(is_key.sum())
    k = n_key if k is None else int(k)
    if k < 1:
        raise ValueError(f"k must be at least 1, got {k}")
    rank = _ranks(learned)
    top = rank.index[rank <= k]
    additions = top[~is_key.reindex(top).to_numpy()]
    out = pd.DataFrame(
        {
            "learned_score": learned[additions],
            "learned_rank": rank[additions],
            "tier": tiers[additions],
        }
    )
    if isinstance(scored, pd.DataFrame) and rank_col in scored:
        out["rule_rank"] = scored.loc[additions, rank_col]
    out.index.name = "account_id"
    out = out.sort_values("learned_rank", kind="mergesort")
    out.attrs.update(k=k, overlap=int(is_key.reindex(top).sum()), n_designated=n_key)
    return out


# --------------------------------------------------------------------------------------------
# set-and-forget and the checklist
# --------------------------------------------------------------------------------------------
def tier_streaks(history: pd.DataFrame, *, designated: Sequence[str] = DESIGNATED) -> pd.DataFrame:
    """How many consecutive reviews, up to the latest, each account has kept its tier.

    Parameters
    ----------
    history : pandas.DataFrame
        Tiers by account (rows) and review (columns, oldest first), e.g.
        :func:`kamlab.criteria.review`; missing = not in the portfolio then.

    Returns
    -------
    pandas.DataFrame
        Accounts present at the latest review: ``tier`` (latest), ``reviews_in_tier``
        (consecutive reviews ending at the latest with that same tier), ``reviews_designated``
        (consecutive reviews ending at the latest designated, 0 for regular accounts) and
        ``always`` (true when the account held its tier at every review in ``history``).
        ``attrs["n_reviews"]``: the number of reviews.
    """
    keys = _check_designated(designated)
    if history.shape[1] == 0:
        raise ValueError("history has no review column")
    tiers = history.apply(lambda s: s.astype(TIER_DTYPE)).astype(object)
    latest = tiers.iloc[:, -1].dropna()
    values = tiers.loc[latest.index].to_numpy(dtype=object)[:, ::-1]
    same = values == latest.to_numpy()[:, None]
    held = np.where(same.all(axis=1), same.shape[1], same.argmin(axis=1))
    desig = np.isin(values, keys)
    kept = np.where(desig.all(axis=1), desig.shape[1], desig.argmin(axis=1))
    out = pd.DataFrame(
        {
            "tier": latest.astype(TIER_DTYPE),
            "reviews_in_tier": held.astype(int),
            "reviews_designated": kept.astype(int),
            "always": held == same.shape[1],
        },
        index=latest.index,
    )
    out.index.name = history.index.name or "account_id"
    out.attrs["n_reviews"] = int(history.shape[1])
    return out


def review_checklist(
    scored: pd.DataFrame,
    *,
    size_scored: pd.DataFrame,
    changes: pd.DataFrame,
    streaks: pd.DataFrame,
    features: pd.DataFrame | None = None,
    strategic_cap: float,
    key_cap: float,
    size_overlap_limit: float = 0.8,
    no_qbr_limit: float = 0.0,
    tier_col: str = "tier",
    manager_col: str = "account_manager",
    qbr_col: str = "qbr_12m",
    designated: Sequence[str] = DESIGNATED,
) -> pd.DataFrame:
    """The review against the classic key-account mistakes of the seed documents.

    Parameters
    ----------
    scored : pandas.DataFrame
        Tiers at this review under the rule set.
    size_scored : pandas.DataFrame
        Tiers at this review under the size-only (80/20) rule set with the same caps.
    changes : pandas.DataFrame
        :func:`review_changes` of the previous and this review.
    streaks : pandas.DataFrame
        :func:`tier_streaks` over the reviews up to this one.
    features : pandas.DataFrame, optional
        As-of features (for ``qbr_12m`` and ``account_manager``; rows without them are
        reported as not checkable).
    strategic_cap, key_cap : float
        The caps the list should respect (cumulative shares of accounts).
    size_overlap_limit : float
        Above this share of the designated list also chosen by size alone, the list is
        flagged as size-only in effect.
    no_qbr_limit : float
        Largest acceptable share of designated accounts without a QBR in the last 12 months.

    Returns
    -------
    pandas.DataFrame
        One row per check: ``mistake``, ``check``, ``value``, ``limit`` (NaN where none),
        ``unit`` (``share`` or ``accounts``) and ``status``: ``ok``, ``watch`` (over a limit),
        ``act`` (changes to apply to the list), ``info`` (no limit) or ``n/a`` (the data
        cannot tell; ``value`` is NaN).
    """
    keys = _check_designated(designated)
    tiers = _tiers(scored, tier_col)
    n = len(tiers)
    is_key = tiers.isin(keys)
    n_key = int(is_key.sum())
    rows = []

    def add(mistake, check, value, limit, unit, status):
        rows.append(
            {
                "mistake": mistake,
                "check": check,
                "value": value,
                "limit": limit,
                "unit": unit,
                "status": status,
            }
        )

    def limited(value, limit):
        return "ok" if value <= limit + 1e-12 else "watch"

    key_share = n_key / n if n else np.nan
    strat_share = float((tiers == "strategic").mean()) if n else np.nan
    add(
        "too many key accounts",
        "share of accounts designated key or strategic",
        key_share,
        key_cap,
        "share",
        limited(key_share, key_cap),
    )
    add(
        "too many key accounts",
        "share of accounts designated strategic",
        strat_share,
        strategic_cap,
        "share",
        limited(strat_share, strategic_cap),
    )

    size_key = _tiers(size_scored, tier_col).reindex(tiers.index).isin(keys)
    overlap = float((size_key & is_key).sum() / n_key) if n_key else np.nan
    add(
        "size alone",
        "share of the key list the size-only (80/20) rule would also pick",
        overlap,
        size_overlap_limit,
        "share",
        "n/a" if np.isnan(overlap) else limited(overlap, size_overlap_limit),
    )

    moved = changes[
        (changes["designated_before"] | changes["designated_now"])
        & (changes["change"].astype(str) != "unchanged")
    ]
    add(
        "set and forget",
        "accounts entering, leaving or moving within the key list since the previous review",
        float(len(moved)),
        np.nan,
        "accounts",
        "act" if len(moved) else "ok",
    )
    held = streaks.reindex(tiers.index[is_key])
    n_reviews = int(streaks.attrs.get("n_reviews", 0))
    add(
        "set and forget",
        f"key accounts in the same tier at all {n_reviews} reviews",
        float(held["always"].fillna(False).sum()),
        np.nan,
        "accounts",
        "info",
    )

    feats = features if features is not None else pd.DataFrame(index=tiers.index)
    if qbr_col in feats and feats[qbr_col].reindex(tiers.index[is_key]).notna().any():
        qbr = feats[qbr_col].reindex(tiers.index[is_key])
        share = float((qbr.fillna(0) <= 0).mean())
        add(
            "under-resourcing",
            "share of key accounts without a QBR in the last 12 months",
            share,
            no_qbr_limit,
            "share",
            limited(share, no_qbr_limit),
        )
    else:
        add(
            "under-resourcing",
            "share of key accounts without a QBR in the last 12 months",
            np.nan,
            no_qbr_limit,
            "share",
            "n/a",
        )
    if manager_col in feats and feats[manager_col].reindex(tiers.index[is_key]).notna().any():
        load = feats[manager_col].reindex(tiers.index[is_key]).value_counts()
        add(
            "under-resourcing",
            "most key accounts handled by one account manager",
            float(load.max()),
            np.nan,
            "accounts",
            "info",
        )
    else:
        add(
            "under-resourcing",
            "most key accounts handled by one account manager",
            np.nan,
            np.nan,
            "accounts",
            "n/a",
        )
    return pd.DataFrame(rows)


# --------------------------------------------------------------------------------------------
# summary
# --------------------------------------------------------------------------------------------
def _n(count: int, noun: str) -> str:
    """``"1 account"``, ``"2 accounts"``."""
    return f"{count} {noun}" if count == 1 else f"{count} {noun}s"


def _ids(index, k: int = 3) -> str:
    items = [str(i) for i in list(index)[:k]]
    more = len(index) - len(items)
    return ", ".join(items) + (f" and {more} more" if more > 0 else "")


def review_summary(
    *,
    cutoff,
    previous_cutoff,
    scored: pd.DataFrame,
    changes: pd.DataFrame,
    checklist: pd.DataFrame,
    at_risk: pd.DataFrame | None = None,
    mismatches: pd.DataFrame | None = None,
    additions: pd.DataFrame | None = None,
    skipped: Mapping[str, str] | None = None,
    tier_col: str = "tier",
    designated: Sequence[str] = DESIGNATED,
) -> str:
    """The review in one paragraph.

    Parameters
    ----------
    cutoff, previous_cutoff : date-like
        This review and the last one.
    scored, changes, checklist : pandas.DataFrame
        :func:`kamlab.criteria.score_accounts`, :func:`review_changes`,
        :func:`review_checklist` at this review.
    at_risk, mismatches, additions : pandas.DataFrame, optional
        :func:`at_risk_accounts`, :func:`tier_value_mismatch`, :func:`model_additions`; None
        when the section could not be computed.
    skipped : mapping, optional
        Section name → reason, for the sections that could not be computed.

    Returns
    -------
    str
        A few sentences, each number taken from the inputs.
    """
    keys = _check_designated(designated)
    now = pd.Timestamp(cutoff).date().isoformat()
    before = pd.Timestamp(previous_cutoff).date().isoformat()
    tiers = _tiers(scored, tier_col)
    n_key = int(tiers.isin(keys).sum())
    n_strat = int((tiers == "strategic").sum())
    counts = changes.loc[changes["designated_before"] | changes["designated_now"], "change"]
    counts = counts.astype(str).value_counts()
    entered = int((changes["designated_now"] & ~changes["designated_before"]).sum())
    left = int((changes["designated_before"] & ~changes["designated_now"]).sum())
    parts = [
        f"Review as of {now}: {n_key} of {len(tiers)} accounts are designated key or "
        f"strategic ({n_strat} strategic)."
    ]
    parts.append(
        f"Since the review of {before}, {_n(entered, 'account')} entered the key list "
        f"and {left} left it ({_n(int(counts.get('promoted', 0)), 'promotion')}, "
        f"{_n(int(counts.get('demoted', 0)), 'demotion')}, "
        f"{int(counts.get('new', 0))} new and {int(counts.get('lost', 0))} lost)."
    )
    if at_risk is not None:
        flagged = at_risk[at_risk["at_risk"]]
        factor = at_risk.attrs.get("factor", 2.0)
        parts.append(
            f"{_n(len(flagged), 'key account')} {'has' if len(flagged) == 1 else 'have'}"
            f" at least {factor:g} times the base churn risk"
            + (f": {_ids(flagged.index)}." if len(flagged) else ".")
        )
    if mismatches is not None:
        high = mismatches[mismatches["mismatch"] == "high-value regular"]
        low = mismatches[mismatches["mismatch"] == "low-value key"]
        parts.append(
            f"By CLV, {_n(len(high), 'regular account')} "
            f"{'ranks' if len(high) == 1 else 'rank'} among the most valuable"
            + (f" ({_ids(high.index)})" if len(high) else "")
            + f" and {_n(len(low), 'key account')} "
            f"{'is' if len(low) == 1 else 'are'} worth less than the median account."
        )
    if additions is not None:
        parts.append(
            f"The learned growth model would add {_n(len(additions), 'account')} to a "
            f"list of {additions.attrs.get('k', n_key)}"
            + (f", first {_ids(additions.index)}." if len(additions) else ".")
        )
    flags = checklist[checklist["status"].isin(["watch", "act"])]
    if len(flags):
        parts.append(
            "Checklist: "
            + "; ".join(f"{r.mistake}: {r.status} ({r.check})" for r in flags.itertuples())
            + "."
        )
    else:
        parts.append("Checklist: no classic mistake flagged.")
    if skipped:
        parts.append("Not computed: " + "; ".join(f"{k} ({v})" for k, v in skipped.items()) + ".")
    return " ".join(parts)
