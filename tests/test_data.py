"""The data contract: valid input loads with the right types; each broken rule fails clearly."""

from __future__ import annotations

import pandas as pd
import pytest

from kamlab.data import (
    SCHEMAS,
    DataContractError,
    TableSource,
    find_tables,
    load_dataset,
    load_table,
)
from kamlab.ledger import LEDGER_COLUMNS, LEDGER_FILE, Ledger, write_source


def test_sample_loads_with_contract_types(sample_dataset):
    ds = sample_dataset
    assert len(ds.accounts) == 300
    assert ds.accounts["account_id"].is_unique
    assert pd.api.types.is_datetime64_any_dtype(ds.transactions["date"])
    assert ds.transactions["amount"].dtype == "float64"
    assert set(ds.transactions["account_id"]) <= set(ds.accounts["account_id"])
    assert ds.has_assessments and ds.has_interactions
    assert ds.ledger.empty
    for table, schema in SCHEMAS.items():
        schema.validate(getattr(ds, table))


def test_tiny_exact_values(tiny_dir):
    ds = load_dataset(tiny_dir)
    assert list(ds.transactions["amount"]) == [100.5, 200.0, -20.0, 50.0]
    assert ds.end == pd.Timestamp("2022-04-01")
    summary = ds.summary()
    assert summary.loc["transactions", "rows"] == 4
    assert summary.loc["assessments", "accounts"] == 2


def test_optional_tables_may_be_absent(tiny_dir):
    (tiny_dir / "assessments.csv").unlink()
    (tiny_dir / "interactions.csv").unlink()
    ds = load_dataset(tiny_dir)
    assert not ds.has_assessments and list(ds.assessments.columns) == [
        "account_id",
        "assessed_on",
        "criterion",
        "score",
    ]


def test_column_mapping_flat_and_per_table(tiny_dir):
    tx = (
        (tiny_dir / "transactions.csv")
        .read_text()
        .replace("account_id,date,amount", "CustomerID,InvoiceDate,Value")
    )
    (tiny_dir / "transactions.csv").write_text(tx)
    mapping = {
        "transactions": {"CustomerID": "account_id", "InvoiceDate": "date", "Value": "amount"}
    }
    ds = load_dataset(tiny_dir, columns=mapping)
    assert ds.transactions["amount"].sum() == pytest.approx(330.5)
    table = load_table(
        tiny_dir / "transactions.csv",
        "transactions",
        columns={"CustomerID": "account_id", "InvoiceDate": "date", "Value": "amount"},
    )
    assert len(table) == 4


@pytest.mark.parametrize("fmt", ["parquet", "xlsx"])
def test_parquet_and_excel_match_csv(tiny_dir, tmp_path_factory, fmt):
    csv = load_dataset(tiny_dir)
    out = tmp_path_factory.mktemp(fmt)
    for table in ("accounts", "transactions", "assessments", "interactions"):
        frame = pd.read_csv(tiny_dir / f"{table}.csv")
        if fmt == "parquet":
            frame.to_parquet(out / f"{table}.parquet")
        else:
            frame.to_excel(out / f"{table}.xlsx", index=False, sheet_name=table)
    other = load_dataset(out)
    pd.testing.assert_frame_equal(csv.transactions, other.transactions)
    pd.testing.assert_frame_equal(csv.accounts, other.accounts)


def test_one_workbook_with_sheets(tiny_dir, tmp_path):
    book = tmp_path / "portfolio.xlsx"
    with pd.ExcelWriter(book) as writer:
        for table in ("accounts", "transactions"):
            pd.read_csv(tiny_dir / f"{table}.csv").to_excel(writer, sheet_name=table, index=False)
    ds = load_dataset(book)
    assert len(ds.transactions) == 4 and not ds.has_assessments


def _replace(path, old, new):
    path.write_text(path.read_text().replace(old, new))


