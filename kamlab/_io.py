"""Files kamlab reads and writes: atomic writes, spreadsheet-safe exports, safe YAML, hashing.

Spreadsheet safety
------------------
A spreadsheet runs a cell that starts with ``=``, ``+``, ``-`` or ``@`` (and, in some
programs, a tab or carriage return) as a formula, so an account named ``=HYPERLINK(...)`` in
an export is a live link, and ``=cmd|' /C calc'!A0`` worse. :func:`write_csv` (every CSV kamlab
writes: published tables, ledgers, synthetic portfolios) and :func:`write_excel` therefore
escape such **text** cells, column names included, by prefixing a ``'``, the usual defence
(OWASP, "CSV injection"): ``=1+1`` is written ``'=1+1``. Numbers stay numbers: a number column
is never touched (a negative amount stays ``-20.5``), and neither is a text cell that is a
plain number (``-5``, ``+1.5e3``, ``-1,234.50``, ``-12%``), which a spreadsheet reads as a
number and cannot run. Reading an escaped file back gives the escaped text.

Contract folders that kamlab writes for itself (``kamlab import``, ``write_dataset``) are
Parquet, not a spreadsheet format, and hold the values exactly as they came. HTML output is
escaped by its own writer.
"""

from __future__ import annotations

import csv
import hashlib
import io
import os
import re
import tempfile
import zipfile
from collections.abc import Callable, Mapping
from datetime import datetime
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import yaml

__all__ = [
    "FORMULA_PREFIXES",
    "atomic_write",
    "escape_formulas",
    "read_yaml",
    "sha256_file",
    "write_csv",
    "write_excel",
]

#: A text cell starting with one of these is escaped in CSV and Excel exports.
FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r")
_PLAIN_NUMBER = r"[+-]?(?:\d+|\d{1,3}(?:,\d{3})+)?(?:\.\d+)?(?:[eE][+-]?\d+)?%?"
_HAS_DIGIT = r".*\d.*"
# Characters an xlsx file cannot hold (XML 1.0 control characters).
_ILLEGAL_XML = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f]")
_FIXED_TIME = datetime(2000, 1, 1)


def atomic_write(path: str | os.PathLike, write: Callable[[Path], object]) -> Path:
    """Write a file atomically: ``write`` fills a temporary file that then replaces ``path``.

    A reader never sees a half-written file, and a failure leaves any old file untouched.

    Examples
    --------
    >>> import tempfile
    >>> folder = Path(tempfile.mkdtemp())
    >>> atomic_write(folder / "note.txt", lambda tmp: tmp.write_text("done")).read_text()
    'done'
    """
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
    os.close(fd)
    tmp = Path(tmp_name)
    umask = os.umask(0)
    os.umask(umask)
    os.chmod(tmp, 0o666 & ~umask)  # mkstemp creates 0600; give the file ordinary permissions
    try:
        write(tmp)
        os.replace(tmp, target)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return target


# --------------------------------------------------------------------------- escaping
def _escape_text(values: pd.Series) -> pd.Series:
    is_text = values.map(lambda v: isinstance(v, str)) if values.dtype == object else None
    text = values if is_text is None else values.where(is_text.astype(bool))
    starts = text.str.startswith(FORMULA_PREFIXES, na=False)
    if not starts.any():
        return values
    plain = text[starts].str.fullmatch(_PLAIN_NUMBER) & text[starts].str.fullmatch(_HAS_DIGIT)
    risky = starts.copy()
    risky[starts] = ~plain.fillna(False).astype(bool)
    out = values.astype(object)
    out[risky] = "'" + text[risky].astype(object)
    return out


def _escape_labels(labels: pd.Index) -> pd.Index:
    if isinstance(labels, pd.MultiIndex):
        return labels
    escaped = _escape_text(pd.Series(labels, dtype=object))
    return pd.Index(escaped.tolist(), name=labels.name)


