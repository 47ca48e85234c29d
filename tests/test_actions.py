"""The action list: one row per active account, flags, the meeting order, safe exports."""

from __future__ import annotations

from types import SimpleNamespace

import pandas as pd
import pytest

from kamlab.actions import COLUMNS, FLAGS, action_list
from kamlab.tiers import TIERS

IDS = ["A", "B", "C", "D", "E", "F"]


@pytest.fixture
def actions():
    tiers = pd.Categorical(
        ["strategic", "key", "key", "regular", "regular", "regular"], categories=TIERS, ordered=True
    )
    scored = SimpleNamespace(
        table=pd.DataFrame(
            {
                "score": [0.9, 0.5, 0.4, 0.1, 0.0, -0.2],
                "tier": tiers,
                "type": ["strategic", "stable", "stable", "tactical", "high-growth", "tactical"],
            },
            index=pd.Index(IDS, name="account_id"),
        ),
        contributions=pd.DataFrame(
            {
                "size": [0.5, 0.3, 0.2, 0.0, -0.1, -0.2],
                "growth": [0.4, 0.2, 0.2, 0.1, 0.1, 0.0],
                "fit": [0.0, 0.0, 0.0, 0.0, 0.0, 0.0],
            },
            index=IDS,
        ),
    )
    changes = pd.DataFrame(
        {
            "previous_tier": ["strategic", "regular", "strategic", "regular", "key", None],
            "change": ["unchanged", "promoted", "demoted", "unchanged", "demoted", "new"],
        },
        index=IDS,
    )
    features = pd.DataFrame(
        {
            "revenue_12m": [9e6, 2e6, 1.5e6, 4e5, 3e5, 1e3],
            "revenue_growth_12m": [0.1, 0.3, -0.2, 0.0, 0.05, None],
        },
        index=IDS,
    )
    churn = pd.DataFrame(
        {
            "churn_probability": [0.05, 0.5, 0.2, 0.6, 0.1, 0.3],
            "churn_driver": ["nps", "recency_days", "nps", "nps", "qbr_12m", "tenure_days"],
            "at_risk": [False, True, False, True, False, False],
        },
        index=IDS,
    )
    value = pd.DataFrame(
        {
            "clv": [5e6, 1e6, 2e5, 3e6, 1e5, 10.0],
            "clv_low": [4e6] * 6,
            "clv_high": [6e6] * 6,
            "p_alive": [0.99] * 6,
        },
        index=IDS,
    )
    mismatch = pd.Series({"D": "high-value regular", "C": "low-value key"})
    accounts = pd.DataFrame(
        {
            "account_id": IDS + ["gone"],
            "name": ['=HYPERLINK("x")', "Beta", "Gamma", "Delta", "Eps", "Phi", "Old"],
            "account_manager": ["Ann", "Bob", "Ann", "Bob", "Ann", None, "Ann"],
        }
    )
    return action_list(
        accounts,
        scored,
        changes,
        features,
        churn=churn,
        value=value,
        mismatch=mismatch,
        candidates=["F"],
    )


def test_one_row_per_active_account_with_every_column(actions):
    table = actions.table
    assert list(table.columns[: len(COLUMNS)]) == list(COLUMNS)
    assert sorted(table["account_id"]) == IDS  # "gone" is not active
    assert table["priority"].tolist() == list(range(1, 7))
    row = table.set_index("account_id").loc["A"]
    assert row["top_contributions"] == "size +0.5; growth +0.4; fit 0"
    assert row["name"] == '=HYPERLINK("x")'  # kept as data; escaped only when written


def test_flags_and_the_meeting_order(actions):
    table = actions.table.set_index("account_id")
    # At risk counts only for key accounts: D (regular) is at risk by probability but not flagged.
    assert table.loc["B", "flags"] == "at risk, promoted"
    assert table.loc["C", "flags"] == "demoted, low-value key"
    assert table.loc["D", "flags"] == "high-value regular"
    assert table.loc["E", "flags"] == "demoted"
    assert table.loc["F", "flags"] == "growth candidate"
    assert table.loc["A", "flags"] == ""
    # First flag sets the group (FLAGS order), then tier, churn probability, value.
    assert actions.table["account_id"].tolist() == ["B", "C", "E", "D", "F", "A"]
    assert actions.counts.to_dict() == {
        "at risk": 1,
        "demoted": 2,
        "low-value key": 1,
        "promoted": 1,
        "high-value regular": 1,
        "growth candidate": 1,
    }
    assert list(actions.counts.index) == list(FLAGS)
    assert "6 active accounts; 5 carry at least one flag" in actions.describe()


def test_written_files_are_filterable_per_manager_and_spreadsheet_safe(actions, tmp_path):
    xlsx, csv = actions.write(tmp_path)
    book = pd.read_excel(xlsx, sheet_name=None, engine="calamine")
    assert list(book) == ["All accounts", "Ann", "Bob"]
    assert len(book["All accounts"]) == 6 and len(book["Ann"]) == 3 and len(book["Bob"]) == 2
    first = book["All accounts"].set_index("account_id")
    assert first.loc["A", "name"] == '\'=HYPERLINK("x")'  # a formula becomes text
    assert first.loc["A", "revenue_12m"] == 9e6  # numbers stay numbers
    text = csv.read_text()
    assert "'=HYPERLINK" in text and '\n"=HYPER' not in text and ",=HYPER" not in text
    again, _ = actions.write(tmp_path / "again")
    assert again.read_bytes() == xlsx.read_bytes()  # byte-stable
