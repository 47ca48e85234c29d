"""Churn: which accounts leave, when, and why.

==================  ===============================================================
:mod:`.survival`    renewal cohorts, durations, Kaplan-Meier, log-rank, Cox
:mod:`.classifier`  the calibrated churn classifier and how its probabilities score
:mod:`.risk`        the run's churn risk per account as of the review (one recipe
                    for every report and the action list)
==================  ===============================================================

The contract-renewal model (shifted-beta-geometric) lives with the other probability models
in :mod:`kamlab.clv`.
"""

from kamlab.churn.classifier import (
    ChurnClassifier,
    churn_scores,
    plot_reliability,
    reliability_table,
)
from kamlab.churn.risk import ChurnRisk, churn_risk
from kamlab.churn.survival import (
    RenewalCohorts,
    account_durations,
    chi2_by_group,
    cox_ph,
    kaplan_meier,
    logrank,
    plot_survival,
    renewal_survivors,
)

__all__ = [
    "ChurnClassifier",
    "ChurnRisk",
    "RenewalCohorts",
    "account_durations",
    "chi2_by_group",
    "churn_risk",
    "churn_scores",
    "cox_ph",
    "kaplan_meier",
    "logrank",
    "plot_reliability",
    "plot_survival",
    "reliability_table",
    "renewal_survivors",
]
