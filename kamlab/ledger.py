"""The data-quality ledger and the source record: what was left out of the data, and from what.

One ledger type serves every path into kamlab: the contract loader
(:func:`kamlab.data.load_dataset` with ``on_error="drop"``), the invoice import
(``kamlab import``) and the adapters for public datasets. Each row is one rule that left rows
out, with how many, their value where they carry money, the first line numbers and example ids,
so that kept + ledgered = what the file held.

An import writes the ledger as ``ledger.csv`` and a description of its input as ``source.json``
beside the contract tables; :func:`read_ledger` and :func:`read_source` read them back, so the
ledger travels with the data into ``kamlab validate``, every run and its summary.
"""

from __future__ import annotations

import json
import math
import os
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from kamlab import fmt
from kamlab._io import atomic_write, write_csv

__all__ = [
    "LEDGER_COLUMNS",
    "LEDGER_FILE",
    "SOURCE_FILE",
    "Ledger",
    "describe_ledger",
    "read_ledger",
    "read_source",
    "write_source",
]

#: Columns of a ledger frame, in order. ``amount`` is the signed value of the rows left out
#: (NaN where the table carries no money); ``lines`` the first line numbers as a user sees them
#: in the file (header = line 1); ``example_ids`` the first distinct account ids.
LEDGER_COLUMNS = [
    "table",
    "file",
    "rule",
    "column",
    "rows_dropped",
    "amount",
    "lines",
    "example_ids",
]
LEDGER_FILE = "ledger.csv"
SOURCE_FILE = "source.json"
MAX_EXAMPLES = 5


def _first(values: Iterable[Any], k: int = MAX_EXAMPLES) -> str:
    seen: list[str] = []
    for value in values:
        if value is None or (isinstance(value, float) and math.isnan(value)) or value is pd.NA:
            continue
        text = str(value)
        if text not in seen:
            seen.append(text)
        if len(seen) == k:
            break
    return ", ".join(seen)


class Ledger:
    """An append-only list of the rules that left rows out.

    Examples
    --------
    >>> import pandas as pd
    >>> lines = pd.DataFrame({"account_id": ["A1", None, "A2"], "amount": [10.0, 5.0, -2.5],
    ...                       "_line": [2, 3, 4]})
    >>> ledger = Ledger()
    >>> kept = ledger.drop(lines, lines["account_id"].isna(), table="transactions",
    ...                    file="export.csv", rule="missing_account_id", column="account_id")
    >>> len(kept), ledger.total_rows, ledger.total_amount
    (2, 1, 5.0)
    """

    def __init__(self, rows: Iterable[Mapping[str, Any]] = ()):
        self.rows: list[dict[str, Any]] = [dict(r) for r in rows]

    def __len__(self) -> int:
        return len(self.rows)

    def add(
        self,
        *,
        table: str,
        file: str | os.PathLike | None,
        rule: str,
        column: str | None,
        rows_dropped: int,
        amount: float | None = None,
        lines: Iterable[int] = (),
        example_ids: Iterable[Any] = (),
    ) -> None:
        """Record one rule's rows (nothing is recorded for zero rows)."""
        if rows_dropped <= 0:
            return
        self.rows.append(
            {
                "table": table,
                "file": Path(file).name if file is not None else "",
                "rule": rule,
                "column": column if column is not None else "",
                "rows_dropped": int(rows_dropped),
                "amount": np.nan if amount is None else round(float(amount), 2),
                "lines": _first((int(v) for v in lines), MAX_EXAMPLES),
                "example_ids": _first(example_ids),
            }
        )

    def drop(
        self,
        frame: pd.DataFrame,
        mask,
        *,
        table: str,
        file: str | os.PathLike | None,
        rule: str,
        column: str | None,
        amount_column: str | None = "amount",
        line_column: str = "_line",
        id_column: str = "account_id",
    ) -> pd.DataFrame:
        """Record the rows of ``frame`` where ``mask`` is true and return the others."""
        mask = np.asarray(pd.Series(mask, index=frame.index).fillna(False), dtype=bool)
        if not mask.any():
            return frame
        dropped = frame.loc[mask]
        amount = None
        if amount_column is not None and amount_column in dropped:
            values = pd.to_numeric(dropped[amount_column], errors="coerce")
            finite = values[np.isfinite(values.to_numpy(dtype=float, na_value=np.nan))]
            amount = float(finite.sum())
        self.add(
            table=table,
            file=file,
            rule=rule,
            column=column,
            rows_dropped=int(mask.sum()),
            amount=amount,
            lines=dropped[line_column] if line_column in dropped else (),
            example_ids=dropped[id_column] if id_column in dropped else (),
        )
        return frame.loc[~mask]

    def extend(self, other: Ledger | pd.DataFrame) -> None:
        """Append the rows of another ledger (or ledger frame)."""
        rows = other.rows if isinstance(other, Ledger) else other.to_dict("records")
        self.rows.extend(dict(r) for r in rows)

    @property
    def total_rows(self) -> int:
        return int(sum(r["rows_dropped"] for r in self.rows))

    @property
    def total_amount(self) -> float:
        amounts = [r["amount"] for r in self.rows if not pd.isna(r["amount"])]
        return round(float(sum(amounts)), 2)

    def to_frame(self) -> pd.DataFrame:
        """The ledger as a frame with :data:`LEDGER_COLUMNS`."""
        frame = pd.DataFrame(self.rows, columns=LEDGER_COLUMNS)
        return frame.astype({"rows_dropped": "int64", "amount": "float64"})

    def write(self, path: str | os.PathLike) -> Path:
        """Write the ledger as CSV, atomically."""
        return write_csv(self.to_frame(), path)


