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

from kamlab import fmt, growth, synth
from kamlab.data import Dataset
from kamlab.features import account_features, feature_panel
from kamlab.growth.backtest import _spearman_weighted

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


def two_years_back(cutoff: pd.Timestamp) -> list[pd.Timestamp]:
    """Training cutoffs one horizon and one horizon plus half a year before ``cutoff``."""
    return [cutoff - pd.Timedelta(days=365 + i * 182) for i in range(2)]


# The power study over 25 synthetic portfolios: slow tier, on one xdist worker (built once).
SEED_SWEEP = pytest.mark.xdist_group("growth_seeds")


def _synthetic_frame(seed):
    return account_features(_dataset(synth.generate(N_ACCOUNTS, 3, seed=seed)), CUTOFF, 365)


@pytest.fixture(scope="session")
def synthetic_frames():
    """Features at mid-history (3 years from 2022-01-01, cutoff 2023-07-01, horizon 365) for
    every seed."""
    return {seed: _synthetic_frame(seed) for seed in SEEDS}


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
    result = growth.criteria_effects(d, ["x"], "y")
    effects = result.table
    slope = np.cov(d["x"], d["y"])[0, 1] / d["x"].var()
    assert effects.loc["x", "coef"] == pytest.approx(slope * d["x"].std(), rel=1e-10)
    # HC3 errors, as statsmodels computes them on the standardised regressor.
    z = (d["x"] - d["x"].mean()) / d["x"].std()
    ref = sm.OLS(d["y"], sm.add_constant(z)).fit(cov_type="HC3")
    assert effects.loc["x", "std_error"] == pytest.approx(ref.bse["x"], rel=1e-10)
    assert effects.loc["x", "p_value"] == pytest.approx(ref.pvalues["x"], rel=1e-8)
    assert effects.loc["x", "ci_low"] < effects.loc["x", "coef"] < effects.loc["x", "ci_high"]
    assert result.model == "ols" and result.cov_type == "HC3" and result.view == "univariate"
    assert list(effects.columns[:8]) == list(growth.EFFECT_COLUMNS)
    assert effects.attrs == {}


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
    effects = growth.criteria_effects(frame, list("abcdef"), "y").table
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
    assert uni.controls == ("industry_b", "industry_c", "log_revenue_12m")
    assert joint.view == "joint" and "vif" in joint.table
    assert joint.table["vif"].between(1, 1.2).all()
    assert uni.table.loc["x", "coef"] == pytest.approx(joint.table.loc["x", "coef"], rel=0.05)
    clustered = growth.criteria_effects(d, ["x"], "y", cluster="manager")
    assert clustered.cov_type == "cluster" and clustered.cluster == "manager"
    assert clustered.table.loc["x", "coef"] == pytest.approx(uni.table.loc["x", "coef"], rel=0.05)
    assert clustered.table.loc["x", "std_error"] != pytest.approx(
        growth.criteria_effects(d, ["x"], "y").table.loc["x", "std_error"]
    )


def test_logit_for_binary_outcome(linear_frame):
    result = growth.criteria_effects(linear_frame, ["x", "other"], "grew")
    effects = result.table
    assert result.model == "logit" and result.cov_type == "HC0"
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
    assert effects.sample == growth.SampleReport(
        n_input=200,
        dropped_outcome=5,
        dropped_criteria=5,
        dropped_controls=1,
        dropped_cluster=0,
        n_used=189,
    )
    assert (effects.table["n"] == 189).all()


def test_constant_criterion_is_skipped_with_a_note_and_errors_are_clear(linear_frame):
    d = linear_frame.assign(flat=3.0)
    effects = growth.criteria_effects(d, ["x", "flat"], "y").table
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
    assert (vif["n"] == len(d)).all()
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        growth.variance_inflation(d, ["x", "other"])


@pytest.mark.slow
@SEED_SWEEP
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
        hits = eff.table["q_value"] < 0.05
        found.append(hits)
        fdp.append(hits[NOISE].sum() / max(1, hits.sum()))
        uni = growth.criteria_effects(
            frame,
            CRITERIA,
            "log_growth",
            controls=["industry", "region"],
            size_control="revenue_12m",
        )
        found_uni.append(uni.table["q_value"] < 0.05)
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


def _effects(outcome, coef, q, view="univariate"):
    table = pd.DataFrame(
        {"coef": coef, "q_value": q}, index=pd.Index(list("abcdef"), name="criterion")
    )
    report = growth.SampleReport(10, 0, 0, 0, 0, 10)
    return growth.Effects(table, outcome, "ols", view, "HC3", (), None, 0.05, report)