def escape_formulas(frame: pd.DataFrame, *, index: bool = False) -> pd.DataFrame:
    """A copy of ``frame`` in which no text cell (nor column name) can start a formula.

    Text cells starting with one of :data:`FORMULA_PREFIXES` get a leading ``'``, unless they
    are a plain number; number, date and boolean columns are left alone.

    Parameters
    ----------
    frame : pandas.DataFrame
    index : bool
        Escape the index labels too (when the index is written).

    Examples
    --------
    >>> frame = pd.DataFrame({"name": ["=1+1", "-5", "Acme", "@SUM(1)"],
    ...                       "amount": [-20.5, 3.0, 1.0, 2.0]})
    >>> escape_formulas(frame)
          name  amount
    0    '=1+1   -20.5
    1       -5     3.0
    2     Acme     1.0
    3  '@SUM(1)     2.0
    """
    out = frame.copy()
    for i in range(out.shape[1]):
        col = out.iloc[:, i]
        if isinstance(col.dtype, pd.CategoricalDtype):
            cats = _escape_text(pd.Series(col.cat.categories, dtype=object))
            if cats.tolist() != list(col.cat.categories):
                out.isetitem(i, col.cat.rename_categories(cats.tolist()))
        elif col.dtype == object or pd.api.types.is_string_dtype(col.dtype):
            out.isetitem(i, _escape_text(col))
    out.columns = _escape_labels(out.columns)
    if index:
        out.index = _escape_labels(out.index)
        names = _escape_text(pd.Series(list(out.index.names), dtype=object)).tolist()
        out.index = out.index.set_names(names)
    return out


def write_csv(frame: pd.DataFrame, path: str | os.PathLike, **kwargs) -> Path:
    """Write a DataFrame as CSV atomically, spreadsheet-safe, with stable formatting.

    Text cells that a spreadsheet would run as formulas are escaped (see the module
    docstring and :func:`escape_formulas`); line ends are LF; ``index`` defaults to False.
    Other keyword arguments go to :meth:`pandas.DataFrame.to_csv`.

    Examples
    --------
    >>> import tempfile
    >>> path = Path(tempfile.mkdtemp()) / "ids.csv"
    >>> frame = pd.DataFrame({"account_id": ["=HYPERLINK(1)", "A2"], "amount": [-3.5, 2.0]})
    >>> print(write_csv(frame, path).read_text(), end="")
    account_id,amount
    '=HYPERLINK(1),-3.5
    A2,2.0
    """
    kwargs.setdefault("index", False)
    kwargs.setdefault("lineterminator", "\n")
    safe = escape_formulas(frame, index=bool(kwargs["index"]))
    if "quoting" not in kwargs and _has_carriage_return(safe, bool(kwargs["index"])):
        # the csv module quotes a field only for the characters of the line terminator, so a
        # CR inside a cell would end the line for a reader: quote every text field instead
        kwargs["quoting"] = csv.QUOTE_NONNUMERIC
    return atomic_write(path, lambda tmp: safe.to_csv(tmp, **kwargs))


def _has_carriage_return(frame: pd.DataFrame, index: bool) -> bool:
    labels = [*frame.columns, *(frame.index.names if index else [])]
    if any(isinstance(v, str) and "\r" in v for v in labels):
        return True
    series = [frame.iloc[:, i] for i in range(frame.shape[1])]
    if index:
        series.append(frame.index.to_series())
    for values in series:
        if values.dtype == object or pd.api.types.is_string_dtype(values.dtype):
            text = values.astype("str") if values.dtype == object else values
            if text.str.contains("\r", regex=False, na=False).any():
                return True
        elif isinstance(values.dtype, pd.CategoricalDtype):
            if any(isinstance(c, str) and "\r" in c for c in values.cat.categories):
                return True
    return False


# --------------------------------------------------------------------------- Excel
def _cell(value: Any) -> Any:
    if value is None or value is pd.NA or value is pd.NaT:
        return None
    if isinstance(value, float | np.floating):
        return None if np.isnan(value) else float(value)
    if isinstance(value, np.integer):
        return int(value)
    if isinstance(value, np.bool_):
        return bool(value)
    if isinstance(value, pd.Timestamp):
        return value.tz_localize(None).to_pydatetime() if value.tzinfo else value.to_pydatetime()
    if isinstance(value, str):
        return _ILLEGAL_XML.sub("\ufffd", value)
    if isinstance(value, int | float | bool | datetime):
        return value
    return _ILLEGAL_XML.sub("\ufffd", str(value))


#: What Excel refuses in a sheet name, and its longest sheet name.
_SHEET_FORBIDDEN = re.compile(r"[][:*?/\\]")
_SHEET_MAX = 31


def sheet_name(name: str, taken=()) -> str:
    """A valid Excel sheet name made from ``name`` (forbidden characters become ``_``, cut to
    31 characters), numbered ``~2``, ``~3``... when it is in ``taken``."""
    clean = _SHEET_FORBIDDEN.sub("_", name).strip() or "unnamed"
    base, n = clean[:_SHEET_MAX], 1
    while base in taken:
        n += 1
        base = f"{clean[: _SHEET_MAX - len(str(n)) - 1]}~{n}"
    return base


def _check_sheet_name(name: str) -> str:
    if (
        not isinstance(name, str)
        or not name
        or len(name) > _SHEET_MAX
        or _SHEET_FORBIDDEN.search(name)
    ):
        raise ValueError(
            f"sheet name {name!r} is not allowed in Excel (1-31 characters, none of [ ] : * ? / \\)"
        )
    return name


