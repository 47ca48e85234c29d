"""kamlab: key account management research toolkit.

One module per concern, each with a small flat API:

==============  =====================================================================
``data``        the data contract: ``load_dataset``, ``load_table``, ``DataContractError``
``invoices``    ``kamlab import``: ``import_invoices``, ``propose_mapping``, ``write_import``
``datasets``    public datasets: ``from_online_retail``, ``from_cdnow``, ``write_dataset``
``ledger``      the data-quality ledger and an import's source record
``synth``       synthetic portfolios with planted truth: ``generate``, ``write_synthetic``
``timeline``    every date of a run: ``Timeline``
``features``    as-of features and outcomes: ``account_features``, ``feature_panel``
``portfolio``   concentration and retention: ``gini``, ``pareto_share``, ``revenue_retention``
``tiers``       ranking and tiering under caps: ``rank_accounts``, ``assign_tiers``
``criteria``    rule sets, scores, types: ``load_rule_set``, ``score_accounts``
``segment``     clustering vs rules: ``Segmenter``, ``choose_k``, ``stability``
``growth``      which criteria predict growth: ``criteria_effects``, ``verdicts``, ``backtest``
``churn``       ``kaplan_meier``, ``cox_ph``, ``ChurnClassifier``, ``churn_risk``
``clv``         ``rfm_summary``, ``BGNBD``, ``ParetoNBD``, ``GammaGamma``, ``value_accounts``
``review``      the periodic review: ``review_state``, ``review_changes``, ``value_vs_tier``
``actions``     the action list: ``action_list``
``plotting``    portfolio and key-account figures: ``plot_lorenz``, ``plot_revenue_by_tier``
``fmt``         numbers for people: ``money``, ``share``, ``estimate``, ``p_value``
``report``      what a notebook needs: ``start``, ``show``, ``answer``, ``table``, ``figure``
``registry``    what each shipped notebook publishes and which dates it uses
``runner``      ``run_notebooks`` (the ``kamlab run`` command)
``digest``      ``summarize_run``, ``compare_runs`` (``kamlab summarize``)
``scale``       the same features on any Ibis backend (DuckDB, Spark, a warehouse)
==============  =====================================================================

Submodules and the entry points below load on first use, so ``import kamlab`` stays fast.
"""

from importlib import import_module
from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("kamlab")
except PackageNotFoundError:  # running from a source tree without install
    __version__ = "0.0.0"

_MODULES = (
    "data",
    "invoices",
    "datasets",
    "synth",
    "features",
    "portfolio",
    "tiers",
    "criteria",
    "segment",
    "growth",
    "churn",
    "clv",
    "review",
    "plotting",
    "report",
    "runner",
    "scale",
    "ledger",
    "timeline",
    "actions",
    "fmt",
    "registry",
    "digest",
    "html",
    "parameters",
)
_ENTRY_POINTS = {
    "load_dataset": "data",
    "DataContractError": "data",
    "Dataset": "data",
    "account_features": "features",
    "feature_panel": "features",
    "load_rule_set": "criteria",
    "score_accounts": "criteria",
    "run_notebooks": "runner",
}

__all__ = ["__version__", *_MODULES, *_ENTRY_POINTS]  # noqa: PLE0604


def __getattr__(name: str):
    if name in _MODULES:
        return import_module(f"kamlab.{name}")
    if name in _ENTRY_POINTS:
        return getattr(import_module(f"kamlab.{_ENTRY_POINTS[name]}"), name)
    raise AttributeError(f"module 'kamlab' has no attribute {name!r}")


def __dir__():
    return sorted(__all__)