def test_verdicts_reconcile_the_two_models_exactly():
    lg = _effects(
        "log_growth", [0.2, 0.2, 0.01, 0.3, 0.02, np.nan], [0.001, 0.01, 0.5, 0.02, 0.7, np.nan]
    )
    grew = _effects("grew", [0.5, 0.01, 0.4, -0.6, 0.1, 0.2], [1e-4, 0.3, 0.03, 0.01, 0.9, 0.6])
    table = growth.verdicts(lg, grew)
    assert table["verdict"].astype(str).to_dict() == {
        "a": "credible on both",
        "b": "credible on log growth only",
        "c": "credible on grew only",
        "d": "opposite directions",
        "e": "not credible",
        "f": "not estimated",
    }
    assert list(table.columns) == [
        "coef_log_growth",
        "q_log_growth",
        "coef_grew",
        "q_grew",
        "verdict",
    ]
    text = growth.describe_verdicts(table)
    assert text.startswith("Of the 6 criteria, a is credible on both log growth and grew")
    assert "B is credible on log growth only" in text and "C is credible on grew only" in text
    assert "opposite signs" in text and "Not estimated: f." in text
    with pytest.raises(ValueError, match="same view"):
        growth.verdicts(lg, _effects("grew", [0.1] * 6, [0.5] * 6, view="joint"))


@pytest.mark.slow
@SEED_SWEEP
def test_verdicts_on_planted_truth(synthetic_frames):
    """growth_potential drives log growth and so whether an account grows: credible on both;
    the noise criteria are credible on neither in this seed."""
    frame = synthetic_frames[0]
    kw = dict(controls=["industry", "region"], size_control="revenue_12m")
    table = growth.verdicts(
        growth.criteria_effects(frame, CRITERIA, "log_growth", **kw),
        growth.criteria_effects(frame, CRITERIA, "grew", **kw),
    )
    verdict = table["verdict"].astype(str)
    assert verdict["score_growth_potential"] == "credible on both", table
    assert table.index[0] in DRIVERS  # strongest verdict first
    independent = [c for c in NOISE if c != "score_market_influence"]
    assert (verdict[independent] == "not credible").all(), table


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
    result = growth.time_split_cv(sample_panel, feature_columns=FEATURES, outcome="growth_dh")
    cv = result.table
    # cutoff_train + 365 <= cutoff_test: 2023-01-01 and 2023-07-01 have no such earlier cutoff
    # (2022-10-01 + 365 days = 2023-10-01), so the only fold tests 2024-01-01.
    assert cv["test_cutoff"].tolist() == ["2024-01-01", "2024-01-01"]
    assert cv["train_cutoffs"].iloc[0] == "2022-10-01..2023-01-01 (2)"
    assert set(cv["model"]) == {"ridge", "hgb"} and {"r2", "spearman"} <= set(cv.columns)
    assert (result.outcome, result.horizon_days) == ("growth_dh", 365)
    assert result.dropped_missing_outcome == int(
        sample_panel.loc[["2022-10-01", "2023-01-01", "2024-01-01"], "growth_dh"].isna().sum()
    )
    again = growth.time_split_cv(sample_panel, feature_columns=FEATURES, outcome="growth_dh")
    pd.testing.assert_frame_equal(cv, again.table)
    # A 180-day rule (as for a panel built with horizon 180) admits 2023-07-01 as a test cutoff.
    shorter = growth.time_split_cv(
        sample_panel,
        feature_columns=FEATURES,
        outcome="growth_dh",
        horizon_days=180,
        models=("ridge",),
    ).table
    assert shorter["test_cutoff"].tolist() == ["2023-07-01", "2024-01-01"]
    assert shorter["train_cutoffs"].tolist() == [
        "2022-10-01..2023-01-01 (2)",
        "2022-10-01..2023-07-01 (3)",
    ]
    with pytest.raises(ValueError, match="at least 365 days"):
        growth.time_split_cv(sample_panel, ["2023-07-01", "2024-01-01"], feature_columns=FEATURES)


