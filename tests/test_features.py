"""As-of features: exact values on a hand-made table, and no leakage by construction."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from kamlab.data import Dataset, load_dataset
from kamlab.features import (
    OUTCOME_COLUMNS,
    account_features,
    feature_columns,
    feature_panel,
    feature_table,
)


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


# --------------------------------------------------------------------------------------------
# The engine against the pandas implementation it replaced (frozen here as the oracle).
# --------------------------------------------------------------------------------------------
def _oracle(dataset: Dataset, cutoff, horizon=365, window=365, growth_threshold=0.10):
    """kamlab's pandas features as of 2026-11 (before the Ibis engine), kept only to prove the
    engine returns the same frame. Not used by the library."""

    def codes_of(ids, categories):
        codes, uniques = pd.factorize(ids)
        positions = categories.get_indexer(uniques).astype(np.int64)
        return np.where(codes >= 0, positions[codes], -1)

    def total(codes, mask, weights, n):
        mask = mask & (codes >= 0)
        w = None if weights is None else weights[mask]
        return np.bincount(codes[mask], weights=w, minlength=n)[:n].astype(float)

    def distinct(codes, mask, values, n):
        mask = mask & (codes >= 0)
        if not mask.any():
            return np.zeros(n)
        width = int(values[mask].max()) + 1
        key = np.sort(codes[mask].astype(np.int64) * width + values[mask])
        uniq = key[np.r_[True, key[1:] != key[:-1]]]
        return np.bincount(uniq // width, minlength=n)[:n].astype(float)

    cutoff = pd.Timestamp(cutoff)
    accounts = dataset.accounts.set_index("account_id")
    ids, n = accounts.index, len(accounts)
    day = np.int64(86_400 * 10**9)
    cut = np.datetime64(cutoff, "ns").astype(np.int64)
    tx = dataset.transactions
    codes = codes_of(tx["account_id"], ids)
    t = tx["date"].to_numpy().astype("datetime64[ns]").astype(np.int64)
    amount = tx["amount"].to_numpy(dtype=float)
    before = t < cut
    recent = before & (t >= cut - window * day)
    previous = before & (t < cut - window * day) & (t >= cut - 2 * window * day)
    purchase = amount > 0
    day_index = t // day - (t // day).min() if len(t) else t
    r12, rprev = total(codes, recent, amount, n), total(codes, previous, amount, n)
    orders = distinct(codes, recent & purchase, day_index, n)
    last = np.full(n, np.iinfo(np.int64).min)
    ok = before & purchase & (codes >= 0)
    np.maximum.at(last, codes[ok], t[ok])
    first = np.full(n, np.iinfo(np.int64).max)
    ok = before & (codes >= 0)
    np.minimum.at(first, codes[ok], t[ok])
    f = pd.DataFrame(index=ids)
    f["revenue_12m"], f["revenue_prev_12m"] = r12, rprev
    f["revenue_total"] = total(codes, before, amount, n)
    share_total = r12[r12 > 0].sum()
    f["revenue_share"] = np.where(r12 > 0, r12, 0) / share_total if share_total > 0 else 0.0
    with np.errstate(divide="ignore", invalid="ignore"):
        f["revenue_growth_12m"] = np.where((r12 > 0) & (rprev > 0), np.log(r12 / rprev), np.nan)
    f["orders_12m"] = orders
    f["order_frequency"] = orders / (window / (365.25 / 12))
    f["recency_days"] = np.where(last > np.iinfo(np.int64).min, (cut - last) / day, np.nan)
    acquired = first
    if "acquired_on" in accounts:
        acq = accounts["acquired_on"].to_numpy().astype("datetime64[ns]").astype(np.int64)
        acquired = np.where(
            accounts["acquired_on"].isna().to_numpy(), first, np.minimum(acq, first)
        )
    known = acquired < np.iinfo(np.int64).max
    f["tenure_days"] = np.where(known, (cut - acquired) / day, np.nan)
    for col, name in (("product", "products_12m"), ("category", "categories_12m")):
        if col in tx:
            values = pd.factorize(tx[col])[0].astype(np.int64)
            f[name] = distinct(codes, recent & purchase & (values >= 0), values, n)
    if "cost" in tx:
        cost = tx["cost"].to_numpy(dtype=float)
        with_cost = recent & ~np.isnan(cost)
        rev_c = total(codes, with_cost, amount, n)
        cost_c = total(codes, with_cost, np.nan_to_num(cost), n)
        with np.errstate(divide="ignore", invalid="ignore"):
            f["gross_margin_12m"] = np.where(rev_c > 0, (rev_c - cost_c) / rev_c, np.nan)
    gross = total(codes, recent & purchase, amount, n)
    credits = 0.0 - total(codes, recent & ~purchase, amount, n)
    with np.errstate(divide="ignore", invalid="ignore"):
        f["credit_note_share_12m"] = np.where(gross > 0, credits / gross, np.nan)
    inter = dataset.interactions
    if inter is not None and len(inter):
        icodes = codes_of(inter["account_id"], ids)
        it = inter["date"].to_numpy().astype("datetime64[ns]").astype(np.int64)
        kind = inter["kind"].astype("str").str.lower().to_numpy()
        value = (
            inter["value"].to_numpy(dtype=float) if "value" in inter else np.full(len(it), np.nan)
        )
        irecent = (it < cut) & (it >= cut - window * day)
        if (kind == "support_ticket").any():
            tickets = irecent & (kind == "support_ticket")
            f["support_tickets_12m"] = total(icodes, tickets, None, n)
            f["support_hours_12m"] = total(icodes, tickets, np.nan_to_num(value), n)
            with np.errstate(divide="ignore", invalid="ignore"):
                f["cost_to_serve"] = np.where(
                    r12 > 0, f["support_hours_12m"] / (r12 / 1000), np.nan
                )
        if (kind == "qbr").any():
            f["qbr_12m"] = total(icodes, irecent & (kind == "qbr"), None, n)
        if (kind == "nps").any():
            nps = (it < cut) & (kind == "nps") & ~np.isnan(value)
            rows = pd.DataFrame({"code": icodes[nps], "t": it[nps], "value": value[nps]})
            latest = rows.sort_values(["code", "t"], kind="stable").groupby("code")["value"].last()
            out = np.full(n, np.nan)
            out[latest.index.to_numpy()] = latest.to_numpy()
            f["nps"] = out
    ass = dataset.assessments
    if ass is not None and len(ass):
        at = ass["assessed_on"].to_numpy().astype("datetime64[ns]").astype(np.int64)
        early = ass.loc[at < cut, ["account_id", "assessed_on", "criterion", "score"]]
        criteria = sorted(ass["criterion"].astype("str").unique())
        last_rows = early.groupby(["account_id", "criterion"], sort=False)["assessed_on"].idxmax()
        wide = early.loc[last_rows.to_numpy()].pivot(
            index="account_id", columns="criterion", values="score"
        )
        wide = wide.reindex(index=f.index, columns=criteria)
        for c in criteria:
            f[f"score_{c}"] = wide[c].to_numpy(dtype=float)
    for col in ("industry", "region", "size_band", "account_manager"):
        if col in accounts:
            f[col] = accounts[col]
    base_win = before & (t >= cut - horizon * day)
    future_win = (t >= cut) & (t < cut + horizon * day)
    base, future = total(codes, base_win, amount, n), total(codes, future_win, amount, n)
    f["base_revenue"], f["future_revenue"] = base, future
    with np.errstate(divide="ignore", invalid="ignore"):
        f["log_growth"] = np.where((base > 0) & (future > 0), np.log(future / base), np.nan)
        pos_base, pos_future = np.maximum(base, 0), np.maximum(future, 0)
        mean = (pos_base + pos_future) / 2
        f["growth_dh"] = np.where(mean > 0, (pos_future - pos_base) / mean, np.nan)
    f["grew"] = future > base * (1 + growth_threshold)
    recorded = churned_before = np.zeros(n, dtype=bool)
    if "churned_on" in accounts:
        churn = accounts["churned_on"].to_numpy().astype("datetime64[ns]")
        valid = ~np.isnat(churn)
        ci = np.where(valid, churn.astype(np.int64), np.iinfo(np.int64).max)
        recorded = valid & (ci >= cut) & (ci < cut + horizon * day)
        churned_before = valid & (ci < cut)
    f["churned"] = recorded | (total(codes, future_win & purchase, None, n) == 0)
    keep = known & (acquired < cut) & ~churned_before & (first < cut)
    out = f.loc[keep].copy()
    out.index.name = "account_id"
    return out


@pytest.mark.parametrize(
    ("cutoff", "horizon", "window", "growth_threshold"),
    [
        ("2023-06-01", 365, 365, 0.10),
        ("2022-03-15", 180, 365, 0.10),  # horizon inside the look-back: two look-back buckets
        ("2024-01-01", 90, 180, 0.0),
        ("2022-01-10", 365, 365, 0.25),  # ten days of history
        ("2024-12-31", 30, 730, 0.10),  # the data's last day; a window beyond the start
        ("2023-06-01 12:00", 365, 365, 0.10),  # a cutoff in the middle of a day
        ("2021-01-01", 365, 365, 0.10),  # before any data: empty, with every column
    ],
)
def test_engine_returns_the_pandas_frame_on_the_sample(
    sample_dataset, cutoff, horizon, window, growth_threshold
):
    got = account_features(
        sample_dataset, cutoff, horizon, window=window, growth_threshold=growth_threshold
    )
    expected = _oracle(sample_dataset, cutoff, horizon, window, growth_threshold)
    pd.testing.assert_frame_equal(expected, got, rtol=1e-9, check_exact=False, check_flags=False)
    assert list(got.index) == [a for a in sample_dataset.accounts["account_id"] if a in got.index]
    if cutoff != "2021-01-01":
        assert len(got) > 50


def test_panel_is_the_stack_of_single_cutoffs(sample_dataset):
    cutoffs = list(pd.date_range("2022-07-01", periods=13, freq="MS"))[::-1]  # order is kept
    panel = feature_panel(sample_dataset, cutoffs, 180, window=365)
    assert list(panel.index.get_level_values("cutoff").unique()) == cutoffs
    for cutoff in cutoffs[::4]:
        expected = _oracle(sample_dataset, cutoff, 180, 365)
        pd.testing.assert_frame_equal(
            expected, panel.loc[cutoff], rtol=1e-9, check_exact=False, check_flags=False
        )
    assert len(panel) == sum(len(_oracle(sample_dataset, c, 180, 365)) for c in cutoffs)


def test_feature_table_carries_its_parameters(sample_dataset):
    ft = feature_table(sample_dataset, ["2024-01-01", "2023-01-01"], "180D", growth_threshold=0.2)
    assert ft.cutoffs == (pd.Timestamp("2024-01-01"), pd.Timestamp("2023-01-01"))
    assert (ft.horizon_days, ft.window_days, ft.growth_threshold) == (180, 365, 0.2)
    one = ft.at("2023-01-01")
    expected = account_features(sample_dataset, "2023-01-01", 180, growth_threshold=0.2)
    pd.testing.assert_frame_equal(expected, one)
    assert (
        one.attrs
        == expected.attrs
        == {
            "cutoff": "2023-01-01",
            "horizon_days": 180,
            "window_days": 365,
        }
    )
    with pytest.raises(ValueError, match="not one of"):
        ft.at("2022-01-01")
    with pytest.raises(ValueError, match="empty"):
        feature_table(sample_dataset, [])


def test_rows_follow_the_accounts_table_order():
    acc = pd.DataFrame(
        {
            "account_id": ["C", "A", "B"],
            "acquired_on": pd.to_datetime(["2020-01-01"] * 3),
            "churned_on": pd.to_datetime([None, None, None]),
        }
    )
    f = account_features(_dataset(TINY, accounts=acc), "2022-01-01")
    assert list(f.index) == ["C", "A", "B"]
    panel = feature_panel(_dataset(TINY, accounts=acc), ["2022-01-01", "2021-12-01"])
    # B buys first on 2021-12-15: not yet an account at the second cutoff.
    first, second = pd.Timestamp("2022-01-01"), pd.Timestamp("2021-12-01")
    assert list(panel.index) == [
        (first, "C"),
        (first, "A"),
        (first, "B"),
        (second, "C"),
        (second, "A"),
    ]


def test_two_nps_answers_at_one_instant_count_as_their_mean():
    """The one deliberate change from the pandas path (which took the later row in file
    order): the result no longer depends on row order, on any backend."""
    inter = pd.DataFrame(
        {
            "account_id": ["A", "A", "A", "B"],
            "date": pd.to_datetime(["2021-03-01", "2021-09-01", "2021-09-01", "2021-10-01"]),
            "kind": ["NPS", "nps", "nps", "support_ticket"],
            "value": [6.0, 9.0, 4.0, 3.0],
        }
    )
    f = account_features(_dataset(TINY, interactions=inter), "2022-01-01")
    assert f.loc["A", "nps"] == 6.5
    assert np.isnan(f.loc["B", "nps"]) and f.loc["B", "support_hours_12m"] == 3
    f = account_features(_dataset(TINY, interactions=inter), "2021-06-01")
    assert f.loc["A", "nps"] == 6.0  # upper-case kinds count too


def test_purchase_days_split_by_a_window_edge_count_once():
    """A day with purchases on both sides of a window edge inside the look-back window (here
    cutoff − horizon at noon) is one purchase day, as in the pandas path."""
    rows = [
        ("A", "2021-06-01 09:00", 10.0, "p1", 1.0),
        ("A", "2021-06-01 15:00", 10.0, "p2", 1.0),
        ("A", "2021-10-01 09:00", 10.0, "p1", 1.0),
        ("B", "2021-06-01 10:00", 5.0, "p3", 1.0),
    ]
    cutoff = pd.Timestamp("2021-12-01 12:00")
    horizon = (cutoff - pd.Timestamp("2021-06-01 12:00")).days  # the edge falls at 12:00
    f = account_features(_dataset(rows), cutoff, horizon)
    assert f.loc["A", "orders_12m"] == 2 and f.loc["A", "products_12m"] == 2
    assert f.loc["A", "base_revenue"] == 20.0  # the 15:00 and October purchases only
    expected = _oracle(_dataset(rows), cutoff, horizon)
    pd.testing.assert_frame_equal(expected, f, rtol=1e-12, check_exact=False, check_flags=False)


def test_compiled_query_is_kept_in_the_cache_folder(sample_dataset, tmp_path, monkeypatch):
    from kamlab import features

    monkeypatch.setenv("KAMLAB_CACHE_DIR", str(tmp_path))
    monkeypatch.setattr(features, "_SQL", {})
    first = account_features(sample_dataset, "2023-03-01")
    files = sorted(tmp_path.glob("features-*.sql"))
    assert len(files) == 1 and "kamlab_transactions" in files[0].read_text()
    monkeypatch.setattr(features, "_SQL", {})  # a new process: read back, not recompiled
    files[0].write_text(files[0].read_text().replace("revenue_12m", "revenue_12m", 1))
    pd.testing.assert_frame_equal(first, account_features(sample_dataset, "2023-03-01"))
    assert sorted(tmp_path.glob("features-*.sql")) == files
    monkeypatch.setenv("KAMLAB_CACHE_DIR", "off")
    monkeypatch.setattr(features, "_SQL", {})
    account_features(sample_dataset, "2023-03-01")
    assert sorted(tmp_path.glob("features-*.sql")) == files


def test_same_data_give_byte_identical_features(tmp_path):
    """Floats are summed in row order (one DuckDB thread): two evaluations give the same bytes,
    and the connection is pinned to one thread (DuckDB's parallel sums vary in the last bits)."""
    from kamlab import features
    from kamlab.synth import write_synthetic

    dataset = load_dataset(write_synthetic(tmp_path, n_accounts=400, years=3, seed=11))
    cutoffs = ["2023-06-01", "2024-01-01"]
    first = feature_panel(dataset, cutoffs).to_csv()
    assert feature_panel(dataset, cutoffs).to_csv() == first
    threads = features._DUCK["con"].execute("SELECT current_setting('threads')").fetchone()[0]
    assert int(threads) == 1
