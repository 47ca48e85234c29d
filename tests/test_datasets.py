"""Public datasets: real data into the contract, every dropped line counted and reconciled."""

from __future__ import annotations

import pandas as pd
import pytest
from conftest import reference_path

from kamlab.datasets import from_cdnow, from_online_retail

pytestmark = pytest.mark.reference  # every test here reads ../shared/reference


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


def test_online_retail_reconciles_by_document_type():
    # README: the 9,288 C lines are worth -896,812.49; with the two negative A adjustments
    # (-11,062.06 each) they are the file's negative lines, all credit notes by the contract.
    from kamlab.datasets import ONLINE_RETAIL_MAPPING
    from kamlab.invoices import import_invoices

    path = reference_path("online-retail", "online_retail.parquet")
    result = import_invoices(path, ONLINE_RETAIL_MAPPING)
    split = result.reconciliation.set_index("document_type")
    assert split.loc["credit note", "lines"] == 9_288 + 2
    assert split.loc["credit note", "file_total"] == -896_812.49 - 2 * 11_062.06
    assert split.loc["credit note", "kept_amount"] == -471_750.71
    assert split.loc["total", "kept_amount"] == 8_265_476.93
    assert split.loc["total", "dropped_amount"] == 1_482_271.00
    assert (split["difference"] == 0).all()
    assert result.source["signed_total"] == 9_747_747.93 and result.source["lines"] == 541_909
    assert "negative_line_not_a_credit_note" not in set(result.ledger["rule"])


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
