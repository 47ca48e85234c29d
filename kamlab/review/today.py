"""The review as of its date: the pieces notebook 07 and the action list assemble, each one
computed from data before the review and each saying what it skipped on short data.

:func:`review_state` scores the portfolio at the review and at the previous review (one
feature panel for every review date) and measures the changes and the history of the list;
:func:`growth_candidates` asks the learned growth model which accounts would bring the largest
revenue gain. Churn risk (:func:`kamlab.churn.churn_risk`) and value
(:func:`kamlab.clv.value_accounts`) are the run's own recipes, shared with notebooks 05 and 06.
"""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd

from kamlab import fmt
from kamlab.review.history import review_changes, tier_history, tier_migration, tier_streaks
from kamlab.review.lists import Additions, model_additions

__all__ = [
    "Candidates",
    "ReviewState",
    "describe_candidates",
    "describe_value",
    "growth_candidates",
    "review_state",
]


@dataclass(frozen=True)
class ReviewState:
    """The list at the review and how it moved (:func:`review_state`).

    Attributes
    ----------
    features : pandas.DataFrame
        As-of features at the review (outcome columns dropped: nothing after the review).
    scored, scored_before : kamlab.criteria.Scores
        The rule set's scores at the review and at the previous review (``scored_before`` is
        None without a previous review in the data).
    size_scored : kamlab.criteria.Scores
        The size-only (80/20) list at the review, same caps.
    changes : pandas.DataFrame
        :func:`~kamlab.review.review_changes` (every account unchanged without a previous
        review).
    migration : pandas.DataFrame or None
        :func:`~kamlab.review.tier_migration` between the two reviews.
    history : pandas.DataFrame
        Tiers at every review date (:func:`~kamlab.review.tier_history`).
    streaks : kamlab.review.Streaks
    base_revenue : pandas.Series
        Revenue in the ``horizon_days`` before the review (the base a growth gain is measured
        against).
    """

    features: pd.DataFrame
    scored: object
    scored_before: object | None
    size_scored: object
    changes: pd.DataFrame
    migration: pd.DataFrame | None
    history: pd.DataFrame
    streaks: object
    base_revenue: pd.Series


def review_state(dataset, timeline, rules) -> ReviewState:
    """Score the portfolio at every review date up to ``timeline.as_of`` under ``rules`` (one
    feature panel) and measure what changed since ``timeline.previous_review``."""
    from kamlab.criteria import load_rule_set, score_accounts
    from kamlab.features import OUTCOME_COLUMNS, feature_panel

    dates = timeline.review_dates()
    previous = timeline.previous_review
    if previous is not None and previous not in dates:
        dates = sorted({*dates, previous})
    panel = feature_panel(dataset, dates, timeline.horizon_days)
    at = panel.xs(timeline.as_of, level="cutoff")
    base_revenue = at["base_revenue"]
    features = at.drop(columns=[c for c in OUTCOME_COLUMNS if c in at])
    scored = score_accounts(features, rules)
    caps = scored.rule_set.tiers
    size_rules = load_rule_set("size_only").with_caps(strategic=caps.strategic, key=caps.key)
    size_scored = score_accounts(features, size_rules)
    scored_before = migration = None
    if previous is not None:
        before = panel.xs(previous, level="cutoff")
        scored_before = score_accounts(
            before.drop(columns=[c for c in OUTCOME_COLUMNS if c in before]), rules
        )
        changes = review_changes(scored_before, scored)
        migration = tier_migration(scored_before, scored)
    else:
        changes = review_changes(scored, scored)
    history = tier_history(
        panel.loc[panel.index.get_level_values("cutoff").isin(timeline.review_dates())], rules
    )
    return ReviewState(
        features,
        scored,
        scored_before,
        size_scored,
        changes,
        migration,
        history,
        tier_streaks(history),
        base_revenue,
    )


