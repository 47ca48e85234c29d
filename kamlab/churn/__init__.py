"""Churn: which accounts leave, when, and why.

==================  ===============================================================
:mod:`.survival`    durations, Kaplan-Meier, log-rank, Cox
:mod:`.renewals`    renewal cohorts (the input of the sBG model), their heatmap
:mod:`.outcomes`    churn after the outcome cutoff: by tier, by criterion
:mod:`.truth`       the criteria against the planted drivers of a synthetic portfolio
:mod:`.classifier`  the calibrated churn classifier and how its probabilities score
:mod:`.risk`        the run's churn risk per account as of the review (one recipe
                    for every report and the action list)
==================  ===============================================================

The contract-renewal model (shifted-beta-geometric) lives with the other probability models
in :mod:`kamlab.clv`.
"""

from kamlab.churn.classifier import (
    ChurnClassifier,
    check_reliability,
    churn_scores,
    describe_reliability,
    plot_reliability,
    reliability_table,
)
from kamlab.churn.outcomes import (
    ChurnByTier,
    ChurnEffects,
    churn_by_tier,
    churn_criteria,
    plot_churn_by_tier,
)
from kamlab.churn.renewals import (
    RenewalCohorts,
    describe_cohorts,
    plot_renewal_cohorts,
    renewal_cohorts,
    renewal_survivors,
)
from kamlab.churn.risk import ChurnRisk, churn_risk
from kamlab.churn.survival import (
    CHURN_DATE_COLUMNS,
    account_durations,
    chi2_by_group,
    cox_ph,
    has_churn_dates,
    kaplan_meier,
    logrank,
    plot_survival,
)
from kamlab.churn.truth import TruthCheck, compare_with_truth

__all__ = [
    "CHURN_DATE_COLUMNS",
    "ChurnByTier",
    "ChurnClassifier",
    "ChurnEffects",
    "ChurnRisk",
    "RenewalCohorts",
    "TruthCheck",
    "account_durations",
    "check_reliability",
    "chi2_by_group",
    "churn_by_tier",
    "churn_criteria",
    "churn_risk",
    "churn_scores",
    "compare_with_truth",
    "cox_ph",
    "describe_cohorts",
    "describe_reliability",
    "has_churn_dates",
    "kaplan_meier",
    "logrank",
    "plot_churn_by_tier",
    "plot_reliability",
    "plot_renewal_cohorts",
    "plot_survival",
    "reliability_table",
    "renewal_cohorts",
    "renewal_survivors",
]
