"""Checking a table against the contract, row by row: the private half of :mod:`kamlab.data`.

``kamlab.data`` says what the contract is and where the tables are; this module reads a table's
files (through :mod:`kamlab._readfile`), renames the user's columns, parses each cell and
applies each rule. :class:`Policy` is the one place that decides between raising a
:class:`~kamlab.data.DataContractError` (with the file, column, rule and the first offending
lines) and dropping the rows into the :class:`~kamlab.ledger.Ledger`.
"""

from __future__ import annotations

import difflib
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from kamlab import _readfile
from kamlab._readfile import FIELDS, LINE, ReadProblem
from kamlab.data import (
    DATE_COLUMNS,
    EARLIEST,
    FUTURE_OK,
    ID_COLUMNS,
    NOT_NULL,
    NULL_MARKERS,
    NUMERIC_COLUMNS,
    OPTIONAL_COLUMNS,
    REQUIRED_COLUMNS,
    SCORE_RANGE,
    TABLES,
    DataContractError,
    TableSource,
)
from kamlab.ledger import Ledger

MAX_EXAMPLES = 5
#: Helper columns a loaded table carries until load_table / load_dataset return it.
HELPERS = (LINE, "_file")
DATE_FORMAT = r"\d{4}-\d{2}-\d{2}(?:[T ]\d{2}:\d{2}(?::\d{2}(?:\.\d{1,9})?)?)?"
TZ_SUFFIX = r"\d{2}:\d{2}(?::\d{2}(?:\.\d+)?)?\s*(?:Z|[+-]\d{2}:?\d{2})$"


# --------------------------------------------------------------------------- raise or drop
@dataclass(frozen=True)
class Where:
    """A table's file(s) as messages name them, and what a row number counts."""

    table: str
    paths: tuple[Path, ...]
    names: tuple[str, ...]
    unit: str

    @classmethod
    def of(cls, src: TableSource) -> Where:
        names: tuple[str, ...]
        if src.folder is not None:  # parts: named from the table folder on
            names = tuple(str(p.relative_to(src.folder.parent)) for p in src.files)
        else:
            path = src.files[0]
            names = (f"{path.name} (sheet '{src.sheet}')" if src.sheet else path.name,)
        return cls(src.table, src.files, names, "line" if src.kind == "csv" else "row")

    def fail(self, message: str, rule: str, column: str | None = None, i: int = 0):
        return DataContractError(
            f"{self.names[i]}: {message}",
            file=self.paths[i],
            table=self.table,
            column=column,
            rule=rule,
        )


_HINTS = {
    "unknown_account": "",
    "duplicate_key": "",
    "duplicate_line": "\nAdd a transaction_id column if repeated lines are distinct purchases, "
    "or pass on_error='drop' to drop the repeats and count them in the ledger.",
}


class Policy:
    """Raises for offending rows, or (``on_error="drop"``) drops them into the ledger."""

    def __init__(self, on_error: str, ledger: Ledger | None = None):
        if on_error not in ("raise", "drop"):
            raise ValueError(f"on_error must be 'raise' or 'drop', not {on_error!r}")
        self.on_error = on_error
        self.ledger = ledger if ledger is not None else Ledger()

    def handle(self, frame, bad, where: Where, *, column, rule, what, money=True, show=()):
        """Raise for (or drop and count) the rows where ``bad`` is true; return the kept frame."""
        if not isinstance(bad, pd.Series):
            bad = pd.Series(bad, index=frame.index)
        elif len(bad) != len(frame) or not bad.index.equals(frame.index):
            bad = bad.reindex(frame.index)  # a mask computed before earlier rules dropped rows
        bad = bad.to_numpy(dtype=bool, na_value=False)
        if not bad.any():
            return frame
        if self.on_error == "raise":
            raise _error(frame.loc[bad], where, column, rule, what, show)
        # the value of the rows left out, unless it is the amount itself that is broken
        amount = (
            "amount" if money and where.table == "transactions" and column != "amount" else None
        )
        files = frame["_file"].to_numpy()
        for i in np.unique(files[bad]):
            mask = bad & (files == i) if len(where.paths) > 1 else bad
            kept = self.ledger.drop(
                frame,
                mask,
                table=where.table,
                file=where.paths[i],
                rule=rule,
                column=column,
                amount_column=amount,
            )
            keep = ~mask
            frame, files, bad = kept, files[keep], bad[keep]
        return frame