def test_time_split_cv_classification_and_importance(sample_panel):
    cv = growth.time_split_cv(
        sample_panel, feature_columns=FEATURES, outcome="grew", models=("ridge",)
    ).table
    assert cv["auc"].between(0.5, 1).all()
    result = growth.permutation_importance_table(
        sample_panel, feature_columns=FEATURES, outcome="growth_dh", n_repeats=5
    )
    imp = result.table
    assert result.train_cutoffs == ("2022-10-01", "2023-01-01")
    assert (result.test_cutoff, result.scoring, result.model) == ("2024-01-01", "r2", "ridge")
    assert set(imp.index) == set(FEATURES)
    # revenue_growth_12m has no value before 2023-01-01 (the data start in 2022): unused, last.
    assert imp.index[-1] == "revenue_growth_12m" and imp.iloc[-1].isna().all()
    used = imp.iloc[:-1]
    assert ((used["ci_low"] <= used["importance"]) & (used["importance"] <= used["ci_high"])).all()
    again = growth.permutation_importance_table(
        sample_panel, feature_columns=FEATURES, outcome="growth_dh", n_repeats=5
    )
    pd.testing.assert_frame_equal(imp, again.table)


def test_learned_scorer_uses_only_data_before_the_cutoff(sample_dataset):
    cutoff = pd.Timestamp("2024-01-01")
    feats = account_features(sample_dataset, cutoff, 365)
    scorer = growth.LearnedScorer(FEATURES, two_years_back)
    train = scorer.training_dates(cutoff, sample_dataset.start)
    assert [d.date().isoformat() for d in train] == ["2022-07-03", "2023-01-01"]
    ds = sample_dataset
    cut = Dataset(
        accounts=ds.accounts.assign(
            churned_on=ds.accounts["churned_on"].where(ds.accounts["churned_on"] < cutoff)
        ),
        transactions=ds.transactions[ds.transactions["date"] < cutoff],
        assessments=ds.assessments[ds.assessments["assessed_on"] < cutoff],
        interactions=ds.interactions[ds.interactions["date"] < cutoff],
    )
    scores = scorer.score(feats, cutoff, dataset=sample_dataset)
    pd.testing.assert_series_equal(scores, scorer.score(feats, cutoff, dataset=cut))
    # A precomputed panel gives the same scores; a panel without the training dates is refused.
    panel = feature_panel(sample_dataset, train, 365)
    pd.testing.assert_series_equal(scores, scorer.score(feats, cutoff, panel=panel))
    with pytest.raises(ValueError, match="cutoffs not in the panel"):
        scorer.score(feats, cutoff, panel=panel.loc[["2023-01-01"]])
    with pytest.raises(growth.InsufficientHistory):
        scorer.score(account_features(sample_dataset, "2022-07-01", 365), "2022-07-01",
                     dataset=sample_dataset)  # fmt: skip
    leaky = growth.LearnedScorer(FEATURES, lambda c: [c - pd.Timedelta(days=100)])
    with pytest.raises(ValueError, match="end after the cutoff 2024-01-01"):
        leaky.score(feats, cutoff, dataset=sample_dataset)


def test_expected_gain_turns_growth_into_revenue():
    growth_dh = pd.Series({"a": 0.5, "b": -2.0, "c": 1.999, "d": 0.4, "e": np.nan})
    base = pd.Series({"a": 1200.0, "b": 500.0, "c": 10.0, "d": 0.0, "e": 100.0})
    gain = growth.expected_gain(growth_dh, base)
    # F = B (2 + g) / (2 − g): a → 2000 (gain 800), b → 0 (gain −500), c clipped at 1.98.
    assert gain["a"] == pytest.approx(800.0, abs=1e-9)
    assert gain["b"] == pytest.approx(-500.0, abs=1e-9)
    assert gain["c"] == pytest.approx(10 * 2 * 1.98 / 0.02, rel=1e-12)
    assert gain[["d", "e"]].isna().all()  # no base revenue to grow from; no prediction
    logs = growth.expected_gain(pd.Series([np.log(1.5)]), pd.Series([200.0]), outcome="log_growth")
    assert logs.iloc[0] == pytest.approx(100.0, rel=1e-12)
    with pytest.raises(ValueError, match="outcome must be"):
        growth.expected_gain(growth_dh, base, outcome="grew")


