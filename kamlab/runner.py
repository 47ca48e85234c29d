"""``kamlab run``: execute the numbered notebooks with papermill into a self-contained run folder.

A run folder holds::

    manifest.json      what ran, on which inputs (sha256), with which parameters and versions
    notebooks/         the executed notebooks
    html/              each notebook as HTML without code, for readers
    tables/            tables the notebooks published (CSV and Parquet), see kamlab.report
    figures/           figures (PNG and SVG)
    logs/              each kernel's own stderr (startup notices, crashes)
    data/              the converted contract tables, when the input came through an adapter

It is assembled in ``.<name>.partial`` beside the target and renamed into place only when every
notebook succeeded. A failed run is kept as ``<name>.failed`` with ``"status": "failed"`` in its
manifest, and :class:`RunFailed` says which notebook and cell failed with which error.
"""

from __future__ import annotations

import datetime as _dt
import json
import os
import re
import shutil
import subprocess
import sys
import time
from collections.abc import Mapping, Sequence
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

from kamlab._io import atomic_write, sha256_file

__all__ = [
    "NOTEBOOK_DIR",
    "RunFailed",
    "execute_notebook",
    "find_notebooks",
    "refresh_notebooks",
    "resolve_parameters",
    "run_notebooks",
    "strip_volatile_metadata",
]

#: The notebooks shipped with the source tree.
NOTEBOOK_DIR = Path(__file__).resolve().parents[1] / "notebooks"
_NUMBERED = re.compile(r"^(\d\d)_.+\.ipynb$")
#: Parameters every notebook may declare; -p and the shared section of --params set them.
SHARED_PARAMETERS = ("data_dir", "cutoff", "horizon_days", "seed")
REPORTED_PACKAGES = (
    "kamlab",
    "pandas",
    "numpy",
    "scipy",
    "scikit-learn",
    "statsmodels",
    "matplotlib",
    "seaborn",
    "pandera",
    "pyarrow",
    "papermill",
    "nbconvert",
)


class RunFailed(RuntimeError):
    """A notebook failed during ``kamlab run``; the message names notebook, cell and error."""

    def __init__(self, message: str, folder: Path | None = None):
        super().__init__(message)
        self.folder = folder


def find_notebooks(folder: Path = NOTEBOOK_DIR, selection: Sequence[str] | None = None):
    """The numbered notebooks in ``folder`` in order, optionally only those selected by number
    (``"01"``) or name (``"01_portfolio"``)."""
    books = sorted(p for p in Path(folder).glob("*.ipynb") if _NUMBERED.match(p.name))
    if selection:
        wanted = {s.strip().removesuffix(".ipynb") for s in selection if s.strip()}
        chosen = [p for p in books if p.stem in wanted or p.name[:2] in wanted]
        unknown = wanted - {p.stem for p in chosen} - {p.name[:2] for p in chosen}
        if unknown:
            raise ValueError(
                f"no notebook matches {', '.join(sorted(unknown))}; available: "
                f"{', '.join(p.stem for p in books)}"
            )
        books = chosen
    return books


def strip_volatile_metadata(path: str | os.PathLike) -> None:
    """Remove what changes on every execution (papermill timings, execution timestamps) so
    that the same inputs give a byte-identical notebook."""
    import nbformat

    nb = nbformat.read(str(path), as_version=4)
    nb.metadata.pop("papermill", None)
    for cell in nb.cells:
        cell.metadata.pop("papermill", None)
        cell.metadata.pop("execution", None)
        if "injected-parameters" in cell.metadata.get("tags", []):
            cell["id"] = "injected-parameters"  # papermill draws a random id each run
        if cell.cell_type == "code":
            cell.outputs = _coalesce_streams(cell.outputs)
    text = nbformat.writes(nb) + "\n"
    atomic_write(path, lambda tmp: tmp.write_text(text, encoding="utf-8"))


def _coalesce_streams(outputs: list) -> list:
    """Merge consecutive stream outputs of one name: the kernel splits a print into chunks
    at random, which would make the saved notebook differ between identical runs."""
    merged: list = []
    for output in outputs:
        previous = merged[-1] if merged else None
        if (
            output.get("output_type") == "stream"
            and previous is not None
            and previous.get("output_type") == "stream"
            and previous.get("name") == output.get("name")
        ):
            previous["text"] = "".join(previous["text"]) + "".join(output["text"])
        else:
            merged.append(output)
    return merged


