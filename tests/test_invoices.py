"""kamlab import: four export styles with known truth, and every 'never guess silently' rule."""

from __future__ import annotations

import hashlib
import json
import tempfile
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml
from export_styles import STYLES, accounting, german_erp, mixed_currency, online_retail
from hypothesis import given, settings
from hypothesis import strategies as st

from kamlab.cli import main
from kamlab.data import DataContractError, load_dataset
from kamlab.invoices import (
    MANY_LINES,
    import_invoices,
    load_invoice_mapping,
    mapping_yaml,
    propose_mapping,
    write_import,
)
from kamlab.invoices.propose import _NAMES, _norm, column_roles

ATTRIBUTES = ["name", "industry", "region", "account_manager"]
VALID = ["online_retail", "german_erp", "accounting"]
FORMATS = ["csv", "xlsx"]


@pytest.fixture(scope="module")
def styles():
    return {name: make() for name, make in STYLES.items()}


@pytest.fixture(scope="module")
def exports(styles, tmp_path_factory):
    folder = tmp_path_factory.mktemp("exports")
    return {(n, f): s.write(folder, f) for n, s in styles.items() for f in FORMATS}


@pytest.fixture(scope="module")
def imported(styles, exports):
    return {
        (n, f): import_invoices(exports[n, f], styles[n].mapping) for n in VALID for f in FORMATS
    }


def cents(series: pd.Series) -> pd.Series:
    return (series * 100).round().astype("int64")


# -- the four styles ------------------------------------------------------------------------


@pytest.mark.parametrize("fmt", FORMATS)
@pytest.mark.parametrize("name", VALID)
def test_revenue_per_account_equals_the_truth_to_the_cent(styles, imported, name, fmt):
    result, truth = imported[name, fmt], styles[name]
    revenue = cents(result.dataset.transactions.groupby("account_id")["amount"].sum())
    assert revenue.index.tolist() == truth.revenue.index.tolist()
    assert (revenue.to_numpy() == truth.revenue.to_numpy()).all()
    assert len(result.dataset.transactions) == int(truth.lines["kept"].sum())


@pytest.mark.parametrize("fmt", FORMATS)
@pytest.mark.parametrize("name", VALID)
def test_kept_plus_dropped_is_the_signed_file_total(styles, imported, name, fmt):
    result, truth = imported[name, fmt], styles[name]
    total = result.reconciliation.set_index("document_type").loc["total"]
    assert round(total["file_total"] * 100) == truth.signed_total
    assert round(total["kept_amount"] * 100) == truth.signed_total - truth.dropped_total
    assert round(total["dropped_amount"] * 100) == truth.dropped_total
    assert round(result.ledger["amount"].sum() * 100) == truth.dropped_total
    assert (result.reconciliation["difference"] == 0).all()
    assert (
        total["lines"] == len(truth.lines)
        and total["dropped_lines"] == (~truth.lines["kept"]).sum()
    )
    assert result.source["signed_total"] == truth.signed_total / 100


@pytest.mark.parametrize("fmt", FORMATS)
@pytest.mark.parametrize("name", VALID)
def test_attributes_reach_the_accounts_table(styles, imported, name, fmt):
    accounts = imported[name, fmt].dataset.accounts.set_index("account_id")
    truth = styles[name].accounts.set_index("account_id").loc[accounts.index]
    assert accounts[ATTRIBUTES].equals(truth[ATTRIBUTES])
    assert len(accounts) == styles[name].revenue.size


@pytest.mark.parametrize("fmt", FORMATS)
@pytest.mark.parametrize("name", list(STYLES))
def test_proposed_mapping_gets_the_roles_right(styles, exports, name, fmt):
    assert propose_mapping(exports[name, fmt]) == styles[name].proposal(fmt)


@pytest.mark.parametrize("fmt", FORMATS)
def test_mixed_currencies_fail(styles, exports, fmt):
    with pytest.raises(
        DataContractError, match=r"column 'Currency' holds 2 currencies \(USD"
    ) as err:
        import_invoices(exports["mixed_currency", fmt], styles["mixed_currency"].mapping)
    assert err.value.rule == "mixed_currency" and "EUR" in str(err.value)


