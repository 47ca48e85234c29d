"""The review against the classic key-account mistakes, and the review in words.

The seed documents ask for the key-account list to be reviewed "every few months" and warn
against four classic mistakes: too many key accounts, choosing on size alone, set-and-forget
and under-resourcing. :func:`review_checklist` checks each on the tables of one review;
:func:`describe_review` says the whole review in a paragraph.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd

from kamlab import fmt
from kamlab.review.history import Streaks
from kamlab.review.lists import Additions, AtRisk, ValueVsTier
from kamlab.tiers import DESIGNATED, KEY_CAP, STRATEGIC_CAP, as_tiers, check_designated

__all__ = ["CHECK_STATUSES", "describe_review", "review_checklist"]

#: Statuses of a checklist row: ``ok``; ``watch`` (over a limit); ``act`` (changes to apply to
#: the list); ``info`` (no limit); ``n/a`` (the data cannot tell).
CHECK_STATUSES = ("ok", "watch", "act", "info", "n/a")


def _caps(scored, strategic_cap, key_cap) -> tuple[float, float]:
    """The caps to check: as given, else the scored rule set's caps, else the defaults."""
    rule = getattr(getattr(scored, "rule_set", None), "tiers", None)
    if rule is not None and rule.method == "cap":
        defaults = (rule.strategic, rule.key)
    else:
        defaults = (STRATEGIC_CAP, KEY_CAP)
    return (
        defaults[0] if strategic_cap is None else float(strategic_cap),
        defaults[1] if key_cap is None else float(key_cap),
    )


