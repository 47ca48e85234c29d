"""The data contract: find, load, validate and cross-check the four kamlab tables.

Tables (see ``README.md``, "Data contract"):

============  ==========================================  ==================================
table         required columns                            optional columns
============  ==========================================  ==================================
accounts      account_id                                  name, industry, region, size_band,
                                                          account_manager, acquired_on,
                                                          churned_on, contract_renewal_on
transactions  account_id, date, amount                    transaction_id, product, category,
                                                          quantity, cost, currency
assessments   account_id, assessed_on, criterion, score   assessor, note
interactions  account_id, date, kind                      value
============  ==========================================  ==================================

Where the tables are: :func:`find_tables` is kamlab's one rule for it (a folder with one file
or one sub-folder of parts per table, or a workbook with one sheet per table).

What the contract accepts, cell by cell:

- **dates** are ``YYYY-MM-DD``, optionally with a time (``2024-01-05 13:45:00``), from
  1900-01-01 on, without a timezone offset; ``2023-06``, ``2024-12-3`` and ``05/02/2022`` are
  errors, never guesses;
- **numbers** are finite (``inf`` is an error); in number and date columns an empty cell or a
  null marker (``NULL``, ``nan``, ``NA``, ``N/A``, ``None``, ``#N/A``) is a missing value;
- **text** is kept as written (an id ``007`` keeps its zeros; ``NULL`` as an account id is an
  id); ids are stripped, and blank text is missing;
- **lines**: a CSV line with more or fewer fields than the header, and a transactions line that
  repeats an earlier one exactly when there is no ``transaction_id`` to tell them apart, break
  the contract like a bad cell does.

Every problem becomes a :class:`DataContractError` naming the file, the column, the rule and
the first offending rows with their line (CSV) or row (Excel sheet row, Parquet row) number.
With ``on_error="drop"`` row-level problems drop the rows instead, and every drop is counted in
the dataset's data-quality ledger (:class:`kamlab.ledger.Ledger`), so kept + ledgered rows =
the rows of the file; structural problems (a missing file, column or sheet, an empty table, an
unreadable file, a wrong column type) always raise.
"""

from __future__ import annotations

import difflib
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd
import pandera.pandas as pa

from kamlab.ledger import LEDGER_FILE, Ledger, read_ledger, read_source

__all__ = [
    "OPTIONAL_COLUMNS",
    "REQUIRED_COLUMNS",
    "SCHEMAS",
    "TABLES",
    "TRANSACTION_COLUMNS",
    "DataContractError",
    "Dataset",
    "TableSource",
    "find_tables",
    "load_dataset",
    "load_table",
]

TABLES = ("accounts", "transactions", "assessments", "interactions")
REQUIRED_TABLES = ("accounts", "transactions")

