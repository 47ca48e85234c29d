"""As-of features: exact values on a hand-made table, and no leakage by construction."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from kamlab.data import Dataset, load_dataset
from kamlab.features import OUTCOME_COLUMNS, account_features, feature_columns, feature_panel


def _dataset(tx_rows, accounts=None, assessments=None, interactions=None) -> Dataset:
    tx = pd.DataFrame(tx_rows, columns=["account_id", "date", "amount", "product", "cost"])
    tx["date"] = pd.to_datetime(tx["date"])
    acc = (
        accounts
        if accounts is not None
        else pd.DataFrame(
            {
                "account_id": ["A", "B", "C"],
                "acquired_on": pd.to_datetime(["2020-01-01"] * 3),
                "churned_on": pd.to_datetime([None, None, "2022-03-01"]),
                "industry": ["x", "y", "x"],
            }
        )
    )
    ass = (
        assessments
        if assessments is not None
        else pd.DataFrame(
            {
                "account_id": ["A", "A", "B"],
                "assessed_on": pd.to_datetime(["2021-06-01", "2021-12-01", "2022-02-01"]),
                "criterion": ["fit", "fit", "fit"],
                "score": [2.0, 4.0, 5.0],
            }
        )
    )
    inter = (
        interactions
        if interactions is not None
        else pd.DataFrame(
            {
                "account_id": ["A", "A", "B"],
                "date": pd.to_datetime(["2021-03-01", "2021-09-01", "2021-10-01"]),
                "kind": ["nps", "nps", "support_ticket"],
                "value": [6.0, 9.0, 3.0],
            }
        )
    )
    return Dataset(accounts=acc, transactions=tx, assessments=ass, interactions=inter)


TINY = [
    ("A", "2020-06-01", 100.0, "p1", 60.0),  # previous window
    ("A", "2021-03-01", 200.0, "p1", 100.0),  # recent window
    ("A", "2021-03-01", 50.0, "p2", 25.0),  # same day: one purchase day
    ("A", "2021-11-01", -25.0, "p2", -12.5),  # credit note
    ("A", "2022-02-01", 600.0, "p1", 300.0),  # future
    ("B", "2021-12-15", 400.0, "p3", 200.0),
    ("B", "2022-06-01", 100.0, "p3", 50.0),
    ("C", "2021-05-01", 80.0, "p1", 40.0),
]


def test_exact_features_and_outcomes_on_a_hand_made_table():
    f = account_features(_dataset(TINY), "2022-01-01", horizon=365, growth_threshold=0.1)
    a, b, c = f.loc["A"], f.loc["B"], f.loc["C"]
    assert a["revenue_12m"] == 225.0 and a["revenue_prev_12m"] == 100.0
    assert a["revenue_total"] == 325.0
    assert a["revenue_growth_12m"] == pytest.approx(np.log(2.25))
    assert a["orders_12m"] == 1  # two lines on one day are one purchase day
    assert a["recency_days"] == 306  # 2021-03-01 → 2022-01-01
    assert a["tenure_days"] == 731
    assert a["products_12m"] == 2
    assert a["credit_note_share_12m"] == pytest.approx(25 / 250)
    assert a["gross_margin_12m"] == pytest.approx((225 - 112.5) / 225)
    assert a["nps"] == 9.0 and b["support_tickets_12m"] == 1 and b["support_hours_12m"] == 3
    assert a["score_fit"] == 4.0 and np.isnan(b["score_fit"])  # B assessed after the cutoff
    assert f["revenue_share"].sum() == pytest.approx(1.0)
    assert b["revenue_share"] == pytest.approx(400 / 705)
    # Outcomes.
    assert a["base_revenue"] == 225.0 and a["future_revenue"] == 600.0
    assert a["log_growth"] == pytest.approx(np.log(600 / 225))
    assert a["growth_dh"] == pytest.approx((600 - 225) / ((600 + 225) / 2))
    assert a["grew"] and not b["grew"] and not a["churned"]
    assert c["churned"] and c["growth_dh"] == -2.0 and np.isnan(c["log_growth"])
    assert f.attrs == {"cutoff": "2022-01-01", "horizon_days": 365, "window_days": 365}
    assert set(OUTCOME_COLUMNS) <= set(f.columns)
    assert "log_growth" not in feature_columns(f) and "revenue_12m" in feature_columns(f)


def test_population_excludes_accounts_churned_or_new_after_cutoff():
    acc = pd.DataFrame(
        {
            "account_id": ["A", "B", "C"],
            "acquired_on": pd.to_datetime(["2020-01-01", "2022-06-01", "2020-01-01"]),
            "churned_on": pd.to_datetime([None, None, "2021-06-01"]),
        }
    )
    f = account_features(_dataset(TINY, accounts=acc), "2022-01-01")
    # C churned before the cutoff; B's recorded acquisition is later than its first purchase,
    # and the purchase wins (the account existed at the cutoff).
    assert list(f.index) == ["A", "B"]
    late = TINY[:5] + [("B", "2022-06-15", 400.0, "p3", 200.0)]
    f = account_features(_dataset(late, accounts=acc), "2022-01-01")
    assert list(f.index) == ["A"]


def test_horizon_units_and_errors():
    ds = _dataset(TINY)
    assert account_features(ds, "2022-01-01", "180D").attrs["horizon_days"] == 180
    with pytest.raises(ValueError, match="whole days"):
        account_features(ds, "2022-01-01", "36h")
    with pytest.raises(ValueError, match="positive"):
        account_features(ds, "2022-01-01", 0)


def test_panel_stacks_cutoffs(sample_dataset):
    panel = feature_panel(sample_dataset, ["2023-01-01", "2024-01-01"])
    assert panel.index.names == ["cutoff", "account_id"]
    assert set(panel.index.get_level_values("cutoff").year) == {2023, 2024}


def test_sample_features_recover_planted_growth_driver(sample_dataset):
    f = account_features(sample_dataset, "2023-07-01", 365)
    rho = f[["score_growth_potential", "growth_dh"]].corr(method="spearman").iloc[0, 1]
    assert rho > 0.15, rho


# Leakage: any change to rows dated on or after the cutoff changes no feature.
@pytest.fixture(scope="module")
def small_dataset(tmp_path_factory):
    from kamlab.synth import write_synthetic

    folder = write_synthetic(tmp_path_factory.mktemp("small"), n_accounts=40, years=2, seed=5)
    return load_dataset(folder)


@settings(
    max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    cutoff_day=st.integers(60, 700),
    scale=st.floats(-5, 5),
    shift_days=st.integers(0, 300),
    seed=st.integers(0, 2**16),
)
def test_no_feature_depends_on_rows_after_the_cutoff(
    small_dataset, cutoff_day, scale, shift_days, seed
):
    ds = small_dataset
    cutoff = ds.start + pd.Timedelta(days=cutoff_day)
    rng = np.random.default_rng(seed)
    changed = {}
    for table, col in (
        ("transactions", "date"),
        ("assessments", "assessed_on"),
        ("interactions", "date"),
    ):
        frame = getattr(ds, table).copy()
        late = frame[col] >= cutoff
        pick = late & (rng.random(len(frame)) < 0.5)
        numeric = {"transactions": "amount", "assessments": "score", "interactions": "value"}[table]
        frame.loc[pick, numeric] = frame.loc[pick, numeric] * scale
        frame.loc[pick, col] = frame.loc[pick, col] + pd.Timedelta(days=shift_days)
        # Also move some accounts' later rows to other accounts.
        frame.loc[pick, "account_id"] = rng.permutation(frame.loc[pick, "account_id"].to_numpy())
        changed[table] = frame
    accounts = ds.accounts.copy()
    late_churn = accounts["churned_on"] >= cutoff
    accounts.loc[late_churn, "churned_on"] = accounts.loc[late_churn, "churned_on"] + pd.Timedelta(
        days=1
    )
    altered = Dataset(accounts=accounts, **changed)
    before = account_features(ds, cutoff)
    after = account_features(altered, cutoff)
    cols = [c for c in before.columns if c not in OUTCOME_COLUMNS]
    pd.testing.assert_frame_equal(before[cols], after[cols])
