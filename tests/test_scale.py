"""The Ibis/DuckDB feature path agrees with the pandas path (kamlab.features.account_features)."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

pytest.importorskip("duckdb", reason="the DuckDB path needs the optional 'scale' extra")
ibis = pytest.importorskip("ibis", reason="the DuckDB path needs the optional 'scale' extra")

from kamlab.data import load_dataset  # noqa: E402
from kamlab.features import account_features  # noqa: E402
from kamlab.scale import (  # noqa: E402
    TRANSACTION_FEATURES,
    account_features_duckdb,
    account_features_ibis,
    connect_tables,
)

OUTCOMES = ["base_revenue", "future_revenue", "log_growth", "growth_dh", "grew", "churned"]


def assert_same(pandas_frame: pd.DataFrame, duck_frame: pd.DataFrame) -> None:
    """Same index, columns, order, dtypes and values (rtol 1e-9)."""
    expected = pandas_frame.copy()
    # account_features returns int64 for a money column whose window holds no row at all
    # (np.bincount of an empty selection); the contract type is float64.
    ints = [c for c in expected if expected[c].dtype == "int64"]
    expected[ints] = expected[ints].astype("float64")
    assert list(duck_frame.columns) == list(expected.columns)
    pd.testing.assert_frame_equal(expected, duck_frame, rtol=1e-9, check_exact=False)
    assert duck_frame.attrs == expected.attrs


@pytest.mark.parametrize(
    ("cutoff", "horizon", "window"),
    [("2023-06-01", 365, 365), ("2022-03-15", 180, 365), ("2024-01-01", 90, 180)],
)
def test_duckdb_matches_pandas_on_sample(sample_dir, sample_dataset, cutoff, horizon, window):
    expected = account_features(sample_dataset, cutoff, horizon, window=window)
    got = account_features_duckdb(sample_dir, cutoff, horizon, window=window)
    assert len(got) > 0
    for col in (*TRANSACTION_FEATURES, *OUTCOMES):
        assert col in got.columns
    assert_same(expected, got)


def test_transaction_only_columns(sample_dir, sample_dataset):
    """Without interactions and assessments the transaction features and outcomes match."""
    expected = account_features(sample_dataset, "2023-01-01")
    got = account_features_duckdb(sample_dir, "2023-01-01", interactions=False, assessments=False)
    assert set(got.columns) < set(expected.columns)
    assert not any(c.startswith("score_") or c == "nps" for c in got.columns)
    assert_same(expected[got.columns], got)


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
    for cutoff, horizon in (("2022-01-01", 365), ("2022-07-01", 180)):
        expected = account_features(dataset, cutoff, horizon)
        got = account_features_duckdb(portfolio_10k, cutoff, horizon)
        assert len(got) > 5_000
        assert_same(expected, got)


def test_folder_of_parquet_parts_and_mapping(tmp_path, sample_dir, sample_dataset):
    """Transactions split into several Parquet files (a dataset folder) and a glob mapping."""
    folder = tmp_path / "lake"
    (folder / "transactions").mkdir(parents=True)
    tx = pd.read_csv(sample_dir / "transactions.csv", dtype={"account_id": str})
    year = tx["date"].str[:4]
    for value, part in tx.groupby(year):
        part.to_parquet(folder / "transactions" / f"part-{value}.parquet", index=False)
    for table in ("accounts", "interactions", "assessments"):
        shutil.copy(sample_dir / f"{table}.csv", folder / f"{table}.csv")
    expected = account_features(sample_dataset, "2023-09-01")
    assert_same(expected, account_features_duckdb(folder, "2023-09-01"))
    mapping = {
        "accounts": sample_dir / "accounts.csv",
        "transactions": str(folder / "transactions" / "*.parquet"),
    }
    got = account_features_duckdb(mapping, "2023-09-01")
    assert_same(expected[got.columns], got)


def _write(folder: Path, accounts: str, transactions: str) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "accounts.csv").write_text(accounts)
    (folder / "transactions.csv").write_text(transactions)
    return folder


@pytest.fixture
def edge_dir(tmp_path) -> Path:
    """Hand-made accounts: credit notes, empty windows, churn, no acquisition date, zero ids."""
    accounts = (
        "account_id,industry,acquired_on,churned_on\n"
        "007,retail,2020-01-01,\n"  # leading zeros must survive (text ids)
        "A2,retail,,\n"  # no acquisition date: tenure from first purchase
        "A3,health,2020-06-01,2022-03-01\n"  # churned inside the horizon
        "A4,health,2020-06-01,2021-06-01\n"  # churned before the cutoff: out of population
        "A5,,2021-11-01,\n"  # only credit notes in the recent window
        "A6,retail,2021-01-01,\n"  # no transaction at all: out of population
        "A7,retail,2020-01-01,\n"  # bought long ago, nothing in the windows
    )
    transactions = (
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
    return _write(tmp_path / "edge", accounts, transactions)


@pytest.mark.parametrize("cutoff", ["2022-01-01", "2021-12-31", "2021-06-15"])
def test_edge_cases(edge_dir, cutoff):
    dataset = load_dataset(edge_dir)
    expected = account_features(dataset, cutoff, 365)
    got = account_features_duckdb(edge_dir, cutoff, 365)
    assert_same(expected, got)
    assert "007" in got.index
    assert "A6" not in got.index and "A4" not in got.index
    if cutoff == "2022-01-01":
        assert got.loc["A5", "revenue_12m"] < 0
        assert np.isnan(got.loc["A5", "credit_note_share_12m"])
        assert np.isnan(got.loc["A5", "recency_days"])  # never a positive purchase
        assert got.loc["A7", "revenue_12m"] == 0 and got.loc["A7", "orders_12m"] == 0
        assert got.loc["A7", "recency_days"] > 365
        assert got.loc["A3", "churned"]


def test_cutoff_before_any_data(edge_dir):
    dataset = load_dataset(edge_dir)
    expected = account_features(dataset, "2000-01-01")
    got = account_features_duckdb(edge_dir, "2000-01-01")
    assert len(got) == len(expected) == 0
    assert list(got.columns) == list(expected.columns)


def test_ibis_expression_is_backend_agnostic(sample_dir):
    """The expression compiles for other engines (no DuckDB-only SQL)."""
    _, tables = connect_tables(sample_dir)
    expr = account_features_ibis(
        tables["transactions"],
        tables["accounts"],
        "2023-06-01",
        interactions=tables["interactions"],
        assessments=tables["assessments"],
    )
    for dialect in ("duckdb", "postgres", "snowflake", "bigquery", "trino"):
        sql = ibis.to_sql(expr, dialect=dialect)
        assert "revenue_12m" in sql
    assert expr.columns[0] == "account_id"


def test_window_validation(sample_dir):
    with pytest.raises(ValueError, match="positive"):
        account_features_duckdb(sample_dir, "2023-01-01", horizon=0)
    with pytest.raises(FileNotFoundError):
        account_features_duckdb(sample_dir / "nope", "2023-01-01")
