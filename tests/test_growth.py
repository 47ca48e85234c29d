"""Tests for kamlab.growth: exact checks on hand-made frames, recovery of the planted truth on
synthetic portfolios (power and false discoveries over seeds), the horizon rule, determinism."""

from __future__ import annotations

import warnings

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import pytest
import statsmodels.api as sm
from statsmodels.stats.multitest import multipletests

from kamlab import growth, synth
from kamlab.data import Dataset
from kamlab.features import account_features, feature_panel

CRITERIA = [f"score_{c}" for c in synth.ASSESSED_CRITERIA]
DRIVERS = ["score_growth_potential", "score_willingness_to_partner", "score_strategic_fit"]
NOISE = [
    f"score_{c}"
    for c in synth.ASSESSED_CRITERIA
    if synth.GROWTH_COEFFICIENTS[c] == 0 and synth.CHURN_COEFFICIENTS[c] == 0
]
SEEDS = range(25)
N_ACCOUNTS = 1000  # at 400 accounts willingness_to_partner is found in only ~70 % of seeds
CUTOFF = "2023-07-01"


def _dataset(portfolio) -> Dataset:
    return Dataset(
        accounts=portfolio.accounts,
        transactions=portfolio.transactions,
        assessments=portfolio.assessments,
        interactions=portfolio.interactions,
    )


def planted_rule(features: pd.DataFrame) -> pd.Series:
    """The rule set built on the planted drivers: mean of their latest scores."""
    return features[DRIVERS].mean(axis=1)


def size_rule(features: pd.DataFrame) -> pd.Series:
    return features["revenue_12m"]


@pytest.fixture(scope="module")
def synthetic_frames():
    """Features at mid-history (3 years from 2022-01-01, cutoff 2023-07-01, horizon 365) for
    every seed."""
    frames = {}
    for seed in SEEDS:
        portfolio = synth.generate(N_ACCOUNTS, 3, seed=seed)
        frames[seed] = account_features(_dataset(portfolio), CUTOFF, 365)
    return frames


@pytest.fixture(scope="module")
def synthetic_dataset():
    return _dataset(synth.generate(N_ACCOUNTS, 3, seed=101))


@pytest.fixture
def linear_frame():
    rng = np.random.default_rng(3)
    n = 200
    x = rng.normal(2.0, 1.5, n)
    other = rng.normal(0, 1, n)
    y = 0.5 + 0.8 * x + rng.normal(0, 1, n)
    return pd.DataFrame(
        {
            "x": x,
            "other": other,
            "y": y,
            "grew": (y + rng.normal(0, 1, n)) > 2.1,
            "industry": rng.choice(["a", "b", "c"], n),
            "manager": rng.choice([f"m{i}" for i in range(12)], n),
            "revenue_12m": rng.lognormal(10, 1, n),
        }
    )


# ---------------------------------------------------------------------------------- inference
def test_ols_coef_is_the_closed_form_standardised_slope(linear_frame):
    d = linear_frame
    effects = growth.criteria_effects(d, ["x"], "y")
    slope = np.cov(d["x"], d["y"])[0, 1] / d["x"].var()
    assert effects.loc["x", "coef"] == pytest.approx(slope * d["x"].std(), rel=1e-10)
    # HC3 errors, as statsmodels computes them on the standardised regressor.
    z = (d["x"] - d["x"].mean()) / d["x"].std()
    ref = sm.OLS(d["y"], sm.add_constant(z)).fit(cov_type="HC3")
    assert effects.loc["x", "std_err"] == pytest.approx(ref.bse["x"], rel=1e-10)
    assert effects.loc["x", "p_value"] == pytest.approx(ref.pvalues["x"], rel=1e-8)
    assert effects.loc["x", "ci_low"] < effects.loc["x", "coef"] < effects.loc["x", "ci_high"]
    assert effects.attrs["model"] == "ols" and effects.attrs["cov_type"] == "HC3"
    assert list(effects.columns[:8]) == list(growth.EFFECT_COLUMNS)


