"""Tests for kamlab.churn: sBG against Fader & Hardie (2007), survival wrappers, classifier."""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")

import numpy as np
import pandas as pd
import pytest

from kamlab import churn

SBG = Path(__file__).resolve().parents[2] / "shared" / "reference" / "sbg-retention" / "survival.csv"

PUBLISHED = {
    "regular": {"alpha": 0.704, "beta": 1.182, "ll": -1680.27},
    "high_end": {"alpha": 0.668, "beta": 3.806, "ll": -1611.16},
}


@pytest.fixture(scope="module")
def survival_table() -> pd.DataFrame:
    if not SBG.exists():
        pytest.skip(f"sBG reference table not found at {SBG} (see shared/reference/sbg-retention/README.md)")
    return pd.read_csv(SBG)


# ------------------------------------------------------------------ sBG


@pytest.mark.reference
@pytest.mark.parametrize("segment", ["regular", "high_end"])
def test_sbg_reproduces_fader_hardie_2007(survival_table, segment):
    calib = survival_table.loc[survival_table["year"] <= 7, segment]
    m = churn.ShiftedBetaGeometric().fit(calib)
    pub = PUBLISHED[segment]
    # published to 3 decimals: within half a unit of the last digit plus 0.5 % slack
    assert m.params_["alpha"] == pytest.approx(pub["alpha"], rel=0.005)
    assert m.params_["beta"] == pytest.approx(pub["beta"], rel=0.005)
    assert m.log_likelihood_ == pytest.approx(pub["ll"], abs=0.05)
    assert m.converged_ and np.all(m.standard_errors_ > 0)
    # projection of years 8..12; measured max abs error: regular 3.1, high_end 16.0 customers (of 1000)
    future = survival_table[survival_table["year"] >= 8]
    proj = m.expected_survivors(future["year"].to_numpy())
    err = np.abs(proj - future[segment].to_numpy())
    assert err.max() < {"regular": 5.0, "high_end": 20.0}[segment]
    # the model under-projects both segments a little (as in the paper's figures)
    assert np.all(proj < future[segment].to_numpy())


def test_sbg_survival_and_retention_formulas():
    m = churn.ShiftedBetaGeometric()
    m.params_ = pd.Series({"alpha": 0.704, "beta": 1.182})
    t = np.arange(0, 20)
    S = m.survival(t)
    assert S[0] == 1.0 and np.all(np.diff(S) < 0)
    np.testing.assert_allclose(m.retention_rate(t[1:]), S[1:] / S[:-1], rtol=1e-12)
    assert np.all(np.diff(m.retention_rate(t[1:])) > 0)  # retention rises with tenure
    # S(1) = beta / (alpha + beta)
    assert S[1] == pytest.approx(1.182 / (0.704 + 1.182))
    with pytest.raises(ValueError, match="t >= 1"):
        m.retention_rate(0)


@pytest.mark.parametrize("n", [0, 1, 4, 10])
@pytest.mark.parametrize("d", [0.05, 0.1, 0.2])
def test_sbg_derl_equals_truncated_sum(n, d):
    m = churn.ShiftedBetaGeometric()
    m.params_ = pd.Series({"alpha": 0.668, "beta": 3.806})
    k = np.arange(0, 5000)
    direct = np.sum(m.survival(n + 1 + k) / m.survival(n) * np.exp(-k * np.log1p(d)))
    assert m.expected_residual_lifetime(d, periods_survived=n) == pytest.approx(direct, rel=1e-9)


def test_sbg_derl_grows_with_tenure_and_guards():
    m = churn.ShiftedBetaGeometric()
    m.params_ = pd.Series({"alpha": 0.704, "beta": 1.182})
    derl = [m.expected_residual_lifetime(0.1, periods_survived=n) for n in range(6)]
    assert np.all(np.diff(derl) > 0)
    with pytest.raises(ValueError, match="discount_rate must be > 0"):
        m.expected_residual_lifetime(0.0)
    with pytest.raises(ValueError, match="non-negative integer"):
        m.expected_residual_lifetime(0.1, periods_survived=-1)


def test_sbg_recovers_planted_parameters():
    rng = np.random.default_rng(21)
    alpha, beta, n = 1.2, 2.5, 50_000
    theta = rng.beta(alpha, beta, n)
    lifetime = rng.geometric(theta)  # period of churn, 1, 2, ...
    survivors = np.array([(lifetime > t).sum() for t in range(0, 9)])
    m = churn.ShiftedBetaGeometric().fit(survivors)
    for name, v in {"alpha": alpha, "beta": beta}.items():
        assert abs(m.params_[name] - v) < 4 * m.standard_errors_[name], (name, m.params_[name])


