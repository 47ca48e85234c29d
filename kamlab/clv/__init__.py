"""Customer lifetime value and contract models: RFM summaries, BG/NBD, Pareto/NBD, Gamma-Gamma,
the shifted-beta-geometric renewal model, discounted CLV, holdout checks and their figures.

The probability models follow the original papers:

- BG/NBD: Fader, Hardie & Lee (2005), "Counting your customers" the easy way.
- Pareto/NBD: Schmittlein, Morrison & Colombo (1987), in the form of Fader & Hardie (2005),
  "A note on deriving the Pareto/NBD model and related expressions".
- Gamma-Gamma: Fader & Hardie (2013), "The Gamma-Gamma model of monetary value" (note 025).
- sBG: Fader & Hardie (2007), "How to project customer retention"; DERL from Fader & Hardie
  (2010).

All models share one maximum-likelihood machinery (:class:`MLEModel`): likelihoods in log
space with analytic gradients on compressed data, L-BFGS-B plus a Newton polish,
single-threaded for small problems, intervals on the log scale and parameters at the boundary
reported in words. Time is measured in the unit chosen in :func:`rfm_summary`.

Modules: ``rfm``, ``bgnbd``, ``pareto_nbd``, ``gamma_gamma``, ``sbg``, ``valuation``,
``holdout``, ``plots``, ``simulate`` and the private ``_mle``.
"""

from kamlab.clv._mle import LOG_SE_LIMIT, CLVWarning, ConvergenceWarning, MLEModel
from kamlab.clv.bgnbd import BGNBD
from kamlab.clv.gamma_gamma import GammaGamma
from kamlab.clv.holdout import (
    PARAM_COLUMNS,
    HoldoutFit,
    cumulative_purchases,
    describe_holdout,
    describe_models,
    frequency_bins,
    holdout_check,
    holdout_fit,
)
from kamlab.clv.pareto_nbd import ParetoNBD
from kamlab.clv.plots import plot_cumulative, plot_holdout, plot_retention
from kamlab.clv.rfm import FREQ_DAYS, RFMSummary, describe_rfm, rfm_overview, rfm_summary
from kamlab.clv.sbg import (
    RenewalOutlook,
    ShiftedBetaGeometric,
    describe_retention,
    renewal_outlook,
)
from kamlab.clv.simulate import simulate_bgnbd, simulate_pareto_nbd
from kamlab.clv.valuation import (
    SPEND_SOURCES,
    Valuation,
    customer_lifetime_value,
    describe_inactive,
    expected_spend_or_observed,
    value_accounts,
)

__all__ = [
    "BGNBD",
    "FREQ_DAYS",
    "LOG_SE_LIMIT",
    "PARAM_COLUMNS",
    "SPEND_SOURCES",
    "CLVWarning",
    "ConvergenceWarning",
    "GammaGamma",
    "HoldoutFit",
    "MLEModel",
    "ParetoNBD",
    "RFMSummary",
    "RenewalOutlook",
    "ShiftedBetaGeometric",
    "Valuation",
    "cumulative_purchases",
    "customer_lifetime_value",
    "describe_holdout",
    "describe_inactive",
    "describe_models",
    "describe_retention",
    "describe_rfm",
    "expected_spend_or_observed",
    "frequency_bins",
    "holdout_check",
    "holdout_fit",
    "plot_cumulative",
    "plot_holdout",
    "plot_retention",
    "renewal_outlook",
    "rfm_overview",
    "rfm_summary",
    "simulate_bgnbd",
    "simulate_pareto_nbd",
    "value_accounts",
]