def _error(offending: pd.DataFrame, where: Where, column, rule, what, show) -> DataContractError:
    n_bad = len(offending)
    shown = offending.head(MAX_EXAMPLES)
    lines = []
    for record in shown.to_dict("records"):
        parts: dict[str, str] = {}
        for key in ("account_id", column, *show):
            if key and key in record and key.lstrip("_") not in parts:
                parts[key.lstrip("_")] = _show(record.get(_raw(key), record[key]))
        prefix = f"{where.names[record['_file']]} " if len(where.paths) > 1 else ""
        body = ", ".join(f"{k}={v}" for k, v in parts.items())
        lines.append(f"  {prefix}{where.unit} {record[LINE]}: {body}")
    more = f"\n  ... and {n_bad - len(shown)} more" if n_bad > len(shown) else ""
    hint = _HINTS.get(
        rule,
        "\nFix the file, or pass on_error='drop' to drop such rows and count them in the ledger.",
    )
    heading = f"column '{column}' {what}" if column else what
    first = int(shown["_file"].iat[0])
    message = (
        f"{where.names[first]}: {heading} ({n_bad} row{'s' if n_bad != 1 else ''}, rule {rule}). "
        "First offending rows:\n" + "\n".join(lines) + more + hint
    )
    helpers = [c for c in shown.columns if c.startswith("_") and c != LINE]
    rows = shown.drop(columns=helpers).rename(columns={LINE: "line"})
    return DataContractError(
        message, file=where.paths[first], table=where.table, column=column, rule=rule, rows=rows
    )


def _raw(column: str) -> str:
    return f"_raw_{column}"


def _show(value) -> str:
    if value is None or (isinstance(value, float) and np.isnan(value)) or value is pd.NA:
        return "<missing>"
    if isinstance(value, pd.Timestamp):
        return value.date().isoformat() if value == value.normalize() else value.isoformat()
    text = repr(value) if isinstance(value, str) else str(value)
    return text if len(text) <= 60 else text[:57] + "..."


# --------------------------------------------------------------------------- reading
def read(src: TableSource, encoding: str) -> tuple[pd.DataFrame, Where]:
    """All files of a table as one frame with ``_line`` and ``_file`` (index into files)."""
    where = Where.of(src)
    frames = []
    for i, path in enumerate(src.files):
        if path.is_dir():
            raise where.fail("is a folder, not a file.", "not_a_file", i=i)
        if not path.exists():
            raise DataContractError(
                f"{path}: file not found (expected the {src.table} table).",
                file=path,
                table=src.table,
                rule="missing_file",
            )
        try:
            if src.kind == "csv":
                frame = _readfile.read_csv(path, encoding)
            elif src.kind == "parquet":
                frame = _readfile.read_parquet(path)
            else:
                frame, _ = _readfile.read_excel(path, src.sheet, src.table)
        except ReadProblem as problem:
            raise where.fail(str(problem), problem.rule, problem.column, i) from None
        except Exception as exc:  # a corrupt or mislabelled file
            raise where.fail(f"could not be read as {src.kind}: {exc}", "unreadable", i=i) from exc
        frames.append(frame)
    for i, frame in enumerate(frames[1:], start=1):
        if set(frame.columns) - {FIELDS} != set(frames[0].columns) - {FIELDS}:
            raise where.fail(
                f"has columns {', '.join(map(repr, frame.columns[1:]))} where "
                f"{where.names[0]} has {', '.join(map(repr, frames[0].columns[1:]))}; every "
                f"part of the {src.table} table needs the same columns.",
                "inconsistent_columns",
                i=i,
            )
    frame = frames[0] if len(frames) == 1 else pd.concat(frames, ignore_index=True)
    frame["_file"] = np.repeat(np.arange(len(frames)), [len(f) for f in frames])
    return frame, where