def _kernel_manager_class():
    """A kernel manager that sends the kernel process's own stderr (transport notices,
    shutdown chatter) to the file named by ``KAMLAB_KERNEL_LOG`` instead of the terminal.
    Cell errors and outputs travel as messages and are unaffected."""
    from jupyter_client.manager import AsyncKernelManager

    class LoggedKernelManager(AsyncKernelManager):
        async def _async_launch_kernel(self, kernel_cmd, **kw):
            log = os.environ.get("KAMLAB_KERNEL_LOG")
            if not log:
                return await super()._async_launch_kernel(kernel_cmd, **kw)
            Path(log).parent.mkdir(parents=True, exist_ok=True)
            with open(log, "ab") as handle:  # the child keeps its own copy of the descriptor
                kw["stderr"] = handle
                return await super()._async_launch_kernel(kernel_cmd, **kw)

    return LoggedKernelManager


def execute_notebook(
    src, dst, parameters: Mapping[str, object] | None = None, cwd: str | os.PathLike | None = None
) -> Path:
    """Execute ``src`` with papermill into ``dst`` (may equal ``src``) and strip volatile
    metadata."""
    import papermill as pm

    src, dst = Path(src), Path(dst)
    pm.execute_notebook(
        str(src),
        str(dst),
        parameters=dict(parameters or {}) or None,
        cwd=str(cwd or src.parent),
        progress_bar=False,
        log_output=False,
        kernel_name="python3",
        kernel_manager_class=_kernel_manager_class(),
    )
    strip_volatile_metadata(dst)
    return dst


def refresh_notebooks(
    selection: Sequence[str] | None = None, folder: Path = NOTEBOOK_DIR
) -> list[Path]:
    """Re-execute the committed notebooks in place with their default parameters (what nbval
    compares against)."""
    books = find_notebooks(folder, selection)
    for book in books:
        print(f"refreshing {book.name}", file=sys.stderr)
        execute_notebook(book, book)
    return books


def _coerce(value):
    """Parameters from the command line arrive as text; give numbers, booleans and lists
    their type by YAML rules (``3`` → int, ``[1, 2]`` → list, ``true`` → bool)."""
    if not isinstance(value, str):
        return value
    import yaml

    try:
        parsed = yaml.safe_load(value)
    except yaml.YAMLError:
        return value
    # Dates stay text (notebooks parse them); a mapping is never a parameter value.
    return value if isinstance(parsed, (dict, _dt.date)) else parsed


def declared_parameters(notebook: Path) -> dict:
    """Names and default values in the notebook's cell tagged ``parameters``."""
    import papermill as pm

    return {name: spec.get("default") for name, spec in pm.inspect_notebook(str(notebook)).items()}


def resolve_parameters(
    books: Sequence[Path], params_file=None, overrides: Mapping[str, object] | None = None
) -> dict[str, dict]:
    """The parameters to inject into each notebook.

    ``params_file`` (YAML) holds shared parameters at the top level and per-notebook ones under
    the notebook's number or name (``"03": {n_boot: 200}``); ``overrides`` (``-p``) win over
    both. A notebook only receives the parameters it declares; a parameter that no selected
    notebook declares is an error, so a typo never passes silently.
    """
    import yaml

    config = {}
    if params_file is not None:
        with open(params_file, encoding="utf-8") as handle:
            config = yaml.safe_load(handle) or {}
        if not isinstance(config, dict):
            raise ValueError(f"{params_file}: expected a mapping of parameter names to values")
    per_book_keys = {b.stem for b in books} | {b.name[:2] for b in books}
    shared = {k: v for k, v in config.items() if str(k) not in per_book_keys}
    shared.update({k: _coerce(v) for k, v in (overrides or {}).items()})
    declared = {b: declared_parameters(b) for b in books}
    known = set().union(*(d.keys() for d in declared.values())) if declared else set()
    unknown = sorted(set(shared) - known - {"data_dir"})
    if unknown:
        raise ValueError(
            f"unknown parameter{'s' if len(unknown) > 1 else ''} "
            f"{', '.join(unknown)}; the selected notebooks declare: "
            f"{', '.join(sorted(known))}"
        )
    resolved = {}
    for book in books:
        specific = {**config.get(book.name[:2], {}), **config.get(book.stem, {})}
        bad = sorted(set(specific) - set(declared[book]))
        if bad:
            raise ValueError(f"{book.stem} does not declare parameter(s) {', '.join(bad)}")
        merged = {**shared, **specific, **{k: _coerce(v) for k, v in (overrides or {}).items()}}
        resolved[book.stem] = {k: v for k, v in merged.items() if k in declared[book]}
    return resolved


