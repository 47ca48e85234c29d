"""``kamlab run``: execute the numbered notebooks on one dataset into a self-contained run folder.

A run folder holds::

    index.html         the run at a glance: data, dates, parameters, summary, links
    manifest.json      what ran, on which inputs (sha256), dates, parameters and versions
    notebooks/         the executed notebooks
    html/              each notebook as a report without code
    tables/            tables the notebooks published (CSV and Parquet), see kamlab.report
    figures/           figures (PNG and SVG)
    logs/              each kernel's own stderr
    data/              the contract tables, when the input was converted (adapter or import)

The data are loaded and validated once; the notebooks read that snapshot. The folder is
assembled beside the target and moved into place only when every notebook succeeded.

kamlab never deletes what it did not create: ``--out`` must not be the data folder, lie inside
it or contain it; an existing folder is replaced only when it is a kamlab run folder and
``replace=True`` (the old folder is kept until the new one is complete); a subset of
notebooks run into an existing run folder of the same data and dates updates just those
notebooks.
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
from dataclasses import dataclass
from pathlib import Path

from kamlab._io import atomic_write, sha256_file
from kamlab._runfolder import (
    MANIFEST,
    RunRefused,
    check_out,
    check_same_run,
    choose_mode,
    free_name,
    merge_into,
    move_staging,
    put_in_place,
    staging_for,
    write_manifest,
)
from kamlab.parameters import (
    declared_parameters,
    resolve_parameters,
    run_level,
    timeline_arguments,
)

__all__ = [
    "NOTEBOOK_DIR",
    "RunFailed",
    "RunRefused",
    "find_notebooks",
    "refresh_notebooks",
    "resolve_parameters",
    "run_notebooks",
    "strip_volatile_metadata",
]

#: The notebooks shipped with the source tree.
NOTEBOOK_DIR = Path(__file__).resolve().parents[1] / "notebooks"
_NUMBERED = re.compile(r"^(\d\d)_.+\.ipynb$")
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
    "duckdb",
    "ibis-framework",
    "papermill",
    "nbclient",
    "nbconvert",
)


class RunFailed(RuntimeError):
    """A notebook failed during ``kamlab run``; the message names notebook, cell and error."""

    def __init__(self, message: str, folder: Path | None = None):
        super().__init__(message)
        self.folder = folder


# ----------------------------------------------------------------------------- notebooks
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
    """Remove what changes on every execution (papermill and nbclient timings, random cell ids
    of injected cells) so the same inputs give a byte-identical notebook."""
    import nbformat

    nb = nbformat.read(str(path), as_version=4)
    nb.metadata.pop("papermill", None)
    for cell in nb.cells:
        cell.metadata.pop("papermill", None)
        cell.metadata.pop("execution", None)
        if cell.metadata.get("tags") == []:
            del cell.metadata["tags"]  # papermill's loader adds empty tag lists
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


def refresh_notebooks(
    selection: Sequence[str] | None = None, folder: Path = NOTEBOOK_DIR
) -> list[Path]:
    """Re-execute the committed notebooks in place, each on a fresh kernel, with their default
    parameters (what nbval compares against)."""
    from kamlab._execute import execute_fresh

    books = find_notebooks(folder, selection)
    for book in books:
        print(f"refreshing {book.name}", file=sys.stderr)
        result = execute_fresh(book, book)
        if result.status != "ok":
            raise RunFailed(f"{book.name} failed in cell {result.cell}: {result.error}")
    return books


# ----------------------------------------------------------------------------- data
@dataclass(frozen=True)
class _Data:
    label: str  # names the run folder: runs/<label>/<as_of>
    spec: str  # what the user passed
    folder: Path | None  # a contract folder read in place (None when converted)
    inputs: tuple[Path, ...]  # files whose sha256 the manifest records


def _adapters():
    from kamlab import datasets

    return datasets.ADAPTERS


def _resolve_data(data: str | os.PathLike, mapping) -> _Data:
    text = str(data)
    kind, _, rest = text.partition(":")
    if rest and (kind in _adapters() or kind == "invoices"):
        source = Path(rest).expanduser().resolve()
        if not source.exists():
            raise RunRefused(f"--data {text}: {source} does not exist")
        if kind == "invoices" and mapping is None:
            raise RunRefused(
                f"--data {text}: an invoice export needs --map MAPPING.yaml (run "
                f"'kamlab import {rest}' to propose one)"
            )
        inputs = (
            [source] if source.is_file() else sorted(p for p in source.rglob("*") if p.is_file())
        )
        if mapping is not None:
            inputs.append(Path(mapping).resolve())
        return _Data(re.sub(r"[^A-Za-z0-9_.-]+", "_", source.stem), text, None, tuple(inputs))
    if mapping is not None:
        raise RunRefused("--map applies to invoice exports only (--data invoices:EXPORT)")
    folder = Path(text).expanduser().resolve()
    if not folder.exists():
        raise RunRefused(f"--data {text}: no such folder or file")
    return _Data(folder.stem, text, folder, ())


def _load(data: _Data, mapping, staging: Path | None):
    """The validated dataset and, for converted inputs, the contract folder written for it."""
    from kamlab.data import load_dataset

    if data.folder is not None:
        return load_dataset(data.folder), data.folder
    kind, _, rest = data.spec.partition(":")
    source = Path(rest).expanduser().resolve()
    assert staging is not None
    target = staging / "data"
    if kind == "invoices":
        from kamlab.invoices import import_invoices, write_import

        write_import(import_invoices(source, mapping), target)
    else:
        from kamlab.datasets import write_dataset

        write_dataset(_adapters()[kind](source), target)
    return load_dataset(target), target


# ----------------------------------------------------------------------------- the run
def _git_commit() -> str | None:
    try:
        out = subprocess.run(
            ["git", "rev-parse", "HEAD"],
            cwd=NOTEBOOK_DIR.parent,
            capture_output=True,
            text=True,
            timeout=10,
            check=False,
        )
    except (OSError, subprocess.SubprocessError):
        return None
    return (out.stdout.strip() or None) if out.returncode == 0 else None


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


def default_out(label: str, as_of) -> Path:
    """``runs/<data>/<as_of>``: a refresh next month sits beside this month's run."""
    import pandas as pd

    return Path("runs") / label / pd.Timestamp(as_of).date().isoformat()