def test_bh_q_values_match_statsmodels_and_the_hand_formula():
    p = np.array([0.001, 0.008, 0.039, 0.041, 0.042, 0.06, 0.074, 0.205])
    order = np.argsort(p)
    m = len(p)
    hand = np.minimum.accumulate((p[order] * m / np.arange(1, m + 1))[::-1])[::-1]
    q_sm = multipletests(p, method="fdr_bh")[1]
    np.testing.assert_allclose(q_sm[order], hand, rtol=1e-12)
    # criteria_effects applies exactly that across its criteria.
    rng = np.random.default_rng(0)
    frame = pd.DataFrame(rng.normal(size=(120, 6)), columns=list("abcdef"))
    frame["y"] = 0.3 * frame["a"] + 0.2 * frame["b"] + rng.normal(size=120)
    effects = growth.criteria_effects(frame, list("abcdef"), "y")
    np.testing.assert_allclose(
        effects["q_value"], multipletests(effects["p_value"], method="fdr_bh")[1]
    )


def test_joint_view_controls_and_clustering(linear_frame):
    d = linear_frame
    uni = growth.criteria_effects(
        d, ["x", "other"], "y", controls=["industry"], size_control="revenue_12m"
    )
    joint = growth.criteria_effects(
        d, ["x", "other"], "y", controls=["industry"], size_control="revenue_12m", joint=True
    )
    assert uni.attrs["controls"] == ["industry_b", "industry_c", "log_revenue_12m"]
    assert joint.attrs["view"] == "joint" and "vif" in joint
    assert joint["vif"].between(1, 1.2).all()
    assert uni.loc["x", "coef"] == pytest.approx(joint.loc["x", "coef"], rel=0.05)
    clustered = growth.criteria_effects(d, ["x"], "y", cluster="manager")
    assert clustered.attrs["cov_type"] == "cluster"
    assert clustered.loc["x", "coef"] == pytest.approx(uni.loc["x", "coef"], rel=0.05)
    assert clustered.loc["x", "std_err"] != pytest.approx(
        growth.criteria_effects(d, ["x"], "y").loc["x", "std_err"]
    )


def test_logit_for_binary_outcome(linear_frame):
    effects = growth.criteria_effects(linear_frame, ["x", "other"], "grew")
    assert effects.attrs["model"] == "logit" and effects.attrs["cov_type"] == "HC0"
    assert effects.loc["x", "coef"] > 0 and effects.loc["x", "q_value"] < 0.001
    ref = sm.Logit(
        linear_frame["grew"].astype(float),
        sm.add_constant((linear_frame["x"] - linear_frame["x"].mean()) / linear_frame["x"].std()),
    ).fit(disp=0)
    assert effects.loc["x", "coef"] == pytest.approx(ref.params["x"], rel=1e-6)
    with pytest.raises(ValueError, match="not binary"):
        growth.criteria_effects(linear_frame, ["x"], "y", model="logit")


def test_missing_values_are_dropped_and_counted(linear_frame):
    d = linear_frame.copy()
    d.loc[d.index[:5], "y"] = np.nan
    d.loc[d.index[5:8], "x"] = np.nan
    d.loc[d.index[3:10], "other"] = np.inf  # rows 3, 4 already lack y
    d.loc[d.index[10], "industry"] = None
    effects = growth.criteria_effects(d, ["x", "other"], "y", controls=["industry"])
    report = effects.attrs["missing"]
    assert report == {
        "n_input": 200,
        "dropped_outcome": 5,
        "dropped_criteria": 5,
        "dropped_controls": 1,
        "dropped_cluster": 0,
        "n_used": 189,
    }
    assert (effects["n"] == 189).all()