DATE_PARAMETERS = (
    "cutoff",
    "horizon_days",
    "review_cutoff",
    "previous_cutoff",
    "cutoffs",
    "calibration_end",
)


def data_defaults(start, end) -> dict:
    """Time parameters that fit data running from ``start`` to ``end``: the cutoff at the month
    start nearest the middle, the horizon to the end, earlier quarterly cutoffs for back-tests
    (each with at least 90 days of history), a review one quarter earlier, and the CLV
    calibration ending the day before the cutoff."""
    import pandas as pd

    start, end = pd.Timestamp(start).normalize(), pd.Timestamp(end).normalize()
    middle = start + (end - start) / 2
    cutoff = (middle + pd.Timedelta(days=15)).to_period("M").start_time
    earliest = start + pd.Timedelta(days=90)
    cutoffs = [
        c
        for c in (cutoff - pd.DateOffset(months=6), cutoff - pd.DateOffset(months=3), cutoff)
        if c >= earliest
    ]
    review = max(cutoff - pd.DateOffset(months=3), earliest)
    return {
        "cutoff": cutoff.date().isoformat(),
        "horizon_days": int((end - cutoff).days + 1),
        "review_cutoff": review.date().isoformat(),
        "previous_cutoff": review.date().isoformat(),
        "cutoffs": [c.date().isoformat() for c in cutoffs],
        "calibration_end": (cutoff - pd.Timedelta(days=1)).date().isoformat(),
    }


def _fits(defaults: Mapping, start, end) -> bool:
    """Whether a notebook's own time parameters lie inside the data."""
    import pandas as pd

    start, end = pd.Timestamp(start).normalize(), pd.Timestamp(end).normalize()
    dates = [
        defaults[k]
        for k in ("cutoff", "review_cutoff", "previous_cutoff", "calibration_end")
        if k in defaults
    ]
    dates += list(defaults.get("cutoffs") or [])
    horizon = pd.Timedelta(days=int(defaults.get("horizon_days") or 0))
    return all(
        start < pd.Timestamp(d) and pd.Timestamp(d) + horizon <= end + pd.Timedelta(days=1)
        for d in dates
    )


def adapt_time_parameters(
    books, resolved: dict[str, dict], overrides: Mapping, start, end, progress: bool = True
) -> dict[str, dict]:
    """Replace a notebook's default dates with :func:`data_defaults` when they do not fit the
    data (e.g. the sample's 2024 cutoff on 2011 invoices); explicit overrides always win."""
    fitted = data_defaults(start, end)
    for book in books:
        declared = declared_parameters(book)
        defaults = {k: _literal(declared[k]) for k in DATE_PARAMETERS if k in declared}
        own = {**defaults, **{k: v for k, v in resolved[book.stem].items() if k in DATE_PARAMETERS}}
        _keep_reviews_before_cutoff(book, defaults, own, resolved[book.stem], overrides)
        if not own or _fits(own, start, end):
            continue
        chosen = {k: fitted[k] for k in own if k not in overrides}
        resolved[book.stem].update(chosen)
        if progress and chosen:
            print(
                f"{book.stem}: its default dates do not fit the data "
                f"({pd_date(start)} … {pd_date(end)}); using "
                + ", ".join(f"{k}={v}" for k, v in chosen.items()),
                file=sys.stderr,
            )
    return resolved


def _keep_reviews_before_cutoff(book, defaults, own, chosen, overrides) -> None:
    """A new ``cutoff`` alone moves the notebook's earlier review date with it, keeping the
    default gap, so ``-p cutoff=...`` never puts the previous review after the current one."""
    import pandas as pd

    if "cutoff" not in overrides or "cutoff" not in defaults:
        return
    for key in ("previous_cutoff", "review_cutoff"):
        if key in defaults and key not in overrides:
            gap = pd.Timestamp(defaults["cutoff"]) - pd.Timestamp(defaults[key])
            moved = (pd.Timestamp(own["cutoff"]) - gap).date().isoformat()
            own[key] = chosen[key] = moved


def _literal(value):
    """papermill reports defaults as source text (quotes included); evaluate simple literals."""
    import ast

    if isinstance(value, str):
        try:
            return ast.literal_eval(value)
        except (ValueError, SyntaxError):
            return value
    return value


def pd_date(value) -> str:
    import pandas as pd

    return pd.Timestamp(value).date().isoformat()


def _git_commit() -> str | None:
    try:
        out = subprocess.run(
            ["git", "rev-parse", "HEAD"],
            cwd=NOTEBOOK_DIR.parent,
            capture_output=True,
            text=True,
            timeout=10,
        )
    except (OSError, subprocess.SubprocessError):
        return None
    return out.stdout.strip() or None if out.returncode == 0 else None


