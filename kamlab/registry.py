"""The registry of the shipped notebooks: what each one asks, publishes and measures.

The runner, the run index (:mod:`kamlab.html`), the digest (:mod:`kamlab.digest`) and
:func:`kamlab.report.table` read it instead of hard-coding names: a notebook publishing an
undeclared table fails loudly, and renaming a table breaks a test, not silently a summary line.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

__all__ = ["NOTEBOOKS", "NotebookSpec", "expected_seconds", "notebook_dates"]


@dataclass(frozen=True)
class NotebookSpec:
    """What one shipped notebook is about, publishes and measures.

    ``dates`` name :class:`~kamlab.timeline.Timeline` attributes the notebook uses;
    ``tables`` and ``figures`` are the names it publishes (``tables/<notebook>__<name>.csv``).
    """

    name: str
    title: str
    question: str
    dates: tuple[str, ...]
    tables: tuple[str, ...]
    figures: tuple[str, ...]
    #: Seconds the notebook computes on the sample (imports aside), to start the longest first.
    expected_seconds: float = 5.0


NOTEBOOKS: dict[str, NotebookSpec] = {
    spec.name: spec
    for spec in (
        NotebookSpec(
            "01_portfolio",
            "Portfolio",
            "How concentrated is revenue, and how much of it do we keep?",
            ("as_of", "retention_periods"),
            (
                "data_summary",
                "data_quality_ledger",
                "concentration",
                "retention",
                "cohort_retention",
                "retention_history",
            ),
            ("lorenz", "retention_history"),
            1.5,
        ),
        NotebookSpec(
            "02_key_accounts",
            "Key accounts",
            "Which accounts should be key, and why?",
            ("as_of", "outcome_cutoff", "previous_review"),
            (
                "catalogue",
                "references",
                "criteria_coverage",
                "tiers",
                "scores",
                "tier_by_type",
                "size_only_vs_rule_set",
                "quadrant_by_tier",
                "tier_migration",
                "tier_changes",
            ),
            (
                "revenue_by_tier",
                "top_account_contributions",
                "selection_matrix",
                "tier_migration",
            ),
            3.0,
        ),
        NotebookSpec(
            "03_segments_vs_rules",
            "Segments versus rules",
            "Do data-driven segments beat the rule-based tiers at separating future growth?",
            ("outcome_cutoff",),
            (
                "k_selection",
                "segment_profiles",
                "segments_vs_rules_agreement",
                "outcome_separation",
            ),
            ("k_selection", "crosstabs", "embedding", "growth_by_group"),
            7.0,
        ),
        NotebookSpec(
            "04_growth_drivers",
            "Growth drivers",
            "Which criteria predict growth, and would a rule set have picked better key "
            "accounts than size alone?",
            ("outcome_cutoff", "backtest_cutoffs", "training_cutoffs"),
            (
                "effects_univariate",
                "effects_grew",
                "verdicts",
                "effects_joint",
                "time_split_cv",
                "backtest",
            ),
            (
                "effects",
                "effects_joint",
                "permutation_importance",
                "backtest",
                "backtest_growth",
            ),
            6.0,
        ),
        NotebookSpec(
            "05_churn",
            "Churn",
            "Which key accounts leave, and why?",
            ("as_of", "outcome_cutoff", "training_cutoffs"),
            (
                "churn_by_tier",
                "churn_criteria",
                "reliability",
                "churn_risk",
                "renewal_survivors",
                "sbg_params",
                "residual_lifetime",
            ),
            ("churn_by_tier", "reliability", "renewal_heatmap", "sbg_retention"),
            3.5,
        ),
        NotebookSpec(
            "06_clv",
            "Customer lifetime value",
            "What is each account worth, and are key accounts the most valuable?",
            ("as_of", "outcome_cutoff"),
            (
                "rfm_describe",
                "model_params",
                "holdout_check",
                "clv_ranking",
                "clv_by_tier",
                "clv_tier_mismatch",
            ),
            ("holdout", "holdout_tracking"),
            3.0,
        ),
        NotebookSpec(
            "07_account_review",
            "Account review",
            "What changed since the last review, what is at risk, and what does the list miss?",
            ("as_of", "previous_review", "review_dates", "training_cutoffs"),
            (
                "tiers",
                "tier_by_type",
                "changes",
                "tier_migration",
                "at_risk_key_accounts",
                "clv_tier_mismatch",
                "growth_candidates",
                "checklist",
                "action_list",
            ),
            ("revenue_by_tier", "tier_migration"),
            3.5,
        ),
    )
}


def expected_seconds(notebook: str) -> float:
    """A rough cost used to start the longest notebooks first."""
    spec = NOTEBOOKS.get(notebook)
    return spec.expected_seconds if spec else 5.0


def notebook_dates(notebook: str, timeline) -> dict[str, Any]:
    """The dates ``notebook`` uses, as ISO strings (the manifest's per-notebook dates)."""
    spec = NOTEBOOKS.get(notebook)
    everything = timeline.to_dict()
    if spec is None:
        return everything
    return {name: everything[name] for name in spec.dates if name in everything} | {
        "as_of": everything["as_of"],
        "horizon_days": everything["horizon_days"],
    }