@dataclass(frozen=True)
class Candidates:
    """Growth candidates (:func:`growth_candidates`): ``additions`` or why it was skipped."""

    additions: Additions | None
    training_dates: tuple[pd.Timestamp, ...]
    skipped: str | None

    @property
    def table(self) -> pd.DataFrame:
        """The candidates (empty when skipped)."""
        if self.additions is not None:
            return self.additions.table
        empty = pd.DataFrame(
            columns=[
                "predicted_growth",
                "base_revenue",
                "expected_gain",
                "gain_rank",
                "tier",
                "rule_rank",
            ]
        )
        empty.index.name = "account_id"
        return empty


def growth_candidates(
    dataset, timeline, state: ReviewState, *, random_state: int = 0
) -> Candidates:
    """Which accounts would the learned growth model add to the key list? Ridge regression of
    ``growth_dh`` on the numeric as-of features, trained on the cutoffs whose growth window
    closed by the review, ranked by expected revenue gain
    (:func:`~kamlab.review.model_additions`)."""
    from kamlab.features import feature_columns
    from kamlab.growth import LearnedScorer
    from kamlab.timeline import InsufficientHistory

    columns = feature_columns(state.features)
    scorer = LearnedScorer(
        columns,
        timeline.training_cutoffs,
        outcome="growth_dh",
        horizon_days=timeline.horizon_days,
        random_state=random_state,
    )
    dates = tuple(scorer.training_dates(timeline.as_of, dataset.start))
    try:
        predicted = scorer.score(state.features, timeline.as_of, dataset=dataset)
    except InsufficientHistory as exc:
        return Candidates(None, dates, str(exc))
    additions = model_additions(state.scored, predicted, state.base_revenue)
    return Candidates(additions, dates, None)


def describe_candidates(candidates: Candidates, median_key_revenue: float) -> str:
    """Whom the learned growth model would add (Markdown)."""
    if candidates.additions is None:
        return f"Growth candidates were not computed: {candidates.skipped}."
    a = candidates.additions
    table = a.table
    if table.empty:
        return (
            f"Every one of the {fmt.count(a.k)} accounts with the largest expected revenue "
            f"gain is already key or strategic."
        )
    first = table.iloc[0]
    return (
        f"Trained on the cutoffs {', '.join(str(d.date()) for d in candidates.training_dates)},"
        f" the model expects the largest revenue gains from {fmt.count(a.k)} accounts; "
        f"{fmt.count(a.overlap)} of them are already key or strategic and "
        f"{fmt.count(len(table))} are not. The first, {table.index[0]}, is expected to gain "
        f"{fmt.money(first['expected_gain'])} on a base of {fmt.money(first['base_revenue'])} "
        f"(the median key account had {fmt.money(median_key_revenue)} in the last 12 months). "
        f"They are candidates to argue over with the account teams, not automatic "
        f"replacements."
    )


def describe_value(value) -> str:
    """Do the key accounts hold the highest expected value? (Markdown, from
    :func:`~kamlab.review.value_vs_tier`)."""
    table = value.table
    high = table.index[table["mismatch"] == "high-value regular"]
    low = table.index[table["mismatch"] == "low-value key"]
    verdict = (
        "The key list captures most of the highest-value accounts."
        if value.key_share_top >= 0.5
        else "Most of the highest-value accounts are not key accounts under this rule set."
    )
    return (
        f"Of the {fmt.count(value.n_top)} most valuable accounts (of {fmt.count(value.n)}), "
        f"{fmt.share(value.key_share_top)} are key or strategic, against "
        f"{fmt.share(value.key_share_all)} of all accounts (lift {fmt.estimate(value.lift, 3)}: "
        f"1 would be no better than chance); key and strategic accounts hold "
        f"{fmt.share(value.value_share_key)} of the total value. {fmt.count(len(high))} regular "
        f"accounts rank among the most valuable"
        + (f" ({', '.join(high[:3])}{'...' if len(high) > 3 else ''})" if len(high) else "")
        + f" and {fmt.count(len(low))} key accounts are worth less than the median account "
        f"({fmt.money(value.low_threshold)}). {verdict}"
    )
