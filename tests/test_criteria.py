"""Criteria as data: catalogue, malformed YAML, exact scores, tiers and types under rule sets."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from conftest import REPO, reference_path

from kamlab.criteria import (
    FAMILIES,
    CatalogueError,
    RuleSet,
    Scores,
    available_rule_sets,
    contributions,
    coverage,
    load_catalogue,
    load_rule_set,
    score_accounts,
)
from kamlab.features import account_features
from kamlab.synth import ASSESSED_CRITERIA
from kamlab.tiers import TIERS

SEEDS = REPO.parent / "shared" / "seeds"


# --------------------------------------------------------------------------- catalogue
def test_shipped_catalogue_covers_the_seed_criteria():
    cat = load_catalogue()
    for cid in (
        "revenue_contribution",
        "growth_potential",
        "strategic_fit",
        "market_influence",
        "willingness_to_partner",
        "complexity_of_needs",
        "cost_to_serve",
        "executive_fit",
        "innovativeness",
        "reputation",
        "ease_of_buying",
        "information_exchange",
        "long_term_vision",
        "margin",
        "satisfaction",
        "purchase_frequency",
        "breadth",
    ):
        assert cid in cat, cid
    assert {c.family for c in cat} == set(FAMILIES)
    assert cat["cost_to_serve"].direction == -1 and cat["cost_to_serve"].column == "cost_to_serve"
    assert cat["growth_potential"].column == "score_growth_potential"
    # Every assessed criterion of the synthetic sample is in the catalogue.
    assessed = {c.source.split(":")[1] for c in cat if c.kind == "assessment"}
    assert set(ASSESSED_CRITERIA) <= assessed
    # Every criterion cites at least one reference; the seed references name the seed files.
    seeds = {k: v for k, v in cat.references.items() if k.startswith("seed_")}
    assert len(seeds) == 5 and all(c.reference for c in cat)
    for ref in seeds.values():
        assert ref["file"].endswith(".txt") and ref["title"]
        if SEEDS.exists():
            assert (SEEDS / ref["file"]).exists(), ref["file"]
    frame = cat.to_frame()
    assert len(frame) == len(cat) and frame.loc["margin", "family"] == "growth"


def test_shipped_rule_sets_load():
    assert available_rule_sets() == ["size_only", "seed_weighted", "selection_matrix"]
    size = load_rule_set("size_only")
    assert size.weights == {"revenue_contribution": 1.0}
    assert (size.tiers.method, size.tiers.strategic, size.tiers.key) == ("cap", 0.03, 0.15)
    matrix = load_rule_set("selection_matrix")
    assert set(matrix.axes) == {"attractiveness", "strength"}
    assert "ease_of_buying" in load_rule_set("seed_weighted").weights


# --------------------------------------------------------------------------- malformed YAML
GOOD_CRITERION = """
  - id: revenue_contribution
    family: size
    source: feature:revenue_12m
    direction: 1
    weight: 1