def test_constant_criterion_is_skipped_with_a_note_and_errors_are_clear(linear_frame):
    d = linear_frame.assign(flat=3.0)
    effects = growth.criteria_effects(d, ["x", "flat"], "y")
    assert np.isnan(effects.loc["flat", "coef"]) and np.isnan(effects.loc["flat", "q_value"])
    assert "constant" in effects.loc["flat", "note"] and effects.loc["x", "note"] == ""
    with pytest.raises(ValueError, match="every criterion is constant"):
        growth.criteria_effects(d, ["flat"], "y")
    with pytest.raises(ValueError, match="too few complete rows"):
        growth.criteria_effects(d.head(15), ["x"], "y")
    with pytest.raises(ValueError, match="not in features: nope"):
        growth.criteria_effects(d, ["x", "nope"], "y")
    with pytest.raises(ValueError, match="not numeric"):
        growth.criteria_effects(d, ["industry"], "y")


def test_variance_inflation_warns_on_collinear_criteria(linear_frame):
    d = linear_frame.assign(
        x_copy=linear_frame["x"] + np.random.default_rng(1).normal(0, 0.1, len(linear_frame))
    )
    with pytest.warns(UserWarning, match="x, x_copy"):
        vif = growth.variance_inflation(d, ["x", "x_copy", "other"])
    assert vif.loc["x", "vif"] > 5 and vif.loc["other", "vif"] < 1.2
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        growth.variance_inflation(d, ["x", "other"])


def test_planted_drivers_found_and_noise_rejected_over_seeds(synthetic_frames):
    """Across 25 seeds (1,000 accounts, 3 years, cutoff mid-history, one-year horizon), the
    joint model with industry/region/size controls finds the planted drivers and keeps the
    noise criteria near the nominal rate."""
    found, fdp, found_uni = [], [], []
    for frame in synthetic_frames.values():
        eff = growth.criteria_effects(
            frame,
            CRITERIA,
            "log_growth",
            joint=True,
            controls=["industry", "region"],
            size_control="revenue_12m",
        )
        hits = eff["q_value"] < 0.05
        found.append(hits)
        fdp.append(hits[NOISE].sum() / max(1, hits.sum()))
        uni = growth.criteria_effects(
            frame,
            CRITERIA,
            "log_growth",
            controls=["industry", "region"],
            size_control="revenue_12m",
        )
        found_uni.append(uni["q_value"] < 0.05)
    rate = pd.DataFrame(found).mean()
    rate_uni = pd.DataFrame(found_uni).mean()
    noise_share = rate[NOISE].mean()
    independent_noise = [c for c in NOISE if c != "score_market_influence"]
    msg = (
        f"joint rates over {len(found)} seeds: {rate.round(2).to_dict()}; noise share "
        f"{noise_share:.3f}; mean FDP {np.mean(fdp):.3f}; univariate: "
        f"{rate_uni.round(2).to_dict()}"
    )
    assert rate["score_growth_potential"] >= 0.9, msg
    assert rate["score_willingness_to_partner"] >= 0.9, msg
    assert rate["score_strategic_fit"] >= 0.3, msg  # weaker (0.07 per SD): power ~0.6
    assert noise_share <= 0.10, msg
    assert np.mean(fdp) <= 0.10, msg
    # Univariately, market_influence is truly associated (ρ = 0.4 with strategic_fit); the
    # noise criteria independent of every driver stay near nominal.
    assert rate_uni[independent_noise].mean() <= 0.10, msg


# --------------------------------------------------------------------------------- prediction
@pytest.fixture(scope="module")
def sample_panel(sample_dataset):
    return feature_panel(
        sample_dataset, ["2022-10-01", "2023-01-01", "2023-07-01", "2024-01-01"], 365
    )


FEATURES = CRITERIA + [
    "revenue_share",
    "revenue_growth_12m",
    "nps",
    "orders_12m",
    "recency_days",
    "tenure_days",
]


