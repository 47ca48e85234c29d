"""Adapters from public and user invoice data to the kamlab data contract.

* :func:`from_invoices` — the generic "bring your own invoices" path: an invoice-line export
  (CSV, Parquet or Excel, any column names) plus a small YAML mapping.
* :func:`from_online_retail` — UCI Online Retail (Chen 2015), using the shipped mapping
  ``kamlab/adapters/online_retail.yaml`` (the worked example of a mapping).
* :func:`from_cdnow` — CDNOW transactions (Fader & Hardie), master or 1/10 sample file.

Every line an adapter leaves out is counted in the dataset's ledger with its rule, row count
and value (Σ quantity × price), so that kept + dropped reconciles with the file's total.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path

import numpy as np
import pandas as pd
import yaml

from kamlab._io import atomic_write, write_csv
from kamlab.data import SCHEMAS, TABLES, DataContractError, Dataset

__all__ = [
    "ADAPTERS",
    "ONLINE_RETAIL_MAPPING",
    "from_cdnow",
    "from_invoices",
    "from_online_retail",
    "load_invoice_mapping",
    "write_dataset",
]

ONLINE_RETAIL_MAPPING = Path(__file__).with_name("adapters") / "online_retail.yaml"
ADAPTER_LEDGER_COLUMNS = [
    "table",
    "file",
    "rule",
    "column",
    "rows_dropped",
    "amount",
    "example_ids",
]
_MAPPING_KEYS = {
    "columns": dict,
    "amount": str,
    "date_format": str,
    "cancellation_prefix": str,
    "adjustment_prefix": str,
    "text_fixes": dict,
    "drop_exact_duplicates": bool,
    "drop_zero_prices": bool,
    "exclude_products": list,
    "exclude_product_prefixes": list,
    "account_attributes": list,
    "sheet": str,
}


def load_invoice_mapping(source: str | os.PathLike | Mapping) -> dict:
    """Read and check an invoice mapping (a YAML file or a dict); errors name the key."""
    if isinstance(source, Mapping):
        mapping, where = dict(source), "mapping"
    else:
        where = Path(source).name
        with open(source, encoding="utf-8") as handle:
            mapping = yaml.safe_load(handle) or {}
        if not isinstance(mapping, dict):
            raise ValueError(f"{where}: expected a mapping at the top level")
    for key, value in mapping.items():
        if key not in _MAPPING_KEYS:
            raise ValueError(
                f"{where}: unknown key '{key}'; allowed: {', '.join(sorted(_MAPPING_KEYS))}"
            )
        if not isinstance(value, _MAPPING_KEYS[key]):
            raise ValueError(
                f"{where}: key '{key}' must be a {_MAPPING_KEYS[key].__name__}, "
                f"got {type(value).__name__}"
            )
    columns = mapping.get("columns", {})
    targets = set(columns.values())
    for needed in ("account_id", "date"):
        if needed not in targets:
            raise ValueError(f"{where}: key 'columns' must map a column to '{needed}'")
    amount = mapping.get("amount", "amount")
    if "*" not in amount and amount not in targets:
        raise ValueError(
            f"{where}: key 'amount' names '{amount}', which 'columns' does not "
            f"produce; use a mapped column or 'quantity * unit_price'"
        )
    return mapping


def _read_any(path: Path, sheet=None) -> pd.DataFrame:
    suffix = path.suffix.lower()
    if not path.exists():
        raise DataContractError(f"{path}: file not found.", file=path, rule="missing_file")
    if suffix in (".parquet", ".pq"):
        return pd.read_parquet(path)
    if suffix in (".csv", ".txt"):
        return pd.read_csv(path, dtype=str, keep_default_na=False, na_values=[""])
    if suffix in (".xlsx", ".xlsm", ".xls"):
        return pd.read_excel(path, sheet_name=sheet or 0, dtype=object)
    raise DataContractError(
        f"{path.name}: unsupported file type '{suffix}'.", file=path, rule="file_type"
    )


class _Exclusions:
    """Drops lines by rule and records each rule's rows and value."""

    def __init__(self, file: str):
        self.file = file
        self.rows: list[dict] = []

    def drop(self, frame, mask, rule, column) -> pd.DataFrame:
        mask = np.asarray(mask, dtype=bool)
        dropped = frame.loc[mask]
        ids = dropped["account_id"].dropna().astype(str).unique()[:5]
        self.rows.append(
            {
                "table": "transactions",
                "file": self.file,
                "rule": rule,
                "column": column,
                "rows_dropped": int(mask.sum()),
                "amount": round(float(dropped["amount"].sum()), 2),
                "example_ids": ", ".join(ids),
            }
        )
        return frame.loc[~mask]

    def frame(self) -> pd.DataFrame:
        return pd.DataFrame(self.rows, columns=ADAPTER_LEDGER_COLUMNS)