# Each case: how to break the tiny portfolio, and what the message must say.
BAD_CASES = {
    "missing_column": (
        lambda d: _replace(d / "transactions.csv", "amount", "amt"),
        ["transactions.csv", "required column 'amount'", "Did you mean 'amt'"],
    ),
    "duplicate_account": (
        lambda d: _replace(d / "accounts.csv", "A3,Gamma", "A2,Gamma"),
        ["accounts.csv", "column 'account_id'", "duplicate_key", "line 4", "account_id='A2'"],
    ),
    "unknown_account": (
        lambda d: _replace(d / "transactions.csv", "T4,A3", "T4,ZZ9"),
        [
            "transactions.csv",
            "column 'account_id'",
            "not in accounts.csv",
            "line 5",
            "account_id='ZZ9'",
        ],
    ),
    "unparseable_date": (
        lambda d: _replace(d / "transactions.csv", "2022-02-05", "05/02/2022x"),
        ["transactions.csv", "column 'date'", "not ISO dates", "line 3", "date='05/02/2022x'"],
    ),
    "future_date": (
        lambda d: _replace(d / "transactions.csv", "2022-04-01", "2999-04-01"),
        ["transactions.csv", "column 'date'", "after the data's end", "line 5"],
    ),
    "future_child_date": (
        lambda d: _replace(d / "interactions.csv", "2022-02-01", "2022-09-01"),
        ["interactions.csv", "column 'date'", "after the data's end (2022-04-01)", "line 2"],
    ),
    "non_numeric_amount": (
        lambda d: _replace(d / "transactions.csv", "100.50", "abc"),
        ["transactions.csv", "column 'amount'", "not numbers", "line 2", "amount='abc'"],
    ),
    "missing_amount": (
        lambda d: _replace(d / "transactions.csv", ",200\n", ",\n"),
        ["transactions.csv", "column 'amount'", "missing values", "line 3"],
    ),
    "empty_table": (
        lambda d: (d / "transactions.csv").write_text("transaction_id,account_id,date,amount\n"),
        ["transactions.csv", "empty"],
    ),
    "empty_file": (
        lambda d: (d / "accounts.csv").write_text(""),
        ["accounts.csv", "empty"],
    ),
    "wrong_file_type": (
        lambda d: (d / "transactions.csv").rename(d / "transactions.json"),
        ["transactions.json: unsupported file type '.json'", "CSV (.csv), Parquet"],
    ),
    "score_out_of_range": (
        lambda d: _replace(d / "assessments.csv", "growth_potential,2", "growth_potential,7"),
        ["assessments.csv", "column 'score'", "outside 1-5", "line 3"],
    ),
    "duplicate_assessment": (
        lambda d: _replace(d / "assessments.csv", "A2,2022-01-10", "A1,2022-01-10"),
        ["assessments.csv", "column 'criterion'", "account_id + assessed_on + criterion"],
    ),
    "mixed_currency": (
        lambda d: (d / "transactions.csv").write_text(
            "account_id,date,amount,currency\nA1,2022-01-05,1,EUR\nA1,2022-01-06,1,EUR\n"
            "A2,2022-01-07,1,USD\n"
        ),
        ["transactions.csv", "column 'currency'", "mixes currencies (EUR, USD)", "line 4"],
    ),
    "missing_account_id": (
        lambda d: _replace(d / "transactions.csv", "T3,A2", "T3,"),
        ["transactions.csv", "column 'account_id'", "missing values", "line 4"],
    ),
    "duplicate_transaction_id": (
        lambda d: _replace(d / "transactions.csv", "T2,A1", "T1,A1"),
        ["transactions.csv", "column 'transaction_id'", "repeats a key", "line 3"],
    ),
    "churn_before_acquisition": (
        lambda d: (d / "accounts.csv").write_text(
            "account_id,acquired_on,churned_on\nA1,2020-01-01,2019-01-01\nA2,2020-01-01,\n"
            "A3,2020-01-01,\n"
        ),
        ["accounts.csv", "column 'churned_on'", "before acquired_on", "line 2"],
    ),
}


@pytest.mark.parametrize("case", sorted(BAD_CASES))
def test_bad_input_names_file_column_and_rows(tiny_dir, case):
    breaker, expected = BAD_CASES[case]
    breaker(tiny_dir)
    with pytest.raises(DataContractError) as info:
        load_dataset(tiny_dir)
    message = str(info.value)
    for fragment in expected:
        assert fragment in message, f"{fragment!r} not in:\n{message}"


def test_unsupported_file_type_named(tmp_path):
    path = tmp_path / "transactions.json"
    path.write_text("{}")
    with pytest.raises(
        DataContractError, match=r"transactions.json: unsupported file type '.json'"
    ):
        load_table(path, "transactions")


def test_missing_excel_sheet_named(tiny_dir, tmp_path):
    book = tmp_path / "tx.xlsx"
    pd.read_csv(tiny_dir / "transactions.csv").to_excel(book, sheet_name="Sheet1", index=False)
    with pytest.raises(DataContractError, match=r"sheet 'invoices' not found.*'Sheet1'"):
        load_table(book, "transactions", sheet="invoices")


