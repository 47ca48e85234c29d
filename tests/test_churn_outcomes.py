"""Churn after the outcome cutoff (kamlab.churn.outcomes, kamlab.churn.truth): counts by tier,
criteria effects that recover planted drivers, the comparison with truth.json, and honest skips."""

from __future__ import annotations

import json
from dataclasses import replace

import matplotlib

matplotlib.use("Agg")

import numpy as np
import pandas as pd
import pytest

from kamlab import churn
from kamlab.churn.outcomes import MIN_EVENTS, ChurnByTier
from kamlab.timeline import Timeline


@pytest.fixture(scope="module")
def sample_timeline(sample_dataset):
    return Timeline.from_dataset(sample_dataset)


@pytest.fixture(scope="module")
def by_tier(sample_dataset, sample_timeline):
    return churn.churn_by_tier(sample_dataset, sample_timeline, "seed_weighted")


# ------------------------------------------------------------------------------ by tier
def test_churn_by_tier_counts_recorded_churn_in_the_outcome_window(by_tier, sample_dataset):
    assert str(by_tier.cutoff.date()) == "2024-01-01" and str(by_tier.end.date()) == "2024-12-30"
    assert by_tier.dated and by_tier.method == "log-rank" and by_tier.skipped is None
    t = by_tier.table
    assert t.index.tolist() == ["regular", "key", "strategic", "total"]
    assert t["accounts"].tolist() == [208, 29, 7, 244]
    assert t["churned"].tolist() == [29, 4, 0, 33]
    assert t.loc["key", "churn_share"] == pytest.approx(4 / 29)
    # the events are exactly the recorded churn dates inside [cutoff, end] of the followed accounts
    accounts = sample_dataset.accounts.set_index("account_id")
    churned_on = accounts.loc[by_tier.followed.index, "churned_on"]
    inside = churned_on.between(pd.Timestamp("2024-01-01"), pd.Timestamp("2024-12-30"))
    assert (by_tier.followed["event"] == inside.astype(int)).all()
    assert by_tier.test["df"] == 2 and by_tier.test["p_value"] == pytest.approx(0.59, abs=0.01)
    assert set(by_tier.km["group"]) == {"regular", "key", "strategic"}
    text = by_tier.describe()
    assert "strategic 0 of 7 (0.0%), key 4 of 29 (13.8%), regular 29 of 208 (13.9%)" in text
    assert "p = 0.59: no evidence that the tiers churn at different rates" in text


def test_churn_by_tier_without_dates_uses_no_purchase_and_chi_squared(
    sample_dataset, sample_timeline
):
    undated = replace(sample_dataset, accounts=sample_dataset.accounts.drop(columns="churned_on"))
    result = churn.churn_by_tier(undated, sample_timeline, "seed_weighted")
    assert not result.dated and result.km is None and result.method == "chi-squared"
    assert result.followed["duration_days"].isna().all()
    # behavioural churn: the features' own outcome, one row per account of the features (without
    # churn dates the 53 accounts that left before the cutoff count as active: 244 + 53)
    assert int(result.table.loc["total", "churned"]) == int(result.features["churned"].sum())
    assert int(result.table.loc["total", "accounts"]) == len(result.features) == 297
    ax = churn.plot_churn_by_tier(result)
    assert [t.get_text() for t in ax.get_xticklabels()] == ["regular", "key", "strategic"]
    assert "no purchase" in result.describe()


def test_churn_by_tier_skips_without_a_complete_outcome_window(sample_dataset):
    short = Timeline.from_dataset(sample_dataset, as_of="2022-10-01", horizon_days=365)
    result = churn.churn_by_tier(sample_dataset, short)
    assert result.skipped and result.table.empty
    assert result.describe().startswith("Churn by tier was not computed: ")
    effects = churn.churn_criteria(result)
    assert effects.skipped == result.skipped and effects.table.empty
    with pytest.raises(ValueError, match="nothing to plot"):
        churn.plot_churn_by_tier(result)


def test_survival_plot_draws_a_group_without_events(by_tier):
    ax = churn.plot_churn_by_tier(by_tier)
    strategic = next(line for line in ax.get_lines() if line.get_label() == "strategic")
    assert strategic.get_xdata()[-1] == 364  # drawn flat to the end of follow-up
    assert set(strategic.get_ydata()) == {100.0}


# ------------------------------------------------------------------------------ criteria
def _study(features: pd.DataFrame, followed: pd.DataFrame, dated: bool) -> ChurnByTier:
    return ChurnByTier(
        pd.DataFrame(),
        followed,
        features,
        None,
        None,
        dated,
        pd.Timestamp("2024-01-01"),
        pd.Timestamp("2024-12-30"),
        365,
        "seed_weighted",
        None,
    )