def _as_id(series: pd.Series) -> pd.Series:
    numeric = pd.to_numeric(series, errors="coerce")
    if numeric.notna().sum() == series.notna().sum() and (numeric.dropna() % 1 == 0).all():
        return numeric.astype("Int64").astype("str").where(numeric.notna())
    return series.astype("str").str.strip().where(series.notna())


def from_invoices(path: str | os.PathLike, mapping: str | os.PathLike | Mapping) -> Dataset:
    """Turn an invoice-line export into a :class:`~kamlab.data.Dataset`.

    Parameters
    ----------
    path : path-like
        CSV, Parquet or Excel file with one row per invoice line.
    mapping : path-like or dict
        YAML (or dict) with keys: ``columns`` (file name → kamlab name; must produce
        ``account_id`` and ``date``; ``invoice``, ``product``, ``quantity``, ``unit_price``,
        ``region``, ``industry`` ... are understood), ``amount`` (a column or
        ``quantity * unit_price``), ``date_format``, ``cancellation_prefix`` (invoices that
        are credit notes, kept with negative amounts and linked to the latest earlier purchase
        of the same product by the same account in ``original_invoice``),
        ``adjustment_prefix`` (bookkeeping lines, dropped), ``text_fixes``
        (column → {old: new}), ``drop_exact_duplicates``, ``drop_zero_prices``,
        ``exclude_products`` and ``exclude_product_prefixes`` (non-product lines),
        ``account_attributes`` (per-account columns, most frequent value wins).

    Returns
    -------
    Dataset
        ``accounts`` and ``transactions`` (no assessments or interactions); ``ledger`` has one
        row per rule with ``rows_dropped`` and ``amount`` so the totals reconcile:
        ``transactions.amount.sum() + ledger.amount.sum()`` equals the file's total.
    """
    path = Path(path)
    spec = load_invoice_mapping(mapping)
    raw = _read_any(path, spec.get("sheet"))
    columns = spec.get("columns", {})
    missing = [c for c in columns if c not in raw.columns]
    if missing:
        raise DataContractError(
            f"{path.name}: mapped column(s) {', '.join(map(repr, missing))} "
            f"not in the file (columns: {', '.join(map(repr, raw.columns))})",
            file=path,
            column=missing[0],
            rule="missing_column",
        )
    duplicate = raw.duplicated(keep="first").to_numpy()
    frame = raw[list(columns)].rename(columns=columns).copy()
    frame["_row"] = np.arange(len(frame))
    for col, fixes in spec.get("text_fixes", {}).items():
        if col in frame:
            for old, new in fixes.items():
                frame[col] = frame[col].str.replace(old, new, regex=False)
    frame["date"] = pd.to_datetime(frame["date"], format=spec.get("date_format"), errors="coerce")
    for col in ("quantity", "unit_price", "amount", "cost"):
        if col in frame:
            frame[col] = pd.to_numeric(frame[col], errors="coerce")
    amount_rule = spec.get("amount", "amount")
    if "*" in amount_rule:
        left, right = (s.strip() for s in amount_rule.split("*"))
        frame["amount"] = frame[left] * frame[right]
    frame["account_id"] = _as_id(frame["account_id"])
    invoice = (
        frame["invoice"].astype("str") if "invoice" in frame else pd.Series("", index=frame.index)
    )

    out = _Exclusions(path.name)
    bad_date = frame["date"].isna().to_numpy()
    if bad_date.any():
        frame = out.drop(frame, bad_date, "unparseable_date", "date")
    bad_amount = frame["amount"].isna().to_numpy()
    if bad_amount.any():
        frame = out.drop(frame, bad_amount, "non_numeric_amount", "amount")
    if spec.get("adjustment_prefix"):
        adj = invoice.loc[frame.index].str.startswith(spec["adjustment_prefix"]).to_numpy()
        frame = out.drop(frame, adj, "bookkeeping_adjustment", "invoice")
    frame = out.drop(
        frame, frame["account_id"].isna().to_numpy(), "missing_account_id", "account_id"
    )
    if spec.get("drop_exact_duplicates", False):
        frame = out.drop(frame, duplicate[frame["_row"].to_numpy()], "exact_duplicate", "*")
    if "product" in frame and (
        spec.get("exclude_products") or spec.get("exclude_product_prefixes")
    ):
        product = frame["product"].astype("str")
        non_product = product.isin([str(p) for p in spec.get("exclude_products", [])])
        for prefix in spec.get("exclude_product_prefixes", []):
            non_product |= product.str.startswith(str(prefix))
        frame = out.drop(frame, non_product.to_numpy(), "non_product_code", "product")
    if spec.get("drop_zero_prices", False) and "unit_price" in frame:
        frame = out.drop(
            frame, (frame["unit_price"] <= 0).to_numpy(), "non_positive_price", "unit_price"
        )
    cancel_prefix = spec.get("cancellation_prefix")
    is_cancel = (
        invoice.loc[frame.index].str.startswith(cancel_prefix).to_numpy()
        if cancel_prefix
        else np.zeros(len(frame), dtype=bool)
    )
    # Returns booked outside a cancellation invoice (negative lines) are write-offs, not sales.
    stray = (frame["amount"] < 0).to_numpy() & ~is_cancel
    frame = out.drop(frame, stray, "negative_line_not_a_credit_note", "amount")
    is_cancel = is_cancel[~stray]

    transactions = frame.copy()
    transactions["transaction_id"] = (
        (invoice.loc[frame.index] + "-" + frame["_row"].astype("str"))
        if "invoice" in frame
        else "L" + frame["_row"].astype("str")
    )
    transactions["credit_note"] = is_cancel
    if cancel_prefix and "product" in transactions:
        transactions["original_invoice"] = _link_credit_notes(transactions)
    transactions = transactions.sort_values(["date", "_row"], kind="stable")
    keep = [
        c
        for c in (
            "transaction_id",
            "account_id",
            "date",
            "amount",
            "product",
            "category",
            "quantity",
            "cost",
            "invoice",
            "unit_price",
            "credit_note",
            "original_invoice",
        )
        if c in transactions
    ]
    transactions = transactions[keep].reset_index(drop=True)
    transactions["amount"] = transactions["amount"].astype(float)
    if "quantity" in transactions:
        transactions["quantity"] = transactions["quantity"].astype(float)
    transactions["date"] = transactions["date"].astype("datetime64[us]")

    accounts = _accounts_from_lines(frame, spec.get("account_attributes", []))
    for table, data in (("accounts", accounts), ("transactions", transactions)):
        SCHEMAS[table].validate(data)
    empty = {
        t: pd.DataFrame(
            {
                c: pd.Series(dtype="str")
                for c in SCHEMAS[t].columns
                if SCHEMAS[t].columns[c].required
            }
        )
        for t in TABLES[2:]
    }
    empty["assessments"] = empty["assessments"].astype(
        {"assessed_on": "datetime64[us]", "score": "float64"}
    )
    empty["interactions"] = empty["interactions"].astype({"date": "datetime64[us]"})
    return Dataset(
        accounts=accounts,
        transactions=transactions,
        ledger=out.frame(),
        files={"transactions": str(path)},
        **empty,
    )


