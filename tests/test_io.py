"""kamlab._io: exports a spreadsheet cannot run, byte-stable workbooks, safe YAML for user files."""

from __future__ import annotations

import csv
import datetime
import io
import time
import types
from pathlib import Path

import numpy as np
import openpyxl
import pandas as pd
import pytest

from kamlab._io import atomic_write, escape_formulas, read_yaml, write_csv, write_excel

HOSTILE = [
    '=HYPERLINK("http://evil.example","click")',
    "=cmd|' /C calc'!A0",
    "+1+1",
    "-2+3",
    "@SUM(1)",
    "\t=1",
    "\r=1",
    "-",
]
HARMLESS = ["Acme", "-5", "+1.5e3", "-1,234.50", "-12%", "a=b", " =1", ""]


def _frame() -> pd.DataFrame:
    n = len(HOSTILE) + len(HARMLESS)
    return pd.DataFrame(
        {
            "account_id": HOSTILE + HARMLESS,
            "amount": np.linspace(-20.5, 100.0, n),
            "orders": np.arange(-3, n - 3),
            "date": pd.date_range("2022-01-01", periods=n, freq="D"),
            "segment": pd.Categorical(["=1+1", "key"] * (n // 2)),
        }
    )


def _escaped(value: str) -> str:
    return "'" + value


def test_csv_escapes_hostile_text_and_keeps_numbers(tmp_path):
    frame = _frame()
    frame["=sum(a)"] = "x"
    path = write_csv(frame, tmp_path / "out.csv")
    with open(path, newline="", encoding="utf-8") as handle:
        rows = list(csv.reader(handle))
    header, body = rows[0], rows[1:]
    assert header == ["account_id", "amount", "orders", "date", "segment", "'=sum(a)"]
    ids = [row[0] for row in body]
    assert ids == [_escaped(v) for v in HOSTILE] + HARMLESS
    assert [row[4] for row in body[:2]] == ["'=1+1", "key"]
    back = pd.read_csv(path, keep_default_na=False)
    assert back["amount"].dtype == "float64" and back["amount"].iloc[0] == -20.5
    assert back["orders"].dtype == "int64" and back["orders"].iloc[0] == -3
    assert body[0][3] == "2022-01-01"


def test_csv_escapes_the_index_when_it_is_written(tmp_path):
    frame = pd.DataFrame({"n": [1, 2]}, index=pd.Index(["=1", "ok"], name="@id"))
    text = write_csv(frame, tmp_path / "i.csv", index=True).read_text()
    assert text == "'@id,n\n'=1,1\nok,2\n"


def test_escape_leaves_non_text_objects_and_missing_values_alone():
    frame = pd.DataFrame({"mixed": ["=1", 5, None, -2.5, np.nan]}, dtype=object)
    out = escape_formulas(frame)["mixed"].tolist()
    assert out[:2] == ["'=1", 5] and out[2] is None and out[3] == -2.5 and np.isnan(out[4])
    assert frame["mixed"].iloc[0] == "=1"  # the caller's frame is not changed


def test_excel_export_is_escaped_typed_and_formatted(tmp_path):
    frame = _frame()
    other = pd.DataFrame({"note": ["bell\x07here", "=2"]})
    path = write_excel({"actions": frame, "notes": other}, tmp_path / "a.xlsx")
    book = openpyxl.load_workbook(path)
    assert book.sheetnames == ["actions", "notes"]
    sheet = book["actions"]
    assert sheet.freeze_panes == "A2"
    assert sheet.auto_filter.ref == f"A1:E{len(frame) + 1}"
    assert sheet["A1"].font.bold
    kinds = {cell.data_type for row in sheet.iter_rows() for cell in row}
    assert "f" not in kinds  # no formula anywhere
    ids = [sheet.cell(row=r, column=1).value for r in range(2, len(frame) + 2)]
    hostile = [_escaped(v).replace("\r", "\n") for v in HOSTILE]  # XML reads CR as LF
    assert ids == hostile + HARMLESS[:-1] + [None]
    assert sheet["B2"].value == -20.5 and sheet["B2"].data_type == "n"
    assert sheet["C2"].value == -3
    assert sheet["D2"].is_date and sheet["D2"].value.year == 2022
    assert sheet["E2"].value == "'=1+1"
    assert book["notes"]["A2"].value == "bell\ufffdhere"
    assert book["notes"]["A3"].value == "'=2"
    back = pd.read_excel(path, sheet_name="actions", engine="calamine")
    assert back["amount"].dtype == "float64" and back["orders"].dtype == "int64"


def test_excel_bytes_depend_only_on_content(tmp_path, monkeypatch):
    frame = _frame()
    first = write_excel(frame, tmp_path / "one.xlsx").read_bytes()
    # openpyxl stamps the save time into the workbook's properties and the zip members:
    # a save 400 days and some seconds later must give the same bytes.
    import openpyxl.writer.excel as writer

    class Later(datetime.datetime):
        @classmethod
        def now(cls, tz=None):
            return datetime.datetime(2031, 7, 4, 13, 37, 11, tzinfo=tz)

    monkeypatch.setattr(
        writer, "datetime", types.SimpleNamespace(datetime=Later, timezone=datetime.timezone)
    )
    real = time.time
    monkeypatch.setattr(time, "time", lambda: real() + 86_400 * 400 + 7)
    second = write_excel(frame, tmp_path / "two.xlsx").read_bytes()
    assert first == second


def test_excel_refuses_bad_sheet_names(tmp_path):
    with pytest.raises(ValueError, match=r"sheet name 'a/b' is not allowed"):
        write_excel({"a/b": pd.DataFrame({"x": [1]})}, tmp_path / "x.xlsx")
    with pytest.raises(ValueError, match="at least one frame"):
        write_excel({}, tmp_path / "x.xlsx")
    assert not (tmp_path / "x.xlsx").exists()


def test_atomic_write_keeps_the_old_file_on_failure(tmp_path):
    target = tmp_path / "f.txt"
    target.write_text("old")

    def fail(tmp: Path) -> None:
        tmp.write_text("half")
        raise RuntimeError("disk full")

    with pytest.raises(RuntimeError):
        atomic_write(target, fail)
    assert target.read_text() == "old"
    assert [p.name for p in tmp_path.iterdir()] == ["f.txt"]


# --------------------------------------------------------------------------- read_yaml
def _yaml(tmp_path: Path, text: str | bytes) -> Path:
    path = tmp_path / "params.yaml"
    if isinstance(text, bytes):
        path.write_bytes(text)
    else:
        path.write_text(text)
    return path


def test_read_yaml_reads_plain_mappings(tmp_path):
    path = _yaml(tmp_path, "seed: 7\ncaps:\n  key: 0.03\ncutoff: 2022-01-01\n")
    assert read_yaml(path, "parameters file") == {
        "seed": 7,
        "caps": {"key": 0.03},
        "cutoff": pd.Timestamp("2022-01-01").date(),
    }
    assert read_yaml(_yaml(tmp_path, "# nothing yet\n"), "parameters file") == {}


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            "a: 1\nb: !!python/object/apply:os.system ['echo hi']\n",
            r"^params\.yaml, line 2: the parameters file uses the YAML tag "
            r"'!!python/object/apply:os\.system', which kamlab does not load",
        ),
        ("a: !!python/name:os.system\n", r"line 1: .*'!!python/name:os\.system'"),
        ("a: 1\nb: [1, 2\nc: 3\n", r"^params\.yaml, line 3: the parameters file is not valid YAML"),
        ("a: 1\n  b: 2\n", r"^params\.yaml, line 2: the parameters file is not valid YAML"),
        ("- 1\n- 2\n", r"^params\.yaml: the parameters file must be a mapping .* not a list\.$"),
        ("just text\n", r"must be a mapping .* not a str\.$"),
        ("seed: 1\nrate: 2\nseed: 3\n", r"line 3: .*the key 'seed' appears twice \(first on line 1\)"),
        (b"a: caf\xe9\n", r"^params\.yaml: the parameters file is not UTF-8 text \(byte offset 6\)"),
    ],
    ids=["python_object", "python_name", "unclosed_list", "bad_indent", "list", "scalar",
         "duplicate_key", "latin1"],
)  # fmt: skip
def test_read_yaml_turns_each_problem_into_one_sentence(tmp_path, text, expected):
    with pytest.raises(ValueError, match=expected) as info:
        read_yaml(_yaml(tmp_path, text), "parameters file")
    assert "\n" not in str(info.value)


