"""Read one contract file into a frame of cells that knows the line each row came from.

Private helper of :mod:`kamlab.data` (which owns the contract, its rules and its error type):
this module only turns bytes into rows, and raises :class:`ReadProblem` for files that cannot
be read as a table at all (an encoding that is not the one given, NUL bytes, an unclosed quote,
a header naming one column twice, every line one field longer than the header). ``kamlab.data``
turns a problem into a :class:`~kamlab.data.DataContractError` that names the file.

Every frame returned carries ``_line``: the line (CSV, header = line 1) or sheet row (Excel)
or 1-based row (Parquet) of each row, so that messages and the ledger point at what a user
sees. CSV rows whose field count differs from the header's also carry ``_fields``.
"""

from __future__ import annotations

import codecs
import csv
import io
from pathlib import Path

import numpy as np
import pandas as pd

LINE = "_line"
FIELDS = "_fields"
#: Separators a user's export may use instead of the comma (named in hints, never guessed).
OTHER_SEPARATORS = {";": "';'", "\t": "tab", "|": "'|'"}


class ReadProblem(Exception):
    """A file that cannot be read as a table; ``kamlab.data`` adds the file name."""

    def __init__(self, message: str, *, rule: str, column: str | None = None):
        super().__init__(message)
        self.rule = rule
        self.column = column


# --------------------------------------------------------------------------- bytes → text
def _line_of(raw: bytes, offset: int) -> int:
    return raw.count(b"\n", 0, offset) + 1


def decode(raw: bytes, encoding: str) -> str:
    """The text of a CSV file; NUL bytes and undecodable bytes name their line and offset."""
    if raw.startswith((b"\xff\xfe", b"\xfe\xff")):
        raise ReadProblem(
            "the file is UTF-16 encoded (it starts with a UTF-16 byte-order mark); "
            "save it as UTF-8 (CSV UTF-8 in spreadsheet programs), or pass encoding='utf-16'.",
            rule="encoding",
        )
    nul = raw.find(b"\x00")
    if nul >= 0 and not encoding.lower().replace("-", "").startswith("utf16"):
        share = raw.count(b"\x00") / max(len(raw), 1)
        hint = (
            " It looks UTF-16 encoded: save it as UTF-8, or pass encoding='utf-16'."
            if share > 0.2
            else " The file is damaged or not a text file."
        )
        raise ReadProblem(
            f"line {_line_of(raw, nul)} holds a NUL byte (byte offset {nul}).{hint}",
            rule="nul_byte",
        )
    codec = "utf-8-sig" if encoding.lower().replace("_", "-") in ("utf-8", "utf8") else encoding
    try:
        return raw.decode(codec)
    except UnicodeDecodeError as exc:
        bad = raw[exc.start]
        try:
            raw.decode("cp1252")
            guess = (
                "it looks Windows-1252 / Latin-1 encoded: save it as UTF-8, "
                "or pass encoding='cp1252'"
            )
        except UnicodeDecodeError:
            guess = "save it as UTF-8, or pass the file's encoding (encoding='...')"
        raise ReadProblem(
            f"line {_line_of(raw, exc.start)} is not valid {encoding} (byte 0x{bad:02x} at "
            f"byte offset {exc.start}); {guess}.",
            rule="encoding",
        ) from None
    except LookupError:
        raise ReadProblem(f"unknown encoding {encoding!r}.", rule="encoding") from None


# --------------------------------------------------------------------------- CSV
def _scan(data: bytes) -> tuple[np.ndarray, np.ndarray] | None:
    """Start line and field count of every non-blank record, from the bytes alone.

    Quotes are paired by parity (RFC 4180), so separators and line ends inside quoted fields
    do not count. Returns None when the quoting is not plain RFC 4180 (an odd number of
    quotes, e.g. a literal ``5" screen``); the caller then reads with the csv module.
    """
    b = np.frombuffer(data, dtype=np.uint8)
    newlines = np.flatnonzero(b == 10)
    commas = np.flatnonzero(b == 44)
    quotes = np.flatnonzero(b == 34)
    ends, seps = newlines, commas
    if len(quotes):
        if len(quotes) % 2:
            return None
        # a separator is outside quotes when an even number of quotes precede it
        ends = newlines[np.searchsorted(quotes, newlines) % 2 == 0]
        seps = commas[np.searchsorted(quotes, commas) % 2 == 0]
    starts = np.concatenate(([0], ends + 1))
    stops = np.concatenate((ends, [len(b)]))
    fields = np.diff(np.searchsorted(seps, stops), prepend=0) + 1
    lines = np.searchsorted(newlines, starts) + 1 if len(quotes) else np.arange(1, len(starts) + 1)
    # a record's end, without the CR of a CRLF line end; blank records are skipped
    trimmed = stops - ((stops > starts) & (b[np.maximum(stops - 1, 0)] == 13))
    keep = trimmed > starts
    lines, fields = lines[keep], fields[keep]
    return lines, fields