def test_sbg_guards():
    with pytest.raises(ValueError, match="must not increase.*period 2"):
        churn.ShiftedBetaGeometric().fit([100, 80, 90])
    with pytest.raises(ValueError, match="at least two periods"):
        churn.ShiftedBetaGeometric().fit([100])
    with pytest.raises(ValueError, match="non-negative"):
        churn.ShiftedBetaGeometric().fit([100, -1])
    with pytest.raises(ValueError, match="missing"):
        churn.ShiftedBetaGeometric().fit([100, np.nan])
    with pytest.raises(RuntimeError, match="not fitted"):
        churn.ShiftedBetaGeometric().survival(1)


# ------------------------------------------------------------------ Kaplan-Meier, log-rank, Cox


def test_kaplan_meier_hand_table():
    # times 1 2 2+ 3 4+ 5 5 6+: S = 7/8, 7/8*6/7, *4/5, *1/3
    t = [1, 2, 2, 3, 4, 5, 5, 6]
    e = [1, 1, 0, 1, 0, 1, 1, 0]
    km = churn.kaplan_meier(t, e)
    assert list(km.columns) == ["group", "time", "survival", "ci_low", "ci_high", "n_at_risk", "n_events"]
    np.testing.assert_allclose(km["time"], [0, 1, 2, 3, 5])
    np.testing.assert_allclose(km["survival"], [1, 7 / 8, 6 / 8, 6 / 8 * 4 / 5, 6 / 8 * 4 / 5 / 3])
    assert list(km["n_at_risk"]) == [8, 8, 7, 5, 3] and list(km["n_events"]) == [0, 1, 1, 1, 2]
    assert (km["ci_low"] <= km["survival"]).all() and (km["survival"] <= km["ci_high"]).all()
    # Greenwood variance at t = 1: S^2 * 1/(8*7); log(-log) interval from it
    s, var = 7 / 8, (7 / 8) ** 2 / 56
    se_ll = np.sqrt(var) / (s * abs(np.log(s)))
    assert km.loc[1, "ci_low"] == pytest.approx(s ** np.exp(1.959964 * se_ll), rel=1e-5)


def test_kaplan_meier_groups_and_plot():
    t = [1, 2, 3, 1, 1, 2]
    e = [1, 1, 1, 1, 0, 1]
    km = churn.kaplan_meier(t, e, groups=["key", "key", "key", "regular", "regular", "regular"])
    assert set(km["group"]) == {"key", "regular"}
    reg = km[km["group"] == "regular"]
    np.testing.assert_allclose(reg["survival"], [1, 2 / 3, 0])
    ax = churn.plot_survival(km)
    assert isinstance(ax, matplotlib.axes.Axes) and len(ax.get_legend().get_texts()) == 2
    with pytest.raises(ValueError, match="0/1"):
        churn.kaplan_meier([1, 2], [1, 2])
    with pytest.raises(ValueError, match="negative duration"):
        churn.kaplan_meier([-1, 2], [1, 1])


def _exp_survival_data(n: int, seed: int, beta_x: float, beta_z: float) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    x = rng.integers(0, 2, n)
    z = rng.normal(size=n)
    hazard = 0.1 * np.exp(beta_x * x + beta_z * z)
    t_event = rng.exponential(1 / hazard)
    t_cens = rng.uniform(0, 20, n)
    return pd.DataFrame({"duration": np.minimum(t_event, t_cens), "churned": (t_event <= t_cens).astype(int),
                         "tier": np.where(x == 1, "key", "basic"), "x": x, "z": z})


def test_cox_recovers_planted_hazard_ratio():
    df = _exp_survival_data(3000, seed=8, beta_x=np.log(2.0), beta_z=0.5)
    tab = churn.cox_ph(df, "duration", "churned", ["x", "z"])
    assert list(tab.columns) == ["covariate", "coef", "std_error", "hazard_ratio", "ci_low", "ci_high", "p_value"]
    hr = tab.set_index("covariate")
    assert hr.loc["x", "hazard_ratio"] == pytest.approx(2.0, rel=0.15)
    assert hr.loc["x", "ci_low"] < 2.0 < hr.loc["x", "ci_high"]
    assert hr.loc["z", "coef"] == pytest.approx(0.5, abs=4 * hr.loc["z", "std_error"])
    assert (hr["p_value"] < 1e-6).all()
    # string covariate -> dummy with the first level dropped
    tab2 = churn.cox_ph(df, "duration", "churned", ["tier"])
    assert list(tab2["covariate"]) == ["tier_key"]
    assert tab2["hazard_ratio"].iloc[0] == pytest.approx(2.0, rel=0.2)
    with pytest.raises(ValueError, match=r"1 row\(s\) with missing values"):
        churn.cox_ph(df.assign(z=df["z"].where(df.index != 3)), "duration", "churned", ["z"])