def test_mapping_of_absent_column_named(tiny_dir):
    with pytest.raises(DataContractError, match=r"mapping names 'CustID'.*not in the file"):
        load_dataset(tiny_dir, columns={"transactions": {"CustID": "account_id"}})


def test_error_carries_structured_fields(tiny_dir):
    BAD_CASES["non_numeric_amount"][0](tiny_dir)
    with pytest.raises(DataContractError) as info:
        load_dataset(tiny_dir)
    err = info.value
    assert (err.table, err.column, err.rule) == ("transactions", "amount", "non_numeric")
    assert err.file.endswith("transactions.csv")
    assert list(err.rows["account_id"]) == ["A1"]


def test_drop_mode_counts_every_dropped_row_in_the_ledger(tiny_dir):
    _replace(tiny_dir / "transactions.csv", "100.50", "abc")
    _replace(tiny_dir / "transactions.csv", "T4,A3", "T4,ZZ9")
    (tiny_dir / "transactions.csv").write_text(
        (tiny_dir / "transactions.csv").read_text() + "T5,A2,not-a-date,5\nT6,ZZ8,2022-01-01,1\n"
    )
    ds = load_dataset(tiny_dir, on_error="drop")
    assert list(ds.transactions["transaction_id"]) == ["T2", "T3"]
    ledger = ds.ledger.set_index("rule")
    assert ledger.loc["non_numeric", "rows_dropped"] == 1
    assert ledger.loc["unparseable_date", "rows_dropped"] == 1
    assert ledger.loc["unknown_account", "rows_dropped"] == 2
    assert ledger.loc["unknown_account", "example_ids"] == "ZZ9, ZZ8"
    assert ds.ledger["rows_dropped"].sum() == 6 - len(ds.transactions)


def test_drop_mode_still_raises_for_structural_problems(tiny_dir):
    _replace(tiny_dir / "transactions.csv", "amount", "amt")
    with pytest.raises(DataContractError, match="required column 'amount'"):
        load_dataset(tiny_dir, on_error="drop")


def test_invalid_on_error_value(tiny_dir):
    with pytest.raises(ValueError, match="on_error must be 'raise' or 'drop'"):
        load_dataset(tiny_dir, on_error="ignore")


def test_numeric_ids_from_parquet_lose_float_suffix(tmp_path):
    pd.DataFrame({"account_id": [12346.0, 12347.0]}).to_parquet(tmp_path / "accounts.parquet")
    pd.DataFrame(
        {
            "account_id": [12346.0, 12347.0],
            "date": pd.to_datetime(["2011-01-01"] * 2),
            "amount": [1.0, 2.0],
        }
    ).to_parquet(tmp_path / "transactions.parquet")
    ds = load_dataset(tmp_path)
    assert list(ds.accounts["account_id"]) == ["12346", "12347"]


def test_drop_mode_ledger_has_lines_and_amounts(tiny_dir):
    _replace(tiny_dir / "transactions.csv", "T2,A1,2022-02-05,200", "T2,ZZ1,2022-02-05,200")
    _replace(tiny_dir / "transactions.csv", "T4,A3,2022-04-01,50", "T4,ZZ2,2022-04-01,50")
    ds = load_dataset(tiny_dir, on_error="drop")
    row = ds.ledger.set_index("rule").loc["unknown_account"]
    assert row["rows_dropped"] == 2
    assert row["lines"] == "3, 5"
    assert row["amount"] == 250.0
    assert row["example_ids"] == "ZZ1, ZZ2"
    assert list(ds.ledger.columns) == LEDGER_COLUMNS


def test_find_tables_one_rule_for_files_folders_and_workbooks(tiny_dir, tmp_path):
    found = find_tables(tiny_dir)
    assert found["accounts"] == TableSource("accounts", (tiny_dir / "accounts.csv",), None, "csv")
    assert list(found) == ["accounts", "transactions", "assessments", "interactions"]

    folder = tmp_path / "parts"
    (folder / "transactions" / "2022").mkdir(parents=True)
    pd.read_csv(tiny_dir / "accounts.csv").to_parquet(folder / "accounts.pq")
    tx = pd.read_csv(tiny_dir / "transactions.csv")
    tx.iloc[:2].to_parquet(folder / "transactions" / "2022" / "b.parquet")
    tx.iloc[2:].to_parquet(folder / "transactions" / "a.parquet")
    (folder / "transactions" / ".a.parquet.crc").write_text("")
    (folder / "ledger.csv").write_text(",".join(LEDGER_COLUMNS) + "\n")
    found = find_tables(folder)
    assert found["accounts"].kind == "parquet" and found["accounts"].sheet is None
    assert found["transactions"].files == (
        folder / "transactions" / "2022" / "b.parquet",
        folder / "transactions" / "a.parquet",
    )
    assert set(found) == {"accounts", "transactions"}
    ds = load_dataset(folder)
    assert ds.transactions["transaction_id"].tolist() == ["T1", "T2", "T3", "T4"]
    assert ds.files["transactions"] == str(folder / "transactions")

    book = tmp_path / "book.xlsx"
    with pd.ExcelWriter(book) as writer:
        for table in ("accounts", "transactions", "notes"):
            pd.DataFrame({"account_id": ["A1"]}).to_excel(writer, sheet_name=table, index=False)
    assert find_tables(book) == {
        "accounts": TableSource("accounts", (book,), "accounts", "excel"),
        "transactions": TableSource("transactions", (book,), "transactions", "excel"),
    }