def read_csv(path: Path, encoding: str) -> pd.DataFrame:
    """All cells as text (empty cells missing), the header stripped, ``_line`` per row."""
    raw = path.read_bytes()
    text = decode(raw, encoding)
    if not text.strip():
        return pd.DataFrame()
    first = next(csv.reader(io.StringIO(text, newline=""), skipinitialspace=True))
    header = [name.strip() for name in first]
    codec = codecs.lookup(encoding).name
    ascii_safe = codec in ("utf-8", "utf-8-sig", "cp1252", "iso8859-1", "ascii")
    data = raw[3:] if raw.startswith(b"\xef\xbb\xbf") else raw
    scan = _scan(data if ascii_safe else text.encode("utf-8"))
    if scan is not None and (scan[1] == len(header)).all():
        frame = pd.read_csv(
            io.BytesIO(data) if ascii_safe else io.StringIO(text),
            encoding=codec if ascii_safe else None,
            dtype=str,
            keep_default_na=False,
            na_values=[""],
            skipinitialspace=True,
            header=0,
        )
        if len(frame) == len(scan[0]) - 1 and frame.shape[1] == len(header):
            _check_header(header, frame)
            frame.columns = pd.Index(header, dtype=object)
            frame.insert(0, LINE, scan[0][1:])
            return _drop_unnamed(frame, header)
    return _read_csv_slowly(text, header)


def _read_csv_slowly(text: str, header: list[str], strict: bool = True) -> pd.DataFrame:
    """The csv module's reading: exact lines after blank lines and multi-line fields, field
    counts per line, and the line of an unclosed quote.

    Text after a closing quote (``"a"b``) is read as pandas reads it (``ab``): the strict
    reading that finds unclosed quotes is retried leniently for it.
    """
    reader = csv.reader(io.StringIO(text, newline=""), skipinitialspace=True, strict=strict)
    rows: list[list[str]] = []
    lines: list[int] = []
    start = 1
    limit = csv.field_size_limit()
    csv.field_size_limit(max(limit, len(text) + 1))  # as long as the fast path allows
    try:
        for record in reader:
            if record and not (len(record) == 1 and not record[0].strip()):
                rows.append(record)
                lines.append(start)
            start = reader.line_num + 1
    except csv.Error as exc:
        reason = str(exc)
        if strict and "expected after" in reason:
            csv.field_size_limit(limit)
            return _read_csv_slowly(text, header, strict=False)
        if "end of data" in reason:
            reason = (
                "a quoted field is never closed (it runs to the end of the file, "
                f"line {reader.line_num})"
            )
        raise ReadProblem(f"line {start}: {reason}.", rule="malformed_csv") from None
    finally:
        csv.field_size_limit(limit)
    width = len(header)
    body = rows[1:]
    counts = np.array([len(r) for r in body], dtype=np.int64)
    if len(body) and (counts != width).all():
        extra = body[0]
        hint = (
            " Every line ends with a separator the header lacks: remove the trailing "
            "separators, or give the extra column a name in the header."
            if (counts == width + 1).all() and all(not r[-1].strip() for r in body)
            else " Check the separator and the quoting."
        )
        raise ReadProblem(
            f"no data line has the header's {width} fields (line {lines[1]} has "
            f"{len(extra)}).{hint}",
            rule="ragged_line",
        )
    padded = [r[:width] + [""] * (width - len(r)) for r in body]
    columns = list(zip(*padded)) if padded else [() for _ in header]
    frame = pd.DataFrame(
        {i: pd.Series(col, dtype="str") for i, col in enumerate(columns)}, index=None
    )
    frame = frame.replace("", np.nan) if len(frame) else frame
    _check_header(header, frame)
    frame.columns = pd.Index(header, dtype=object)
    frame.insert(0, LINE, np.asarray(lines[1:], dtype=np.int64))
    if (counts != width).any():
        frame[FIELDS] = counts
    return _drop_unnamed(frame, header)


