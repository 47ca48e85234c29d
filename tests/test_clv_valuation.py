"""The run's valuation: CLV per account as of the review date, with an interval."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from kamlab import fmt
from kamlab.clv import BGNBD, customer_lifetime_value, value_accounts
from kamlab.clv.valuation import _with_params


@pytest.fixture(scope="module")
def valuation(sample_dataset):
    return value_accounts(sample_dataset.transactions, "2025-01-01", periods=52)


def test_every_account_is_valued_before_the_review_date(valuation, sample_dataset):
    table = valuation.table
    assert valuation.rfm.calibration_end == pd.Timestamp("2024-12-31")
    assert len(table) == sample_dataset.transactions["account_id"].nunique()
    assert (table["clv_low"] <= table["clv"]).all() and (table["clv"] <= table["clv_high"]).all()
    assert (table["clv_low"] >= 0).all()
    assert table["p_alive"].between(0, 1).all()
    assert set(table["spend_source"]) <= {"gamma-gamma", "observed mean", "median of repeat buyers"}
    # the same numbers customer_lifetime_value gives for the same models
    rate = 1.10 ** (7 / 365.25) - 1
    direct = customer_lifetime_value(
        valuation.transaction_model, valuation.table["expected_spend"], valuation.rfm, 52, rate
    )
    np.testing.assert_allclose(table["clv"], direct, rtol=1e-12)
    assert "the 300 accounts are expected to bring" in valuation.describe()


def test_the_interval_matches_parameter_draws(valuation):
    """The delta-method interval agrees with the 10th/90th percentiles of CLV when the
    parameters of both models are drawn from their (log-normal) sampling distribution."""
    from kamlab.clv import expected_spend_or_observed

    rng = np.random.default_rng(0)
    bg, gg, rfm = valuation.transaction_model, valuation.spend_model, valuation.rfm
    top = valuation.table["clv"].nlargest(8).index
    rate = 1.10 ** (7 / 365.25) - 1

    def draws(model, n):
        p = model.params_.to_numpy()
        cov_log = model.covariance_.to_numpy() / np.outer(p, p)
        return np.exp(rng.multivariate_normal(np.log(p), cov_log, size=n))

    values = []
    for b, g in zip(draws(bg, 600), draws(gg, 600)):
        spend = expected_spend_or_observed(_with_params(gg, g), rfm.table)["expected_spend"]
        clv = customer_lifetime_value(_with_params(bg, b), spend, rfm, 52, rate)
        values.append(np.log(clv.loc[top].to_numpy()))
    low, high = np.percentile(values, [10, 90], axis=0)
    width = np.log(valuation.table.loc[top, "clv_high"] / valuation.table.loc[top, "clv_low"])
    np.testing.assert_allclose(width, high - low, rtol=0.2)


def test_interval_must_be_a_coverage(sample_dataset):
    with pytest.raises(ValueError, match="interval must be between 0 and 1"):
        value_accounts(sample_dataset.transactions, "2025-01-01", interval=80)


def test_bgnbd_is_the_model_of_the_sample(valuation):
    assert isinstance(valuation.transaction_model, BGNBD)
    assert valuation.transaction_model.identified_.all()
    assert valuation.fixed == ()


def test_accounts_that_have_left_are_valued_at_zero_and_said(sample_dataset):
    from kamlab.clv import describe_inactive
    from kamlab.features import account_features

    by_data = value_accounts(sample_dataset, "2025-01-01", periods=52)
    by_purchases = value_accounts(sample_dataset.transactions, "2025-01-01", periods=52)
    active = account_features(sample_dataset, "2025-01-01", 365).index
    gone = by_data.table.index.difference(active)
    assert len(gone) == 87  # churned before the review: not in the active population
    assert by_data.table.loc[gone, "recorded_churn"].all()
    assert (by_data.table.loc[gone, ["clv", "clv_low", "clv_high", "p_alive"]] == 0).all().all()
    assert by_data.churned_value == pytest.approx(by_purchases.table.loc[gone, "clv"].sum())
    kept = by_data.table.index.intersection(active)
    pd.testing.assert_series_equal(
        by_data.table.loc[kept, "clv"], by_purchases.table.loc[kept, "clv"]
    )
    text = describe_inactive(by_data)
    assert text.startswith("87 accounts with a churn recorded before the valuation date")
    assert fmt.money(by_data.churned_value) in text
    ranking = by_data.ranking()
    assert ranking["clv_rank"].tolist() == list(range(1, len(ranking) + 1))
    assert ranking["clv"].is_monotonic_decreasing
