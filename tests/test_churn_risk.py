"""The run's churn risk: one recipe at the review date, checked out of time, skipped honestly."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from kamlab.churn import ChurnClassifier, churn_risk
from kamlab.features import account_features
from kamlab.timeline import Timeline


@pytest.fixture(scope="module")
def risk(sample_dataset):
    return churn_risk(sample_dataset, Timeline.from_dataset(sample_dataset), random_state=0)


def test_one_probability_per_active_account_at_the_review_date(risk, sample_dataset):
    active = account_features(sample_dataset, "2025-01-01", 365).index
    table = risk.table
    assert sorted(table.index) == sorted(active)
    assert table["churn_probability"].between(0, 1).all()
    assert table["churn_probability"].is_monotonic_decreasing
    assert risk.threshold == pytest.approx(2 * risk.base_rate)  # a low churn rate: twice it
    assert (table["at_risk"] == (table["churn_probability"] >= risk.threshold)).all()
    np.testing.assert_allclose(table["relative_risk"], table["churn_probability"] / risk.base_rate)
    assert [str(c.date()) for c in risk.training_cutoffs] == [
        "2023-01-01",
        "2023-04-01",
        "2023-07-01",
        "2023-10-01",
        "2024-01-01",
    ]
    assert risk.skipped is None


def test_the_ranking_is_checked_where_the_outcome_is_known(risk):
    assert str(risk.check_cutoff.date()) == "2024-01-01"
    assert int(risk.check["n"]) == 244  # accounts active at the check date
    text = risk.describe_check()
    assert "ROC-AUC" in text and "2024-01-01" in text
    assert risk.trusted() == (risk.check["roc_auc"] >= 0.7 and risk.check["brier_skill"] > 0)


def test_the_recipe_is_deterministic(risk, sample_dataset):
    again = churn_risk(sample_dataset, Timeline.from_dataset(sample_dataset), random_state=0)
    pd.testing.assert_frame_equal(risk.table, again.table)


def test_short_data_say_what_was_skipped(sample_dataset):
    short = Timeline.from_dataset(sample_dataset, as_of="2023-03-01", horizon_days=365)
    result = churn_risk(sample_dataset, short)
    assert result.table.empty and result.check is None
    assert "no cutoff has a 365-day churn window that closed before 2023-03-01" in result.skipped
    assert result.describe().startswith("Churn risk was not computed")


def test_drivers_name_the_feature_that_raises_the_risk_most():
    rng = np.random.default_rng(0)
    n = 2000
    X = pd.DataFrame(
        {"silence": rng.normal(size=n), "noise": rng.normal(size=n), "loyalty": rng.normal(size=n)}
    )
    logit = 1.5 * X["silence"] - 1.5 * X["loyalty"] - 1.0
    y = rng.random(n) < 1 / (1 + np.exp(-logit))
    model = ChurnClassifier("logistic", calibration="sigmoid").fit(X, y)
    probe = pd.DataFrame({"silence": [2.0, 0.0], "noise": [0.0, 0.0], "loyalty": [0.0, -2.0]})
    drivers = model.drivers(probe)
    assert drivers.idxmax(axis=1).tolist() == ["silence", "loyalty"]
    assert drivers.loc[0, "silence"] == pytest.approx(3.0, rel=0.15)  # ≈ 1.5 × 2 SD
    with pytest.raises(ValueError, match="model='logistic'"):
        ChurnClassifier("hgb").fit(X, y).drivers(probe)


def test_the_check_keeps_its_predictions_for_the_reliability_diagram(risk):
    from sklearn.metrics import roc_auc_score

    from kamlab.churn import check_reliability

    predictions = risk.check_predictions
    assert len(predictions) == int(risk.check["n"]) == 244
    assert predictions["churned"].mean() == pytest.approx(risk.check["base_rate"])
    assert roc_auc_score(predictions["churned"], predictions["churn_probability"]) == pytest.approx(
        risk.check["roc_auc"]
    )
    table = check_reliability(risk, n_bins=5)
    assert table["n"].sum() == 244 and len(table) == 5


def test_the_answer_names_the_riskiest_key_accounts_even_when_none_is_flagged(risk):
    tiers = pd.Series("regular", index=risk.table.index)
    tiers[risk.table.index[-3:]] = "key"  # the three lowest risks
    text = risk.describe(tiers)
    assert text.startswith("As of 2025-01-01, 0 of 3 key or strategic accounts")
    lowest = risk.table.index[-3:]
    assert f"The highest risks: {lowest[0]} (" in text
    assert "the model learned from 5 cutoffs" in text


def test_a_high_churn_rate_keeps_a_reachable_threshold():
    from kamlab.churn import ChurnRisk

    common = dict(
        table=pd.DataFrame(),
        as_of=pd.Timestamp("2025-01-01"),
        horizon_days=365,
        training_cutoffs=(),
        feature_columns=(),
        check=None,
        check_cutoff=None,
        skipped=None,
    )
    assert ChurnRisk(base_rate=0.1, factor=2.0, **common).threshold == pytest.approx(0.2)
    assert ChurnRisk(base_rate=0.6, factor=2.0, **common).threshold == pytest.approx(0.8)
