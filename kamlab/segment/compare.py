"""Comparing partitions: how much two partitions agree, and which one separates an outcome.

Partitions are plain label Series indexed by account (segments, the rule-based tiers and
types of :mod:`kamlab.criteria`), so any two can be compared. Agreement is the crosstab with
the adjusted Rand index and adjusted mutual information; separation is the outcome by group
with bootstrap intervals and effect sizes (eta², omega², epsilon²) with the Kruskal–Wallis
test. :func:`describe_separation` says which partition separates an outcome better than
chance, and says so when none does.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy import stats
from sklearn.metrics import adjusted_mutual_info_score, adjusted_rand_score

from kamlab import fmt

__all__ = [
    "OUTCOME_WORDS",
    "PartitionComparison",
    "Separation",
    "agreement_table",
    "compare_outcome_separation",
    "compare_partitions",
    "describe_agreement",
    "describe_separation",
    "effect_sizes",
    "outcome_separation",
    "outcome_separations",
]


@dataclass(frozen=True)
class PartitionComparison:
    """Agreement between two partitions of the same accounts.

    Attributes
    ----------
    crosstab : pandas.DataFrame
        Accounts per (label a, label b); rows a, columns b.
    ari, ami : float
        Adjusted Rand index and adjusted mutual information (1 = same partition, ~0 = chance).
    n : int
        Accounts labelled in both.
    """

    crosstab: pd.DataFrame
    ari: float
    ami: float
    n: int


def _align(a: pd.Series, b: pd.Series) -> tuple[pd.Series, pd.Series]:
    both = pd.concat([a.rename("a"), b.rename("b")], axis=1, join="inner").dropna()
    return both["a"], both["b"]


def compare_partitions(labels_a: pd.Series, labels_b: pd.Series) -> PartitionComparison:
    """Crosstab, ARI and AMI of two label Series, on the accounts labelled in both.

    Examples
    --------
    >>> a = pd.Series(["x", "x", "y", "y"], index=list("abcd"), name="segment")
    >>> b = pd.Series(["p", "p", "q", "q", "q"], index=list("abcde"), name="tier")
    >>> result = compare_partitions(a, b)
    >>> result.n, round(result.ari, 12)
    (4, 1.0)
    """
    a, b = _align(labels_a, labels_b)
    tab = pd.crosstab(a.rename(labels_a.name or "a"), b.rename(labels_b.name or "b"), dropna=False)
    ca, cb = pd.factorize(a, sort=True)[0], pd.factorize(b, sort=True)[0]
    return PartitionComparison(
        crosstab=tab,
        ari=float(adjusted_rand_score(ca, cb)),
        ami=float(adjusted_mutual_info_score(ca, cb)),
        n=len(a),
    )


def effect_sizes(labels: pd.Series, outcome: pd.Series) -> pd.Series:
    """How much of an outcome's variation a partition explains.

    Returns
    -------
    pandas.Series
        ``n``, ``groups``; ``eta2`` = SS_between / SS_total; ``omega2`` = (SS_between − (g−1)
        MS_within) / (SS_total + MS_within), which corrects eta² for the number of groups;
        ``epsilon2`` = H / (n − 1), the rank-based effect size of the Kruskal-Wallis test;
        ``kruskal_h`` and ``p_value`` (scipy.stats.kruskal, tie-corrected).

    Examples
    --------
    >>> eff = effect_sizes(pd.Series(list("aaabbb")), pd.Series([1.0, 2, 3, 4, 5, 6]))
    >>> round(float(eff["eta2"]), 6), round(float(eff["kruskal_h"]), 6)
    (0.771429, 3.857143)
    """
    lab, y = _align(labels, outcome.astype(float))
    y = y.to_numpy(dtype=float)
    codes = pd.factorize(lab, sort=True)[0]
    n, g = len(y), int(codes.max()) + 1 if len(codes) else 0
    counts = np.bincount(codes, minlength=g)
    means = np.bincount(codes, weights=y, minlength=g) / np.maximum(counts, 1)
    ss_total = float(((y - y.mean()) ** 2).sum())
    ss_between = float((counts * (means - y.mean()) ** 2).sum())
    ms_within = (ss_total - ss_between) / (n - g) if n > g else np.nan
    eta2 = ss_between / ss_total if ss_total > 0 else np.nan
    omega2 = (
        (ss_between - (g - 1) * ms_within) / (ss_total + ms_within)
        if ss_total > 0 and n > g
        else np.nan
    )
    if g >= 2 and ss_total > 0:
        h, p = stats.kruskal(*[y[codes == i] for i in range(g)])
        h, p = float(h), float(p)
    else:
        h, p = np.nan, np.nan
    epsilon2 = h / (n - 1) if n > 1 else np.nan
    return pd.Series(
        {
            "n": n,
            "groups": g,
            "eta2": eta2,
            "omega2": omega2,
            "epsilon2": epsilon2,
            "kruskal_h": h,
            "p_value": p,
        }
    )


@dataclass(frozen=True)
class Separation:
    """An outcome by group (:func:`outcome_separation`).

    Attributes
    ----------
    groups : pandas.DataFrame
        One row per group: ``n``, ``mean``, ``ci_low``, ``ci_high`` (percentile bootstrap),
        ``median``.
    effect : pandas.Series
        :func:`effect_sizes`.
    outcome : str
        The outcome's name.
    level : float
        Confidence level of the intervals.
    """

    groups: pd.DataFrame
    effect: pd.Series
    outcome: str
    level: float


def outcome_separation(
    labels: pd.Series,
    outcome: pd.Series,
    n_boot: int = 1000,
    random_state: int = 0,
    *,
    level: float = 0.95,
) -> Separation:
    """Mean outcome per group with percentile bootstrap intervals, and the effect sizes.

    Each group's mean is resampled ``n_boot`` times (rows with replacement within the group,
    groups in sorted order from one seeded generator). Boolean outcomes (``churned``) give rates.

    Examples
    --------
    >>> labels = pd.Series(list("aaabbb"))
    >>> sep = outcome_separation(labels, pd.Series([1.0, 2, 3, 4, 5, 6]), n_boot=200)
    >>> sep.groups["mean"].tolist(), sep.outcome
    ([2.0, 5.0], 'outcome')
    """
    lab, y = _align(labels, outcome.astype(float))
    rng = np.random.default_rng(random_state)
    alpha = (1 - level) / 2
    keys = lab.unique()
    keys = (
        sorted(keys)
        if not isinstance(lab.dtype, pd.CategoricalDtype)
        else [c for c in lab.cat.categories if c in set(keys)]
    )
    rows = []
    for key in keys:
        v = y[lab == key].to_numpy(dtype=float)
        boot = v[rng.integers(0, len(v), size=(n_boot, len(v)))].mean(axis=1)
        lo, hi = np.quantile(boot, [alpha, 1 - alpha])
        rows.append((key, len(v), v.mean(), lo, hi, float(np.median(v))))
    groups = pd.DataFrame(rows, columns=["group", "n", "mean", "ci_low", "ci_high", "median"])
    groups = groups.set_index("group")
    groups.index.name = labels.name if labels.name is not None else "group"
    return Separation(
        groups=groups,
        effect=effect_sizes(lab, y),
        outcome=str(outcome.name) if outcome.name is not None else "outcome",
        level=level,
    )


def compare_outcome_separation(
    partitions: Mapping[str, pd.Series], outcome, *, rank_by: str = "epsilon2"
) -> pd.DataFrame:
    """Rank partitions by how well they separate one or more outcomes.

    Parameters
    ----------
    partitions : mapping of name → label Series
        e.g. ``{"segments": seg, "tiers": tier, "types": type_}``.
    outcome : pandas.Series or pandas.DataFrame
        One outcome, or several as columns (e.g. ``features[["growth_dh", "churned"]]``).
    rank_by : str
        Effect size to rank by within each outcome (``epsilon2``: rank-based and robust to the
        heavy tails of growth; ``omega2`` corrects for the number of groups).

    Returns
    -------
    pandas.DataFrame
        One row per (outcome, partition) with the :func:`effect_sizes` columns and ``rank``
        (1 = largest effect size for that outcome, whether or not it beats chance: read it
        with ``p_value``, or through :func:`describe_separation`), sorted by outcome then rank.

    Examples
    --------
    >>> y = pd.Series([1.0, 2, 3, 4, 5, 6], name="growth")
    >>> parts = {"good": pd.Series(list("aaabbb")), "mixed": pd.Series(list("ababab"))}
    >>> compare_outcome_separation(parts, y)[["partition", "rank"]].values.tolist()
    [['good', 1], ['mixed', 2]]
    """
    frame = outcome.to_frame() if isinstance(outcome, pd.Series) else outcome
    rows = []
    for col in frame.columns:
        for name, labels in partitions.items():
            eff = effect_sizes(labels, frame[col])
            rows.append({"outcome": col, "partition": name, **eff.to_dict()})
    table = pd.DataFrame(rows)
    table["n"] = table["n"].astype(int)
    table["groups"] = table["groups"].astype(int)
    table["rank"] = (
        table.groupby("outcome", sort=False)[rank_by]
        .rank(ascending=False, method="min")
        .astype(int)
    )
    order = {c: i for i, c in enumerate(frame.columns)}
    table = table.sort_values(
        ["outcome", "rank", "partition"],
        kind="stable",
        key=lambda s: s.map(order) if s.name == "outcome" else s,
    )
    return table.reset_index(drop=True)


#: How :func:`describe_separation` names the outcomes it knows.
OUTCOME_WORDS = {
    "growth_dh": "future growth (symmetric growth)",
    "log_growth": "future growth (log growth)",
    "churned": "churn",
}


def describe_separation(
    ranking: pd.DataFrame, *, alpha: float = 0.05, rank_by: str = "epsilon2"
) -> str:
    """Which partitions separate each outcome better than chance, in words (Markdown, one
    line per outcome).

    A partition is said to separate an outcome only when its Kruskal–Wallis p-value is below
    ``alpha``. When several do, the one with the largest effect size is named as such, with
    the caveat that the difference between effect sizes was not tested; no partition is ever
    called the best.

    Parameters
    ----------
    ranking : pandas.DataFrame
        :func:`compare_outcome_separation`.

    Examples
    --------
    >>> ranking = pd.DataFrame({
    ...     "outcome": ["churned", "churned"], "partition": ["types", "tiers"],
    ...     "epsilon2": [0.011, 0.004], "p_value": [0.49, 0.81], "rank": [1, 2]})
    >>> print(describe_separation(ranking))
    Outcome by outcome (a partition separates one when its p-value is below 0.05):
    - churn: no partition separates it better than chance (types ε² 0.011, p = 0.49; tiers ε² 0.004, p = 0.81).
    """
    symbol = {"epsilon2": "ε²", "omega2": "ω²", "eta2": "η²"}.get(rank_by, rank_by)
    lines = [f"Outcome by outcome (a partition separates one when its p-value is below {alpha:g}):"]
    for outcome, rows in ranking.groupby("outcome", sort=False):
        rows = rows.sort_values("rank", kind="stable")
        what = OUTCOME_WORDS.get(str(outcome), str(outcome))

        def stat(r) -> str:
            return f"{r.partition} {symbol} {fmt.estimate(getattr(r, rank_by), 2)}, {fmt.p_value(r.p_value, 'p')}"

        real = rows[rows["p_value"] < alpha]
        chance = rows[~(rows["p_value"] < alpha)]
        if real.empty:
            listed = "; ".join(stat(r) for r in rows.itertuples())
            lines.append(f"- {what}: no partition separates it better than chance ({listed}).")
            continue
        every = (" all" if len(real) > 2 else " both") if chance.empty and len(real) > 1 else ""
        verb = "separates" if len(real) == 1 else "separate"
        text = (
            f"- {what}: {fmt.listing(real['partition'])}{every} {verb} it better than chance ("
            + "; ".join(stat(r) for r in real.itertuples())
            + ")"
        )
        if len(real) > 1:
            text += (
                f"; {real.iloc[0]['partition']} has the largest effect size (whether it is "
                f"larger than the others' was not tested)"
            )
        if len(chance):
            text += "; not better than chance: " + "; ".join(stat(r) for r in chance.itertuples())
        lines.append(text + ".")
    return "\n".join(lines)


def agreement_table(comparisons: Mapping[str, PartitionComparison]) -> pd.DataFrame:
    """ARI, AMI and the accounts compared, one row per comparison.

    Examples
    --------
    >>> a = pd.Series(["x", "x", "y", "y"], index=list("abcd"))
    >>> agreement_table({"a vs a": compare_partitions(a, a)}).round(3)
                ari  ami  n
    comparison
    a vs a      1.0  1.0  4
    """
    table = pd.DataFrame(
        {
            "ari": [c.ari for c in comparisons.values()],
            "ami": [c.ami for c in comparisons.values()],
            "n": [c.n for c in comparisons.values()],
        },
        index=pd.Index(list(comparisons), name="comparison"),
    )
    return table


def _agreement_word(ari: float) -> str:
    if ari >= 0.8:
        return "agree closely"
    if ari >= 0.5:
        return "largely agree"
    if ari >= 0.2:
        return "partly agree"
    return "barely agree"


def describe_agreement(comparisons: Mapping[str, PartitionComparison]) -> str:
    """How far segments and rule-based partitions agree, in words: ARI and AMI of each
    comparison.

    The ARI is read as: at least 0.8 agree closely, 0.5 largely, 0.2 partly, below that
    barely.

    Examples
    --------
    >>> seg = pd.Series([0, 0, 1, 1, 1, 1], index=list("abcdef"), name="segment")
    >>> tier = pd.Series(["key", "key", "regular", "regular", "regular", "key"],
    ...                  index=list("abcdef"), name="tier")
    >>> print(describe_agreement({"segments vs tiers": compare_partitions(seg, tier)}))
    Segments vs tiers: they partly agree (ARI 0.32, AMI 0.36; 6 accounts). 1 = the same partition, about 0 = no more agreement than chance.
    """
    parts = []
    for name, comp in comparisons.items():
        label = name[:1].upper() + name[1:]
        parts.append(
            f"{label}: they {_agreement_word(comp.ari)} (ARI {fmt.estimate(comp.ari, 2)}, "
            f"AMI {fmt.estimate(comp.ami, 2)}; {fmt.count(comp.n)} accounts)."
        )
    parts.append("1 = the same partition, about 0 = no more agreement than chance.")
    return " ".join(parts)


def outcome_separations(
    partitions: Mapping[str, pd.Series],
    outcome: pd.Series,
    n_boot: int = 1000,
    random_state: int = 0,
) -> dict[str, Separation]:
    """:func:`outcome_separation` of one outcome for each partition (same seed for each).

    Examples
    --------
    >>> y = pd.Series([1.0, 2, 3, 4], name="growth_dh")
    >>> seps = outcome_separations({"p": pd.Series(list("aabb"))}, y, n_boot=20)
    >>> seps["p"].groups["mean"].tolist()
    [1.5, 3.5]
    """
    return {
        name: outcome_separation(labels, outcome, n_boot=n_boot, random_state=random_state)
        for name, labels in partitions.items()
    }