def test_time_split_cv_respects_the_horizon(sample_panel):
    cv = growth.time_split_cv(sample_panel, features=FEATURES, outcome="growth_dh", horizon=365)
    # cutoff_train + 365 <= cutoff_test: 2023-01-01 and 2023-07-01 have no such earlier cutoff
    # (2022-10-01 + 365 days = 2023-10-01), so the only fold tests 2024-01-01.
    assert cv["test_cutoff"].tolist() == ["2024-01-01", "2024-01-01"]
    assert cv["train_cutoffs"].iloc[0] == "2022-10-01..2023-01-01 (2)"
    assert set(cv["model"]) == {"ridge", "hgb"} and {"r2", "spearman"} <= set(cv.columns)
    again = growth.time_split_cv(sample_panel, features=FEATURES, outcome="growth_dh")
    pd.testing.assert_frame_equal(cv, again)
    # A 180-day rule (as for a panel built with horizon 180) admits 2023-07-01 as a test cutoff.
    shorter = growth.time_split_cv(
        sample_panel, features=FEATURES, outcome="growth_dh", horizon=180, models=("ridge",)
    )
    assert shorter["test_cutoff"].tolist() == ["2023-07-01", "2024-01-01"]
    assert shorter["train_cutoffs"].tolist() == [
        "2022-10-01..2023-01-01 (2)",
        "2022-10-01..2023-07-01 (3)",
    ]
    with pytest.raises(ValueError, match="at least 365 days"):
        growth.time_split_cv(sample_panel, ["2023-07-01", "2024-01-01"], features=FEATURES)


def test_time_split_cv_classification_and_importance(sample_panel):
    cv = growth.time_split_cv(sample_panel, features=FEATURES, outcome="grew", models=("ridge",))
    assert cv["auc"].between(0.5, 1).all()
    imp = growth.permutation_importance_table(
        sample_panel, features=FEATURES, outcome="growth_dh", n_repeats=5
    )
    assert imp.attrs["train_cutoffs"] == ["2022-10-01", "2023-01-01"]
    assert set(imp.index) == set(FEATURES)
    # revenue_growth_12m has no value before 2023-01-01 (the data start in 2022): unused, last.
    assert imp.index[-1] == "revenue_growth_12m" and imp.iloc[-1].isna().all()
    used = imp.iloc[:-1]
    assert ((used["ci_low"] <= used["importance"]) & (used["importance"] <= used["ci_high"])).all()
    again = growth.permutation_importance_table(
        sample_panel, features=FEATURES, outcome="growth_dh", n_repeats=5
    )
    pd.testing.assert_frame_equal(imp, again)


def test_learned_scorer_uses_only_data_before_the_cutoff(sample_dataset):
    cutoff = pd.Timestamp("2024-01-01")
    feats = account_features(sample_dataset, cutoff, 365)
    scorer = growth.LearnedScorer(sample_dataset, FEATURES)
    assert all(c + pd.Timedelta(days=365) <= cutoff for c in scorer.training_cutoffs(cutoff))
    ds = sample_dataset
    cut = Dataset(
        accounts=ds.accounts.assign(
            churned_on=ds.accounts["churned_on"].where(ds.accounts["churned_on"] < cutoff)
        ),
        transactions=ds.transactions[ds.transactions["date"] < cutoff],
        assessments=ds.assessments[ds.assessments["assessed_on"] < cutoff],
        interactions=ds.interactions[ds.interactions["date"] < cutoff],
    )
    blind = growth.LearnedScorer(cut, FEATURES)
    pd.testing.assert_series_equal(scorer(feats), blind(feats))
    with pytest.raises(growth.InsufficientHistory):
        scorer(account_features(sample_dataset, "2022-07-01", 365))


# ---------------------------------------------------------------------------------- back-test
def test_planted_rule_beats_size_only_in_backtest(synthetic_dataset):
    table = growth.backtest(
        synthetic_dataset,
        {"size_only": size_rule, "planted_drivers": planted_rule},
        ["2023-01-01", "2023-07-01", "2024-01-01"],
        n_boot=300,
        min_tenure_days=365,
    )
    pooled = table[(table["rule_set"] == "planted_drivers") & (table["cutoff"] == "pooled")]
    pooled = pooled.set_index("metric")
    msg = pooled.round(3).to_string()
    assert pooled.loc["delta_precision_at_k", "ci_low"] > 0, msg
    assert pooled.loc["delta_mean_growth_dh_selected", "ci_low"] > 0, msg
    assert pooled.loc["delta_spearman_growth_dh", "ci_low"] > 0, msg
    assert pooled.loc["lift", "ci_low"] > 1, msg
    per_cutoff = table[
        (table["rule_set"] == "planted_drivers")
        & (table["metric"] == "delta_precision_at_k")
        & (table["cutoff"] != "pooled")
    ]
    assert (per_cutoff["estimate"] > 0).all(), msg


