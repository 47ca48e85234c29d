"""The criteria, the rule set's coverage, types, the top scores and the selection matrix in
words (Markdown built only from the inputs, numbers through :mod:`kamlab.fmt`)."""

from __future__ import annotations

import pandas as pd

from kamlab import fmt
from kamlab.criteria.catalogue import Catalogue
from kamlab.criteria.scoring import QUADRANTS, TYPES, Scores
from kamlab.tiers import DESIGNATED

__all__ = [
    "describe_catalogue",
    "describe_coverage",
    "describe_quadrants",
    "describe_top_accounts",
    "describe_types",
]


def _label(criterion: str) -> str:
    return criterion.replace("_", " ")


def _accounts(n: int) -> str:
    return f"{fmt.count(n)} account{'' if n == 1 else 's'}"


def _counts(series: pd.Series) -> str:
    counts = series.value_counts(sort=False)
    counts = counts[counts > 0].sort_values(ascending=False, kind="stable")
    return ", ".join(f"{name} {fmt.count(n)}" for name, n in counts.items())


def describe_catalogue(catalogue: Catalogue) -> str:
    """What the catalogue holds: criteria per family, where the values come from, and which
    documents they cite.

    Examples
    --------
    >>> from kamlab.criteria import load_catalogue
    >>> print(describe_catalogue(load_catalogue()))  # doctest: +NORMALIZE_WHITESPACE
    20 criteria in 5 families (growth 7, harmony 6, value creation 3, relationship 3, size 1).
    8 are measured from the data (transactions, support tickets, NPS) and 12 are the account
    team's assessments (scores 1–5). Every criterion cites at least one of the 5 seed
    documents; the most cited is growth potential (5 documents), then revenue contribution and
    strategic fit (4 each). The selection-matrix framework (McDonald & Woodburn) is cited too;
    it is not a seed document.
    """
    frame = catalogue.to_frame()
    families = frame["family"].value_counts(sort=False)
    families = families.sort_values(ascending=False, kind="stable")
    measured = int((frame["source"].str.split(":").str[0] == "feature").sum())
    assessed = len(frame) - measured
    seeds = {k for k, ref in catalogue.references.items() if ref.get("file")}
    cited = pd.Series(
        {c.id: len(set(c.reference) & seeds) for c in catalogue}, dtype=int
    ).sort_values(ascending=False, kind="stable")
    top = cited.iloc[0] if len(cited) else 0
    leaders = cited[cited == top].index
    second = cited[cited < top]
    runner = second[second == second.iloc[0]].index if len(second) else pd.Index([])
    parts = [
        f"{len(frame)} criteria in {len(families)} families ("
        + ", ".join(f"{_label(name)} {n}" for name, n in families.items())
        + ").",
        f"{measured} are measured from the data (transactions, support tickets, NPS) and "
        f"{assessed} are the account team's assessments (scores 1–5).",
    ]
    uncited = int((cited == 0).sum())
    head = (
        f"Every criterion cites at least one of the {len(seeds)} seed documents"
        if not uncited
        else f"{len(frame) - uncited} criteria cite at least one of the {len(seeds)} seed documents"
    )
    head += (
        f"; the most cited {'is' if len(leaders) == 1 else 'are'} "
        f"{fmt.listing(_label(c) for c in leaders)} ({top} documents)"
    )
    if len(runner):
        head += (
            f", then {fmt.listing(_label(c) for c in runner)} ({second.iloc[0]}"
            f"{' each' if len(runner) > 1 else ''})"
        )
    parts.append(head + ".")
    others = [ref for k, ref in catalogue.references.items() if k not in seeds]
    if others:
        parts.append(
            "The selection-matrix framework (McDonald & Woodburn) is cited too; it is not a "
            "seed document."
            if len(others) == 1 and "McDonald" in str(others[0].get("title", ""))
            else f"{len(others)} non-seed references are cited too."
        )
    return " ".join(parts)