def test_german_credit_notes_are_negated_and_linked_by_reference(styles, imported):
    truth = styles["german_erp"].lines
    tx = imported["german_erp", "csv"].dataset.transactions.set_index("invoice")
    credit = truth[truth["credit"]].iloc[0]
    line = tx.loc[credit["invoice"]]
    assert (
        line["amount"] == -credit["qty"] * credit["price"] / 100
        and line["quantity"] == -credit["qty"]
    )
    assert line["credit_note"] and line["original_invoice"] == credit["reference"]
    assert (tx["currency"] == "EUR").all()
    split = imported["german_erp", "csv"].reconciliation.set_index("document_type")
    notes = truth[truth["doc"] == "Gutschrift"]
    assert (
        round(split.loc["Gutschrift", "file_total"] * 100) == -(notes["qty"] * notes["price"]).sum()
    )
    assert split.loc["Gutschrift", "lines"] == len(notes)


def test_german_lines_carry_the_spreadsheet_line_numbers(styles, imported):
    truth = styles["german_erp"].lines
    freight = np.flatnonzero(truth["product"] == "FRACHT")[:5] + 4  # title, blank, header
    for fmt in FORMATS:
        ledger = imported["german_erp", fmt].ledger.set_index("rule")
        assert ledger.loc["non_product_code", "lines"] == ", ".join(map(str, freight))
        assert ledger.loc["non_product_code", "column"] == "Artikelnr"


def test_online_retail_style_counts_duplicates_and_anonymous_lines(styles, imported):
    truth = styles["online_retail"].lines
    ledger = imported["online_retail", "xlsx"].ledger.set_index("rule")["rows_dropped"]
    assert ledger["exact_duplicate"] == 3
    assert ledger["missing_account_id"] == truth["account_id"].isna().sum()
    tx = imported["online_retail", "csv"].dataset.transactions
    assert tx.loc[tx["credit_note"], "invoice"].str.startswith("C").all()
    # Guessed link: the latest earlier invoice of the same product by the same account.
    notes = tx[tx["credit_note"] & tx["original_invoice"].notna()]
    buys = tx[~tx["credit_note"]].set_index(["invoice", "product"])
    for _, note in notes.iterrows():
        original = buys.loc[(note["original_invoice"], note["product"])]
        original = original.iloc[0] if isinstance(original, pd.DataFrame) else original
        assert original["account_id"] == note["account_id"] and original["date"] <= note["date"]
    assert len(notes) >= 0.8 * tx["credit_note"].sum()


def test_accounting_negative_lines_are_credit_notes_not_drops(styles, imported):
    result = imported["accounting", "csv"]
    tx = result.dataset.transactions
    assert (tx["credit_note"] == (tx["amount"] < 0)).all()
    assert tx["credit_note"].sum() == styles["accounting"].lines.query("credit and kept").shape[0]
    assert set(result.ledger["rule"]) == {"non_product_code"}


def test_written_import_loads_back_with_its_source(styles, imported, exports, tmp_path):
    result = imported["german_erp", "csv"]
    folder = write_import(result, tmp_path / "de")
    source = json.loads((folder / "source.json").read_text())
    assert source["sha256"] == hashlib.sha256(exports["german_erp", "csv"].read_bytes()).hexdigest()
    assert source["lines"] == len(styles["german_erp"].lines) and source["currency"] == "EUR"
    assert source["mapping"]["credit_notes"]["sign"] == "positive"
    back = load_dataset(folder)
    assert len(back.transactions) == len(result.dataset.transactions)
    assert (
        cents(back.transactions["amount"]).sum()
        == cents(result.dataset.transactions["amount"]).sum()
    )
    first = {p.name: p.read_bytes() for p in folder.iterdir()}
    write_import(
        import_invoices(exports["german_erp", "csv"], styles["german_erp"].mapping), folder
    )
    assert {p.name: p.read_bytes() for p in folder.iterdir()} == first  # byte-identical


def test_write_import_refuses_a_folder_it_did_not_write(imported, tmp_path):
    (tmp_path / "notes.txt").write_text("mine")
    with pytest.raises(ValueError, match="not written by kamlab import"):
        write_import(imported["accounting", "csv"], tmp_path)


# -- never guess silently ---------------------------------------------------------------------