def test_backtest_table_shape_determinism_and_guards(sample_dataset):
    rules = {
        "size_only": size_rule,
        "planted": planted_rule,
        "learned": growth.LearnedScorer(sample_dataset, FEATURES),
    }
    cutoffs = ["2023-01-01", "2024-01-01"]
    a = growth.backtest(sample_dataset, rules, cutoffs, n_boot=50, random_state=1)
    b = growth.backtest(sample_dataset, rules, cutoffs, n_boot=50, random_state=1)
    pd.testing.assert_frame_equal(a, b)
    c = growth.backtest(sample_dataset, rules, cutoffs, n_boot=50, random_state=2)
    assert not np.allclose(a["ci_low"].fillna(0), c["ci_low"].fillna(0))
    np.testing.assert_allclose(a["estimate"], c["estimate"])  # estimates do not resample
    assert list(a.columns) == [
        "rule_set",
        "cutoff",
        "metric",
        "estimate",
        "ci_low",
        "ci_high",
        "n_accounts",
        "n_selected",
    ]
    assert set(a["metric"]) == set(growth.BACKTEST_METRICS) | {
        "delta_precision_at_k",
        "delta_lift",
        "delta_mean_growth_dh_selected",
        "delta_spearman_growth_dh",
    }
    assert a.attrs["skipped"][0]["rule_set"] == "learned"  # no history before 2023-01-01
    assert set(a.loc[a["rule_set"] == "learned", "cutoff"]) == {"2024-01-01"}
    sizes = a[(a["metric"] == "precision_at_k") & (a["cutoff"] != "pooled")]
    assert (sizes["n_selected"] == (0.15 * sizes["n_accounts"]).round()).all()
    # Size-only at one cutoff: precision@k is the share of the top revenue accounts that grew.
    feats = account_features(sample_dataset, "2024-01-01", 365)
    top = feats.sort_values("revenue_12m", ascending=False).head(int(round(0.15 * len(feats))))
    est = a.set_index(["rule_set", "cutoff", "metric"]).loc[
        ("size_only", "2024-01-01", "precision_at_k"), "estimate"
    ]
    assert est == pytest.approx(top["grew"].mean())
    counted = growth.backtest(
        sample_dataset, {"size_only": size_rule}, ["2024-01-01"], k=10, n_boot=20
    )
    assert (counted["n_selected"] == 10).all()
    with pytest.raises(ValueError, match="runs past the data's end"):
        growth.backtest(sample_dataset, rules, ["2024-06-01"], n_boot=10)


def test_summary_and_plots(sample_dataset, synthetic_frames):
    effects = growth.criteria_effects(synthetic_frames[0], CRITERIA, joint=True)
    table = growth.backtest(
        sample_dataset,
        {"size_only": size_rule, "planted": planted_rule},
        ["2023-01-01", "2024-01-01"],
        n_boot=100,
    )
    text = growth.summarise(effects, table)
    assert "growth potential" in text and "size_only" in text and "planted" in text
    assert "95 % CI" in text and "Across 2 cutoffs" in text
    delta = table.query(
        "rule_set == 'planted' and cutoff == 'pooled' and metric == 'delta_precision_at_k'"
    ).iloc[0]
    assert f"{delta['estimate']:+.2f}" in text
    for ax in (growth.plot_effects(effects), growth.plot_backtest(table, "precision_at_k")):
        assert isinstance(ax, plt.Axes)
    imp = pd.DataFrame(
        {"importance": [0.2, 0.1], "ci_low": [0.1, 0.0], "ci_high": [0.3, 0.2]}, index=["a", "b"]
    )
    assert isinstance(growth.plot_importance(imp), plt.Axes)
    plt.close("all")