# ---------------------------------------------------------------------------------- back-test
def test_weighted_spearman_equals_spearman_of_the_resampled_data():
    from scipy.stats import spearmanr

    rng = np.random.default_rng(4)
    score = rng.integers(0, 6, 40).astype(float)  # many ties
    y = np.round(rng.normal(size=40), 1)
    W = np.vstack([np.ones(40, dtype=np.int64), rng.multinomial(40, np.ones(40) / 40, 30)])
    W[5, :] = 0
    W[5, 3] = 40  # one account drawn 40 times: no variation, NaN
    got = _spearman_weighted(score, y, W)
    for b in range(W.shape[0]):
        s, v = np.repeat(score, W[b]), np.repeat(y, W[b])
        if np.ptp(s) > 0 and np.ptp(v) > 0:
            assert got[b] == pytest.approx(spearmanr(s, v).statistic, abs=1e-12), b
        else:
            assert np.isnan(got[b]), b
    assert np.isnan(got[5])


def test_planted_rule_beats_size_only_in_backtest(synthetic_dataset):
    result = growth.backtest(
        synthetic_dataset,
        {"size_only": size_rule, "planted_drivers": planted_rule},
        ["2023-01-01", "2023-07-01", "2024-01-01"],
        n_boot=300,
        min_tenure_days=365,
    )
    table = result.table
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
    text = growth.describe_backtest(result)
    assert text.startswith("planted_drivers beats size_only on precision at k (pooled over")


def test_backtest_table_shape_determinism_and_guards(sample_dataset):
    rules = {
        "size_only": size_rule,
        "planted": planted_rule,
        "learned": growth.LearnedScorer(FEATURES, two_years_back),
    }
    cutoffs = ["2023-01-01", "2024-01-01"]
    a = growth.backtest(sample_dataset, rules, cutoffs, n_boot=50, random_state=1)
    b = growth.backtest(sample_dataset, rules, cutoffs, n_boot=50, random_state=1)
    pd.testing.assert_frame_equal(a.table, b.table)
    c = growth.backtest(sample_dataset, rules, cutoffs, n_boot=50, random_state=2)
    assert not np.allclose(a.table["ci_low"].fillna(0), c.table["ci_low"].fillna(0))
    np.testing.assert_allclose(a.table["estimate"], c.table["estimate"])  # no resampling
    assert list(a.table.columns) == [
        "rule_set",
        "cutoff",
        "metric",
        "estimate",
        "ci_low",
        "ci_high",
        "n_accounts",
        "n_selected",
    ]
    assert set(a.table["metric"]) == set(growth.BACKTEST_METRICS) | {
        "delta_precision_at_k",
        "delta_lift",
        "delta_mean_growth_dh_selected",
        "delta_spearman_growth_dh",
    }
    assert a.skipped[["rule_set", "cutoff"]].values.tolist() == [["learned", "2023-01-01"]]
    assert set(a.table.loc[a.table["rule_set"] == "learned", "cutoff"]) == {"2024-01-01"}
    assert (a.cutoffs, a.baseline, a.k, a.horizon_days) == (
        ("2023-01-01", "2024-01-01"),
        "size_only",
        0.15,
        365,
    )
    sizes = a.table[(a.table["metric"] == "precision_at_k") & (a.table["cutoff"] != "pooled")]
    # The list is as long as the key cap allows (floored, as the tiers are): 244 → 36, not 37.
    assert (sizes["n_selected"] == np.floor(0.15 * sizes["n_accounts"] + 1e-9)).all()
    assert sizes.loc[sizes["cutoff"] == "2024-01-01", "n_accounts"].tolist()[0] == 244
    assert sizes.loc[sizes["cutoff"] == "2024-01-01", "n_selected"].tolist()[0] == 36
    # Size-only at one cutoff: precision@k is the share of the top revenue accounts that grew.
    feats = account_features(sample_dataset, "2024-01-01", 365)
    top = feats.sort_values("revenue_12m", ascending=False).head(36)
    est = a.table.set_index(["rule_set", "cutoff", "metric"]).loc[
        ("size_only", "2024-01-01", "precision_at_k"), "estimate"
    ]
    assert est == pytest.approx(top["grew"].mean())
    summary = a.summary(["precision_at_k", "lift"])
    assert summary.index.tolist() == ["size_only", "planted", "learned"]
    # learned scored at one cutoff only: no pooled value to put beside the others.
    assert np.isnan(summary.loc["learned", "precision_at_k"])
    at_2024 = a.summary(["precision_at_k"], cutoff="2024-01-01")["precision_at_k"]
    assert at_2024["size_only"] == pytest.approx(top["grew"].mean())
    rules_only = a.without("learned")
    assert (
        set(rules_only.table["rule_set"]) == {"size_only", "planted"} and rules_only.skipped.empty
    )
    counted = growth.backtest(
        sample_dataset, {"size_only": size_rule}, ["2024-01-01"], k=10, n_boot=20
    )
    assert (counted.table["n_selected"] == 10).all()
    with pytest.raises(ValueError, match="runs past the data's end"):
        growth.backtest(sample_dataset, rules, ["2024-06-01"], n_boot=10)