def review_checklist(
    scored,
    *,
    size_scored,
    changes: pd.DataFrame,
    streaks: Streaks,
    features: pd.DataFrame | None = None,
    strategic_cap: float | None = None,
    key_cap: float | None = None,
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
    scored : Scores, pandas.DataFrame or pandas.Series
        Tiers at this review under the rule set.
    size_scored : Scores, pandas.DataFrame or pandas.Series
        Tiers at this review under the size-only (80/20) rule set with the same caps.
    changes : pandas.DataFrame
        :func:`~kamlab.review.review_changes` of the previous and this review.
    streaks : Streaks
        :func:`~kamlab.review.tier_streaks` over the reviews up to this one.
    features : pandas.DataFrame, optional
        As-of features (for ``qbr_12m`` and ``account_manager``; without them those checks
        are reported as not checkable).
    strategic_cap, key_cap : float, optional
        The caps the list should respect (cumulative shares of accounts); default the caps
        of the rule set that scored ``scored``, else :data:`kamlab.tiers.STRATEGIC_CAP` and
        :data:`kamlab.tiers.KEY_CAP`.
    size_overlap_limit : float
        Above this share of the designated list also chosen by size alone, the list is
        flagged as size-only in effect.
    no_qbr_limit : float
        Largest acceptable share of designated accounts without a QBR in the last 12 months.

    Returns
    -------
    pandas.DataFrame
        One row per check: ``mistake``, ``check``, ``value``, ``limit`` (NaN where none),
        ``unit`` (``share`` or ``accounts``) and ``status`` (one of :data:`CHECK_STATUSES`;
        ``value`` is NaN where the status is ``n/a``).

    Examples
    --------
    >>> from kamlab.review import review_changes, tier_streaks
    >>> scored = pd.Series({"A": "strategic", "B": "key", "C": "regular", "D": "regular"})
    >>> size = pd.Series({"A": "key", "B": "regular", "C": "strategic", "D": "regular"})
    >>> checks = review_checklist(
    ...     scored, size_scored=size, changes=review_changes(scored, scored),
    ...     streaks=tier_streaks(scored.to_frame("r1")), strategic_cap=0.25, key_cap=0.4)
    >>> checks[["value", "status"]].head(3)
       value status
    0   0.50  watch
    1   0.25     ok
    2   0.50     ok
    """
    keys = check_designated(designated)
    strategic_cap, key_cap = _caps(scored, strategic_cap, key_cap)
    tiers = as_tiers(scored, tier_col)
    n = len(tiers)
    is_key = tiers.isin(keys)
    key_ids = tiers.index[is_key]
    n_key = int(is_key.sum())

    def status(value, limit):
        if np.isnan(value):
            return "n/a"
        return "ok" if value <= limit + 1e-12 else "watch"

    key_share = n_key / n if n else np.nan
    strat_share = float((tiers == "strategic").mean()) if n else np.nan
    size_key = as_tiers(size_scored, tier_col).reindex(tiers.index).isin(keys)
    overlap = float((size_key & is_key).sum() / n_key) if n_key else np.nan
    moved = changes[
        (changes["designated_before"] | changes["designated_now"])
        & (changes["change"].astype(str) != "unchanged")
    ]
    always = float(streaks.table["always"].reindex(key_ids).fillna(False).sum())
    feats = features if features is not None else pd.DataFrame(index=tiers.index)
    qbr = feats[qbr_col].reindex(key_ids) if qbr_col in feats else pd.Series(dtype=float)
    no_qbr = float((qbr.fillna(0) <= 0).mean()) if qbr.notna().any() else np.nan
    managers = feats[manager_col].reindex(key_ids) if manager_col in feats else pd.Series()
    load = float(managers.value_counts().max()) if managers.notna().any() else np.nan
    rows = [
        ("too many key accounts", "share of accounts designated key or strategic",
         key_share, key_cap, "share", status(key_share, key_cap)),
        ("too many key accounts", "share of accounts designated strategic",
         strat_share, strategic_cap, "share", status(strat_share, strategic_cap)),
        ("size alone", "share of the key list the size-only (80/20) rule would also pick",
         overlap, size_overlap_limit, "share", status(overlap, size_overlap_limit)),
        ("set and forget",
         "accounts entering, leaving or moving within the key list since the previous review",
         float(len(moved)), np.nan, "accounts", "act" if len(moved) else "ok"),
        ("set and forget", f"key accounts in the same tier at all {streaks.n_reviews} reviews",
         always, np.nan, "accounts", "info"),
        ("under-resourcing", "share of key accounts without a QBR in the last 12 months",
         no_qbr, no_qbr_limit, "share", status(no_qbr, no_qbr_limit)),
        ("under-resourcing", "most key accounts handled by one account manager",
         load, np.nan, "accounts", "n/a" if np.isnan(load) else "info"),
    ]  # fmt: skip
    return pd.DataFrame(rows, columns=["mistake", "check", "value", "limit", "unit", "status"])


def _n(count: int, noun: str) -> str:
    """``"1 account"``, ``"2 accounts"``."""
    return f"{fmt.count(count)} {noun}" if count == 1 else f"{fmt.count(count)} {noun}s"


def _ids(index, k: int = 3) -> str:
    items = [str(i) for i in list(index)[:k]]
    more = len(index) - len(items)
    return ", ".join(items) + (f" and {more} more" if more > 0 else "")


def describe_review(
    *,
    cutoff,
    previous_cutoff,
    scored,
    changes: pd.DataFrame,
    checklist: pd.DataFrame,
    at_risk: AtRisk | None = None,
    value: ValueVsTier | None = None,
    additions: Additions | None = None,
    skipped: Mapping[str, str] | None = None,
    tier_col: str = "tier",
    designated: Sequence[str] = DESIGNATED,
) -> str:
    """The review in one paragraph (Markdown), every number taken from the inputs.

    Parameters
    ----------
    cutoff, previous_cutoff : date-like
        This review and the last one.
    scored : Scores, pandas.DataFrame or pandas.Series
        Tiers at this review.
    changes, checklist : pandas.DataFrame
        :func:`~kamlab.review.review_changes` and :func:`review_checklist` at this review.
    at_risk, value, additions : optional
        :func:`~kamlab.review.at_risk_accounts`, :func:`~kamlab.review.value_vs_tier` and
        :func:`~kamlab.review.model_additions`; None when the section could not be computed.
    skipped : mapping, optional
        Section name → reason, for the sections that could not be computed.

    Returns
    -------
    str

    Examples
    --------
    >>> from kamlab.review import review_changes, tier_streaks
    >>> now = pd.Series({"A": "strategic", "B": "key", "C": "regular", "D": "regular"})
    >>> before = pd.Series({"A": "strategic", "C": "key"})
    >>> changes = review_changes(before, now)
    >>> checks = review_checklist(now, size_scored=now, changes=changes,
    ...                           streaks=tier_streaks(now.to_frame("r1")), key_cap=0.5)
    >>> print(describe_review(cutoff="2024-07-01", previous_cutoff="2024-01-01", scored=now,
    ...                       changes=changes, checklist=checks))  # doctest: +ELLIPSIS
    Review as of 2024-07-01: 2 of 4 accounts are designated key or strategic (1 strategic). ...
    """
    keys = check_designated(designated)
    now = pd.Timestamp(cutoff).date().isoformat()
    before = pd.Timestamp(previous_cutoff).date().isoformat()
    tiers = as_tiers(scored, tier_col)
    n_key = int(tiers.isin(keys).sum())
    n_strat = int((tiers == "strategic").sum())
    touching = changes["designated_before"] | changes["designated_now"]
    counts = changes.loc[touching, "change"].astype(str).value_counts()
    entered = int((changes["designated_now"] & ~changes["designated_before"]).sum())
    left = int((changes["designated_before"] & ~changes["designated_now"]).sum())
    parts = [
        f"Review as of {now}: {fmt.count(n_key)} of {fmt.count(len(tiers))} accounts are "
        f"designated key or strategic ({fmt.count(n_strat)} strategic).",
        f"Since the review of {before}, {_n(entered, 'account')} entered the key list "
        f"and {fmt.count(left)} left it ({_n(int(counts.get('promoted', 0)), 'promotion')}, "
        f"{_n(int(counts.get('demoted', 0)), 'demotion')}, "
        f"{fmt.count(counts.get('new', 0))} new and {fmt.count(counts.get('lost', 0))} lost).",
    ]
    if at_risk is not None:
        flagged = at_risk.flagged
        parts.append(
            f"{_n(len(flagged), 'key account')} {'has' if len(flagged) == 1 else 'have'}"
            f" at least {fmt.estimate(at_risk.factor)} times the base churn risk"
            + (f": {_ids(flagged.index)}." if len(flagged) else ".")
        )
    if value is not None:
        table = value.table
        high = table[table["mismatch"] == "high-value regular"]
        low = table[table["mismatch"] == "low-value key"]
        parts.append(
            f"By CLV, {_n(len(high), 'regular account')} "
            f"{'ranks' if len(high) == 1 else 'rank'} among the {fmt.count(value.n_top)} most "
            f"valuable"
            + (f" ({_ids(high.index)})" if len(high) else "")
            + f" and {_n(len(low), 'key account')} {'is' if len(low) == 1 else 'are'} worth "
            f"less than the median account."
        )
    if additions is not None:
        first = additions.table.head(1)
        parts.append(
            f"Of the {fmt.count(additions.k)} accounts with the largest expected revenue gain, "
            f"{_n(len(additions.table), 'account')} {'is' if len(additions.table) == 1 else 'are'}"
            f" not on the key list"
            + (
                f", first {first.index[0]} (expected gain {fmt.money(first['expected_gain'].iloc[0])})."
                if len(first)
                else "."
            )
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
