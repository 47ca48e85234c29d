"""``kamlab import``: propose a mapping, or import with one and print what was kept and left out."""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import TextIO

import pandas as pd

from kamlab import fmt
from kamlab._io import atomic_write
from kamlab.invoices.build import ImportResult, import_invoices, write_import
from kamlab.invoices.mapping import mapping_yaml
from kamlab.invoices.propose import propose

__all__ = ["describe_import", "import_command"]


def _money_table(frame: pd.DataFrame, currency: str | None, counts: tuple[str, ...]) -> str:
    shown = frame.copy()
    for col in shown.columns:
        if col in ("file_total", "kept_amount", "dropped_amount", "amount"):
            shown[col] = shown[col].map(lambda v: fmt.money(v, currency))
        elif col in counts:
            shown[col] = shown[col].map(fmt.count)
    return shown.to_string(index=False)


def describe_import(result: ImportResult) -> str:
    """The import in words and two tables: reconciliation by document type, then the ledger.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> export = pathlib.Path(tempfile.mkdtemp()) / "export.csv"
    >>> _ = export.write_text("cust,day,value\\nA,2024-01-05,10\\n,2024-01-06,4\\n")
    >>> result = import_invoices(export, {"columns": {"cust": "account_id", "day": "date",
    ...                                               "value": "amount"}})
    >>> print(describe_import(result).splitlines()[1])
    kept 1 lines (10) in 1 accounts; left out 1 lines (4); kept + left out = the file's signed total, to the cent
    """
    src, cur = result.source, result.source.get("currency")
    total = result.reconciliation.iloc[-1]
    balanced = bool((result.reconciliation["difference"] == 0).all())
    check = (
        "kept + left out = the file's signed total, to the cent"
        if balanced
        else f"kept + left out differ from the file's signed total by "
        f"{fmt.estimate(total['difference'])}"
    )
    out = [
        f"{src['file']}: {fmt.count(src['lines'])} lines, signed total "
        f"{fmt.money(src['signed_total'], cur)} ({src['format']}, sha256 {src['sha256'][:12]})",
        f"kept {fmt.count(total['kept_lines'])} lines ({fmt.money(total['kept_amount'], cur)}) in "
        f"{fmt.count(len(result.dataset.accounts))} accounts; left out "
        f"{fmt.count(total['dropped_lines'])} lines ({fmt.money(total['dropped_amount'], cur)}); "
        f"{check}",
        "",
        "by document type:",
        _money_table(
            result.reconciliation.drop(columns="difference"),
            cur,
            ("lines", "kept_lines", "dropped_lines"),
        ),
        "",
    ]
    if len(result.ledger):
        columns = ["rule", "column", "rows_dropped", "amount", "lines", "example_ids"]
        out += [
            "lines left out, by rule:",
            _money_table(result.ledger[columns], cur, ("rows_dropped",)),
            "",
        ]
    else:
        out += ["lines left out, by rule: none", ""]
    if result.notes:
        out += ["notes:", *(f"- {note}" for note in result.notes), ""]
    return "\n".join(out)


def import_command(
    export: str | os.PathLike,
    mapping: str | os.PathLike | None = None,
    out: str | os.PathLike | None = None,
    write_map: str | os.PathLike | None = None,
    stream: TextIO | None = None,
) -> int:
    """What ``kamlab import`` does; returns the exit code.

    Without ``mapping`` it prints the proposed mapping as YAML (notes as comments) and writes
    it to ``write_map``; with one it imports, prints :func:`describe_import` and writes the
    contract folder ``out`` (nothing is written without ``out``). With both ``mapping`` and
    ``write_map`` the effective mapping (with what was read from the data) is written.

    Examples
    --------
    >>> import io, tempfile, pathlib
    >>> export = pathlib.Path(tempfile.mkdtemp()) / "export.csv"
    >>> _ = export.write_text("Customer ID,Invoice Date,Net Amount\\nA,2024-01-13,10\\n")
    >>> printed = io.StringIO()
    >>> import_command(export, stream=printed)
    0
    >>> print(printed.getvalue().split("\\n", 3)[3], end="")
    columns:
      Customer ID: account_id
      Invoice Date: date
      Net Amount: amount
    date_format: '%Y-%m-%d'
    amount: Net Amount
    """
    stream = stream or sys.stdout
    export = Path(export)
    if write_map is not None and Path(write_map).exists():
        raise ValueError(f"{write_map} exists; kamlab does not overwrite it: choose another name")
    if mapping is None:
        proposal, notes = propose(export)
        head = (
            f"kamlab proposes this mapping for {export.name}: check every line, then run "
            f"kamlab import {export} --map {write_map or 'MAPPING.yaml'} --out FOLDER"
        )
        text = mapping_yaml(proposal, notes=[head, *notes])
        print(text, end="", file=stream)
        if write_map is not None:
            atomic_write(write_map, lambda tmp: tmp.write_text(text, encoding="utf-8"))
            print(f"# wrote {write_map}", file=stream)
        elif out is not None:
            print("# nothing imported: check the mapping, then rerun with --map", file=stream)
        return 0
    result = import_invoices(export, mapping)
    print(describe_import(result), file=stream)
    if write_map is not None:
        text = mapping_yaml(result.mapping)
        atomic_write(write_map, lambda tmp: tmp.write_text(text, encoding="utf-8"))
        print(f"wrote the effective mapping to {write_map}", file=stream)
    if out is None:
        print("nothing written: add --out FOLDER to write the contract folder", file=stream)
    else:
        folder = write_import(result, out)
        print(
            f"wrote {folder} (accounts, transactions, ledger.csv, source.json); next: "
            f"kamlab validate {folder} and kamlab run --data {folder}",
            file=stream,
        )
    return 0
