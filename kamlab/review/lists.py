"""The lists a review acts on: key accounts at risk, tiers that disagree with value, and the
accounts with the largest expected revenue gain that the key list leaves off.

Each is a pure function of small tables measured before the review date (tiers, churn
probabilities, CLV, predicted growth); nothing here reads an outcome. Every ranking is
:func:`kamlab.tiers.rank_accounts` (highest first, ties by account id).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from kamlab.tiers import DESIGNATED, as_tiers, check_designated, order_accounts, rank_accounts

__all__ = [
    "MISMATCHES",
    "Additions",
    "AtRisk",
    "ValueVsTier",
    "at_risk_accounts",
    "model_additions",
    "value_vs_tier",
]

#: Kinds of disagreement between tier and value, in display order.
MISMATCHES = ("high-value regular", "low-value key")


# --------------------------------------------------------------------------------- at risk
@dataclass(frozen=True)
class AtRisk:
    """Designated accounts ranked by churn probability (:func:`at_risk_accounts`).

    Attributes
    ----------
    table : pandas.DataFrame
        Indexed by ``account_id``: ``tier``, ``churn_probability``, ``relative_risk``
        (probability / base rate) and ``at_risk``; highest probability first.
    base_rate : float
        The churn rate the probabilities are compared with.
    factor : float
        ``at_risk`` is ``churn_probability >= factor * base_rate``.
    missing : int
        Designated accounts without a probability (not ranked).
    """

    table: pd.DataFrame
    base_rate: float
    factor: float
    missing: int

    @property
    def flagged(self) -> pd.DataFrame:
        """The rows flagged ``at_risk``."""
        return self.table[self.table["at_risk"]]


def at_risk_accounts(
    scored,
    churn_probability: pd.Series,
    *,
    base_rate: float,
    factor: float = 2.0,
    tier_col: str = "tier",
    designated: Sequence[str] = DESIGNATED,
) -> AtRisk:
    """Designated accounts ranked by churn probability, flagged when well above the base rate.

    Parameters
    ----------
    scored : Scores, pandas.DataFrame or pandas.Series
        Tiers per account at the review.
    churn_probability : pandas.Series
        Calibrated churn probability per account (from a model trained before the review).
    base_rate : float
        The churn rate the probabilities are compared with (e.g. the training rate), in (0, 1].
    factor : float
        ``at_risk`` is true when the probability is at least ``factor × base_rate``.

    Returns
    -------
    AtRisk

    Examples
    --------
    >>> tiers = pd.Series({"A": "key", "B": "strategic", "C": "regular", "D": "key"})
    >>> proba = pd.Series({"A": 0.10, "B": 0.30, "C": 0.90, "D": 0.10})
    >>> risk = at_risk_accounts(tiers, proba, base_rate=0.1)
    >>> risk.table.index.tolist(), risk.flagged.index.tolist()
    (['B', 'A', 'D'], ['B'])
    """
    keys = check_designated(designated)
    if not 0 < base_rate <= 1:
        raise ValueError(f"base_rate must be in (0, 1], got {base_rate}")
    if factor <= 0:
        raise ValueError(f"factor must be positive, got {factor}")
    tiers = as_tiers(scored, tier_col)
    proba = churn_probability.reindex(tiers.index).astype(float)
    is_key = tiers.isin(keys)
    keep = is_key & proba.notna()
    table = pd.DataFrame({"tier": tiers[keep], "churn_probability": proba[keep]})
    table["relative_risk"] = table["churn_probability"] / base_rate
    table["at_risk"] = table["churn_probability"] >= factor * base_rate
    table.index.name = "account_id"
    table = table.loc[order_accounts(table["churn_probability"])]
    missing = int((is_key & proba.isna()).sum())
    return AtRisk(table=table, base_rate=float(base_rate), factor=float(factor), missing=missing)


# --------------------------------------------------------------------------------- value
@dataclass(frozen=True)
class ValueVsTier:
    """Do the key accounts hold the highest expected value (:func:`value_vs_tier`)?

    Attributes
    ----------
    table : pandas.DataFrame
        The mismatched accounts, indexed by ``account_id``: ``tier``, ``value``,
        ``value_rank`` (1 = highest), ``value_percentile`` (share of the accounts valued at or
        below it) and ``mismatch`` (one of :data:`MISMATCHES`); high-value regular accounts
        first (highest value first), then low-value key accounts (lowest first).
    n : int
        Accounts with both a tier and a value.
    n_top : int
        Accounts counted as high value (the top ``top_share``).
    low_threshold : float
        The value below which a designated account is low value.
    missing_value : int
        Accounts with a tier but no value (left out, counted here).
    key_share_all, key_share_top : float
        Share of designated accounts overall and among the ``n_top`` most valuable.
    lift : float
        ``key_share_top / key_share_all`` (1 = the key list is no better than chance at
        holding the most valuable accounts).
    value_share_key : float
        Share of the total value held by designated accounts.
    spearman, spearman_p : float
        Rank correlation of value with the rule score and its p-value (NaN without a score or
        with fewer than 3 accounts).
    """

    table: pd.DataFrame
    n: int
    n_top: int
    low_threshold: float
    missing_value: int
    key_share_all: float
    key_share_top: float
    lift: float
    value_share_key: float
    spearman: float
    spearman_p: float


def value_vs_tier(
    scored,
    value: pd.Series,
    *,
    top_share: float | None = None,
    low_quantile: float = 0.5,
    tier_col: str = "tier",
    score_col: str = "score",
    designated: Sequence[str] = DESIGNATED,
) -> ValueVsTier:
    """How well the tiers agree with expected value (CLV), and which accounts disagree.

    Two kinds of mismatch:

    * ``high-value regular``: a regular account among the ``top_share`` of accounts by value
      (the list a value ranking of the same length would designate);
    * ``low-value key``: a designated account whose value is below the ``low_quantile`` of
      the values (default: below the median account).

    Parameters
    ----------
    scored : Scores, pandas.DataFrame or pandas.Series
        Tiers (and, for the rank correlation, ``score``) per account at the review.
    value : pandas.Series
        Expected value per account (e.g. :func:`kamlab.clv.customer_lifetime_value`).
    top_share : float, optional
        Share of accounts counted as high value; default the share of designated accounts.
    low_quantile : float
        Quantile of value below which a designated account is low value.

    Returns
    -------
    ValueVsTier

    Examples
    --------
    >>> scored = pd.DataFrame({
    ...     "score": [9.0, 1, 8, 7, 2, 3, 6, 5, 4, 0],
    ...     "tier": ["strategic", "regular", "key", "key"] + ["regular"] * 6},
    ...     index=list("abcdefghij"))
    >>> value = pd.Series([100.0, 90, 80, 10, 5, 1, 50, 40, 30, 20], index=list("abcdefghij"))
    >>> result = value_vs_tier(scored, value, top_share=0.2)
    >>> result.table["mismatch"].to_dict()
    {'b': 'high-value regular', 'd': 'low-value key'}
    >>> result.n_top, round(result.lift, 4), round(result.value_share_key, 4)
    (2, 1.6667, 0.446)
    """
    keys = check_designated(designated)
    if not 0 < low_quantile < 1:
        raise ValueError(f"low_quantile must be in (0, 1), got {low_quantile}")
    tiers = as_tiers(scored, tier_col)
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
    rank = rank_accounts(vals)
    top = rank <= n_top
    low = float(vals.quantile(low_quantile))
    high_regular = top & ~is_key
    low_key = is_key & (vals < low)
    table = pd.DataFrame(
        {
            "tier": tiers,
            "value": vals,
            "value_rank": rank,
            "value_percentile": vals.rank(method="max") / n,
            "mismatch": np.select([high_regular, low_key], list(MISMATCHES), ""),
        }
    )
    table = table[high_regular | low_key]
    table.index.name = "account_id"
    kind = (table["mismatch"] == MISMATCHES[1]).to_numpy()
    order = np.lexsort((np.where(kind, -table["value_rank"], table["value_rank"]), kind))
    table = table.iloc[order]

    total = float(vals.sum())
    share_all = float(is_key.mean())
    share_top = float(is_key[top].mean())
    rho = p = np.nan
    frame = getattr(scored, "table", scored)
    if isinstance(frame, pd.DataFrame) and score_col in frame and n >= 3:
        from scipy.stats import spearmanr

        result = spearmanr(vals, frame[score_col].reindex(vals.index).astype(float))
        rho, p = float(result.statistic), float(result.pvalue)
    return ValueVsTier(
        table=table,
        n=n,
        n_top=n_top,
        low_threshold=low,
        missing_value=int((~ok).sum()),
        key_share_all=share_all,
        key_share_top=share_top,
        lift=share_top / share_all if share_all > 0 else np.nan,
        value_share_key=float(vals[is_key].sum()) / total if total else np.nan,
        spearman=rho,
        spearman_p=p,
    )


# --------------------------------------------------------------------------------- growth
@dataclass(frozen=True)
class Additions:
    """Growth candidates the key list leaves off (:func:`model_additions`).

    Attributes
    ----------
    table : pandas.DataFrame
        Accounts among the ``k`` largest expected gains that are not designated, indexed by
        ``account_id``: ``predicted_growth``, ``base_revenue``, ``expected_gain``,
        ``gain_rank`` (1 = largest gain; ties by account), ``tier`` and, when the scored table
        has it, ``rule_rank``; largest gain first.
    k : int
        Length of the gain-ranked list.
    overlap : int
        Designated accounts also among the ``k`` largest gains.
    n_designated : int
        Designated accounts.
    missing : int
        Accounts with a tier but no prediction or base revenue (not ranked).
    """

    table: pd.DataFrame
    k: int
    overlap: int
    n_designated: int
    missing: int


def model_additions(
    scored,
    predicted_growth: pd.Series,
    base_revenue: pd.Series,
    k: int | None = None,
    *,
    outcome: str = "growth_dh",
    tier_col: str = "tier",
    rank_col: str = "rank",
    designated: Sequence[str] = DESIGNATED,
) -> Additions:
    """Accounts with the largest expected revenue *gain* that the rule set leaves off the list.

    A model of relative growth favours small accounts (doubling 960 a year is a gain of 960);
    a key-account lead asks where the most revenue is to be won. So the candidates are ranked
    by the expected absolute gain over the horizon, :func:`kamlab.growth.expected_gain` of the
    predicted growth and the account's revenue in the base window.

    Parameters
    ----------
    scored : Scores, pandas.DataFrame or pandas.Series
        Rule-based tiers (and ``rank``, when present) per account at the review.
    predicted_growth : pandas.Series
        The learned model's predicted growth per account (e.g.
        :meth:`kamlab.growth.LearnedScorer.score`), in the units of ``outcome``.
    base_revenue : pandas.Series
        Revenue per account over the ``horizon_days`` before the review (the base the growth
        is relative to: the features' ``base_revenue``).
    k : int, optional
        Length of the gain-ranked list; default the number of designated accounts.
    outcome : {"growth_dh", "log_growth"}
        What ``predicted_growth`` measures.

    Returns
    -------
    Additions

    Examples
    --------
    >>> tiers = pd.DataFrame({"tier": ["key", "regular", "regular", "strategic"],
    ...                       "rank": [1, 3, 4, 2]}, index=list("ABCD"))
    >>> growth = pd.Series({"A": 0.1, "B": 1.0, "C": 0.2, "D": 0.0})
    >>> base = pd.Series({"A": 1000.0, "B": 10.0, "C": 5000.0, "D": 2000.0})
    >>> additions = model_additions(tiers, growth, base)
    >>> additions.table[["expected_gain", "gain_rank", "rule_rank"]].round(1)
                expected_gain  gain_rank  rule_rank
    account_id
    C                  1111.1          1          4
    """
    from kamlab.growth import expected_gain

    keys = check_designated(designated)
    tiers = as_tiers(scored, tier_col)
    gain = expected_gain(
        predicted_growth.reindex(tiers.index), base_revenue.reindex(tiers.index), outcome=outcome
    )
    known = gain.notna()
    is_key = tiers.isin(keys)
    n_key = int(is_key.sum())
    k = n_key if k is None else int(k)
    if k < 1:
        raise ValueError(f"k must be at least 1, got {k}")
    rank = rank_accounts(gain[known])
    top = rank.index[rank <= k]
    additions = top[~is_key.reindex(top).to_numpy()]
    table = pd.DataFrame(
        {
            "predicted_growth": predicted_growth.reindex(additions).astype(float),
            "base_revenue": base_revenue.reindex(additions).astype(float),
            "expected_gain": gain[additions],
            "gain_rank": rank[additions],
            "tier": tiers[additions],
        }
    )
    frame = getattr(scored, "table", scored)
    if isinstance(frame, pd.DataFrame) and rank_col in frame:
        table["rule_rank"] = frame.loc[additions, rank_col]
    table.index.name = "account_id"
    table = table.sort_values("gain_rank", kind="stable")
    return Additions(
        table=table,
        k=k,
        overlap=int(is_key.reindex(top).sum()),
        n_designated=n_key,
        missing=int((~known).sum()),
    )