def test_backtest_builds_one_panel_or_takes_one(sample_dataset, monkeypatch):
    import kamlab.features as features_module

    rules = {"size_only": size_rule, "learned": growth.LearnedScorer(FEATURES, two_years_back)}
    cutoffs = ["2023-07-01", "2024-01-01"]
    calls = {"panel": [], "features": 0}
    real_panel, real_features = features_module.feature_panel, features_module.account_features

    def panel_spy(dataset, dates, *args, **kwargs):
        calls["panel"].append([pd.Timestamp(d).date().isoformat() for d in dates])
        return real_panel(dataset, dates, *args, **kwargs)

    def features_spy(*args, **kwargs):
        calls["features"] += 1
        return real_features(*args, **kwargs)

    monkeypatch.setattr(features_module, "feature_panel", panel_spy)
    built = growth.backtest(sample_dataset, rules, cutoffs, n_boot=20)
    # One panel for the two evaluation cutoffs and every training cutoff after the data start.
    dates = ["2022-07-01", "2022-07-03", "2023-01-01", "2023-07-01", "2024-01-01"]
    assert calls["panel"] == [dates]  # 2022-01-01 (training for 2023-07-01) has no history
    monkeypatch.setattr(features_module, "feature_panel", real_panel)
    panel = feature_panel(sample_dataset, dates, 365)
    monkeypatch.setattr(features_module, "account_features", features_spy)
    given = growth.backtest(sample_dataset, rules, cutoffs, n_boot=20, panel=panel)
    assert calls["features"] == 0  # nothing recomputed
    pd.testing.assert_frame_equal(built.table, given.table)
    with pytest.raises(ValueError, match="cutoffs not in the panel"):
        growth.backtest(sample_dataset, rules, cutoffs, n_boot=5, panel=panel.loc[["2024-01-01"]])


def test_describe_and_plots(sample_dataset):
    frame = _synthetic_frame(SEEDS[0])
    effects = growth.criteria_effects(frame, CRITERIA, joint=True)
    grew = growth.criteria_effects(frame, CRITERIA, "grew", joint=True)
    result = growth.backtest(
        sample_dataset,
        {"size_only": size_rule, "planted": planted_rule},
        ["2023-01-01", "2024-01-01"],
        n_boot=100,
    )
    text = growth.describe_growth(growth.verdicts(effects, grew), result)
    assert "growth potential is credible on both log growth and grew" in text
    assert "size_only" in text and "planted" in text and "95 % CI" in text
    assert "Across 2 cutoffs" in text and "best" not in text
    delta = result.table.query(
        "rule_set == 'planted' and cutoff == 'pooled' and metric == 'delta_precision_at_k'"
    ).iloc[0]
    from kamlab import fmt

    assert fmt.signed(delta["estimate"], 3) in text
    ax = growth.plot_effects(effects)
    assert ax.get_title() == "Effect on log growth (joint view)" and ax.get_ylabel() == "criterion"
    ax = growth.plot_backtest(result, "precision_at_k")
    assert [t.get_text() for t in ax.get_legend().get_texts()] == ["size_only", "planted"]
    assert ax.get_xlabel() == "cutoff (date)" and ax.get_ylabel() and ax.get_title()
    imp = growth.Importance(
        pd.DataFrame(
            {"importance": [0.2, 0.1], "ci_low": [0.1, 0.0], "ci_high": [0.3, 0.2]},
            index=["a", "b"],
        ),
        "2024-01-01",
        ("2023-01-01",),
        "r2",
        "ridge",
        0.3,
        100,
    )
    ax = growth.plot_importance(imp)
    assert len(ax.patches) == 2 and ax.get_title() == "Permutation importance on 2024-01-01 (ridge)"
    plt.close("all")