def _check_header(header: list[str], frame: pd.DataFrame) -> None:
    seen: dict[str, int] = {}
    for i, name in enumerate(header, start=1):
        if name and name in seen:
            raise ReadProblem(
                f"the header names column '{name}' twice (fields {seen[name]} and {i}); "
                "rename one of them.",
                rule="duplicate_column",
                column=name,
            )
        seen[name] = i


def _drop_unnamed(frame: pd.DataFrame, header: list[str]) -> pd.DataFrame:
    """Drop columns without a name that hold nothing (a trailing separator on every line,
    header included); a nameless column that holds values is an error."""
    unnamed = [i for i, name in enumerate(header) if not name]
    if not unnamed:
        return frame
    positions = [i + 1 for i in unnamed]  # +1: the _line column comes first
    for pos, i in zip(positions, unnamed):
        values = frame.iloc[:, pos]
        if values.notna().any():
            line = frame[LINE].iloc[int(np.flatnonzero(values.notna().to_numpy())[0])]
            raise ReadProblem(
                f"field {i + 1} has no name in the header but holds values (line {line}: "
                f"{values.dropna().iloc[0]!r}); name the column in the header.",
                rule="unnamed_column",
            )
    keep = [j for j in range(frame.shape[1]) if j not in positions]
    return frame.iloc[:, keep]


def separator_hint(columns: list[str]) -> str:
    """A sentence naming the separator a header seems to use, or ''."""
    joined = " ".join(c for c in columns if not c.startswith("_"))
    for sep, name in OTHER_SEPARATORS.items():
        if sep in joined:
            return (
                f" The header looks {name}-separated ({joined!r}); kamlab reads comma-separated "
                "files: save the file as CSV with commas."
            )
    return ""


# --------------------------------------------------------------------------- Excel, Parquet
def read_excel(path: Path, sheet: str | None, table: str) -> tuple[pd.DataFrame, str]:
    """The cells of one sheet (header = first non-blank row) with ``_line`` = sheet row."""
    with pd.ExcelFile(path, engine="calamine") as book:
        sheets = [str(s) for s in book.sheet_names]
        if sheet is not None and sheet not in sheets:
            raise ReadProblem(
                f"sheet '{sheet}' not found; the workbook has sheets "
                f"{', '.join(map(repr, sheets))}.",
                rule="missing_sheet",
            )
        if sheet is None:
            if table in sheets:
                sheet = table
            elif len(sheets) == 1:
                sheet = sheets[0]
            else:
                raise ReadProblem(
                    f"the workbook has several sheets ({', '.join(map(repr, sheets))}) and "
                    f"none is named '{table}'; rename the sheet or pass sheet=.",
                    rule="missing_sheet",
                )
        cells = pd.read_excel(book, sheet_name=sheet, header=None, dtype=object)
    cells = cells.loc[cells.notna().any(axis=1)]
    if cells.empty:
        return pd.DataFrame(), sheet
    header = ["" if pd.isna(v) else str(v).strip() for v in cells.iloc[0]]
    frame = cells.iloc[1:].reset_index(names=LINE)
    frame[LINE] = frame[LINE].astype(np.int64) + 1
    frame = frame[[LINE, *range(len(header))]] if len(frame) else frame
    _check_header(header, frame)
    frame.columns = pd.Index([LINE, *header], dtype=object)
    return _drop_unnamed(frame, header), sheet


def read_parquet(path: Path) -> pd.DataFrame:
    """The typed columns of a Parquet file with ``_line`` = 1-based row number."""
    frame = pd.read_parquet(path)
    header = [str(c).strip() for c in frame.columns]
    _check_header(header, frame)
    frame.columns = pd.Index(header, dtype=object)
    frame.insert(0, LINE, np.arange(1, len(frame) + 1, dtype=np.int64))
    return frame
