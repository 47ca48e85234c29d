"""Portfolio KPIs: exact values on hand-made tables, properties, the sample and UCI wholesale."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from conftest import reference_path
from hypothesis import given, settings
from hypothesis import strategies as st

from kamlab.features import account_features
from kamlab.portfolio import (
    RETENTION_FIELDS,
    cohort_retention,
    concentration_summary,
    gini,
    hhi,
    lorenz_curve,
    pareto_share,
    revenue_retention,
)


# --------------------------------------------------------------------------- concentration
@pytest.mark.parametrize("n", [1, 2, 5, 100])
def test_gini_of_equal_values_is_zero_and_hhi_is_one_over_n(n):
    assert gini(np.full(n, 7.0)) == pytest.approx(0.0, abs=1e-12)
    assert hhi(np.full(n, 7.0)) == pytest.approx(1 / n, abs=1e-12)


@pytest.mark.parametrize("n", [1, 2, 4, 10])
def test_gini_of_one_nonzero_among_n_is_n_minus_one_over_n(n):
    values = np.zeros(n)
    values[n // 2] = 3.0
    assert gini(values) == pytest.approx((n - 1) / n, abs=1e-12)
    assert hhi(values) == pytest.approx(1.0, abs=1e-12)


def test_gini_hhi_lorenz_on_a_small_array_by_hand():
    values = [4, 1, 3, 2]
    # Σ_i Σ_j |x_i − x_j| = 2 · (1 + 2 + 3 + 1 + 2 + 1) = 20; 2 n² μ = 2 · 16 · 2.5 = 80.
    assert gini(values) == pytest.approx(20 / 80, abs=1e-12)
    assert hhi(values) == pytest.approx((1 + 4 + 9 + 16) / 100, abs=1e-12)
    curve = lorenz_curve(values)
    assert curve["population_share"].tolist() == [0, 0.25, 0.5, 0.75, 1.0]
    np.testing.assert_allclose(curve["value_share"], [0, 0.1, 0.3, 0.6, 1.0], atol=1e-12)
    # Gini is one minus twice the area under the (piecewise linear) Lorenz curve.
    x, y = curve["population_share"].to_numpy(), curve["value_share"].to_numpy()
    area = float(np.sum((x[1:] - x[:-1]) * (y[1:] + y[:-1]) / 2))
    assert gini(values) == pytest.approx(1 - 2 * area, abs=1e-12)


def test_pareto_share_on_small_arrays():
    values = [1, 2, 3, 4, 10]  # total 20
    assert pareto_share(values, 0.2) == pytest.approx(10 / 20)
    assert pareto_share(values, 0.4) == pytest.approx(14 / 20)
    assert pareto_share(values, 0.3) == pytest.approx((10 + 0.5 * 4) / 20)  # interpolated
    assert pareto_share(values, 1.0) == pytest.approx(1.0)
    assert pareto_share([5, 5, 5, 5], 0.25) == pytest.approx(0.25)


def test_concentration_summary_fields():
    summary = concentration_summary([1, 2, 3, 4, 10])
    assert summary["accounts"] == 5 and summary["total"] == 20
    assert summary["top_20pct_share"] == pytest.approx(0.5)
    assert summary["equivalent_accounts"] == pytest.approx(1 / hhi([1, 2, 3, 4, 10]))
    # 10 + 4 = 14 (70 %) < 80 %; 10 + 4 + 3 = 17 (85 %) ≥ 80 %: three accounts.
    assert summary["accounts_for_80pct"] == 3
    assert summary["accounts_for_80pct_share"] == pytest.approx(0.6)


@pytest.mark.parametrize("func", [gini, hhi, pareto_share, lorenz_curve, concentration_summary])
def test_clear_errors_on_bad_input(func):
    with pytest.raises(ValueError, match="empty"):
        func([])
    with pytest.raises(ValueError, match="negative"):
        func([3.0, -1.0])
    with pytest.raises(ValueError, match="total"):
        func([0.0, 0.0])
    with pytest.raises(ValueError, match="missing"):
        func([1.0, np.nan])


def test_negative_values_can_be_clipped():
    assert gini([-5.0, 0.0, 0.0, 4.0], negative="clip") == pytest.approx(0.75)
    with pytest.raises(ValueError, match="total"):
        gini([-5.0, -1.0], negative="clip")
    with pytest.raises(ValueError, match="top"):
        pareto_share([1, 2], top=0)


@settings(max_examples=60, deadline=None)
@given(
    st.lists(st.one_of(st.just(0.0), st.floats(1e-3, 1e6)), min_size=1, max_size=40),
    st.floats(0.01, 1e3),
)
def test_concentration_properties(values, scale):
    if sum(values) <= 0:
        return
    n = len(values)
    g = gini(values)
    assert -1e-9 <= g <= (n - 1) / n + 1e-9
    assert gini([v * scale for v in values]) == pytest.approx(g, abs=1e-9)
    assert gini(values[::-1]) == pytest.approx(g, abs=1e-9)
    assert 1 / n - 1e-12 <= hhi(values) <= 1 + 1e-12
    assert pareto_share(values, 0.2) >= 0.2 - 1e-9  # the top 20 % hold at least 20 %


# --------------------------------------------------------------------------- retention
P1 = ("2023-01-01", "2024-01-01")
P2 = ("2024-01-01", "2025-01-01")


def _tx(rows):
    frame = pd.DataFrame(rows, columns=["account_id", "date", "amount"])
    frame["date"] = pd.to_datetime(frame["date"])
    return frame


HAND = _tx(
    [
        ("A", "2022-12-31", 500.0),  # before period 1: ignored
        ("A", "2023-03-01", 100.0),
        ("A", "2024-01-01", 150.0),  # the first day of period 2 belongs to period 2
        ("B", "2023-05-01", 200.0),
        ("B", "2024-02-01", 80.0),
        ("B", "2024-03-01", -30.0),  # credit note: B's period-2 revenue is 50
        ("C", "2023-06-01", 60.0),
        ("C", "2023-12-31", 40.0),  # C: 100 in period 1, nothing after (lost)
        ("D", "2024-06-01", 80.0),  # D: new in period 2
    ]
)


def test_retention_on_a_hand_made_table():
    r = revenue_retention(HAND, P1, P2)
    assert list(r.index) == list(RETENTION_FIELDS)
    # Base: A, B, C with 100 + 200 + 100 = 400 in period 1.
    assert r["accounts"] == 3 and r["revenue_p1"] == 400.0
    # Period 2 of the base: A 150, B 50, C 0 → NRR 200 / 400.
    assert r["revenue_p2"] == 200.0 and r["nrr"] == 0.5
    # Capped at period 1: A min(150, 100) = 100, B 50, C 0 → GRR 150 / 400.
    assert r["revenue_p2_capped"] == 150.0 and r["grr"] == 0.375
    assert r["retained_accounts"] == 2 and r["logo_retention"] == pytest.approx(2 / 3)
    assert r["new_accounts"] == 1 and r["new_revenue"] == 80.0


def test_retention_negative_period2_counts_in_nrr_not_grr():
    tx = _tx(
        [
            ("A", "2023-02-01", 100.0),
            ("A", "2024-02-01", -20.0),
            ("B", "2023-02-01", 100.0),
            ("B", "2024-02-01", 100.0),
        ]
    )
    r = revenue_retention(tx, P1, P2)
    assert r["nrr"] == pytest.approx(80 / 200) and r["grr"] == pytest.approx(100 / 200)
    assert r["retained_accounts"] == 1


def test_retention_errors():
    with pytest.raises(ValueError, match="no account has positive revenue"):
        revenue_retention(HAND, ("2020-01-01", "2021-01-01"), P2)
    with pytest.raises(ValueError, match="before end"):
        revenue_retention(HAND, ("2024-01-01", "2023-01-01"), P2)
    with pytest.raises(ValueError, match="no column 'value'"):
        revenue_retention(HAND, P1, P2, amount_col="value")


def test_retention_and_cohorts_on_the_sample(sample_dataset):
    r = revenue_retention(sample_dataset.transactions, P1, P2)
    assert (r["accounts"], r["retained_accounts"], r["new_accounts"]) == (270, 244, 3)
    assert r["nrr"] == pytest.approx(34381805.0 / 30146720.0, abs=1e-12)
    assert r["grr"] == pytest.approx(24990360.0 / 30146720.0, abs=1e-12)
    assert 0 < r["grr"] <= 1 and r["grr"] <= r["nrr"]
    cohorts = cohort_retention(sample_dataset)
    assert list(cohorts.index.get_level_values("period").unique()) == ["2022→2023", "2023→2024"]
    last = cohorts.loc["2023→2024"]
    # The "all" row is the whole-portfolio retention; the cohorts add up to it.
    assert last.loc["all", "nrr"] == pytest.approx(r["nrr"], abs=1e-12)
    cohort_rows = last.drop(index="all")
    assert cohort_rows["accounts"].sum() == r["accounts"]
    assert cohort_rows["revenue_p2"].sum() == pytest.approx(r["revenue_p2"])
    assert cohort_rows["new_accounts"].sum() == r["new_accounts"]


def test_sample_concentration(sample_dataset):
    feats = account_features(sample_dataset, "2024-01-01", 365)
    summary = concentration_summary(feats["revenue_12m"])
    assert summary["accounts"] == 244
    assert summary["gini"] == pytest.approx(0.6650921, abs=1e-6)
    assert summary["top_20pct_share"] == pytest.approx(0.7023507, abs=1e-6)


# --------------------------------------------------------------------------- UCI wholesale
@pytest.mark.reference
def test_uci_wholesale_concentration():
    path = reference_path("uci-wholesale-customers", "customers.csv")
    customers = pd.read_csv(path)
    spend = customers[
        ["Fresh", "Milk", "Grocery", "Frozen", "Detergents_Paper", "Delicatessen"]
    ].sum(axis=1)
    assert len(spend) == 440 and spend.sum() == 14_619_500
    # A cash-and-carry wholesaler of similar-sized cafés and shops: far from 80/20.
    assert gini(spend) == pytest.approx(0.36402224, abs=1e-6)
    assert pareto_share(spend, 0.2) == pytest.approx(0.42904839, abs=1e-6)  # 88 clients
    assert hhi(spend) == pytest.approx(0.00369954, abs=1e-6)
    assert 0.2 < pareto_share(spend, 0.2) < 0.8 and 0.2 < gini(spend) < 0.6


def test_cohort_retention_compares_halves_when_data_cover_under_two_years():
    from kamlab.data import Dataset

    tx = pd.DataFrame(
        {
            "account_id": ["a", "a", "b", "c"],
            "date": pd.to_datetime(["2011-01-10", "2011-09-01", "2011-02-01", "2011-10-01"]),
            "amount": [100.0, 150.0, 50.0, 70.0],
        }
    )
    accounts = pd.DataFrame({"account_id": ["a", "b", "c"]})
    ds = Dataset(
        accounts=accounts, transactions=tx, assessments=pd.DataFrame(), interactions=pd.DataFrame()
    )
    table = cohort_retention(ds)
    # Halves of 2011-01-10 … 2011-10-01: [01-10, 05-22) and [05-22, 10-02).
    assert list(table.index.get_level_values("period").unique()) == ["2011-01-10→2011-05-22"]
    everyone = table.xs("all", level="cohort").iloc[0]
    assert everyone["accounts"] == 2 and everyone["retained_accounts"] == 1
    assert everyone["nrr"] == pytest.approx(150 / 150)