def test_describe_backtest_says_no_scorer_is_better_when_the_interval_includes_zero():
    """No "best" for a difference whose interval includes zero; the baseline's value beside
    a scorer is taken over the cutoffs that scorer was scored at."""
    rows = [
        ("size_only", "2023-01-01", "precision_at_k", 0.20, 0.15, 0.25),
        ("size_only", "2024-01-01", "precision_at_k", 0.40, 0.35, 0.45),
        ("size_only", "pooled", "precision_at_k", 0.30, 0.25, 0.35),
        ("rules", "2023-01-01", "precision_at_k", 0.25, 0.18, 0.31),
        ("rules", "2024-01-01", "precision_at_k", 0.41, 0.34, 0.47),
        ("rules", "pooled", "precision_at_k", 0.33, 0.27, 0.39),
        ("rules", "2023-01-01", "delta_precision_at_k", 0.05, -0.02, 0.12),
        ("rules", "2024-01-01", "delta_precision_at_k", 0.01, -0.06, 0.08),
        ("rules", "pooled", "delta_precision_at_k", 0.03, -0.03, 0.07),
        ("learned", "2024-01-01", "precision_at_k", 0.44, 0.37, 0.50),  # one cutoff only
        ("learned", "2024-01-01", "delta_precision_at_k", 0.04, -0.01, 0.09),
    ]
    table = pd.DataFrame(
        rows, columns=["rule_set", "cutoff", "metric", "estimate", "ci_low", "ci_high"]
    )
    skipped = pd.DataFrame([("learned", "2023-01-01", "no history")],
                           columns=["rule_set", "cutoff", "reason"])  # fmt: skip
    result = growth.Backtest(table, 365, 0.15, 0.1, 500, "size_only", 0.05, 0,
                             ("2023-01-01", "2024-01-01"), skipped)  # fmt: skip
    text = growth.describe_backtest(result)
    # learned has the largest paired difference (+0.04 at its one cutoff) and is compared with
    # size_only at that cutoff (0.4), not with size_only pooled over both (0.3).
    assert text == (
        "No scorer is credibly better than size_only on precision at k: the largest "
        "difference, learned (at 2024-01-01), has 0.44 (95 % CI 0.37 to 0.5) against 0.4, a "
        "difference of +0.04 (95 % CI -0.01 to +0.09), an interval that includes zero. "
        "learned was not scored at 2023-01-01: no history."
    )
    rules_only = growth.describe_backtest(result.without("learned"))
    assert rules_only.startswith(
        "No scorer is credibly better than size_only on precision at k: the largest "
        "difference, rules (pooled over the 2 cutoffs it was scored at), has 0.33 (95 % CI "
        "0.27 to 0.39) against 0.3, a difference of +0.03"
    )
    assert (
        "Across 2 cutoffs rules scored above size_only at 2 (with an interval excluding "
        "zero at 0)" in rules_only
    )
    assert "best" not in text + rules_only


# --------------------------------------------------------------------------------- notebook 04
def test_out_of_time_runs_both_checks_or_says_why_not(sample_panel):
    result = growth.out_of_time(
        sample_panel,
        ["2022-10-01", "2023-01-01", "2024-01-01"],
        feature_columns=FEATURES,
        models=("ridge",),
        n_repeats=5,
    )
    assert result.skipped is None
    assert result.table["test_cutoff"].tolist() == ["2024-01-01"]
    assert result.table["train_cutoffs"].tolist() == ["2022-10-01..2023-01-01 (2)"]
    assert result.importance.test_cutoff == "2024-01-01"
    assert result.importance.train_cutoffs == ("2022-10-01", "2023-01-01")
    short = growth.out_of_time(sample_panel, ["2023-07-01", "2024-01-01"], feature_columns=FEATURES)
    assert (short.cv, short.importance) == (None, None)
    assert short.skipped == (
        "no cutoff has an earlier one at least 365 days before it, so no model can learn from "
        "growth observed in full before the cutoff it is tested on"
    )
    assert short.table.empty and "test_cutoff" in short.table
    assert growth.describe_out_of_time(short) == (
        f"Skipped: {short.skipped}. The data offer 2 cutoffs with a complete outcome window "
        "(2023-07-01, 2024-01-01); this check needs a longer history."
    )
    text = growth.describe_out_of_time(result)
    r2 = result.table["r2"].iloc[0]
    assert text.startswith(
        "Trained on the 2 cutoffs 2022-10-01 to 2023-01-01 and tested on 2024-01-01 (244 "
        "accounts), "
        f"ridge regression R² {fmt.estimate(r2, 2)}"
    )
    with pytest.raises(growth.InsufficientHistory):
        growth.time_split_cv(sample_panel, ["2024-01-01"], feature_columns=FEATURES)