def test_positive_credit_notes_without_a_sign_are_an_error(styles, exports):
    mapping = styles["german_erp"].mapping
    mapping = {
        **mapping,
        "credit_notes": {k: v for k, v in mapping["credit_notes"].items() if k != "sign"},
    }
    with pytest.raises(
        DataContractError,
        match=r"credit-note lines have positive amounts.*credit_notes.sign: positive",
    ):
        import_invoices(exports["german_erp", "csv"], mapping)


def test_decimal_comma_without_source_decimal_says_so(styles, exports):
    source = {
        k: v
        for k, v in styles["german_erp"].mapping["source"].items()
        if k not in ("decimal", "thousands")
    }
    with pytest.raises(
        DataContractError,
        match=r"column 'Einzelpreis': '\d+,\d\d' \(line 4\) looks like a decimal comma: set source.decimal: ','",
    ):
        import_invoices(
            exports["german_erp", "csv"], {**styles["german_erp"].mapping, "source": source}
        )


def test_cp1252_without_encoding_names_the_line(styles, exports):
    source = {k: v for k, v in styles["german_erp"].mapping["source"].items() if k != "encoding"}
    with pytest.raises(
        DataContractError, match=r"line 1 is not utf-8-sig text \(byte 0xfc\); set source.encoding"
    ):
        import_invoices(
            exports["german_erp", "csv"], {**styles["german_erp"].mapping, "source": source}
        )


def test_wrong_separator_hints_at_the_header(styles, exports):
    source = {k: v for k, v in styles["german_erp"].mapping["source"].items() if k != "sep"}
    with pytest.raises(DataContractError, match=r"not a column of the file .* set source.sep: ';'"):
        import_invoices(
            exports["german_erp", "csv"], {**styles["german_erp"].mapping, "source": source}
        )


def test_dates_read_day_first_from_the_data_and_said_aloud(styles, exports):
    mapping = {k: v for k, v in styles["german_erp"].mapping.items() if k != "date_format"}
    result = import_invoices(exports["german_erp", "csv"], mapping)
    assert result.mapping["date_format"] == "%d.%m.%Y"
    assert any("read day first (%d.%m.%Y), decided by the data" in n for n in result.notes)
    truth = styles["german_erp"].lines.loc[styles["german_erp"].lines["kept"], "date"]
    assert sorted(result.dataset.transactions["date"]) == sorted(truth)


def _csv(tmp_path, text, name="export.csv"):
    path = tmp_path / name
    path.write_text(text)
    return path


SIMPLE = {"columns": {"cust": "account_id", "day": "date", "value": "amount"}}


def test_ambiguous_dates_are_an_error_with_examples(tmp_path):
    path = _csv(tmp_path, "cust,day,value\nA,03/04/2024,10\nB,05/06/2024,5\nA,07/08/2024,1\n")
    with pytest.raises(
        DataContractError,
        match=r"every date could be day first or month first \('03/04/2024' \(line 2\), '05/06/2024' \(line 3\), '07/08/2024' \(line 4\)\); set date_order",
    ):
        import_invoices(path, SIMPLE)
    days = import_invoices(path, {**SIMPLE, "date_order": "day_first"}).dataset.transactions["date"]
    assert days.dt.strftime("%Y-%m-%d").tolist() == ["2024-04-03", "2024-06-05", "2024-08-07"]
    months = import_invoices(path, {**SIMPLE, "date_order": "month_first"}).dataset.transactions
    assert months["date"].dt.strftime("%Y-%m-%d").tolist() == [
        "2024-03-04",
        "2024-05-06",
        "2024-07-08",
    ]


def test_mixed_date_orders_are_an_error(tmp_path):
    path = _csv(tmp_path, "cust,day,value\nA,13/04/2024,10\nB,05/16/2024,5\n")
    with pytest.raises(
        DataContractError,
        match=r"dates mix day first \('13/04/2024' \(line 2\)\) and month first \('05/16/2024' \(line 3\)\)",
    ):
        import_invoices(path, SIMPLE)


def test_many_lines_without_credit_notes_warn_naming_the_keys(tmp_path):
    n = MANY_LINES + 1
    rows = "".join(f"A{i % 7},2024-01-{1 + i % 28:02d},{i % 50 + 1}\n" for i in range(n))
    path = _csv(tmp_path, "cust,day,value\n" + rows)
    with pytest.warns(
        UserWarning,
        match=r"1,001 lines and not one credit note; .*credit_notes.prefix, credit_notes.column with credit_notes.values",
    ):
        result = import_invoices(path, SIMPLE)
    assert any("not one credit note" in note for note in result.notes)
    small = _csv(tmp_path, "cust,day,value\n" + rows.split("\n", 10)[-1], "small.csv")
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        import_invoices(small, SIMPLE)