REQUIRED_COLUMNS: dict[str, tuple[str, ...]] = {
    "accounts": ("account_id",),
    "transactions": ("account_id", "date", "amount"),
    "assessments": ("account_id", "assessed_on", "criterion", "score"),
    "interactions": ("account_id", "date", "kind"),
}
OPTIONAL_COLUMNS: dict[str, tuple[str, ...]] = {
    "accounts": (
        "name",
        "industry",
        "region",
        "size_band",
        "account_manager",
        "acquired_on",
        "churned_on",
        "contract_renewal_on",
    ),
    "transactions": ("transaction_id", "product", "category", "quantity", "cost", "currency"),
    "assessments": ("assessor", "note"),
    "interactions": ("value",),
}
#: The order of the transactions columns in the files kamlab writes (imports, synthetic data):
#: the line id, the required columns, the other optional ones.
TRANSACTION_COLUMNS: tuple[str, ...] = (
    ("transaction_id",)
    + REQUIRED_COLUMNS["transactions"]
    + tuple(c for c in OPTIONAL_COLUMNS["transactions"] if c != "transaction_id")
)
DATE_COLUMNS: dict[str, tuple[str, ...]] = {
    "accounts": ("acquired_on", "churned_on", "contract_renewal_on"),
    "transactions": ("date",),
    "assessments": ("assessed_on",),
    "interactions": ("date",),
}
NUMERIC_COLUMNS: dict[str, tuple[str, ...]] = {
    "accounts": (),
    "transactions": ("amount", "quantity", "cost"),
    "assessments": ("score",),
    "interactions": ("value",),
}
ID_COLUMNS = ("account_id", "transaction_id")
# Columns whose missing values are errors (beyond the id, which is always required).
NOT_NULL: dict[str, tuple[str, ...]] = dict(REQUIRED_COLUMNS)
# Dates allowed after the data's end (contracts renew in the future).
FUTURE_OK = {("accounts", "contract_renewal_on")}
SCORE_RANGE = (1.0, 5.0)
EARLIEST = pd.Timestamp("1900-01-01")
NULL_MARKERS = frozenset({"nan", "null", "none", "na", "n/a", "#n/a", "<na>", "nat"})
SUFFIXES = {
    ".csv": "csv",
    ".txt": "csv",
    ".parquet": "parquet",
    ".pq": "parquet",
    ".xlsx": "excel",
    ".xlsm": "excel",
    ".xls": "excel",
}


def _schema(table: str) -> pa.DataFrameSchema:
    """The pandera schema of a table after parsing (types, nullability, value ranges)."""
    cols: dict[str, pa.Column] = {}
    for col in REQUIRED_COLUMNS[table] + OPTIONAL_COLUMNS[table]:
        dtype: type
        if col in DATE_COLUMNS[table]:
            dtype = pa.DateTime
        elif col in NUMERIC_COLUMNS[table]:
            dtype = pa.Float64
        else:
            dtype = pa.String
        checks = [pa.Check.in_range(*SCORE_RANGE)] if col == "score" else []
        cols[col] = pa.Column(
            dtype,
            checks=checks,
            nullable=col not in NOT_NULL[table],
            required=col in REQUIRED_COLUMNS[table],
        )
    unique = ["account_id"] if table == "accounts" else None
    return pa.DataFrameSchema(cols, unique=unique, strict=False, coerce=False, name=table)


#: pandera schemas of the contract, one per table, for users who validate their own frames.
SCHEMAS: dict[str, pa.DataFrameSchema] = {t: _schema(t) for t in TABLES}


class DataContractError(ValueError):
    """Input data break the contract.

    Attributes
    ----------
    file, table, column, rule : str or None
        Where the problem is and which rule it breaks.
    rows : pandas.DataFrame or None
        The first offending rows, with their ``line`` (CSV line, sheet or Parquet row).

    Examples
    --------
    >>> try:
    ...     load_table("data/sample/accounts.csv", "transactions")
    ... except DataContractError as err:
    ...     print(err.rule, err.column)
    missing_column date
    """

    def __init__(self, message: str, *, file=None, table=None, column=None, rule=None, rows=None):
        super().__init__(message)
        self.file = None if file is None else str(file)
        self.table = table
        self.column = column
        self.rule = rule
        self.rows = rows


# --------------------------------------------------------------------------- file discovery
@dataclass(frozen=True)
class TableSource:
    """Where one table is: its file(s), the sheet of a workbook, and the file kind.

    Examples
    --------
    >>> src = TableSource("accounts", (Path("data/accounts.csv"),), None, "csv")
    >>> src.kind, src.files[0].name
    ('csv', 'accounts.csv')
    """

    table: str
    files: tuple[Path, ...]
    sheet: str | None
    kind: str
    #: the ``<table>/`` folder the files are parts of (None for a single file or workbook)
    folder: Path | None = None


