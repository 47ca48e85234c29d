"""Bad and hostile inputs: each is a named error (file, column, line) or, with on_error="drop",
a counted ledger row, so that kept + ledgered rows = the rows of the file.

Every case starts from the valid tiny portfolio (``tiny_dir``: 3 accounts, 4 transactions,
2 assessments, 1 interaction) and breaks one thing.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from kamlab.data import DataContractError, load_dataset, load_table

ROWS = {"accounts": 3, "transactions": 4, "assessments": 2, "interactions": 1}
TX_HEADER = "transaction_id,account_id,date,amount\n"


def _replace(path: Path, old: str, new: str) -> None:
    text = path.read_text()
    assert old in text, f"{old!r} not in {path.name}"
    path.write_text(text.replace(old, new))


def _tx(d: Path) -> Path:
    return d / "transactions.csv"


def _acc(d: Path) -> Path:
    return d / "accounts.csv"


def _set(table: str, text: str) -> Callable[[Path], None]:
    return lambda d: (d / f"{table}.csv").write_text(text)


def _sub(table: str, old: str, new: str) -> Callable[[Path], None]:
    return lambda d: _replace(d / f"{table}.csv", old, new)


def _append(table: str, text: str) -> Callable[[Path], None]:
    return lambda d: (d / f"{table}.csv").write_text((d / f"{table}.csv").read_text() + text)


def _bytes(table: str, data: bytes) -> Callable[[Path], None]:
    return lambda d: (d / f"{table}.csv").write_bytes(data)


def _to_parquet(table: str, frame: pd.DataFrame) -> Callable[[Path], None]:
    def write(d: Path) -> None:
        (d / f"{table}.csv").unlink()
        frame.to_parquet(d / f"{table}.parquet", index=False)

    return write


def _to_excel(table: str, frame: pd.DataFrame, sheet: str | None = None) -> Callable[[Path], None]:
    def write(d: Path) -> None:
        (d / f"{table}.csv").unlink()
        frame.to_excel(d / f"{table}.xlsx", index=False, sheet_name=sheet or table)

    return write


def _parts(table: str, *parts: str, ext: str = "csv") -> Callable[[Path], None]:
    """Move a table into a ``<table>/`` folder of CSV parts with the given bodies."""

    def write(d: Path) -> None:
        header = (d / f"{table}.csv").read_text().splitlines()[0]
        (d / f"{table}.csv").unlink()
        folder = d / table
        folder.mkdir()
        for i, body in enumerate(parts):
            (folder / f"part-{i}.{ext}").write_text(header + "\n" + body)

    return write


def _book_without_transactions(d: Path) -> None:
    with pd.ExcelWriter(d / "book.xlsx") as writer:
        pd.read_csv(_acc(d)).to_excel(writer, sheet_name="accounts", index=False)
        pd.read_csv(_tx(d)).to_excel(writer, sheet_name="Transactions", index=False)


@dataclass(frozen=True)
class Case:
    """One way to break the tiny portfolio and what kamlab must say about it."""

    breaker: Callable[[Path], Any]
    rule: str
    fragments: tuple[str, ...]
    #: rows the rule drops with on_error="drop"; None = structural (raises in both modes)
    dropped: int | None = None
    table: str = "transactions"
    #: rows of the broken table's file(s), when the break changes the count
    rows: int | None = None
    kwargs: dict = field(default_factory=dict)
    path: str | None = None  # load this (relative to the folder) instead of the folder


CASES: dict[str, Case] = {
    # ---- dates
    "date_year_month_only": Case(
        _sub("transactions", "2022-02-05", "2022-06"),
        "unparseable_date",
        ("transactions.csv", "column 'date'", "line 3", "date='2022-06'", "YYYY-MM-DD"),
        dropped=1,
    ),
    "date_year_only": Case(
        _sub("transactions", "2022-02-05", "2022"),
        "unparseable_date",
        ("transactions.csv", "column 'date'", "line 3", "date='2022'"),
        dropped=1,
    ),
    "date_single_digit_day": Case(
        _sub("transactions", "2022-02-05", "2022-02-5"),
        "unparseable_date",
        ("transactions.csv", "column 'date'", "line 3", "date='2022-02-5'"),
        dropped=1,
    ),
    "date_not_in_calendar": Case(
        _sub("transactions", "2022-02-05", "2022-02-30"),
        "unparseable_date",
        ("transactions.csv", "column 'date'", "line 3", "date='2022-02-30'"),
        dropped=1,
    ),
    "date_with_slashes": Case(
        _sub("transactions", "2022-02-05", "2022/02/05"),
        "unparseable_date",
        ("transactions.csv", "column 'date'", "line 3"),
        dropped=1,
    ),
    "date_before_1900": Case(
        _sub("transactions", "2022-02-05", "0202-01-03"),
        "date_before_1900",
        ("transactions.csv", "column 'date'", "line 3", "before 1900-01-01", "0202-01-03"),
        dropped=1,
    ),
    "date_with_timezone_offset": Case(
        _sub("transactions", "2022-02-05", "2022-02-05T10:00:00+02:00"),
        "timezone",
        ("transactions.csv", "column 'date'", "line 3", "timezone", "+02:00"),
        dropped=1,
    ),
    "dates_with_mixed_timezones": Case(
        lambda d: (
            _replace(_tx(d), "2022-02-05", "2022-02-05T10:00:00+02:00"),
            _replace(_tx(d), "2022-03-01", "2022-03-01T10:00:00Z"),
        ),
        "timezone",
        ("transactions.csv", "column 'date'", "line 3", "line 4", "(2 rows, rule timezone)"),
        dropped=2,
    ),
    "optional_account_date_bad": Case(
        _sub("accounts", "2020-06-01", "2020-13-01"),
        "unparseable_date",
        ("accounts.csv", "column 'acquired_on'", "line 3", "acquired_on='2020-13-01'"),
        dropped=1,
        table="accounts",
    ),
    "assessment_date_incomplete": Case(
        _sub("assessments", "A2,2022-01-10", "A2,2022-1-10"),
        "unparseable_date",
        ("assessments.csv", "column 'assessed_on'", "line 3"),
        dropped=1,
        table="assessments",
    ),
    # ---- lines and fields
    "last_line_cut_short": Case(
        _append("transactions", "T5,A1,2022-03-05\n"),
        "ragged_line",
        ("transactions.csv", "column 'amount'", "line 6", "3 of the header's 4 fields"),
        dropped=1,
        rows=5,
    ),
    "last_line_cut_mid_field_without_newline": Case(
        lambda d: _tx(d).write_text(_tx(d).read_text() + "T5,A1,2022-0"),
        "ragged_line",
        ("transactions.csv", "column 'amount'", "line 6"),
        dropped=1,
        rows=5,
    ),
    "trailing_separator_on_every_data_line": Case(
        lambda d: _tx(d).write_text(
            TX_HEADER + "".join(line + ",\n" for line in _tx(d).read_text().splitlines()[1:])
        ),
        "ragged_line",
        ("transactions.csv", "line 2 has 5", "header's 4 fields", "trailing separator"),
    ),
    "unquoted_separator_inside_a_value": Case(
        _sub("accounts", "A2,Beta,", "A2,Beta, Inc,"),
        "ragged_line",
        ("accounts.csv", "line 3", "5 fields, the header 4"),
        dropped=1,
        table="accounts",
    ),
    "line_numbers_after_blank_lines": Case(
        _set("transactions", TX_HEADER + "T1,A1,2022-04-01,1\n\n\nT2,A1,2022-02-05,abc\n"),
        "non_numeric",
        ("transactions.csv", "column 'amount'", "line 5", "amount='abc'"),
        dropped=1,
        rows=2,
    ),
    "line_numbers_after_a_multi_line_field": Case(
        _set(
            "accounts",
            'account_id,name,industry,acquired_on\nA1,"Alpha\nCorp\nLtd",retail,2020-01-01\n'
            "A2,Beta,retail,2020-06-01\nA3,Gamma,health,2021-01-01\nA2,Delta,x,2021-01-01\n",
        ),
        "duplicate_key",
        ("accounts.csv", "column 'account_id'", "line 7", "account_id='A2'"),
        dropped=1,
        rows=4,
        table="accounts",
    ),
    "unclosed_quote": Case(
        _sub("accounts", "A2,Beta", 'A2,"Beta'),
        "malformed_csv",
        ("accounts.csv", "line 3", "never closed"),
        table="accounts",
    ),
    "crlf_line_ends_keep_line_numbers": Case(
        lambda d: _tx(d).write_bytes(
            _tx(d).read_bytes().replace(b"\n", b"\r\n").replace(b"-20", b"x")
        ),
        "non_numeric",
        ("transactions.csv", "column 'amount'", "line 4", "amount='x'"),
        dropped=1,
    ),
    "bom_and_a_bad_value": Case(
        lambda d: _tx(d).write_bytes(
            b"\xef\xbb\xbf" + _tx(d).read_bytes().replace(b"T4,A3", b"T4,Z9")
        ),
        "unknown_account",
        ("transactions.csv", "column 'account_id'", "line 5", "account_id='Z9'"),
        dropped=1,
    ),
    "nul_byte": Case(
        lambda d: _tx(d).write_bytes(_tx(d).read_bytes().replace(b"T3", b"T\x003")),
        "nul_byte",
        ("transactions.csv", "line 4", "NUL byte", "byte offset"),
    ),
    "latin1_file": Case(
        _bytes(
            "accounts",
            "account_id,name\nA1,Alpha\nA2,Société\nA3,Gamma\n".encode("latin-1"),
        ),
        "encoding",
        ("accounts.csv", "line 3", "byte 0xe9", "encoding='cp1252'"),
        table="accounts",
    ),
    "utf16_file": Case(
        _bytes("accounts", "account_id\nA1\nA2\nA3\n".encode("utf-16")),
        "encoding",
        ("accounts.csv", "UTF-16"),
        table="accounts",
    ),
    "semicolon_separated": Case(
        lambda d: _replace(_tx(d), ",", ";"),
        "missing_column",
        ("transactions.csv", "'account_id'", "';'-separated"),
    ),
    "tab_separated": Case(
        lambda d: _replace(_tx(d), ",", "\t"),
        "missing_column",
        ("transactions.csv", "'account_id'", "tab-separated"),
    ),
    "same_column_twice": Case(
        _set("transactions", "account_id,date,amount,amount\nA1,2022-01-05,1,2\n"),
        "duplicate_column",
        ("transactions.csv", "'amount' twice", "fields 3 and 4"),
    ),
    "nameless_column_with_values": Case(
        _set("transactions", "account_id,date,,amount\nA1,2022-01-05,x,2\n"),
        "unnamed_column",
        ("transactions.csv", "field 3 has no name", "line 2"),
    ),
    "empty_file": Case(_set("transactions", ""), "empty_table", ("transactions.csv", "empty")),
    "whitespace_only_file": Case(
        _set("transactions", " \n\n  \n"), "empty_table", ("transactions.csv", "empty")
    ),
    "header_only": Case(_set("transactions", TX_HEADER), "empty_table", ("transactions.csv",)),
    # ---- duplicates
    "exact_duplicate_lines_without_transaction_id": Case(
        _set(
            "transactions",
            "account_id,date,amount\nA1,2022-04-01,1\nA2,2022-04-01,1\nA1,2022-04-01,1\n",
        ),
        "duplicate_line",
        ("transactions.csv", "line 4", "same_as_line=2", "transaction_id"),
        dropped=1,
        rows=3,
    ),
    "duplicate_transaction_id": Case(
        _sub("transactions", "T2,A1", "T1,A1"),
        "duplicate_key",
        ("transactions.csv", "column 'transaction_id'", "line 3"),
        dropped=1,
    ),
    # ---- ids
    "empty_account_id_in_transactions": Case(
        _sub("transactions", "T3,A2", "T3,"),
        "missing_value",
        ("transactions.csv", "column 'account_id'", "line 4"),
        dropped=1,
    ),
    "empty_account_id_in_accounts": Case(
        _sub("accounts", "A2,Beta", ",Beta"),
        "missing_value",
        ("accounts.csv", "column 'account_id'", "line 3"),
        dropped=1,
        table="accounts",
    ),
    "whitespace_only_account_id": Case(
        _sub("transactions", "T3,A2", "T3,   "),
        "missing_value",
        ("transactions.csv", "column 'account_id'", "line 4"),
        dropped=1,
    ),
    "null_marker_as_account_id": Case(
        _sub("transactions", "T3,A2", "T3,NULL"),
        "unknown_account",
        ("transactions.csv", "column 'account_id'", "line 4", "account_id='NULL'"),
        dropped=1,
    ),
    # ---- numbers
    "inf_amount": Case(
        _sub("transactions", "100.50", "inf"),
        "non_finite",
        ("transactions.csv", "column 'amount'", "line 2", "amount='inf'", "infinite"),
        dropped=1,
    ),
    "overflowing_amount": Case(
        _sub("transactions", "100.50", "1e400"),
        "non_finite",
        ("transactions.csv", "column 'amount'", "line 2", "amount='1e400'"),
        dropped=1,
    ),
    "minus_inf_quantity": Case(
        _set(
            "transactions",
            "account_id,date,amount,quantity\nA1,2022-04-01,1,2\nA2,2022-01-06,1,-inf\n",
        ),
        "non_finite",
        ("transactions.csv", "column 'quantity'", "line 3", "quantity='-inf'"),
        dropped=1,
        rows=2,
    ),
    "inf_interaction_value": Case(
        _set(
            "interactions",
            "account_id,date,kind,value\nA1,2022-02-01,nps,Infinity\nA2,2022-02-01,nps,8\n",
        ),
        "non_finite",
        ("interactions.csv", "column 'value'", "line 2"),
        dropped=1,
        table="interactions",
        rows=2,
    ),
    "nan_text_amount": Case(
        _sub("transactions", "100.50", "nan"),
        "missing_value",
        ("transactions.csv", "column 'amount'", "line 2", "amount='nan'"),
        dropped=1,
    ),
    "null_text_score": Case(
        _sub("assessments", "growth_potential,2", "growth_potential,NULL"),
        "missing_value",
        ("assessments.csv", "column 'score'", "line 3", "score='NULL'"),
        dropped=1,
        table="assessments",
    ),
    "negative_score": Case(
        _sub("assessments", "growth_potential,2", "growth_potential,-3"),
        "score_range",
        ("assessments.csv", "column 'score'", "line 3", "outside 1-5"),
        dropped=1,
        table="assessments",
    ),
    "decimal_comma": Case(
        _sub("transactions", "100.50", '"100,50"'),
        "non_numeric",
        ("transactions.csv", "column 'amount'", "line 2", "decimal commas"),
        dropped=1,
    ),
    # ---- column mappings
    "mapping_given_as_a_list": Case(
        lambda d: None, "mapping", ("columns=", "not a list"), kwargs={"columns": ["account_id"]}
    ),
    "mapping_two_columns_onto_one": Case(
        lambda d: None,
        "mapping",
        ("columns=", "both 'amount' and 'transaction_id' onto 'amount'"),
        kwargs={"columns": {"transactions": {"amount": "amount", "transaction_id": "amount"}}},
    ),
    "mapping_onto_unknown_contract_column": Case(
        lambda d: None,
        "mapping",
        ("'acount_id'", "not a column of the transactions table", "Did you mean 'account_id'"),
        kwargs={"columns": {"transactions": {"account_id": "acount_id"}}},
    ),
    "mapping_onto_a_column_the_file_has": Case(
        lambda d: None,
        "duplicate_column",
        ("transactions.csv", "renames 'transaction_id' to 'account_id'", "already has"),
        kwargs={"columns": {"transactions": {"transaction_id": "account_id"}}},
    ),
    "mapping_for_unknown_table": Case(
        lambda d: None,
        "mapping",
        ("'transaction'", "not a kamlab table"),
        kwargs={"columns": {"transaction": {"a": "amount"}}},
    ),
    "mapping_mixing_forms": Case(
        lambda d: None,
        "mapping",
        ("mixes per-table mappings",),
        kwargs={"columns": {"transactions": {"a": "amount"}, "CustID": "account_id"}},
    ),
    "flat_mapping_source_in_no_file": Case(
        lambda d: None,
        "mapping",
        ("'CustID'", "which no file has"),
        kwargs={"columns": {"CustID": "account_id"}},
    ),
    # ---- Parquet and Excel
    "parquet_amount_as_booleans": Case(
        _to_parquet(
            "transactions",
            pd.DataFrame({"account_id": ["A1"], "date": ["2022-01-05"], "amount": [True]}),
        ),
        "wrong_type",
        ("transactions.parquet", "column 'amount'", "bool"),
    ),
    "parquet_dates_as_integers": Case(
        _to_parquet(
            "transactions",
            pd.DataFrame({"account_id": ["A1"], "date": [20220105], "amount": [1.0]}),
        ),
        "wrong_type",
        ("transactions.parquet", "column 'date'", "int64"),
    ),
    "parquet_text_amount": Case(
        _to_parquet(
            "transactions",
            pd.DataFrame(
                {"account_id": ["A1", "A2"], "date": ["2022-04-01"] * 2, "amount": ["1", "x"]}
            ),
        ),
        "non_numeric",
        ("transactions.parquet", "column 'amount'", "row 2", "amount='x'"),
        dropped=1,
        rows=2,
    ),
    "corrupt_parquet": Case(
        lambda d: (_tx(d).unlink(), (d / "transactions.parquet").write_bytes(b"PAR1 not really")),
        "unreadable",
        ("transactions.parquet", "could not be read as parquet"),
    ),
    "excel_bad_date_names_sheet_row": Case(
        _to_excel(
            "transactions",
            pd.DataFrame(
                {"account_id": ["A1", "A2"], "date": ["2022-04-01", "5.1.2022"], "amount": [1, 2]}
            ),
        ),
        "unparseable_date",
        ("transactions.xlsx", "column 'date'", "row 3", "date='5.1.2022'"),
        dropped=1,
        rows=2,
    ),
    "excel_several_sheets_none_named_like_the_table": Case(
        lambda d: (
            _tx(d).unlink(),
            _write_two_sheets(d / "transactions.xlsx"),
        ),
        "missing_sheet",
        ("transactions.xlsx", "'Jan'", "'Feb'", "none is named 'transactions'"),
    ),
    "workbook_without_transactions_sheet": Case(
        _book_without_transactions,
        "missing_sheet",
        ("book.xlsx", "no transactions sheet", "'Transactions'"),
        path="book.xlsx",
    ),
    "excel_same_column_twice": Case(
        lambda d: (
            _tx(d).unlink(),
            pd.DataFrame([["A1", "2022-04-01", 1, 2]]).to_excel(
                d / "transactions.xlsx",
                index=False,
                header=["account_id", "date", "amount", "amount"],
                sheet_name="transactions",
            ),
        ),
        "duplicate_column",
        ("transactions.xlsx", "'amount' twice"),
    ),
    "long_field_before_a_cut_line": Case(
        _set(
            "transactions",
            TX_HEADER
            + f'T1,A1,2022-04-01,1\nT2,"{"y" * 200_000}",2022-01-01,2\nT3,A2,2022-01-02\n',
        ),
        "ragged_line",
        ("transactions.csv", "column 'amount'", "line 4"),
        dropped=1,
        rows=3,
    ),
    # ---- files and folders
    "explicit_file_that_does_not_exist": Case(
        lambda d: None,
        "missing_file",
        ("nope.csv", "file not found"),
        kwargs={"files": {"interactions": "nope.csv"}},
    ),
    "folder_where_a_file_is_expected": Case(
        lambda d: (_tx(d).unlink(), (d / "transactions.csv").mkdir()),
        "not_a_file",
        ("transactions.csv", "is a folder"),
    ),
    "two_files_for_one_table": Case(
        lambda d: pd.read_csv(_tx(d)).to_parquet(d / "transactions.parquet"),
        "ambiguous_file",
        ("transactions.csv", "transactions.parquet", "keep one"),
    ),
    "a_file_and_a_folder_for_one_table": Case(
        lambda d: (d / "transactions").mkdir(),
        "ambiguous_file",
        ("transactions.csv", "transactions/"),
    ),
    "missing_transactions": Case(
        lambda d: _tx(d).rename(d / "Transactions.csv"),
        "missing_file",
        ("no transactions file", "'Transactions'"),
    ),
    "bad_row_in_one_part_of_a_folder": Case(
        _parts(
            "transactions", "T1,A1,2022-01-05,1\nT2,A1,2022-02-05,2\n", "T3,A2,2022-03-01,abc\n"
        ),
        "non_numeric",
        ("transactions/part-1.csv", "column 'amount'", "line 2", "amount='abc'"),
        dropped=1,
        rows=3,
    ),
    "parts_with_different_columns": Case(
        lambda d: (
            _parts("transactions", "T1,A1,2022-01-05,1\n")(d),
            (d / "transactions" / "part-9.csv").write_text(
                "account_id,date,amount,x\nA1,2022-01-05,1,2\n"
            ),
        ),
        "inconsistent_columns",
        ("transactions/part-9.csv", "same columns"),
    ),
    "unsupported_file_in_a_table_folder": Case(
        lambda d: (
            _parts("transactions", "T1,A1,2022-01-05,1\n")(d),
            (d / "transactions" / "notes.json").write_text("{}"),
        ),
        "file_type",
        ("notes.json", "not a Parquet or CSV file"),
    ),
}


def _write_two_sheets(path: Path) -> None:
    with pd.ExcelWriter(path) as writer:
        for sheet in ("Jan", "Feb"):
            pd.DataFrame({"account_id": ["A1"]}).to_excel(writer, sheet_name=sheet, index=False)


def _load(tiny_dir: Path, case: Case, **kwargs):
    target = tiny_dir / case.path if case.path else tiny_dir
    return load_dataset(target, **case.kwargs, **kwargs)


def test_there_are_at_least_forty_distinct_cases():
    assert len(CASES) >= 40
    assert len({c.rule for c in CASES.values()}) >= 20


@pytest.mark.parametrize("name", sorted(CASES))
def test_hostile_input_is_a_named_error(tiny_dir, name):
    case = CASES[name]
    case.breaker(tiny_dir)
    with pytest.raises(DataContractError) as info:
        _load(tiny_dir, case)
    message = str(info.value)
    assert info.value.rule == case.rule, message
    for fragment in case.fragments:
        assert fragment in message, f"{fragment!r} not in:\n{message}"
    assert "\n" not in message.split(". First offending rows")[0], message
    if case.dropped is not None:  # a row-level rule names the table and its first rows
        assert info.value.table == case.table
        assert info.value.file.endswith(case.fragments[0].split(" ")[0].split("/")[-1])
        assert "line" in info.value.rows.columns


@pytest.mark.parametrize("name", sorted(n for n, c in CASES.items() if c.dropped is not None))
def test_drop_mode_counts_every_row(tiny_dir, name):
    case = CASES[name]
    case.breaker(tiny_dir)
    ds = _load(tiny_dir, case, on_error="drop")
    ledger = ds.ledger
    ruled = ledger[(ledger["table"] == case.table) & (ledger["rule"] == case.rule)]
    assert ruled["rows_dropped"].sum() == case.dropped
    for table, rows in ROWS.items():
        if table == case.table and case.rows is not None:
            rows = case.rows
        ledgered = ledger.loc[ledger["table"] == table, "rows_dropped"].sum()
        assert len(getattr(ds, table)) + ledgered == rows, (table, ledger)


@pytest.mark.parametrize("name", sorted(n for n, c in CASES.items() if c.dropped is None))
def test_structural_problems_raise_in_drop_mode_too(tiny_dir, name):
    case = CASES[name]
    case.breaker(tiny_dir)
    with pytest.raises(DataContractError) as info:
        _load(tiny_dir, case, on_error="drop")
    assert info.value.rule == case.rule


# --------------------------------------------------------------------------- accepted inputs
def test_time_of_day_bom_crlf_and_blank_lines_are_accepted(tiny_dir):
    text = (
        "\ufefftransaction_id,account_id,date,amount\r\n"
        "T1,A1,2022-01-05 13:45:00,100.50\r\n\r\n"
        "T2,A1,2022-02-05T08:00,200\r\n"
        "T3,A2,2022-03-01,-20\r\n"
        "T4,A3,2022-04-01 00:00:00.5,50\r\n"
    )
    _tx(tiny_dir).write_bytes(text.encode("utf-8"))
    ds = load_dataset(tiny_dir)
    assert list(ds.transactions.columns[:4]) == ["account_id", "date", "amount", "transaction_id"]
    assert ds.transactions["date"].tolist() == [
        pd.Timestamp("2022-01-05 13:45:00"),
        pd.Timestamp("2022-02-05 08:00"),
        pd.Timestamp("2022-03-01"),
        pd.Timestamp("2022-04-01 00:00:00.5"),
    ]
    assert ds.transactions["amount"].tolist() == [100.5, 200.0, -20.0, 50.0]


def test_latin1_loads_when_the_encoding_is_given(tiny_dir):
    _acc(tiny_dir).write_bytes(
        "account_id,name\nA1,Alpha\nA2,Société\nA3,Gamma\n".encode("latin-1")
    )
    ds = load_dataset(tiny_dir, encoding="cp1252")
    assert ds.accounts["name"].tolist() == ["Alpha", "Société", "Gamma"]


def test_ids_keep_leading_zeros_and_long_fields_survive(tiny_dir):
    long_note = "x" * 200_000
    _acc(tiny_dir).write_text("account_id,name\n007,Alpha\n0008,Beta\n9,Gamma\n")
    _tx(tiny_dir).write_text("account_id,date,amount\n007,2022-01-05,1\n0008,2022-01-06,2\n")
    (tiny_dir / "assessments.csv").write_text(
        f'account_id,assessed_on,criterion,score,note\n007,2022-01-05,fit,3,"{long_note}"\n'
    )
    (tiny_dir / "interactions.csv").unlink()
    ds = load_dataset(tiny_dir)
    assert ds.accounts["account_id"].tolist() == ["007", "0008", "9"]
    assert ds.transactions["account_id"].tolist() == ["007", "0008"]
    assert len(ds.assessments["note"].iat[0]) == 200_000


def test_null_markers_in_optional_columns_are_missing_not_errors(tiny_dir):
    _tx(tiny_dir).write_text(
        "account_id,date,amount,quantity,cost\n"
        "A1,2022-01-05,10,NULL,n/a\nA1,2022-01-06,5,2,#N/A\nA2,2022-04-01,1,nan,1\n"
    )
    _acc(tiny_dir).write_text("account_id,churned_on\nA1,NULL\nA2,\nA3,2022-02-01\n")
    ds = load_dataset(tiny_dir)
    assert ds.transactions["quantity"].isna().tolist() == [True, False, True]
    assert ds.transactions["cost"].isna().tolist() == [True, True, False]
    assert ds.accounts["churned_on"].notna().tolist() == [False, False, True]


def test_literal_and_doubled_quotes_are_read_as_text(tiny_dir):
    _tx(tiny_dir).write_text(
        "account_id,date,amount,product\n"
        'A1,2022-01-05,1,5" screen\nA1,2022-02-05,2,"say ""hi"""\nA2,2022-04-01,3,"a"b\n'
    )
    ds = load_dataset(tiny_dir)
    assert ds.transactions["product"].tolist() == ['5" screen', 'say "hi"', "ab"]


