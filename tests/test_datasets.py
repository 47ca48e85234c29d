"""Adapters: real public data into the contract, every dropped line counted and reconciled."""

from __future__ import annotations

import pandas as pd
import pytest
from conftest import reference_path

from kamlab.data import load_dataset
from kamlab.datasets import (
    ONLINE_RETAIL_MAPPING,
    from_cdnow,
    from_invoices,
    from_online_retail,
    load_invoice_mapping,
    write_dataset,
)

INVOICES = """InvoiceNo,StockCode,Description,Quantity,InvoiceDate,UnitPrice,CustomerID,Country
1001,P1,mug,2,2011-01-03 10:00:00,5.00,501,UK
1001,P1,mug,2,2011-01-03 10:00:00,5.00,501,UK
1001,POST,postage,1,2011-01-03 10:00:00,18.00,501,UK
1002,P2,Voucher Â£20,10,2011-01-04 11:00:00,1.50,502,France
1003,P2,cup,1,2011-01-05 09:00:00,0.00,502,France
1004,P3,jug,3,2011-01-06 09:00:00,2.00,,UK
C1005,P1,mug,-1,2011-01-07 12:00:00,5.00,501,UK
C1006,P9,vase,-1,2011-01-07 12:00:00,4.00,502,UK
A1007,B,Adjust bad debt,1,2011-01-08 12:00:00,-7.00,,UK
"""


@pytest.fixture
def invoice_file(tmp_path):
    path = tmp_path / "invoices.csv"
    path.write_text(INVOICES)
    return path


def test_hand_made_invoices_with_the_online_retail_mapping(invoice_file):
    ds = from_invoices(invoice_file, ONLINE_RETAIL_MAPPING)
    ledger = ds.ledger.set_index("rule")
    assert ledger.loc["exact_duplicate", "rows_dropped"] == 1
    assert ledger.loc["non_product_code", "amount"] == 18.0
    assert ledger.loc["missing_account_id", "rows_dropped"] == 1
    assert ledger.loc["bookkeeping_adjustment", "amount"] == -7.0
    assert ledger.loc["non_positive_price", "rows_dropped"] == 1
    tx = ds.transactions.set_index("invoice")
    assert list(tx.index) == ["1001", "1002", "C1005", "C1006"]
    assert tx.loc["C1005", "amount"] == -5.0 and tx.loc["C1005", "original_invoice"] == "1001"
    assert pd.isna(tx.loc["C1006", "original_invoice"])  # no earlier purchase of P9
    raw_total = 2 * 10 + 18 + 15 + 0 + 6 - 5 - 4 - 7
    assert ds.transactions["amount"].sum() + ds.ledger["amount"].sum() == pytest.approx(raw_total)
    accounts = ds.accounts.set_index("account_id")
    assert accounts.loc["502", "region"] == "France"  # most frequent of France ×2, UK ×1


def test_written_adapter_output_loads_through_the_contract(invoice_file, tmp_path):
    ds = from_invoices(invoice_file, ONLINE_RETAIL_MAPPING)
    folder = write_dataset(ds, tmp_path / "contract")
    back = load_dataset(folder)
    assert len(back.transactions) == 4 and set(back.accounts["account_id"]) == {"501", "502"}
    assert (folder / "ledger.csv").exists()


@pytest.mark.parametrize(
    "bad, message",
    [
        ({"columns": {"a": "account_id"}}, "must map a column to 'date'"),
        ({"columns": {"a": "account_id", "d": "date"}, "colour": 1}, "unknown key 'colour'"),
        ({"columns": ["a"]}, "key 'columns' must be a dict"),
        (
            {"columns": {"a": "account_id", "d": "date"}, "amount": "value"},
            "key 'amount' names 'value'",
        ),
    ],
)
def test_malformed_mapping_names_the_key(bad, message):
    with pytest.raises(ValueError, match=message):
        load_invoice_mapping(bad)


def test_mapping_of_absent_column(invoice_file):
    mapping = {"columns": {"Customer": "account_id", "InvoiceDate": "date", "UnitPrice": "amount"}}
    with pytest.raises(Exception, match="mapped column.*'Customer'"):
        from_invoices(invoice_file, mapping)


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