def test_read_yaml_missing_file_and_folder(tmp_path):
    with pytest.raises(ValueError, match=r"nope\.yaml: no such file \(the rule set\)\.$"):
        read_yaml(tmp_path / "nope.yaml", "rule set")
    with pytest.raises(ValueError, match=r"is a folder, not a rule set\.$"):
        read_yaml(tmp_path, "rule set")


def test_read_yaml_allows_merge_keys(tmp_path):
    path = _yaml(tmp_path, "base: &b {x: 1, y: 2}\nother:\n  <<: *b\n  y: 3\n")
    assert read_yaml(path, "rule set")["other"] == {"x": 1, "y": 3}


def test_csv_export_round_trips_through_pandas_as_escaped_text(tmp_path):
    frame = pd.DataFrame({"name": HOSTILE[:5], "value": [1.5, -2.0, 3.0, -4.0, 5.0]})
    back = pd.read_csv(io.StringIO(write_csv(frame, tmp_path / "r.csv").read_text()))
    assert back["name"].tolist() == [_escaped(v) for v in HOSTILE[:5]]
    assert back["value"].tolist() == [1.5, -2.0, 3.0, -4.0, 5.0]


def test_carriage_returns_inside_cells_do_not_split_csv_lines(tmp_path):
    frame = pd.DataFrame({"note": ["a\rb", "\r=1", "plain"], "n": [1, -2, 3]})
    path = write_csv(frame, tmp_path / "cr.csv")
    assert path.read_bytes() == b'"note","n"\n"a\rb",1\n"\'\r=1",-2\n"plain",3\n'
    back = pd.read_csv(path)
    assert back["note"].tolist() == ["a\rb", "'\r=1", "plain"] and back["n"].dtype == "int64"
