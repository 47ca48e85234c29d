"""Reading an export: file dialects, text, numbers in any notation, dates in any order.

Each parser works on the distinct values of a column (exports repeat dates, ids and prices), so
a 500,000-line file costs little more than its distinct values. Nothing is guessed: a number
in another notation than the mapping says, or dates whose order the data cannot decide, raise a
:class:`~kamlab.data.DataContractError` with examples and line numbers.
"""

from __future__ import annotations

import codecs
import datetime as dt
import hashlib
import io
import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from kamlab.data import SUFFIXES, DataContractError

__all__ = [
    "MISSING",
    "NON_FINITE",
    "NON_NUMERIC",
    "OK",
    "DateReading",
    "decode",
    "export_kind",
    "numbers",
    "parse_dates",
    "read_export",
    "sniff_date_order",
    "text",
]

OK, MISSING, NON_NUMERIC, NON_FINITE = 0, 1, 2, 3
_NOT_FINITE = {"inf", "+inf", "-inf", "infinity", "+infinity", "-infinity", "nan", "+nan", "-nan"}
_SPACES = r"[\s\u00a0\u202f]+"
_CURRENCY_SIGNS = r"[€$£¥]|\b(?:EUR|USD|GBP|CHF)\b"
_NUMBER_LIKE = r"[-+(]?[\d.,']+\)?-?"


def export_kind(path: Path) -> str:
    """``csv``, ``excel`` or ``parquet`` by the contract's suffixes; anything else is an error.

    Examples
    --------
    >>> export_kind(Path("Umsatz 2024.XLSX")), export_kind(Path("lines.txt"))
    ('excel', 'csv')
    """
    kind = SUFFIXES.get(path.suffix.lower())
    if kind is None:
        raise DataContractError(
            f"{path.name}: unsupported file type '{path.suffix or '(none)'}'; kamlab imports "
            "CSV (.csv, .txt), Excel (.xlsx, .xls) and Parquet (.parquet) exports.",
            file=path,
            rule="file_type",
        )
    return kind


def decode(path: Path, data: bytes, encoding: str) -> str:
    """The file's text; a byte the encoding cannot read is an error naming the line.

    Examples
    --------
    >>> decode(Path("x.csv"), "Kunde;Währung\\n".encode("cp1252"), "cp1252")
    'Kunde;Währung\\n'
    >>> decode(Path("x.csv"), "a\\nWährung\\n".encode("cp1252"), "utf-8")
    Traceback (most recent call last):
    kamlab.data.DataContractError: x.csv: line 2 is not utf-8-sig text (byte 0xe4); set source.encoding in the mapping (Windows exports are often cp1252)
    """
    encoding = "utf-8-sig" if codecs.lookup(encoding).name == "utf-8" else encoding
    try:
        return data.decode(encoding)
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        raise DataContractError(
            f"{path.name}: line {line} is not {encoding} text (byte 0x{data[exc.start]:02x}); "
            "set source.encoding in the mapping (Windows exports are often cp1252)",
            file=path,
            rule="encoding",
        ) from None