def _kind(path: Path) -> str:
    kind = SUFFIXES.get(path.suffix.lower())
    if kind is None:
        raise DataContractError(
            f"{path.name}: unsupported file type '{path.suffix or '(none)'}'. "
            f"kamlab reads CSV (.csv), Parquet (.parquet) and Excel (.xlsx, .xls) files.",
            file=path,
            rule="file_type",
        )
    return kind


def _hidden(path: Path, folder: Path) -> bool:
    return any(part.startswith((".", "_")) for part in path.relative_to(folder).parts)


def _parts(folder: Path, table: str) -> TableSource:
    """A table spread over the Parquet (or CSV) files of a folder, recursively, sorted."""
    files = sorted(p for p in folder.rglob("*") if p.is_file() and not _hidden(p, folder))
    kinds = {p: SUFFIXES.get(p.suffix.lower()) for p in files}
    odd = [p for p, k in kinds.items() if k not in ("csv", "parquet")]
    if odd:
        raise DataContractError(
            f"{folder}: '{odd[0].relative_to(folder)}' is not a Parquet or CSV file; a table "
            f"folder holds only the parts of the {table} table.",
            file=odd[0],
            table=table,
            rule="file_type",
        )
    if len(set(kinds.values())) > 1:
        raise DataContractError(
            f"{folder}: the {table} folder mixes Parquet and CSV files; keep one kind.",
            file=folder,
            table=table,
            rule="ambiguous_file",
        )
    if not files:
        raise DataContractError(
            f"{folder}: the {table} folder holds no Parquet or CSV files.",
            file=folder,
            table=table,
            rule="missing_file",
        )
    return TableSource(table, tuple(files), None, next(iter(kinds.values())) or "csv", folder)


def _source(path: Path, table: str, sheet: str | None = None) -> TableSource:
    if path.is_dir():
        return _parts(path, table)
    kind = _kind(path)
    return TableSource(table, (path,), sheet if kind == "excel" else None, kind)


def _missing(root: Path, table: str, names: list[str], what: str, rule: str):
    close = difflib.get_close_matches(table, [Path(n).stem for n in names], n=1, cutoff=0.6)
    hint = f" Found {close[0]!r} (names are case-sensitive)." if close else ""
    return DataContractError(f"{root}: no {table} {what}.{hint}", file=root, table=table, rule=rule)


def find_tables(path: str | os.PathLike) -> dict[str, TableSource]:
    """Find the tables of a portfolio: kamlab's one rule for where data files are.

    A folder holds, per table, either one file ``<table>.csv|.txt|.parquet|.pq|.xlsx|.xlsm|.xls``
    or a sub-folder ``<table>/`` of Parquet (or CSV) files, read recursively in sorted order
    (names starting with ``.`` or ``_`` are skipped). A workbook holds one sheet per table.
    Other files (``ledger.csv``, ``source.json``, notes) are ignored.

    Parameters
    ----------
    path : path-like
        A data folder or an Excel workbook.

    Returns
    -------
    dict of str to TableSource
        The tables found, in contract order; ``accounts`` and ``transactions`` always.

    Raises
    ------
    DataContractError
        ``missing_file`` (or ``missing_sheet``) without accounts or transactions,
        ``ambiguous_file`` when a table has two candidates, ``file_type`` for a file kamlab
        cannot read.

    Examples
    --------
    >>> tables = find_tables("data/sample")
    >>> sorted(tables), tables["transactions"].kind
    (['accounts', 'assessments', 'interactions', 'transactions'], 'csv')
    """
    root = Path(path)
    found: dict[str, TableSource] = {}
    if root.is_file():
        if _kind(root) != "excel":
            raise DataContractError(
                f"{root.name}: a single file must be an Excel workbook with one sheet per table "
                f"({', '.join(TABLES)}); otherwise pass the folder holding one file per table.",
                file=root,
                rule="file_type",
            )
        try:
            with pd.ExcelFile(root, engine="calamine") as book:
                sheets = [str(s) for s in book.sheet_names]
        except Exception as exc:
            raise DataContractError(
                f"{root.name}: could not be read as an Excel workbook: {exc}",
                file=root,
                rule="unreadable",
            ) from exc
        found = {t: TableSource(t, (root,), t, "excel") for t in TABLES if t in sheets}
        for table in REQUIRED_TABLES:
            if table not in found:
                raise _missing(root, table, sheets, "sheet", "missing_sheet")
        return found
    if not root.is_dir():
        raise DataContractError(
            f"{root}: no such file or directory.", file=root, rule="missing_file"
        )
    entries = sorted(root.iterdir())
    for table in TABLES:
        candidates = [p for p in entries if p.stem == table]
        if len(candidates) > 1:
            names = ", ".join(p.name + ("/" if p.is_dir() else "") for p in candidates)
            raise DataContractError(
                f"{root}: several candidates for the {table} table ({names}); keep one.",
                file=root,
                table=table,
                rule="ambiguous_file",
            )
        if not candidates:
            continue
        (path_,) = candidates
        if path_.is_dir() and path_.name != table:
            raise DataContractError(
                f"{path_}: is a folder, not a file (a table folder is named '{table}').",
                file=path_,
                table=table,
                rule="not_a_file",
            )
        found[table] = _source(path_, table)
    for table in REQUIRED_TABLES:
        if table not in found:
            raise _missing(
                root,
                table,
                [p.name for p in entries],
                f"file (expected {table}.csv, {table}.parquet, {table}.xlsx or a {table}/ folder)",
                "missing_file",
            )
    return found