def _versions() -> dict[str, str]:
    from importlib.metadata import PackageNotFoundError, version

    found = {}
    for name in REPORTED_PACKAGES:
        try:
            found[name] = version(name)
        except PackageNotFoundError:
            continue
    found["python"] = sys.version.split()[0]
    return found


def _now() -> str:
    return _dt.datetime.now(_dt.UTC).isoformat(timespec="seconds")


def _export_html(notebook: Path, target: Path) -> None:
    from nbconvert import HTMLExporter

    exporter = HTMLExporter(
        exclude_input=True, exclude_input_prompt=True, exclude_output_prompt=True
    )
    body, _ = exporter.from_filename(str(notebook))
    atomic_write(target, lambda tmp: tmp.write_text(body, encoding="utf-8"))


THREAD_VARIABLES = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS")


def _run_one(book: str, staging: str, params: dict, threads: int | None = None) -> dict:
    """Execute one notebook (in this or a worker process) and describe the outcome."""
    import papermill as pm

    if threads is not None:
        # Parallel notebooks whose BLAS/OpenMP pools each take every core oversubscribe the
        # machine (seen: k-means 10x slower); give each kernel its share unless the user set it.
        for name in THREAD_VARIABLES:
            os.environ.setdefault(name, str(threads))
    os.environ["KAMLAB_RUN_DIR"] = staging
    os.environ["KAMLAB_NOTEBOOK"] = Path(book).stem
    os.environ["KAMLAB_KERNEL_LOG"] = str(Path(staging) / "logs" / f"{Path(book).stem}.log")
    started = time.perf_counter()
    target = Path(staging) / "notebooks" / Path(book).name
    result = {"notebook": Path(book).name, "parameters": params}
    try:
        execute_notebook(book, target, parameters=params, cwd=Path(book).parent)
        _export_html(target, Path(staging) / "html" / f"{Path(book).stem}.html")
        result["status"] = "ok"
    except pm.PapermillExecutionError as exc:
        result.update(status="failed", cell=exc.exec_count, error=f"{exc.ename}: {exc.evalue}")
    except Exception as exc:  # kernel died, notebook unreadable, ...
        result.update(status="failed", cell=None, error=f"{type(exc).__name__}: {exc}")
    finally:
        for name in ("KAMLAB_RUN_DIR", "KAMLAB_NOTEBOOK", "KAMLAB_KERNEL_LOG"):
            os.environ.pop(name, None)
    result["seconds"] = round(time.perf_counter() - started, 2)
    return result


def _prepare_data(data: str | os.PathLike, staging: Path):
    """Resolve ``data`` to a contract folder: a folder as is, or ``adapter:PATH`` converted
    into ``<run>/data``. Returns (folder, ledger rows, input files)."""
    from kamlab.data import load_dataset

    text = str(data)
    adapter, _, rest = text.partition(":")
    if rest and adapter in _adapters():
        source = Path(rest).expanduser().resolve()
        dataset = _adapters()[adapter](source)
        folder = staging / "data"
        from kamlab.datasets import write_dataset

        write_dataset(dataset, folder)
        inputs = (
            [source] if source.is_file() else sorted(p for p in source.rglob("*") if p.is_file())
        )
    else:
        folder = Path(text).expanduser().resolve()
        dataset = load_dataset(folder)  # refuse data that break the contract before running
        inputs = sorted(Path(f) for f in dataset.files.values())
    return folder, dataset, inputs


def _adapters():
    from kamlab import datasets

    return datasets.ADAPTERS


