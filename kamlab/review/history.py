"""How the key-account list moves between reviews: dates, migrations, changes, streaks.

Every function takes the review dates (or tables already measured at them) as arguments; none
picks a date itself: :meth:`kamlab.timeline.Timeline.review_dates` does.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from kamlab import fmt
from kamlab.tiers import DESIGNATED, TIER_DTYPE, TIERS, as_tiers, check_designated

__all__ = [
    "CHANGES",
    "Streaks",
    "describe_migration",
    "list_moves",
    "review_changes",
    "tier_history",
    "tier_migration",
    "tier_streaks",
]

#: Kinds of change between two reviews, in display order.
CHANGES = ("promoted", "demoted", "new", "lost", "unchanged")


def tier_history(panel: pd.DataFrame, rule_set, *, missing: str = "median") -> pd.DataFrame:
    """Tiers at successive review dates (is the key-account list set-and-forget?).

    Parameters
    ----------
    panel : pandas.DataFrame
        Features at every review date, indexed by ``(cutoff, account_id)``: one
        :func:`kamlab.features.feature_panel` over the review dates (outcomes are not used).
    rule_set : RuleSet or str
        Scored at each date with :func:`kamlab.criteria.score_accounts`.
    missing : str
        Missing-value policy of the scoring.

    Returns
    -------
    pandas.DataFrame
        Indexed by ``account_id``, one column of tiers (ordered categorical) per review date,
        oldest first, named by its ISO date; missing where the account was not in the
        portfolio at that date.

    Examples
    --------
    >>> panel = pd.DataFrame(
    ...     {"revenue_12m": [1.0, 9.0, 5.0, 2.0]},
    ...     index=pd.MultiIndex.from_tuples(
    ...         [("2024-01-01", "A"), ("2024-01-01", "B"), ("2024-07-01", "A"),
    ...          ("2024-07-01", "C")], names=["cutoff", "account_id"]))
    >>> rules = {"weights": {"revenue_contribution": 1}, "tiers": {"strategic": 0, "key": 0.5}}
    >>> tier_history(panel, rules)
               2024-01-01 2024-07-01
    account_id
    A             regular        key
    B                 key        NaN
    C                 NaN    regular
    """
    from kamlab.criteria import as_rule_set, score_accounts

    rule_set = as_rule_set(rule_set)
    if "cutoff" not in (panel.index.names or []):
        raise ValueError("panel must be indexed by (cutoff, account_id): use feature_panel")
    columns = {}
    for cutoff, frame in panel.groupby(level="cutoff", sort=True):
        features = frame.droplevel("cutoff")
        tiers = score_accounts(features, rule_set, missing=missing).table["tier"]
        columns[pd.Timestamp(cutoff).date().isoformat()] = tiers
    if not columns:
        raise ValueError("the panel has no review date")
    out = pd.DataFrame(columns)
    out.index.name = "account_id"
    return out.sort_index().apply(lambda s: s.astype(TIER_DTYPE))


def tier_migration(tiers_before, tiers_after) -> pd.DataFrame:
    """Transition table of tiers between two reviews.

    Parameters
    ----------
    tiers_before, tiers_after : Scores, pandas.DataFrame or pandas.Series
        Tiers by account at the earlier and the later review (:func:`kamlab.tiers.as_tiers`);
        missing values mean "not in the portfolio then".

    Returns
    -------
    pandas.DataFrame
        Counts with rows ``regular, key, strategic, (new)`` (tier at the first review; "(new)"
        for accounts only in the second) and columns ``regular, key, strategic, (gone)``
        ("(gone)" for accounts only in the first). Row sums over the tier rows equal the tier
        counts of ``tiers_before``; column sums over the tier columns those of ``tiers_after``.

    Examples
    --------
    >>> a = pd.Series({"A": "strategic", "B": "key", "C": "regular"})
    >>> b = pd.Series({"A": "key", "B": "key", "D": "regular"})
    >>> tier_migration(a, b)
    to         regular  key  strategic  (gone)
    from
    regular          0    0          0       1
    key              0    1          0       0
    strategic        0    1          0       0
    (new)            1    0          0       0
    """
    a, b = as_tiers(tiers_before).dropna(), as_tiers(tiers_after).dropna()
    ids = a.index.union(b.index)
    rows = a.reindex(ids).astype(object).fillna("(new)")
    cols = b.reindex(ids).astype(object).fillna("(gone)")
    table = pd.crosstab(
        pd.Categorical(rows, categories=[*TIERS, "(new)"]),
        pd.Categorical(cols, categories=[*TIERS, "(gone)"]),
        dropna=False,
    )
    table.index.name, table.columns.name = "from", "to"
    return table.astype(int)


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
    previous_scored, current_scored : Scores, pandas.DataFrame or pandas.Series
        Tiers at the previous and at this review, indexed by account; an account absent from
        one of them was not in the portfolio at that date.
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
        the higher of the two tiers (highest first), then by account.

    Examples
    --------
    >>> before = pd.Series({"A": "regular", "B": "key", "C": "key"})
    >>> now = pd.Series({"A": "key", "B": "key", "D": "regular"})
    >>> review_changes(before, now)["change"].astype(str).to_dict()
    {'A': 'promoted', 'D': 'new', 'C': 'lost', 'B': 'unchanged'}
    """
    keys = check_designated(designated)
    before, now = as_tiers(previous_scored, tier_col), as_tiers(current_scored, tier_col)
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
    order = np.lexsort(
        (out.index.astype(str).to_numpy(), -np.maximum(code_a, code_b), out["change"].cat.codes)
    )
    return out.iloc[order]