def run_notebooks(
    data: str | os.PathLike,
    out: str | os.PathLike | None = None,
    *,
    parameters: Mapping[str, object] | None = None,
    params_file: str | os.PathLike | None = None,
    notebooks: Sequence[str] | None = None,
    notebook_dir: str | os.PathLike = NOTEBOOK_DIR,
    jobs: int = 1,
    replace: bool = False,
    mapping: str | os.PathLike | None = None,
    progress: bool = True,
) -> Path:
    """Execute the notebooks on ``data`` and assemble the run folder.

    Parameters
    ----------
    data : path or str
        A folder in the data contract, ``invoices:EXPORT`` (with ``mapping``) or
        ``ADAPTER:PATH`` for a public dataset (``online-retail:…``, ``cdnow:…``).
    out : path, optional
        The run folder; default ``runs/<data name>/<as_of>``.
    parameters : mapping, optional
        Parameter overrides for every notebook that declares them (``-p NAME=VALUE``).
    params_file : path, optional
        YAML with shared and per-notebook parameters, see :func:`resolve_parameters`.
    notebooks : sequence of str, optional
        Numbers or names to run (default: all numbered notebooks).
    jobs : int
        Notebooks executed in parallel, each worker on one long-lived kernel.
    replace : bool
        Replace an existing run folder at ``out`` (kept until the new run is complete).
    mapping : path, optional
        The mapping YAML of an ``invoices:`` export.

    Returns
    -------
    pathlib.Path
        The completed run folder.

    Raises
    ------
    RunRefused
        Before any notebook runs, when the data, parameters or ``out`` are unusable.
    RunFailed
        When a notebook fails; the partial folder is kept as ``<out>.failed``.
    """
    from kamlab import report
    from kamlab.timeline import Timeline

    books = find_notebooks(Path(notebook_dir), notebooks)
    if not books:
        raise RunRefused(f"no numbered notebooks found in {notebook_dir}")
    if jobs < 1:
        raise RunRefused(f"--jobs must be at least 1, got {jobs}")
    source = _resolve_data(data, mapping)
    if out is not None:
        check_out(Path(out).expanduser().resolve(), source)
    per_book = resolve_parameters(books, params_file, parameters)
    given_dates = run_level(params_file, parameters)
    # The kernels boot and import what the notebooks import while this process loads and
    # checks the data.
    with _start_kernels(books, jobs) as kernels:
        staging: Path | None = None
        started = _now()
        clock = time.perf_counter()
        try:
            if source.folder is None:  # converted inputs go into the run folder: stage first
                staging = staging_for(out, source)
            dataset, folder = _load(source, mapping, staging)
            effective = {b.stem: {**declared_parameters(b), **per_book[b.stem]} for b in books}
            timeline = Timeline.from_dataset(
                dataset, **{**timeline_arguments(effective), **given_dates}
            )
            if out is None:
                out = default_out(source.label, timeline.as_of)
            out = Path(out).expanduser().resolve()
            check_out(out, source)
            mode = choose_mode(out, replace, notebooks is not None)
            if mode == "update":
                check_same_run(out, dataset, timeline, per_book)
            if staging is None:
                staging = staging_for(out, source)
            elif staging.name != f".{out.name}.partial":
                staging = move_staging(staging, out)
            for sub in ("notebooks", "html", "tables", "figures", "logs"):
                (staging / sub).mkdir(parents=True, exist_ok=True)
            snapshot = report.write_snapshot(dataset, staging / ".snapshot")
        except BaseException:
            if staging is not None:
                shutil.rmtree(staging, ignore_errors=True)
            raise
        load_seconds = round(time.perf_counter() - clock, 2)

        for book in books:
            per_book[book.stem] = {"data_dir": str(folder), **per_book[book.stem]}
        manifest = _manifest(source, dataset, timeline, books, per_book, started, load_seconds)
        write_manifest(staging / MANIFEST, manifest)  # the reports' banners read it as they finish
        if progress:
            print(
                f"kamlab run: {len(books)} notebook(s) on {data} → {out}\n  {timeline.describe()}",
                file=sys.stderr,
            )
        results = _execute(
            kernels, books, per_book, staging, snapshot, folder, progress, source.label
        )
        shutil.rmtree(staging / ".snapshot", ignore_errors=True)
        manifest["notebooks"] = results
        manifest["finished"] = _now()
        failed = [r for r in results if r["status"] != "ok"]
        manifest["status"] = "failed" if failed else "ok"
        if failed:
            write_manifest(staging / MANIFEST, manifest)
            target = free_name(out.with_name(f"{out.name}.failed"))
            staging.rename(target)
            first = next(r for r in failed if r["status"] == "failed")
            where = f"cell {first['cell']}" if first.get("cell") else "before any cell ran"
            raise RunFailed(
                f"{first['notebook']} failed in {where}: {first['error']}\n"
                f"partial results kept in {target} (see its manifest.json and the "
                f"executed notebook for the full traceback)",
                target,
            )
        if mode == "update":
            merge_into(out, staging, manifest, books)
        else:
            write_manifest(staging / MANIFEST, manifest)
            report.write_index(staging)
            put_in_place(staging, out)
        if progress:
            total = time.perf_counter() - clock
            print(f"done: {len(results)} notebook(s) in {total:.1f} s → {out}", file=sys.stderr)
        return out