# --------------------------------------------------------------------------- the dataset
@dataclass
class Dataset:
    """All tables of one portfolio, validated and cross-checked.

    Attributes
    ----------
    accounts, transactions, assessments, interactions : pandas.DataFrame
        The tables in contract form; absent optional tables are empty frames with the required
        columns, so downstream code needs no special case.
    ledger : pandas.DataFrame
        Data-quality ledger (:data:`kamlab.ledger.LEDGER_COLUMNS`): the rows an import left out
        (its ``ledger.csv``) first, then one row per rule and file that dropped rows here.
    files : dict
        The file (or folder of parts) each table came from; absent tables are missing.
    source : dict or None
        What an import read (its ``source.json``), when the folder has one.

    Examples
    --------
    >>> ds = load_dataset("data/sample")
    >>> row = ds.summary().loc["transactions"]
    >>> row["file"], int(row["rows"]), int(row["accounts"])
    ('transactions.csv', 15547, 300)
    >>> ds.start.date().isoformat(), ds.source is None
    ('2022-01-01', True)
    """

    accounts: pd.DataFrame
    transactions: pd.DataFrame
    assessments: pd.DataFrame
    interactions: pd.DataFrame
    ledger: pd.DataFrame = field(default_factory=lambda: Ledger().to_frame())
    files: dict[str, str] = field(default_factory=dict)
    source: dict | None = None

    @property
    def start(self) -> pd.Timestamp:
        """First transaction date."""
        return self.transactions["date"].min()

    @property
    def end(self) -> pd.Timestamp:
        """Last transaction date (the data's end)."""
        return self.transactions["date"].max()

    @property
    def has_assessments(self) -> bool:
        return len(self.assessments) > 0

    @property
    def has_interactions(self) -> bool:
        return len(self.interactions) > 0

    def summary(self) -> pd.DataFrame:
        """One row per table: file, rows, distinct accounts, first and last date."""
        rows = []
        for table in TABLES:
            frame = getattr(self, table)
            dates = [
                c
                for c in DATE_COLUMNS[table]
                if c in frame and c not in ("churned_on", "contract_renewal_on")
            ]
            first = min((frame[c].min() for c in dates), default=pd.NaT) if len(frame) else pd.NaT
            last = max((frame[c].max() for c in dates), default=pd.NaT) if len(frame) else pd.NaT
            rows.append(
                {
                    "table": table,
                    "file": Path(self.files[table]).name if table in self.files else "(absent)",
                    "rows": len(frame),
                    "accounts": frame["account_id"].nunique() if len(frame) else 0,
                    "first_date": first.date() if pd.notna(first) else None,
                    "last_date": last.date() if pd.notna(last) else None,
                }
            )
        return pd.DataFrame(rows).set_index("table")


