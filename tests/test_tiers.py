"""Ranking and tiering under caps: one rule, exact counts, ties by account id, row order
irrelevant."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from kamlab.criteria import load_rule_set, score_accounts
from kamlab.tiers import (
    DESIGNATED,
    KEY_CAP,
    STRATEGIC_CAP,
    TIER_DTYPE,
    TIERS,
    TierRuleError,
    as_tiers,
    assign_tiers,
    cap_counts,
    check_designated,
    check_tier_rule,
    order_accounts,
    rank_accounts,
    tier_overview,
)


def test_rank_is_descending_with_ties_by_account_id_and_missing_last():
    values = pd.Series({"b": 2.0, "a": 2.0, "c": np.nan, "d": 5.0, "e": -1.0})
    assert rank_accounts(values).to_dict() == {"b": 3, "a": 2, "c": 5, "d": 1, "e": 4}
    assert order_accounts(values).tolist() == ["d", "a", "b", "e", "c"]
    assert rank_accounts(values).name == "rank"


def test_rank_does_not_depend_on_row_order():
    rng = np.random.default_rng(0)
    values = pd.Series(rng.integers(0, 5, 60).astype(float), index=[f"A{i:03d}" for i in range(60)])
    shuffled = values.sample(frac=1.0, random_state=3)
    pd.testing.assert_series_equal(rank_accounts(values), rank_accounts(shuffled).loc[values.index])
    a = assign_tiers(values, strategic=0.05, key=0.2)
    b = assign_tiers(shuffled, strategic=0.05, key=0.2).loc[values.index]
    pd.testing.assert_series_equal(a, b)


def test_ids_compare_as_text():
    # 10 sorts before 9 as text: the one rule is "ascending account id as text".
    values = pd.Series([1.0, 1.0], index=[9, 10])
    assert order_accounts(values).tolist() == [10, 9]


def test_caps_floor_at_244_accounts():
    """The two old rules disagreed here: round(0.15 · 244) = 37 > 15 %; floor gives 36."""
    assert (STRATEGIC_CAP, KEY_CAP) == (0.03, 0.15)
    assert cap_counts(244) == (7, 36)
    assert round(0.15 * 244) == 37  # what rounding would have allowed
    score = pd.Series(np.arange(244.0), index=[f"A{i:03d}" for i in range(244)])
    tiers = assign_tiers(score)
    assert tiers.value_counts().to_dict() == {"regular": 208, "key": 29, "strategic": 7}
    assert set(tiers.index[tiers == "strategic"]) == {f"A{i:03d}" for i in range(237, 244)}


def test_caps_are_limits_at_every_size():
    for n in range(1, 1001):
        n_strategic, n_designated = cap_counts(n)
        # The largest counts within the caps: one more would break them.
        assert n_strategic <= STRATEGIC_CAP * n + 1e-9 < n_strategic + 1, n
        assert n_designated <= KEY_CAP * n + 1e-9 < n_designated + 1, n
        score = pd.Series(np.arange(float(n)), index=[f"A{i:04d}" for i in range(n)])
        counts = assign_tiers(score).value_counts()
        assert (counts["strategic"], counts["strategic"] + counts["key"]) == (
            n_strategic,
            n_designated,
        ), n
    assert cap_counts(33)[0] == 0 and cap_counts(34)[0] == 1  # the price of a hard cap


def test_cap_counts_survive_floating_point():
    assert 0.29 * 100 < 29  # 28.999999999999996 in binary: a bare floor would give 28
    assert cap_counts(100, 0.07, 0.29) == (7, 29)
    assert cap_counts(100) == (3, 15)


def test_ties_go_to_the_smaller_account_id():
    score = pd.Series(1.0, index=["D", "B", "A", "C"])
    tiers = assign_tiers(score, strategic=0.25, key=0.5)
    assert tiers.astype(str).to_dict() == {
        "D": "regular",
        "B": "key",
        "A": "strategic",
        "C": "regular",
    }
    assert tiers.dtype == TIER_DTYPE and tiers.name == "tier"


def test_threshold_tiers_and_missing_scores():
    score = pd.Series({"A": 2.5, "B": 1.0, "C": 0.2, "D": np.nan})
    tiers = assign_tiers(score, strategic=2.0, key=0.5, method="threshold")
    assert tiers.astype(str).tolist() == ["strategic", "key", "regular", "regular"]
    capped = assign_tiers(score, strategic=0.25, key=0.75)
    assert capped.astype(str).tolist() == ["strategic", "key", "key", "regular"]


@pytest.mark.parametrize(
    "method, strategic, key, parameter, words",
    [
        ("top", 0.03, 0.15, "method", "'cap' or 'threshold'"),
        ("cap", 0.2, 0.1, "strategic", "cumulative"),
        ("cap", 0.03, 1.5, "key", "[0, 1]"),
        ("cap", True, 0.15, "strategic", "number"),
        ("cap", 0.03, float("nan"), "key", "number"),
        ("threshold", 0.1, 0.5, "strategic", "below the key threshold"),
    ],
)
def test_malformed_tier_rules_name_the_parameter(method, strategic, key, parameter, words):
    with pytest.raises(TierRuleError) as info:
        check_tier_rule(method, strategic, key)
    assert info.value.parameter == parameter and words in str(info.value)
    with pytest.raises(ValueError, match=parameter):
        assign_tiers(pd.Series([1.0]), strategic=strategic, key=key, method=method)


def test_as_tiers_accepts_scores_frames_and_series_and_names_bad_rows():
    features = pd.DataFrame({"revenue_12m": [3.0, 1.0, 2.0]}, index=["A", "B", "C"])
    rules = load_rule_set("size_only").with_caps(strategic=0.34, key=0.67)
    scored = score_accounts(features, rules)
    from_scores = as_tiers(scored)
    pd.testing.assert_series_equal(from_scores, as_tiers(scored.table))
    assert from_scores.astype(str).tolist() == ["strategic", "regular", "key"]
    assert as_tiers(pd.Series({"A": "key"})).dtype == TIER_DTYPE
    with pytest.raises(ValueError, match=r"unknown tier\(s\) \['gold'\] \(accounts \['B'\]\)"):
        as_tiers(pd.Series({"A": "key", "B": "gold"}))
    with pytest.raises(ValueError, match="no 'tier' column"):
        as_tiers(pd.DataFrame({"x": [1]}))


def test_check_designated():
    assert check_designated(DESIGNATED) == ["key", "strategic"]
    with pytest.raises(ValueError, match="non-empty subset"):
        check_designated(["gold"])
    with pytest.raises(ValueError, match="non-empty subset"):
        check_designated([])


def test_tier_overview_counts_shares_and_lowest_scores():
    scored = pd.DataFrame(
        {
            "tier": ["regular", "regular", "key", "strategic"],
            "score": [-0.3, 0.1, 0.2, 0.4],
        },
        index=["A", "B", "C", "D"],
    )
    revenue = pd.Series({"A": 10.0, "B": -5.0, "C": 30.0, "D": 60.0, "Z": 999.0})
    got = tier_overview(scored, revenue)
    assert got.index.tolist() == [*TIERS, "total"]
    assert got["accounts"].tolist() == [2, 1, 1, 4]
    assert got["account_share"].tolist() == [0.5, 0.25, 0.25, 1.0]
    assert got["revenue"].tolist() == [10.0, 30.0, 60.0, 100.0]  # -5 counts as 0, Z is not scored
    assert got["revenue_share"].tolist() == [0.1, 0.3, 0.6, 1.0]
    assert got["min_score"].tolist() == [-0.3, 0.2, 0.4, -0.3]
    no_score = tier_overview(scored["tier"], revenue)
    assert "min_score" not in no_score
    empty_tier = tier_overview(pd.Series({"A": "regular"}), pd.Series({"A": 5.0}))
    assert empty_tier["accounts"].tolist() == [1, 0, 0, 1]


def test_describe_tiers_states_caps_counts_and_revenue_at_244_accounts():
    from kamlab.tiers import describe_tiers

    ids = [f"A{i:03d}" for i in range(244)]
    score = pd.Series(np.arange(244.0)[::-1], index=ids)
    revenue = pd.Series(1.0, index=ids)
    revenue.iloc[:7] = 100.0  # the strategic accounts
    revenue.iloc[7:36] = 10.0  # the key accounts
    overview = tier_overview(pd.DataFrame({"tier": assign_tiers(score), "score": score}), revenue)
    assert overview.loc["total", "revenue"] == 700 + 290 + 208
    assert describe_tiers(overview) == (
        "Of 244 accounts, 7 are strategic (the 3% cap allows 7) and 29 are key (key and "
        "strategic together at most 15%, 36 accounts). The 36 designated accounts bring 82.6% "
        "of the revenue; the 208 regular accounts (85.2% of accounts) bring 17.4%."
    )
    tighter = describe_tiers(
        tier_overview(assign_tiers(score, strategic=0.01, key=0.05), revenue),
        strategic=0.01,
        key=0.05,
    )
    assert tighter.startswith(
        "Of 244 accounts, 2 are strategic (the 1% cap allows 2) and 10 are key"
    )