def _link_credit_notes(tx: pd.DataFrame) -> pd.Series:
    """For each credit note, the latest earlier purchase invoice of the same product by the same
    account (NaN when the original is not in the data)."""
    notes = tx.loc[tx["credit_note"], ["account_id", "product", "date", "_row"]]
    buys = tx.loc[~tx["credit_note"], ["account_id", "product", "date", "invoice"]]
    linked = pd.merge_asof(
        notes.sort_values("date"),
        buys.sort_values("date"),
        on="date",
        by=["account_id", "product"],
        direction="backward",
    )
    result = pd.Series(np.nan, index=tx.index, dtype="object")
    result.loc[tx.index[tx["credit_note"]]] = (
        linked.set_index("_row")["invoice"].reindex(tx.loc[tx["credit_note"], "_row"]).to_numpy()
    )
    return result.astype("str").where(result.notna())


def _accounts_from_lines(lines: pd.DataFrame, attributes) -> pd.DataFrame:
    accounts = pd.DataFrame({"account_id": sorted(lines["account_id"].unique())})
    for attr in attributes:
        if attr not in lines:
            raise ValueError(f"account attribute '{attr}' is not a mapped column")
        counts = (
            lines.groupby(["account_id", attr])
            .size()
            .rename("n")
            .reset_index()
            .sort_values(["account_id", "n", attr], ascending=[True, False, True], kind="stable")
        )
        first = counts.drop_duplicates("account_id").set_index("account_id")[attr]
        accounts[attr] = accounts["account_id"].map(first).astype("str")
    return accounts


