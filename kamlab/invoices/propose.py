"""A proposed mapping for an export: column roles by name, dialect and notation from the data.

Column names are matched after folding case, accents and punctuation (``Währung`` →
``wahrung``, ``N° client`` → ``nclient``) against common names in English, German, French and
Spanish. Separator, header row and encoding are read from the file, the decimal mark from the
number columns, the date order from the dates, and the credit-note marker from a document-type
column's values or an invoice-number prefix whose lines are all negative. What the data cannot
decide is left out of the proposal and said in a note.
"""

from __future__ import annotations

import csv
import re
import unicodedata
from collections import Counter
from pathlib import Path

import numpy as np
import pandas as pd

from kamlab.data import DataContractError
from kamlab.invoices.mapping import ATTRIBUTES, COLUMN_ROLES
from kamlab.invoices.read import decode, export_kind, numbers, parse_dates, read_export, text

__all__ = ["SAMPLE_ROWS", "column_roles", "propose_mapping"]

#: Lines read to propose a mapping.
SAMPLE_ROWS = 20_000

_NAMES = {
    "account_id": "customer id, customerid, customer no, customer number, customer code, "
    "cust id, cust no, client id, client no, client number, account id, account no, "
    "account number, debtor, debtor no, sold to, kundennr, kundennummer, kunden nr, kunden id, "
    "kundenid, kdnr, kd nr, debitor, debitorennr, debitorennummer, debitor nr, n client, "
    "no client, numero client, num client, code client, id client, reference client, "
    "n cliente, numero de cliente, numero cliente, codigo cliente, codigo de cliente, "
    "id cliente, cliente id, cod cliente",
    "invoice": "invoice no, invoiceno, invoice number, invoice, invoice id, document no, "
    "document number, doc no, belegnr, belegnummer, beleg, rechnungsnr, rechnungsnummer, "
    "rechnung nr, n facture, no facture, numero de facture, numero facture, num facture, "
    "facture, n piece, numero piece, n factura, numero de factura, numero factura, factura, folio",
    "date": "invoice date, invoicedate, document date, posting date, date, transaction date, "
    "belegdatum, rechnungsdatum, buchungsdatum, datum, date facture, date de facture, "
    "date piece, date document, fecha, fecha factura, fecha de factura, fecha documento, "
    "fecha emision",
    "quantity": "quantity, qty, units, menge, anzahl, stuck, stueck, quantite, qte, cantidad, "
    "cant, unidades",
    "unit_price": "unit price, unitprice, price, price per unit, einzelpreis, preis, "
    "stuckpreis, prix unitaire, prix, pu, pu ht, precio unitario, precio, precio unidad",
    "amount": "net amount, netamount, line amount, line total, amount, net, net value, "
    "net sales, sales, revenue, value, total, nettobetrag, netto, nettowert, nettoumsatz, "
    "betrag, umsatz, wert, montant ht, montant net, montant, total ht, chiffre d affaires, "
    "importe neto, importe, neto, monto, total neto, valor",
    "product": "product, product code, product id, productcode, stockcode, stock code, sku, "
    "item, item code, item no, item number, artikel, artikelnr, artikelnummer, material, "
    "materialnr, produit, code produit, reference, ref, code article, article, producto, "
    "codigo producto, codigo de producto, articulo, referencia",
    "description": "description, product description, item description, bezeichnung, "
    "artikelbezeichnung, beschreibung, text, libelle, designation, descripcion, concepto",
    "category": "category, product category, product group, warengruppe, produktgruppe, "
    "kategorie, categorie, famille, famille produit, categoria, familia, grupo",
    "cost": "cost, cost of goods, cogs, einstandswert, kosten, selbstkosten, cout, "
    "prix de revient, costo, coste",
    "document_type": "document type, doc type, document kind, type, transaction type, "
    "invoice type, belegart, belegtyp, dokumentart, art, typ, type de document, "
    "type document, type piece, type de piece, nature, tipo, tipo documento, "
    "tipo de documento, clase de documento",
    "reference": "original invoice, original invoice no, reference invoice, ref invoice, "
    "related invoice, credited invoice, bezugsbeleg, bezugsrechnung, ursprungsbeleg, "
    "ursprungsrechnung, referenzbeleg, facture d origine, facture origine, "
    "facture de reference, factura original, factura rectificada, factura de origen",
    "currency": "currency, currency code, curr, ccy, wahrung, waehrung, wahrungscode, devise, "
    "monnaie, moneda, divisa",
    "name": "customer name, client name, account name, company, company name, name, "
    "kundenname, name 1, firma, firmenname, nom client, nom du client, raison sociale, nom, "
    "nombre cliente, nombre del cliente, razon social, nombre",
    "industry": "industry, sector, branche, industrie, secteur, secteur d activite, "
    "industria, rubro",
    "region": "region, country, territory, sales region, area, land, gebiet, verkaufsgebiet, "
    "pays, zone, territoire, pais, zona, territorio",
    "account_manager": "account manager, key account manager, kam, sales rep, "
    "sales representative, salesperson, sales person, sales manager, owner, account owner, "
    "vertriebler, vertriebsmitarbeiter, aussendienst, kundenbetreuer, betreuer, verkaufer, "
    "vertreter, commercial, charge de compte, responsable compte, vendeur, comercial, "
    "vendedor, representante, ejecutivo de cuenta, gestor",
}
_CREDIT_WORDS = (
    "credit",
    "gutschrift",
    "storno",
    "retoure",
    "return",
    "refund",
    "avoir",
    "abono",
    "notadecredito",
    "notacredito",
    "rectificativ",
)
_CREDIT_CODES = {"cn", "gs", "cr", "crn", "av", "nc"}
_FREIGHT = {
    "fracht", "versand", "porto", "post", "postage", "shipping", "freight", "delivery",
    "carriage", "fraisdeport", "port", "envio", "transporte", "portes",
}  # fmt: skip