def load_table(
    path: str | os.PathLike,
    table: str,
    *,
    columns: Mapping[str, Any] | None = None,
    sheet: str | None = None,
    on_error: str = "raise",
    data_end=None,
    ledger: Ledger | None = None,
    encoding: str = "utf-8",
) -> pd.DataFrame:
    """Load one table from CSV, Parquet or Excel and validate it against the contract.

    Parameters
    ----------
    path : path-like
        The file, or a folder of Parquet (or CSV) parts.
    table : {"accounts", "transactions", "assessments", "interactions"}
    columns : mapping, optional
        The user's column names → contract names, e.g. ``{"CustomerID": "account_id"}``.
    sheet : str, optional
        Excel sheet; defaults to a sheet named like the table, else the only sheet.
    on_error : {"raise", "drop"}
        Raise :class:`DataContractError` on the first broken rule, or drop offending rows.
    data_end : timestamp, optional
        Dates after it are errors (default: no check for a lone table).
    ledger : kamlab.ledger.Ledger, optional
        Where drops are counted (``on_error="drop"``); a new ledger by default.
    encoding : str
        Text encoding of a CSV file (default UTF-8, with or without a byte-order mark).

    Returns
    -------
    pandas.DataFrame
        The table with contract column names and types.

    Examples
    --------
    >>> accounts = load_table("data/sample/accounts.csv", "accounts")
    >>> len(accounts), accounts["account_id"].iloc[0]
    (300, 'A00001')
    """
    from kamlab import _validate

    if table not in TABLES:
        raise ValueError(f"table must be one of {TABLES}, not {table!r}")
    policy = _validate.Policy(on_error, ledger)
    mappings, _ = _validate.mappings(columns, only=table)
    src = _source(Path(path), table, sheet)
    frame, _, _ = _validate.load(src, mappings.get(table), True, policy, data_end, encoding)
    return frame.drop(columns=list(_validate.HELPERS))