"""


def _catalogue_file(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "catalogue.yaml"
    path.write_text(text)
    return path


@pytest.mark.parametrize(
    "body, key, words",
    [
        (
            "criteria:\n  - {id: x, family: size, source: 'feature:a', direction: 2}\n",
            "criteria[0] ('x').direction",
            "+1 or -1",
        ),
        (
            "criteria:\n  - {id: x, family: sizes, source: 'feature:a', direction: 1}\n",
            "criteria[0] ('x').family",
            "did you mean 'size'",
        ),
        (
            "criteria:\n  - {id: x, family: size, direction: 1}\n",
            "criteria[0] ('x').source",
            "is missing",
        ),
        (
            "criteria:\n  - {id: x, family: size, source: 'column:a', direction: 1}\n",
            "criteria[0] ('x').source",
            "feature:<column>",
        ),
        (
            "criteria:\n  - {id: x, family: size, source: 'feature:a', direction: 1, wieght: 2}\n",
            "criteria[0] ('x').wieght",
            "did you mean 'weight'",
        ),
        (
            "criteria:\n  - {id: x, family: size, source: 'feature:a', direction: 1, weight: -1}\n",
            "criteria[0] ('x').weight",
            "≥ 0",
        ),
        (
            "criteria:\n  - {id: x, family: size, source: 'feature:a', direction: 1}\n"
            "  - {id: x, family: size, source: 'feature:b', direction: 1}\n",
            "criteria[1].id",
            "duplicate",
        ),
        (
            "references: {seed_000: {title: T}}\n"
            "criteria:\n  - {id: x, family: size, source: 'feature:a', direction: 1, reference: seed_001}\n",
            "criteria[0] ('x').reference",
            "unknown reference 'seed_001'",
        ),
        ("criteria: []\n", "criteria", "non-empty"),
        ("critera:\n  - {id: x}\n", "critera", "did you mean 'criteria'"),
    ],
)
def test_malformed_catalogue_names_the_key(tmp_path, body, key, words):
    path = _catalogue_file(tmp_path, body)
    with pytest.raises(CatalogueError) as info:
        load_catalogue(path)
    assert info.value.key == key
    assert key in str(info.value) and words in str(info.value)
    assert "catalogue.yaml" in str(info.value)


def test_invalid_yaml_syntax_names_file_and_line(tmp_path):
    path = _catalogue_file(tmp_path, "criteria:\n  - id: x\n    family: [size\n")
    with pytest.raises(CatalogueError, match=r"catalogue.yaml: not valid YAML at line \d+"):
        load_catalogue(path)


@pytest.mark.parametrize(
    "rule, key, words",
    [
        (
            {"weights": {"revenue_contributon": 1}},
            "weights.revenue_contributon",
            "did you mean 'revenue_contribution'",
        ),
        ({"weights": {"revenue_contribution": "high"}}, "weights.revenue_contribution", "number"),
        ({"weights": {"revenue_contribution": 0}}, "weights", "positive"),
        ({"wieghts": {"revenue_contribution": 1}}, "wieghts", "did you mean 'weights'"),
        (
            {"weights": {"revenue_contribution": 1}, "tiers": {"strategic": 0.2, "key": 0.1}},
            "tiers.strategic",
            "cumulative",
        ),
        (
            {"weights": {"revenue_contribution": 1}, "tiers": {"method": "top"}},
            "tiers.method",
            "'cap' or 'threshold'",
        ),
        ({"weights": {"revenue_contribution": 1}, "tiers": {"key": 1.5}}, "tiers.key", "[0, 1]"),
        (
            {"weights": {"revenue_contribution": 1}, "normalisation": "zscore"},
            "normalisation",
            "rank, robust_z",
        ),
        (
            {"weights": {"revenue_contribution": 1}, "types": {"growth": "growth"}},
            "types.growth",
            "unknown criterion",
        ),
        (
            {
                "weights": {"revenue_contribution": 1, "margin": 1},
                "axes": {
                    "attractiveness": ["revenue_contribution"],
                    "strength": ["growth_potential"],
                },
            },
            "axes.strength",
            "has no weight",
        ),
        (
            {
                "weights": {"revenue_contribution": 1, "margin": 1, "breadth": 1},
                "axes": {"attractiveness": ["revenue_contribution"], "strength": ["margin"]},
            },
            "axes",
            "on no axis: breadth",
        ),
    ],
)
def test_malformed_rule_set_names_the_key(rule, key, words):
    with pytest.raises(CatalogueError) as info:
        load_rule_set(rule)
    assert info.value.key == key and words in str(info.value)


def test_unknown_rule_set_name_suggests():
    with pytest.raises(CatalogueError, match="did you mean 'seed_weighted'"):
        load_rule_set("seed_weighed")


def test_user_rule_set_and_catalogue_files(tmp_path):
    rule_file = tmp_path / "mine.yaml"
    rule_file.write_text(
        "description: revenue and fit\nweights:\n  revenue_contribution: 2\n"
        "  strategic_fit: 1\ntiers: {method: cap, strategic: 0.1, key: 0.3}\n"
    )
    mine = load_rule_set(rule_file)
    assert mine.name == "mine" and mine.weights == {
        "revenue_contribution": 2.0,
        "strategic_fit": 1.0,
    }
    cat_file = _catalogue_file(
        tmp_path,
        "criteria:" + GOOD_CRITERION + "rule_sets:\n  a: {weights: {revenue_contribution: 1}}\n"
        "  b: {weights: {revenue_contribution: 2}}\n",
    )
    assert len(load_catalogue(cat_file)) == 1
    assert load_rule_set(f"{cat_file}::b").weights == {"revenue_contribution": 2.0}
    with pytest.raises(CatalogueError, match="holds 2 rule sets"):
        load_rule_set(cat_file)


# --------------------------------------------------------------------------- exact scores
def _hand_features() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "revenue_12m": [100.0, 200.0, 300.0, 400.0],
            "score_growth_potential": [1.0, np.nan, 5.0, 3.0],
        },
        index=pd.Index(["A", "B", "C", "D"], name="account_id"),
    )


HAND_RULE = {
    "name": "hand",
    "weights": {"revenue_contribution": 1, "growth_potential": 1},
    "tiers": {"method": "cap", "strategic": 0.25, "key": 0.5},
    "types": {"revenue_split": 0.5, "growth_split": 0.5},
}


def test_scores_contributions_tiers_types_by_hand():
    feats = _hand_features()
    rule = load_rule_set(HAND_RULE)
    contrib = contributions(feats, rule)
    # Revenue ranks 1..4 → (r − 0.5) / 4 − 0.5; growth observed 1, 5, 3 → ranks 1, 3, 2 of 3;
    # B's missing growth is imputed at the median (0). Both weights become 1/2.
    np.testing.assert_allclose(
        contrib["revenue_contribution"], [-0.1875, -0.0625, 0.0625, 0.1875], atol=1e-15
    )
    np.testing.assert_allclose(contrib["growth_potential"], [-1 / 6, 0, 1 / 6, 0], atol=1e-15)
    result = score_accounts(feats, rule)
    assert isinstance(result, Scores) and result.rule_set is rule
    scored = result.table
    np.testing.assert_allclose(scored["score"], contrib.sum(axis=1), atol=0)
    pd.testing.assert_frame_equal(result.contributions, contrib)
    assert scored["rank"].to_dict() == {"C": 1, "D": 2, "B": 3, "A": 4}
    assert scored["tier"].tolist() == ["regular", "regular", "strategic", "key"]
    assert scored["tier"].dtype == pd.CategoricalDtype(list(TIERS), ordered=True)
    assert result.designated.tolist() == ["C", "D"]
    # Revenue high above its median (250): C, D; growth high above its median (3): C only.
    assert scored["type"].tolist() == ["tactical", "tactical", "strategic", "stable"]
    assert result.imputed == {"revenue_contribution": 0, "growth_potential": 1}
    assert scored["n_imputed"].tolist() == [0, 1, 0, 0]
    assert result.type_growth_missing == 1 and result.unavailable == ()
    # A rule set is a callable that returns the score.
    pd.testing.assert_series_equal(rule(feats), scored["score"], check_names=False)
    # Metadata lives on the result, not in DataFrame.attrs (filtering would drop it).
    assert scored.attrs == {} and contrib.attrs == {}


def test_missing_policies():
    feats = _hand_features()
    rule = load_rule_set(HAND_RULE)
    worst = contributions(feats, rule, missing="worst")
    assert worst.loc["B", "growth_potential"] == pytest.approx(-1 / 6)
    with pytest.raises(ValueError, match=r"growth_potential \(1 accounts\)"):
        score_accounts(feats, rule, missing="raise")
    with pytest.raises(ValueError, match="missing must be one of"):
        score_accounts(feats, rule, missing="zero")


def test_unavailable_criteria_are_reported_not_zeroed():
    feats = _hand_features()
    rule = load_rule_set({"weights": {"revenue_contribution": 1, "ease_of_buying": 3}})
    scored = score_accounts(feats, rule)
    assert scored.unavailable == ("ease_of_buying",)
    # The weights are renormalised over the available criterion: revenue gets weight 1.
    np.testing.assert_allclose(scored.table["score"], [-0.375, -0.125, 0.125, 0.375])
    cov = coverage(feats, rule)
    assert cov.loc["ease_of_buying", ["available", "effective_weight"]].tolist() == [False, 0.0]
    assert cov.loc["revenue_contribution", "effective_weight"] == 1.0
    with pytest.raises(ValueError, match="none of its criteria is available"):
        score_accounts(feats, load_rule_set({"weights": {"ease_of_buying": 1}}))


def test_robust_z_and_threshold_tiers_by_hand():
    feats = pd.DataFrame(
        {"revenue_12m": [1.0, 2.0, 3.0, 4.0, 100.0]},
        index=pd.Index(list("ABCDE"), name="account_id"),
    )
    rule = load_rule_set(
        {
            "weights": {"revenue_contribution": 1},
            "normalisation": "robust_z",
            "tiers": {"method": "threshold", "strategic": 2.0, "key": 0.5},
        }
    )
    scored = score_accounts(feats, rule).table
    # median 3, MAD 1 → z = (x − 3) / 1.4826, clipped at 3.
    np.testing.assert_allclose(scored["score"], [-2 / 1.4826, -1 / 1.4826, 0, 1 / 1.4826, 3.0])
    assert scored["tier"].tolist() == ["regular", "regular", "regular", "key", "strategic"]


def test_cost_to_serve_direction_is_negative():
    feats = pd.DataFrame({"cost_to_serve": [1.0, 2.0, 3.0]}, index=["A", "B", "C"])
    scored = score_accounts(
        feats.assign(revenue_12m=1.0), load_rule_set({"weights": {"cost_to_serve": 1}})
    )
    assert scored.table["rank"].tolist() == [1, 2, 3]


def test_duplicated_accounts_are_named():
    feats = pd.DataFrame({"revenue_12m": [1.0, 2.0, 3.0]}, index=["A", "B", "A"])
    with pytest.raises(ValueError, match=r"one row per account; duplicated: \['A'\]"):
        score_accounts(feats, "size_only")


# --------------------------------------------------------------------------- the sample
@pytest.fixture(scope="module")
def sample_features(sample_dataset):
    return account_features(sample_dataset, "2024-01-01", 365)


@pytest.mark.parametrize("name", ["size_only", "seed_weighted", "selection_matrix"])
def test_sample_caps_hold_and_contributions_add_up(sample_features, name):
    rule = load_rule_set(name)
    scored = score_accounts(sample_features, rule).table
    n = len(scored)
    counts = scored["tier"].value_counts()
    assert n == 244
    assert counts["strategic"] == math.floor(0.03 * n) == 7
    assert counts["strategic"] + counts["key"] == math.floor(0.15 * n) == 36
    assert (
        scored.loc[scored["tier"] >= "key", "score"].min()
        > scored.loc[scored["tier"] == "regular", "score"].max()
    )
    contrib = contributions(sample_features, rule)
    np.testing.assert_allclose(contrib.sum(axis=1), scored["score"], rtol=0, atol=1e-12)
    assert scored["type"].value_counts().to_dict() == {
        "tactical": 137,
        "high-growth": 58,
        "stable": 32,
        "strategic": 17,
    }


def test_sample_seed_weighted_differs_from_size_only(sample_features):
    size = score_accounts(sample_features, "size_only")
    seed = score_accounts(sample_features, "seed_weighted")
    assert seed.unavailable == ("ease_of_buying",)
    assert seed.imputed["growth_potential"] == 5
    assert seed.imputed["revenue_growth"] == 34
    key_size, key_seed = set(size.designated), set(seed.designated)
    assert len(key_size) == len(key_seed) == 36
    assert key_size != key_seed
    assert len(key_size & key_seed) < 36


def test_sample_selection_matrix_axes(sample_features):
    scored = score_accounts(sample_features, "selection_matrix").table
    np.testing.assert_allclose(
        scored["attractiveness"] + scored["strength"], scored["score"], atol=1e-12
    )
    assert set(scored["quadrant"].unique()) == {"strategic", "star", "status", "streamline"}


def test_with_caps_changes_counts(sample_features):
    rule = load_rule_set("seed_weighted").with_caps(strategic=0.05, key=0.2)
    assert isinstance(rule, RuleSet)
    counts = score_accounts(sample_features, rule).table["tier"].value_counts()
    assert counts["strategic"] == 12 and counts["key"] == 48 - 12


# --------------------------------------------------------------------------- UCI wholesale
@pytest.mark.reference
def test_uci_wholesale_size_only_tiers():
    path = reference_path("uci-wholesale-customers", "customers.csv")
    customers = pd.read_csv(path)
    spend = customers[
        ["Fresh", "Milk", "Grocery", "Frozen", "Detergents_Paper", "Delicatessen"]
    ].sum(axis=1)
    feats = pd.DataFrame(
        {"revenue_12m": spend.to_numpy(dtype=float)},
        index=pd.Index([f"C{i:03d}" for i in range(len(spend))], name="account_id"),
    )
    result = score_accounts(feats, "size_only")
    counts = result.table["tier"].value_counts()
    # floor(0.03 · 440) = 13 strategic, floor(0.15 · 440) = 66 designated.
    assert (counts["strategic"], counts["key"], counts["regular"]) == (13, 53, 374)
    top = spend.sort_values(ascending=False)
    assert set(result.designated) == {f"C{i:03d}" for i in top.index[:66]}
    assert result.type_growth_missing == 440  # no growth assessment in UCI
    assert set(result.table["type"].unique()) == {"stable", "tactical"}


# --------------------------------------------------------------------------- in words
def test_references_frame_counts_the_criteria_citing_each_document():
    catalogue = load_catalogue()
    refs = catalogue.references_frame()
    assert refs.index.tolist()[:5] == [f"seed_00{i}" for i in range(5)]
    assert refs["criteria"].to_dict() == {
        "seed_000": 12,
        "seed_001": 7,
        "seed_002": 9,
        "seed_003": 8,
        "seed_004": 5,
        "mcdonald_woodburn": 0,  # cited by the selection_matrix rule set, not by a criterion
    }
    assert pd.isna(refs.loc["mcdonald_woodburn", "file"])
    assert refs.loc["seed_003", "title"] == "What IS a Key Account?"


def test_describe_catalogue_counts_families_sources_and_citations():
    from kamlab.criteria import describe_catalogue

    text = describe_catalogue(load_catalogue())
    assert text.startswith(
        "20 criteria in 5 families (growth 7, harmony 6, value creation 3, relationship 3, "
        "size 1). 8 are measured from the data"
    )
    assert "12 are the account team's assessments" in text
    assert (
        "the most cited is growth potential (5 documents), then revenue contribution and " in text
    )


def test_describe_coverage_names_left_out_and_imputed_criteria(sample_features):
    from kamlab.criteria import describe_coverage

    rules = load_rule_set("seed_weighted")
    text = describe_coverage(coverage(sample_features, rules), rules.name)
    assert text == (
        "Rule set seed_weighted weighs 18 criteria; 17 have values in these data and are "
        "scored, their weights renormalised to sum to 100% (the largest: revenue contribution "
        "and growth potential, 12.8% each). Left out because the data have no value for them "
        "(never scored as 0): ease of buying. 97 missing values were imputed at the portfolio "
        "median, a neutral contribution (revenue growth 34, satisfaction 13, growth potential 5, "
        "strategic fit 5, willingness to partner 5, market influence 5, reputation 5, "
        "innovativeness 5, complexity of needs 5, long term vision 5, information exchange 5, "
        "executive fit 5)."
    )
    # Without assessments (Online Retail, CDNOW) only the transaction criteria remain.
    bare = sample_features[["revenue_12m", "orders_12m"]]
    text = describe_coverage(coverage(bare, rules), rules.name)
    assert (
        "2 have values in these data" in text
        and "(the largest: revenue contribution 75.0%)" in text
    )
    assert text.endswith("No value of a scored criterion is missing.")


def test_describe_types_counts_and_missing_growth():
    from kamlab.criteria import describe_types

    features = pd.DataFrame(
        {
            "revenue_12m": [10.0, 9, 8, 7, 6, 5, 4, 3, 2, 1],
            "score_growth_potential": [5.0, 1, 4, 2, 5, np.nan, 1, 1, 1, 1],
        },
        index=pd.Index([f"A{i}" for i in range(10)], name="account_id"),
    )
    scored = score_accounts(features, "size_only")
    # revenue top 20 %: A0, A1; growth above the median (1): A0, A2, A3, A4.
    assert scored.table["type"].astype(str).tolist() == [
        "strategic", "stable", "high-growth", "high-growth", "high-growth",
        "tactical", "tactical", "tactical", "tactical", "tactical",
    ]  # fmt: skip
    assert describe_types(scored) == (
        "Types (revenue above the 80th percentile × growth potential above the 50th): "
        "tactical 5, high-growth 3, strategic 1, stable 1. Key or strategic accounts (1): "
        "strategic 1. 1 account has no growth potential value and counts as low growth."
    )


def test_describe_top_accounts_lists_the_largest_contributions_with_names():
    from kamlab.criteria import describe_top_accounts

    features = pd.DataFrame(
        {"revenue_12m": [1.0, 2, 3, 4], "score_growth_potential": [4.0, 3, 2, 1]},
        index=pd.Index(list("ABCD"), name="account_id"),
    )
    rules = load_rule_set(
        {"weights": {"revenue_contribution": 3, "growth_potential": 1},
         "tiers": {"strategic": 0.25, "key": 0.5}}
    )  # fmt: skip
    scored = score_accounts(features, rules)
    accounts = pd.DataFrame(
        {"account_id": list("ABCD"), "name": list("abcd"), "account_manager": ["m", "m", None, "n"]}
    )
    text = describe_top_accounts(scored, accounts, k=2, top=2, shown=1)
    # D: revenue rank (4-0.5)/4-0.5 = 0.375 × 0.75; growth (1-0.5)/4-0.5 = -0.375 × 0.25.
    assert text.splitlines() == [
        "The key list holds 2 accounts (1 strategic); the table shows the first 1, the "
        "published scores table has every account. The 2 highest scores and the criteria that "
        "contribute most to each:",
        "- D (d, n), rank 1, score +0.188: revenue contribution +0.281, growth potential -0.0938.",
        "- C (c), rank 2, score +0.0625: revenue contribution +0.0938, growth potential -0.0312.",
    ]


def test_describe_quadrants_says_when_an_axis_cannot_separate(sample_features):
    from kamlab.criteria import describe_quadrants

    matrix = score_accounts(sample_features, "selection_matrix")
    rules = score_accounts(sample_features, "seed_weighted")
    text = describe_quadrants(matrix, rules)
    inside = int(((matrix.table["quadrant"] == "strategic") & (rules.table["tier"] >= "key")).sum())
    assert f"Of the 36 key or strategic accounts under seed_weighted, {inside} sit in" in text
    assert "cannot separate" not in text
    bare = sample_features[["revenue_12m", "orders_12m"]]
    flat = describe_quadrants(
        score_accounts(bare, "selection_matrix"), score_accounts(bare, "size_only")
    )
    assert (
        "The strength axis cannot separate the accounts (none of its criteria has a value in "
        "these data): every account sits in its lower half" in flat
    )
    with pytest.raises(ValueError, match="has no axes"):
        describe_quadrants(rules, rules)
