"""The import: an export and its mapping → accounts, signed transactions, ledger, reconciliation."""

from __future__ import annotations

import copy
import os
import warnings
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from kamlab import __version__
from kamlab.data import SCHEMAS, TRANSACTION_COLUMNS, DataContractError, Dataset, _empty
from kamlab.invoices.mapping import load_invoice_mapping, parse_amount
from kamlab.invoices.read import (
    MISSING,
    NON_FINITE,
    NON_NUMERIC,
    numbers,
    parse_dates,
    read_export,
    text,
)
from kamlab.ledger import SOURCE_FILE, Ledger

__all__ = ["ImportResult", "import_invoices", "write_import"]

#: An export with more lines than this and not one credit note gets a warning.
MANY_LINES = 1_000
_TEXT_ROLES = ("account_id", "invoice", "product", "description", "category")
_NUMBER_ROLES = ("quantity", "unit_price", "cost")
_KEEP = TRANSACTION_COLUMNS + ("invoice", "unit_price", "credit_note", "original_invoice")
_AMOUNT_RULES = {
    MISSING: "missing_amount",
    NON_NUMERIC: "non_numeric_amount",
    NON_FINITE: "non_finite_amount",
}


@dataclass(frozen=True, eq=False)
class ImportResult:
    """What :func:`import_invoices` made of an export.

    Attributes
    ----------
    dataset : Dataset
        ``accounts`` (with the mapped attributes) and ``transactions`` (signed amounts).
    ledger : pandas.DataFrame
        One row per rule that left lines out (:data:`kamlab.ledger.LEDGER_COLUMNS`).
    source : dict
        File name, format, sha256, lines, signed total, currency, the mapping used, kamlab
        version: what ``source.json`` holds.
    reconciliation : pandas.DataFrame
        Per document type and in total: lines and signed total in the file, kept, dropped.
    mapping : dict
        The effective mapping: what was given plus what was read from the data.
    notes : tuple of str
        What kamlab read from the data or noticed, in words.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> export = pathlib.Path(tempfile.mkdtemp()) / "export.csv"
    >>> _ = export.write_text("cust,day,value\\nA,2024-01-05,10\\nA,2024-01-09,-4\\n")
    >>> result = import_invoices(export, {"columns": {"cust": "account_id", "day": "date",
    ...                                               "value": "amount"}})
    >>> result.table[["document_type", "lines", "file_total", "kept_amount"]]
      document_type  lines  file_total  kept_amount
    0   credit note      1        -4.0         -4.0
    1       invoice      1        10.0         10.0
    2         total      2         6.0          6.0
    """

    dataset: Dataset
    ledger: pd.DataFrame
    source: dict
    reconciliation: pd.DataFrame
    mapping: dict
    notes: tuple[str, ...] = field(default=())

    @property
    def table(self) -> pd.DataFrame:
        """The reconciliation."""
        return self.reconciliation


def _resolver(path: Path, raw: pd.DataFrame, columns: Mapping[str, str]) -> Callable:
    produced = {role: col for col, role in columns.items()}
    names = [c for c in raw.columns if c != "_line"]

    def resolve(name: str, key: str) -> str:
        if name in produced and produced[name] in raw.columns:
            return produced[name]
        if name in raw.columns and name != "_line":
            return name
        header = "".join(names)
        hint = next(
            (f" The header holds {s!r}: set source.sep: {s!r}." for s in ";\t|" if s in header),
            "",
        )
        raise DataContractError(
            f"{path.name}: the mapping's {key} names '{name}', which is not a column of the "
            f"file (columns: {', '.join(map(repr, names))}).{hint}",
            file=path,
            column=name,
            rule="missing_column",
        )

    return resolve


def _first_lines(frame: pd.DataFrame, mask, k: int = 5) -> str:
    return ", ".join(str(v) for v in frame.loc[np.asarray(mask), "_line"].head(k))


