"""Tests for kamlab.churn: survival wrappers, classifier, and the account tables behind them."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import numpy as np
import pandas as pd
import pytest

from kamlab import churn

# ------------------------------------------------------------------ Kaplan-Meier, log-rank, Cox


def test_kaplan_meier_hand_table():
    # times 1 2 2+ 3 4+ 5 5 6+: S = 7/8, 7/8*6/7, *4/5, *1/3
    t = [1, 2, 2, 3, 4, 5, 5, 6]
    e = [1, 1, 0, 1, 0, 1, 1, 0]
    km = churn.kaplan_meier(t, e)
    assert list(km.columns) == [
        "group",
        "time",
        "survival",
        "ci_low",
        "ci_high",
        "n_at_risk",
        "n_events",
    ]
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
    return pd.DataFrame(
        {
            "duration": np.minimum(t_event, t_cens),
            "churned": (t_event <= t_cens).astype(int),
            "tier": np.where(x == 1, "key", "basic"),
            "x": x,
            "z": z,
        }
    )


def test_cox_recovers_planted_hazard_ratio():
    df = _exp_survival_data(3000, seed=8, beta_x=np.log(2.0), beta_z=0.5)
    tab = churn.cox_ph(df, "duration", "churned", ["x", "z"])
    assert list(tab.columns) == [
        "covariate",
        "coef",
        "std_error",
        "hazard_ratio",
        "ci_low",
        "ci_high",
        "p_value",
    ]
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
    X = pd.DataFrame(
        {"tenure": rng.normal(size=n), "noise1": rng.normal(size=n), "noise2": rng.normal(size=n)}
    )
    p = 1 / (1 + np.exp(-(-1.0 - 2.0 * X["tenure"].to_numpy())))  # churn driven by tenure only
    y = rng.binomial(1, p)
    X.loc[rng.random(n) < 0.05, "noise1"] = np.nan  # imputation path
    return X, y, p


@pytest.mark.parametrize("model", ["logistic", "hgb"])
def test_churn_classifier_recovers_signal(model):
    X, y, _p_true = _churn_data(4000, seed=1)
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
    assert (
        (tab["ci_low"] <= tab["observed_rate"]) & (tab["observed_rate"] <= tab["ci_high"])
    ).all()
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


# ------------------------------------------------------------------ accounts -> cohorts, durations


def _accounts() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "account_id": ["C1", "C2", "C3", "D1", "D2", "D3"],
            "acquired_on": pd.to_datetime(
                ["2019-12-01", "2019-12-11", "2019-12-01", "2020-05-01", "2020-02-01", "2021-01-05"]
            ),
            "churned_on": pd.to_datetime(
                [None, "2020-03-20", "2020-06-01", "2021-03-01", "2020-05-01", None]
            ),
        }
    )


def test_renewal_survivors_hand_table():
    cohorts = churn.renewal_survivors(_accounts(), period_days=100, as_of="2020-12-31")
    tab = cohorts.table
    # 2019: renewals every 100 days from Dec 2019; the last member's 4th (2021-01-14) is after as_of.
    # C2 churns on its first renewal day (not renewed); C3 between the 1st and 2nd renewals.
    # 2020: D1's churn is after as_of (still alive); D3 was acquired after as_of (left out).
    expected = pd.DataFrame(
        {0: [3, 2], 1: [2, 1], 2: [1, 1], 3: [1, pd.NA]}, index=[2019, 2020], dtype="Int64"
    )
    pd.testing.assert_frame_equal(tab, expected, check_names=False, check_column_type=False)
    assert tab.index.name == "cohort" and cohorts.period_days == 100
    assert cohorts.n_accounts == {2019: 3, 2020: 2} and cohorts.as_of == "2020-12-31"
    # left truncation: counts before the first recorded churn date are not exact
    trunc = churn.renewal_survivors(
        _accounts(), 100, "2020-12-31", observed_from="2020-03-01"
    ).table
    assert trunc[0].isna().all()
    assert list(trunc.loc[2019, [1, 2, 3]]) == [2, 1, 1] and list(trunc.loc[2020, [1, 2]]) == [1, 1]
    # the default as_of is the latest date in the table (2021-03-01): D3 is then counted
    assert churn.renewal_survivors(_accounts(), 100).as_of == "2021-03-01"


def test_renewal_survivors_guards():
    acc = _accounts()
    with pytest.raises(ValueError, match="before 'acquired_on'"):
        churn.renewal_survivors(
            acc.assign(churned_on=pd.to_datetime("2019-01-01")), 100, "2020-12-31"
        )
    with pytest.raises(ValueError, match="no 'acquired_on'"):
        churn.renewal_survivors(acc.assign(acquired_on=pd.NaT), 100, "2020-12-31")
    with pytest.raises(ValueError, match="before observed_from"):
        churn.renewal_survivors(acc, 100, "2020-12-31", observed_from="2020-04-01")
    with pytest.raises(ValueError, match="positive whole number"):
        churn.renewal_survivors(acc, 0)
    with pytest.raises(ValueError, match="lacks column"):
        churn.renewal_survivors(acc.drop(columns="churned_on"))


def test_account_durations_hand_table():
    d = churn.account_durations(_accounts(), "2020-12-31")
    assert list(d.index) == ["C1", "C2", "C3", "D1", "D2"]
    assert list(d["duration_days"]) == [396, 100, 183, 244, 90]
    assert list(d["event"]) == [0, 1, 1, 0, 1]
    at_cutoff = churn.account_durations(_accounts(), "2020-12-31", start="2020-04-01")
    assert list(at_cutoff.index) == ["C1", "C3", "D2"]  # C2 left before, D1 joined after
    assert list(at_cutoff["duration_days"]) == [274, 61, 30] and list(at_cutoff["event"]) == [
        0,
        1,
        1,
    ]
    trunc = churn.account_durations(_accounts(), "2020-12-31", observed_from="2020-03-01")
    assert list(trunc["entry_days"]) == [91, 81, 91, 0, 29]
    km = churn.kaplan_meier(trunc["duration_days"], trunc["event"], entry=trunc["entry_days"])
    assert km["survival"].is_monotonic_decreasing and km.loc[0, "n_at_risk"] == 1
    with pytest.raises(ValueError, match="entry time"):
        churn.kaplan_meier([1, 2], [1, 1], entry=[0, 3])
    with pytest.raises(ValueError, match="must be before as_of"):
        churn.account_durations(_accounts(), "2020-01-01", start="2020-04-01")


def test_chi2_by_group_matches_hand_computation():
    from kamlab.churn import chi2_by_group

    # 2 groups x 2 outcomes: [[8, 2], [4, 6]] -> expected [[6, 4], [6, 4]]
    groups = ["a"] * 10 + ["b"] * 10
    events = [0] * 8 + [1] * 2 + [0] * 4 + [1] * 6
    result = chi2_by_group(events, groups)
    expected = (8 - 6) ** 2 / 6 + (2 - 4) ** 2 / 4 + (4 - 6) ** 2 / 6 + (6 - 4) ** 2 / 4
    assert result["statistic"] == pytest.approx(expected)
    assert result["df"] == 1
    with pytest.raises(ValueError, match="at least two groups"):
        chi2_by_group([0, 1], ["a", "a"])


# ------------------------------------------------------------------ the run's renewal cohorts


def test_renewal_cohorts_of_the_sample_blank_what_is_not_known(sample_dataset):
    from kamlab.timeline import Timeline

    cohorts = churn.renewal_cohorts(sample_dataset, Timeline.from_dataset(sample_dataset))
    assert cohorts.skipped is None and cohorts.as_of == "2024-12-31"
    assert cohorts.observed_from == "2022-01-01"
    table = cohorts.table
    assert table.shape == (10, 11)  # cohorts 2014-2023, renewals 0-10
    assert int(table.isna().to_numpy().sum()) == 82 and int(table.notna().to_numpy().sum()) == 28
    assert list(table.loc[2022, [0, 1, 2]]) == [40, 34, 31]
    assert list(table.loc[2014, [8, 9, 10]]) == [21, 20, 19]
    ax = churn.plot_renewal_cohorts(cohorts)
    assert len(ax.texts) == 28  # one label per known cell, blank cells stay blank
    assert sorted(int(t.get_text()) for t in ax.texts)[:3] == [14, 15, 18]
    image = ax.get_images()[0].get_array()
    assert int(image.mask.sum()) == 82
    assert image[0, 8] == 100 and image[0, 10] == pytest.approx(100 * 19 / 21)
    text = churn.describe_cohorts(cohorts)
    assert "300 accounts in 10 acquisition-year cohorts (2014 to 2023)" in text
    assert "28 of 110 cells are known" in text


def test_renewal_cohorts_say_why_they_are_missing():
    from types import SimpleNamespace

    from kamlab.timeline import Timeline

    timeline = Timeline.from_data("2020-01-01", "2021-06-30")
    plain = SimpleNamespace(
        accounts=pd.DataFrame({"account_id": ["A"], "acquired_on": ["2020-01-01"]})
    )
    skipped = churn.renewal_cohorts(plain, timeline)
    assert skipped.table.empty and "no acquisition and churn dates" in skipped.skipped
    assert churn.describe_cohorts(skipped).startswith("Renewal cohorts were not built")
    with pytest.raises(ValueError, match="no renewal cohorts to plot"):
        churn.plot_renewal_cohorts(skipped)
    # one renewal per cohort at most: nothing an sBG model could learn from
    young = SimpleNamespace(accounts=_accounts().iloc[3:5])  # acquired in 2020, not yet renewed
    result = churn.renewal_cohorts(young, Timeline.from_data("2020-01-01", "2020-12-31"), 365)
    assert result.table.to_dict() == {0: {2020: 2}}
    assert result.skipped == (
        "no cohort is observed at two consecutive renewals between 2020-01-01 and 2020-12-31"
    )
    # churn recorded before the data start moves the start of observation back, not an error
    early = SimpleNamespace(accounts=_accounts())
    moved = churn.renewal_cohorts(early, Timeline.from_data("2020-04-01", "2021-06-30"), 100)
    assert moved.observed_from == "2020-03-20"


def test_plot_survival_extends_curves_to_the_end_of_follow_up():
    km = churn.kaplan_meier([5, 9, 3, 8], [0, 0, 1, 0], groups=["a", "a", "b", "b"])
    ax = churn.plot_survival(km, end=10)
    lines = {line.get_label(): line for line in ax.get_lines()}
    assert list(lines["a"].get_xdata()) == [0, 10] and list(lines["a"].get_ydata()) == [100, 100]
    assert list(lines["b"].get_xdata()) == [0, 3, 10]


def test_reliability_in_quantile_bins_and_in_words():
    p = np.linspace(0.01, 0.30, 100)
    y = (np.arange(100) % 10 < 3).astype(int)  # 30 % churn in every tenth
    tab = churn.reliability_table(y, p, n_bins=5, strategy="quantile")
    assert tab["n"].tolist() == [20, 20, 20, 20, 20]
    assert tab["observed_rate"].tolist() == pytest.approx([0.3] * 5)
    assert tab["bin_low"].iloc[0] == pytest.approx(0.01) and tab["bin_high"].iloc[-1] == 0.30
    text = churn.describe_reliability(tab)
    assert text.startswith("In 5 groups of about 20 accounts")
    assert "the model predicts too much churn in 0 and too little in" in text
    assert "the probabilities do not separate the accounts that churned" in text
    with pytest.raises(ValueError, match="strategy"):
        churn.reliability_table(y, p, strategy="kmeans")
    assert "cannot be judged" in churn.describe_reliability(None)
    ax = churn.plot_reliability(tab)
    assert ax.get_xlim() == (0.0, 65.0) and ax.get_ylim() == (0.0, 65.0)  # Wilson high 52 %
