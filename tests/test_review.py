"""The periodic review: exact results on small hand-made tables."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from kamlab.criteria import TIER_DTYPE
from kamlab.review import (
    at_risk_accounts,
    model_additions,
    review_changes,
    review_checklist,
    review_dates,
    review_summary,
    tier_overview,
    tier_streaks,
    tier_value_mismatch,
)


def tiers(mapping: dict, **columns) -> pd.DataFrame:
    frame = pd.DataFrame({"tier": pd.Series(mapping).astype(TIER_DTYPE), **columns})
    frame.index.name = "account_id"
    return frame


# ------------------------------------------------------------------ dates
def test_review_dates_step_back_by_whole_months():
    got = review_dates("2024-07-01", "2024-01-01", "2022-01-01")
    assert [d.date().isoformat() for d in got] == [
        "2023-01-01",
        "2023-07-01",
        "2024-01-01",
        "2024-07-01",
    ]


def test_review_dates_step_back_by_days_and_cap():
    got = review_dates("2024-07-10", "2024-07-01", "2024-01-01", min_history_days=0, max_reviews=3)
    assert [d.date().isoformat() for d in got] == ["2024-06-22", "2024-07-01", "2024-07-10"]


@pytest.mark.parametrize("previous", ["2024-07-01", "2024-09-01"])
def test_review_dates_refuse_previous_not_before_cutoff(previous):
    with pytest.raises(ValueError, match="previous_cutoff .* must be before cutoff 2024-07-01"):
        review_dates("2024-07-01", previous, "2022-01-01")


def test_review_dates_refuse_dates_outside_the_data():
    with pytest.raises(ValueError, match="after the data's first date"):
        review_dates("2024-07-01", "2021-01-01", "2022-01-01")
    with pytest.raises(ValueError, match="after the data's end"):
        review_dates("2025-07-01", "2025-01-01", "2022-01-01", "2024-12-31")


# ------------------------------------------------------------------ overview
def test_tier_overview_counts_and_shares():
    scored = tiers({"A": "regular", "B": "regular", "C": "key", "D": "strategic"})
    revenue = pd.Series({"A": 10.0, "B": -5.0, "C": 30.0, "D": 60.0})
    got = tier_overview(scored, revenue)
    assert got.index.tolist() == ["regular", "key", "strategic", "total"]
    assert got["accounts"].tolist() == [2, 1, 1, 4]
    assert got["account_share"].tolist() == [0.5, 0.25, 0.25, 1.0]
    assert got["revenue"].tolist() == [10.0, 30.0, 60.0, 100.0]
    assert got["revenue_share"].tolist() == [0.1, 0.3, 0.6, 1.0]


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
    assert got.index.tolist() == ["B", "A", "D"]
    assert got["relative_risk"].round(12).tolist() == [3.0, 1.0, 1.0]
    assert got["at_risk"].tolist() == [True, False, False]
    assert got.attrs == {"base_rate": 0.1, "factor": 2.0}
    with pytest.raises(ValueError, match="base_rate"):
        at_risk_accounts(scored, proba, base_rate=0.0)


# ------------------------------------------------------------------ value
def test_tier_value_mismatch_both_kinds():
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
        {
            "A": 100.0,
            "B": 90.0,
            "C": 80.0,
            "D": 1.0,
            "E": 5.0,
            "F": 6.0,
            "G": 7.0,
            "H": 8.0,
            "Z": 1000.0,
        }
    )
    got = tier_value_mismatch(scored, value)  # 2 of 8 designated -> top 2 by value
    assert got.index.tolist() == ["A", "D"]
    assert got["mismatch"].tolist() == ["high-value regular", "low-value key"]
    assert got["value_rank"].tolist() == [1, 8]
    assert got["value_percentile"].tolist() == [1.0, 0.125]
    assert got.attrs["n"] == 8 and got.attrs["n_top"] == 2
    assert got.attrs["low_threshold"] == 7.5 and got.attrs["missing_value"] == 0


def test_tier_value_mismatch_counts_missing_values():
    scored = tiers({"A": "key", "B": "regular", "C": "regular"})
    got = tier_value_mismatch(scored, pd.Series({"A": 1.0, "B": 5.0}), top_share=0.5)
    assert got["mismatch"].tolist() == ["high-value regular", "low-value key"]
    assert got.attrs["missing_value"] == 1


def test_model_additions_top_k_not_designated():
    scored = tiers(
        {"A": "key", "B": "regular", "C": "regular", "D": "strategic"}, rank=[1, 3, 4, 2]
    )
    learned = pd.Series({"A": 0.1, "B": 0.9, "C": 0.5, "D": 0.5})
    got = model_additions(scored, learned)  # k = 2 designated; top 2 learned: B, then C (tie by id)
    assert got.index.tolist() == ["B", "C"]
    assert got["learned_rank"].tolist() == [1, 2]
    assert got["rule_rank"].tolist() == [3, 4]
    assert got.attrs == {"k": 2, "overlap": 0, "n_designated": 2}
    got3 = model_additions(scored, learned, k=3)
    assert got3.index.tolist() == ["B", "C"] and got3.attrs["overlap"] == 1


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
    assert got["reviews_in_tier"].tolist() == [3, 2, 2, 1]
    assert got["reviews_designated"].tolist() == [3, 3, 2, 1]
    assert got["always"].tolist() == [True, False, False, False]
    assert got.attrs["n_reviews"] == 3


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


def test_review_summary_mentions_numbers_and_skips():
    scored = tiers({"A": "strategic", "B": "key", "C": "regular", "D": "regular"})
    changes = review_changes(tiers({"A": "strategic", "C": "key"}), scored)
    checklist = _checklist()
    at_risk = at_risk_accounts(scored, pd.Series({"A": 0.5, "B": 0.01}), base_rate=0.1)
    text = review_summary(
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