def from_online_retail(path: str | os.PathLike, mapping=None) -> Dataset:
    """UCI Online Retail as a Dataset (see ``kamlab/adapters/online_retail.yaml``).

    Cancellations (``C`` invoices) are kept as credit notes; lines without a customer, exact
    duplicates, postage/fee/manual/voucher codes, zero prices, bad-debt adjustments and stock
    write-offs are dropped and counted in ``ledger``. Pass your own ``mapping`` to change any
    of these choices.
    """
    return from_invoices(path, mapping or ONLINE_RETAIL_MAPPING)


def from_cdnow(path: str | os.PathLike) -> Dataset:
    """CDNOW transactions as a Dataset: ``CDNOW_master.txt`` (with header) or the 1/10
    ``CDNOW_sample.txt`` (no header; the sample's own id 1…2,357 becomes ``account_id``).

    ``amount`` is the dollar value and ``quantity`` the number of CDs; every customer's first
    purchase is its ``acquired_on``. Nothing is dropped.
    """
    path = Path(path)
    if not path.exists():
        raise DataContractError(f"{path}: file not found.", file=path, rule="missing_file")
    first = path.read_text(encoding="utf-8", errors="replace").lstrip()[:40]
    if first.startswith("customer_id"):
        raw = pd.read_csv(path, sep=r"\s+", dtype={"customer_id": str, "date": str})
        raw = raw.rename(
            columns={
                "customer_id": "account_id",
                "number_of_cds": "quantity",
                "dollar_value": "amount",
            }
        )
    else:
        raw = pd.read_csv(
            path,
            sep=r"\s+",
            header=None,
            dtype=str,
            names=["master_id", "account_id", "date", "quantity", "amount"],
        )
    tx = pd.DataFrame(
        {
            "transaction_id": [f"L{i}" for i in range(len(raw))],
            "account_id": raw["account_id"].astype("str"),
            "date": pd.to_datetime(raw["date"], format="%Y%m%d").astype("datetime64[us]"),
            "amount": pd.to_numeric(raw["amount"]).astype(float),
            "quantity": pd.to_numeric(raw["quantity"]).astype(float),
        }
    )
    accounts = tx.groupby("account_id", sort=True)["date"].min().rename("acquired_on").reset_index()
    SCHEMAS["accounts"].validate(accounts)
    SCHEMAS["transactions"].validate(tx)
    empty_ass = pd.DataFrame(
        {
            "account_id": pd.Series(dtype="str"),
            "assessed_on": pd.Series(dtype="datetime64[us]"),
            "criterion": pd.Series(dtype="str"),
            "score": pd.Series(dtype="float64"),
        }
    )
    empty_int = pd.DataFrame(
        {
            "account_id": pd.Series(dtype="str"),
            "date": pd.Series(dtype="datetime64[us]"),
            "kind": pd.Series(dtype="str"),
        }
    )
    return Dataset(
        accounts=accounts,
        transactions=tx,
        assessments=empty_ass,
        interactions=empty_int,
        ledger=pd.DataFrame(columns=ADAPTER_LEDGER_COLUMNS),
        files={"transactions": str(path)},
    )


def write_dataset(dataset: Dataset, folder: str | os.PathLike, fmt: str = "parquet") -> Path:
    """Write a Dataset's non-empty tables (and its ledger as ``ledger.csv``) in the contract,
    each file atomically, so ``load_dataset(folder)`` reads it back."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    for table in TABLES:
        frame = getattr(dataset, table)
        if not len(frame):
            continue
        if fmt == "parquet":
            atomic_write(
                folder / f"{table}.parquet", lambda tmp, f=frame: f.to_parquet(tmp, index=False)
            )
        else:
            write_csv(frame, folder / f"{table}.csv", date_format="%Y-%m-%d %H:%M:%S")
    write_csv(dataset.ledger, folder / "ledger.csv")
    return folder


#: Adapters by the name used in ``kamlab run --data NAME:PATH``.
ADAPTERS = {"online-retail": from_online_retail, "cdnow": from_cdnow}
