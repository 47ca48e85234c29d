"""Which criteria predict account growth: inference, prediction and back-tests of rule sets.

Three views of one question, all measured with features before a cutoff and outcomes after it:

==========================  =================================================================
:mod:`.inference`           ``criteria_effects`` (OLS HC3 / Logit, BH q-values) → ``Effects``,
                            ``variance_inflation``, ``verdicts`` (one verdict per criterion)
:mod:`.prediction`          ``time_split_cv``, ``permutation_importance_table``,
                            ``out_of_time`` (both, or why not), ``LearnedScorer``,
                            ``expected_gain``
:mod:`.backtest`            ``backtest`` → ``Backtest`` (top-k of each rule on past cutoffs),
                            ``analysis_cutoffs`` (every cutoff, for one feature panel)
:mod:`.describe`            ``describe_design``, ``describe_verdicts``, ``describe_joint``,
                            ``describe_out_of_time``, ``describe_backtest``,
                            ``describe_selection``, ``describe_growth``
:mod:`.plots`               ``plot_effects``, ``plot_importance``, ``plot_backtest``
==========================  =================================================================
"""

from kamlab.growth.backtest import (
    BACKTEST_METRICS,
    KEY_METRICS,
    METRIC_UNITS,
    Backtest,
    analysis_cutoffs,
    backtest,
)
from kamlab.growth.describe import (
    describe_backtest,
    describe_design,
    describe_growth,
    describe_joint,
    describe_out_of_time,
    describe_selection,
    describe_verdicts,
)
from kamlab.growth.inference import (
    DERIVED_CRITERIA,
    EFFECT_COLUMNS,
    VERDICTS,
    VIF_THRESHOLD,
    Effects,
    SampleReport,
    criteria_columns,
    criteria_effects,
    usable_cluster,
    usable_controls,
    variance_inflation,
    verdicts,
)
from kamlab.growth.plots import plot_backtest, plot_effects, plot_importance
from kamlab.growth.prediction import (
    CrossValidation,
    Importance,
    InsufficientHistory,
    LearnedScorer,
    OutOfTime,
    expected_gain,
    make_model,
    out_of_time,
    permutation_importance_table,
    time_split_cv,
)

__all__ = [
    "BACKTEST_METRICS",
    "DERIVED_CRITERIA",
    "EFFECT_COLUMNS",
    "KEY_METRICS",
    "METRIC_UNITS",
    "VERDICTS",
    "VIF_THRESHOLD",
    "Backtest",
    "CrossValidation",
    "Effects",
    "Importance",
    "InsufficientHistory",
    "LearnedScorer",
    "OutOfTime",
    "SampleReport",
    "analysis_cutoffs",
    "backtest",
    "criteria_columns",
    "criteria_effects",
    "describe_backtest",
    "describe_design",
    "describe_growth",
    "describe_joint",
    "describe_out_of_time",
    "describe_selection",
    "describe_verdicts",
    "expected_gain",
    "make_model",
    "out_of_time",
    "permutation_importance_table",
    "plot_backtest",
    "plot_effects",
    "plot_importance",
    "time_split_cv",
    "usable_cluster",
    "usable_controls",
    "variance_inflation",
    "verdicts",
]