def _norm(name: object) -> str:
    folded = unicodedata.normalize("NFKD", str(name).casefold().replace("ß", "ss"))
    return re.sub(r"[^a-z0-9]", "", "".join(c for c in folded if not unicodedata.combining(c)))


_LOOKUP: dict[str, tuple[str, int]] = {}
for _role, _names in _NAMES.items():
    for _rank, _name in enumerate(_names.split(",")):
        _LOOKUP.setdefault(_norm(_name), (_role, _rank))


def column_roles(columns) -> dict[str, str]:
    """The role of each recognised column (``{file column: role}``); one column per role.

    Roles are the kamlab names of :data:`~kamlab.invoices.COLUMN_ROLES`, the account
    attributes, and ``document_type``, ``reference`` and ``currency``.

    Examples
    --------
    >>> column_roles(["Kundennr", "Belegdatum", "Nettobetrag", "Währung", "N° client", "Pays"])
    {'Kundennr': 'account_id', 'Belegdatum': 'date', 'Nettobetrag': 'amount', 'Währung': 'currency', 'Pays': 'region'}
    """
    best: dict[str, tuple[int, int, str]] = {}
    for position, column in enumerate(columns):
        hit = _LOOKUP.get(_norm(column))
        if hit and (hit[0] not in best or (hit[1], position) < best[hit[0]][:2]):
            best[hit[0]] = (hit[1], position, str(column))
    chosen = {col: role for role, (_, _, col) in best.items()}
    return {str(c): chosen[str(c)] for c in columns if str(c) in chosen}


def _sniff_encoding(data: bytes) -> str:
    for encoding in ("utf-8", "cp1252"):
        try:
            data.decode(encoding)
            return encoding
        except UnicodeDecodeError:
            continue
    return "latin-1"


def _sniff_dialect(lines: list[str]) -> tuple[str, int]:
    """The separator that splits most lines into the same number (> 1) of fields, and the
    first line with that many fields (the header, counted from 1)."""
    best: tuple = (False, 0, 0, ",", 1)
    for sep in (",", ";", "\t", "|"):
        counts = [len(row) for row in csv.reader(lines, delimiter=sep)]
        common = Counter(c for c in counts if c > 0).most_common()
        if not common:
            continue
        fields, freq = max(common, key=lambda cf: (cf[1], cf[0]))
        header = counts.index(fields) + 1
        score = (fields > 1, freq, fields, sep, header)
        if score[:3] > best[:3]:
            best = score
    return best[3], best[4]


def _excel_header(path: Path, sheet: str) -> int:
    head = pd.read_excel(path, sheet_name=sheet, header=None, nrows=40, engine="calamine")
    filled = head.notna().sum(axis=1).to_numpy()
    if not len(filled):
        return 1
    for i, row in head.iterrows():
        values = row.dropna()
        if filled[i] >= 0.8 * filled.max() and values.map(lambda v: isinstance(v, str)).all():
            return int(i) + 1
    return 1