def test_analysis_cutoffs_are_every_date_the_growth_analysis_reads():
    from kamlab.timeline import Timeline

    tl = Timeline.from_data("2022-01-01", "2024-12-31")
    got = [c.date().isoformat() for c in growth.analysis_cutoffs(tl)]
    # training cutoffs of as_of (quarterly from 2023-01-01 to 2024-01-01), the back-test grid
    # (2023-01-01, 2023-07-01, 2024-01-01) and its training cutoffs (2023-01-01 for 2024-01-01).
    assert got == ["2023-01-01", "2023-04-01", "2023-07-01", "2023-10-01", "2024-01-01"]
    short = Timeline.from_data("2010-12-01", "2011-12-09")
    assert [c.date().isoformat() for c in growth.analysis_cutoffs(short)] == [
        "2011-03-01",
        "2011-04-01",
        "2011-06-01",
    ]


def test_usable_cluster_needs_the_column_and_enough_clusters(linear_frame):
    assert growth.usable_cluster(linear_frame, "manager") == "manager"
    assert growth.usable_cluster(linear_frame, "manager", min_clusters=13) is None
    assert growth.usable_cluster(linear_frame) is None  # no account_manager column


def test_backtest_min_tenure_auto_counts_whole_days(sample_dataset):
    rules = {"size_only": size_rule}
    auto = growth.backtest(sample_dataset, rules, ["2023-01-01"], n_boot=5, min_tenure_days="auto")
    # The data start on 2022-01-01: 365 days of history before the first cutoff.
    assert auto.min_tenure_days == 365
    feats = account_features(sample_dataset, "2023-01-01", 365)
    eligible = int((np.ceil(feats["tenure_days"]) >= 365).sum())
    assert auto.table["n_accounts"].iloc[0] == eligible < len(feats)
    # A first purchase at 08:26 on the data's first day still counts as a full day of history.
    panel = feats.assign(tenure_days=np.where(feats.index == feats.index[0], 364.65, 400.0))
    panel.index = pd.MultiIndex.from_product(
        [[pd.Timestamp("2023-01-01")], feats.index], names=["cutoff", "account_id"]
    )
    kept = growth.backtest(
        sample_dataset, rules, ["2023-01-01"], n_boot=5, min_tenure_days=365, panel=panel
    )
    assert kept.table["n_accounts"].iloc[0] == len(feats)
    with pytest.raises(ValueError, match="'auto'"):
        growth.backtest(sample_dataset, rules, ["2023-01-01"], n_boot=5, min_tenure_days="all")


def test_backtest_records_the_lists_and_reads_for_people(sample_dataset):
    from kamlab.criteria import load_rule_set, score_accounts

    scorers = {
        "size_only": load_rule_set("size_only"),
        "seed_weighted": load_rule_set("seed_weighted"),
    }
    bt = growth.backtest(sample_dataset, scorers, ["2024-01-01"], n_boot=50, random_state=3)
    feats = account_features(sample_dataset, "2024-01-01", 365)
    for name, rule in scorers.items():
        listed = bt.selected.loc[bt.selected["rule_set"] == name, "account_id"].tolist()
        assert (
            listed == score_accounts(feats, rule).designated.tolist()
        )  # the key list, in rank order
    shared = len(set(score_accounts(feats, "size_only").designated)
                 & set(score_accounts(feats, "seed_weighted").designated))  # fmt: skip
    assert bt.overlap("seed_weighted", "size_only") == shared == 17
    rows = bt.intervals(["precision_at_k", "mean_growth_dh_selected", "delta_precision_at_k"])
    assert rows.columns.tolist() == [
        "rule_set", "metric", "measure", "unit", "estimate", "ci_low", "ci_high", "n_selected",
    ]  # fmt: skip
    assert rows[["rule_set", "metric", "unit"]].values.tolist() == [
        ["size_only", "precision_at_k", "share"],
        ["size_only", "mean_growth_dh_selected", "growth"],
        ["seed_weighted", "precision_at_k", "share"],
        ["seed_weighted", "mean_growth_dh_selected", "growth"],
        ["seed_weighted", "delta_precision_at_k", "share"],
    ]
    assert rows["measure"].iloc[-1] == (
        "difference to size_only: share of the selected accounts that grew"
    )
    top = feats.loc[bt.selected.loc[bt.selected["rule_set"] == "size_only", "account_id"]]
    assert rows["estimate"].iloc[0] == pytest.approx(top["grew"].mean())
    text = growth.describe_selection(bt)
    assert text.startswith(
        "At 2024-01-01 the 36 accounts chosen by seed_weighted and the 36 chosen by size_only "
        "have 17 in common. Over the next 365 days "
    )
    assert "best" not in text
    assert bt.without("seed_weighted").selected["rule_set"].unique().tolist() == ["size_only"]