def run_notebooks(
    data: str | os.PathLike,
    out: str | os.PathLike,
    *,
    parameters: Mapping[str, object] | None = None,
    params_file: str | os.PathLike | None = None,
    notebooks: Sequence[str] | None = None,
    notebook_dir: str | os.PathLike = NOTEBOOK_DIR,
    jobs: int = 1,
    progress: bool = True,
) -> Path:
    """Execute the notebooks on ``data`` and assemble the run folder ``out``.

    Parameters
    ----------
    data : path or str
        A folder in the data contract, or ``ADAPTER:PATH`` for a public dataset
        (``online-retail:…/online_retail.parquet``, ``cdnow:…/CDNOW_master.txt``).
    out : path
        The run folder to create (replaced when it exists).
    parameters : mapping, optional
        Parameter overrides for every notebook that declares them (``-p NAME=VALUE``).
    params_file : path, optional
        YAML with shared and per-notebook parameters, see :func:`resolve_parameters`.
    notebooks : sequence of str, optional
        Numbers or names to run (default: all numbered notebooks).
    jobs : int
        Notebooks executed in parallel. Notebooks read only the input data, so order matters
        only for the progress display and the manifest, which follow notebook numbers.

    Returns
    -------
    pathlib.Path
        The completed run folder.

    Raises
    ------
    RunFailed
        When a notebook fails; the partial folder is kept as ``<out>.failed``.
    """
    out = Path(out).resolve()
    books = find_notebooks(Path(notebook_dir), notebooks)
    if not books:
        raise ValueError(f"no numbered notebooks found in {notebook_dir}")
    staging = out.with_name(f".{out.name}.partial")
    shutil.rmtree(staging, ignore_errors=True)
    for sub in ("notebooks", "html", "tables", "figures"):
        (staging / sub).mkdir(parents=True)
    started = _now()
    folder, dataset, inputs = _prepare_data(data, staging)
    ledger = dataset.ledger
    per_book = resolve_parameters(
        books, params_file, {**(parameters or {}), "data_dir": str(folder)}
    )
    per_book = adapt_time_parameters(
        books, per_book, parameters or {}, dataset.start, dataset.end, progress
    )
    manifest = {
        "kamlab_version": _versions().get("kamlab"),
        "git_commit": _git_commit(),
        "data": str(data),
        "inputs": {p.name: sha256_file(p) for p in inputs},
        "data_quality_ledger": ledger.to_dict("records"),
        # Effective values (the notebook's defaults with the injected ones on top), and what
        # was injected, so a run can be repeated exactly.
        "parameters": {
            b.stem: {
                **{k: _literal(v) for k, v in declared_parameters(b).items()},
                **per_book[b.stem],
            }
            for b in books
        },
        "injected_parameters": per_book,
        "packages": _versions(),
        "started": started,
        "notebooks": [],
        "status": "running",
    }
    results = []
    if progress:
        print(f"kamlab run: {len(books)} notebook(s) on {data} → {out}", file=sys.stderr)
    if jobs > 1:
        with ProcessPoolExecutor(max_workers=jobs) as pool:
            threads = max(1, (os.cpu_count() or 1) // jobs)
            futures = [
                pool.submit(_run_one, str(b), str(staging), per_book[b.stem], threads)
                for b in books
            ]
            for future in futures:
                results.append(future.result())
                _report(results[-1], len(results), len(books), progress)
    else:
        for book in books:
            if progress:
                print(
                    f"[{len(results) + 1}/{len(books)}] {book.name} ...",
                    end="",
                    flush=True,
                    file=sys.stderr,
                )
            results.append(_run_one(str(book), str(staging), per_book[book.stem]))
            _report(results[-1], len(results), len(books), progress, inline=True)
            if results[-1]["status"] != "ok":
                break
    manifest["notebooks"] = results
    manifest["finished"] = _now()
    failed = [r for r in results if r["status"] != "ok"]
    manifest["status"] = "failed" if failed else "ok"
    _write_manifest(staging / "manifest.json", manifest)
    if failed:
        target = out.with_name(f"{out.name}.failed")
        shutil.rmtree(target, ignore_errors=True)
        staging.rename(target)
        first = failed[0]
        where = f"cell {first['cell']}" if first.get("cell") else "before any cell ran"
        raise RunFailed(
            f"{first['notebook']} failed in {where}: {first['error']}\n"
            f"partial results kept in {target} (see its manifest.json and the "
            f"executed notebook for the full traceback)",
            target,
        )
    if out.exists():
        shutil.rmtree(out)
    staging.rename(out)
    if progress:
        total = sum(r["seconds"] for r in results)
        print(f"done: {len(results)} notebook(s) in {total:.1f} s → {out}", file=sys.stderr)
    return out


def _report(result: dict, index: int, total: int, progress: bool, inline: bool = False) -> None:
    if not progress:
        return
    status = "done" if result["status"] == "ok" else "FAILED"
    text = f" {status} in {result['seconds']:.1f} s"
    if inline:
        print(text, file=sys.stderr)
    else:
        print(f"[{index}/{total}] {result['notebook']}{text}", file=sys.stderr)


def _write_manifest(path: Path, manifest: dict) -> None:
    text = json.dumps(manifest, indent=2, sort_keys=True, default=str) + "\n"
    atomic_write(path, lambda tmp: tmp.write_text(text, encoding="utf-8"))


if __name__ == "__main__":  # python -m kamlab.runner [01 02 ...]: refresh committed notebooks
    refresh_notebooks(sys.argv[1:] or None)