def _sniff_notation(cells: list[pd.Series]) -> tuple[dict, list[str]]:
    """``source.decimal`` / ``source.thousands`` from the text of the number columns."""
    values = pd.concat([c[c.map(lambda v: isinstance(v, str))] for c in cells] or [pd.Series()])
    values = values.astype(str).str.replace(r"[\s\u00a0\u202f€$£¥]", "", regex=True)
    values = pd.Series(values[values.str.contains(r"\d[.,]", regex=True)].unique())
    if values.empty:
        return {}, []
    both = values[values.str.contains(",") & values.str.contains(r"\.")]
    last = both.map(lambda v: "," if v.rfind(",") > v.rfind(".") else ".")
    comma = values[~values.index.isin(both.index) & values.str.contains(",")]
    point = values[~values.index.isin(both.index) & values.str.contains(r"\.")]
    clear_comma = comma[~comma.str.fullmatch(r"[-+(]?\d{1,3}(,\d{3})+\)?-?")]
    clear_point = point[~point.str.fullmatch(r"[-+(]?\d{1,3}\.\d{3}\)?-?")]
    votes = Counter(last) + Counter({",": len(clear_comma), ".": len(clear_point)})
    if votes[","] and votes["."]:
        comma_example = [*clear_comma, *both[last == ","]][0]
        point_example = [*clear_point, *both[last == "."]][0]
        return {}, [
            f"numbers mix decimal marks ('{comma_example}' and '{point_example}'): set "
            "source.decimal and source.thousands"
        ]
    if not (votes[","] or votes["."]):
        return {}, [
            f"'{values.iloc[0]}' could hold a decimal mark or a thousands separator: set "
            "source.decimal (and source.thousands) if the default (decimal '.') is wrong"
        ]
    decimal = "," if votes[","] else "."
    other = "." if decimal == "," else ","
    out = {"decimal": decimal} if decimal == "," else {}
    if values.str.contains(re.escape(other)).any():
        out["thousands"] = other
    return out, []


def _credit_rules(sample, roles: dict, amount: np.ndarray, notes: list[str]) -> dict:
    rules: dict = {}
    by_role = {role: col for col, role in roles.items()}
    if "document_type" in by_role:
        column = by_role["document_type"]
        kinds = text(sample[column])
        found = [
            v for v in kinds.dropna().unique()
            if _norm(v) in _CREDIT_CODES or any(w in _norm(v) for w in _CREDIT_WORDS)
        ]  # fmt: skip
        if found:
            mask = kinds.isin(found).to_numpy()
            rules = {"column": column, "values": sorted(found)}
            signs = amount[mask & np.isfinite(amount)]
            if len(signs) and (signs >= 0).all() and (signs > 0).any():
                rules["sign"] = "positive"
            elif len(signs) and (signs <= 0).all():
                rules["sign"] = "negative"
            if "sign" in rules:
                notes.append(
                    f"credit notes ({column} = {', '.join(map(str, found))}) carry "
                    f"{rules['sign']} amounts in the file: sign: {rules['sign']}"
                    + (" (kamlab negates them)" if rules["sign"] == "positive" else "")
                )
        else:
            notes.append(
                f"'{column}' looks like a document type ({', '.join(map(repr, kinds.dropna().unique()[:6]))}) "
                "but no value reads as a credit note: list them under credit_notes.values"
            )
    if "reference" in by_role:
        rules["reference"] = by_role["reference"]
    if not rules and "invoice" in by_role:
        invoice = text(sample[by_role["invoice"]])
        prefix = invoice.str.extract(r"^([A-Za-z]+)\d", expand=False)
        for p in sorted(prefix.dropna().unique()):
            on = (prefix == p).to_numpy()
            ok = np.isfinite(amount) & on
            if ok.any() and (amount[ok] < 0).all():
                rules = {"prefix": str(p)}
                break
        for p in sorted(set(prefix.dropna().unique()) - {rules.get("prefix")}):
            notes.append(
                f"{int((prefix == p).sum()):,} invoices start with '{p}' and are not all "
                "negative: if they are not sales, set adjustment_prefix"
            )
    if not rules:
        notes.append(
            "no credit-note marker found: negative amounts will count as credit notes; if the "
            "export marks them otherwise, set credit_notes"
        )
    return rules


