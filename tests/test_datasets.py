"""Public datasets: real data into the contract, every dropped line counted and reconciled."""

from __future__ import annotations

import pandas as pd
import pytest
from conftest import reference_path

from kamlab.datasets import from_cdnow, from_online_retail


@pytest.fixture(scope="module")
def online_retail():
    return from_online_retail(reference_path("online-retail", "online_retail.parquet"))


def test_online_retail_reconciles_to_the_penny(online_retail):
    # README: Σ Quantity × UnitPrice over all 541,909 rows = 9,747,747.93.
    kept = online_retail.transactions["amount"].sum()
    dropped = online_retail.ledger["amount"].sum()
    assert round(kept + dropped, 2) == 9_747_747.93
    rows = len(online_retail.transactions) + online_retail.ledger["rows_dropped"].sum()
    assert rows == 541_909


def test_online_retail_quirks_counted(online_retail):
    ledger = online_retail.ledger.set_index("rule")["rows_dropped"]
    assert ledger["bookkeeping_adjustment"] == 3  # A563185-7
    assert ledger["missing_account_id"] == 135_080 - 3  # README: 135,080 rows without CustomerID
    tx = online_retail.transactions
    notes = tx[tx["credit_note"]]
    assert notes["invoice"].str.startswith("C").all() and (notes["amount"] < 0).all()
    mega = tx.loc[tx["invoice"] == "C541433"].iloc[0]
    assert mega["account_id"] == "12346" and mega["original_invoice"] == "541431"
    assert online_retail.accounts["account_id"].is_unique


def test_cdnow_master_totals():
    ds = from_cdnow(reference_path("cdnow", "CDNOW_master.txt"))
    assert len(ds.transactions) == 69_659 and len(ds.accounts) == 23_570
    assert round(ds.transactions["amount"].sum(), 2) == 2_500_315.63
    assert ds.accounts["acquired_on"].max() <= pd.Timestamp("1997-03-31")


def test_cdnow_sample_uses_sample_ids():
    ds = from_cdnow(reference_path("cdnow", "CDNOW_sample.txt"))
    assert len(ds.transactions) == 6_919 and len(ds.accounts) == 2_357
    assert round(ds.transactions["amount"].sum(), 2) == 244_091.94
    assert round(ds.transactions["quantity"].sum()) == 16_479