def _deterministic_zip(data: bytes) -> bytes:
    """The same workbook with fixed member timestamps, so equal content gives equal bytes."""
    out = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(data)) as src, zipfile.ZipFile(out, "w") as dst:
        for info in src.infolist():
            fixed = zipfile.ZipInfo(info.filename, date_time=(1980, 1, 1, 0, 0, 0))
            fixed.compress_type = zipfile.ZIP_DEFLATED
            fixed.external_attr = info.external_attr
            dst.writestr(fixed, src.read(info.filename))
    return out.getvalue()


def write_excel(
    frames: Mapping[str, pd.DataFrame] | pd.DataFrame,
    path: str | os.PathLike,
    *,
    index: bool = False,
    max_width: int = 60,
) -> Path:
    """Write one sheet per frame to an ``.xlsx`` workbook, formatted and spreadsheet-safe.

    Each sheet has a bold, frozen header row and an autofilter; columns are as wide as their
    content (up to ``max_width`` characters). Text cells are escaped exactly as
    :func:`write_csv` escapes them; numbers and dates stay typed cells. Characters an xlsx file
    cannot hold (control characters other than tab and line ends) become U+FFFD, and a reader
    sees a carriage return inside a cell as a line feed (XML line-end handling). The file is
    written atomically and its bytes depend only on the content.

    Parameters
    ----------
    frames : mapping of sheet name to DataFrame, or one DataFrame (sheet ``Sheet1``)
    path : path-like
    index : bool
        Write the index as the first column(s).
    max_width : int
        Widest column, in characters.

    Examples
    --------
    >>> import tempfile
    >>> path = Path(tempfile.mkdtemp()) / "actions.xlsx"
    >>> frame = pd.DataFrame({"account_id": ["+1+1", "A2"], "amount": [-3.5, 2.0]})
    >>> back = pd.read_excel(write_excel({"actions": frame}, path), engine="calamine")
    >>> back["account_id"].tolist(), back["amount"].tolist()
    (["'+1+1", 'A2'], [-3.5, 2.0])
    """
    from openpyxl import Workbook
    from openpyxl.styles import Font
    from openpyxl.utils import get_column_letter
    from openpyxl.writer.excel import ExcelWriter

    sheets = {"Sheet1": frames} if isinstance(frames, pd.DataFrame) else dict(frames)
    if not sheets:
        raise ValueError("write_excel needs at least one frame")
    book = Workbook()
    book.remove(book.active)
    book.properties.created = book.properties.modified = _FIXED_TIME
    bold = Font(bold=True)
    for name, frame in sheets.items():
        sheet = book.create_sheet(_check_sheet_name(name))
        safe = escape_formulas(frame.reset_index() if index else frame)
        header = [_cell(c) for c in safe.columns]
        sheet.append(header)
        widths = [len(str(h)) for h in header]
        for row in safe.itertuples(index=False, name=None):
            cells = [_cell(v) for v in row]
            sheet.append(cells)
            widths = [max(w, len(str(c)) if c is not None else 0) for w, c in zip(widths, cells)]
        for cell in sheet[1]:
            cell.font = bold
        sheet.freeze_panes = "A2"
        if safe.shape[1]:
            sheet.auto_filter.ref = f"A1:{get_column_letter(safe.shape[1])}{len(safe) + 1}"
        for i, width in enumerate(widths, start=1):
            sheet.column_dimensions[get_column_letter(i)].width = min(max_width, width + 2)
    buffer = io.BytesIO()
    # ExcelWriter, not book.save: save_workbook stamps the current time over the fixed one.
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED, allowZip64=True) as archive:
        ExcelWriter(book, archive).save()
    data = _deterministic_zip(buffer.getvalue())
    return atomic_write(path, lambda tmp: tmp.write_bytes(data))


# --------------------------------------------------------------------------- YAML
# libyaml's parser when PyYAML was built with it (ten times faster); the pure-Python one
# explains a syntax error better (it names the offending character), so errors are re-read.
try:
    from yaml import CSafeLoader as _FastSafeLoader
except ImportError:  # pragma: no cover - PyYAML without libyaml
    from yaml import SafeLoader as _FastSafeLoader  # type: ignore[assignment]