def test_repeated_lines_with_distinct_transaction_ids_are_kept(tiny_dir):
    _tx(tiny_dir).write_text(TX_HEADER + "T1,A1,2022-04-01,1\nT2,A1,2022-04-01,1\n")
    assert len(load_dataset(tiny_dir).transactions) == 2


def test_trailing_separator_on_every_line_header_included_is_harmless(tiny_dir):
    lines = _tx(tiny_dir).read_text().splitlines()
    _tx(tiny_dir).write_text("".join(line + ",\n" for line in lines))
    ds = load_dataset(tiny_dir)
    assert list(ds.transactions.columns) == ["account_id", "date", "amount", "transaction_id"]


def test_excel_ids_stored_as_numbers_lose_float_suffix(tiny_dir):
    pd.DataFrame({"account_id": [12346, 12347, 12348]}).to_excel(
        tiny_dir / "accounts.xlsx", index=False, sheet_name="accounts"
    )
    _acc(tiny_dir).unlink()
    for table in ("transactions", "assessments", "interactions"):
        (tiny_dir / f"{table}.csv").unlink()
    pd.DataFrame(
        {"account_id": [12346.0, 12348.0], "date": ["2022-01-05", "2022-01-06"], "amount": [1, 2]}
    ).to_excel(tiny_dir / "transactions.xlsx", index=False, sheet_name="transactions")
    ds = load_dataset(tiny_dir)
    assert ds.accounts["account_id"].tolist() == ["12346", "12347", "12348"]
    assert ds.transactions["account_id"].tolist() == ["12346", "12348"]


def test_load_table_reads_a_folder_of_parquet_parts_in_sorted_order(tmp_path):
    folder = tmp_path / "transactions"
    (folder / "year=2022").mkdir(parents=True)
    (folder / "_SUCCESS").write_text("")
    for i, name in enumerate(["year=2022/part-b.parquet", "part-a.parquet"]):
        pd.DataFrame(
            {"account_id": [f"A{i}"], "date": ["2022-01-05"], "amount": [float(i)]}
        ).to_parquet(folder / name)
    table = load_table(folder, "transactions")
    assert table["account_id"].tolist() == ["A1", "A0"]
