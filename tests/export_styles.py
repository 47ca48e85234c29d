"""Invoice exports in four styles, each with its own generator and known truth.

Every style builds one seeded portfolio of invoice lines whose signed amounts are integers in
cents (the truth), then writes it as an ERP would, as CSV or Excel:

* ``online_retail``: the UCI Online Retail layout (credit notes are ``C`` invoices with negative
  quantities, ``POST`` lines and lines without a customer are left out, a few exact duplicate
  rows), plus customer-master columns a B2B export carries.
* ``german_erp``: German column names, credit notes marked by ``Belegart = Gutschrift`` with
  **positive** amounts and a ``Bezugsbeleg``, ``;``-separated cp1252 text with decimal commas,
  ``.`` between thousands, ``dd.mm.yyyy`` dates and a title row above the header (in Excel
  too), ``FRACHT`` lines left out, customer numbers with leading zeros.
* ``accounting``: an accounting export with negative credit notes (no marker), US
  ``mm/dd/yyyy`` dates, ``,`` between thousands, ``SHIPPING`` lines left out.
* ``mixed_currency``: the accounting export whose currency column holds USD and EUR (an
  import must refuse it).

``style.mapping`` is the right mapping for both formats; ``style.proposal(fmt)`` what
``propose_mapping`` should propose; ``style.revenue`` the kept revenue per account in cents.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import openpyxl
import pandas as pd

NAMES = ["Müller & Söhne", "Nordlicht", "Café Rößler", "Alpen Holz", "Bäckerei Groß", "Tecnica"]
INDUSTRIES = ["retail", "manufacturing", "health", "logistics"]
REGIONS = ["North", "South", "East", "West"]
MANAGERS = ["Jörg Weiß", "Ana Núñez", "Lea Brandt"]


@dataclass(frozen=True)
class ExportStyle:
    """One export style: the truth per line and per account, the mapping, the writer."""

    name: str
    lines: pd.DataFrame  # one row per line in file order: the file's cells and the truth
    accounts: pd.DataFrame  # account_id, name, industry, region, account_manager
    mapping: dict  # the right mapping (works for CSV and Excel)
    proposals: dict  # fmt -> what propose_mapping should propose
    writer: Callable[[pd.DataFrame, Path, str], None]

    def write(self, folder: Path, fmt: str) -> Path:
        path = Path(folder) / f"{self.name}.{fmt}"
        self.writer(self.lines, path, fmt)
        return path

    def proposal(self, fmt: str) -> dict:
        return self.proposals[fmt]

    @property
    def revenue(self) -> pd.Series:
        """Kept signed revenue per account, in cents."""
        kept = self.lines[self.lines["kept"]]
        return kept.groupby("account_id")["cents"].sum().sort_index()

    @property
    def signed_total(self) -> int:
        """Σ signed amounts over every line of the file, in cents."""
        return int(self.lines["cents"].sum())

    @property
    def dropped_total(self) -> int:
        return int(self.lines.loc[~self.lines["kept"], "cents"].sum())


def _portfolio(seed: int, n_accounts: int, n_invoices: int, start: str, ids) -> tuple:
    """Accounts, and invoice lines with a credit note for about one invoice in ten."""
    rng = np.random.default_rng(seed)
    accounts = pd.DataFrame(
        {
            "account_id": [ids(i) for i in range(n_accounts)],
            "name": [f"{NAMES[i % len(NAMES)]} {i}" for i in range(n_accounts)],
            "industry": [INDUSTRIES[i % len(INDUSTRIES)] for i in range(n_accounts)],
            "region": [REGIONS[(i // 2) % len(REGIONS)] for i in range(n_accounts)],
            "account_manager": [MANAGERS[i % len(MANAGERS)] for i in range(n_accounts)],
        }
    )
    day0 = pd.Timestamp(start)
    rows = []
    for k in range(n_invoices):
        account = int(rng.integers(n_accounts))
        date = day0 + pd.Timedelta(
            days=int(rng.integers(0, 700)), minutes=int(rng.integers(480, 1080))
        )
        invoice_lines = []
        for _ in range(int(rng.integers(1, 5))):
            qty = int(rng.integers(1, 40))
            price = int(rng.integers(50, 9000))  # cents
            product = f"P{int(rng.integers(100, 160))}"
            invoice_lines.append((product, qty, price))
        for product, qty, price in invoice_lines:
            rows.append(
                dict(
                    k=k,
                    account=account,
                    date=date,
                    product=product,
                    qty=qty,
                    price=price,
                    credit=False,
                    ref=None,
                )
            )
        if rng.random() < 0.25:
            rows.append(
                dict(
                    k=k,
                    account=account,
                    date=date,
                    product="FREIGHT",
                    qty=1,
                    price=int(rng.integers(500, 2500)),
                    credit=False,
                    ref=None,
                )
            )
        if rng.random() < 0.1:
            product, qty, price = invoice_lines[0]
            back = int(rng.integers(1, qty + 1))
            later = date + pd.Timedelta(days=int(rng.integers(1, 30)))
            rows.append(
                dict(
                    k=k,
                    account=account,
                    date=later,
                    product=product,
                    qty=back,
                    price=price,
                    credit=True,
                    ref=k,
                )
            )
    lines = pd.DataFrame(rows)
    lines["account_id"] = accounts["account_id"].to_numpy()[lines["account"]]
    lines["cents"] = np.where(lines["credit"], -1, 1) * lines["qty"] * lines["price"]
    return rng, accounts, lines


def _attributes(lines: pd.DataFrame, accounts: pd.DataFrame) -> pd.DataFrame:
    return lines.join(accounts.set_index("account_id"), on="account_id")


def _excel(path: Path, sheet: str, header: list[str], rows, title: str | None = None) -> None:
    book = openpyxl.Workbook(write_only=True)
    ws = book.create_sheet(sheet)
    if title:
        ws.append([title])
        ws.append([])
    ws.append(header)
    for row in rows:
        ws.append(row)
    book.save(path)


# -- Online Retail ------------------------------------------------------------------------------

_OR_COLUMNS = ["InvoiceNo", "StockCode", "Description", "Quantity", "InvoiceDate", "UnitPrice",
               "CustomerID", "Country", "CustomerName", "Industry", "SalesRep"]  # fmt: skip


def online_retail(seed: int = 1, n_accounts: int = 40, n_invoices: int = 500) -> ExportStyle:
    rng, accounts, lines = _portfolio(
        seed, n_accounts, n_invoices, "2011-01-03", lambda i: str(12346 + 7 * i)
    )
    lines = _attributes(lines, accounts)
    lines["invoice"] = np.where(
        lines["credit"], "C" + (560000 + lines.index).astype(str), (536365 + lines["k"]).astype(str)
    )
    lines["product"] = lines["product"].replace("FREIGHT", "POST")
    lines["qty"] = np.where(lines["credit"], -lines["qty"], lines["qty"])
    lines["cents"] = lines["qty"] * lines["price"]
    lines["kept"] = lines["product"] != "POST"
    anonymous = rng.random(len(lines)) < 0.05
    lines.loc[anonymous, ["account_id", "name", "industry", "account_manager"]] = None
    lines.loc[anonymous, "kept"] = False
    lines["description"] = "item " + lines["product"]
    dupes = lines[lines["kept"] & ~lines["credit"]].iloc[[3, 30, 60]].assign(kept=False)
    lines = (
        pd.concat([lines, dupes]).sort_values(["k", "credit"], kind="stable").reset_index(drop=True)
    )
    mapping = {
        "columns": {"InvoiceNo": "invoice", "StockCode": "product", "Description": "description",
                    "Quantity": "quantity", "InvoiceDate": "date", "UnitPrice": "unit_price",
                    "CustomerID": "account_id"},
        "amount": "Quantity * UnitPrice",
        "credit_notes": {"prefix": "C"},
        "account_attributes": {"Country": "region", "CustomerName": "name",
                               "Industry": "industry", "SalesRep": "account_manager"},
        "drop_exact_duplicates": True,
        "exclude_products": ["POST"],
    }  # fmt: skip
    base = {k: mapping[k] for k in ("columns", "amount", "credit_notes", "account_attributes")}
    proposals = {
        "csv": {**base, "date_format": "%Y-%m-%d %H:%M:%S"},
        "xlsx": {"source": {"sheet": "Online Retail"}, **base},
    }

    def write(lines: pd.DataFrame, path: Path, fmt: str) -> None:
        cells = pd.DataFrame(
            {
                "InvoiceNo": lines["invoice"],
                "StockCode": lines["product"],
                "Description": lines["description"],
                "Quantity": lines["qty"],
                "InvoiceDate": lines["date"],
                "UnitPrice": lines["price"] / 100,
                "CustomerID": lines["account_id"],
                "Country": lines["region"],
                "CustomerName": lines["name"],
                "Industry": lines["industry"],
                "SalesRep": lines["account_manager"],
            }
        )
        if fmt == "csv":
            cells["InvoiceDate"] = cells["InvoiceDate"].dt.strftime("%Y-%m-%d %H:%M:%S")
            cells.to_csv(path, index=False, lineterminator="\n")
            return
        cells["InvoiceNo"] = [int(v) if v.isdigit() else v for v in cells["InvoiceNo"]]
        cells["CustomerID"] = [None if pd.isna(v) else int(v) for v in cells["CustomerID"]]
        rows = [
            [
                None if pd.isna(v) else (v.to_pydatetime() if isinstance(v, pd.Timestamp) else v)
                for v in r
            ]
            for r in cells.itertuples(index=False)
        ]
        _excel(path, "Online Retail", _OR_COLUMNS, rows)

    return ExportStyle("online_retail", lines, accounts, mapping, proposals, write)


# -- German ERP ---------------------------------------------------------------------------------

_DE_COLUMNS = ["Belegnr", "Belegart", "Belegdatum", "Bezugsbeleg", "Kundennr", "Kundenname",
               "Branche", "Region", "Vertriebler", "Artikelnr", "Bezeichnung", "Menge",
               "Einzelpreis", "Nettobetrag", "Währung"]  # fmt: skip


def _de(cents: int) -> str:
    sign = "-" if cents < 0 else ""
    euros, rest = divmod(abs(int(cents)), 100)
    return f"{sign}{euros:,}".replace(",", ".") + f",{rest:02d}"


def german_erp(seed: int = 2, n_accounts: int = 40, n_invoices: int = 500) -> ExportStyle:
    _, accounts, lines = _portfolio(
        seed, n_accounts, n_invoices, "2023-01-02", lambda i: f"{10023 + 11 * i:07d}"
    )
    lines = _attributes(lines, accounts)
    number = {k: f"RE-{2023000 + k}" for k in lines["k"].unique()}
    lines["invoice"] = [
        f"GS-{3023000 + i}" if c else number[k]
        for i, (c, k) in enumerate(zip(lines["credit"], lines["k"]))
    ]
    lines["reference"] = [number[k] if c else None for c, k in zip(lines["credit"], lines["k"])]
    lines["doc"] = np.where(lines["credit"], "Gutschrift", "Rechnung")
    lines["product"] = lines["product"].replace("FREIGHT", "FRACHT")
    lines["kept"] = lines["product"] != "FRACHT"
    mapping = {
        "source": {"sheet": "Export", "header_row": 3, "sep": ";", "decimal": ",",
                   "thousands": ".", "encoding": "cp1252"},
        "columns": {"Belegnr": "invoice", "Belegdatum": "date", "Kundennr": "account_id",
                    "Artikelnr": "product", "Bezeichnung": "description", "Menge": "quantity",
                    "Einzelpreis": "unit_price", "Nettobetrag": "amount"},
        "date_format": "%d.%m.%Y",
        "amount": "Nettobetrag",
        "credit_notes": {"column": "Belegart", "values": ["Gutschrift"], "sign": "positive",
                         "reference": "Bezugsbeleg"},
        "currency": "Währung",
        "account_attributes": {"Kundenname": "name", "Branche": "industry", "Region": "region",
                               "Vertriebler": "account_manager"},
        "exclude_products": ["FRACHT"],
    }  # fmt: skip
    common = {
        k: mapping[k]
        for k in ("columns", "amount", "credit_notes", "currency", "account_attributes")
    }
    proposals = {
        "csv": {
            "source": {k: v for k, v in mapping["source"].items() if k != "sheet"},
            **common,
            "date_format": "%d.%m.%Y",
        },
        "xlsx": {"source": {"sheet": "Export", "header_row": 3}, **common},
    }
    title = "Umsatzexport Müller Großhandel GmbH; Zeitraum 01.01.2023 – 31.12.2024"

    def write(lines: pd.DataFrame, path: Path, fmt: str) -> None:
        net = lines["qty"] * lines["price"]  # positive for credit notes too
        cells = {
            "Belegnr": lines["invoice"], "Belegart": lines["doc"], "Belegdatum": lines["date"],
            "Bezugsbeleg": lines["reference"], "Kundennr": lines["account_id"],
            "Kundenname": lines["name"], "Branche": lines["industry"], "Region": lines["region"],
            "Vertriebler": lines["account_manager"], "Artikelnr": lines["product"],
            "Bezeichnung": "Artikel " + lines["product"], "Menge": lines["qty"],
            "Einzelpreis": lines["price"], "Nettobetrag": net, "Währung": "EUR",
        }  # fmt: skip
        frame = pd.DataFrame(cells)
        if fmt == "csv":
            frame["Belegdatum"] = frame["Belegdatum"].dt.strftime("%d.%m.%Y")
            frame["Einzelpreis"] = frame["Einzelpreis"].map(_de)
            frame["Nettobetrag"] = frame["Nettobetrag"].map(_de)
            body = frame.to_csv(sep=";", index=False, lineterminator="\r\n")
            path.write_bytes(f"{title}\r\n\r\n{body}".encode("cp1252"))
            return
        frame["Einzelpreis"] = frame["Einzelpreis"] / 100
        frame["Nettobetrag"] = frame["Nettobetrag"] / 100
        frame["Belegdatum"] = frame["Belegdatum"].dt.normalize()
        rows = [
            [
                None
                if v is None or v is pd.NaT
                else (v.to_pydatetime() if isinstance(v, pd.Timestamp) else v)
                for v in r
            ]
            for r in frame.itertuples(index=False)
        ]
        _excel(path, "Export", _DE_COLUMNS, rows, title=title)

    lines["date"] = lines["date"].dt.normalize()
    return ExportStyle("german_erp", lines, accounts, mapping, proposals, write)


# -- accounting export -----------------------------------------------------------------------

_US_COLUMNS = ["Doc No.", "Posting Date", "Customer No.", "Customer Name", "Sector", "Territory",
               "Sales Rep", "Item", "Description", "Qty", "Unit Price", "Net Amount", "Currency"]  # fmt: skip


def accounting(
    seed: int = 3, n_accounts: int = 40, n_invoices: int = 500, currencies=("USD",)
) -> ExportStyle:
    rng, accounts, lines = _portfolio(
        seed, n_accounts, n_invoices, "2022-03-01", lambda i: f"C{1000 + i}"
    )
    lines = _attributes(lines, accounts)
    lines["invoice"] = (700000 + lines.index).astype(str)
    lines["product"] = lines["product"].replace("FREIGHT", "SHIPPING")
    lines["kept"] = lines["product"] != "SHIPPING"
    lines["date"] = lines["date"].dt.normalize()
    lines["currency"] = rng.choice(
        list(currencies), size=len(lines), p=[0.9, 0.1] if len(currencies) == 2 else None
    )
    mapping = {
        "source": {"thousands": ","},
        "columns": {"Doc No.": "invoice", "Posting Date": "date", "Customer No.": "account_id",
                    "Item": "product", "Description": "description", "Qty": "quantity",
                    "Unit Price": "unit_price", "Net Amount": "amount"},
        "date_format": "%m/%d/%Y",
        "amount": "Net Amount",
        "currency": "Currency",
        "account_attributes": {"Customer Name": "name", "Sector": "industry",
                               "Territory": "region", "Sales Rep": "account_manager"},
        "exclude_products": ["SHIPPING"],
    }  # fmt: skip
    common = {k: mapping[k] for k in ("columns", "amount", "currency", "account_attributes")}
    proposals = {
        "csv": {"source": {"thousands": ","}, **common, "date_format": "%m/%d/%Y"},
        "xlsx": {"source": {"sheet": "GL Export"}, **common},
    }

    def write(lines: pd.DataFrame, path: Path, fmt: str) -> None:
        frame = pd.DataFrame(
            {
                "Doc No.": lines["invoice"], "Posting Date": lines["date"],
                "Customer No.": lines["account_id"], "Customer Name": lines["name"],
                "Sector": lines["industry"], "Territory": lines["region"],
                "Sales Rep": lines["account_manager"], "Item": lines["product"],
                "Description": "item " + lines["product"],
                "Qty": np.where(lines["credit"], -lines["qty"], lines["qty"]),
                "Unit Price": lines["price"] / 100, "Net Amount": lines["cents"] / 100,
                "Currency": lines["currency"],
            }
        )  # fmt: skip
        if fmt == "csv":
            frame["Posting Date"] = frame["Posting Date"].dt.strftime("%m/%d/%Y")
            frame["Unit Price"] = frame["Unit Price"].map("{:,.2f}".format)
            frame["Net Amount"] = frame["Net Amount"].map("{:,.2f}".format)
            frame.to_csv(path, index=False, lineterminator="\n")
            return
        rows = [
            [v.to_pydatetime() if isinstance(v, pd.Timestamp) else v for v in r]
            for r in frame.itertuples(index=False)
        ]
        _excel(path, "GL Export", _US_COLUMNS, rows)

    name = "accounting" if len(currencies) == 1 else "mixed_currency"
    return ExportStyle(name, lines, accounts, mapping, proposals, write)


def mixed_currency(seed: int = 4) -> ExportStyle:
    return accounting(seed=seed, currencies=("USD", "EUR"))


STYLES = {
    "online_retail": online_retail,
    "german_erp": german_erp,
    "accounting": accounting,
    "mixed_currency": mixed_currency,
}
