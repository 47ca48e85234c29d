"""Benchmark ``kamlab import`` on a 500,000-line CSV and a 30,000-line Excel workbook.

Usage (from the repo root)::

    .venv/bin/python benchmarks/bench_import.py [--lines 500000] [--xlsx-lines 30000]

Both exports are German-ERP style (``;``-separated cp1252 text with decimal commas, ``.`` between
thousands, ``dd.mm.yyyy`` dates and a title row; the workbook with numeric and date cells under a
title row), with credit notes marked by a type column with positive amounts, a reference column,
freight lines to leave out and four account attributes. They are written once into
``benchmarks/out/import/`` (seeded, so every run measures the same files).

Printed: wall-clock and process-CPU seconds (median of ``--repeat`` runs) of

* reading the file alone (``pandas.read_csv`` with everything as text; ``pandas.read_excel``
  with calamine, and with openpyxl, the reader kamlab used before), the floor of any import;
* ``import_invoices`` (read, parse, sign, drop, reconcile);
* ``write_import`` (Parquet contract folder, ledger, source);
* ``propose_mapping`` (sniffing a 20,000-line sample);

and the import's ratio to the plain read.
"""

from __future__ import annotations

import argparse
import statistics
import time
from pathlib import Path

import numpy as np
import pandas as pd

from kamlab.invoices import import_invoices, propose_mapping, write_import

OUT = Path(__file__).resolve().parent / "out" / "import"
MAPPING = {
    "source": {"sheet": "Export", "header_row": 3, "sep": ";", "decimal": ",", "thousands": ".",
               "encoding": "cp1252"},
    "columns": {"Belegnr": "invoice", "Belegdatum": "date", "Kundennr": "account_id",
                "Artikelnr": "product", "Menge": "quantity", "Einzelpreis": "unit_price",
                "Nettobetrag": "amount"},
    "date_format": "%d.%m.%Y",
    "amount": "Nettobetrag",
    "credit_notes": {"column": "Belegart", "values": ["Gutschrift"], "sign": "positive",
                     "reference": "Bezugsbeleg"},
    "currency": "Währung",
    "account_attributes": {"Kundenname": "name", "Branche": "industry", "Region": "region",
                           "Vertriebler": "account_manager"},
    "exclude_products": ["FRACHT"],
}  # fmt: skip
TITLE = "Umsatzexport Müller Großhandel GmbH; Zeitraum 01.01.2022 – 31.12.2024"


def export_lines(n: int, seed: int = 7) -> pd.DataFrame:
    """``n`` invoice lines over 5,000 accounts: 5 % credit notes, 3 % freight."""
    rng = np.random.default_rng(seed)
    accounts = np.arange(5_000)
    account = rng.choice(accounts, size=n)
    credit = rng.random(n) < 0.05
    qty = rng.integers(1, 60, size=n)
    price = rng.integers(50, 250_000, size=n)  # cents
    product = np.where(
        rng.random(n) < 0.03, "FRACHT", "P" + rng.integers(1000, 3000, size=n).astype(str)
    )
    date = pd.Timestamp("2022-01-01") + pd.to_timedelta(rng.integers(0, 1095, size=n), unit="D")
    return pd.DataFrame(
        {
            "Belegnr": np.where(credit, "GS-", "RE-") + (1_000_000 + np.arange(n)).astype(str),
            "Belegart": np.where(credit, "Gutschrift", "Rechnung"),
            "Belegdatum": date,
            "Bezugsbeleg": np.where(credit, "RE-" + (1_000_000 + rng.integers(0, n, size=n)).astype(str), ""),
            "Kundennr": np.char.zfill(account.astype(str), 7),
            "Kundenname": np.char.add("Kunde Müller ", account.astype(str)),
            "Branche": np.array(["Handel", "Industrie", "Gesundheit", "Logistik"])[account % 4],
            "Region": np.array(["Nord", "Süd", "Ost", "West"])[account % 4],
            "Vertriebler": np.array(["Jörg Weiß", "Lea Brandt", "Ana Núñez"])[account % 3],
            "Artikelnr": product,
            "Menge": qty,
            "Einzelpreis": price,
            "Nettobetrag": qty * price,
            "Währung": "EUR",
        }
    )  # fmt: skip