def test_describe_joint_reports_credible_effects_and_overlap(linear_frame):
    joint = growth.criteria_effects(linear_frame, ["x", "other"], "y", joint=True)
    coef = joint.table.loc["x", "coef"]
    text = growth.describe_joint(joint)
    assert text.startswith(
        f"Holding the other criteria fixed (one model, n = 200), x ({fmt.signed(coef, 3)}"
        " per SD, q < 0.001) keeps a credible effect on y; the other 1 does not (q ≥ 0.05)."
    )
    assert "The largest variance inflation factor is 1" in text
    with pytest.raises(ValueError, match="joint view"):
        growth.describe_joint(growth.criteria_effects(linear_frame, ["x"], "y"))
    # Collinear criteria: the joint table notes it (no warning on stderr) and the words say it.
    d = linear_frame.assign(
        x_copy=linear_frame["x"] + np.random.default_rng(1).normal(0, 0.1, len(linear_frame))
    )
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        both = growth.criteria_effects(d, ["x", "x_copy", "other"], "y", joint=True)
    assert both.table.loc["x", "note"].startswith("VIF ") and both.table.loc["other", "note"] == ""
    assert both.table.loc["x", "vif"] > 5
    assert (
        "Variance inflation above 5 for x and x copy: these criteria overlap"
        in growth.describe_joint(both)
    )


def test_cov_type_says_when_hc3_falls_back_to_hc1(linear_frame):
    # One account alone in its industry has leverage 1: HC3 divides by zero, HC1 is used and
    # the result says so (the report prints the estimator the fits used).
    d = linear_frame.copy()
    d.loc[d.index[0], "industry"] = "only_one"
    effects = growth.criteria_effects(d, ["x", "other"], "y", controls=["industry"])
    assert effects.cov_type == "HC1"
    assert (effects.table["note"] == "an account has leverage 1; HC1 errors instead of HC3").all()
    ref = sm.OLS(
        d["y"],
        pd.concat(
            [
                pd.Series(1.0, index=d.index, name="const"),
                ((d["x"] - d["x"].mean()) / d["x"].std()).rename("x"),
                pd.get_dummies(d["industry"], prefix="industry", drop_first=True, dtype=float),
            ],
            axis=1,
        ),
    ).fit(cov_type="HC1")
    assert effects.table.loc["x", "std_error"] == pytest.approx(ref.bse["x"], rel=1e-10)
    assert "Errors: HC1 (robust to unequal variances; HC3 is undefined" in growth.describe_design(
        effects, "2 criteria", ["industry"]
    )
    assert growth.criteria_effects(linear_frame, ["x"], "y").cov_type == "HC3"


def test_describe_backtest_calls_a_one_cutoff_win_a_hint():
    rows = [
        ("size_only", "2023-01-01", "precision_at_k", 0.30, 0.2, 0.4),
        ("size_only", "2024-01-01", "precision_at_k", 0.32, 0.2, 0.45),
        ("size_only", "pooled", "precision_at_k", 0.31, 0.22, 0.4),
        ("learned", "2024-01-01", "precision_at_k", 0.58, 0.4, 0.76),
        ("learned", "2024-01-01", "delta_precision_at_k", 0.26, 0.02, 0.48),
    ]
    table = pd.DataFrame(
        rows, columns=["rule_set", "cutoff", "metric", "estimate", "ci_low", "ci_high"]
    )
    skipped = pd.DataFrame([("learned", "2023-01-01", "no history")],
                           columns=["rule_set", "cutoff", "reason"])  # fmt: skip
    result = growth.Backtest(table, 365, 0.15, 0.1, 500, "size_only", 0.05, 0,
                             ("2023-01-01", "2024-01-01"), skipped)  # fmt: skip
    assert growth.describe_backtest(result) == (
        "learned beats size_only on precision at k (at 2024-01-01): 0.58 (95 % CI 0.4 to "
        "0.76) against 0.32, a difference of +0.26 (95 % CI +0.02 to +0.48). That is one "
        "cutoff of 2: a hint, not a result replicated over time. learned was not scored at "
        "2023-01-01: no history."
    )