def mappings(columns, only: str | None = None) -> tuple[dict[str, dict[str, str]], bool]:
    """Per-table column mappings from ``columns=``, checked; and whether it was one flat mapping."""
    if columns is None:
        return {}, False
    if not isinstance(columns, Mapping):
        raise DataContractError(
            "columns= must be a mapping of file column names to contract column names, e.g. "
            f"{{'CustomerID': 'account_id'}}, not a {type(columns).__name__}.",
            rule="mapping",
        )
    nested = [k for k, v in columns.items() if isinstance(v, Mapping)]
    if nested and len(nested) != len(columns):
        raise DataContractError(
            "columns= mixes per-table mappings with column names; give either one mapping for "
            "all tables or one mapping per table ({'transactions': {...}}).",
            rule="mapping",
        )
    flat = not nested
    per_table = {t: dict(columns) for t in ([only] if only else TABLES)} if flat else dict(columns)
    for table, mapping in per_table.items():
        if table not in TABLES:
            raise DataContractError(
                f"columns= names table {table!r}, which is not a kamlab table "
                f"({', '.join(TABLES)}).",
                rule="mapping",
            )
        tables = [table] if (only or not flat) else list(TABLES)
        allowed = [c for t in tables for c in REQUIRED_COLUMNS[t] + OPTIONAL_COLUMNS[t]]
        onto: dict[str, str] = {}
        for src, dst in mapping.items():
            if not isinstance(src, str) or not isinstance(dst, str):
                raise DataContractError(
                    f"columns= maps {src!r} to {dst!r}; both must be column names.",
                    rule="mapping",
                )
            if dst not in allowed:
                close = difflib.get_close_matches(dst, allowed, n=1)
                hint = f" Did you mean '{close[0]}'?" if close else ""
                raise DataContractError(
                    f"columns= maps '{src}' onto '{dst}', which is not a column of the "
                    f"{' or '.join(tables)} table{'s' if len(tables) > 1 else ''}.{hint}",
                    table=table,
                    column=dst,
                    rule="mapping",
                )
            if dst in onto:
                raise DataContractError(
                    f"columns= maps both '{onto[dst]}' and '{src}' onto '{dst}'; map one file "
                    "column onto each contract column.",
                    table=table,
                    column=dst,
                    rule="mapping",
                )
            onto[dst] = src
    return per_table, flat and only is None


def _rename(frame: pd.DataFrame, mapping: dict[str, str], where: Where, strict: bool):
    """Rename file columns to contract names; return the frame and the sources used."""
    missing = [src for src in mapping if src not in frame.columns]
    if strict and missing:
        raise where.fail(
            f"the column mapping names {', '.join(map(repr, missing))}, which "
            f"{'is' if len(missing) == 1 else 'are'} not in the file (columns: "
            f"{', '.join(repr(c) for c in frame.columns if not c.startswith('_'))}).",
            "mapping",
            missing[0],
        )
    used = {src: dst for src, dst in mapping.items() if src in frame.columns}
    for src, dst in used.items():
        if dst in frame.columns and dst not in used:
            raise where.fail(
                f"the column mapping renames '{src}' to '{dst}', but the file already has a "
                f"column '{dst}'; map only one of them.",
                "duplicate_column",
                dst,
            )
    return frame.rename(columns=used), set(used)


def _check_columns(frame: pd.DataFrame, where: Where) -> None:
    table = where.table
    if len(frame) == 0:
        raise where.fail(f"the {table} table is empty (no data rows).", "empty_table")
    user = [c for c in frame.columns if not c.startswith("_")]
    for col in REQUIRED_COLUMNS[table]:
        if col not in frame.columns:
            close = difflib.get_close_matches(col, user, n=1, cutoff=0.5)
            hint = _readfile.separator_hint(user) or (
                f" Did you mean '{close[0]}'? Map it with columns={{'{close[0]}': '{col}'}}."
                if close
                else " Use the columns= mapping if it has another name."
            )
            raise where.fail(
                f"required column '{col}' is missing from the {table} table "
                f"(columns found: {', '.join(map(repr, user))}).{hint}",
                "missing_column",
                col,
            )


# --------------------------------------------------------------------------- cells
def _text(series: pd.Series, ident: bool = False) -> pd.Series:
    """Text cells (blank → missing); ids are stripped, integral floats lose their '.0'."""
    if ident and pd.api.types.is_float_dtype(series):
        whole = series.dropna()
        if (whole == np.floor(whole)).all():
            series = series.astype("Int64")
    elif ident and series.dtype == object:
        series = series.map(lambda v: int(v) if isinstance(v, float) and v.is_integer() else v)
    out = series.astype("str")
    stripped = out.str.strip()
    filled = stripped.str.len() > 0
    out = stripped if ident else out
    return out if filled.sum() == out.count() else out.where(filled)


def _wrong_type(raw: pd.Series, where: Where, col: str, expected: str):
    return where.fail(
        f"column '{col}' holds {raw.dtype} values where {expected} are expected; "
        "store it as text or as the expected type.",
        "wrong_type",
        col,
    )


def _markers(text: pd.Series, failed: pd.Series) -> pd.Series:
    """Where a cell that failed to parse is a null marker (``NULL``, ``nan``...)."""
    marker = pd.Series(False, index=text.index)
    if failed.any():
        marker[failed] = text[failed].str.lower().isin(NULL_MARKERS)
    return marker


