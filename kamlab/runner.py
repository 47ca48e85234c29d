"""Execute the numbered notebooks with papermill into a self-contained run folder."""

from __future__ import annotations

import os
import re
import shutil
import sys
import time
from collections.abc import Mapping, Sequence
from pathlib import Path

__all__ = ["NOTEBOOK_DIR", "execute_notebook", "find_notebooks", "refresh_notebooks",
           "run_notebooks", "strip_volatile_metadata"]

#: The notebooks shipped with the source tree.
NOTEBOOK_DIR = Path(__file__).resolve().parents[1] / "notebooks"
_NUMBERED = re.compile(r"^(\d\d)_.+\.ipynb$")


def find_notebooks(folder: Path = NOTEBOOK_DIR, selection: Sequence[str] | None = None):
    """The numbered notebooks in ``folder`` in order, optionally only those selected by number
    (``"01"``) or name (``"01_portfolio"``)."""
    books = sorted(p for p in Path(folder).glob("*.ipynb") if _NUMBERED.match(p.name))
    if selection:
        wanted = {s.strip().removesuffix(".ipynb") for s in selection if s.strip()}
        chosen = [p for p in books if p.stem in wanted or p.name[:2] in wanted]
        unknown = wanted - {p.stem for p in chosen} - {p.name[:2] for p in chosen}
        if unknown:
            raise ValueError(f"no notebook matches {', '.join(sorted(unknown))}; available: "
                             f"{', '.join(p.stem for p in books)}")
        books = chosen
    return books


def strip_volatile_metadata(path: str | os.PathLike) -> None:
    """Remove what changes on every execution (papermill timings, execution timestamps) so
    that the same inputs give a byte-identical notebook."""
    import nbformat

    from kamlab._io import atomic_write

    nb = nbformat.read(str(path), as_version=4)
    nb.metadata.pop("papermill", None)
    for cell in nb.cells:
        cell.metadata.pop("papermill", None)
        cell.metadata.pop("execution", None)
    text = nbformat.writes(nb) + "\n"
    atomic_write(path, lambda tmp: tmp.write_text(text, encoding="utf-8"))


def execute_notebook(src, dst, parameters: Mapping[str, object] | None = None,
                     cwd: str | os.PathLike | None = None) -> Path:
    """Execute ``src`` with papermill into ``dst`` (may equal ``src``) and strip volatile
    metadata."""
    import papermill as pm

    src, dst = Path(src), Path(dst)
    pm.execute_notebook(str(src), str(dst), parameters=dict(parameters or {}) or None,
                        cwd=str(cwd or src.parent), progress_bar=False, log_output=False,
                        kernel_name="python3")
    strip_volatile_metadata(dst)
    return dst


def refresh_notebooks(selection: Sequence[str] | None = None,
                      folder: Path = NOTEBOOK_DIR) -> list[Path]:
    """Re-execute the committed notebooks in place with their default parameters (what nbval
    compares against)."""
    books = find_notebooks(folder, selection)
    for book in books:
        print(f"refreshing {book.name}", file=sys.stderr)
        execute_notebook(book, book)
    return books


def _coerce(value):
    """Parameters from the command line arrive as text; give numbers and booleans their type."""
    if not isinstance(value, str):
        return value
    for cast in (int, float):
        try:
            return cast(value)
        except ValueError:
            pass
    return {"true": True, "false": False, "none": None}.get(value.lower(), value)


def run_notebooks(
    data: str | os.PathLike,
    out: str | os.PathLike,
    *,
    parameters: Mapping[str, object] | None = None,
    notebooks: Sequence[str] | None = None,
    notebook_dir: str | os.PathLike = NOTEBOOK_DIR,
    progress: bool = True,
) -> Path:
    """Execute notebooks on ``data`` and write them to ``out``.

    The run is assembled in a temporary sibling folder and renamed into place only when every
    notebook succeeded; a failed run is kept as ``<out>.failed`` and the error re-raised.

    Returns
    -------
    pathlib.Path
        The run folder.
    """
    from kamlab.data import load_dataset

    data = Path(data).resolve()
    load_dataset(data)  # refuse data that break the contract before running anything
    out = Path(out)
    books = find_notebooks(Path(notebook_dir), notebooks)
    if not books:
        raise ValueError(f"no numbered notebooks found in {notebook_dir}")
    params = {"data_dir": str(data), **{k: _coerce(v) for k, v in (parameters or {}).items()}}
    staging = out.with_name(f".{out.name}.partial")
    shutil.rmtree(staging, ignore_errors=True)
    staging.mkdir(parents=True)
    try:
        for index, book in enumerate(books, 1):
            started = time.perf_counter()
            if progress:
                print(f"[{index}/{len(books)}] {book.name} ...", end="", flush=True,
                      file=sys.stderr)
            execute_notebook(book, staging / book.name, parameters=params, cwd=book.parent)
            if progress:
                print(f" done in {time.perf_counter() - started:.1f} s", file=sys.stderr)
    except BaseException:
        failed = out.with_name(f"{out.name}.failed")
        shutil.rmtree(failed, ignore_errors=True)
        staging.rename(failed)
        if progress:
            print(f"\nrun failed; partial results kept in {failed}", file=sys.stderr)
        raise
    if out.exists():
        shutil.rmtree(out)
    staging.rename(out)
    return out


if __name__ == "__main__":  # python -m kamlab.runner [01 02 ...]: refresh committed notebooks
    refresh_notebooks(sys.argv[1:] or None)