def _planted(n: int, seed: int):
    rng = np.random.default_rng(seed)
    driver, noise = rng.normal(size=n), rng.normal(size=n)
    features = pd.DataFrame(
        {
            "score_driver": 3 + driver,  # assessed on another scale: standardised inside
            "score_noise": 3 + noise,
            "revenue_12m": rng.gamma(2.0, 1000.0, n),
        },
        index=pd.Index([f"A{i:04d}" for i in range(n)], name="account_id"),
    )
    return features, driver


def test_cox_recovers_a_planted_hazard_ratio():
    features, driver = _planted(4000, seed=3)
    rng = np.random.default_rng(4)
    hazard = 0.002 * np.exp(-0.7 * driver)  # per day
    time = rng.exponential(1 / hazard)
    followed = pd.DataFrame(
        {
            "tier": "regular",
            "event": (time <= 364).astype(int),
            "duration_days": np.minimum(time, 364.0),
        },
        index=features.index,
    )
    effects = churn.churn_criteria(_study(features, followed, dated=True))
    assert effects.model == "Cox" and effects.ratio_name == "hazard ratio"
    assert effects.table.index.tolist() == ["score_driver", "score_noise"]
    assert effects.table["criterion"].tolist() == ["driver", "noise"]
    assert effects.table.loc["score_driver", "ratio"] == pytest.approx(np.exp(-0.7), rel=0.06)
    assert (
        effects.table.loc["score_noise", "ci_low"] < 1 < effects.table.loc["score_noise", "ci_high"]
    )
    assert effects.significant().index.tolist() == ["score_driver"]
    assert effects.n == 4000 and effects.left_out == 0 and effects.events == followed["event"].sum()
    assert (
        "score_driver" not in effects.describe()
        and "driver (hazard ratio 0.5" in effects.describe()
    )


def test_logit_recovers_a_planted_odds_ratio_and_counts_rows_left_out():
    features, driver = _planted(4000, seed=5)
    rng = np.random.default_rng(6)
    churned = rng.random(4000) < 1 / (1 + np.exp(-(-1.0 + 0.8 * driver)))
    features["churned"] = churned
    features.loc[features.index[:25], "score_noise"] = np.nan
    effects = churn.churn_criteria(_study(features, pd.DataFrame(), dated=False))
    assert effects.model == "Logit" and effects.ratio_name == "odds ratio"
    assert effects.table.loc["score_driver", "ratio"] == pytest.approx(np.exp(0.8), rel=0.08)
    assert effects.n == 3975 and effects.left_out == 25
    assert effects.table.loc["score_driver", "q_value"] < 0.001
    assert "An odds ratio below 1 means less churn" in effects.describe()


def test_too_few_churned_accounts_are_not_modelled():
    features, _ = _planted(300, seed=7)
    followed = pd.DataFrame(
        {"tier": "regular", "event": 0, "duration_days": 364.0}, index=features.index
    )
    followed.iloc[: MIN_EVENTS - 1, followed.columns.get_loc("event")] = 1
    effects = churn.churn_criteria(_study(features, followed, dated=True))
    assert effects.skipped.endswith(f"needs at least {MIN_EVENTS} churned accounts")
    assert effects.describe().startswith("The criteria were not modelled")


# ------------------------------------------------------------------------------ truth
def test_the_sample_model_recovers_the_planted_nps_driver(by_tier, sample_dir):
    effects = churn.churn_criteria(by_tier)
    assert effects.model == "Cox" and effects.n == 231 and effects.events == 30
    assert effects.table.index[0] == "nps"
    assert effects.table.loc["nps", "ratio"] == pytest.approx(0.558, abs=0.005)
    check = churn.compare_with_truth(effects, sample_dir)
    truth = json.loads((sample_dir / "truth.json").read_text())
    assert check.table.index.tolist() == truth["churn_drivers"]
    assert check.table["column"].tolist() == ["nps", "score_willingness_to_partner"]
    assert check.table["recovered"].tolist() == [True, False]
    assert check.false_alarms == ()
    assert "recovers 1 of 2" in check.describe()


def test_real_data_have_no_truth(by_tier, tmp_path):
    check = churn.compare_with_truth(churn.churn_criteria(by_tier), tmp_path)
    assert check.skipped.startswith("there is no truth.json")
    assert check.describe().startswith("No comparison with a planted truth")