def describe_coverage(coverage: pd.DataFrame, rule_set: str) -> str:
    """Which criteria of a rule set the data support, in words (:func:`coverage`).

    Examples
    --------
    >>> table = pd.DataFrame(
    ...     {"effective_weight": [0.75, 0.25, 0.0], "available": [True, True, False],
    ...      "imputed": [0, 2, 0]},
    ...     index=pd.Index(["revenue_contribution", "revenue_growth", "ease_of_buying"],
    ...                    name="criterion"))
    >>> print(describe_coverage(table, "mine"))  # doctest: +NORMALIZE_WHITESPACE
    Rule set mine weighs 3 criteria; 2 have values in these data and are scored, their weights
    renormalised to sum to 100% (the largest: revenue contribution 75.0%). Left out because the
    data have no value for them (never scored as 0): ease of buying. 2 missing values were
    imputed at the portfolio median, a neutral contribution (revenue growth 2).
    """
    available = coverage[coverage["available"]]
    missing = coverage.index[~coverage["available"]]
    weights = available["effective_weight"].sort_values(ascending=False, kind="stable")
    top = weights[weights == weights.iloc[0]] if len(weights) else weights
    parts = [
        f"Rule set {rule_set} weighs {len(coverage)} criteria; {len(available)} "
        f"{'has' if len(available) == 1 else 'have'} values in these data and "
        f"{'is' if len(available) == 1 else 'are'} scored, their weights renormalised to sum "
        f"to 100% (the largest: "
        + fmt.listing(_label(c) for c in top.index)
        + (f", {fmt.share(top.iloc[0])} each" if len(top) > 1 else f" {fmt.share(top.iloc[0])}")
        + ")."
    ]
    if len(missing):
        parts.append(
            "Left out because the data have no value for them (never scored as 0): "
            + fmt.listing(_label(c) for c in missing)
            + "."
        )
    imputed = available["imputed"][available["imputed"] > 0].sort_values(
        ascending=False, kind="stable"
    )
    if len(imputed):
        parts.append(
            f"{fmt.count(imputed.sum())} missing values were imputed at the portfolio median, "
            "a neutral contribution ("
            + ", ".join(f"{_label(c)} {fmt.count(n)}" for c, n in imputed.items())
            + ")."
        )
    else:
        parts.append("No value of a scored criterion is missing.")
    return " ".join(parts)


def describe_types(scored: Scores) -> str:
    """The account types in words: how many of each, how the designated accounts split, and
    what a missing growth-potential value did.

    Examples
    --------
    >>> from kamlab.criteria import score_accounts
    >>> features = pd.DataFrame({"revenue_12m": [5.0, 1, 3, 2, 4]}, index=list("ABCDE"))
    >>> print(describe_types(score_accounts(features, "size_only")))  # doctest: +NORMALIZE_WHITESPACE
    Types (revenue above the 80th percentile × growth potential above the 50th): tactical 4,
    stable 1. No account has a growth potential value in these data, so every one counts as low
    growth and the types split by revenue alone (stable or tactical).
    """
    table = scored.table
    rule = scored.rule_set.types
    n = len(table)
    parts = [
        f"Types ({_label(rule.revenue).replace('contribution', '')}above the "
        f"{round(100 * rule.revenue_split)}th percentile × {_label(rule.growth)} above the "
        f"{round(100 * rule.growth_split)}th): "
        + _counts(table["type"].astype(pd.CategoricalDtype(list(TYPES))))
        + "."
    ]
    designated = table[table["tier"].isin(DESIGNATED)]
    if len(designated):
        parts.append(
            f"Key or strategic accounts ({fmt.count(len(designated))}): "
            + _counts(designated["type"].astype(pd.CategoricalDtype(list(TYPES))))
            + "."
        )
    missing = scored.type_growth_missing
    if n and missing == n:
        parts.append(
            f"No account has a {_label(rule.growth)} value in these data, so every one counts "
            "as low growth and the types split by revenue alone (stable or tactical)."
        )
    elif missing:
        parts.append(
            f"{_accounts(missing)} {'has' if missing == 1 else 'have'} no {_label(rule.growth)} "
            f"value and {'counts' if missing == 1 else 'count'} as low growth."
        )
    return " ".join(parts)


