"""Growth drivers in words: the verdicts per criterion and what the back-test showed.

Each function returns Markdown built only from its inputs, numbers printed through
:mod:`kamlab.fmt` (estimates to three significant digits, q-values to two). A difference whose
interval includes zero is never called better or best.
"""

from __future__ import annotations

import pandas as pd

from kamlab import fmt
from kamlab.growth.backtest import Backtest
from kamlab.growth.inference import _label

__all__ = ["describe_backtest", "describe_growth", "describe_verdicts"]


def _names(items) -> str:
    items = [str(i) for i in items]
    if len(items) <= 1:
        return "".join(items)
    return ", ".join(items[:-1]) + " and " + items[-1]


def _outcomes(table: pd.DataFrame) -> tuple[str, str]:
    coefs = [c.removeprefix("coef_") for c in table.columns if c.startswith("coef_")]
    if len(coefs) != 2 or "verdict" not in table:
        raise ValueError("expected a verdicts table (kamlab.growth.verdicts)")
    return coefs[0], coefs[1]


def describe_verdicts(table: pd.DataFrame, *, q_threshold: float = 0.05) -> str:
    """One sentence per verdict of :func:`kamlab.growth.verdicts`, strongest first.

    Examples
    --------
    >>> table = pd.DataFrame(
    ...     {"coef_log_growth": [0.13, 0.02, 0.01], "q_log_growth": [1e-5, 0.4, 0.9],
    ...      "coef_grew": [0.41, 0.30, 0.02], "q_grew": [1e-6, 0.01, 0.8],
    ...      "verdict": ["credible on both", "credible on grew only", "not credible"]},
    ...     index=["score_growth_potential", "score_strategic_fit", "score_reputation"])
    >>> print(describe_verdicts(table))  # doctest: +NORMALIZE_WHITESPACE
    Of the 3 criteria, growth potential is credible on both log growth and grew (log growth
    +0.13 per SD, q < 0.001; grew +0.41 log-odds per SD, q < 0.001). Strategic fit is credible
    on grew only (grew +0.3 log-odds per SD, q = 0.01): it changes whether an account grows by
    more than the threshold, not credibly how much. The other 1 criterion shows no credible
    effect on either (q ≥ 0.05 on both).
    """
    a, b = _outcomes(table)
    la, lb = _label(a), _label(b)
    verdict = table["verdict"].astype(str)

    def effect(row, outcome, unit) -> str:
        q = row[f"q_{outcome}"]
        where = "q < 0.001" if q < 0.001 else f"q = {fmt.p_value(q)}"
        return f"{_label(outcome)} {fmt.signed(row[f'coef_{outcome}'], 3)} {unit}per SD, {where}"

    parts = [f"Of the {len(table)} criteria,"]
    both = table[verdict == "credible on both"]
    only_a = table[verdict == f"credible on {la} only"]
    only_b = table[verdict == f"credible on {lb} only"]
    opposite = table[verdict == "opposite directions"]
    sentences = []
    for name, row in both.iterrows():
        sentences.append(
            f"{_label(name)} is credible on both {la} and {lb} "
            f"({effect(row, a, '')}; {effect(row, b, 'log-odds ')})."
        )
    for name, row in only_a.iterrows():
        sentences.append(
            f"{_label(name)} is credible on {la} only ({effect(row, a, '')}): it changes how "
            f"much an account grows, not credibly whether it passes the {lb} threshold."
        )
    for name, row in only_b.iterrows():
        sentences.append(
            f"{_label(name)} is credible on {lb} only ({effect(row, b, 'log-odds ')}): it "
            f"changes whether an account grows by more than the threshold, not credibly how "
            f"much."
        )
    for name, row in opposite.iterrows():
        sentences.append(
            f"{_label(name)} is credible on both with opposite signs "
            f"({effect(row, a, '')}; {effect(row, b, 'log-odds ')}): read it as unresolved."
        )
    if not sentences:
        sentences.append(f"none is credible on {la} or on {lb} (every q ≥ {q_threshold:g}).")
    parts.append(" ".join([sentences[0], *(s[0].upper() + s[1:] for s in sentences[1:])]))
    rest = int(verdict.isin(["not credible"]).sum())
    if sentences and rest and rest < len(table):
        noun = "criterion shows" if rest == 1 else "criteria show"
        parts.append(
            f"The other {rest} {noun} no credible effect on either (q ≥ {q_threshold:g} on both)."
        )
    missing = table.index[verdict == "not estimated"]
    if len(missing):
        parts.append(f"Not estimated: {_names(_label(m) for m in missing)}.")
    return " ".join(parts)