def test_logrank():
    df = _exp_survival_data(600, seed=3, beta_x=np.log(3.0), beta_z=0.0)
    res = churn.logrank(df["duration"], df["churned"], df["tier"])
    assert res["df"] == 1 and res["p_value"] < 1e-6
    null = _exp_survival_data(600, seed=4, beta_x=0.0, beta_z=0.0)
    assert churn.logrank(null["duration"], null["churned"], null["tier"])["p_value"] > 0.01
    with pytest.raises(ValueError, match="at least two groups"):
        churn.logrank([1, 2], [1, 1], ["a", "a"])


# ------------------------------------------------------------------ classifier


def _churn_data(n: int, seed: int) -> tuple[pd.DataFrame, np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    X = pd.DataFrame({"tenure": rng.normal(size=n), "noise1": rng.normal(size=n), "noise2": rng.normal(size=n)})
    p = 1 / (1 + np.exp(-(-1.0 - 2.0 * X["tenure"].to_numpy())))  # churn driven by tenure only
    y = rng.binomial(1, p)
    X.loc[rng.random(n) < 0.05, "noise1"] = np.nan  # imputation path
    return X, y, p


@pytest.mark.parametrize("model", ["logistic", "hgb"])
def test_churn_classifier_recovers_signal(model):
    X, y, p_true = _churn_data(4000, seed=1)
    Xt, yt, pt = _churn_data(2000, seed=2)
    clf = churn.ChurnClassifier(model=model, random_state=0).fit(X, y)
    proba = clf.predict_proba(Xt)
    assert proba.shape == (2000, 2) and np.allclose(proba.sum(axis=1), 1)
    sc = churn.churn_scores(yt, proba)
    assert sc["roc_auc"] > 0.75
    assert sc["brier"] < sc["brier_baseline"]
    # close to the Brier score of the true probabilities
    oracle = np.mean((pt - yt) ** 2)
    assert sc["brier"] < oracle + 0.01
    assert set(clf.predict(Xt)) <= {0, 1}
    # seeded: same result twice
    again = churn.ChurnClassifier(model=model, random_state=0).fit(X, y).predict_proba(Xt)
    np.testing.assert_array_equal(proba, again)


def test_churn_scores_hand_values():
    y = [0, 0, 1, 1]
    p = [0.1, 0.4, 0.35, 0.8]
    sc = churn.churn_scores(y, p)
    assert sc["n"] == 4 and sc["base_rate"] == 0.5
    assert sc["brier"] == pytest.approx((0.01 + 0.16 + 0.4225 + 0.04) / 4)
    assert sc["roc_auc"] == pytest.approx(0.75)
    assert sc["brier_baseline"] == 0.25
    assert sc["log_loss"] == pytest.approx(-np.mean(np.log([0.9, 0.6, 0.35, 0.8])))
    with pytest.raises(ValueError, match=r"\[0, 1\]"):
        churn.churn_scores([0, 1], [0.2, 1.3])


def test_reliability_table_and_plot():
    rng = np.random.default_rng(0)
    p = rng.uniform(size=20_000)
    y = rng.binomial(1, p)
    tab = churn.reliability_table(y, p, n_bins=10)
    assert len(tab) == 10 and tab["n"].sum() == 20_000
    np.testing.assert_allclose(tab["observed_rate"], tab["mean_predicted"], atol=0.03)
    assert ((tab["ci_low"] <= tab["observed_rate"]) & (tab["observed_rate"] <= tab["ci_high"])).all()
    ax = churn.plot_reliability(tab)
    assert isinstance(ax, matplotlib.axes.Axes)


def test_churn_classifier_guards():
    X = pd.DataFrame({"a": [1.0, 2.0, 3.0, 4.0], "b": ["x", "y", "x", "y"]})
    with pytest.raises(ValueError, match=r"numeric features; encode \['b'\]"):
        churn.ChurnClassifier().fit(X, [0, 1, 0, 1])
    with pytest.raises(ValueError, match="exactly two classes"):
        churn.ChurnClassifier().fit(X[["a"]], [1, 1, 1, 1])
    with pytest.raises(ValueError, match="model must be"):
        churn.ChurnClassifier(model="svm", cv=2).fit(X[["a"]], [0, 1, 0, 1])
    with pytest.raises(RuntimeError, match="not fitted"):
        churn.ChurnClassifier().predict_proba(X[["a"]])