class _NoDuplicateKeys:
    """Refuse a key given twice in one mapping (the last would win silently)."""

    def construct_mapping(self, node, deep=False):
        if isinstance(node, yaml.MappingNode):
            seen: dict[Any, int] = {}
            for key_node, _ in node.value:
                if key_node.tag == "tag:yaml.org,2002:merge":
                    return super().construct_mapping(node, deep=deep)  # type: ignore[misc]
                key = self.construct_object(key_node, deep=True)  # type: ignore[attr-defined]
                try:
                    first = seen.setdefault(key, key_node.start_mark.line + 1)
                except TypeError:
                    continue  # an unhashable key: the base class reports it
                if first != key_node.start_mark.line + 1:
                    raise yaml.constructor.ConstructorError(
                        None,
                        None,
                        f"the key {key!r} appears twice (first on line {first})",
                        key_node.start_mark,
                    )
        return super().construct_mapping(node, deep=deep)  # type: ignore[misc]


class _StrictLoader(_NoDuplicateKeys, _FastSafeLoader):
    pass


class _StrictPythonLoader(_NoDuplicateKeys, yaml.SafeLoader):
    pass


def load_yaml(text: str, strict: bool = False):
    """Safe YAML (``yaml.safe_load``, on libyaml when available); ``strict`` refuses a key
    given twice. A syntax error is raised with the pure-Python parser's message.

    Examples
    --------
    >>> load_yaml("a: [1, 2]")
    {'a': [1, 2]}
    """
    try:
        return yaml.load(text, Loader=_StrictLoader if strict else _FastSafeLoader)
    except yaml.YAMLError:
        return yaml.load(text, Loader=_StrictPythonLoader if strict else yaml.SafeLoader)


def read_yaml(path: str | os.PathLike, what: str) -> dict:
    """Read a user's YAML file (a mapping, parameters, a rule set) safely.

    Only plain YAML is loaded (mappings, lists, text, numbers, dates: ``yaml.safe_load``);
    every problem is one ``ValueError`` sentence naming the file: a missing file or a folder,
    text that is not UTF-8, a syntax error (with its line), a tag such as ``!!python/object``,
    a key given twice, or a top level that is not a mapping. An empty file is an empty mapping.

    Parameters
    ----------
    path : path-like
    what : str
        What the file is, for messages ("column mapping", "parameters file", "rule set").

    Returns
    -------
    dict

    Examples
    --------
    >>> import tempfile
    >>> path = Path(tempfile.mkdtemp()) / "params.yaml"
    >>> _ = path.write_text("seed: 7\\ncaps: [0.03, 0.15]\\n")
    >>> read_yaml(path, "parameters file")
    {'seed': 7, 'caps': [0.03, 0.15]}
    >>> _ = path.write_text("seed: !!python/object/apply:os.system ['ls']\\n")
    >>> read_yaml(path, "parameters file")
    Traceback (most recent call last):
    ...
    ValueError: params.yaml, line 1: the parameters file uses the YAML tag '!!python/object/apply:os.system', which kamlab does not load (plain mappings, lists, text and numbers only).
    """
    file = Path(path)
    if file.is_dir():
        raise ValueError(f"{file}: is a folder, not a {what}.")
    try:
        text = file.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ValueError(f"{file}: no such file (the {what}).") from None
    except UnicodeDecodeError as exc:
        raise ValueError(
            f"{file.name}: the {what} is not UTF-8 text (byte offset {exc.start}); save it as "
            "UTF-8."
        ) from None
    try:
        data = load_yaml(text, strict=True)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        where = f"{file.name}, line {mark.line + 1}" if mark is not None else file.name
        problem = str(exc.problem or exc.context or "invalid YAML")
        tag = re.search(r"tag '([^']+)'", problem)
        if tag is not None:
            name = tag.group(1).replace("tag:yaml.org,2002:", "!!")
            raise ValueError(
                f"{where}: the {what} uses the YAML tag '{name}', which kamlab does not load "
                "(plain mappings, lists, text and numbers only)."
            ) from None
        raise ValueError(f"{where}: the {what} is not valid YAML ({problem}).") from None
    except yaml.YAMLError as exc:
        raise ValueError(f"{file.name}: the {what} is not valid YAML ({exc}).") from None
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise ValueError(
            f"{file.name}: the {what} must be a mapping ('key: value' lines) at the top level, "
            f"not a {type(data).__name__}."
        )
    return data


def sha256_file(path: str | os.PathLike, chunk_size: int = 1 << 20) -> str:
    """Hex sha256 of a file's bytes.

    Examples
    --------
    >>> import tempfile
    >>> path = Path(tempfile.mkdtemp()) / "empty"
    >>> _ = path.write_bytes(b"")
    >>> sha256_file(path)[:12]
    'e3b0c44298fc'
    """
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        while block := handle.read(chunk_size):
            digest.update(block)
    return digest.hexdigest()