def _interval(row, level: int) -> str:
    return f"{level} % CI {fmt.signed(row['ci_low'], 3)} to {fmt.signed(row['ci_high'], 3)}"


def _scoped(rows: pd.DataFrame, name: str):
    """A scorer's pooled row, or its only row when it was scored at one cutoff."""
    mine = rows[rows["rule_set"] == name]
    pooled = mine[mine["cutoff"] == "pooled"]
    if len(pooled):
        return pooled.iloc[0]
    return mine.iloc[0] if len(mine) == 1 else None


def describe_backtest(
    result: Backtest,
    *,
    metric: str = "precision_at_k",
    baseline: str | None = None,
) -> str:
    """What the back-test says about the scorers against the baseline, in a few sentences.

    The scorer named is the one with the largest paired difference to the baseline; the
    baseline's value beside it is taken over the same cutoffs. A scorer is said to beat the
    baseline only when the interval of the paired difference lies above zero; otherwise the
    sentence says that no scorer is credibly better.

    Examples
    --------
    >>> rows = [(name, cutoff, metric, value, value - 0.05, value + 0.05)
    ...         for name, metric, values in [
    ...             ("size_only", "precision_at_k", (0.28, 0.32, 0.30)),
    ...             ("planted", "precision_at_k", (0.44, 0.46, 0.45)),
    ...             ("planted", "delta_precision_at_k", (0.16, 0.14, 0.15))]
    ...         for cutoff, value in zip(("2023-01-01", "2024-01-01", "pooled"), values)]
    >>> table = pd.DataFrame(rows, columns=["rule_set", "cutoff", "metric", "estimate",
    ...                                     "ci_low", "ci_high"])
    >>> result = Backtest(table, 365, 0.15, 0.1, 500, "size_only", 0.05, 0,
    ...                   ("2023-01-01", "2024-01-01"),
    ...                   pd.DataFrame(columns=["rule_set", "cutoff", "reason"]))
    >>> print(describe_backtest(result))  # doctest: +NORMALIZE_WHITESPACE
    planted beats size_only on precision at k (pooled over the 2 cutoffs it was scored at):
    0.45 (95 % CI 0.4 to 0.5) against 0.3, a difference of +0.15 (95 % CI +0.1 to +0.2).
    Across 2 cutoffs planted scored above size_only at 2 (with an interval excluding zero at
    2); the per-cutoff differences range from +0.14 to +0.16.
    """
    table = result.table
    baseline = baseline or result.baseline
    level = round(100 * (1 - result.alpha))
    label = metric.replace("_", " ")
    rows = table[table["metric"] == metric]
    deltas = table[table["metric"] == f"delta_{metric}"]
    names = [n for n in dict.fromkeys(rows["rule_set"]) if n != baseline]
    if baseline is None or baseline not in set(rows["rule_set"]) or not names:
        return f"No comparison with {baseline} is possible from this back-test."
    # The scorer with the largest paired difference to the baseline (the differences are
    # taken at the cutoffs both were scored at), else the largest estimate.
    ranked = deltas if len(deltas) else rows
    tops = [(n, _scoped(ranked, n)) for n in names if _scoped(ranked, n) is not None]
    name = max(tops, key=lambda item: item[1]["estimate"])[0] if tops else names[0]
    top = _scoped(rows, name)
    cutoffs = rows.loc[(rows["rule_set"] == name) & (rows["cutoff"] != "pooled"), "cutoff"]
    base_rows = rows[(rows["rule_set"] == baseline) & rows["cutoff"].isin(cutoffs)]
    base_value = (
        base_rows["estimate"].mean() if len(base_rows) else _scoped(rows, baseline)["estimate"]
    )
    scope = top["cutoff"]
    scope_text = (
        f"pooled over the {len(cutoffs)} cutoffs it was scored at"
        if scope == "pooled"
        else f"at {scope}"
    )
    delta = deltas[deltas["rule_set"] == name]
    d = delta[delta["cutoff"] == scope]
    numbers = (
        f"{fmt.estimate(top['estimate'], 3)} ({level} % CI {fmt.estimate(top['ci_low'], 3)} to "
        f"{fmt.estimate(top['ci_high'], 3)}) against {fmt.estimate(base_value, 3)}"
    )
    if d.empty:
        sentence = (
            f"On {label} ({scope_text}) {name} has {numbers} for {baseline}; the back-test "
            f"has no paired difference to judge it by."
        )
    else:
        d = d.iloc[0]
        diff = f"a difference of {fmt.signed(d['estimate'], 3)} ({_interval(d, level)})"
        if d["ci_low"] > 0:
            sentence = f"{name} beats {baseline} on {label} ({scope_text}): {numbers}, {diff}."
        elif d["ci_high"] < 0:
            sentence = (
                f"Every scorer does worse than {baseline} on {label}; the closest, {name} "
                f"({scope_text}), has {numbers}, {diff}."
            )
        else:
            sentence = (
                f"No scorer is credibly better than {baseline} on {label}: the largest "
                f"difference, {name} ({scope_text}), has {numbers}, {diff}, an interval that "
                f"includes zero."
            )
    out = [sentence]
    per = delta[delta["cutoff"] != "pooled"]
    if len(per) > 1:
        wins = int((per["estimate"] > 0).sum())
        sure = int((per["ci_low"] > 0).sum())
        out.append(
            f"Across {len(per)} cutoffs {name} scored above {baseline} at {wins} (with an "
            f"interval excluding zero at {sure}); the per-cutoff differences range from "
            f"{fmt.signed(per['estimate'].min(), 3)} to {fmt.signed(per['estimate'].max(), 3)}."
        )
    return " ".join(out)


