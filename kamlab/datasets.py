"""Public datasets in the data contract, and writing a contract folder.

* :func:`from_online_retail` — UCI Online Retail (Chen 2015), imported with the shipped mapping
  ``kamlab/adapters/online_retail.yaml`` (the worked example of a mapping for
  :func:`kamlab.invoices.import_invoices`, which turns any invoice export into the contract).
* :func:`from_cdnow` — CDNOW transactions (Fader & Hardie), master or 1/10 sample file.
* :func:`write_dataset` — a Dataset as a contract folder that ``load_dataset`` reads back.

Every line an adapter leaves out is counted in the dataset's ledger with its rule, row count
and signed value, so that kept + dropped reconciles with the file's total.
"""

from __future__ import annotations

import os
from functools import partial
from pathlib import Path

import pandas as pd

from kamlab._io import atomic_write, write_csv
from kamlab.data import SCHEMAS, TABLES, DataContractError, Dataset, _empty
from kamlab.ledger import LEDGER_FILE, Ledger, write_source

__all__ = [
    "ADAPTERS",
    "ONLINE_RETAIL_MAPPING",
    "from_cdnow",
    "from_online_retail",
    "write_dataset",
]

ONLINE_RETAIL_MAPPING = Path(__file__).with_name("adapters") / "online_retail.yaml"


def from_online_retail(path: str | os.PathLike, mapping=None) -> Dataset:
    """UCI Online Retail as a Dataset (see ``kamlab/adapters/online_retail.yaml``).

    Cancellations (``C`` invoices) are kept as credit notes; lines without a customer, exact
    duplicates, postage/fee/manual/voucher codes, zero prices and bad-debt adjustments are
    left out and counted in ``ledger``. Pass your own ``mapping`` to change any of these
    choices; :func:`kamlab.invoices.import_invoices` gives the reconciliation as well.
    """
    from kamlab.invoices import import_invoices

    return import_invoices(path, mapping or ONLINE_RETAIL_MAPPING).dataset


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
    return Dataset(
        accounts=accounts,
        transactions=tx,
        assessments=_empty("assessments"),
        interactions=_empty("interactions"),
        ledger=Ledger().to_frame(),
        files={"transactions": str(path)},
    )


def write_dataset(dataset: Dataset, folder: str | os.PathLike, fmt: str = "parquet") -> Path:
    """Write a Dataset's non-empty tables, its ledger (``ledger.csv``) and, for an import, its
    source record (``source.json``), each file atomically, so ``load_dataset(folder)`` reads it
    back with the ledger and the source.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> from kamlab.data import load_dataset
    >>> from kamlab.invoices import import_invoices
    >>> export = pathlib.Path(tempfile.mkdtemp()) / "export.csv"
    >>> _ = export.write_text("cust,day,value\\nA,2024-01-05,10\\n,2024-01-06,4\\n")
    >>> dataset = import_invoices(export, {"columns": {"cust": "account_id", "day": "date",
    ...                                                "value": "amount"}}).dataset
    >>> back = load_dataset(write_dataset(dataset, export.parent / "contract"))
    >>> len(back.transactions), back.ledger["rule"].tolist(), back.source["signed_total"]
    (1, ['missing_account_id'], 14.0)
    """
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    for table in TABLES:
        frame = getattr(dataset, table)
        if not len(frame):
            continue
        if fmt == "parquet":
            atomic_write(folder / f"{table}.parquet", partial(_to_parquet, frame))
        else:
            write_csv(frame, folder / f"{table}.csv", date_format="%Y-%m-%d %H:%M:%S")
    write_csv(dataset.ledger, folder / LEDGER_FILE)
    if dataset.source is not None:
        write_source(folder, dataset.source)
    return folder


def _to_parquet(frame: pd.DataFrame, path: Path) -> None:
    frame.to_parquet(path, index=False)


#: Adapters by the name used in ``kamlab run --data NAME:PATH``.
ADAPTERS = {"online-retail": from_online_retail, "cdnow": from_cdnow}