def describe_top_accounts(
    scored: Scores,
    accounts: pd.DataFrame | None = None,
    *,
    k: int = 3,
    top: int = 3,
    shown: int | None = None,
) -> str:
    """The size of the key list, then the ``k`` highest-scoring accounts and the ``top``
    criteria that contribute most to each score (a Markdown list); names and account
    managers from ``accounts`` when the data have them. ``shown``: how many rows of the list
    a table above shows (said when the list is longer).

    Examples
    --------
    >>> from kamlab.criteria import load_rule_set, score_accounts
    >>> features = pd.DataFrame(
    ...     {"revenue_12m": [100.0, 300.0], "score_growth_potential": [5.0, 1.0]},
    ...     index=pd.Index(["A", "B"], name="account_id"))
    >>> rules = load_rule_set({"weights": {"revenue_contribution": 1, "growth_potential": 1}})
    >>> accounts = pd.DataFrame({"account_id": ["A", "B"], "name": ["Alpha", "Beta"]})
    >>> print(describe_top_accounts(score_accounts(features, rules), accounts, k=1, top=2))
    The key list holds 0 accounts. The highest score and the criteria that contribute most to it:
    - A (Alpha), rank 1, score 0: revenue contribution -0.125, growth potential +0.125.
    """
    designated = scored.designated
    strategic = int((scored.table["tier"] == "strategic").sum())
    head = f"The key list holds {fmt.count(len(designated))} accounts"
    if len(designated):
        head += f" ({fmt.count(strategic)} strategic)"
    if shown is not None and len(designated) > shown:
        head += (
            f"; the table shows the first {fmt.count(shown)}, the published scores table has "
            "every account"
        )
    what = "highest score" if k == 1 else f"{k} highest scores"
    head += f". The {what} and the criteria that contribute most to {'it' if k == 1 else 'each'}:"
    table = scored.table.sort_values("rank", kind="stable").head(k)
    info = (
        accounts.set_index("account_id")
        if accounts is not None and "account_id" in accounts
        else pd.DataFrame(index=table.index)
    )
    lines = []
    for account, row in table.iterrows():
        contrib = scored.contributions.loc[account]
        order = contrib.abs().sort_values(ascending=False, kind="stable").index[:top]
        who = [
            str(info.at[account, col])
            for col in ("name", "account_manager")
            if col in info and account in info.index and not fmt.is_missing(info.at[account, col])
        ]
        label = f"{account} ({', '.join(who)})" if who else str(account)
        lines.append(
            f"- {label}, rank {fmt.count(row['rank'])}, score {fmt.signed(row['score'], 3)}: "
            + ", ".join(f"{_label(c)} {fmt.signed(contrib[c], 3)}" for c in order)
            + "."
        )
    return "\n".join([head, *lines])


def describe_quadrants(matrix: Scores, scored: Scores) -> str:
    """Where the accounts sit on the selection matrix, and where the designated accounts of
    another rule set fall on it.

    Parameters
    ----------
    matrix : Scores
        Scores of a rule set with axes (``selection_matrix``).
    scored : Scores
        The rule set whose tiers are compared with the quadrants.

    Examples
    --------
    >>> from kamlab.criteria import score_accounts
    >>> features = pd.DataFrame(
    ...     {"revenue_12m": [5.0, 1, 3, 2], "score_growth_potential": [4.0, 1, 3, 2],
    ...      "score_willingness_to_partner": [1.0, 2, 4, 3]}, index=list("ABCD"))
    >>> matrix = score_accounts(features, "selection_matrix")
    >>> print(describe_quadrants(matrix, score_accounts(features, "size_only")))  # doctest: +NORMALIZE_WHITESPACE
    Quadrants (each axis split at its median): strategic 1, star 1, status 1, streamline 1. No
    account is key or strategic under size_only.
    """
    if "quadrant" not in matrix.table:
        raise ValueError(f"rule set {matrix.rule_set.name!r} has no axes: no quadrants")
    quadrant = matrix.table["quadrant"].astype(pd.CategoricalDtype(list(QUADRANTS)))
    parts = [f"Quadrants (each axis split at its median): {_counts(quadrant)}."]
    flat = [a for a in matrix.rule_set.axes if matrix.table[a].nunique(dropna=False) <= 1]
    for axis in flat:
        members = [c for c in matrix.rule_set.axes[axis] if c in matrix.unavailable]
        why = (
            "none of its criteria has a value in these data"
            if len(members) == len(matrix.rule_set.axes[axis])
            else "it is the same for every account"
        )
        parts.append(
            f"The {axis} axis cannot separate the accounts ({why}): every account sits in its "
            "lower half, so the quadrants only reflect the other axis."
        )
    tiers = scored.table["tier"].reindex(quadrant.index)
    designated = quadrant[tiers.isin(DESIGNATED)]
    name = scored.rule_set.name
    if designated.empty:
        parts.append(f"No account is key or strategic under {name}.")
    else:
        inside = int((designated == "strategic").sum())
        parts.append(
            f"Of the {fmt.count(len(designated))} key or strategic accounts under {name}, "
            f"{fmt.count(inside)} sit in the strategic quadrant (attractive to us and a strong "
            f"position with them)"
            + (
                "; the others: " + _counts(designated[designated != "strategic"]) + "."
                if inside < len(designated)
                else "."
            )
        )
        regular = int(((quadrant == "strategic") & ~tiers.isin(DESIGNATED)).sum())
        if regular:
            parts.append(
                f"{fmt.count(regular)} accounts in the strategic quadrant are regular under "
                f"{name}: candidates to discuss at the review."
            )
    return " ".join(parts)