class _Lines:
    """The export's lines as kamlab reads them: text, numbers, signed amounts, flags."""

    def __init__(self, path: Path, raw: pd.DataFrame, spec: dict, notes: list[str]):
        self.path, self.raw, self.spec, self.notes = path, raw, spec, notes
        self.src = spec["source"]
        self.resolve = _resolver(path, raw, spec["columns"])
        for column in spec["columns"]:
            if column not in raw.columns:
                self.resolve(column, "columns")  # raises, naming the file's columns
        self.line_numbers = raw["_line"].to_numpy()
        self.fixes = {
            self.resolve(k, "text_fixes"): v for k, v in (spec.get("text_fixes") or {}).items()
        }
        self._numbers: dict[str, tuple[np.ndarray, np.ndarray]] = {}

    def text(self, column: str) -> pd.Series:
        values = text(self.raw[column])
        for old, new in self.fixes.get(column, {}).items():
            values = values.str.replace(str(old), str(new), regex=False)
        return values

    def number(self, column: str) -> tuple[np.ndarray, np.ndarray]:
        if column not in self._numbers:
            self._numbers[column] = numbers(
                self.raw[column],
                decimal=self.src.get("decimal", "."),
                thousands=self.src.get("thousands"),
                file=self.path,
                column=column,
                lines=self.line_numbers,
            )
        return self._numbers[column]

    def amount(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Amounts as the file states them, a status per line, and the offending column."""
        n = len(self.raw)
        total = np.zeros(n)
        status = np.zeros(n, dtype=int)
        culprit = np.full(n, "", dtype=object)
        for op, name in parse_amount(self.spec["amount"]):
            column = self.resolve(name, "amount")
            values, st = self.number(column)
            first_bad = (status == 0) & (st != 0)
            status[first_bad], culprit[first_bad] = st[first_bad], column
            with np.errstate(invalid="ignore", over="ignore"):
                total = {"": values, "*": total * values, "+": total + values, "-": total - values}[
                    op
                ]
        with np.errstate(invalid="ignore"):
            broken = (status == 0) & ~np.isfinite(total)
        status[broken] = NON_FINITE
        return total, status, culprit


def import_invoices(path: str | os.PathLike, mapping: Any = None) -> ImportResult:
    """Turn an invoice-line export into a contract dataset, its ledger and reconciliation.

    Parameters
    ----------
    path : path-like
        A CSV, Excel or Parquet file with one row per invoice line.
    mapping : path-like or mapping, optional
        See :func:`~kamlab.invoices.load_invoice_mapping`; by default the mapping
        :func:`~kamlab.invoices.propose_mapping` proposes (said in ``notes``).

    Returns
    -------
    ImportResult

    Raises
    ------
    DataContractError
        Mixed currencies, dates whose order the data cannot decide, numbers in another
        notation than the mapping says, credit notes with positive amounts but no
        ``credit_notes.sign``, mapped columns missing from the file.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> export = pathlib.Path(tempfile.mkdtemp()) / "export.csv"
    >>> _ = export.write_text("Kundennr;Beleg;Datum;Betrag;Art\\n"
    ...                       "K1;R1;13.01.2024;1.000,50;Rechnung\\n"
    ...                       "K1;G1;20.01.2024;100,25;Gutschrift\\n"
    ...                       "K2;R2;14.01.2024;10,00;Rechnung\\n")
    >>> result = import_invoices(export, {
    ...     "source": {"sep": ";", "decimal": ",", "thousands": "."},
    ...     "columns": {"Kundennr": "account_id", "Beleg": "invoice", "Datum": "date",
    ...                 "Betrag": "amount"},
    ...     "date_format": "%d.%m.%Y",
    ...     "credit_notes": {"column": "Art", "values": ["Gutschrift"], "sign": "positive"}})
    >>> result.dataset.transactions["amount"].tolist()
    [1000.5, 10.0, -100.25]
    >>> result.source["signed_total"], result.reconciliation["kept_amount"].tolist()
    (910.25, [-100.25, 1010.5, 910.25])
    """
    path = Path(path)
    notes: list[str] = []
    if mapping is None:
        from kamlab.invoices.propose import propose

        mapping, proposed = propose(path)
        notes += ["no mapping given: used the proposed mapping (see .mapping)", *proposed]
    spec = load_invoice_mapping(mapping)
    raw, facts = read_export(path, spec["source"])
    if not len(raw):
        raise DataContractError(f"{path.name}: no invoice lines.", file=path, rule="empty_table")
    return _build(path, raw, facts, spec, notes)


def _build(path: Path, raw: pd.DataFrame, facts: dict, spec: dict, notes: list[str]):
    reader = _Lines(path, raw, spec, notes)
    roles = {role: col for col, role in spec["columns"].items()}
    effective = copy.deepcopy(spec)
    lines = pd.DataFrame({"_row": np.arange(len(raw)), "_line": reader.line_numbers})
    for role in _TEXT_ROLES:
        if role in roles:
            lines[role] = reader.text(roles[role])
    for role in _NUMBER_ROLES:
        if role in roles:
            values, status = reader.number(roles[role])
            lines[role] = values
            if (status == NON_NUMERIC).any():
                notes.append(
                    f"{int((status == NON_NUMERIC).sum()):,} lines have text in '{roles[role]}' "
                    f"(kept, with {role} empty; first lines {_first_lines(lines, status == NON_NUMERIC)})"
                )
    amount, amount_status, culprit = reader.amount()
    dates = parse_dates(
        raw[roles["date"]],
        date_format=spec.get("date_format"),
        date_order=spec.get("date_order"),
        file=path,
        column=roles["date"],
        lines=reader.line_numbers,
    )
    lines["date"] = dates.dates.to_numpy()
    if dates.note:
        notes.append(dates.note)
    if dates.date_format and "date_format" not in spec and "date_order" not in spec:
        effective["date_format"] = dates.date_format
    elif dates.order and "date_format" not in spec and "date_order" not in spec:
        effective["date_order"] = dates.order

    currency = None
    if "currency" in spec:
        column = reader.resolve(spec["currency"], "currency")
        lines["currency"] = reader.text(column)
        counts = lines["currency"].value_counts()
        if len(counts) > 1:
            minor = lines["currency"].notna() & (lines["currency"] != counts.index[0])
            raise DataContractError(
                f"{path.name}: column '{column}' holds {len(counts)} currencies "
                f"({', '.join(f'{c} {n:,} lines' for c, n in counts.items())}); kamlab analyses "
                "money in one currency: convert the other lines or import each currency "
                f"separately (first lines not in {counts.index[0]}: "
                f"{_first_lines(lines, minor)})",
                file=path,
                column=column,
                rule="mixed_currency",
            )
        currency = str(counts.index[0]) if len(counts) else None

    credit_note, doc_type = _credit_notes(reader, lines, amount, roles, effective, notes)
    lines["amount"], lines["credit_note"] = amount, credit_note
    lines["_document_type"] = doc_type
    for file_col, attr in (spec.get("account_attributes") or {}).items():
        lines[attr] = reader.text(reader.resolve(file_col, "account_attributes"))

    ledger, kept = _apply_rules(path, raw, lines, spec, roles, amount_status, culprit)
    if not len(kept):
        raise DataContractError(
            f"{path.name}: every line was left out by the mapping's rules "
            f"({', '.join(ledger.to_frame()['rule'])}); check the mapping",
            file=path,
            rule="empty_table",
        )
    transactions = _transactions(kept, spec, roles)
    accounts = _accounts(kept, list((spec.get("account_attributes") or {}).values()), notes)
    for table, data in (("accounts", accounts), ("transactions", transactions)):
        SCHEMAS[table].validate(data)
    lines["_kept"] = lines["_row"].isin(kept["_row"])
    stray = lines["_stray"] & lines["_kept"]
    if stray.any():
        notes.append(
            f"{int(stray.sum()):,} kept negative lines that the credit-note rules do not mark "
            f"count as credit notes (negative = credit note; first lines "
            f"{_first_lines(lines, stray)})"
        )
    reconciliation = _reconcile(lines)
    _warn_without_credit_notes(path, lines, spec, notes)
    if facts.get("blank_lines"):
        notes.append(f"{facts['blank_lines']:,} empty rows in the file were skipped")
    total = reconciliation.iloc[-1]
    source = {
        **facts,
        "lines": len(raw),
        "signed_total": float(total["file_total"]),
        "kept_lines": int(total["kept_lines"]),
        "kept_total": float(total["kept_amount"]),
        "dropped_lines": int(total["dropped_lines"]),
        "dropped_total": float(total["dropped_amount"]),
        "currency": currency,
        "mapping": effective,
        "kamlab_version": __version__,
    }
    ledger_frame = ledger.to_frame()
    dataset = Dataset(
        accounts=accounts,
        transactions=transactions,
        assessments=_empty("assessments"),
        interactions=_empty("interactions"),
        ledger=ledger_frame,
        files={"transactions": str(path)},
        source=source,
    )
    return ImportResult(dataset, ledger_frame, source, reconciliation, effective, tuple(notes))


def _credit_notes(reader: _Lines, lines, amount, roles, effective, notes):
    """Which lines are credit notes, amounts signed in place; and each line's document type."""
    path, rules = reader.path, effective["credit_notes"]
    matched = np.zeros(len(lines), dtype=bool)
    doc_type = None
    if "prefix" in rules:
        if "invoice" not in lines:
            raise ValueError(f"{path.name}: credit_notes.prefix needs a column mapped to 'invoice'")
        matched |= lines["invoice"].str.startswith(rules["prefix"]).fillna(False).to_numpy(bool)
    if "column" in rules:
        column = reader.resolve(rules["column"], "credit_notes.column")
        doc_type = reader.text(column)
        matched |= doc_type.isin(rules["values"]).to_numpy()
        absent = [v for v in rules["values"] if not (doc_type == v).any()]
        if absent:
            notes.append(
                f"credit_notes.values {absent} do not occur in '{column}' (it holds "
                f"{', '.join(map(repr, doc_type.dropna().unique()[:8]))})"
            )
    if "reference" in rules:
        column = reader.resolve(rules["reference"], "credit_notes.reference")
        lines["_reference"] = reader.text(column)
        if "prefix" not in rules and "column" not in rules:
            matched |= lines["_reference"].notna().to_numpy()
    with np.errstate(invalid="ignore"):
        positive = matched & (amount > 0)
    if rules.get("sign") == "positive":
        amount[matched] = -amount[matched]
        if "quantity" in lines:
            lines.loc[matched, "quantity"] = -lines.loc[matched, "quantity"]
        notes.append(
            f"{int(matched.sum()):,} credit-note lines were negated (credit_notes.sign: "
            "positive: the file books them as positive amounts)"
        )
    elif "sign" not in rules and positive.any():
        at = int(np.argmax(positive))
        raise DataContractError(
            f"{path.name}: {int(positive.sum()):,} credit-note lines have positive amounts "
            f"(first: line {lines['_line'].iat[at]}, {amount[at]:.2f}); set credit_notes.sign: "
            "positive if the export books credit notes as positive amounts (kamlab negates "
            "them), or negative to keep the amounts as they are",
            file=path,
            rule="credit_note_sign",
        )
    with np.errstate(invalid="ignore"):
        negative = amount < 0
    lines["_stray"] = negative & ~matched if rules else False
    credit_note = matched | negative
    if doc_type is None:
        doc_type = pd.Series(np.where(credit_note, "credit note", "invoice"), index=lines.index)
    return credit_note, doc_type.fillna("(blank)")


def _apply_rules(path, raw, lines, spec, roles, amount_status, culprit):
    """Leave lines out by rule, each counted in the ledger; returns (ledger, kept lines)."""
    ledger = Ledger()
    needed = ["_row", "_line", "account_id", "amount", "date"]
    needed += [c for c in ("invoice", "product", "unit_price", "currency") if c in lines]
    frame = lines[needed].assign(_status=amount_status, _culprit=culprit)
    name = path.name

    def drop(mask, rule, column, money=True):
        nonlocal frame
        frame = ledger.drop(
            frame,
            np.asarray(mask, dtype=bool),
            table="transactions",
            file=name,
            rule=rule,
            column=column,
            amount_column="amount" if money else None,
        )

    for status, rule in _AMOUNT_RULES.items():
        for column in pd.unique(frame.loc[frame["_status"] == status, "_culprit"]):
            bad = (frame["_status"] == status) & (frame["_culprit"] == column)
            drop(bad, rule, column, money=False)
    drop(frame["date"].isna(), "unparseable_date", roles["date"])
    if spec.get("adjustment_prefix") and "invoice" in frame:
        adjust = frame["invoice"].str.startswith(spec["adjustment_prefix"]).fillna(False)
        drop(adjust, "bookkeeping_adjustment", roles.get("invoice"))
    drop(frame["account_id"].isna(), "missing_account_id", roles["account_id"])
    if spec.get("drop_exact_duplicates"):
        duplicate = raw.drop(columns="_line").duplicated(keep="first").to_numpy()
        drop(duplicate[frame["_row"].to_numpy()], "exact_duplicate", "*")
    excluded, prefixes = spec.get("exclude_products", []), spec.get("exclude_product_prefixes", [])
    if (excluded or prefixes) and "product" not in frame:
        raise ValueError(f"{name}: exclude_products needs a column mapped to 'product'")
    if excluded or prefixes:
        product = frame["product"].fillna("")
        non_product = product.isin(excluded)
        for prefix in prefixes:
            non_product |= product.str.startswith(prefix)
        drop(non_product, "non_product_code", roles["product"])
    if spec.get("drop_zero_prices"):
        if "unit_price" not in frame:
            raise ValueError(f"{name}: drop_zero_prices needs a column mapped to 'unit_price'")
        drop(frame["unit_price"] <= 0, "non_positive_price", roles["unit_price"])
    if "currency" in frame:
        drop(frame["currency"].isna(), "missing_currency", spec["currency"])
    return ledger, lines.loc[frame.index]


def _link_guessed(tx: pd.DataFrame) -> pd.Series:
    """For each credit note, the latest earlier invoice of the same product by the same account."""
    notes = tx.loc[tx["credit_note"], ["account_id", "product", "date", "_row"]]
    buys = tx.loc[~tx["credit_note"], ["account_id", "product", "date", "invoice"]]
    linked = pd.merge_asof(
        notes.sort_values("date", kind="stable"),
        buys.dropna(subset=["product"]).sort_values("date", kind="stable"),
        on="date",
        by=["account_id", "product"],
        direction="backward",
    )
    out = pd.Series(np.nan, index=tx.index, dtype=object)
    out[tx["credit_note"]] = (
        linked.set_index("_row")["invoice"].reindex(tx.loc[tx["credit_note"], "_row"]).to_numpy()
    )
    return out


def _transactions(kept: pd.DataFrame, spec: dict, roles: dict) -> pd.DataFrame:
    tx = kept.copy()
    row = tx["_row"].astype(str)
    tx["transaction_id"] = (tx["invoice"].fillna("") + "-" + row) if "invoice" in tx else "L" + row
    if "_reference" in tx:
        tx["original_invoice"] = tx["_reference"].where(tx["credit_note"])
    elif "invoice" in tx and "product" in tx and tx["credit_note"].any():
        tx["original_invoice"] = _link_guessed(tx)
    tx = tx.sort_values(["date", "_row"], kind="stable")
    tx = tx[[c for c in _KEEP if c in tx]].reset_index(drop=True)
    for col in tx.columns:
        if col in ("amount", "quantity", "cost", "unit_price"):
            tx[col] = tx[col].astype("float64")
        elif col == "date":
            tx[col] = tx[col].astype("datetime64[us]")
        elif col != "credit_note":
            tx[col] = tx[col].astype("str")
    return tx


def _accounts(kept: pd.DataFrame, attributes: list[str], notes: list[str]) -> pd.DataFrame:
    accounts = pd.DataFrame({"account_id": np.sort(kept["account_id"].unique())})
    for attr in attributes:
        counts = (
            kept.groupby(["account_id", attr])
            .size()
            .rename("n")
            .reset_index()
            .sort_values(["account_id", "n", attr], ascending=[True, False, True], kind="stable")
        )
        several = int(counts["account_id"].duplicated().groupby(counts["account_id"]).any().sum())
        if several:
            notes.append(
                f"{several:,} accounts have more than one {attr}: the most frequent is kept "
                "(ties: the first in alphabetical order)"
            )
        first = counts.drop_duplicates("account_id").set_index("account_id")[attr]
        accounts[attr] = accounts["account_id"].map(first).astype("str")
    accounts["account_id"] = accounts["account_id"].astype("str")
    return accounts


def _reconcile(lines: pd.DataFrame) -> pd.DataFrame:
    """Per document type and in total: the file's signed total = kept + dropped, to the cent."""
    finite = np.isfinite(lines["amount"].to_numpy(dtype=float))
    money = lines["amount"].where(finite, 0.0)
    frame = pd.DataFrame(
        {
            "document_type": lines["_document_type"].astype(str),
            "lines": 1,
            "file_total": money,
            "kept_lines": lines["_kept"].astype(int),
            "kept_amount": money.where(lines["_kept"], 0.0),
            "dropped_lines": (~lines["_kept"]).astype(int),
            "dropped_amount": money.where(~lines["_kept"], 0.0),
        }
    )
    table = frame.groupby("document_type", sort=True).sum()
    table.loc["total"] = frame.drop(columns="document_type").sum()
    table = table.reset_index()
    for col in ("file_total", "kept_amount", "dropped_amount"):
        table[col] = table[col].astype(float).round(2)
    for col in ("lines", "kept_lines", "dropped_lines"):
        table[col] = table[col].astype("int64")
    table["difference"] = (
        table["file_total"] - table["kept_amount"] - table["dropped_amount"]
    ).round(2) + 0.0
    return table


def _warn_without_credit_notes(path: Path, lines, spec, notes: list[str]) -> None:
    rules = spec["credit_notes"]
    if len(lines) > MANY_LINES and not lines["credit_note"].any():
        message = (
            f"{path.name}: {len(lines):,} lines and not one credit note"
            f"{' matched by the credit_notes rules' if rules else ''}; if the export marks "
            "credit notes, set credit_notes.prefix, credit_notes.column with "
            "credit_notes.values (and credit_notes.sign), or credit_notes.reference"
        )
        warnings.warn(message, UserWarning, stacklevel=4)
        notes.append(message)


def write_import(result: ImportResult, folder: str | os.PathLike) -> Path:
    """Write an import as a contract folder: Parquet tables, ``ledger.csv``, ``source.json``.

    kamlab replaces only a folder it wrote itself (one holding ``source.json``) or an empty one.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> export = pathlib.Path(tempfile.mkdtemp()) / "export.csv"
    >>> _ = export.write_text("cust,day,value\\nA,2024-01-05,10\\nB,2024-01-06,-4\\n")
    >>> result = import_invoices(export, {"columns": {"cust": "account_id", "day": "date",
    ...                                               "value": "amount"}})
    >>> folder = write_import(result, export.parent / "contract")
    >>> sorted(p.name for p in folder.iterdir())
    ['accounts.parquet', 'ledger.csv', 'source.json', 'transactions.parquet']
    """
    from kamlab.datasets import write_dataset

    folder = Path(folder)
    if folder.exists() and any(folder.iterdir()) and not (folder / SOURCE_FILE).is_file():
        raise ValueError(
            f"{folder} exists and was not written by kamlab import; choose a new folder"
        )
    return write_dataset(result.dataset, folder, fmt="parquet")