def read_ledger(folder: str | os.PathLike) -> pd.DataFrame:
    """The ledger an import left in ``folder`` (``ledger.csv``), or an empty ledger frame.

    Older ledgers without the ``amount`` or ``lines`` columns are read with those columns empty.
    """
    path = Path(folder) / LEDGER_FILE
    if not path.is_file():
        return Ledger().to_frame()
    frame = pd.read_csv(
        path,
        dtype={"lines": "str", "example_ids": "str"},
        keep_default_na=False,
        na_values={"amount": [""]},
    )
    for col in LEDGER_COLUMNS:
        if col not in frame:
            frame[col] = np.nan if col == "amount" else ""
    return Ledger(frame[LEDGER_COLUMNS].to_dict("records")).to_frame()


def write_source(folder: str | os.PathLike, source: Mapping[str, Any]) -> Path:
    """Write ``source.json`` (what an import read: file name, sha256, lines, signed total...)."""
    text = json.dumps(dict(source), indent=2, sort_keys=True, default=str) + "\n"
    return atomic_write(Path(folder) / SOURCE_FILE, lambda tmp: tmp.write_text(text, "utf-8"))


def read_source(folder: str | os.PathLike) -> dict[str, Any] | None:
    """The ``source.json`` an import left in ``folder``, or None."""
    path = Path(folder) / SOURCE_FILE
    if not path.is_file():
        return None
    return json.loads(path.read_text(encoding="utf-8"))


def describe_ledger(ledger: pd.DataFrame, source: dict[str, Any] | None = None) -> str:
    """What validation and the import left out, in words (Markdown).

    Examples
    --------
    >>> print(describe_ledger(Ledger().to_frame()))
    Every row met the data contract: nothing was left out.
    >>> book = Ledger()
    >>> book.add(table="transactions", file="x.csv", rule="missing_account_id",
    ...          column="CustomerID", rows_dropped=3, amount=-12.5)
    >>> print(describe_ledger(book.to_frame(), {"file": "x.csv", "lines": 10, "signed_total": 100.0}))
    The import read x.csv: 10 lines, signed total 100. 3 rows were left out by 1 rule (missing_account_id 3), worth -12 (listed in the ledger below); nothing else was dropped.
    """

    parts = []
    if source:
        parts.append(
            f"The import read {source.get('file')}: {fmt.count(source.get('lines'))} lines, "
            f"signed total {fmt.money(source.get('signed_total'))}."
        )
    if not len(ledger):
        parts.append("Every row met the data contract: nothing was left out.")
        return " ".join(parts)
    rows = int(ledger["rows_dropped"].sum())
    by_rule = ledger.groupby("rule", sort=False)["rows_dropped"].sum()
    rules = ", ".join(f"{r} {fmt.count(n)}" for r, n in by_rule.items())
    amount = ledger["amount"].dropna()
    worth = f", worth {fmt.money(amount.sum())}" if len(amount) else ""
    n_rules = len(by_rule)
    parts.append(
        f"{fmt.count(rows)} rows were left out by {n_rules} rule{'s' if n_rules != 1 else ''} "
        f"({rules}){worth} (listed in the ledger below); nothing else was dropped."
    )
    return " ".join(parts)
