"""Data-driven account segments, and how they compare with rule-based tiers and types.

The question: do clusters of accounts agree with the key-account tiers and types that rules
produce, and which partition separates *future* growth and churn better?

==========================  =================================================================
:mod:`.prepare`             ``make_preprocessor`` (select, log money, impute, scale, PCA)
:mod:`.clustering`          ``Segmenter``; ``choose_k``, ``recommend_k`` and ``stability``
                            (bootstrap ARI) of a segmenter over k
:mod:`.profiles`            ``profile_segments`` → ``Profile``, ``name_segments``
:mod:`.compare`             ``compare_partitions`` (crosstab, ARI, AMI), ``outcome_separation``,
                            ``compare_outcome_separation``, ``describe_separation``
:mod:`.plots`               ``plot_k_selection``, ``embed_2d``, ``plot_embedding``,
                            ``plot_crosstab``, ``plot_outcome_by_group``
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
    recommend_k,
    stability,
)
from kamlab.segment.compare import (
    PartitionComparison,
    Separation,
    compare_outcome_separation,
    compare_partitions,
    describe_separation,
    effect_sizes,
    outcome_separation,
)
from kamlab.segment.plots import (
    Embedding,
    embed_2d,
    plot_crosstab,
    plot_embedding,
    plot_k_selection,
    plot_outcome_by_group,
)
from kamlab.segment.prepare import (
    DEFAULT_FEATURES,
    MONEY_COLUMNS,
    ColumnSelector,
    make_preprocessor,
    signed_log1p,
)
from kamlab.segment.profiles import NAME_TRAITS, Profile, name_segments, profile_segments

__all__ = [
    "ALGORITHMS",
    "DEFAULT_FEATURES",
    "MONEY_COLUMNS",
    "NAME_TRAITS",
    "STABILITY_THRESHOLD",
    "ColumnSelector",
    "Embedding",
    "PartitionComparison",
    "Profile",
    "Segmenter",
    "Separation",
    "UnstableSegmentsWarning",
    "choose_k",
    "compare_outcome_separation",
    "compare_partitions",
    "describe_separation",
    "effect_sizes",
    "embed_2d",
    "make_preprocessor",
    "name_segments",
    "outcome_separation",
    "plot_crosstab",
    "plot_embedding",
    "plot_k_selection",
    "plot_outcome_by_group",
    "profile_segments",
    "recommend_k",
    "signed_log1p",
    "stability",
]