def _parse(frame: pd.DataFrame, where: Where, policy: Policy, data_end) -> pd.DataFrame:
    table = where.table
    handle = policy.handle
    if FIELDS in frame:
        width = len([c for c in frame.columns if not c.startswith("_")])
        names = [c for c in frame.columns if not c.startswith("_")]
        short = frame[FIELDS].to_numpy()
        for cut in np.unique(short[short != width]):
            column = names[cut] if cut < width else None
            what = (
                f"is missing: the line has {cut} of the header's {width} fields (cut short?)"
                if cut < width
                else f"lines have {cut} fields, the header {width} (a separator inside an "
                "unquoted value, or a trailing separator?)"
            )
            frame = handle(
                frame, frame[FIELDS] == cut, where, column=column, rule="ragged_line",
                what=what, money=False, show=(FIELDS,),
            )  # fmt: skip
        frame = frame.drop(columns=FIELDS)
    for col in REQUIRED_COLUMNS[table] + OPTIONAL_COLUMNS[table]:
        if col in frame and col not in DATE_COLUMNS[table] + NUMERIC_COLUMNS[table]:
            frame[col] = _text(frame[col], ident=col in ID_COLUMNS)
            if col in NOT_NULL[table]:
                frame = handle(
                    frame, frame[col].isna(), where, column=col, rule="missing_value",
                    what="has missing values",
                )  # fmt: skip
    for col in DATE_COLUMNS[table]:
        if col in frame:
            frame = _parse_dates(frame, col, where, policy, data_end)
    for col in NUMERIC_COLUMNS[table]:
        if col in frame:
            frame = _parse_numbers(frame, col, where, policy)
    if table == "assessments":
        lo, hi = SCORE_RANGE
        frame = handle(
            frame, ~frame["score"].between(lo, hi), where, column="score", rule="score_range",
            what=f"has scores outside {lo:g}-{hi:g}",
        )  # fmt: skip
    if table == "accounts" and {"acquired_on", "churned_on"} <= set(frame.columns):
        frame = handle(
            frame, frame["churned_on"] < frame["acquired_on"], where, column="churned_on",
            rule="churn_before_acquisition", what="is before acquired_on",
        )  # fmt: skip
    if table == "transactions" and "currency" in frame:
        currencies = frame["currency"].dropna().unique()
        if len(currencies) > 1:
            major = frame["currency"].value_counts().index[0]
            frame = handle(
                frame, frame["currency"].notna() & (frame["currency"] != major), where,
                column="currency", rule="mixed_currency",
                what=f"mixes currencies ({', '.join(sorted(currencies))}); money "
                f"must be in one currency, most rows are {major}",
            )  # fmt: skip
    return frame


def _parse_dates(frame, col, where: Where, policy: Policy, data_end) -> pd.DataFrame:
    raw = frame[col]
    frame[_raw(col)] = raw
    if pd.api.types.is_datetime64_any_dtype(raw):
        parsed = raw.dt.tz_localize(None) if getattr(raw.dt, "tz", None) is not None else raw
        missing = parsed.isna()
        zoned = bad = pd.Series(False, index=raw.index)
    elif pd.api.types.is_numeric_dtype(raw) or pd.api.types.is_timedelta64_dtype(raw):
        raise _wrong_type(raw, where, col, "dates")
    else:
        text = _text(raw, ident=True)
        valid = text.str.fullmatch(DATE_FORMAT, na=False)
        text = text.where(~_markers(text, text.notna() & ~valid))
        failed = text.notna() & ~valid
        zoned = pd.Series(False, index=raw.index)
        if failed.any():
            zoned[failed] = text[failed].str.contains(TZ_SUFFIX, regex=True, na=False)
        clean = text if (valid | text.isna()).all() else text.where(valid)
        parsed = pd.to_datetime(clean, format="ISO8601", errors="coerce")
        missing = text.isna()
        bad = ~missing & ~zoned & parsed.isna()
    frame[col] = parsed.astype("datetime64[us]")
    checks = [
        (missing, "missing_value", "has missing dates"),
        (zoned, "timezone", "has timezone offsets; contract dates are local dates and times "
         "without a zone (write 2024-01-05 13:45:00, not 2024-01-05T13:45:00+02:00)"),
        (bad, "unparseable_date", "has values that are not ISO dates (YYYY-MM-DD)"),
        (frame[col] < EARLIEST, "date_before_1900", "has dates before 1900-01-01 (a typo in "
         "the year?)"),
    ]  # fmt: skip
    for mask, rule, what in checks:
        if rule == "missing_value" and col not in NOT_NULL[where.table]:
            continue
        frame = policy.handle(frame, mask, where, column=col, rule=rule, what=what)
    if (where.table, col) not in FUTURE_OK and data_end is not None:
        frame = policy.handle(
            frame, frame[col] > data_end, where, column=col, rule="future_date",
            what=f"has dates after the data's end ({data_end.date()})",
        )  # fmt: skip
    return frame


