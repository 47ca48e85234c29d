"""kamlab.scale: the engine on any Ibis backend returns exactly kamlab.features' frame.

The hand-made edge cases and the helpers here are shared with tests/test_spark.py, which runs
the same checks on Spark.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import ibis
import numpy as np
import pandas as pd
import pyarrow.parquet as pq
import pytest

from kamlab import scale
from kamlab.data import load_dataset
from kamlab.features import account_features, feature_panel

EDGE_ACCOUNTS = (
    "account_id,industry,acquired_on,churned_on\n"
    "007,retail,2020-01-01,\n"  # leading zeros must survive (text ids)
    "A2,retail,,\n"  # no acquisition date: tenure from first purchase
    "A3,health,2020-06-01,2022-03-01\n"  # churned inside the horizon
    "A4,health,2020-06-01,2021-06-01\n"  # churned before the cutoff: out of population
    "A5,,2021-11-01,\n"  # only credit notes in the recent window; no industry
    "A6,retail,2021-01-01,\n"  # no transaction at all: out of population
    "A7,retail,2020-01-01,\n"  # bought long ago, nothing in the windows
)
EDGE_TRANSACTIONS = (
    "account_id,date,amount,product,category,cost\n"
    "007,2021-03-05,100.5,P1,c1,60\n"
    "007,2021-03-05,50,P2,c1,\n"  # same day: one order; missing cost
    "007,2021-09-01,-30,P1,c1,-18\n"  # credit note
    "007,2022-02-01,400,P3,c2,100\n"
    "A2,2020-05-01,80,P1,c1,50\n"
    "A2,2021-12-31,20,,,10\n"  # no product / category
    "A3,2021-02-01,300,P1,c1,100\n"
    "A3,2022-01-15,10,P1,c1,5\n"
    "A4,2021-01-01,999,P1,c1,1\n"
    "A5,2021-11-02,0,P1,c1,0\n"  # zero amount counts as a non-purchase
    "A5,2021-12-01,-25,P1,c1,\n"
    "A7,2019-02-01,70,P9,c9,20\n"
    "007,2022-12-31,10,P1,c1,5\n"  # the data run past the churn date
)
EDGE_CUTOFFS = ("2022-01-01", "2021-12-31", "2021-06-15")
SAMPLE_CASES = [("2023-06-01", 365, 365), ("2022-03-15", 180, 365), ("2024-01-01", 90, 180)]


def write_edge(folder: Path) -> Path:
    """The hand-made edge-case portfolio as a CSV data folder."""
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "accounts.csv").write_text(EDGE_ACCOUNTS)
    (folder / "transactions.csv").write_text(EDGE_TRANSACTIONS)
    return folder


def check_edge(got: pd.DataFrame, cutoff: str) -> None:
    """Exact values the edge portfolio must give at ``cutoff`` (on any backend)."""
    assert "007" in got.index
    assert "A6" not in got.index and "A4" not in got.index
    if cutoff == "2022-01-01":
        assert got.loc["A5", "revenue_12m"] == -25
        assert np.isnan(got.loc["A5", "credit_note_share_12m"])
        assert np.isnan(got.loc["A5", "recency_days"])  # never a positive purchase
        assert np.isnan(got.loc["A5", "industry"])  # a missing attribute stays missing
        assert got.loc["A7", "revenue_12m"] == 0 and got.loc["A7", "orders_12m"] == 0
        assert got.loc["A7", "recency_days"] == 1065
        # 2021-03-05 is one purchase day with two products; 2021-09-01 a credit note.
        assert got.loc["007", "orders_12m"] == 1 and got.loc["007", "products_12m"] == 2
        assert got.loc["007", "gross_margin_12m"] == pytest.approx((70.5 - 42) / 70.5)
        assert got.loc["007", "credit_note_share_12m"] == pytest.approx(30 / 150.5)
        assert got.loc["A2", "tenure_days"] == 610  # from the first purchase
        assert got.loc["A3", "churned"] and not got.loc["007", "churned"]
        # The denominator counts every account, A4 (churned before the cutoff) too.
        assert got.loc["007", "revenue_share"] == pytest.approx(120.5 / (120.5 + 20 + 300 + 999))


def assert_same(expected: pd.DataFrame, got: pd.DataFrame) -> None:
    """Same index (and its order), columns, dtypes, attrs; values at rtol 1e-9."""
    pd.testing.assert_frame_equal(expected, got, rtol=1e-9, check_exact=False, check_flags=False)
    assert got.attrs == expected.attrs


@pytest.fixture
def edge_dir(tmp_path) -> Path:
    return write_edge(tmp_path / "edge")


@pytest.mark.parametrize(("cutoff", "horizon", "window"), SAMPLE_CASES)
def test_duckdb_from_csv_matches_the_loaded_dataset(
    sample_dir, sample_dataset, cutoff, horizon, window
):
    expected = account_features(sample_dataset, cutoff, horizon, window=window)
    got = scale.account_features(sample_dir, cutoff, horizon, window=window)
    assert len(got) > 200
    assert_same(expected, got)


def test_panel_is_one_query_and_matches(sample_dir, sample_dataset):
    cutoffs = ["2024-01-01", "2023-01-01", "2023-07-01"]
    ft = scale.feature_table(sample_dir, cutoffs, 180)
    pd.testing.assert_frame_equal(
        feature_panel(sample_dataset, cutoffs, 180), ft.table, rtol=1e-9, check_exact=False
    )
    assert ft.cutoffs == tuple(pd.Timestamp(c) for c in cutoffs) and ft.horizon_days == 180
    assert_same(account_features(sample_dataset, "2023-07-01", 180), ft.at("2023-07-01"))


def test_transaction_tables_only(sample_dir, sample_dataset):
    """Without interactions and assessments: no interaction or score columns, the rest equal."""
    source = {t: sample_dir / f"{t}.csv" for t in ("accounts", "transactions")}
    got = scale.account_features(source, "2023-01-01")
    expected = account_features(sample_dataset, "2023-01-01")
    assert not any(c.startswith("score_") or c in ("nps", "qbr_12m") for c in got.columns)
    assert len(got.columns) == len(expected.columns) - 15
    assert_same(expected[got.columns], got)


@pytest.mark.parametrize("cutoff", EDGE_CUTOFFS)
def test_edge_cases(edge_dir, cutoff):
    expected = account_features(load_dataset(edge_dir), cutoff, 365)
    got = scale.account_features(edge_dir, cutoff, 365)
    assert_same(expected, got)
    check_edge(got, cutoff)
    check_edge(expected, cutoff)


def test_cutoff_before_any_data(edge_dir):
    expected = account_features(load_dataset(edge_dir), "2000-01-01")
    got = scale.account_features(edge_dir, "2000-01-01")
    assert len(got) == len(expected) == 0
    assert_same(expected, got)


def test_parquet_parts_glob_and_tables(tmp_path, sample_dir, sample_dataset):
    """A transactions/ folder of Parquet parts, a glob mapping, and Ibis tables of a backend
    (the lookups of kinds and criteria run there, not on a default DuckDB)."""
    folder = tmp_path / "lake"
    (folder / "transactions").mkdir(parents=True)
    tx = pd.read_csv(sample_dir / "transactions.csv", dtype={"account_id": str})
    for year, part in tx.groupby(tx["date"].str[:4]):
        part.to_parquet(folder / "transactions" / f"part-{year}.parquet", index=False)
    for table in ("accounts", "interactions", "assessments"):
        shutil.copy(sample_dir / f"{table}.csv", folder / f"{table}.csv")
    expected = account_features(sample_dataset, "2023-09-01")
    assert_same(expected, scale.account_features(folder, "2023-09-01"))

    mapping = {
        "accounts": sample_dir / "accounts.csv",
        "transactions": str(folder / "transactions" / "*.parquet"),
    }
    got = scale.account_features(mapping, "2023-09-01")
    assert_same(expected[got.columns], got)

    con = ibis.duckdb.connect()
    tables = {
        t: ibis.memtable(getattr(sample_dataset, t))
        for t in ("accounts", "transactions", "interactions", "assessments")
    }
    assert_same(expected, scale.account_features(tables, "2023-09-01", con=con))


def test_feature_expression_is_lazy_and_portable(sample_dir):
    expr = scale.feature_expression(sample_dir, ["2023-06-01", "2024-01-01"], 365)
    assert expr.columns[:3] == ("cutoff", "account_id", "revenue_12m")
    for dialect in ("duckdb", "postgres", "snowflake", "bigquery", "trino"):
        sql = ibis.to_sql(expr, dialect=dialect)
        assert "revenue_share" in sql and " OVER " in sql.upper()
    counts = expr.group_by("cutoff").aggregate(n=expr.count()).execute()
    assert sorted(counts["n"]) == [240, 244]


def test_synthetic_parquet_has_microsecond_timestamps(tmp_path):
    from kamlab.synth import write_synthetic

    folder = write_synthetic(tmp_path, n_accounts=20, years=1, seed=3, fmt="parquet")
    for table in ("accounts", "transactions", "assessments", "interactions"):
        schema = pq.read_schema(folder / f"{table}.parquet")
        units = {f.type.unit for f in schema if str(f.type).startswith("timestamp")}
        assert units == {"us"}, (table, schema)


def test_errors(sample_dir, tmp_path):
    with pytest.raises(ValueError, match="horizon must be positive"):
        scale.account_features(sample_dir, "2023-01-01", horizon=0)
    with pytest.raises(ValueError, match="whole days"):
        scale.account_features(sample_dir, "2023-01-01", window="36h")
    with pytest.raises(ValueError, match="no such file"):
        scale.account_features(sample_dir / "nope", "2023-01-01")
    with pytest.raises(ValueError, match="unknown table"):
        scale.account_features({"accounts": "a.csv", "invoices": "b.csv"}, "2023-01-01")
    with pytest.raises(ValueError, match="no transactions table"):
        scale.account_features({"accounts": sample_dir / "accounts.csv"}, "2023-01-01")
    book = tmp_path / "book"
    book.mkdir()
    pd.DataFrame({"account_id": ["A"]}).to_excel(book / "accounts.xlsx", index=False)
    shutil.copy(sample_dir / "transactions.csv", book / "transactions.csv")
    with pytest.raises(ValueError, match="accounts.xlsx: the accounts table is an Excel"):
        scale.account_features(book, "2023-01-01")


@pytest.fixture(scope="module")
def portfolio_10k(tmp_path_factory) -> Path:
    from kamlab.synth import write_synthetic

    folder = tmp_path_factory.mktemp("scale10k")
    return write_synthetic(
        folder, n_accounts=10_000, years=2, seed=7, start="2021-01-01", fmt="parquet"
    )


@pytest.mark.slow
def test_duckdb_matches_pandas_on_10k_parquet(portfolio_10k):
    dataset = load_dataset(portfolio_10k)
    assert len(dataset.accounts) == 10_000
    cutoffs = ["2022-01-01", "2022-07-01"]
    expected = feature_panel(dataset, cutoffs, 180)
    assert len(expected) > 10_000
    got = scale.feature_panel(portfolio_10k, cutoffs, 180)
    pd.testing.assert_frame_equal(expected, got, rtol=1e-9, check_exact=False)