def _german(cents: pd.Series) -> pd.Series:
    euros = (cents // 100).map("{:,}".format).str.replace(",", ".")
    return euros + "," + (cents % 100).map("{:02d}".format)


def write_csv(lines: pd.DataFrame, path: Path) -> None:
    frame = lines.copy()
    frame["Belegdatum"] = frame["Belegdatum"].dt.strftime("%d.%m.%Y")
    frame["Einzelpreis"] = _german(frame["Einzelpreis"])
    frame["Nettobetrag"] = _german(frame["Nettobetrag"])
    body = frame.to_csv(sep=";", index=False, lineterminator="\r\n")
    path.write_bytes(f"{TITLE}\r\n\r\n{body}".encode("cp1252"))


def write_xlsx(lines: pd.DataFrame, path: Path) -> None:
    import openpyxl

    book = openpyxl.Workbook(write_only=True)
    sheet = book.create_sheet("Export")
    sheet.append([TITLE])
    sheet.append([])
    sheet.append(list(lines.columns))
    frame = lines.assign(
        Belegdatum=lines["Belegdatum"].dt.to_pydatetime(),
        Einzelpreis=lines["Einzelpreis"] / 100,
        Nettobetrag=lines["Nettobetrag"] / 100,
        Bezugsbeleg=lines["Bezugsbeleg"].replace("", None),
    )
    for row in frame.itertuples(index=False):
        sheet.append(list(row))
    book.save(path)


def timed(fn, repeat: int) -> tuple[float, float, object]:
    """Median wall-clock and process-CPU seconds over ``repeat`` calls, and the last result."""
    walls, cpus, out = [], [], None
    for _ in range(repeat):
        w0, c0 = time.perf_counter(), time.process_time()
        out = fn()
        walls.append(time.perf_counter() - w0)
        cpus.append(time.process_time() - c0)
    return statistics.median(walls), statistics.median(cpus), out


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--lines", type=int, default=500_000)
    ap.add_argument("--xlsx-lines", type=int, default=30_000)
    ap.add_argument("--repeat", type=int, default=3)
    args = ap.parse_args()
    OUT.mkdir(parents=True, exist_ok=True)
    csv_path = OUT / f"export_{args.lines}.csv"
    xlsx_path = OUT / f"export_{args.xlsx_lines}.xlsx"
    if not csv_path.exists():
        write_csv(export_lines(args.lines), csv_path)
    if not xlsx_path.exists():
        write_xlsx(export_lines(args.xlsx_lines, seed=8), xlsx_path)

    rows = []

    def measure(label, fn, repeat=args.repeat):
        wall, cpu, out = timed(fn, repeat)
        rows.append((label, wall, cpu))
        print(f"{label:<52} {wall:7.2f} s wall {cpu:7.2f} s CPU", flush=True)
        return wall, out

    print(f"CSV: {csv_path.name}, {csv_path.stat().st_size / 1e6:.1f} MB, {args.lines:,} lines")
    read, _ = measure(
        "pandas.read_csv (all text)",
        lambda: pd.read_csv(csv_path, sep=";", encoding="cp1252", skiprows=2, dtype=str,
                            keep_default_na=False, na_values=[""]),
    )  # fmt: skip
    full, result = measure("import_invoices", lambda: import_invoices(csv_path, MAPPING))
    measure("write_import (Parquet)", lambda: write_import(result, OUT / "csv_contract"))
    measure("propose_mapping", lambda: propose_mapping(csv_path))
    total = result.reconciliation.iloc[-1]
    print(
        f"  kept {total['kept_lines']:,} + left out {total['dropped_lines']:,} lines; "
        f"import / plain read = {full / read:.1f}x; {args.lines / full:,.0f} lines/s"
    )

    print(
        f"\nExcel: {xlsx_path.name}, {xlsx_path.stat().st_size / 1e6:.1f} MB, {args.xlsx_lines:,} lines"
    )
    calamine, _ = measure(
        "pandas.read_excel (calamine)",
        lambda: pd.read_excel(xlsx_path, header=2, dtype=object, engine="calamine"),
    )
    openpyxl_s, _ = measure(
        "pandas.read_excel (openpyxl, the old reader)",
        lambda: pd.read_excel(xlsx_path, header=2, dtype=object, engine="openpyxl"),
        repeat=1,
    )
    full_x, _result_x = measure("import_invoices", lambda: import_invoices(xlsx_path, MAPPING))
    measure("propose_mapping", lambda: propose_mapping(xlsx_path))
    print(
        f"  import / calamine read = {full_x / calamine:.1f}x; openpyxl read alone / import = "
        f"{openpyxl_s / full_x:.1f}x"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