def test_unsupported_amount_expression_lists_the_forms():
    with pytest.raises(
        ValueError,
        match=r"'Menge \* \* Preis', which kamlab cannot evaluate; supported forms: a column .*'Menge \* Einzelpreis'.*'Brutto - Rabatt'",
    ):
        load_invoice_mapping({**SIMPLE, "amount": "Menge * * Preis"})
    with pytest.raises(ValueError, match="supported forms"):
        load_invoice_mapping({**SIMPLE, "amount": "Menge * Preis - Rabatt"})


def test_amount_expressions_of_columns(tmp_path):
    path = _csv(
        tmp_path,
        "cust,day,gross,discount,qty,price\nA,2024-01-05,100,7.5,3,2.5\nB,2024-01-06,10,0,2,4\n",
    )
    base = {"columns": {"cust": "account_id", "day": "date"}}
    net = import_invoices(path, {**base, "amount": "gross - discount"}).dataset.transactions
    assert net["amount"].tolist() == [92.5, 10.0]
    product = import_invoices(path, {**base, "amount": "qty * price"}).dataset.transactions
    assert product["amount"].tolist() == [7.5, 8.0]


def test_unreadable_amounts_are_ledgered_with_their_lines(tmp_path):
    path = _csv(
        tmp_path,
        "cust,day,value\nA,2024-01-05,10.5\nA,2024-01-05,inf\nB,2024-01-06,NaN\nB,2024-01-07,n/a\nC,2024-01-08,\nC,2024-01-09,-2.25\n",
    )
    result = import_invoices(path, SIMPLE)
    ledger = result.ledger.set_index("rule")
    assert ledger.loc["non_finite_amount", "rows_dropped"] == 2
    assert ledger.loc["non_finite_amount", "lines"] == "3, 4"
    assert (
        ledger.loc["non_numeric_amount", "lines"] == "5"
        and ledger.loc["missing_amount", "lines"] == "6"
    )
    assert ledger["amount"].isna().all()
    assert result.dataset.transactions["amount"].tolist() == [10.5, -2.25]
    assert result.dataset.transactions["credit_note"].tolist() == [False, True]
    assert result.source["signed_total"] == 8.25 and result.source["lines"] == 6


def test_thousands_comma_hint(tmp_path):
    path = _csv(tmp_path, 'cust,day,value\nA,2024-01-05,"1,234.50"\n')
    with pytest.raises(
        DataContractError,
        match=r"'1,234.50' \(line 2\) uses ',' between thousands: set source.thousands: ','",
    ):
        import_invoices(path, SIMPLE)
    assert (
        import_invoices(path, {**SIMPLE, "source": {"thousands": ","}}).source["signed_total"]
        == 1234.5
    )


def test_wrong_thousands_grouping_is_not_misread(tmp_path):
    path = _csv(tmp_path, "cust;day;value\nA;2024-01-05;12.5\n")
    mapping = {**SIMPLE, "source": {"sep": ";", "decimal": ",", "thousands": "."}}
    with pytest.raises(
        DataContractError, match=r"'12.5' \(line 2\) does not fit source.decimal ','"
    ):
        import_invoices(path, mapping)


