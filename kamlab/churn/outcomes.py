"""Churn after the outcome cutoff: how often each tier churned, which criteria carry the risk,
(the comparison with the drivers a synthetic portfolio planted is :mod:`kamlab.churn.truth`).

Tiers and criteria are measured at ``timeline.outcome_cutoff`` from data before it; churn is
what happened in the ``timeline.horizon_days`` after it (the outcome window, complete before
the review date). Two kinds of churn, decided by the data:

* with acquisition and churn dates in the accounts table
  (:func:`~kamlab.churn.has_churn_dates`): a recorded churn date inside the window, followed
  in time (Kaplan-Meier by tier, log-rank test, Cox model of the criteria);
* without them: no purchase inside the window (churn shares by tier, chi-squared test, a
  logistic regression of the criteria).

:func:`churn_by_tier` → :class:`ChurnByTier`, :func:`churn_criteria` → :class:`ChurnEffects`;
each says what it skipped and why when the data are too short.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass

import numpy as np
import pandas as pd

from kamlab import fmt
from kamlab._plot import axes, finish
from kamlab.churn.survival import (
    account_durations,
    chi2_by_group,
    cox_ph,
    has_churn_dates,
    kaplan_meier,
    logrank,
    plot_survival,
    wilson_interval,
)
from kamlab.tiers import DESIGNATED, TIERS

__all__ = [
    "MIN_EVENTS",
    "ChurnByTier",
    "ChurnEffects",
    "churn_by_tier",
    "churn_criteria",
    "plot_churn_by_tier",
]

#: Fewest churn events a model of the criteria is fitted on.
MIN_EVENTS = 10
_DAY = pd.Timedelta(days=1)
EFFECT_COLUMNS = ("coef", "std_error", "ratio", "ci_low", "ci_high", "p_value", "q_value")


def _label(column: str) -> str:
    return "NPS" if column == "nps" else column.removeprefix("score_").replace("_", " ")


# --------------------------------------------------------------------------------- by tier
@dataclass(frozen=True)
class ChurnByTier:
    """Churn in the outcome window by tier at the outcome cutoff (:func:`churn_by_tier`).

    Attributes
    ----------
    table : pandas.DataFrame
        Index ``tier`` (regular, key, strategic, total): ``accounts``, ``churned``,
        ``churn_share``.
    followed : pandas.DataFrame
        Per account: ``tier``, ``event`` (1 churned in the window) and ``duration_days`` (days
        from the cutoff to churn or to the window's end; NaN without churn dates).
    features : pandas.DataFrame
        :func:`kamlab.features.account_features` at the cutoff (the criteria of
        :func:`churn_criteria`).
    km : pandas.DataFrame or None
        Kaplan-Meier curves by tier (with churn dates).
    test : pandas.Series or None
        ``statistic``, ``df``, ``p_value`` of the log-rank (with dates) or chi-squared test;
        None when fewer than two tiers or no churn.
    dated : bool
        Churn is a recorded date (True) or no purchase in the window (False).
    cutoff, end : Timestamp or None
        The outcome cutoff and the last day of its window.
    horizon_days : int
    rule_set : str
    skipped : str or None
    """

    table: pd.DataFrame
    followed: pd.DataFrame
    features: pd.DataFrame
    km: pd.DataFrame | None
    test: pd.Series | None
    dated: bool
    cutoff: pd.Timestamp | None
    end: pd.Timestamp | None
    horizon_days: int
    rule_set: str
    skipped: str | None

    @property
    def method(self) -> str:
        """The test of equal churn across tiers."""
        return "log-rank" if self.dated else "chi-squared"

    @property
    def definition(self) -> str:
        """What counts as churn, in words."""
        return "a recorded churn date" if self.dated else "no purchase"

    def describe(self) -> str:
        """How often each tier churned and whether the tiers differ (Markdown)."""
        if self.skipped:
            return f"Churn by tier was not computed: {self.skipped}."
        t = self.table
        per_tier = ", ".join(
            f"{tier} {fmt.count(t.loc[tier, 'churned'])} of {fmt.count(t.loc[tier, 'accounts'])}"
            f" ({fmt.share(t.loc[tier, 'churn_share'])})"
            for tier in reversed(TIERS)
            if t.loc[tier, "accounts"] > 0
        )
        key = t.loc[list(DESIGNATED)].sum()
        text = (
            f"Churn ({self.definition}) in the {self.horizon_days} days from "
            f"{self.cutoff.date()} to {self.end.date()}, by tier under '{self.rule_set}' at "
            f"{self.cutoff.date()}: {per_tier}. Key and strategic accounts together: "
            f"{fmt.share(key['churned'] / key['accounts'] if key['accounts'] else np.nan)}, "
            f"against {fmt.share(t.loc['regular', 'churn_share'])} of regular accounts."
        )
        if self.test is None:
            return text + " There is too little churn (or too few tiers) to test a difference."
        p = float(self.test["p_value"])
        what = "survival" if self.dated else "churn shares"
        verdict = (
            "the tiers churn at different rates"
            if p < 0.05
            else "no evidence that the tiers churn at different rates"
        )
        return (
            f"{text} A {self.method} test of equal {what} across the tiers gives "
            f"{fmt.p_value(p, 'p')}: {verdict} (at the 5 % level)."
        )


def _skipped_by_tier(timeline, rule_set: str, reason: str) -> ChurnByTier:
    empty = pd.DataFrame(columns=["accounts", "churned", "churn_share"])
    return ChurnByTier(
        empty,
        pd.DataFrame(columns=["tier", "event", "duration_days"]),
        pd.DataFrame(),
        None,
        None,
        False,
        None,
        None,
        timeline.horizon_days,
        rule_set,
        reason,
    )


def _tier_table(followed: pd.DataFrame) -> pd.DataFrame:
    grouped = followed.groupby("tier", observed=False)["event"].agg(["size", "sum"])
    grouped = grouped.reindex(list(TIERS)).fillna(0)
    out = pd.DataFrame(
        {
            "accounts": [*grouped["size"].astype(int), len(followed)],
            "churned": [*grouped["sum"].astype(int), int(followed["event"].sum())],
        },
        index=pd.Index([*TIERS, "total"], name="tier"),
    )
    out["churn_share"] = out["churned"] / out["accounts"].where(out["accounts"] > 0)
    return out


def churn_by_tier(dataset, timeline, rule_set="seed_weighted") -> ChurnByTier:
    """Churn in the outcome window by the tier each account had at the outcome cutoff.

    Accounts active at ``timeline.outcome_cutoff`` (those of
    :func:`kamlab.features.account_features`) are tiered by ``rule_set`` from data before it
    and followed for ``timeline.horizon_days`` days. With churn dates, an account churns on
    its recorded ``churned_on`` inside the window (Kaplan-Meier curves by tier, log-rank
    test); without them, when it makes no purchase inside the window (chi-squared test of the
    churn shares).

    Parameters
    ----------
    dataset : kamlab.data.Dataset
    timeline : kamlab.timeline.Timeline
    rule_set : str or kamlab.criteria.RuleSet
        The rule set that tiers the accounts.

    Returns
    -------
    ChurnByTier
        ``skipped`` says why when the data have no complete outcome window.
    """
    from kamlab.criteria import as_rule_set, score_accounts
    from kamlab.features import account_features
    from kamlab.timeline import InsufficientHistory

    rules = as_rule_set(rule_set)
    name = getattr(rules, "name", str(rule_set))
    try:
        timeline.require("Churn by tier")
    except InsufficientHistory as exc:
        return _skipped_by_tier(timeline, name, str(exc))
    cutoff = timeline.outcome_cutoff
    end = timeline.outcome_end - _DAY
    features = account_features(dataset, cutoff, timeline.horizon_days)
    tiers = score_accounts(features, rules).tiers
    dated = has_churn_dates(dataset.accounts)
    if dated:
        durations = account_durations(dataset.accounts, end, start=cutoff)
        followed = durations.join(tiers, how="inner")
    else:
        followed = pd.DataFrame(
            {
                "event": features["churned"].astype(int),
                "duration_days": np.nan,
                "tier": tiers,
            }
        )
    followed = followed[["tier", "event", "duration_days"]].sort_values(
        "tier", ascending=False, kind="stable"
    )
    groups = followed["tier"].astype(str)
    several = groups.nunique() >= 2 and 0 < followed["event"].sum() < len(followed)
    km = test = None
    if dated:
        km = kaplan_meier(followed["duration_days"], followed["event"], groups)
        test = logrank(followed["duration_days"], followed["event"], groups) if several else None
    elif several:
        test = chi2_by_group(followed["event"], groups)
    return ChurnByTier(
        _tier_table(followed),
        followed,
        features,
        km,
        test,
        dated,
        cutoff,
        end,
        timeline.horizon_days,
        name,
        None,
    )


def plot_churn_by_tier(result: ChurnByTier, ax=None, *, title: str | None = None):
    """Churn by tier: Kaplan-Meier curves when churn has dates, else the churn share of each
    tier with a 95 % Wilson interval.

    Examples
    --------
    >>> table = pd.DataFrame({"accounts": [100, 20, 5, 125], "churned": [20, 2, 0, 22]},
    ...                      index=pd.Index(["regular", "key", "strategic", "total"], name="tier"))
    >>> table["churn_share"] = table["churned"] / table["accounts"]
    >>> result = ChurnByTier(table, pd.DataFrame(), pd.DataFrame(), None, None, False,
    ...                      pd.Timestamp("2024-01-01"), pd.Timestamp("2024-12-30"), 365,
    ...                      "seed_weighted", None)
    >>> ax = plot_churn_by_tier(result)
    >>> [t.get_text() for t in ax.get_xticklabels()]
    ['regular', 'key', 'strategic']
    """
    if result.skipped:
        raise ValueError(f"nothing to plot: {result.skipped}")
    cutoff = result.cutoff.date()
    if result.km is not None:
        ax = plot_survival(
            result.km,
            ax,
            time_unit=f"days after {cutoff}",
            title=title
            or f"Accounts still active after {cutoff}, by tier\n(Kaplan-Meier, 95 % intervals)",
            end=float((result.end - result.cutoff).days),
        )
        lowest = float(result.km["ci_low"].min()) * 100
        ax.set_ylim(max(0.0, np.floor(lowest / 10) * 10 - 5), 101)
        return ax
    ax = axes(ax)
    t = result.table.loc[list(TIERS)]
    t = t[t["accounts"] > 0]
    low, high = wilson_interval(t["churned"].to_numpy(float), t["accounts"].to_numpy(float))
    share = t["churn_share"].to_numpy(float)
    ax.bar(range(len(t)), 100 * share, color="tab:blue", label="churned")
    ax.errorbar(
        range(len(t)),
        100 * share,
        yerr=100 * np.clip(np.vstack([share - low, high - share]), 0, None),
        fmt="none",
        color="black",
        capsize=4,
        label="95 % interval",
    )
    ax.set_xticks(range(len(t)), list(t.index))
    return finish(
        ax,
        title=title
        or f"Accounts without a purchase in the {result.horizon_days} days\nafter {cutoff}, by tier",
        xlabel=f"tier at {cutoff}",
        ylabel="churned (%)",
    )


# --------------------------------------------------------------------------------- criteria
@dataclass(frozen=True)
class ChurnEffects:
    """Which criteria carry churn risk (:func:`churn_criteria`).

    Attributes
    ----------
    table : pandas.DataFrame
        Index ``covariate`` (the criterion's column), ``criterion`` (its name in words) and
        :data:`EFFECT_COLUMNS`: ``coef`` per
        standard deviation (log hazard for Cox, log odds for Logit), ``std_error``, ``ratio``
        (exp(coef): hazard or odds ratio) with its 95 % interval ``ci_low``/``ci_high``,
        ``p_value`` and ``q_value`` (Benjamini-Hochberg over the criteria); smallest p first.
    model : str
        ``"Cox"`` or ``"Logit"``.
    ratio_name : str
        ``"hazard ratio"`` or ``"odds ratio"``.
    n, events, left_out : int
        Accounts in the model, of them churned, and accounts left out for a missing value.
    source : str
        Which criteria were used (assessed or transaction-derived).
    collinear : tuple of str
        Criteria with a variance inflation factor above 5 (Logit only).
    cutoff : Timestamp or None
    horizon_days : int
    skipped : str or None
    """

    table: pd.DataFrame
    model: str
    ratio_name: str
    n: int
    events: int
    left_out: int
    source: str
    collinear: tuple[str, ...]
    cutoff: pd.Timestamp | None
    horizon_days: int
    skipped: str | None

    def significant(self, q_threshold: float = 0.05) -> pd.DataFrame:
        """The rows with ``q_value < q_threshold``."""
        return self.table[self.table["q_value"] < q_threshold]

    def describe(self, q_threshold: float = 0.05) -> str:
        """Which criteria carry churn risk, in words (Markdown)."""
        if self.skipped:
            return f"The criteria were not modelled: {self.skipped}."
        kind = (
            "A Cox model of the time to a recorded churn"
            if self.model == "Cox"
            else "A logistic regression (Logit) of churn"
        )
        article = "An" if self.ratio_name[0] in "aeiou" else "A"
        text = (
            f"{kind} in the {self.horizon_days} days after {self.cutoff.date()}, on "
            f"{self.source}, each per standard deviation: {fmt.count(self.n)} accounts with "
            f"every value known ({fmt.count(self.left_out)} left out for a missing criterion "
            f"before the cutoff), {fmt.count(self.events)} of them churned. {article} "
            f"{self.ratio_name} below 1 means less churn."
        )
        sig = self.significant(q_threshold)
        k = len(self.table)
        if len(sig):
            named = "; ".join(
                f"{_label(c)} ({self.ratio_name} {fmt.estimate(r['ratio'], 3)}, "
                f"{'protects' if r['ratio'] < 1 else 'raises the risk'}, "
                f"{fmt.p_value(r['q_value'], 'q')})"
                for c, r in sig.iterrows()
            )
            text += (
                f" Significant after correcting for testing {fmt.count(k)} criteria at once "
                f"(q < {fmt.estimate(q_threshold, 2)}): {named}."
            )
            if k > len(sig):
                text += (
                    f" The other {fmt.count(k - len(sig))} show no effect the data can tell "
                    "from chance."
                )
        else:
            best = self.table.iloc[0]
            text += (
                f" No criterion is significant after correcting for testing {fmt.count(k)} "
                f"criteria at once; the smallest q-value is {fmt.p_value(best['q_value'])} "
                f"({_label(self.table.index[0])}). With {fmt.count(self.events)} churned "
                f"accounts only large effects could be detected."
            )
        if self.collinear:
            text += (
                f" {', '.join(_label(c) for c in self.collinear)} are strongly correlated with "
                "other criteria (variance inflation above 5), so their separate effects are "
                "poorly identified."
            )
        return text


def _skipped_effects(study: ChurnByTier, reason: str) -> ChurnEffects:
    columns = ["criterion", *EFFECT_COLUMNS]
    table = pd.DataFrame(columns=columns, index=pd.Index([], name="covariate"))
    return ChurnEffects(
        table,
        "Cox" if study.dated else "Logit",
        "hazard ratio" if study.dated else "odds ratio",
        0,
        0,
        0,
        "",
        (),
        study.cutoff,
        study.horizon_days,
        reason,
    )


def _bh(p: pd.Series) -> pd.Series:
    from statsmodels.stats.multitest import multipletests

    out = pd.Series(np.nan, index=p.index)
    ok = p.notna()
    if ok.any():
        out[ok] = multipletests(p[ok].to_numpy(), method="fdr_bh")[1]
    return out


def churn_criteria(study: ChurnByTier) -> ChurnEffects:
    """Which criteria, measured at the outcome cutoff, carry churn risk.

    The assessed criteria (``score_*``; transaction-derived ones without assessments, see
    :func:`kamlab.growth.criteria_columns`) and the latest NPS, each standardised over the
    accounts in the model. With churn dates: a Cox proportional-hazards model of the time to
    churn in the window (:func:`~kamlab.churn.cox_ph`); without: a Logit of churn in the
    window (:func:`kamlab.growth.criteria_effects`, joint). Accounts missing a value are left
    out and counted.

    Parameters
    ----------
    study : ChurnByTier
        The accounts at the outcome cutoff and their churn (:func:`churn_by_tier`).

    Returns
    -------
    ChurnEffects
        ``skipped`` says why when there are fewer than :data:`MIN_EVENTS` churned accounts,
        too few complete rows, or no criterion varies.
    """
    from kamlab.growth import criteria_columns, criteria_effects

    if study.skipped:
        return _skipped_effects(study, study.skipped)
    features = study.features
    try:
        covariates, _ = criteria_columns(features)
    except ValueError as exc:
        return _skipped_effects(study, str(exc))
    assessed = all(c.startswith("score_") for c in covariates)
    source = (
        f"{fmt.count(len(covariates))} assessed criteria (account-team scores 1-5)"
        if assessed
        else f"{fmt.count(len(covariates))} transaction-derived criteria "
        f"({', '.join(covariates)}; the data have no assessments)"
    )
    if "nps" in features and "nps" not in covariates and features["nps"].nunique() > 1:
        covariates = [*covariates, "nps"]
        source += " and the latest NPS"
    followed = study.followed
    if study.dated:
        frame = features[covariates].join(followed[["duration_days", "event"]], how="inner")
        complete = frame.replace([np.inf, -np.inf], np.nan).dropna()
        sd = complete[covariates].std()
        used = [c for c in covariates if sd[c] > 0]
        events = int(complete["event"].sum())
        if events < MIN_EVENTS or len(complete) < len(used) + 10:
            return _skipped_effects(
                study,
                f"{fmt.count(len(complete))} accounts with every criterion known, "
                f"{fmt.count(events)} of them churned; a model of {fmt.count(len(used))} "
                f"criteria needs at least {MIN_EVENTS} churned accounts",
            )
        z = (complete[used] - complete[used].mean()) / sd[used]
        cox = cox_ph(z.join(complete[["duration_days", "event"]]), "duration_days", "event", used)
        table = cox.set_index("covariate").rename(columns={"hazard_ratio": "ratio"})
        n, left_out, collinear = len(complete), len(frame) - len(complete), ()
    else:
        labels = features[covariates].join(features["churned"].astype(float))
        complete = labels.replace([np.inf, -np.inf], np.nan).dropna()
        events = int(complete["churned"].sum())
        if events < MIN_EVENTS:
            return _skipped_effects(
                study,
                f"only {fmt.count(events)} of the accounts with every criterion known churned; "
                f"a model needs at least {MIN_EVENTS}",
            )
        with warnings.catch_warnings(record=True):
            warnings.simplefilter("always")
            try:
                effects = criteria_effects(
                    features.assign(churned=features["churned"].astype(float)),
                    covariates,
                    "churned",
                    joint=True,
                    model="logit",
                )
            except ValueError as exc:
                return _skipped_effects(study, str(exc))
        table = effects.table.copy()
        table["ratio"] = np.exp(table["coef"])
        table["ci_low"], table["ci_high"] = np.exp(table["ci_low"]), np.exp(table["ci_high"])
        table.index.name = "covariate"
        collinear = tuple(table.index[table["vif"] > 5]) if "vif" in table else ()
        n = effects.sample.n_used
        left_out = effects.sample.n_input - n
    table["q_value"] = _bh(table["p_value"])
    table = table[list(EFFECT_COLUMNS)].astype(float)
    table = table.iloc[np.lexsort((table.index.to_numpy(), table["p_value"].to_numpy()))]
    table.insert(0, "criterion", [_label(c) for c in table.index])
    return ChurnEffects(
        table,
        "Cox" if study.dated else "Logit",
        "hazard ratio" if study.dated else "odds ratio",
        int(n),
        events,
        int(left_out),
        source,
        collinear,
        study.cutoff,
        study.horizon_days,
        None,
    )
