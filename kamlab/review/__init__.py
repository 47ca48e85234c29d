"""The periodic key-account review: what changed, what is at risk, what the list misses.

==========================  =================================================================
:mod:`.history`             ``tier_history``, ``tier_migration``, ``review_changes``,
                            ``list_moves``, ``describe_migration``, ``tier_streaks``
:mod:`.lists`               ``at_risk_accounts``, ``value_vs_tier`` (CLV vs tier),
                            ``model_additions`` (growth candidates by expected revenue gain)
:mod:`.checklist`           ``review_checklist`` (the classic mistakes), ``describe_review``
:mod:`.today`               ``review_state`` (scores now and before, one panel),
                            ``growth_candidates``
==========================  =================================================================

A review is *as of* its date: every input must be measured from data before it (features,
scores, churn probabilities, CLV and predictions from models calibrated before it). Nothing
here reads an outcome. "Designated" accounts are those in the tiers passed as ``designated``
(default :data:`kamlab.tiers.DESIGNATED`: key and strategic). Every function that takes tiers
accepts a :class:`kamlab.criteria.Scores`, a frame with a ``tier`` column or a Series of tiers.
"""

from kamlab.review.checklist import CHECK_STATUSES, describe_review, review_checklist
from kamlab.review.history import (
    CHANGES,
    Streaks,
    describe_migration,
    list_moves,
    review_changes,
    tier_history,
    tier_migration,
    tier_streaks,
)
from kamlab.review.lists import (
    MISMATCHES,
    Additions,
    AtRisk,
    ValueVsTier,
    at_risk_accounts,
    model_additions,
    value_vs_tier,
)
from kamlab.review.today import (
    Candidates,
    ReviewState,
    describe_candidates,
    describe_value,
    growth_candidates,
    review_state,
)

__all__ = [
    "CHANGES",
    "CHECK_STATUSES",
    "MISMATCHES",
    "Additions",
    "AtRisk",
    "Candidates",
    "ReviewState",
    "Streaks",
    "ValueVsTier",
    "at_risk_accounts",
    "describe_candidates",
    "describe_migration",
    "describe_review",
    "describe_value",
    "growth_candidates",
    "list_moves",
    "model_additions",
    "review_changes",
    "review_checklist",
    "review_state",
    "tier_history",
    "tier_migration",
    "tier_streaks",
    "value_vs_tier",
]