def read_export(
    path: Path, src: Mapping[str, Any], nrows: int | None = None
) -> tuple[pd.DataFrame, dict[str, Any]]:
    """The export's cells (text for CSV, as stored otherwise) with ``_line``, and its facts.

    ``_line`` is the row number a spreadsheet or text editor shows (the header is line
    ``header_row``). Rows without any value are left out and counted in ``blank_lines``.

    Examples
    --------
    >>> import tempfile
    >>> path = Path(tempfile.mkdtemp()) / "export.csv"
    >>> _ = path.write_text("Export 2024\\n\\nKunde;Betrag\\nK1;1,50\\n")
    >>> frame, facts = read_export(path, {"sep": ";", "header_row": 3})
    >>> frame.to_dict("records"), facts["format"]
    ([{'Kunde': 'K1', 'Betrag': '1,50', '_line': 4}], 'csv')
    """
    if not path.is_file():
        raise DataContractError(f"{path}: file not found.", file=path, rule="missing_file")
    kind = export_kind(path)
    header = int(src.get("header_row", 1)) - 1
    data = path.read_bytes()
    facts: dict[str, Any] = {
        "file": path.name,
        "format": kind,
        "bytes": len(data),
        "sha256": hashlib.sha256(data).hexdigest(),
    }
    try:
        if kind == "csv":
            frame = _read_csv(decode(path, data, src.get("encoding", "utf-8")), src, header, nrows)
        elif kind == "excel":
            with pd.ExcelFile(io.BytesIO(data), engine="calamine") as book:
                sheets = [str(s) for s in book.sheet_names]
                sheet = str(src.get("sheet", sheets[0]))
                if sheet not in sheets:
                    raise DataContractError(
                        f"{path.name}: sheet '{sheet}' not found; the workbook has sheets "
                        f"{', '.join(map(repr, sheets))} (set source.sheet).",
                        file=path,
                        rule="missing_sheet",
                    )
                frame = pd.read_excel(
                    book, sheet_name=sheet, header=header, dtype=object, nrows=nrows
                )
            facts["sheet"] = sheet
        else:
            frame = pd.read_parquet(io.BytesIO(data))
            frame = frame if nrows is None else frame.head(nrows)
            header = 0
    except DataContractError:
        raise
    except Exception as exc:  # a corrupt file, a wrong separator or header row
        raise DataContractError(
            f"{path.name}: could not be read as {kind}: {exc} (check source.sep and "
            "source.header_row)",
            file=path,
            rule="unreadable",
        ) from exc
    frame.columns = [str(c).strip() for c in frame.columns]
    frame = frame.reset_index(drop=True)
    blank = frame.isna().all(axis=1).to_numpy()
    frame["_line"] = np.arange(len(frame)) + header + 2
    facts["blank_lines"] = int(blank.sum())
    return frame.loc[~blank].reset_index(drop=True), facts


def _read_csv(text: str, src: Mapping[str, Any], header: int, nrows: int | None) -> pd.DataFrame:
    """Every cell as text. Arrow's parser reads twice as fast; it is used for whole files
    without quoted cells (a quoted cell may hold a line break), else pandas' own parser."""
    options = dict(
        sep=src.get("sep", ","), skiprows=header, dtype=str, keep_default_na=False, na_values=[""]
    )
    if nrows is None and '"' not in text:
        try:
            return pd.read_csv(io.BytesIO(text.encode("utf-8")), engine="pyarrow", **options)
        except Exception:  # let pandas' parser say what is wrong, with its line number
            pass
    return pd.read_csv(io.StringIO(text), nrows=nrows, **options)


def _distinct(series: pd.Series) -> tuple[np.ndarray, pd.Series]:
    codes, uniques = pd.factorize(series, use_na_sentinel=True)
    return codes, pd.Series(np.asarray(uniques, dtype=object), dtype=object)


def _expand(codes: np.ndarray, values: np.ndarray, fill) -> np.ndarray:
    out = values[np.where(codes < 0, 0, codes)] if len(values) else np.full(len(codes), fill)
    out = np.array(out, copy=True)
    out[codes < 0] = fill
    return out


def _as_text(value) -> str:
    if isinstance(value, str):
        return value.strip()
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value).strip()


def text(series: pd.Series) -> pd.Series:
    """Cells as stripped text; whole numbers lose a float's ``.0`` (``12346.0`` → ``'12346'``);
    empty cells are missing.

    Examples
    --------
    >>> text(pd.Series([12346.0, None, " K-7 ", ""], dtype=object)).tolist()
    ['12346', nan, 'K-7', nan]
    """
    if isinstance(series.dtype, pd.StringDtype):  # CSV cells: text already
        stripped = series.str.strip()
        return stripped.where(stripped != "")
    codes, uniques = _distinct(series)
    values = np.array([_as_text(v) for v in uniques], dtype=object)
    values[values == ""] = np.nan
    return pd.Series(_expand(codes, values, np.nan), index=series.index, dtype=object)


def _grammar(decimal: str, thousands: str | None) -> str:
    """A number as the mapping writes it: ``-1.234,5``, ``(1.234,5)`` or ``1.234,5-``."""
    integer = r"\d+"
    if thousands and not thousands.isspace():
        integer = rf"\d{{1,3}}(?:{re.escape(thousands)}\d{{3}})+|\d+"
    d = re.escape(decimal)
    number = rf"(?:(?:{integer})(?:{d}\d+)?|{d}\d+)(?:[eE][-+]?\d+)?"
    return rf"(?:[-+]?{number}|\({number}\)|{number}-)"