def describe_growth(
    verdicts_table: pd.DataFrame,
    result: Backtest,
    *,
    metric: str = "precision_at_k",
    q_threshold: float = 0.05,
) -> str:
    """:func:`describe_verdicts` and :func:`describe_backtest` in one paragraph: the answer
    of the growth-drivers analysis.

    Examples
    --------
    >>> verdicts_table = pd.DataFrame(
    ...     {"coef_log_growth": [0.01], "q_log_growth": [0.6], "coef_grew": [0.1],
    ...      "q_grew": [0.4], "verdict": ["not credible"]}, index=["score_fit"])
    >>> rows = pd.DataFrame([("size_only", "pooled", "precision_at_k", 0.3, 0.2, 0.4)],
    ...                     columns=["rule_set", "cutoff", "metric", "estimate", "ci_low",
    ...                              "ci_high"])
    >>> result = Backtest(rows, 365, 0.15, 0.1, 500, "size_only", 0.05, 0, ("2024-01-01",),
    ...                   pd.DataFrame(columns=["rule_set", "cutoff", "reason"]))
    >>> print(describe_growth(verdicts_table, result))  # doctest: +NORMALIZE_WHITESPACE
    Of the 1 criteria, none is credible on log growth or on grew (every q ≥ 0.05). No
    comparison with size_only is possible from this back-test.
    """
    return (
        describe_verdicts(verdicts_table, q_threshold=q_threshold)
        + " "
        + describe_backtest(result, metric=metric)
    )
