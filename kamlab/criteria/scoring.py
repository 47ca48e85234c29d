"""Scores, tiers, types and selection-matrix quadrants of accounts under a rule set.

Scoring (:func:`contributions`, :func:`score_accounts`)
    1. Each criterion's raw value is multiplied by its direction and normalised across the
       accounts scored together (the portfolio at one cutoff):

       * ``rank`` (default): centred percentile rank ``(rank − 0.5) / n_observed − 0.5`` in
         (−0.5, 0.5), ties sharing their average rank;
       * ``robust_z``: ``(x − median) / (1.4826 · MAD)`` clipped to [−3, 3] (0 where MAD = 0).

       Both put the portfolio median at 0.
    2. Weights are divided by the sum of the weights of the *available* criteria, so they sum
       to 1. A criterion is unavailable when its column is absent from the features or has no
       observed value at all (e.g. ``ease_of_buying`` on the synthetic sample): it is left out,
       reported in :attr:`Scores.unavailable` and in :func:`coverage`, never scored as 0.
    3. contribution = normalised weight × normalised value; score = the row sum of the
       contributions (so every score is explained exactly by its contributions).

Missing values (an account without a value for an available criterion), ``missing=``:
    ``"median"`` (default): imputed at the portfolio median, i.e. normalised value 0, a neutral
    contribution; ``"worst"``: imputed at the lowest observed normalised value (no evidence, no
    credit); ``"raise"``: a ``ValueError`` naming the criteria and counts. Imputations are
    counted per criterion in :attr:`Scores.imputed` and per account in ``n_imputed``.

Rank and tiers
    :func:`kamlab.tiers.rank_accounts` and :func:`kamlab.tiers.assign_tiers` (caps floor the
    allowed counts; ties broken by account id).

Types (:data:`TYPES`)
    Revenue contribution × growth potential quadrant on the *raw* values: revenue is high above
    its ``revenue_split`` quantile (default 0.8: the top 20 %), growth is high above its
    ``growth_split`` quantile (default 0.5: above the median). High/high → strategic,
    low/high → high-growth, high/low → stable, low/low → tactical. An account with no growth
    value counts as low growth (counted in :attr:`Scores.type_growth_missing`).

Selection matrix (rule sets with ``axes``)
    The axes ``attractiveness`` and ``strength`` partition the weighted criteria; each axis is
    the sum of its criteria's contributions (so ``score = attractiveness + strength``), and the
    quadrant splits each axis at its median: strategic (high, high), star (high attractiveness,
    low strength), status (low attractiveness, high strength), streamline (low, low).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from kamlab.criteria.rules import RuleSet, as_rule_set
from kamlab.tiers import assign_tiers, rank_accounts

__all__ = ["MISSING", "QUADRANTS", "TYPES", "Scores", "contributions", "coverage", "score_accounts"]

TYPES = ("strategic", "high-growth", "stable", "tactical")
QUADRANTS = ("strategic", "star", "status", "streamline")
MISSING = ("median", "worst", "raise")


def _normalise(values: pd.Series, method: str) -> pd.Series:
    """Centred normalisation of observed values (NaN stays NaN); the median maps to 0."""
    observed = values.dropna()
    out = pd.Series(np.nan, index=values.index, dtype=float)
    if observed.empty:
        return out
    if method == "rank":
        ranks = observed.rank(method="average")
        out.loc[observed.index] = (ranks - 0.5) / len(observed) - 0.5
    else:
        median = observed.median()
        mad = 1.4826 * (observed - median).abs().median()
        z = (observed - median) / mad if mad > 0 else observed * 0.0
        out.loc[observed.index] = z.clip(-3.0, 3.0)
    return out


def _availability(features: pd.DataFrame, rule_set: RuleSet):
    available, unavailable = [], []
    for crit in rule_set.criteria:
        col = crit.column
        if col in features and features[col].notna().any():
            available.append(crit)
        else:
            unavailable.append(crit.id)
    if not available:
        raise ValueError(
            f"rule set {rule_set.name!r}: none of its criteria is available in "
            f"the features (missing: {', '.join(unavailable)})"
        )
    return available, unavailable


@dataclass(frozen=True)
class _Contributions:
    table: pd.DataFrame
    weights: dict[str, float]
    unavailable: tuple[str, ...]
    imputed: dict[str, int]
    missing_mask: pd.DataFrame


def _contributions(features: pd.DataFrame, rule_set: RuleSet, missing: str) -> _Contributions:
    if missing not in MISSING:
        raise ValueError(f"missing must be one of {', '.join(MISSING)}, not {missing!r}")
    if features.index.has_duplicates:
        dup = features.index[features.index.duplicated()].unique()[:5].tolist()
        raise ValueError(f"features must have one row per account; duplicated: {dup}")
    available, unavailable = _availability(features, rule_set)
    total = sum(rule_set.weights[c.id] for c in available)
    raw = {
        c.id: pd.to_numeric(features[c.column], errors="coerce").astype(float) for c in available
    }
    missing_mask = pd.DataFrame({c: v.isna() for c, v in raw.items()}, index=features.index)
    imputed = {c: int(n) for c, n in missing_mask.sum().items()}
    if missing == "raise" and any(imputed.values()):
        raise ValueError(
            f"rule set {rule_set.name!r}: missing values with missing='raise': "
            + ", ".join(f"{k} ({v} accounts)" for k, v in imputed.items() if v)
        )
    normed = {}
    for crit in available:
        z = _normalise(raw[crit.id] * crit.direction, rule_set.normalisation)
        if imputed[crit.id]:
            z = z.fillna(0.0 if missing == "median" else float(z.min()))
        normed[crit.id] = z
    weights = {c.id: rule_set.weights[c.id] / total for c in available}
    table = pd.DataFrame(normed, index=features.index) * pd.Series(weights)
    table.index.name = "account_id"
    table.columns.name = "criterion"
    return _Contributions(table, weights, tuple(unavailable), imputed, missing_mask)


def contributions(features: pd.DataFrame, rule_set, *, missing: str = "median") -> pd.DataFrame:
    """Per-account contribution of each criterion to the score.

    Parameters
    ----------
    features : pandas.DataFrame
        :func:`kamlab.features.account_features` output (one row per account).
    rule_set : RuleSet or str
        A rule set or the name of a shipped one.
    missing : {"median", "worst", "raise"}
        Missing-value policy (module docstring).

    Returns
    -------
    pandas.DataFrame
        Accounts × available criteria; row sums are the scores of :func:`score_accounts`
        (the normalised weights, unavailable and imputed criteria are in :func:`coverage`).

    Examples
    --------
    >>> from kamlab.criteria import load_rule_set
    >>> features = pd.DataFrame(
    ...     {"revenue_12m": [100.0, 300.0], "score_growth_potential": [5.0, 1.0]},
    ...     index=["A", "B"])
    >>> rules = {"weights": {"revenue_contribution": 1, "growth_potential": 1}}
    >>> contributions(features, load_rule_set(rules))
    criterion   revenue_contribution  growth_potential
    account_id
    A                         -0.125             0.125
    B                          0.125            -0.125
    """
    return _contributions(features, as_rule_set(rule_set), missing).table


def coverage(features: pd.DataFrame, rule_set) -> pd.DataFrame:
    """Which criteria of a rule set could be scored, and how many values were imputed.

    Returns
    -------
    pandas.DataFrame
        One row per weighted criterion: ``family``, ``source``, ``weight`` (as given),
        ``effective_weight`` (normalised over the available criteria; 0 when unavailable),
        ``available``, ``observed`` and ``imputed`` account counts.

    Examples
    --------
    >>> from kamlab.criteria import load_rule_set
    >>> features = pd.DataFrame({"revenue_12m": [1.0, 2.0]}, index=["A", "B"])
    >>> rules = load_rule_set({"weights": {"revenue_contribution": 1, "ease_of_buying": 3}})
    >>> coverage(features, rules)[["effective_weight", "available", "imputed"]]
                          effective_weight  available  imputed
    criterion
    revenue_contribution               1.0       True        0
    ease_of_buying                     0.0      False        0
    """
    rule_set = as_rule_set(rule_set)
    parts = _contributions(features, rule_set, "median")
    rows = []
    for crit in rule_set.criteria:
        ok = crit.id not in parts.unavailable
        observed = int(features[crit.column].notna().sum()) if ok else 0
        rows.append(
            {
                "criterion": crit.id,
                "family": crit.family,
                "source": crit.source,
                "weight": rule_set.weights[crit.id],
                "effective_weight": parts.weights.get(crit.id, 0.0),
                "available": ok,
                "observed": observed,
                "imputed": len(features) - observed if ok else 0,
            }
        )
    return pd.DataFrame(rows).set_index("criterion")


def _high(values: pd.Series, quantile: float) -> pd.Series:
    observed = values.dropna()
    if observed.empty:
        return pd.Series(False, index=values.index)
    return (values > observed.quantile(quantile)).fillna(False).astype(bool)


def _types(features: pd.DataFrame, rule_set: RuleSet) -> tuple[pd.Series, int]:
    rule = rule_set.types
    cat = rule_set.catalogue
    rev, gro = cat[rule.revenue], cat[rule.growth]
    if rev.column not in features:
        raise ValueError(f"type rule: revenue criterion {rev.id!r} needs column {rev.column!r}")
    rev_v = features[rev.column].astype(float) * rev.direction
    gro_v = (
        features[gro.column].astype(float) * gro.direction
        if gro.column in features
        else pd.Series(np.nan, index=features.index)
    )
    high_rev, high_gro = _high(rev_v, rule.revenue_split), _high(gro_v, rule.growth_split)
    labels = np.select(
        [high_rev & high_gro, ~high_rev & high_gro, high_rev & ~high_gro],
        ["strategic", "high-growth", "stable"],
        "tactical",
    )
    types = pd.Series(labels, index=features.index).astype(pd.CategoricalDtype(list(TYPES)))
    return types, int(gro_v.isna().sum())


@dataclass(frozen=True)
class Scores:
    """Accounts scored, ranked, tiered and typed under one rule set.

    Attributes
    ----------
    table : pandas.DataFrame
        Indexed by ``account_id``: ``score`` (row sum of :attr:`contributions`), ``rank``
        (1 = best), ``tier`` (ordered categorical regular < key < strategic), ``type``
        (strategic / high-growth / stable / tactical), ``n_imputed`` (criteria imputed for the
        account) and, for rule sets with axes, ``attractiveness``, ``strength`` and
        ``quadrant``.
    contributions : pandas.DataFrame
        Accounts × available criteria (:func:`contributions`).
    rule_set : RuleSet
        The rule set (with its caps) that produced the scores.
    unavailable : tuple of str
        Weighted criteria with no observed value (left out, weights renormalised).
    imputed : dict
        Criterion → accounts whose missing value was imputed.
    type_growth_missing : int
        Accounts without a growth value, typed as low growth.
    """

    table: pd.DataFrame
    contributions: pd.DataFrame
    rule_set: RuleSet
    unavailable: tuple[str, ...]
    imputed: dict[str, int]
    type_growth_missing: int

    @property
    def tiers(self) -> pd.Series:
        """The tier column (ordered categorical)."""
        return self.table["tier"]

    @property
    def designated(self) -> pd.Index:
        """The accounts on the key list (tier key or strategic), best rank first."""
        table = self.table.sort_values("rank", kind="stable")
        return table.index[table["tier"] >= "key"]


def score_accounts(features: pd.DataFrame, rule_set, *, missing: str = "median") -> Scores:
    """Score, rank, tier and type every account with a rule set.

    Parameters
    ----------
    features : pandas.DataFrame
        :func:`kamlab.features.account_features` output (one row per account).
    rule_set : RuleSet or str
        A rule set or the name of a shipped one.
    missing : {"median", "worst", "raise"}
        Missing-value policy (module docstring).

    Returns
    -------
    Scores

    Examples
    --------
    >>> from kamlab.criteria import load_rule_set
    >>> features = pd.DataFrame(
    ...     {"revenue_12m": [100.0, 200.0, 300.0, 400.0],
    ...      "score_growth_potential": [1.0, np.nan, 5.0, 3.0]},
    ...     index=pd.Index(["A", "B", "C", "D"], name="account_id"))
    >>> rules = load_rule_set({"weights": {"revenue_contribution": 1, "growth_potential": 1},
    ...                        "tiers": {"strategic": 0.25, "key": 0.5}})
    >>> scored = score_accounts(features, rules)
    >>> scored.table[["rank", "tier", "n_imputed"]]
                rank       tier  n_imputed
    account_id
    A              4    regular          0
    B              3    regular          1
    C              1  strategic          0
    D              2        key          0
    >>> scored.imputed, scored.designated.tolist()
    ({'revenue_contribution': 0, 'growth_potential': 1}, ['C', 'D'])
    """
    rule_set = as_rule_set(rule_set)
    parts = _contributions(features, rule_set, missing)
    contrib = parts.table
    out = pd.DataFrame(index=contrib.index)
    out["score"] = contrib.sum(axis=1)
    out["rank"] = rank_accounts(out["score"])
    rule = rule_set.tiers
    out["tier"] = assign_tiers(
        out["score"], strategic=rule.strategic, key=rule.key, method=rule.method
    )
    out["type"], growth_missing = _types(features, rule_set)
    out["n_imputed"] = parts.missing_mask.sum(axis=1).astype(int)
    if rule_set.axes:
        for axis, members in rule_set.axes.items():
            out[axis] = contrib[[c for c in members if c in contrib]].sum(axis=1)
        hi_a = out["attractiveness"] > out["attractiveness"].median()
        hi_s = out["strength"] > out["strength"].median()
        labels = np.select(
            [hi_a & hi_s, hi_a & ~hi_s, ~hi_a & hi_s], ["strategic", "star", "status"], "streamline"
        )
        out["quadrant"] = pd.Categorical(labels, categories=list(QUADRANTS))
    return Scores(
        table=out,
        contributions=contrib,
        rule_set=rule_set,
        unavailable=parts.unavailable,
        imputed=parts.imputed,
        type_growth_missing=growth_missing,
    )
