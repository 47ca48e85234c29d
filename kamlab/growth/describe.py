"""Growth drivers in words: the verdicts per criterion and what the back-test showed.

Each function returns Markdown built only from its inputs, numbers printed through
:mod:`kamlab.fmt` (estimates to three significant digits, q-values to two). A difference whose
interval includes zero is never called better or best.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from kamlab import fmt
from kamlab.growth.backtest import Backtest
from kamlab.growth.inference import VIF_THRESHOLD, Effects, _label
from kamlab.growth.prediction import OutOfTime

__all__ = [
    "describe_backtest",
    "describe_design",
    "describe_growth",
    "describe_joint",
    "describe_out_of_time",
    "describe_selection",
    "describe_verdicts",
]


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
        where = fmt.p_value(row[f"q_{outcome}"], "q")
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
        parts.append(f"Not estimated: {fmt.listing(_label(m) for m in missing)}.")
    return " ".join(parts)


#: How the prose names outcomes and size columns.
_OUTCOME_WORDS = {
    "growth_dh": "symmetric growth",
    "log_growth": "log growth",
    "grew": "grew",
    "revenue_12m": "the last 12 months' revenue",
}


def describe_design(
    effects: Effects, source: str, controls: Sequence[str] = (), size_control: str | None = None
) -> str:
    """What an effects table tested, on which accounts and holding what fixed (Markdown).

    Parameters
    ----------
    effects : Effects
    source : str
        Where the criteria come from (:func:`kamlab.growth.criteria_columns`).
    controls : sequence of str
        The control columns as requested (before one-hot encoding).
    size_control : str, optional
        The size column, when size was held fixed.

    Examples
    --------
    >>> from kamlab.growth.inference import SampleReport
    >>> table = pd.DataFrame({"coef": [0.1]}, index=["score_fit"])
    >>> effects = Effects(table, "log_growth", "ols", "univariate", "HC3", ("region_s",), None,
    ...                   0.05, SampleReport(250, 6, 0, 0, 0, 244))
    >>> print(describe_design(effects, "1 assessed criteria (account-team scores 1-5)",
    ...                       ["region"], "revenue_12m"))  # doctest: +NORMALIZE_WHITESPACE
    Tested: 1 assessed criteria (account-team scores 1-5), on the 244 of 250 accounts with
    every value (6 without an outcome). Held fixed: region and size (log of the last 12
    months' revenue). Errors: HC3 (robust to unequal variances).
    """
    sample = effects.sample
    dropped = [
        (sample.dropped_outcome, "without an outcome"),
        (sample.dropped_criteria, "missing a criterion"),
        (sample.dropped_controls, "missing a control"),
        (sample.dropped_cluster, "without a cluster label"),
    ]
    why = "; ".join(f"{fmt.count(n)} {what}" for n, what in dropped if n)
    size = _OUTCOME_WORDS.get(str(size_control), str(size_control).replace("_", " "))
    held = [*controls, *([f"size (log of {size})"] if size_control else [])]
    cov = {
        "cluster": f"clustered by {effects.cluster}",
        "HC3": "HC3 (robust to unequal variances)",
        "HC1": "HC1 (robust to unequal variances; HC3 is undefined when an account has leverage 1)",
        "HC0": "HC0 (robust)",
    }.get(effects.cov_type, effects.cov_type)
    return (
        f"Tested: {source}, on the {fmt.count(sample.n_used)} of {fmt.count(sample.n_input)} "
        f"accounts with every value" + (f" ({why})" if why else "") + ". "
        f"Held fixed: {fmt.listing(held) if held else 'nothing'}. Errors: {cov}."
    )


def describe_joint(
    effects: Effects, *, q_threshold: float = 0.05, vif_threshold: float = VIF_THRESHOLD
) -> str:
    """The joint model in words: which criteria keep a credible effect when all are in one
    model, and whether the criteria overlap (variance inflation).

    Examples
    --------
    >>> table = pd.DataFrame(
    ...     {"coef": [0.18, 0.05], "q_value": [1e-5, 0.3], "vif": [1.2, 1.6], "n": [244, 244]},
    ...     index=["score_growth_potential", "score_reputation"])
    >>> effects = Effects(table, "log_growth", "ols", "joint", "HC3", (), None, 0.05, None)
    >>> print(describe_joint(effects))  # doctest: +NORMALIZE_WHITESPACE
    Holding the other criteria fixed (one model, n = 244), growth potential (+0.18 per SD,
    about +19.7% revenue, q < 0.001) keeps a credible effect on log growth; the other 1 does
    not (q ≥ 0.05). The largest variance inflation factor is 1.6 (reputation): the criteria
    overlap little, so each effect is estimated from its own variation.
    """
    if effects.view != "joint":
        raise ValueError("describe_joint needs the joint view (criteria_effects(joint=True))")
    table = effects.table.dropna(subset=["coef"])
    n = int(table["n"].iloc[0]) if len(table) else 0
    credible = table[table["q_value"] < q_threshold].sort_values(
        "coef", ascending=False, key=np.abs, kind="stable"
    )
    outcome = effects.outcome.replace("_", " ")

    def effect(name, row) -> str:
        text = f"{fmt.signed(row['coef'], 3)} per SD"
        if effects.model == "ols" and effects.outcome == "log_growth":
            text += f", about {fmt.share(np.expm1(row['coef']), signed=True)} revenue"
        return f"{_label(name)} ({text}, {fmt.p_value(row['q_value'], 'q')})"

    head = f"Holding the other criteria fixed (one model, n = {fmt.count(n)}), "
    if credible.empty:
        parts = [
            head + f"no criterion has a credible effect on {outcome} (every q ≥ {q_threshold:g})."
        ]
    else:
        verb = "keeps" if len(credible) == 1 else "keep"
        rest = len(table) - len(credible)
        listed = fmt.listing(effect(name, row) for name, row in credible.iterrows())
        tail = (
            f"; the other {rest} {'does' if rest == 1 else 'do'} not (q ≥ {q_threshold:g})."
            if rest
            else "."
        )
        parts = [head + f"{listed} {verb} a credible effect on {outcome}{tail}"]
    if "vif" in table and table["vif"].notna().any():
        worst = table["vif"].idxmax()
        high = table.index[table["vif"] > vif_threshold]
        if len(high):
            parts.append(
                f"Variance inflation above {vif_threshold:g} for {fmt.listing(_label(c) for c in high)}: "
                f"these criteria overlap, so their separate joint effects are poorly identified; "
                f"read their one-at-a-time effects instead."
            )
        else:
            parts.append(
                f"The largest variance inflation factor is {fmt.estimate(table.loc[worst, 'vif'], 2)} "
                f"({_label(worst)}): the criteria overlap little, so each effect is estimated "
                f"from its own variation."
            )
    return " ".join(parts)


def describe_out_of_time(result: OutOfTime, *, top: int = 3) -> str:
    """Out-of-time prediction in words: how much of growth the models predict on a later
    cutoff and which features matter, or what was skipped and why.

    Examples
    --------
    >>> print(describe_out_of_time(OutOfTime(None, None, ("2011-04-01",), "no test cutoff")))
    Skipped: no test cutoff. The data offer 1 cutoff with a complete outcome window (2011-04-01); this check needs a longer history.
    """
    if result.skipped or result.cv is None:
        offered = f" ({', '.join(result.cutoffs)})" if result.cutoffs else ""
        noun = "cutoff" if len(result.cutoffs) == 1 else "cutoffs"
        return (
            f"Skipped: {result.skipped}. The data offer {len(result.cutoffs)} {noun} with a "
            f"complete outcome window{offered}; this check needs a longer history."
        )
    cv = result.cv
    table = cv.table
    last = table[table["test_cutoff"] == table["test_cutoff"].max()]
    outcome = cv.outcome.replace("_", " ")
    scores = []
    for row in last.itertuples():
        name = {"ridge": "ridge regression", "hgb": "gradient boosting"}.get(row.model, row.model)
        if "r2" in last:
            scores.append(
                f"{name} R² {fmt.estimate(row.r2, 2)} (Spearman {fmt.estimate(row.spearman, 2)})"
            )
        else:
            scores.append(f"{name} AUC {fmt.estimate(row.auc, 2)}")
    first = last.iloc[0]
    outcome = _OUTCOME_WORDS.get(cv.outcome, outcome)
    train = result.importance.train_cutoffs if result.importance is not None else ()
    trained = (
        f"the cutoff {train[0]}"
        if len(train) == 1
        else f"the {len(train)} cutoffs {train[0]} to {train[-1]}"
        if train
        else str(first["train_cutoffs"])
    )
    parts = [
        f"Trained on {trained} and tested on {first['test_cutoff']} "
        f"({fmt.count(first['n_test'])} accounts), {fmt.listing(scores)} on {outcome}."
    ]
    if "r2" in last:
        best = float(last["r2"].max())
        parts.append(
            f"R² is the share of the variation in growth the model predicts (0 = no better than "
            f"the average, 1 = perfect): at {fmt.estimate(best, 2)} most of the next "
            f"{cv.horizon_days} days' growth is not visible in the features beforehand."
            if best < 0.5
            else "R² is the share of the variation in growth the model predicts (1 = perfect)."
        )
    if len(table["test_cutoff"].unique()) > 1:
        parts.append(f"{len(table['test_cutoff'].unique())} test cutoffs in all (table).")
    imp = result.importance
    if imp is not None:
        rows = imp.table.dropna(subset=["importance"])
        lead = rows[rows["ci_low"] > 0].head(top)
        if lead.empty:
            parts.append(
                f"No feature's permutation importance on {imp.test_cutoff} is clearly above zero."
            )
        else:
            listed = fmt.listing(
                f"{_label(name)} ({fmt.estimate(row['importance'], 2)})"
                for name, row in lead.iterrows()
            )
            parts.append(
                f"Shuffling one feature at a time on {imp.test_cutoff} ({imp.model}), the "
                f"{imp.scoring.replace('r2', 'R²')} drops most for {listed}."
            )
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
            if scope != "pooled" and len(result.cutoffs) > 1:
                sentence += (
                    f" That is one cutoff of {len(result.cutoffs)}: a hint, not a result "
                    "replicated over time."
                )
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
    out.extend(_skipped(result))
    return " ".join(out)


def _skipped(result: Backtest) -> list[str]:
    """One sentence per scorer that could not be scored at some cutoffs, with the first
    reason."""
    out = []
    for name, rows in result.skipped.groupby("rule_set", sort=False):
        at = fmt.listing(rows["cutoff"])
        reason = str(rows["reason"].iloc[0])
        out.append(
            f"{name} was not scored at {at}: {reason}" + ("" if reason.endswith(".") else ".")
        )
    return out


def _value(rows: pd.DataFrame, name: str, metric: str):
    hit = rows[(rows["rule_set"] == name) & (rows["metric"] == metric)]
    return None if hit.empty else hit.iloc[0]


def describe_selection(result: Backtest, *, cutoff: str | None = None) -> str:
    """Two key lists at one cutoff judged by what their accounts did next: how many accounts
    they share and how the accounts grew and churned, each difference with its interval.

    ``result`` is a :func:`~kamlab.growth.backtest` with the baseline and the other scorers;
    ``cutoff`` defaults to its last cutoff. A difference is called credible only when its
    interval excludes zero.

    Examples
    --------
    >>> rows = [("size_only", "2024-01-01", m, v, v - 0.1, v + 0.1) for m, v in
    ...         [("precision_at_k", 0.39), ("mean_growth_dh_selected", 0.02),
    ...          ("churn_selected", 0.11)]]
    >>> rows += [("seed_weighted", "2024-01-01", m, v, lo, hi) for m, v, lo, hi in
    ...          [("precision_at_k", 0.42, 0.3, 0.55), ("mean_growth_dh_selected", 0.12, 0, 0.2),
    ...           ("churn_selected", 0.11, 0.02, 0.2), ("delta_precision_at_k", 0.03, -0.1, 0.15),
    ...           ("delta_mean_growth_dh_selected", 0.1, -0.05, 0.25)]]
    >>> table = pd.DataFrame(rows, columns=["rule_set", "cutoff", "metric", "estimate",
    ...                                     "ci_low", "ci_high"]).assign(n_selected=36)
    >>> selected = pd.DataFrame({"rule_set": ["size_only"] * 2 + ["seed_weighted"] * 2,
    ...                          "cutoff": "2024-01-01", "account_id": ["A", "B", "A", "C"]})
    >>> result = Backtest(table, 365, 0.15, 0.1, 500, "size_only", 0.05, 0, ("2024-01-01",),
    ...                   pd.DataFrame(columns=["rule_set", "cutoff", "reason"]), selected)
    >>> print(describe_selection(result))  # doctest: +NORMALIZE_WHITESPACE
    At 2024-01-01 the 36 accounts chosen by seed_weighted and the 36 chosen by size_only have 1
    in common. Over the next 365 days 42.0% of seed_weighted's accounts grew by more than 10%
    against 39.0% of size_only's (a difference of +3 percentage points, 95 % CI -10 to +15);
    their mean symmetric growth was +0.12 against +0.02 (difference +0.1, 95 % CI -0.05 to
    +0.25); 11.0% against 11.0% stopped buying. Neither difference is credible: at one cutoff the two
    lists cannot be told apart by what happened next.
    """
    base = result.baseline
    if base is None:
        raise ValueError("the back-test has no baseline to compare with")
    cutoff = result.cutoffs[-1] if cutoff is None else cutoff
    rows = result.table[result.table["cutoff"] == cutoff]
    level = round(100 * (1 - result.alpha))
    names = [n for n in dict.fromkeys(rows["rule_set"]) if n != base]
    out = []
    for name in names:
        p, p0 = _value(rows, name, "precision_at_k"), _value(rows, base, "precision_at_k")
        g, g0 = (
            _value(rows, name, "mean_growth_dh_selected"),
            _value(rows, base, "mean_growth_dh_selected"),
        )
        c, c0 = _value(rows, name, "churn_selected"), _value(rows, base, "churn_selected")
        dp = _value(rows, name, "delta_precision_at_k")
        dg = _value(rows, name, "delta_mean_growth_dh_selected")
        if p is None or p0 is None:
            out.append(f"{name} was not scored at {cutoff}.")
            continue
        common = result.overlap(name, base, cutoff) if result.selected is not None else None
        shared = f" have {fmt.count(common)} in common" if common is not None else ""
        text = (
            f"At {cutoff} the {fmt.count(p['n_selected'])} accounts chosen by {name} and the "
            f"{fmt.count(p0['n_selected'])} chosen by {base}{shared}. Over the next "
            f"{result.horizon_days} days {fmt.share(p['estimate'])} of {name}'s accounts grew by "
            f"more than {fmt.share(result.growth_threshold, 0)} against {fmt.share(p0['estimate'])} "
            f"of {base}'s"
        )
        if dp is not None:
            text += (
                f" (a difference of {_points(dp['estimate'])} percentage points, {level} % CI "
                f"{_points(dp['ci_low'])} to {_points(dp['ci_high'])})"
            )
        if g is not None and g0 is not None:
            text += (
                f"; their mean symmetric growth was {fmt.signed(g['estimate'], 2)} against "
                f"{fmt.signed(g0['estimate'], 2)}"
            )
            if dg is not None:
                text += (
                    f" (difference {fmt.signed(dg['estimate'], 2)}, {level} % CI "
                    f"{fmt.signed(dg['ci_low'], 2)} to {fmt.signed(dg['ci_high'], 2)})"
                )
        if c is not None and c0 is not None:
            text += (
                f"; {fmt.share(c['estimate'])} against {fmt.share(c0['estimate'])} stopped buying"
            )
        text += "."
        deltas = [d for d in (dp, dg) if d is not None]
        better = [d for d in deltas if d["ci_low"] > 0]
        worse = [d for d in deltas if d["ci_high"] < 0]
        if deltas and not better and not worse:
            text += (
                " Neither difference is credible: at one cutoff the two lists cannot be told "
                "apart by what happened next."
                if len(deltas) > 1
                else " The difference is not credible at one cutoff."
            )
        elif better and not worse:
            text += (
                f" {name}'s list did credibly better on {fmt.listing(_metric(d) for d in better)}."
            )
        elif worse and not better:
            text += (
                f" {name}'s list did credibly worse on {fmt.listing(_metric(d) for d in worse)}."
            )
        else:
            text += " The differences point in opposite directions."
        out.append(text)
    return " ".join(out) if out else f"Only {base} was scored at {cutoff}."


def _points(value: float) -> str:
    return fmt.signed(100 * value, 3)


def _metric(row) -> str:
    return {
        "delta_precision_at_k": "the share that grew",
        "delta_mean_growth_dh_selected": "mean growth",
    }.get(row["metric"], row["metric"].replace("_", " "))


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
