"""The ``kamlab`` command line: ``synth``, ``validate`` and ``run``."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

__all__ = ["main"]

EPILOG = """examples:
  kamlab synth --accounts 300 --years 3 --seed 42 --out data/sample
  kamlab validate data/sample
  kamlab run --data data/sample --out runs/sample
"""


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="kamlab",
        description="Key account management research toolkit: synthetic data, validation and "
        "reproducible notebook runs.",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")

    synth = sub.add_parser(
        "synth",
        help="write a synthetic portfolio with planted truth",
        description="Write accounts, transactions, assessments and "
        "interactions tables plus truth.json (the planted drivers).",
    )
    synth.add_argument("--accounts", type=int, default=300, help="number of accounts (300)")
    synth.add_argument("--years", type=int, default=3, help="years of history (3)")
    synth.add_argument("--seed", type=int, default=42, help="random seed (42)")
    synth.add_argument("--start", default="2022-01-01", help="first day, ISO date (2022-01-01)")
    synth.add_argument(
        "--format", choices=("csv", "parquet"), default="csv", help="file format (csv)"
    )
    synth.add_argument("--out", required=True, type=Path, help="output folder")

    validate = sub.add_parser(
        "validate",
        help="check a data folder against the contract",
        description="Load and cross-check every table; print row counts, "
        "date ranges and the data-quality ledger. Exit 0 when valid, 1 "
        "when not.",
    )
    validate.add_argument(
        "data",
        type=Path,
        help="folder with accounts.csv, transactions.csv, ... or one Excel workbook",
    )
    validate.add_argument(
        "--drop",
        action="store_true",
        help="drop offending rows (counted in the ledger) instead of failing",
    )
    validate.add_argument(
        "--map",
        type=Path,
        default=None,
        help="YAML file mapping your column names to the contract's",
    )

    run = sub.add_parser(
        "run",
        help="execute the notebooks on a data folder into a run folder",
        description="Execute the numbered notebooks into a self-contained run folder "
        "(index.html, reports, tables, figures, action list, manifest.json). Without --out "
        "the run goes to runs/<data>/<as_of>/, so each refresh sits beside the last one.",
        epilog="DATA is a folder in the data contract, invoices:EXPORT with --map MAPPING.yaml "
        "(see kamlab import), or ADAPTER:PATH for a public dataset: "
        "online-retail:PATH/online_retail.parquet or cdnow:PATH/CDNOW_master.txt. "
        "kamlab never deletes what it did not create: --out must lie outside the data, and "
        "an existing run folder is replaced only with --replace (a subset of notebooks "
        "updates just those notebooks).",
    )
    run.add_argument("--data", default="data/sample", help="data folder or KIND:PATH")
    run.add_argument(
        "--map",
        type=Path,
        default=None,
        dest="mapping",
        help="mapping YAML of an invoices:EXPORT input",
    )
    run.add_argument(
        "--out", type=Path, default=None, help="run folder (default runs/<data>/<as_of>)"
    )
    run.add_argument(
        "--replace",
        action="store_true",
        help="replace an existing run folder at --out (kept until the new run is complete)",
    )
    run.add_argument(
        "--params", type=Path, default=None, help="YAML with shared and per-notebook parameters"
    )
    run.add_argument("--jobs", type=int, default=1, help="notebooks run in parallel (1)")
    run.add_argument(
        "--notebooks",
        default=None,
        help="comma-separated notebook numbers or names, e.g. 01,03 (all)",
    )
    run.add_argument(
        "-p",
        "--param",
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help="set a notebook parameter, e.g. -p as_of=2024-07-01 (repeatable)",
    )
    summary = sub.add_parser(
        "summarize",
        help="print a Markdown digest of a run folder",
        description="Read a run folder's manifest and tables and print the key numbers: "
        "dates, data quality, concentration, retention, key accounts, back-test, growth "
        "drivers, churn risk, CLV fit, review checklist.",
    )
    summary.add_argument("run", type=Path, help="a run folder written by kamlab run")
    summary.add_argument(
        "--compare",
        type=Path,
        default=None,
        metavar="PREVIOUS_RUN",
        help="also say what changed since an earlier run of the same data",
    )
    imp = sub.add_parser(
        "import",
        help="turn an invoice export into a contract folder",
        description="Without --map: propose a mapping for the export (column roles, separator, "
        "encoding, header row, decimal mark, date order, credit notes) and print it as YAML. "
        "With --map: import, print the reconciliation (kept + left out = the file's signed "
        "total) and the ledger, and write the contract folder to --out.",
    )
    imp.add_argument("export", type=Path, help="invoice lines: CSV, Excel or Parquet")
    imp.add_argument("--map", dest="mapping", type=Path, default=None, help="mapping YAML")
    imp.add_argument("--out", type=Path, default=None, help="contract folder to write")
    imp.add_argument(
        "--write-map", type=Path, default=None, help="write the (proposed) mapping to this file"
    )
    return parser


def _read_mapping(path: Path | None):
    if path is None:
        return None
    from kamlab._io import read_yaml

    return read_yaml(path, "column mapping")


def _cmd_synth(args) -> int:
    from kamlab.synth import write_synthetic

    folder = write_synthetic(
        args.out,
        n_accounts=args.accounts,
        years=args.years,
        seed=args.seed,
        start=args.start,
        fmt=args.format,
    )
    print(
        f"wrote a synthetic portfolio of {args.accounts} accounts over {args.years} years "
        f"(seed {args.seed}) to {folder}"
    )
    return 0


def _cmd_validate(args) -> int:
    from kamlab.data import load_dataset

    dataset = load_dataset(
        args.data, columns=_read_mapping(args.map), on_error="drop" if args.drop else "raise"
    )
    print(f"{args.data}: valid")
    print(dataset.summary().to_string())
    if len(dataset.ledger):
        print("\ndata-quality ledger (rows dropped):")
        print(dataset.ledger.to_string(index=False))
    else:
        print("\ndata-quality ledger: no rows dropped")
    return 0


def _cmd_run(args) -> int:
    from kamlab.runner import RunFailed, run_notebooks

    params = {}
    for item in args.param:
        if "=" not in item:
            raise ValueError(f"-p expects NAME=VALUE, got {item!r}")
        name, value = item.split("=", 1)
        params[name.strip()] = value
    selection = args.notebooks.split(",") if args.notebooks else None
    try:
        run_notebooks(
            args.data,
            args.out,
            parameters=params,
            params_file=args.params,
            notebooks=selection,
            jobs=args.jobs,
            replace=args.replace,
            mapping=args.mapping,
        )
    except RunFailed as exc:
        print(f"kamlab run failed: {exc}", file=sys.stderr)
        return 1
    return 0


def _cmd_summarize(args) -> int:
    from kamlab.digest import compare_runs, summarize_run

    print(summarize_run(args.run), end="")
    if args.compare is not None:
        print()
        print(compare_runs(args.compare, args.run), end="")
    return 0


def _cmd_import(args) -> int:
    from kamlab.invoices import import_command

    return import_command(args.export, args.mapping, out=args.out, write_map=args.write_map)


def main(argv: list[str] | None = None) -> int:
    """Entry point of the ``kamlab`` console script."""
    import kamlab._startup  # noqa: F401 - importing it defers a slow import (see the module)
    from kamlab.data import DataContractError

    parser = _parser()
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help()
        return 2
    handlers = {
        "synth": _cmd_synth,
        "validate": _cmd_validate,
        "run": _cmd_run,
        "summarize": _cmd_summarize,
        "import": _cmd_import,
    }
    try:
        return handlers[args.command](args)
    except DataContractError as exc:
        print(f"invalid data: {exc}", file=sys.stderr)
        return 1
    except (FileNotFoundError, NotADirectoryError, PermissionError, ValueError) as exc:
        # RunRefused, a bad parameter or mapping: one sentence, no traceback.
        print(f"kamlab {args.command}: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print(f"kamlab {args.command}: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