def _start_kernels(books: Sequence[Path], jobs: int):
    """Launch one kernel per worker, each importing what ``books`` import (a ``KernelPool``)."""
    from kamlab._execute import KernelPool, notebook_imports

    workers = max(1, min(jobs, len(books)))
    threads = max(1, (os.cpu_count() or 1) // workers) if workers > 1 else None
    return KernelPool(
        workers, cwd=books[0].parent, threads=threads, preload=notebook_imports(books)
    )


def _manifest(source: _Data, dataset, timeline, books, per_book, started, load_seconds) -> dict:
    from kamlab import registry

    inputs = list(source.inputs) or sorted(Path(f) for f in dataset.files.values())
    return {
        "kamlab_version": _versions().get("kamlab"),
        "git_commit": _git_commit(),
        "data": source.spec,
        "data_label": source.label,
        "inputs": {p.name: sha256_file(p) for p in inputs if p.is_file()},
        "source": getattr(dataset, "source", None),
        "rows": {
            t: int(len(getattr(dataset, t)))
            for t in ("accounts", "transactions", "assessments", "interactions")
        },
        "data_quality_ledger": json.loads(dataset.ledger.to_json(orient="records")),
        "dates": timeline.to_dict(),
        "parameters": {b.stem: {**declared_parameters(b), **per_book[b.stem]} for b in books},
        "injected_parameters": per_book,
        "notebook_dates": {b.stem: registry.notebook_dates(b.stem, timeline) for b in books},
        "packages": _versions(),
        "started": started,
        "load_seconds": load_seconds,
        "notebooks": [],
        "status": "running",
    }


def _execute(
    kernels,
    books: Sequence[Path],
    per_book,
    staging: Path,
    snapshot: Path,
    folder: Path,
    progress: bool,
    label: str = "",
) -> list[dict]:
    """Execute ``books`` on ``kernels`` into ``staging``, longest first, exporting each
    report as its notebook finishes; the manifest's per-notebook entries."""
    import nbconvert  # noqa: F401 - imported now, not when the first notebook finishes

    from kamlab import registry, report
    from kamlab._execute import NotebookJob

    order = sorted(books, key=lambda b: -registry.expected_seconds(b.stem))  # longest first
    work = [
        NotebookJob(
            b,
            staging / "notebooks" / b.name,
            per_book[b.stem],
            {
                "KAMLAB_RUN_DIR": str(staging),
                "KAMLAB_NOTEBOOK": b.stem,
                "KAMLAB_SNAPSHOT": str(snapshot),
                "KAMLAB_DATA_DIR": str(folder),
                "KAMLAB_DATA_LABEL": label,
            },
        )
        for b in order
    ]
    count = [0]

    def done(result):
        count[0] += 1
        if result.status == "ok":
            report.export_html(staging, Path(result.notebook).stem)
        if progress:
            status = "done" if result.status == "ok" else "FAILED"
            print(
                f"[{count[0]}/{len(books)}] {result.notebook} {status} in {result.seconds:.1f} s",
                file=sys.stderr,
            )

    try:
        results = kernels.execute(work, on_done=done)
    finally:  # the kernels' logs explain a failure: keep them in the (partial) run folder
        kernels.close(staging / "logs")
    by_name = {r.notebook: r.to_dict() for r in results}
    return [{**by_name[b.name], "parameters": per_book[b.stem]} for b in books]


if __name__ == "__main__":  # python -m kamlab.runner [01 02 ...]: refresh committed notebooks
    refresh_notebooks(sys.argv[1:] or None)
