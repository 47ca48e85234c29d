"""Key-account criteria as data: the catalogue, rule sets, and the scores, tiers and types they
give.

==========================  =================================================================
:mod:`.catalogue`           the criteria (``load_catalogue``, ``Catalogue``, ``Criterion``)
:mod:`.rules`               rule sets (``load_rule_set``, ``RuleSet``, ``TierRule``, ``TypeRule``)
:mod:`.scoring`             ``score_accounts`` → :class:`Scores`, ``contributions``, ``coverage``
:mod:`.describe`            ``describe_catalogue``, ``describe_coverage``, ``describe_types``,
                            ``describe_top_accounts``, ``describe_quadrants``
==========================  =================================================================

Ranking and tiering under caps live in :mod:`kamlab.tiers`; reviews (migrations, the tier
history) in :mod:`kamlab.review`.

>>> import pandas as pd
>>> from kamlab.criteria import score_accounts
>>> features = pd.DataFrame({"revenue_12m": [5.0, 1.0, 3.0]}, index=["A", "B", "C"])
>>> score_accounts(features, "size_only").table["rank"].tolist()
[1, 3, 2]
"""

from kamlab.criteria.catalogue import (
    FAMILIES,
    Catalogue,
    CatalogueError,
    Criterion,
    load_catalogue,
)
from kamlab.criteria.describe import (
    describe_catalogue,
    describe_coverage,
    describe_quadrants,
    describe_top_accounts,
    describe_types,
)
from kamlab.criteria.rules import (
    NORMALISATIONS,
    RuleSet,
    TierRule,
    TypeRule,
    as_rule_set,
    available_rule_sets,
    load_rule_set,
)
from kamlab.criteria.scoring import (
    MISSING,
    QUADRANTS,
    TYPES,
    Scores,
    contributions,
    coverage,
    score_accounts,
)

__all__ = [
    "FAMILIES",
    "MISSING",
    "NORMALISATIONS",
    "QUADRANTS",
    "TYPES",
    "Catalogue",
    "CatalogueError",
    "Criterion",
    "RuleSet",
    "Scores",
    "TierRule",
    "TypeRule",
    "as_rule_set",
    "available_rule_sets",
    "contributions",
    "coverage",
    "describe_catalogue",
    "describe_coverage",
    "describe_quadrants",
    "describe_top_accounts",
    "describe_types",
    "load_catalogue",
    "load_rule_set",
    "score_accounts",
]