def test_errors_in_a_part_name_the_part_and_its_line(tiny_dir):
    (tiny_dir / "transactions.csv").unlink()
    parts = tiny_dir / "transactions"
    parts.mkdir()
    (parts / "p1.csv").write_text("account_id,date,amount\nA1,2022-01-05,1\n")
    (parts / "p2.csv").write_text("account_id,date,amount\nA2,2022-04-01,2\nA3,2022-01-07,x\n")
    with pytest.raises(DataContractError) as info:
        load_dataset(tiny_dir)
    assert str(info.value).startswith("transactions/p2.csv: column 'amount'")
    assert "transactions/p2.csv line 3: account_id='A3', amount='x'" in str(info.value)
    assert info.value.file == str(parts / "p2.csv")
    ds = load_dataset(tiny_dir, on_error="drop")
    assert ds.ledger[["file", "rule", "lines"]].values.tolist() == [["p2.csv", "non_numeric", "3"]]


def test_import_ledger_and_source_travel_into_the_dataset(tiny_dir):
    imported = Ledger()
    imported.add(
        table="transactions",
        file="export.xlsx",
        rule="cancelled_invoice",
        column="invoice",
        rows_dropped=3,
        amount=-42.5,
        lines=[7, 9, 12],
        example_ids=["A1"],
    )
    imported.write(tiny_dir / LEDGER_FILE)
    write_source(tiny_dir, {"file": "export.xlsx", "rows": 11, "sha256": "ab12"})
    _replace(tiny_dir / "transactions.csv", "T4,A3", "T4,ZZ9")
    ds = load_dataset(tiny_dir, on_error="drop")
    assert ds.ledger["rule"].tolist() == ["cancelled_invoice", "unknown_account"]
    assert ds.ledger["rows_dropped"].tolist() == [3, 1]
    assert ds.ledger["amount"].tolist() == [-42.5, 50.0]
    assert ds.ledger["lines"].tolist() == ["7, 9, 12", "5"]
    assert ds.source == {"file": "export.xlsx", "rows": 11, "sha256": "ab12"}


def test_dataset_without_import_has_no_source(tiny_dir):
    ds = load_dataset(tiny_dir)
    assert ds.source is None
    assert ds.ledger.empty and list(ds.ledger.columns) == LEDGER_COLUMNS


def test_drop_mode_applies_several_rules_to_one_column_in_turn(tiny_dir):
    (tiny_dir / "transactions.csv").write_text(
        "transaction_id,account_id,date,amount\n"
        "T1,A1,,1\nT2,A1,2022-13-01,2\nT3,A2,0999-01-01,3\nT4,A3,2022-04-01,inf\n"
        "T5,A3,2022-04-01,\nT6,A3,2022-04-01,x\nT7,A1,2022-04-01,5\n"
    )
    ds = load_dataset(tiny_dir, on_error="drop")
    assert ds.transactions["transaction_id"].tolist() == ["T7"]
    ledger = ds.ledger
    assert ledger[["rule", "column", "lines"]].values.tolist() == [
        ["missing_value", "date", "2"],
        ["unparseable_date", "date", "3"],
        ["date_before_1900", "date", "4"],
        ["missing_value", "amount", "6"],
        ["non_numeric", "amount", "7"],
        ["non_finite", "amount", "5"],
    ]
    assert ledger["amount"].tolist()[:3] == [1.0, 2.0, 3.0]
    assert ledger["amount"].iloc[3:].isna().all()  # a broken amount has no value to count
    assert ledger["rows_dropped"].sum() + len(ds.transactions) == 7
