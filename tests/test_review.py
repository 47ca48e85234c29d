"""The periodic review: exact results on small hand-made tables, and the tier history of the
sample from one feature panel."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy.stats import spearmanr

from kamlab.criteria import score_accounts
from kamlab.features import account_features, feature_panel
from kamlab.review import (
    AtRisk,
    Streaks,
    ValueVsTier,
    at_risk_accounts,
    describe_review,
    model_additions,
    review_changes,
    review_checklist,
    tier_history,
    tier_migration,
    tier_streaks,
    value_vs_tier,
)
from kamlab.tiers import TIER_DTYPE, TIERS


def tiers(mapping: dict, **columns) -> pd.DataFrame:
    frame = pd.DataFrame({"tier": pd.Series(mapping).astype(TIER_DTYPE), **columns})
    frame.index.name = "account_id"
    return frame


# ------------------------------------------------------------------ dates


def test_tier_migration_by_hand():
    a = pd.Series({"A": "strategic", "B": "key", "C": "regular", "D": "regular"})
    b = pd.Series({"A": "key", "B": "key", "C": "strategic", "E": "regular"})
    table = tier_migration(a, b)
    assert table.loc["strategic", "key"] == 1 and table.loc["key", "key"] == 1
    assert table.loc["regular", "strategic"] == 1 and table.loc["regular", "(gone)"] == 1
    assert table.loc["(new)", "regular"] == 1
    assert table.to_numpy().sum() == 5
    assert table.loc[list(TIERS)].sum(axis=1).tolist() == [2, 1, 1]


def test_tier_history_from_a_hand_made_panel():
    panel = pd.DataFrame(
        {"revenue_12m": [1.0, 9.0, 5.0, 4.0, 2.0]},
        index=pd.MultiIndex.from_tuples(
            [
                ("2024-07-01", "A"),  # given out of date order: the history sorts dates
                ("2024-01-01", "A"),
                ("2024-01-01", "B"),
                ("2024-07-01", "B"),
                ("2024-07-01", "C"),
            ],
            names=["cutoff", "account_id"],
        ),
    )
    rules = {"weights": {"revenue_contribution": 1}, "tiers": {"strategic": 0.0, "key": 0.5}}
    history = tier_history(panel, rules)
    assert list(history.columns) == ["2024-01-01", "2024-07-01"]
    assert history.astype(object).where(history.notna(), None).to_dict("index") == {
        "A": {"2024-01-01": "key", "2024-07-01": "regular"},
        "B": {"2024-01-01": "regular", "2024-07-01": "key"},  # floor(0.5 · 3) = 1 key
        "C": {"2024-01-01": None, "2024-07-01": "regular"},
    }
    assert all(history[c].dtype == TIER_DTYPE for c in history)
    with pytest.raises(ValueError, match="indexed by \\(cutoff, account_id\\)"):
        tier_history(panel.droplevel("cutoff"), rules)


def test_sample_tier_history_matches_scoring_each_date(sample_dataset):
    dates = ["2023-07-01", "2024-01-01"]
    history = tier_history(feature_panel(sample_dataset, dates, 365), "seed_weighted")
    for date in dates:
        alone = score_accounts(account_features(sample_dataset, date, 365), "seed_weighted")
        pd.testing.assert_series_equal(
            history[date].dropna(), alone.table["tier"], check_names=False
        )
    first, second = history["2023-07-01"], history["2024-01-01"]
    table = tier_migration(first, second)
    for tier in TIERS:
        assert table.loc[tier].sum() == (first == tier).sum()
        assert table[tier].sum() == (second == tier).sum()
    assert table.to_numpy().sum() == len(history)
    # Reviews move accounts: the key list at the second review is not the first one.
    assert table.loc["key", "key"] < (first == "key").sum()


# ------------------------------------------------------------------ changes
def test_review_changes_kinds_and_order():
    before = tiers({"A": "regular", "B": "key", "C": "strategic", "D": "key", "E": "regular"})
    now = tiers({"A": "key", "B": "regular", "C": "strategic", "E": "regular", "F": "key"})
    got = review_changes(before, now)
    assert got.index.tolist() == ["A", "B", "F", "D", "C", "E"]
    assert got["change"].astype(str).tolist() == [
        "promoted",
        "demoted",
        "new",
        "lost",
        "unchanged",
        "unchanged",
    ]
    assert pd.isna(got.loc["D", "current_tier"])
    assert pd.isna(got.loc["F", "previous_tier"])
    assert got["designated_before"].tolist() == [False, True, False, True, True, False]
    assert got["designated_now"].tolist() == [True, False, True, False, True, False]


def test_review_changes_accepts_series():
    got = review_changes(pd.Series({"A": "key"}), pd.Series({"A": "strategic"}))
    assert got["change"].astype(str).tolist() == ["promoted"]


# ------------------------------------------------------------------ risk
def test_at_risk_accounts_keeps_designated_and_flags():
    scored = tiers({"A": "key", "B": "strategic", "C": "regular", "D": "key", "E": "key"})
    proba = pd.Series({"A": 0.10, "B": 0.30, "C": 0.90, "D": 0.10, "E": np.nan})
    got = at_risk_accounts(scored, proba, base_rate=0.1, factor=2.0)
    assert isinstance(got, AtRisk)
    assert got.table.index.tolist() == ["B", "A", "D"]  # A and D tie: by account id
    assert got.table["relative_risk"].round(12).tolist() == [3.0, 1.0, 1.0]
    assert got.table["at_risk"].tolist() == [True, False, False]
    assert got.flagged.index.tolist() == ["B"]
    assert (got.base_rate, got.factor, got.missing) == (0.1, 2.0, 1)  # E has no probability
    with pytest.raises(ValueError, match="base_rate"):
        at_risk_accounts(scored, proba, base_rate=0.0)


# ------------------------------------------------------------------ value
def test_value_vs_tier_both_kinds_of_mismatch():
    scored = tiers(
        {
            "A": "regular",
            "B": "key",
            "C": "regular",
            "D": "key",
            "E": "regular",
            "F": "regular",
            "G": "regular",
            "H": "regular",
        }
    )
    value = pd.Series(
        {"A": 100.0, "B": 90.0, "C": 80.0, "D": 1.0, "E": 5.0, "F": 6.0, "G": 7.0, "H": 8.0,
         "Z": 1000.0}  # Z has a value but no tier: not counted
    )  # fmt: skip
    got = value_vs_tier(scored, value)  # 2 of 8 designated -> top 2 by value
    assert isinstance(got, ValueVsTier)
    assert got.table.index.tolist() == ["A", "D"]
    assert got.table["mismatch"].tolist() == ["high-value regular", "low-value key"]
    assert got.table["value_rank"].tolist() == [1, 8]
    assert got.table["value_percentile"].tolist() == [1.0, 0.125]
    assert (got.n, got.n_top, got.low_threshold, got.missing_value) == (8, 2, 7.5, 0)
    assert (got.key_share_all, got.key_share_top, got.lift) == (0.25, 0.5, 2.0)
    assert got.value_share_key == pytest.approx(91 / 297, abs=1e-15)
    assert np.isnan(got.spearman)  # no score column to correlate with


def test_value_vs_tier_hand_values():
    """The numbers of the former clv.value_vs_tier, now one function with the mismatches."""
    values = pd.Series([100.0, 90, 80, 10, 5, 1, 50, 40, 30, 20], index=list("abcdefghij"))
    scores = pd.DataFrame(
        {
            "score": [9.0, 1, 8, 7, 2, 3, 6, 5, 4, 0],
            "tier": ["strategic", "regular", "key", "key"] + ["regular"] * 6,
        },
        index=list("abcdefghij"),
    )
    out = value_vs_tier(scores.assign(extra=1), values, top_share=0.2)
    assert out.n == 10 and out.n_top == 2
    assert out.key_share_all == pytest.approx(0.3) and out.key_share_top == pytest.approx(0.5)
    assert out.lift == pytest.approx(0.5 / 0.3)
    assert out.value_share_key == pytest.approx(190 / 426)
    rho, p = spearmanr(values, scores["score"])
    assert out.spearman == pytest.approx(rho, abs=1e-12)
    assert out.spearman_p == pytest.approx(p, rel=1e-9)
    assert out.table["mismatch"].to_dict() == {"b": "high-value regular", "d": "low-value key"}
    with pytest.raises(ValueError, match="top_share must be"):
        value_vs_tier(scores, values, top_share=1.5)


def test_value_vs_tier_counts_missing_values():
    scored = tiers({"A": "key", "B": "regular", "C": "regular"})
    got = value_vs_tier(scored, pd.Series({"A": 1.0, "B": 5.0}), top_share=0.5)
    assert got.table["mismatch"].tolist() == ["high-value regular", "low-value key"]
    assert got.missing_value == 1
    with pytest.raises(ValueError, match="no account has both"):
        value_vs_tier(scored, pd.Series({"Z": 1.0}))


def test_model_additions_rank_by_expected_revenue_gain():
    """A small account with a high relative growth must not lead the list (issue 17: revenue
    960 a year, ranked last by the rules, led the learned additions)."""
    scored = tiers(
        {"A": "key", "B": "regular", "C": "regular", "D": "strategic", "E": "regular"},
        rank=[1, 5, 3, 2, 4],
    )
    growth = pd.Series({"A": 0.1, "B": 1.5, "C": 0.2, "D": 0.0, "E": 0.5})
    base = pd.Series({"A": 1000.0, "B": 960.0, "C": 20_000.0, "D": 2000.0, "E": 3000.0})
    got = model_additions(scored, growth, base)  # k = 2 designated
    # gain = base · 2g / (2 − g): A 105.3, B 5760, C 4444.4, D 0, E 2000.
    assert got.table.index.tolist() == ["B", "C"]
    np.testing.assert_allclose(got.table["expected_gain"], [5760.0, 20_000 * 0.4 / 1.8])
    assert got.table["gain_rank"].tolist() == [1, 2]
    assert got.table["rule_rank"].tolist() == [5, 3]
    assert (got.k, got.overlap, got.n_designated, got.missing) == (2, 0, 2, 0)
    # With a tenth of the base, B's 150 % growth is worth 576: off the list, although its
    # relative growth is still by far the highest.
    small = model_additions(scored, growth, base.replace(960.0, 96.0))
    assert small.table.index.tolist() == ["C", "E"]
    assert small.table["expected_gain"].round(6).tolist() == [round(20_000 * 0.4 / 1.8, 6), 2000.0]
    three = model_additions(scored, growth, base, k=3)
    assert three.table.index.tolist() == ["B", "C", "E"] and three.overlap == 0
    no_base = model_additions(scored, growth, base.drop("B"))
    assert no_base.missing == 1 and "B" not in no_base.table.index


def test_model_additions_log_growth_outcome():
    scored = tiers({"A": "key", "B": "regular"})
    got = model_additions(scored, pd.Series({"A": 0.0, "B": np.log(2)}),
                          pd.Series({"A": 10.0, "B": 50.0}), k=1, outcome="log_growth")  # fmt: skip
    assert got.table["expected_gain"].tolist() == pytest.approx([50.0], rel=1e-12)
    with pytest.raises(ValueError, match="k must be at least 1"):
        model_additions(scored, pd.Series({"A": 0.1}), pd.Series({"A": 1.0}), k=0)


# ------------------------------------------------------------------ streaks and checklist
def test_tier_streaks():
    history = pd.DataFrame(
        {
            "2023-01-01": ["key", "key", "regular", None],
            "2023-07-01": ["key", "strategic", "key", "regular"],
            "2024-01-01": ["key", "strategic", "key", "key"],
        },
        index=pd.Index(["A", "B", "C", "D"], name="account_id"),
    )
    got = tier_streaks(history)
    assert isinstance(got, Streaks) and got.n_reviews == 3
    assert got.table["reviews_in_tier"].tolist() == [3, 2, 2, 1]
    assert got.table["reviews_designated"].tolist() == [3, 3, 2, 1]
    assert got.table["always"].tolist() == [True, False, False, False]


def _checklist(features=None):
    scored = tiers({"A": "strategic", "B": "key", "C": "regular", "D": "regular"})
    size = tiers({"A": "key", "B": "regular", "C": "strategic", "D": "regular"})
    changes = review_changes(tiers({"A": "strategic", "C": "key", "D": "regular"}), scored)
    streaks = tier_streaks(pd.DataFrame({"r1": scored["tier"], "r2": scored["tier"]}))
    return review_checklist(
        scored,
        size_scored=size,
        changes=changes,
        streaks=streaks,
        features=features,
        strategic_cap=0.25,
        key_cap=0.4,
    )


def test_review_checklist_values_and_status():
    features = pd.DataFrame(
        {"qbr_12m": [1.0, 0.0, 2.0, 0.0], "account_manager": ["M1", "M1", "M2", "M2"]},
        index=["A", "B", "C", "D"],
    )
    got = _checklist(features)
    assert (
        got["mistake"].tolist()
        == ["too many key accounts"] * 2
        + ["size alone"]
        + ["set and forget"] * 2
        + ["under-resourcing"] * 2
    )
    assert got["value"].tolist() == [0.5, 0.25, 0.5, 2.0, 2.0, 0.5, 2.0]
    assert got["status"].tolist() == ["watch", "ok", "ok", "act", "info", "watch", "info"]


def test_review_checklist_without_interactions_is_not_applicable():
    got = _checklist()
    assert got["status"].tolist()[-2:] == ["n/a", "n/a"]
    assert got["value"].iloc[-2:].isna().all()


def test_review_checklist_takes_caps_from_the_rule_set():
    features = pd.DataFrame({"revenue_12m": [4.0, 3.0, 2.0, 1.0]}, index=list("ABCD"))
    scored = score_accounts(features, "size_only")  # caps 0.03 / 0.15: none of 4 designated
    changes = review_changes(scored, scored)
    streaks = tier_streaks(scored.table[["tier"]])
    got = review_checklist(scored, size_scored=scored, changes=changes, streaks=streaks)
    assert got["limit"].tolist()[:2] == [0.15, 0.03]


def test_review_summary_mentions_numbers_and_skips():
    scored = tiers({"A": "strategic", "B": "key", "C": "regular", "D": "regular"})
    changes = review_changes(tiers({"A": "strategic", "C": "key"}), scored)
    checklist = _checklist()
    at_risk = at_risk_accounts(scored, pd.Series({"A": 0.5, "B": 0.01}), base_rate=0.1)
    text = describe_review(
        cutoff="2024-07-01",
        previous_cutoff="2024-01-01",
        scored=scored,
        changes=changes,
        checklist=checklist,
        at_risk=at_risk,
        skipped={"learned additions": "no history"},
    )
    assert text.startswith(
        "Review as of 2024-07-01: 2 of 4 accounts are designated key or strategic (1 strategic)."
    )
    assert "1 account entered the key list and 1 left it" in text
    assert "1 key account has at least 2 times the base churn risk: A." in text
    assert "Not computed: learned additions (no history)." in text
    assert "CLV" not in text


def test_list_moves_and_describe_migration_by_hand():
    from kamlab.review import describe_migration, list_moves

    before = pd.Series(
        {"A": "regular", "B": "key", "C": "key", "D": "strategic", "E": "key", "F": "regular"}
    )
    now = pd.Series(
        {"A": "key", "B": "regular", "D": "key", "E": "strategic", "F": "regular", "G": "key"}
    )
    changes = review_changes(before, now)
    moves = list_moves(changes)
    assert moves.columns.tolist() == ["previous_tier", "current_tier", "change"]
    assert moves["change"].astype(str).to_dict() == {
        "A": "promoted",
        "E": "promoted",
        "D": "demoted",
        "B": "demoted",
        "G": "new",
        "C": "lost",
    }
    assert describe_migration(changes, "2024-07-01", pd.Timestamp("2025-01-01")) == (
        "Of the 4 key or strategic accounts at 2024-07-01, 2 still are at 2025-01-01: 1 was "
        "demoted to regular and 1 left the portfolio. 1 regular account was promoted to the "
        "list; 1 account joined (key). Within the list 1 key account moved up to strategic and "
        "1 strategic down to key. 4 of the 7 accounts changed tier: each is one a list fixed "
        "at 2024-07-01 would have got wrong at 2025-01-01."
    )
    same = review_changes(before, before)
    assert list_moves(same).empty
    assert describe_migration(same, "2024-07-01", "2025-01-01").endswith(
        "No account changed tier between 2024-07-01 and 2025-01-01."
    )