@pytest.mark.parametrize(
    "bad, message",
    [
        ({"columns": {"a": "account_id"}}, "must map a column to 'date'"),
        ({**SIMPLE, "colour": 1}, "unknown key 'colour'"),
        ({**SIMPLE, "sheet": "Export"}, r"unknown key 'sheet'; write source: \{sheet: ...\}"),
        ({**SIMPLE, "source": {"delimiter": ";"}}, "unknown key 'source.delimiter'"),
        (
            {**SIMPLE, "credit_notes": {"column": "Art"}},
            "'credit_notes.column' and 'credit_notes.values' go together",
        ),
        (
            {**SIMPLE, "credit_notes": {"prefix": "C", "sign": "minus"}},
            "'credit_notes.sign' must be 'positive'",
        ),
        ({"columns": ["a"]}, "key 'columns' must be a dict"),
        ({"columns": {"a": "account_id", "d": "date"}}, "key 'amount' is missing"),
        (
            {"columns": {"a": "account_id", "d": "date", "r": "region"}, "amount": "x"},
            "an account attribute: list it under account_attributes",
        ),
        (
            {**SIMPLE, "account_attributes": ["region"]},
            r"must be a dict, got list, e.g. \{Kundenname: name\}",
        ),
        (
            {**SIMPLE, "account_attributes": {"Seg": "segment"}},
            "account attributes are name, industry",
        ),
        (
            {**SIMPLE, "date_format": "%d", "date_order": "iso"},
            "either 'date_format' or 'date_order'",
        ),
        ({**SIMPLE, "source": {"header_row": 0}}, "counts from 1"),
        ({**SIMPLE, "source": {"encoding": "klingon"}}, "unknown encoding 'klingon'"),
    ],
)
def test_malformed_mapping_names_the_key(bad, message):
    with pytest.raises(ValueError, match=message):
        load_invoice_mapping(bad)


def test_mapping_file_round_trips_through_yaml(styles, tmp_path):
    path = tmp_path / "m.yaml"
    path.write_text(mapping_yaml(styles["german_erp"].mapping, notes=["checked"]), encoding="utf-8")
    assert load_invoice_mapping(path) == load_invoice_mapping(styles["german_erp"].mapping)
    path.write_text("columns: {a: account_id\n")
    with pytest.raises(ValueError, match="m.yaml"):
        load_invoice_mapping(path)


_LINE = st.tuples(
    st.sampled_from(["A", "B", "C", ""]),
    st.sampled_from(["2024-01-05", "2024-02-29", "not a date"]),
    st.one_of(st.integers(-500_000, 500_000), st.sampled_from(["n/a", "inf", "NaN", ""])),
    st.sampled_from(["INV", "CN"]),
)


@settings(max_examples=40, deadline=None)
@given(st.lists(_LINE, min_size=1, max_size=40))
def test_any_export_reconciles_and_keeps_exactly_the_valid_lines(rows):
    cells = [(c, d, f"{v / 100:.2f}" if isinstance(v, int) else v, k) for c, d, v, k in rows]
    signed = [(-v if k == "CN" else v) if isinstance(v, int) else None for _, _, v, k in rows]
    valid = [
        bool(c) and d != "not a date" and s is not None for (c, d, _, _), s in zip(rows, signed)
    ]
    truth: dict[str, int] = {}
    for (c, *_), s, ok in zip(rows, signed, valid):
        if ok:
            truth[c] = truth.get(c, 0) + s
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "any.csv"
        path.write_text("cust,day,value,kind\n" + "".join(",".join(r) + "\n" for r in cells))
        mapping = {
            **SIMPLE,
            "credit_notes": {"column": "kind", "values": ["CN"], "sign": "positive"},
        }
        if not truth:
            with pytest.raises(DataContractError, match="every line was left out"):
                import_invoices(path, mapping)
            return
        result = import_invoices(path, mapping)
    revenue = cents(result.dataset.transactions.groupby("account_id")["amount"].sum())
    assert revenue.to_dict() == dict(sorted(truth.items()))
    total = result.reconciliation.set_index("document_type").loc["total"]
    assert round(total["file_total"] * 100) == sum(s for s in signed if s is not None)
    assert (result.reconciliation["difference"] == 0).all()
    assert total["kept_lines"] == sum(valid) and result.ledger["rows_dropped"].sum() == len(
        rows
    ) - sum(valid)


# -- the proposal -------------------------------------------------------------------------------


def test_role_names_are_unambiguous():
    seen: dict[str, str] = {}
    for role, names in _NAMES.items():
        for name in names.split(","):
            assert seen.setdefault(_norm(name), role) == role, name