def propose(path: str | Path) -> tuple[dict, list[str]]:
    """The proposed mapping and the notes that explain it (see :func:`propose_mapping`)."""
    path = Path(path)
    kind = export_kind(path)
    src: dict = {}
    notes: list[str] = []
    if not path.is_file():
        raise DataContractError(f"{path}: file not found.", file=path, rule="missing_file")
    if kind == "csv":
        data = path.read_bytes()
        encoding = _sniff_encoding(data)
        head = decode(path, data[: 1 << 16], encoding if encoding != "utf-8" else "latin-1")
        sep, header_row = _sniff_dialect(head.splitlines()[:60])
        if encoding != "utf-8":
            src["encoding"] = encoding
            notes.append(f"the file is not UTF-8 text; read as {encoding}")
        if sep != ",":
            src["sep"] = sep
    elif kind == "excel":
        sheet = str(pd.ExcelFile(path, engine="calamine").sheet_names[0])
        src["sheet"] = sheet
        header_row = _excel_header(path, sheet)
    else:
        header_row = 1
    if header_row != 1:
        src["header_row"] = header_row
        notes.append(f"the header is on row {header_row}; the rows above it are skipped")
    sample, _ = read_export(path, src, nrows=SAMPLE_ROWS)
    roles = column_roles([c for c in sample.columns if c != "_line"])
    by_role = {role: col for col, role in roles.items()}
    mapping: dict = {"source": src}
    mapping["columns"] = {c: r for c, r in roles.items() if r in COLUMN_ROLES}
    number_cols = [c for c, r in roles.items() if r in ("amount", "quantity", "unit_price", "cost")]
    notation, notation_notes = _sniff_notation([sample[c] for c in number_cols])
    src.update(notation)
    notes += notation_notes
    if "amount" in by_role:
        mapping["amount"] = by_role["amount"]
    elif {"quantity", "unit_price"} <= set(by_role):
        mapping["amount"] = f"{by_role['quantity']} * {by_role['unit_price']}"
    else:
        notes.append("no amount column found: map one to 'amount' or set amount: 'Qty * Price'")
    amount = np.full(len(sample), np.nan)
    if "amount" in mapping:
        amount = np.ones(len(sample))
        for term in mapping["amount"].split(" * "):
            try:
                values, _ = numbers(
                    sample[term],
                    decimal=src.get("decimal", "."),
                    thousands=src.get("thousands"),
                    file=path,
                    column=term,
                )
            except DataContractError:
                values = np.full(len(sample), np.nan)
            amount = amount * values
    if "date" in by_role:
        try:
            reading = parse_dates(
                sample[by_role["date"]],
                file=path,
                column=by_role["date"],
                lines=sample["_line"].to_numpy(),
            )
            if reading.note:
                notes.append(reading.note)
            if reading.date_format:
                mapping["date_format"] = reading.date_format
            elif reading.order:
                mapping["date_order"] = reading.order
        except DataContractError as exc:
            notes.append(str(exc).split(": ", 1)[1])
    for role in ("account_id", "date"):
        if role not in by_role:
            notes.append(
                f"no column looks like the {role}: map one under columns (YourColumn: {role})"
            )
    credit = _credit_rules(sample, roles, amount, notes)
    if credit:
        mapping["credit_notes"] = credit
    if "currency" in by_role:
        mapping["currency"] = by_role["currency"]
        held = text(sample[by_role["currency"]]).dropna().unique()
        if len(held) > 1:
            notes.append(
                f"'{by_role['currency']}' holds {', '.join(held)}: the import refuses mixed currencies"
            )
    attributes = {c: r for c, r in roles.items() if r in ATTRIBUTES}
    if attributes:
        mapping["account_attributes"] = attributes
    if "product" in by_role:
        products = text(sample[by_role["product"]]).dropna().unique()
        freight = [p for p in products if _norm(p) in _FREIGHT]
        if freight:
            notes.append(
                f"products that look like freight or fees: {', '.join(freight)}; if they are not sales, set exclude_products"
            )
    unused = [c for c in sample.columns if c != "_line" and c not in roles]
    if unused:
        notes.append(f"columns not used: {', '.join(unused)}")
    if not src:
        mapping.pop("source")
    return mapping, notes


def propose_mapping(path: str | Path) -> dict:
    """A mapping for ``path`` read from its header and first :data:`SAMPLE_ROWS` lines.

    Column roles come from their names (English, German, French, Spanish); separator,
    encoding, header row, decimal mark, date format and the credit-note marker from the data.
    Check it, then pass it to :func:`~kamlab.invoices.import_invoices`.
    :func:`~kamlab.invoices.mapping_yaml` gives its YAML text.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> export = pathlib.Path(tempfile.mkdtemp()) / "export.csv"
    >>> _ = export.write_text("Umsatzexport\\n\\nKundennr;Belegart;Belegdatum;Nettobetrag\\n"
    ...                       "K1;Rechnung;13.01.2024;1.000,50\\n"
    ...                       "K1;Gutschrift;20.01.2024;100,25\\n")
    >>> mapping = propose_mapping(export)
    >>> mapping["source"], mapping["date_format"], mapping["credit_notes"]
    ({'sep': ';', 'header_row': 3, 'decimal': ',', 'thousands': '.'}, '%d.%m.%Y', {'column': 'Belegart', 'values': ['Gutschrift'], 'sign': 'positive'})
    """
    return propose(path)[0]
