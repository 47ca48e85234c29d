"""Ranking and tiering under caps: the one rule for "who is on the key-account list".

Ranking
    :func:`rank_accounts` and :func:`order_accounts` rank accounts by a value, **highest first,
    ties broken by account id** (ascending, compared as text), missing values last. The result
    does not depend on the order of the rows, so the same data give the same list on every
    machine. Every ranking in kamlab (scores, value, churn risk, learned scores, the back-test's
    top-k selection) uses it.

Tiers (ordered categorical ``regular < key < strategic``, :data:`TIER_DTYPE`)
    :func:`assign_tiers` with ``method="cap"`` (default): the caps are *cumulative* shares of
    the accounts ranked. The ``floor(strategic · n)`` best accounts are ``strategic`` and the
    ``floor(key · n)`` best are ``key`` **or** ``strategic``, so the designated list (key +
    strategic) holds at most ``key · n`` accounts (:func:`cap_counts`).

    Why floor, not round: the seed documents phrase the caps as limits ("at most 3 % of
    accounts are strategic, at most 15 % key or strategic"), and a limit must hold at every
    portfolio size. Rounding breaks it: with 244 accounts ``round(0.15 · 244) = 37`` accounts
    would be 15.2 %, while ``floor`` gives 36 (14.8 %). The price of floor is that a small
    portfolio may have no strategic account at all (fewer than 34 accounts at 3 %); that is
    what the cap says.

    ``method="threshold"``: strategic when ``score ≥ strategic``, key when ``score ≥ key``.

The default caps, :data:`STRATEGIC_CAP` and :data:`KEY_CAP`, are defined here and nowhere
else: rule sets without a ``tiers`` entry, the review checklist and the back-test's list length
take them from this module.

>>> scores = pd.Series({"A": 0.9, "B": 0.4, "C": 0.9, "D": 0.1})
>>> rank_accounts(scores).to_dict()
{'A': 1, 'B': 3, 'C': 2, 'D': 4}
>>> assign_tiers(scores, strategic=0.25, key=0.5).astype(str).to_dict()
{'A': 'strategic', 'B': 'regular', 'C': 'key', 'D': 'regular'}
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
import pandas as pd

from kamlab import fmt

__all__ = [
    "DESIGNATED",
    "KEY_CAP",
    "STRATEGIC_CAP",
    "TIERS",
    "TIER_DTYPE",
    "TierRuleError",
    "as_tiers",
    "assign_tiers",
    "cap_counts",
    "check_designated",
    "check_tier_rule",
    "describe_tiers",
    "order_accounts",
    "rank_accounts",
    "tier_overview",
]

#: Tiers from lowest to highest.
TIERS = ("regular", "key", "strategic")
#: Tiers that make an account a designated key account.
DESIGNATED = ("key", "strategic")
#: The dtype of every tier column: ordered, so ``tier >= "key"`` selects the designated list.
TIER_DTYPE = pd.CategoricalDtype(list(TIERS), ordered=True)
#: At most this share of accounts is strategic.
STRATEGIC_CAP = 0.03
#: At most this share of accounts is key or strategic (the cap is cumulative).
KEY_CAP = 0.15
METHODS = ("cap", "threshold")


# --------------------------------------------------------------------------------- ranking
def _positions(values: pd.Series) -> np.ndarray:
    """Row positions sorted by value descending, ties by account id, missing values last."""
    key = -pd.to_numeric(values, errors="coerce").to_numpy(dtype=float)
    key = np.where(np.isnan(key), np.inf, key)
    ids = values.index.astype(str).to_numpy()
    return np.lexsort((ids, key))  # the last key is the primary one


def order_accounts(values: pd.Series) -> pd.Index:
    """The accounts (index of ``values``) from the highest value to the lowest.

    Ties are broken by account id (as text, ascending); missing values come last.

    Examples
    --------
    >>> order_accounts(pd.Series({"b": 1.0, "a": 1.0, "c": np.nan, "d": 2.0})).tolist()
    ['d', 'a', 'b', 'c']
    """
    return values.index[_positions(values)]


def rank_accounts(values: pd.Series) -> pd.Series:
    """Rank 1 for the highest value, ties broken by account id, missing values last.

    Returns
    -------
    pandas.Series
        Integer ranks ``1 … n`` indexed like ``values`` and named ``rank``.

    Examples
    --------
    >>> rank_accounts(pd.Series({"b": 1.0, "a": 1.0, "c": np.nan, "d": 2.0})).tolist()
    [3, 2, 4, 1]
    """
    rank = np.empty(len(values), dtype=np.int64)
    rank[_positions(values)] = np.arange(1, len(values) + 1)
    return pd.Series(rank, index=values.index, name="rank")


# --------------------------------------------------------------------------------- tiers
class TierRuleError(ValueError):
    """A tier rule is malformed; ``parameter`` names the offending one (``method``,
    ``strategic`` or ``key``)."""

    def __init__(self, parameter: str, message: str):
        super().__init__(f"{parameter}: {message}")
        self.parameter = parameter


def check_tier_rule(method: str, strategic: float, key: float) -> None:
    """Raise :class:`TierRuleError` unless the rule is well formed.

    Caps are shares in [0, 1] with ``strategic <= key`` (cumulative); thresholds need
    ``strategic >= key``.

    Examples
    --------
    >>> check_tier_rule("cap", 0.2, 0.1)
    Traceback (most recent call last):
    ...
    kamlab.tiers.TierRuleError: strategic: cap 0.2 exceeds the key cap 0.1 (caps are cumulative: key includes strategic)
    """
    if method not in METHODS:
        raise TierRuleError("method", f"must be 'cap' or 'threshold', got {method!r}")
    for name, value in (("strategic", strategic), ("key", key)):
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise TierRuleError(name, f"must be a number, got {value!r}")
        if not math.isfinite(value):
            raise TierRuleError(name, f"must be a number, got {value!r}")
        if method == "cap" and not 0 <= value <= 1:
            raise TierRuleError(name, f"a cap is a share of accounts in [0, 1], got {value!r}")
    if method == "cap" and strategic > key:
        raise TierRuleError(
            "strategic",
            f"cap {strategic} exceeds the key cap {key} (caps are cumulative: key includes "
            f"strategic)",
        )
    if method == "threshold" and strategic < key:
        raise TierRuleError("strategic", f"threshold {strategic} is below the key threshold {key}")


def cap_counts(n: int, strategic: float = STRATEGIC_CAP, key: float = KEY_CAP) -> tuple[int, int]:
    """How many of ``n`` accounts the caps allow: ``(strategic, key or strategic)``.

    ``floor(cap · n)``, with a tolerance of 1e-9 so that ``0.15 · 100`` is 15 despite floating
    point.

    Examples
    --------
    >>> cap_counts(244)
    (7, 36)
    """
    check_tier_rule("cap", strategic, key)
    return int(math.floor(strategic * n + 1e-9)), int(math.floor(key * n + 1e-9))


def assign_tiers(
    score: pd.Series,
    *,
    strategic: float = STRATEGIC_CAP,
    key: float = KEY_CAP,
    method: str = "cap",
) -> pd.Series:
    """Tier every account from its score.

    Parameters
    ----------
    score : pandas.Series
        One score per account (higher = more deserving), indexed by account id.
    strategic, key : float
        Caps (cumulative shares of accounts, ``method="cap"``) or score thresholds
        (``method="threshold"``).
    method : {"cap", "threshold"}

    Returns
    -------
    pandas.Series
        Ordered categorical (:data:`TIER_DTYPE`) named ``tier``, indexed like ``score``.
        Under caps the accounts are ranked by :func:`rank_accounts` (ties by account id; a
        missing score ranks last); under thresholds a missing score is ``regular``.

    Examples
    --------
    >>> s = pd.Series(np.arange(40.0), index=[f"A{i:02d}" for i in range(40)])
    >>> assign_tiers(s).value_counts().to_dict()
    {'regular': 34, 'key': 5, 'strategic': 1}
    """
    check_tier_rule(method, strategic, key)
    if method == "threshold":
        values = pd.to_numeric(score, errors="coerce").to_numpy(dtype=float)
        labels = np.select([values >= strategic, values >= key], ["strategic", "key"], "regular")
    else:
        n_strategic, n_designated = cap_counts(len(score), strategic, key)
        position = rank_accounts(score).to_numpy() - 1
        labels = np.select(
            [position < n_strategic, position < n_designated], ["strategic", "key"], "regular"
        )
    return pd.Series(labels, index=score.index, name="tier").astype(TIER_DTYPE)


def as_tiers(scored, tier_col: str = "tier") -> pd.Series:
    """Tiers as an ordered categorical Series, from a :class:`kamlab.criteria.Scores` result,
    a frame with a tier column, or a Series of tier names.

    Examples
    --------
    >>> as_tiers(pd.Series({"A": "key"})).dtype == TIER_DTYPE
    True
    """
    table = getattr(scored, "table", scored)
    if isinstance(table, pd.DataFrame):
        if tier_col not in table:
            raise ValueError(f"the scored table has no {tier_col!r} column")
        table = table[tier_col]
    tiers = pd.Series(table)
    unknown = sorted(set(tiers.dropna().astype(str)) - set(TIERS))
    if unknown:
        rows = tiers.index[tiers.astype(str).isin(unknown)][:5].tolist()
        raise ValueError(
            f"unknown tier(s) {unknown} (accounts {rows}); tiers are {', '.join(TIERS)}"
        )
    return tiers.astype(TIER_DTYPE)


def check_designated(designated: Sequence[str]) -> list[str]:
    """``designated`` as a list, or a ``ValueError`` unless it is a non-empty subset of
    :data:`TIERS`."""
    bad = [t for t in designated if t not in TIERS]
    if bad or not designated:
        raise ValueError(f"designated must be a non-empty subset of {TIERS}, got {designated!r}")
    return list(designated)


def tier_overview(scored, revenue: pd.Series, *, tier_col: str = "tier") -> pd.DataFrame:
    """Accounts and revenue per tier: the one table of "how big is each tier".

    Parameters
    ----------
    scored : Scores, pandas.DataFrame or pandas.Series
        Tiers per account (:func:`as_tiers`); when it has a ``score`` column, the lowest score
        of each tier is shown too.
    revenue : pandas.Series
        Revenue per account (e.g. ``revenue_12m``); negative totals count as 0 and accounts
        without a value as 0.

    Returns
    -------
    pandas.DataFrame
        One row per tier (``regular, key, strategic``) and a ``total`` row: ``accounts``,
        ``account_share``, ``revenue``, ``revenue_share`` (and ``min_score``).

    Examples
    --------
    >>> tiers = pd.Series({"A": "regular", "B": "regular", "C": "key", "D": "strategic"})
    >>> revenue = pd.Series({"A": 10.0, "B": -5.0, "C": 30.0, "D": 60.0})
    >>> tier_overview(tiers, revenue)[["accounts", "revenue_share"]]
               accounts  revenue_share
    tier
    regular           2            0.1
    key               1            0.3
    strategic         1            0.6
    total             4            1.0
    """
    tiers = as_tiers(scored, tier_col)
    money = revenue.reindex(tiers.index).fillna(0.0).clip(lower=0.0).astype(float)
    grouped = money.groupby(tiers, observed=False).agg(["size", "sum"]).reindex(list(TIERS))
    out = pd.DataFrame(
        {
            "accounts": grouped["size"].fillna(0).astype(int).tolist() + [len(tiers)],
            "revenue": grouped["sum"].fillna(0.0).tolist() + [float(money.sum())],
        },
        index=pd.Index([*TIERS, "total"], name="tier"),
    )
    n, total = len(tiers), float(money.sum())
    out.insert(1, "account_share", out["accounts"] / n if n else np.nan)
    out["revenue_share"] = out["revenue"] / total if total > 0 else np.nan
    table = getattr(scored, "table", scored)
    if isinstance(table, pd.DataFrame) and "score" in table:
        lowest = table["score"].groupby(tiers, observed=False).min().reindex(list(TIERS))
        out["min_score"] = [*lowest.tolist(), float(table["score"].min())]
    return out


def describe_tiers(
    overview: pd.DataFrame, *, strategic: float = STRATEGIC_CAP, key: float = KEY_CAP
) -> str:
    """How many accounts each tier holds under the caps and how much revenue they bring, in
    words (:func:`tier_overview` with its ``total`` row).

    Examples
    --------
    >>> tiers = pd.Series(["strategic"] + ["key"] * 5 + ["regular"] * 34)
    >>> revenue = pd.Series([50.0] + [20.0] * 5 + [1.0] * 34)
    >>> print(describe_tiers(tier_overview(tiers, revenue)))  # doctest: +NORMALIZE_WHITESPACE
    Of 40 accounts, 1 is strategic (the 3% cap allows 1) and 5 are key (key and strategic
    together at most 15%, 6 accounts). The 6 designated accounts bring 81.5% of the revenue;
    the 34 regular accounts (85.0% of accounts) bring 18.5%.
    """
    total = overview.loc["total"]
    n = int(total["accounts"])
    n_strategic, n_designated = cap_counts(n, strategic, key)
    s_count, k_count = (
        int(overview.loc["strategic", "accounts"]),
        int(overview.loc["key", "accounts"]),
    )
    designated = s_count + k_count
    share = overview.loc[list(DESIGNATED), "revenue_share"].sum()
    regular = overview.loc["regular"]
    return (
        f"Of {fmt.count(n)} accounts, {fmt.count(s_count)} {'is' if s_count == 1 else 'are'} "
        f"strategic (the {fmt.share(strategic, 0)} cap allows {fmt.count(n_strategic)}) and "
        f"{fmt.count(k_count)} {'is' if k_count == 1 else 'are'} key (key and strategic "
        f"together at most {fmt.share(key, 0)}, {fmt.count(n_designated)} accounts). The "
        f"{fmt.count(designated)} designated accounts bring {fmt.share(share)} of the revenue; "
        f"the {fmt.count(regular['accounts'])} regular accounts "
        f"({fmt.share(regular['account_share'])} of accounts) bring "
        f"{fmt.share(regular['revenue_share'])}."
    )
