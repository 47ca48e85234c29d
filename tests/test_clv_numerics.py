"""Numerics of kamlab.clv settled by issue 20 and the honest statistics of issues 14 and 17:
the BG/NBD limit at a = 1, Gamma-Gamma with q <= 1, Pareto/NBD convergence and gradient,
parameters at the boundary, intervals on the log scale, and outputs that do not depend on
thread counts."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from scipy.special import hyp2f1

from kamlab import clv
from kamlab.clv import pareto_nbd

REFERENCE = Path(__file__).resolve().parents[2] / "shared" / "reference"
CDNOW = REFERENCE / "cdnow" / "cdnow_customers_summary.csv"
ONLINE_RETAIL = REFERENCE / "online-retail" / "online_retail.parquet"
BGNBD_PUB = {"r": 0.2426, "alpha": 4.4135, "a": 0.7929, "b": 2.4258}


def _fitted(cls, **params):
    m = cls()
    m.params_ = pd.Series(params, dtype=float)
    return m


# ------------------------------------------------------------------ BG/NBD at a = 1


def test_bgnbd_expectation_is_finite_at_a_equal_one():
    # Issue 20: the paper's customer (x = 2, t_x = 30.43, T = 38.86) over 52 weeks, a = 1.
    m = _fitted(clv.BGNBD, **{**BGNBD_PUB, "a": 1.0})
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        at_one = m.expected_purchases(52, [2], [30.43], [38.86])[0]
        new = m.expected_purchases_new(52.0)
    assert at_one == pytest.approx(1.38755, abs=1e-5)  # the issue quotes 1.3875
    # the limit is the value the formula approaches from both sides (error O(h^2) ~ 1e-7)
    side = []
    for a in (1 - 1e-3, 1 + 1e-3):
        side.append(
            _fitted(clv.BGNBD, **{**BGNBD_PUB, "a": a}).expected_purchases(
                52, [2], [30.43], [38.86]
            )[0]
        )
    assert at_one == pytest.approx(np.mean(side), abs=1e-6)
    assert np.isfinite(new) and new == pytest.approx(1.28817, abs=1e-5)
    # smooth through the interpolation band |a - 1| < 1e-4 and across its edges: the value at
    # a = 1 is the mean of symmetric neighbours up to the curvature term f'' h^2 / 2 (f'' ~ 0.68)
    for h in (1e-5, 1e-4, 2e-4):
        pair = [
            _fitted(clv.BGNBD, **{**BGNBD_PUB, "a": a}).expected_purchases(
                52, [2], [30.43], [38.86]
            )[0]
            for a in (1 - h, 1 + h)
        ]
        assert pair[0] > at_one > pair[1]
        assert at_one == pytest.approx(np.mean(pair), abs=0.5 * h * h + 1e-10)


# ------------------------------------------------------------------ Gamma-Gamma, q <= 1


def test_gamma_gamma_conditional_spend_exists_for_repeat_customers_when_q_le_1():
    params = {"p": 6.2488, "gamma": 15.4477}
    at_one = _fitted(clv.GammaGamma, q=1.0, **params)
    below = _fitted(clv.GammaGamma, q=0.9, **params)
    # issue 20: x = 2, zbar = 22.35 -> 30.07 at q = 1 and 30.31 at q = 0.9
    assert at_one.expected_spend([2], [22.35])[0] == pytest.approx(30.07, abs=0.005)
    assert below.expected_spend([2], [22.35])[0] == pytest.approx(30.31, abs=0.01)
    assert below.expected_spend([2], [22.35])[0] == pytest.approx(
        (15.4477 + 2 * 22.35) * 6.2488 / (2 * 6.2488 + 0.9 - 1), rel=1e-12
    )
    with pytest.raises(
        ValueError, match=r"1 customer\(s\) with p x \+ q <= 1 \(first ids: \['new'\]\)"
    ):
        below.expected_spend(pd.Series([0, 2], index=["new", "old"]), [0.0, 22.35])
    summary = pd.DataFrame(
        {"frequency": [0, 2, 5], "monetary_value": [0.0, 22.35, 40.0]}, index=["a", "b", "c"]
    )
    spend = clv.expected_spend_or_observed(below, summary)
    assert list(spend["source"]) == ["median of repeat buyers", "gamma-gamma", "gamma-gamma"]
    assert spend.loc["a", "expected_spend"] == pytest.approx((22.35 + 40.0) / 2)
    assert spend.loc["b", "expected_spend"] == pytest.approx(30.31, abs=0.01)


# ------------------------------------------------------------------ Pareto/NBD


@pytest.mark.parametrize(
    "params",
    [
        [0.5533, 10.5776, 0.6062, 11.6679],  # CDNOW: series branch, beta > alpha
        [2.0, 30.0, 0.3, 4.0],  # alpha > beta
        [0.73, 8.87, 3e-4, 1.1e4],  # beta >> alpha: Euler's integral near z = 1
        [0.5, 200.0, 0.6, 3.0],  # alpha >> beta
    ],
)
def test_pareto_nbd_analytic_gradient_matches_differences(params):
    rng = np.random.default_rng(4)
    sim = clv.simulate_pareto_nbd(
        400, 0.6, 8.0, 0.8, 12.0, T=rng.uniform(5, 50, 400), random_state=4
    )
    x, tx, T = (sim[c].to_numpy(float) for c in ("frequency", "recency", "T"))
    p = np.array(params)
    _, g = pareto_nbd.loglik_and_grad(p, x, tx, T)
    h = 1e-6
    for k in range(4):
        e = np.zeros(4)
        e[k] = h * p[k]
        num = (pareto_nbd._loglik(p + e, x, tx, T) - pareto_nbd._loglik(p - e, x, tx, T)) / (
            2 * e[k]
        )
        np.testing.assert_allclose(g[k], num, rtol=2e-6, atol=1e-6 / p[k])


@pytest.mark.parametrize(
    "c,d,z",
    [(1.6, 2.3, 0.95), (1.0000002, 1.73, 0.999998), (126.06, 126.79, 0.99987), (0.73, 1.73, 0.93)],
)
def test_pareto_nbd_hypergeometric_near_one_matches_scipy(c, d, z):
    log_s = pareto_nbd._log_series_far(np.array([c]), np.array([d]), np.array([z]))[0][0]
    assert log_s == pytest.approx(np.log(hyp2f1(1.0, c, d, z)), abs=1e-11)


@pytest.mark.reference
@pytest.mark.skipif(not CDNOW.exists(), reason=f"CDNOW reference data not found at {CDNOW}")
def test_pareto_nbd_converges_to_1e8_relative_on_cdnow():
    s = pd.read_csv(CDNOW)
    m = clv.ParetoNBD().fit(s["frequency"], s["recency"], s["T"])
    # The published values at 4 significant digits, now with margin (issue 20: 5e-5 short before)
    assert list(m.summary()["reported"]) == ["0.5533", "10.58", "0.6062", "11.67"]
    assert m.log_likelihood_ == pytest.approx(-9594.9739, abs=1e-4)
    # one more Newton step from the estimate moves no parameter by 1e-8 relative
    x, tx, T = (s[c].to_numpy(float) for c in ("frequency", "recency", "T"))
    theta = np.log(m.params_.to_numpy())

    def grad(th):
        p = np.exp(th)
        return -pareto_nbd.loglik_and_grad(p, x, tx, T)[1].sum(axis=1) * p

    H = np.column_stack([(grad(theta + e) - grad(theta - e)) / 2e-5 for e in np.eye(4) * 1e-5])
    step = np.linalg.solve(0.5 * (H + H.T), -grad(theta))
    assert np.max(np.abs(step)) < 1e-8
    # the same fit with every customer counted twice is the same optimum
    twice = clv.ParetoNBD().fit(x, tx, T, weights=np.full(len(x), 2.0))
    np.testing.assert_allclose(twice.params_, m.params_, rtol=1e-8)


# ------------------------------------------------------------------ boundary / not identified


def _no_dropout(n: int = 3000) -> pd.DataFrame:
    T = np.random.default_rng(0).uniform(10, 30, n)
    return clv.simulate_pareto_nbd(n, 0.7, 9.0, 0.5, 10.0, T=T, dropout=False, random_state=2)


def test_bgnbd_without_dropout_reports_a_and_b_at_the_boundary():
    sim = _no_dropout()
    m = clv.BGNBD().fit(sim["frequency"], sim["recency"], sim["T"])
    tab = m.summary()
    assert list(tab["identified"]) == [True, True, False, False]
    assert list(tab["reported"][2:]) == ["at the boundary"] * 2
    assert tab.loc[["a", "b"], ["estimate", "std_error", "ci_low", "ci_high"]].isna().all().all()
    assert (tab.loc[["a", "b"], "note"] == "at the boundary (not identified)").all()
    # the purchase-rate parameters are still estimated, and recover the planted truth
    for name, truth in {"r": 0.7, "alpha": 9.0}.items():
        assert abs(m.params_[name] - truth) < 4 * m.std_error_[name], name
    assert m.converged_


@pytest.mark.slow
def test_pareto_nbd_without_dropout_reports_s_and_beta_at_the_boundary():
    sim = _no_dropout(1000)
    m = clv.ParetoNBD().fit(sim["frequency"], sim["recency"], sim["T"])
    assert list(m.identified_) == [True, True, False, False]
    for name, truth in {"r": 0.7, "alpha": 9.0}.items():
        assert abs(m.params_[name] - truth) < 4 * m.std_error_[name], name


@pytest.fixture(scope="module")
def online_retail_rfm() -> pd.DataFrame:
    if not ONLINE_RETAIL.exists():
        pytest.skip(f"Online Retail reference data not found at {ONLINE_RETAIL}")
    from kamlab.datasets import from_online_retail

    ds = from_online_retail(ONLINE_RETAIL)
    return clv.rfm_summary(ds.transactions, "2011-05-31", freq="W").table


@pytest.mark.reference
@pytest.mark.slow
@pytest.mark.parametrize("cls,flat", [(clv.BGNBD, ["a", "b"]), (clv.ParetoNBD, ["s", "beta"])])
def test_online_retail_dropout_parameters_are_at_the_boundary(online_retail_rfm, cls, flat):
    # Issue 14: b came out 2.379e+04 on one machine and 4.19e+04 on another; a -> 0.
    s = online_retail_rfm
    assert len(s) == 2703
    m = cls().fit(s["frequency"], s["recency"], s["T"])
    tab = m.summary()
    assert m.converged_
    assert list(tab.index[~tab["identified"]]) == flat
    assert (tab.loc[flat, "reported"] == "at the boundary").all()
    # both models collapse to the NBD: the same purchase-rate parameters, printed alike
    assert list(tab.loc[["r", "alpha"], "reported"]) == ["0.7309", "8.868"]
    assert m.log_likelihood_ == pytest.approx(-12031.077, abs=1e-3)


# ------------------------------------------------------------------ intervals and flags


@pytest.mark.reference
@pytest.mark.skipif(not CDNOW.exists(), reason=f"CDNOW reference data not found at {CDNOW}")
def test_intervals_are_on_the_log_scale_and_positive():
    s = pd.read_csv(CDNOW)
    m = clv.BGNBD().fit(s["frequency"], s["recency"], s["T"])
    tab = m.summary()
    se_log = tab["std_error"] / tab["estimate"]
    np.testing.assert_allclose(
        tab["ci_low"], tab["estimate"] * np.exp(-1.959964 * se_log), rtol=1e-6
    )
    np.testing.assert_allclose(
        tab["ci_high"], tab["estimate"] * np.exp(1.959964 * se_log), rtol=1e-6
    )
    assert (tab["ci_low"] > 0).all()
    # b's Wald interval would be 1.04 to 3.81; on the log scale it is 1.372 to 4.289
    assert tab.loc["b", "ci_low"] == pytest.approx(1.3720, abs=1e-3)
    assert tab.loc["b", "ci_high"] == pytest.approx(4.2890, abs=1e-3)


def test_sbg_flags_wide_estimates_in_words():
    small = clv.ShiftedBetaGeometric().fit([12, 8, 6, 5])
    tab = small.summary()
    wide = tab["std_error"] > tab["estimate"]
    assert wide.any()
    assert (tab.loc[wide, "note"] == "wide (std_error > estimate)").all()
    assert (tab.loc[~wide, "note"] == "").all() and (tab["ci_low"] > 0).all()
    big = clv.ShiftedBetaGeometric().fit([1000, 631, 468, 382, 326, 289, 262, 241])
    assert (big.summary()["note"] == "").all()


# ------------------------------------------------------------------ machines and threads

_SCRIPT = """
import json, numpy as np
from kamlab import clv, fmt
rng = np.random.default_rng(3)
sim = clv.simulate_bgnbd(4000, 0.5, 6.0, 0.8, 3.0, T=rng.uniform(20, 52, 4000), random_state=3)
f, r, T = sim["frequency"], sim["recency"], sim["T"]
bg = clv.BGNBD().fit(f, r, T)
pn = clv.ParetoNBD().fit(f, r, T)
import pandas as pd
spend = np.full(len(sim), 25.0)
value = clv.customer_lifetime_value(bg, pd.Series(spend), sim, periods=52, discount_rate=0.002, freq="W")
print(json.dumps({"bg": list(bg.summary()["reported"]), "pn": list(pn.summary()["reported"]),
                  "clv": [fmt.money(v) for v in value.nlargest(5)], "total": fmt.money(value.sum()),
                  "params": [float(v) for v in bg.params_]}))
