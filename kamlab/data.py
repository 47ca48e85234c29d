"""The data contract: load, validate and cross-check the four kamlab tables.

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

Every problem becomes a :class:`DataContractError` naming the file, the column, the rule and
the first offending rows. With ``on_error="drop"`` row-level problems drop the rows instead,
and every drop is counted in the dataset's data-quality ledger; structural problems (a missing
file, column or sheet, an empty table, a wrong file type) always raise.
"""

from __future__ import annotations

import difflib
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
import pandera.pandas as pa

__all__ = [
    "LEDGER_COLUMNS",
    "OPTIONAL_COLUMNS",
    "REQUIRED_COLUMNS",
    "SCHEMAS",
    "TABLES",
    "DataContractError",
    "Dataset",
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
# Columns whose missing values are errors (beyond the id, which is always required).
NOT_NULL: dict[str, tuple[str, ...]] = {
    "accounts": ("account_id",),
    "transactions": ("account_id", "date", "amount"),
    "assessments": ("account_id", "assessed_on", "criterion", "score"),
    "interactions": ("account_id", "date", "kind"),
}
# Dates allowed after the data's end (contracts renew in the future).
FUTURE_OK = {("accounts", "contract_renewal_on")}
SCORE_RANGE = (1.0, 5.0)
SUFFIXES = {
    ".csv": "csv",
    ".txt": "csv",
    ".parquet": "parquet",
    ".pq": "parquet",
    ".xlsx": "excel",
    ".xlsm": "excel",
    ".xls": "excel",
}
LEDGER_COLUMNS = ["table", "file", "rule", "column", "rows_dropped", "example_ids"]
MAX_EXAMPLES = 5


def _schema(table: str) -> pa.DataFrameSchema:
    """The pandera schema of a table after parsing (types, nullability, value ranges)."""
    cols: dict[str, pa.Column] = {}
    for col in REQUIRED_COLUMNS[table] + OPTIONAL_COLUMNS[table]:
        required = col in REQUIRED_COLUMNS[table]
        nullable = col not in NOT_NULL[table]
        dtype: type
        if col in DATE_COLUMNS[table]:
            dtype = pa.DateTime
        elif col in NUMERIC_COLUMNS[table]:
            dtype = pa.Float64
        else:
            dtype = pa.String
        checks = []
        if table == "assessments" and col == "score":
            checks.append(pa.Check.in_range(*SCORE_RANGE))
        cols[col] = pa.Column(dtype, checks=checks, nullable=nullable, required=required)
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
        The first offending rows, with their line number in the file.
    """

    def __init__(self, message: str, *, file=None, table=None, column=None, rule=None, rows=None):
        super().__init__(message)
        self.file = None if file is None else str(file)
        self.table = table
        self.column = column
        self.rule = rule
        self.rows = rows


@dataclass
class Dataset:
    """All tables of one portfolio, validated and cross-checked.

    Attributes
    ----------
    accounts, transactions, assessments, interactions : pandas.DataFrame
        The tables in contract form; absent optional tables are empty frames with the required
        columns, so downstream code needs no special case.
    ledger : pandas.DataFrame
        Data-quality ledger: one row per rule that dropped rows (``on_error="drop"``) or per
        adapter exclusion, with columns ``table, file, rule, column, rows_dropped, example_ids``.
    files : dict
        The file each table came from (absent tables are missing from the dict).
    """

    accounts: pd.DataFrame
    transactions: pd.DataFrame
    assessments: pd.DataFrame
    interactions: pd.DataFrame
    ledger: pd.DataFrame = field(default_factory=lambda: pd.DataFrame(columns=LEDGER_COLUMNS))
    files: dict[str, str] = field(default_factory=dict)

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


class _Ledger:
    """Collects drops; raises instead when the user did not opt in."""

    def __init__(self, on_error: str):
        if on_error not in ("raise", "drop"):
            raise ValueError(f"on_error must be 'raise' or 'drop', not {on_error!r}")
        self.on_error = on_error
        self.rows: list[dict] = []

    def handle(self, frame: pd.DataFrame, bad: pd.Series, *, table, file, column, rule, what):
        """Raise for (or drop and count) the rows where ``bad`` is true; return the kept frame."""
        bad = bad.fillna(False).astype(bool)
        n_bad = int(bad.sum())
        if n_bad == 0:
            return frame
        offending = frame.loc[bad]
        if self.on_error == "raise":
            raise DataContractError(
                _message(file, table, column, rule, what, n_bad, offending),
                file=file,
                table=table,
                column=column,
                rule=rule,
                rows=offending.head(MAX_EXAMPLES),
            )
        ids = (
            offending["account_id"].astype(str).head(MAX_EXAMPLES)
            if "account_id" in offending
            else []
        )
        self.rows.append(
            {
                "table": table,
                "file": Path(file).name,
                "rule": rule,
                "column": column,
                "rows_dropped": n_bad,
                "example_ids": ", ".join(dict.fromkeys(ids)),
            }
        )
        return frame.loc[~bad]

    def frame(self) -> pd.DataFrame:
        return pd.DataFrame(self.rows, columns=LEDGER_COLUMNS)


def _message(file, table, column, rule, what, n_bad, offending: pd.DataFrame) -> str:
    shown = offending.head(MAX_EXAMPLES)
    lines = []
    for line_no, row in zip(shown["_line"], shown.drop(columns="_line").to_dict("records")):
        parts: list[str] = []
        for key in ("account_id", column):
            if key in row and key not in (p.split("=")[0] for p in parts):
                parts.append(f"{key}={_show(row.get(_raw(key), row[key]))}")
        lines.append(f"  line {line_no}: " + ", ".join(parts))
    more = f"\n  ... and {n_bad - len(shown)} more" if n_bad > len(shown) else ""
    hint = (
        ""
        if rule in ("unknown_account", "duplicate_key")
        else (
            "\nFix the file, or pass on_error='drop' to drop such rows and count them in the ledger."
        )
    )
    return (
        f"{Path(file).name}: column '{column}' {what} ({n_bad} row{'s' if n_bad != 1 else ''}, "
        f"rule {rule}). First offending rows:\n" + "\n".join(lines) + more + hint
    )


def _raw(column: str) -> str:
    return f"_raw_{column}"


def _show(value) -> str:
    if value is None or (isinstance(value, float) and np.isnan(value)) or value is pd.NA:
        return "<missing>"
    if isinstance(value, pd.Timestamp):
        return value.date().isoformat() if value == value.normalize() else value.isoformat()
    return repr(value) if isinstance(value, str) else str(value)


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


def _read(path: Path, table: str, sheet: str | None) -> pd.DataFrame:
    kind = _kind(path)
    if not path.exists():
        raise DataContractError(
            f"{path}: file not found (expected the {table} table).",
            file=path,
            table=table,
            rule="missing_file",
        )
    try:
        if kind == "csv":
            # Read everything as text so that parsing below can report the offending values.
            frame = pd.read_csv(
                path, dtype=str, keep_default_na=False, na_values=[""], skipinitialspace=True
            )
        elif kind == "parquet":
            frame = pd.read_parquet(path)
        else:
            with pd.ExcelFile(path) as book:
                sheets = book.sheet_names
                name = sheet if sheet is not None else (table if table in sheets else sheets[0])
                if name not in sheets:
                    raise DataContractError(
                        f"{path.name}: sheet '{name}' not found; the workbook has sheets "
                        f"{', '.join(map(repr, sheets))}.",
                        file=path,
                        table=table,
                        rule="missing_sheet",
                    )
                frame = pd.read_excel(book, sheet_name=name, dtype=object)
    except DataContractError:
        raise
    except pd.errors.EmptyDataError:
        frame = pd.DataFrame()
    except Exception as exc:  # a corrupt or mislabelled file
        raise DataContractError(
            f"{path.name}: could not be read as {kind}: {exc}",
            file=path,
            table=table,
            rule="unreadable",
        ) from exc
    frame.columns = [str(c).strip() for c in frame.columns]
    return frame


def _rename(frame: pd.DataFrame, mapping: Mapping[str, str] | None, path: Path, table: str):
    if not mapping:
        return frame
    missing = [src for src in mapping if src not in frame.columns]
    if missing:
        raise DataContractError(
            f"{path.name}: the column mapping names {', '.join(map(repr, missing))}, which "
            f"{'is' if len(missing) == 1 else 'are'} not in the file (columns: "
            f"{', '.join(map(repr, frame.columns))}).",
            file=path,
            table=table,
            column=missing[0],
            rule="mapping",
        )
    return frame.rename(columns=dict(mapping))


def _check_columns(frame: pd.DataFrame, path: Path, table: str) -> None:
    if frame.shape[1] == 0 or len(frame) == 0:
        raise DataContractError(
            f"{path.name}: the {table} table is empty (no data rows).",
            file=path,
            table=table,
            rule="empty_table",
        )
    for col in REQUIRED_COLUMNS[table]:
        if col not in frame.columns:
            close = difflib.get_close_matches(col, list(frame.columns), n=1, cutoff=0.5)
            hint = (
                f" Did you mean '{close[0]}'? Map it with columns={{'{close[0]}': '{col}'}}."
                if close
                else " Use the columns= mapping if it has another name."
            )
            raise DataContractError(
                f"{path.name}: required column '{col}' is missing from the {table} table "
                f"(columns found: {', '.join(map(repr, frame.columns))}).{hint}",
                file=path,
                table=table,
                column=col,
                rule="missing_column",
            )


def _as_id(series: pd.Series) -> pd.Series:
    """Account ids as strings; integral floats (Parquet/Excel NaN-padded ints) lose their '.0'."""
    if pd.api.types.is_float_dtype(series):
        whole = series.dropna()
        if (whole == np.floor(whole)).all():
            series = series.astype("Int64")
    out = series.astype("str").str.strip()
    return out.where(series.notna(), np.nan).astype("str")


def _parse(frame: pd.DataFrame, table: str, path: Path, ledger: _Ledger, data_end) -> pd.DataFrame:
    frame = frame.copy()
    # Line numbers as a user sees them in a CSV (header is line 1) or Excel sheet (row 1 header).
    frame.insert(0, "_line", np.arange(2, len(frame) + 2))
    text_cols = [
        c
        for c in REQUIRED_COLUMNS[table] + OPTIONAL_COLUMNS[table]
        if c in frame and c not in DATE_COLUMNS[table] + NUMERIC_COLUMNS[table]
    ]
    for col in text_cols:
        frame[col] = _as_id(frame[col]) if col == "account_id" else frame[col].astype("str")
        frame[col] = (
            frame[col].where(frame[col].str.len() > 0, np.nan)
            if col == "account_id"
            else frame[col]
        )
    for col in NOT_NULL[table]:
        if col in text_cols:
            frame = ledger.handle(
                frame,
                frame[col].isna(),
                table=table,
                file=path,
                column=col,
                rule="missing_value",
                what="has missing values",
            )
    for col in DATE_COLUMNS[table]:
        if col not in frame:
            continue
        raw = frame[col]
        frame[_raw(col)] = raw
        if pd.api.types.is_datetime64_any_dtype(raw):
            parsed = raw
        else:
            parsed = pd.to_datetime(
                raw.astype("str").where(raw.notna()), format="ISO8601", errors="coerce"
            )
        if getattr(parsed.dt, "tz", None) is not None:
            parsed = parsed.dt.tz_localize(None)
        frame[col] = parsed.astype("datetime64[us]")
        if col in NOT_NULL[table]:
            frame = ledger.handle(
                frame,
                raw.isna(),
                table=table,
                file=path,
                column=col,
                rule="missing_value",
                what="has missing dates",
            )
        unparseable = frame[col].isna() & frame[_raw(col)].notna()
        frame = ledger.handle(
            frame,
            unparseable,
            table=table,
            file=path,
            column=col,
            rule="unparseable_date",
            what="has values that are not ISO dates (YYYY-MM-DD)",
        )
        if (table, col) not in FUTURE_OK and data_end is not None:
            future = frame[col] > data_end
            frame = ledger.handle(
                frame,
                future,
                table=table,
                file=path,
                column=col,
                rule="future_date",
                what=f"has dates after the data's end ({data_end.date()})",
            )
    for col in NUMERIC_COLUMNS[table]:
        if col not in frame:
            continue
        raw = frame[col]
        frame[_raw(col)] = raw
        frame[col] = pd.to_numeric(raw, errors="coerce").astype("float64")
        if col in NOT_NULL[table]:
            frame = ledger.handle(
                frame,
                frame[_raw(col)].isna(),
                table=table,
                file=path,
                column=col,
                rule="missing_value",
                what="has missing values",
            )
        bad = frame[col].isna() & frame[_raw(col)].notna()
        bad |= ~np.isfinite(frame[col].fillna(0.0))
        frame = ledger.handle(
            frame,
            bad,
            table=table,
            file=path,
            column=col,
            rule="non_numeric",
            what="has values that are not numbers",
        )
    if table == "assessments":
        lo, hi = SCORE_RANGE
        frame = ledger.handle(
            frame,
            ~frame["score"].between(lo, hi),
            table=table,
            file=path,
            column="score",
            rule="score_range",
            what=f"has scores outside {lo:g}-{hi:g}",
        )
    if table == "accounts" and {"acquired_on", "churned_on"} <= set(frame.columns):
        backwards = frame["churned_on"] < frame["acquired_on"]
        frame = ledger.handle(
            frame,
            backwards,
            table=table,
            file=path,
            column="churned_on",
            rule="churn_before_acquisition",
            what="is before acquired_on",
        )
    if table == "transactions" and "currency" in frame:
        currencies = frame["currency"].dropna().unique()
        if len(currencies) > 1:
            major = frame["currency"].value_counts().index[0]
            frame = ledger.handle(
                frame,
                frame["currency"].notna() & (frame["currency"] != major),
                table=table,
                file=path,
                column="currency",
                rule="mixed_currency",
                what=f"mixes currencies ({', '.join(sorted(currencies))}); money "
                f"must be in one currency, most rows are {major}",
            )
    return frame


def _check_keys(frame, table, path, ledger: _Ledger) -> pd.DataFrame:
    keys = {
        "accounts": ["account_id"],
        "transactions": ["transaction_id"] if "transaction_id" in frame else None,
        "assessments": ["account_id", "assessed_on", "criterion"],
        "interactions": None,
    }[table]
    if keys is None:
        return frame
    dup = frame.duplicated(keys, keep="first") & frame[keys].notna().all(axis=1)
    return ledger.handle(
        frame,
        dup,
        table=table,
        file=path,
        column=keys[-1] if table != "accounts" else "account_id",
        rule="duplicate_key",
        what=f"repeats a key ({' + '.join(keys)}) seen on an earlier row",
    )


def _finish(frame: pd.DataFrame, table: str) -> pd.DataFrame:
    """Contract columns first, then the user's extra columns, then the file line number."""
    helper = [c for c in frame.columns if c == "_line" or c.startswith("_raw_")]
    order = [c for c in REQUIRED_COLUMNS[table] + OPTIONAL_COLUMNS[table] if c in frame]
    extra = [c for c in frame.columns if c not in order and c not in helper]
    out = frame[order + extra + ["_line"]].reset_index(drop=True)
    SCHEMAS[table].validate(out)  # belt and braces: parsing above guarantees the schema
    return out


def _resolve_mapping(columns, table):
    if not columns:
        return None
    if any(key in TABLES for key in columns):
        return columns.get(table)
    return columns


def load_table(
    path: str | os.PathLike,
    table: str,
    *,
    columns: Mapping[str, str] | None = None,
    sheet: str | None = None,
    on_error: str = "raise",
    data_end=None,
    ledger=None,
) -> pd.DataFrame:
    """Load one table from CSV, Parquet or Excel and validate it against the contract.

    Parameters
    ----------
    path : path-like
        The file.
    table : {"accounts", "transactions", "assessments", "interactions"}
    columns : mapping, optional
        The user's column names → contract names, e.g. ``{"CustomerID": "account_id"}``.
    sheet : str, optional
        Excel sheet; defaults to a sheet named like the table, else the first.
    on_error : {"raise", "drop"}
        Raise :class:`DataContractError` on the first broken rule, or drop offending rows.
    data_end : timestamp, optional
        Dates after it are errors (default: no check for a lone table).

    Returns
    -------
    pandas.DataFrame
        The table with contract column names and types.
    """
    if table not in TABLES:
        raise ValueError(f"table must be one of {TABLES}, not {table!r}")
    ledger = ledger or _Ledger(on_error)
    return _load(Path(path), table, columns, sheet, ledger, data_end).drop(columns="_line")


def _load(path: Path, table, columns, sheet, ledger: _Ledger, data_end) -> pd.DataFrame:
    frame = _rename(_read(path, table, sheet), columns, path, table)
    _check_columns(frame, path, table)
    frame = _parse(frame, table, path, ledger, data_end)
    frame = _check_keys(frame, table, path, ledger)
    return _finish(frame, table)


def _find_files(root: Path) -> dict[str, tuple[Path, str | None]]:
    """Map each table to (file, sheet). A directory holds one file per table; a workbook one
    sheet per table."""
    if root.is_file():
        if _kind(root) != "excel":
            raise DataContractError(
                f"{root.name}: a single file must be an Excel workbook with one sheet per table "
                f"({', '.join(TABLES)}); otherwise pass the directory holding one file per table.",
                file=root,
                rule="file_type",
            )
        with pd.ExcelFile(root) as book:
            sheets = book.sheet_names
        found: dict[str, tuple[Path, str | None]] = {t: (root, t) for t in TABLES if t in sheets}
        for table in REQUIRED_TABLES:
            if table not in found:
                raise DataContractError(
                    f"{root.name}: sheet '{table}' not found; the workbook has sheets "
                    f"{', '.join(map(repr, sheets))}.",
                    file=root,
                    table=table,
                    rule="missing_sheet",
                )
        return found
    if not root.is_dir():
        raise DataContractError(
            f"{root}: no such file or directory.", file=root, rule="missing_file"
        )
    found = {}
    for table in TABLES:
        candidates = sorted(p for p in root.iterdir() if p.stem == table and p.is_file())
        if len(candidates) > 1:
            names = ", ".join(p.name for p in candidates)
            raise DataContractError(
                f"{root}: several files for the {table} table ({names}); keep one.",
                file=root,
                table=table,
                rule="ambiguous_file",
            )
        if candidates:
            _kind(candidates[0])
            found[table] = (candidates[0], None)
    for table in REQUIRED_TABLES:
        if table not in found:
            raise DataContractError(
                f"{root}: no {table} file (expected {table}.csv, {table}.parquet or {table}.xlsx).",
                file=root,
                table=table,
                rule="missing_file",
            )
    return found


def load_dataset(
    path: str | os.PathLike,
    *,
    columns: Mapping | None = None,
    files: Mapping[str, str | os.PathLike] | None = None,
    on_error: str = "raise",
    data_end=None,
) -> Dataset:
    """Load all tables of a portfolio, validated and cross-checked.

    Parameters
    ----------
    path : path-like
        A directory with ``accounts``, ``transactions`` and optionally ``assessments`` and
        ``interactions`` files (``.csv``, ``.parquet`` or ``.xlsx``), or one Excel workbook with
        a sheet per table.
    columns : mapping, optional
        Column-name mapping, either one mapping for all tables (``{"CustomerID": "account_id"}``)
        or one per table (``{"transactions": {"InvoiceDate": "date"}}``).
    files : mapping, optional
        Explicit file per table, overriding the discovery in ``path``.
    on_error : {"raise", "drop"}
        ``"raise"`` (default) stops at the first broken rule with a :class:`DataContractError`;
        ``"drop"`` drops offending rows and records each rule in ``Dataset.ledger``.
    data_end : date-like, optional
        Dates after it are "in the future". Default: the last transaction date for the other
        tables, and today for transactions.

    Returns
    -------
    Dataset
    """
    ledger = _Ledger(on_error)
    found = _find_files(Path(path)) if path is not None else {}
    for table, file in (files or {}).items():
        found[table] = (Path(file), None)
    limit = pd.Timestamp(data_end) if data_end is not None else pd.Timestamp.today().normalize()

    def load(table, end):
        file, sheet = found[table]
        return _load(file, table, _resolve_mapping(columns, table), sheet, ledger, end)

    transactions = load(
        "transactions",
        limit + pd.Timedelta(days=1) - pd.Timedelta(1, "ns") if data_end is None else limit,
    )
    end_of_data = transactions["date"].max() if data_end is None else limit
    # Child-table dates may fall on the data's last day, whatever its time of day.
    day_end = end_of_data.normalize() + pd.Timedelta(days=1) - pd.Timedelta(1, "ns")
    accounts = load("accounts", day_end)
    tables = {"accounts": accounts, "transactions": transactions}
    for table in ("assessments", "interactions"):
        tables[table] = load(table, day_end) if table in found else _empty(table)

    known = set(accounts["account_id"])
    for table in ("transactions", "assessments", "interactions"):
        frame = tables[table]
        if not len(frame):
            continue
        unknown = ~frame["account_id"].isin(known)
        file = found[table][0]
        tables[table] = ledger.handle(
            frame,
            unknown,
            table=table,
            file=file,
            column="account_id",
            rule="unknown_account",
            what=f"has account ids that are not in {Path(found['accounts'][0]).name}",
        ).reset_index(drop=True)
    for table in TABLES:
        if table in found and len(tables[table]) == 0:
            file = found[table][0]
            raise DataContractError(
                f"{Path(file).name}: no valid rows left in the {table} table "
                f"after dropping offending rows (see the ledger).",
                file=file,
                table=table,
                rule="empty_table",
            )
    tables = {t: f.drop(columns="_line", errors="ignore") for t, f in tables.items()}
    return Dataset(
        **tables, ledger=ledger.frame(), files={t: str(f) for t, (f, _) in found.items()}
    )


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