def load_dataset(
    path: str | os.PathLike,
    *,
    columns: Mapping[str, Any] | None = None,
    files: Mapping[str, str | os.PathLike] | None = None,
    on_error: str = "raise",
    data_end=None,
    encoding: str = "utf-8",
) -> Dataset:
    """Load all tables of a portfolio, validated and cross-checked.

    Parameters
    ----------
    path : path-like
        A folder or workbook laid out as :func:`find_tables` describes. A folder written by an
        import may also hold ``ledger.csv`` and ``source.json``: the import's ledger rows come
        first in ``Dataset.ledger`` and its source record is ``Dataset.source``.
    columns : mapping, optional
        Column-name mapping, either one mapping for all tables (``{"CustomerID": "account_id"}``;
        each file renames the columns it has) or one per table
        (``{"transactions": {"InvoiceDate": "date"}}``; each named column must be in the file).
    files : mapping, optional
        Explicit file (or folder of parts) per table, overriding the discovery in ``path``.
    on_error : {"raise", "drop"}
        ``"raise"`` (default) stops at the first broken rule with a :class:`DataContractError`;
        ``"drop"`` drops offending rows and records each rule in ``Dataset.ledger``.
    data_end : date-like, optional
        Dates after it are "in the future". Default: the last transaction date for the other
        tables, and today for transactions.
    encoding : str
        Text encoding of the CSV files (default UTF-8, with or without a byte-order mark).

    Returns
    -------
    Dataset

    Examples
    --------
    >>> ds = load_dataset("data/sample")
    >>> len(ds.accounts), len(ds.transactions), ds.ledger.empty
    (300, 15547, True)
    """
    from kamlab import _validate

    root = Path(path) if path is not None else None
    imported = root is not None and root.is_dir()
    try:
        with_ledger = imported and (root / LEDGER_FILE).is_file()
        ledger = Ledger(read_ledger(root).to_dict("records")) if with_ledger else Ledger()
        source = read_source(root) if imported else None
    except Exception as exc:
        raise DataContractError(
            f"{root}: the import's ledger.csv or source.json cannot be read: {exc}",
            file=root,
            rule="unreadable",
        ) from exc
    policy = _validate.Policy(on_error, ledger)
    mappings, flat = _validate.mappings(columns)
    found = find_tables(root) if root is not None else {}
    for table, file in (files or {}).items():
        if table not in TABLES:
            raise ValueError(f"files= names table {table!r}; expected one of {TABLES}")
        found[table] = _source(Path(file), table)
    for table in REQUIRED_TABLES:
        if table not in found:
            raise DataContractError(
                f"no {table} table: pass a data folder or files={{'{table}': ...}}.",
                table=table,
                rule="missing_file",
            )
    limit = pd.Timestamp(data_end) if data_end is not None else pd.Timestamp.today().normalize()
    used: set[str] = set()

    def load(table, end):
        frame, where, names = _validate.load(
            found[table], mappings.get(table), not flat, policy, end, encoding
        )
        used.update(names)
        return frame, where

    transactions, tx_where = load(
        "transactions",
        limit + pd.Timedelta(days=1) - pd.Timedelta(1, "ns") if data_end is None else limit,
    )
    end_of_data = transactions["date"].max() if data_end is None else limit
    # Child-table dates may fall on the data's last day, whatever its time of day.
    day_end = end_of_data.normalize() + pd.Timedelta(days=1) - pd.Timedelta(1, "ns")
    accounts, acc_where = load("accounts", day_end)
    tables = {"accounts": accounts, "transactions": transactions}
    wheres = {"accounts": acc_where, "transactions": tx_where}
    for table in ("assessments", "interactions"):
        if table in found:
            tables[table], wheres[table] = load(table, day_end)
        else:
            tables[table] = _empty(table)
    unused = sorted(set(mappings.get("accounts", {})) - used) if flat else []
    if unused:
        raise DataContractError(
            f"columns= maps {', '.join(map(repr, unused))}, which no file has.", rule="mapping"
        )
    known = set(accounts["account_id"])
    for table in ("transactions", "assessments", "interactions"):
        frame = tables[table]
        if len(frame):
            tables[table] = policy.handle(
                frame, ~frame["account_id"].isin(known), wheres[table], column="account_id",
                rule="unknown_account",
                what=f"has account ids that are not in {acc_where.names[0]}",
            ).reset_index(drop=True)  # fmt: skip
    for table, where in wheres.items():
        if len(tables[table]) == 0:
            raise where.fail(
                f"no valid rows left in the {table} table after dropping offending rows "
                "(see the ledger).",
                "empty_table",
            )
    tables = {
        t: f.drop(columns=list(_validate.HELPERS), errors="ignore") for t, f in tables.items()
    }
    return Dataset(
        **tables,
        ledger=policy.ledger.to_frame(),
        files={t: str(_folder(s)) for t, s in found.items()},
        source=source,
    )


def _folder(src: TableSource) -> Path:
    return src.folder if src.folder is not None else src.files[0]


def _empty(table: str) -> pd.DataFrame:
    cols = {}
    for col in REQUIRED_COLUMNS[table]:
        if col in DATE_COLUMNS[table]:
            cols[col] = pd.Series(dtype="datetime64[us]")
        elif col in NUMERIC_COLUMNS[table]:
            cols[col] = pd.Series(dtype="float64")
        else:
            cols[col] = pd.Series(dtype="str")
    return pd.DataFrame(cols)