"""


@pytest.mark.slow
def test_reported_values_do_not_depend_on_thread_counts():
    env_one = {
        **os.environ,
        "OPENBLAS_NUM_THREADS": "1",
        "OMP_NUM_THREADS": "1",
        "MKL_NUM_THREADS": "1",
    }
    limits = {"OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"}
    env_default = {k: v for k, v in os.environ.items() if k not in limits}
    runs = [
        json.loads(
            subprocess.run(
                [sys.executable, "-c", _SCRIPT], env=env, capture_output=True, text=True, check=True
            ).stdout
        )
        for env in (env_one, env_default)
    ]
    assert runs[0] == runs[1]  # every reported string, and the estimates to the last bit
    assert runs[0]["bg"] == ["0.491", "6.122", "0.9379", "3.411"]
    assert runs[0]["pn"][:2] == ["0.9828", "13.65"]
    assert runs[0]["total"] == "127,241"


@pytest.mark.parametrize("n_cols", [1, 2, 3])
def test_compress_gives_the_distinct_rows_in_order_with_their_weights(n_cols):
    from kamlab.clv._mle import compress

    rng = np.random.default_rng(n_cols)
    cols = [rng.integers(0, 4, 500).astype(float) for _ in range(n_cols)]
    weights = rng.uniform(0, 2, 500)
    weights[::5] = 0.0  # rows of zero weight vanish
    rows, w = compress(*cols, weights=weights)
    # The reference: NumPy's distinct rows (lexicographic, first column first).
    uniq, inverse = np.unique(np.column_stack(cols), axis=0, return_inverse=True)
    total = np.bincount(inverse.ravel(), weights=weights, minlength=len(uniq))
    keep = total > 0
    for j, col in enumerate(rows):
        np.testing.assert_array_equal(col, uniq[keep, j])
    np.testing.assert_array_equal(w, total[keep])
    rows, counts = compress(*cols)
    assert counts.sum() == 500 and len(rows[0]) == len(np.unique(np.column_stack(cols), axis=0))
    assert [len(c) for c in compress(np.array([]), np.array([]))[0]] == [0, 0]