def list_moves(changes: pd.DataFrame) -> pd.DataFrame:
    """The rows of :func:`review_changes` that touch the key list: accounts designated at
    either review whose tier changed, or that joined or left the portfolio (columns
    ``previous_tier``, ``current_tier``, ``change``).

    Examples
    --------
    >>> before = pd.Series({"A": "regular", "B": "key", "C": "regular", "D": "key"})
    >>> now = pd.Series({"A": "key", "B": "key", "C": "regular"})
    >>> list_moves(review_changes(before, now))["change"].astype(str).to_dict()
    {'A': 'promoted', 'D': 'lost'}
    """
    touches = changes["designated_before"] | changes["designated_now"]
    rows = changes[touches & (changes["change"].astype(str) != "unchanged")]
    return rows[["previous_tier", "current_tier", "change"]]


def describe_migration(changes: pd.DataFrame, previous, current) -> str:
    """What moved between two reviews, in words (:func:`review_changes`).

    Parameters
    ----------
    changes : pandas.DataFrame
        :func:`review_changes` between the two reviews.
    previous, current : date-like
        The two review dates.

    Examples
    --------
    >>> before = pd.Series({"A": "regular", "B": "key", "C": "key", "D": "strategic"})
    >>> now = pd.Series({"A": "key", "B": "regular", "D": "strategic", "E": "regular"})
    >>> print(describe_migration(review_changes(before, now), "2024-07-01", "2025-01-01"))  # doctest: +NORMALIZE_WHITESPACE
    Of the 3 key or strategic accounts at 2024-07-01, 1 still is at 2025-01-01: 1 was demoted
    to regular and 1 left the portfolio. 1 regular account was promoted to the list; 1 account
    joined (regular). 2 of the 5 accounts changed tier: each is one a list fixed at 2024-07-01 would
    have got wrong at 2025-01-01.
    """
    previous, current = (pd.Timestamp(d).date().isoformat() for d in (previous, current))
    change = changes["change"].astype(str)
    before = changes["designated_before"].astype(bool)
    now = changes["designated_now"].astype(bool)
    stayed = int((before & now).sum())
    demoted = int((before & (change == "demoted") & ~now).sum())
    lost = int((before & (change == "lost")).sum())
    promoted = int(((change == "promoted") & ~before & now).sum())
    new = changes[change == "new"]
    parts = []
    if before.any():
        detail = []
        if demoted:
            detail.append(
                f"{fmt.count(demoted)} {'was' if demoted == 1 else 'were'} demoted to regular"
            )
        if lost:
            detail.append(f"{fmt.count(lost)} left the portfolio")
        parts.append(
            f"Of the {fmt.count(before.sum())} key or strategic accounts at {previous}, "
            f"{fmt.count(stayed)} still {'is' if stayed == 1 else 'are'} at {current}"
            + (": " + " and ".join(detail) if detail else "")
            + "."
        )
    else:
        parts.append(f"No account was key or strategic at {previous}.")
    up = int(((change == "promoted") & before & now).sum())
    down = int(((change == "demoted") & before & now).sum())
    moves = []
    if promoted:
        moves.append(
            f"{fmt.count(promoted)} regular account{' was' if promoted == 1 else 's were'} "
            "promoted to the list"
        )
    if len(new):
        tiers = new["current_tier"].astype(str).value_counts()
        moves.append(
            f"{fmt.count(len(new))} account{'' if len(new) == 1 else 's'} joined ("
            + ", ".join(
                f"{t}" if len(tiers) == 1 and n == len(new) else f"{fmt.count(n)} {t}"
                for t, n in tiers.items()
            )
            + ")"
        )
    if moves:
        text = "; ".join(moves)
        parts.append(text[:1].upper() + text[1:] + ".")
    if up or down:
        parts.append(
            f"Within the list {fmt.count(up)} key account{'' if up == 1 else 's'} moved up to "
            f"strategic and {fmt.count(down)} strategic down to key."
        )
    moved = int(change.isin(["promoted", "demoted"]).sum())
    if moved:
        parts.append(
            f"{fmt.count(moved)} of the {fmt.count(len(changes))} accounts changed tier: each is "
            f"one a list fixed at {previous} would have got wrong at {current}."
        )
    else:
        parts.append(f"No account changed tier between {previous} and {current}.")
    return " ".join(parts)