def _parse_numbers(frame, col, where: Where, policy: Policy) -> pd.DataFrame:
    raw = frame[col]
    frame[_raw(col)] = raw
    if pd.api.types.is_bool_dtype(raw) or not (
        pd.api.types.is_numeric_dtype(raw)
        or pd.api.types.is_string_dtype(raw)
        or raw.dtype == object
    ):
        raise _wrong_type(raw, where, col, "numbers")
    if pd.api.types.is_numeric_dtype(raw):
        values = raw.astype("float64")
        missing, bad, text = values.isna(), pd.Series(False, index=raw.index), raw
    else:
        text = _text(raw, ident=True)
        try:  # Arrow's strict parser is fast; whatever it refuses, pandas decides cell by cell
            parsed = text.astype("float64[pyarrow]").to_numpy(dtype="float64", na_value=np.nan)
            values = pd.Series(parsed + 0.0, index=text.index)  # + 0.0: no negative zero
        except (TypeError, ValueError):
            values = pd.to_numeric(text, errors="coerce").astype("float64")
        text = text.where(~_markers(text, text.notna() & values.isna()))
        missing, bad = text.isna(), text.notna() & values.isna()
    frame[col] = values
    what = "has values that are not numbers"
    if bad.any() and text[bad].str.fullmatch(r"-?\d+,\d+").any():
        what += " (decimal commas? write 12.50, not 12,50)"
    checks = [
        (missing, "missing_value", "has missing values"),
        (bad, "non_numeric", what),
        (~np.isfinite(values.fillna(0.0)), "non_finite", "has infinite values"),
    ]
    for mask, rule, text_ in checks:
        if rule == "missing_value" and col not in NOT_NULL[where.table]:
            continue
        frame = policy.handle(frame, mask, where, column=col, rule=rule, what=text_)
    return frame


def _check_keys(frame: pd.DataFrame, where: Where, policy: Policy) -> pd.DataFrame:
    table = where.table
    keys = {
        "accounts": ["account_id"],
        "transactions": ["transaction_id"] if "transaction_id" in frame else None,
        "assessments": ["account_id", "assessed_on", "criterion"],
        "interactions": None,
    }[table]
    if table == "transactions" and keys is None:
        user = [c for c in frame.columns if not c.startswith("_")]
        cells = [_raw(c) if _raw(c) in frame else c for c in user]
        dup = frame.duplicated(cells, keep="first")
        if not dup.any():
            return frame
        first = frame.groupby(cells, dropna=False, sort=False)[LINE].transform("first")
        frame = frame.assign(_same_as_line=first)
        return policy.handle(
            frame, dup, where, column=None, rule="duplicate_line",
            what="lines repeat an earlier line exactly", show=("_same_as_line",),
        ).drop(columns="_same_as_line")  # fmt: skip
    if keys is None:
        return frame
    dup = frame.duplicated(keys, keep="first") & frame[keys].notna().all(axis=1)
    return policy.handle(
        frame, dup, where, column=keys[-1], rule="duplicate_key",
        what=f"repeats a key ({' + '.join(keys)}) seen on an earlier row",
    )  # fmt: skip


def _finish(frame: pd.DataFrame, table: str) -> pd.DataFrame:
    """Contract columns first, then the user's extra columns, then ``_line`` and ``_file``."""
    order = [c for c in REQUIRED_COLUMNS[table] + OPTIONAL_COLUMNS[table] if c in frame]
    extra = [c for c in frame.columns if c not in order and not c.startswith("_")]
    out = frame[order + extra + list(HELPERS)].reset_index(drop=True)
    for col in order:  # parsing above guarantees the schema; a cheap guard against regressions
        kind = out[col].dtype.kind
        want = "M" if col in DATE_COLUMNS[table] else "f" if col in NUMERIC_COLUMNS[table] else None
        if want is not None and kind != want:
            raise AssertionError(f"kamlab bug: {table}.{col} parsed as {out[col].dtype}")
    return out


def load(src: TableSource, mapping, strict, policy: Policy, data_end, encoding):
    frame, where = read(src, encoding)
    frame, used = _rename(frame, mapping or {}, where, strict)
    _check_columns(frame, where)
    frame = _parse(frame, where, policy, data_end)
    frame = _check_keys(frame, where, policy)
    return _finish(frame, where.table), where, used
