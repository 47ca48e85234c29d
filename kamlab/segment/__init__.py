"""Data-driven account segments, and how they compare with rule-based tiers and types.

The question: do clusters of accounts agree with the key-account tiers and types that rules
produce, and which partition separates *future* growth and churn better?

==========================  =================================================================
:mod:`.prepare`             ``make_preprocessor`` (select, log money, impute, scale, PCA)
:mod:`.clustering`          ``Segmenter``; ``choose_k``, ``recommend_k`` and ``stability``
                            (bootstrap ARI) of a segmenter over k; ``describe_k``
:mod:`.profiles`            ``profile_segments`` → ``Profile``, ``name_segments``,
                            ``describe_profiles``
:mod:`.compare`             ``compare_partitions`` (crosstab, ARI, AMI), ``agreement_table``,
                            ``describe_agreement``, ``outcome_separation(s)``,
                            ``compare_outcome_separation``, ``describe_separation``
:mod:`.plots`               ``plot_k_selection``, ``embed_2d``, ``plot_embedding(s)``,
                            ``plot_crosstab(s)``, ``plot_outcome_by_group``,
                            ``plot_separations``
==========================  =================================================================

Partitions are plain label Series indexed by account, so segments and the tiers and types of
:mod:`kamlab.criteria` compare alike.
"""

from kamlab.segment.clustering import (
    ALGORITHMS,
    STABILITY_THRESHOLD,
    Segmenter,
    UnstableSegmentsWarning,
    choose_k,
    describe_k,
    recommend_k,
    stability,
)
from kamlab.segment.compare import (
    OUTCOME_WORDS,
    PartitionComparison,
    Separation,
    agreement_table,
    compare_outcome_separation,
    compare_partitions,
    describe_agreement,
    describe_separation,
    effect_sizes,
    outcome_separation,
    outcome_separations,
)
from kamlab.segment.plots import (
    Embedding,
    embed_2d,
    plot_crosstab,
    plot_crosstabs,
    plot_embedding,
    plot_embeddings,
    plot_k_selection,
    plot_outcome_by_group,
    plot_separations,
)
from kamlab.segment.prepare import (
    DEFAULT_FEATURES,
    MONEY_COLUMNS,
    ColumnSelector,
    make_preprocessor,
    signed_log1p,
)
from kamlab.segment.profiles import (
    NAME_TRAITS,
    Profile,
    describe_profiles,
    name_segments,
    profile_segments,
)

__all__ = [
    "ALGORITHMS",
    "DEFAULT_FEATURES",
    "MONEY_COLUMNS",
    "NAME_TRAITS",
    "OUTCOME_WORDS",
    "STABILITY_THRESHOLD",
    "ColumnSelector",
    "Embedding",
    "PartitionComparison",
    "Profile",
    "Segmenter",
    "Separation",
    "UnstableSegmentsWarning",
    "agreement_table",
    "choose_k",
    "compare_outcome_separation",
    "compare_partitions",
    "describe_agreement",
    "describe_k",
    "describe_profiles",
    "describe_separation",
    "effect_sizes",
    "embed_2d",
    "make_preprocessor",
    "name_segments",
    "outcome_separation",
    "outcome_separations",
    "plot_crosstab",
    "plot_crosstabs",
    "plot_embedding",
    "plot_embeddings",
    "plot_k_selection",
    "plot_outcome_by_group",
    "plot_separations",
    "profile_segments",
    "recommend_k",
    "signed_log1p",
    "stability",
]