@pytest.mark.parametrize(
    "columns, roles",
    [
        (
            ["N° client", "Numéro de facture", "Date de facture", "Quantité", "Prix unitaire",
             "Montant HT", "Devise", "Raison sociale", "Secteur", "Pays", "Commercial",
             "Type de document", "Facture d'origine"],
            ["account_id", "invoice", "date", "quantity", "unit_price", "amount", "currency",
             "name", "industry", "region", "account_manager", "document_type", "reference"],
        ),
        (
            ["Código cliente", "Número de factura", "Fecha factura", "Cantidad", "Precio unitario",
             "Importe neto", "Moneda", "Nombre cliente", "Rubro", "País", "Vendedor",
             "Tipo de documento", "Factura rectificada"],
            ["account_id", "invoice", "date", "quantity", "unit_price", "amount", "currency",
             "name", "industry", "region", "account_manager", "document_type", "reference"],
        ),
        (
            ["Kunden-Nr.", "Rechnungsnummer", "Rechnungsdatum", "Stück", "Preis", "Umsatz",
             "Waehrung", "Firma", "Branche", "Land", "Außendienst", "Belegtyp", "Ursprungsbeleg"],
            ["account_id", "invoice", "date", "quantity", "unit_price", "amount", "currency",
             "name", "industry", "region", "account_manager", "document_type", "reference"],
        ),
    ],
)  # fmt: skip
def test_column_names_in_french_spanish_and_german(columns, roles):
    assert column_roles(columns) == dict(zip(columns, roles))


def test_proposal_of_an_export_without_mapping_imports_the_truth(styles, exports):
    truth = styles["accounting"]
    result = import_invoices(exports["accounting", "csv"], None)
    assert result.notes[0].startswith("no mapping given: used the proposed mapping")
    revenue = cents(result.dataset.transactions.groupby("account_id")["amount"].sum())
    shipping = (
        truth.lines[truth.lines["product"] == "SHIPPING"].groupby("account_id")["cents"].sum()
    )
    assert revenue.equals(
        truth.revenue.add(shipping, fill_value=0).astype("int64").rename("amount")
    )


def test_ambiguous_dates_are_left_out_of_the_proposal_with_a_note(tmp_path):
    path = _csv(tmp_path, "Customer ID,Invoice Date,Amount\nA,03/04/2024,10\nB,05/06/2024,5\n")
    proposal = propose_mapping(path)
    assert "date_format" not in proposal and "date_order" not in proposal
    with pytest.raises(DataContractError, match="every date could be day first or month first"):
        import_invoices(path, None)


# -- the command line ---------------------------------------------------------------------------


def test_command_line_proposes_then_imports(styles, exports, tmp_path, capsys):
    export = exports["german_erp", "csv"]
    mapping_file = tmp_path / "mapping.yaml"
    assert main(["import", str(export), "--write-map", str(mapping_file)]) == 0
    printed = capsys.readouterr().out
    assert printed.startswith("# kamlab proposes this mapping for german_erp.csv")
    proposal = yaml.safe_load(mapping_file.read_text(encoding="utf-8"))
    assert proposal == styles["german_erp"].proposal("csv")
    assert "# products that look like freight or fees: FRACHT" in printed
    assert main(["import", str(export), "--write-map", str(mapping_file)]) == 1
    assert "exists; kamlab does not overwrite it" in capsys.readouterr().err

    proposal["exclude_products"] = ["FRACHT"]
    mapping_file.write_text(yaml.safe_dump(proposal, allow_unicode=True), encoding="utf-8")
    out = tmp_path / "my_data"
    assert main(["import", str(export), "--map", str(mapping_file), "--out", str(out)]) == 0
    printed = capsys.readouterr().out
    truth = styles["german_erp"]
    assert f"signed total EUR {round(truth.signed_total / 100):,}" in printed
    assert "kept + left out = the file's signed total, to the cent" in printed
    assert "non_product_code" in printed and "Gutschrift" in printed
    assert sorted(p.name for p in out.iterdir()) == [
        "accounts.parquet",
        "ledger.csv",
        "source.json",
        "transactions.parquet",
    ]


def test_command_line_errors_are_one_sentence(styles, exports, tmp_path, capsys):
    mapping_file = tmp_path / "m.yaml"
    mapping_file.write_text(yaml.safe_dump(styles["mixed_currency"].mapping))
    assert main(["import", str(exports["mixed_currency", "csv"]), "--map", str(mapping_file)]) == 1
    assert (
        "invalid data: mixed_currency.csv: column 'Currency' holds 2 currencies"
        in capsys.readouterr().err
    )


def test_generators_are_seeded():
    for make in (online_retail, german_erp, accounting, mixed_currency):
        assert make().lines.equals(make().lines)