def _notation_hint(value: str, decimal: str, thousands: str | None) -> str:
    if decimal == "." and re.fullmatch(r"[-+]?\d{1,3}(,\d{3})+(\.\d+)?-?", value) and "." in value:
        return "uses ',' between thousands: set source.thousands: ','"
    if decimal == "." and "," in value:
        if re.fullmatch(r"[-+]?\d{1,3}(,\d{3})+-?", value):
            return (
                "looks like a decimal comma (set source.decimal: ',') or a thousands separator "
                "(set source.thousands: ',')"
            )
        extra = " and source.thousands: '.'" if "." in value else ""
        return f"looks like a decimal comma: set source.decimal: ','{extra}"
    if decimal == "," and "." in value and thousands != ".":
        return "uses '.' between thousands: set source.thousands: '.'"
    return f"does not fit source.decimal {decimal!r} and source.thousands {thousands!r}"


def numbers(
    series: pd.Series,
    *,
    decimal: str = ".",
    thousands: str | None = None,
    file: Path | str = "",
    column: str = "",
    lines: np.ndarray | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Numbers and a status per cell (:data:`OK`, :data:`MISSING`, :data:`NON_NUMERIC`,
    :data:`NON_FINITE`).

    Text is read with the mapping's decimal mark and thousands separator; spaces and currency
    signs are ignored, ``(12.50)`` and ``12.50-`` are negative. Text made only of digits and
    separators that does not fit the notation is an error, never a silent misreading.

    Examples
    --------
    >>> values, status = numbers(pd.Series(["1.234,50", "12,50-", "inf", "n/a", None]),
    ...                          decimal=",", thousands=".")
    >>> values.tolist(), status.tolist()
    ([1234.5, -12.5, inf, nan, nan], [0, 0, 3, 2, 1])
    >>> numbers(pd.Series(["50,33"]), file="x.csv", column="Betrag")
    Traceback (most recent call last):
    kamlab.data.DataContractError: x.csv: column 'Betrag': '50,33' (line 2) looks like a decimal comma: set source.decimal: ','
    """
    if pd.api.types.is_numeric_dtype(series) and not pd.api.types.is_bool_dtype(series):
        values = series.to_numpy(dtype=float, na_value=np.nan)
        status = np.where(np.isnan(values), MISSING, np.where(np.isfinite(values), OK, NON_FINITE))
        return values, status
    if isinstance(series.dtype, pd.StringDtype):  # CSV cells: every value is text
        codes, distinct = pd.factorize(series, use_na_sentinel=True)
        uniques = pd.Series(distinct, dtype="str")
        is_text = np.ones(len(uniques), dtype=bool)
    else:
        codes, uniques = _distinct(series)
        is_text = uniques.map(lambda v: isinstance(v, str)).to_numpy(dtype=bool)
    vals = np.full(len(uniques), np.nan)
    stat = np.full(len(uniques), OK)
    other = uniques[~is_text]
    if len(other):
        as_number = pd.to_numeric(
            other.map(lambda v: np.nan if isinstance(v, (dt.date, dt.time)) else v),
            errors="coerce",
        )
        vals[~is_text] = as_number.to_numpy(dtype=float)
        stat[~is_text] = np.where(as_number.isna(), NON_NUMERIC, OK)
    if is_text.any():
        clean = (
            uniques.reset_index(drop=True)
            if is_text.all() and isinstance(uniques.dtype, pd.StringDtype)
            else pd.Series(uniques[is_text].to_numpy(dtype=object), dtype="str")
        )
        dirty = clean.str.contains(r"[^0-9.,+\-()eE]", regex=True).to_numpy(dtype=bool)
        special = np.zeros(len(clean), dtype=bool)
        if dirty.any():  # spaces, currency signs, words: cleaned on the few that need it
            clean[dirty] = (
                clean[dirty]
                .str.replace(_CURRENCY_SIGNS, "", regex=True)
                .str.replace(_SPACES, "", regex=True)
            )
            special[dirty] = clean[dirty].str.lower().isin(_NOT_FINITE).to_numpy(dtype=bool)
        parsed = clean.str.fullmatch(_grammar(decimal, thousands)).to_numpy(dtype=bool)
        number = clean
        if thousands and not thousands.isspace():
            number = number.str.replace(thousands, "", regex=False)
        if decimal != ".":
            number = number.str.replace(decimal, ".", regex=False)
        wrapped = number.str.startswith("(").to_numpy(dtype=bool)
        trailing = number.str.endswith("-").to_numpy(dtype=bool) & parsed
        number[wrapped] = number[wrapped].str.slice(1, -1)
        number[trailing] = number[trailing].str.slice(0, -1)
        value = pd.to_numeric(number.where(parsed), errors="coerce").to_numpy(dtype=float)
        value = np.where(wrapped | trailing, -value, value)
        value[special] = pd.to_numeric(clean[special].str.lower(), errors="coerce").to_numpy()
        empty = (clean == "").to_numpy(dtype=bool)
        status = np.where(
            empty,
            MISSING,
            np.where(special, NON_FINITE, np.where(parsed & ~np.isnan(value), OK, NON_NUMERIC)),
        )
        misread = (status == NON_NUMERIC) & clean.str.fullmatch(_NUMBER_LIKE).to_numpy(dtype=bool)
        if misread.any():
            example = str(clean.iloc[int(np.argmax(misread))])
            first = np.flatnonzero(is_text)[int(np.argmax(misread))]
            at = int(np.argmax(codes == first))
            line = f" (line {int(lines[at])})" if lines is not None else f" (line {at + 2})"
            raise DataContractError(
                f"{Path(file).name}: column '{column}': '{example}'{line} "
                f"{_notation_hint(example, decimal, thousands)}",
                file=file,
                column=column,
                rule="number_notation",
            )
        vals[is_text] = value
        stat[is_text] = status
    return _expand(codes, vals, np.nan).astype(float), _expand(codes, stat, MISSING).astype(int)


# -- dates ------------------------------------------------------------------------------------

_DATE = r"^(\d{1,4})([./-])(\d{1,2})\2(\d{2,4})(?:([ T])(\d{1,2}:\d{2}(:\d{2})?))?$"
_TEMPLATES = {"iso": "%Y{s}%m{s}%d", "day_first": "%d{s}%m{s}{y}", "month_first": "%m{s}%d{s}{y}"}
_ORDER_WORDS = {"iso": "year first", "day_first": "day first", "month_first": "month first"}


@dataclass(frozen=True)
class DateReading:
    """Parsed dates and how they were read: ``date_format`` when one format fits every line,
    ``order`` when the data decided it, ``note`` says so in words."""

    dates: pd.Series
    date_format: str | None = None
    order: str | None = None
    note: str | None = None


def _example(strings: pd.Series, mask, codes, lines, k: int = 3) -> str:
    idx = np.flatnonzero(np.asarray(mask))[:k]
    shown = []
    for i in idx:
        at = int(np.argmax(codes == strings.index[i]))
        line = int(lines[at]) if lines is not None else at + 2
        shown.append(f"'{strings.iloc[i]}' (line {line})")
    return ", ".join(shown)


def sniff_date_order(
    strings: pd.Series, codes=None, lines=None, *, file="", column="", order: str | None = None
) -> tuple[pd.Series, str, str]:
    """Per distinct date text, the format that reads it; the order; and what decided it.

    ``strings`` are distinct texts indexed by their code in ``codes``. ISO dates (year first)
    need nothing; for ``dd.mm.yyyy`` against ``mm/dd/yyyy`` the data must decide (a first
    number above 12 means day first, a second one month first) or ``order`` is given.
    Undecidable or mixed orders are errors that show examples.

    Examples
    --------
    >>> formats, order, decided = sniff_date_order(pd.Series(["02/13/2024", "03/01/2024 9:30"]))
    >>> formats.tolist(), order, decided
    (['%m/%d/%Y', '%m/%d/%Y %H:%M'], 'month_first', "the data: '02/13/2024' (line 2)")
    """
    codes = np.arange(len(strings)) if codes is None else codes
    parts = strings.str.extract(_DATE)
    shaped = parts[0].notna().to_numpy()
    iso = shaped & (parts[0].str.len() == 4).to_numpy()
    other = shaped & ~iso
    first = pd.to_numeric(parts[0], errors="coerce").to_numpy()
    second = pd.to_numeric(parts[2], errors="coerce").to_numpy()
    day_first, month_first = other & (first > 12), other & (second > 12)
    decided = "the data"
    if order is None and other.any():
        if day_first.any() and month_first.any():
            raise DataContractError(
                f"{Path(file).name}: column '{column}': dates mix day first "
                f"({_example(strings, day_first, codes, lines, 1)}) and month first "
                f"({_example(strings, month_first, codes, lines, 1)}); set date_format in the "
                "mapping or fix the export",
                file=file,
                column=column,
                rule="ambiguous_dates",
            )
        if not (day_first.any() or month_first.any()):
            raise DataContractError(
                f"{Path(file).name}: column '{column}': every date could be day first or month "
                f"first ({_example(strings, other, codes, lines)}); set date_order: day_first "
                "or month_first (or date_format, e.g. '%d.%m.%Y') in the mapping",
                file=file,
                column=column,
                rule="ambiguous_dates",
            )
        order = "day_first" if day_first.any() else "month_first"
        evidence = _example(strings, day_first if day_first.any() else month_first, codes, lines, 1)
        decided = f"the data: {evidence}"
    elif order is None:
        order, decided = "iso", "the data"
    else:
        decided = "the mapping's date_order"
    template = pd.Series(_TEMPLATES[order], index=strings.index).where(~iso, _TEMPLATES["iso"])
    year = np.where(parts[3].str.len() == 4, "%Y", "%y")
    time = np.where(
        parts[5].isna(), "", parts[4].fillna("") + np.where(parts[6].notna(), "%H:%M:%S", "%H:%M")
    )
    formats = pd.Series(
        [
            t.format(s=s, y=y) + tm if ok else None
            for t, s, y, tm, ok in zip(template, parts[1].fillna(""), year, time, shaped)
        ],
        index=strings.index,
        dtype=object,
    )
    return formats, order, decided


def parse_dates(
    series: pd.Series,
    *,
    date_format: str | None = None,
    date_order: str | None = None,
    file: Path | str = "",
    column: str = "",
    lines: np.ndarray | None = None,
) -> DateReading:
    """Dates from cells: date cells as they are, text with ``date_format``, the mapping's
    ``date_order`` or an order the data decide (see :func:`sniff_date_order`).

    Examples
    --------
    >>> r = parse_dates(pd.Series(["03.01.2024", "13.01.2024 10:15"]))
    >>> r.dates.dt.strftime("%Y-%m-%d %H:%M").tolist(), r.order
    (['2024-01-03 00:00', '2024-01-13 10:15'], 'day_first')
    >>> parse_dates(pd.Series(["03/04/2024", "05/06/2024"]), file="x.csv", column="Date")
    Traceback (most recent call last):
    kamlab.data.DataContractError: x.csv: column 'Date': every date could be day first or month first ('03/04/2024' (line 2), '05/06/2024' (line 3)); set date_order: day_first or month_first (or date_format, e.g. '%d.%m.%Y') in the mapping
    """
    if pd.api.types.is_datetime64_any_dtype(series):
        dates = series.dt.tz_localize(None) if getattr(series.dt, "tz", None) else series
        return DateReading(dates.astype("datetime64[us]"))
    codes, uniques = _distinct(series)
    out = pd.Series(pd.NaT, index=uniques.index, dtype="datetime64[us]")
    is_date = uniques.map(lambda v: isinstance(v, (dt.date, pd.Timestamp))).to_numpy(dtype=bool)
    if is_date.any():
        out[is_date] = pd.to_datetime(uniques[is_date]).astype("datetime64[us]")
    strings = uniques[~is_date].map(_as_text)
    fmt, order, note = date_format, None, None
    if date_format is not None and len(strings):
        out[~is_date] = pd.to_datetime(strings, format=date_format, errors="coerce")
    elif len(strings):
        formats, order, decided = sniff_date_order(
            strings, codes, lines, file=file, column=column, order=date_order
        )
        for form in formats.dropna().unique():
            pick = formats.index[formats == form]
            out[pick] = pd.to_datetime(strings[pick], format=form, errors="coerce")
        rest = formats.index[formats.isna()]
        if len(rest):
            out[rest] = pd.to_datetime(strings[rest], format="ISO8601", errors="coerce")
        used = formats.dropna().unique()
        fmt = str(used[0]) if len(used) == 1 and not len(rest) else None
        note = (
            f"dates in '{column}' read {_ORDER_WORDS[order]}"
            f"{f' ({fmt})' if fmt else ''}, decided by {decided}"
        )
    dates = pd.Series(_expand(codes, out.to_numpy(), np.datetime64("NaT")), index=series.index)
    return DateReading(dates.astype("datetime64[us]"), fmt, order, note)