@dataclass(frozen=True)
class Streaks:
    """How long each account has held its tier (:func:`tier_streaks`).

    Attributes
    ----------
    table : pandas.DataFrame
        Accounts present at the latest review: ``tier`` (latest), ``reviews_in_tier``
        (consecutive reviews ending at the latest with that same tier), ``reviews_designated``
        (consecutive reviews ending at the latest designated, 0 for regular accounts) and
        ``always`` (true when the account held its tier at every review).
    n_reviews : int
        Reviews compared.
    """

    table: pd.DataFrame
    n_reviews: int


def tier_streaks(history: pd.DataFrame, *, designated: Sequence[str] = DESIGNATED) -> Streaks:
    """How many consecutive reviews, up to the latest, each account has kept its tier.

    Parameters
    ----------
    history : pandas.DataFrame
        Tiers by account (rows) and review (columns, oldest first), e.g.
        :func:`tier_history`; missing = not in the portfolio then.

    Returns
    -------
    Streaks

    Examples
    --------
    >>> history = pd.DataFrame(
    ...     {"r1": ["key", "regular"], "r2": ["key", "key"]}, index=["A", "B"])
    >>> streaks = tier_streaks(history)
    >>> streaks.table["reviews_in_tier"].tolist(), streaks.n_reviews
    ([2, 1], 2)
    """
    keys = check_designated(designated)
    if history.shape[1] == 0:
        raise ValueError("history has no review column")
    tiers = history.apply(lambda s: s.astype(TIER_DTYPE)).astype(object)
    latest = tiers.iloc[:, -1].dropna()
    values = tiers.loc[latest.index].to_numpy(dtype=object)[:, ::-1]
    same = values == latest.to_numpy()[:, None]
    held = np.where(same.all(axis=1), same.shape[1], same.argmin(axis=1))
    desig = np.isin(values, keys)
    kept = np.where(desig.all(axis=1), desig.shape[1], desig.argmin(axis=1))
    table = pd.DataFrame(
        {
            "tier": latest.astype(TIER_DTYPE),
            "reviews_in_tier": held.astype(int),
            "reviews_designated": kept.astype(int),
            "always": held == same.shape[1],
        },
        index=latest.index,
    )
    table.index.name = history.index.name or "account_id"
    return Streaks(table=table, n_reviews=int(history.shape[1]))
