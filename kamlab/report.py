"""Publish notebook results into a run folder.

Inside ``kamlab run`` every notebook's tables and figures are saved under the run folder
(``tables/<notebook>__<name>.csv`` and ``.parquet``, ``figures/<notebook>__<name>.png`` and
``.svg``). Run interactively or under nbval, the functions only return what they were given,
so a notebook cell reads the same either way::

    report.table(tiers, "tiers")        # shows the table; saves it during a run
    report.figure(ax, "lorenz")          # saves the figure during a run

The run folder and notebook name come from the environment variables ``KAMLAB_RUN_DIR`` and
``KAMLAB_NOTEBOOK``, which :mod:`kamlab.runner` sets for each notebook's kernel.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

import pandas as pd

from kamlab._io import atomic_write, write_csv

__all__ = ["figure", "run_dir", "table"]

_SAFE = re.compile(r"[^A-Za-z0-9_.-]+")


def run_dir() -> Path | None:
    """The run folder when executing under ``kamlab run``, else None."""
    value = os.environ.get("KAMLAB_RUN_DIR")
    return Path(value) if value else None


def _stem(name: str) -> str:
    notebook = os.environ.get("KAMLAB_NOTEBOOK", "notebook")
    return f"{_SAFE.sub('_', notebook)}__{_SAFE.sub('_', name)}"


def table(frame: pd.DataFrame | pd.Series, name: str) -> pd.DataFrame | pd.Series:
    """Return ``frame`` (for display); during a run also save it as CSV and Parquet."""
    folder = run_dir()
    if folder is not None:
        out = folder / "tables"
        data = frame.to_frame() if isinstance(frame, pd.Series) else frame
        data = data.reset_index() if not isinstance(data.index, pd.RangeIndex) else data.copy()
        data.columns = [str(c) for c in data.columns]
        for col in data.columns:
            # Parquet needs one type per column; mixed text/date columns become text.
            if data[col].dtype == object:
                kinds = {type(v) for v in data[col].dropna()}
                if len(kinds) > 1:
                    data[col] = data[col].map(lambda v: v if pd.isna(v) else str(v))
        write_csv(data, out / f"{_stem(name)}.csv", float_format="%.10g")
        atomic_write(out / f"{_stem(name)}.parquet",
                     lambda tmp: data.to_parquet(tmp, index=False))
    return frame


def figure(obj, name: str):
    """Return ``obj`` (an Axes, array of Axes or Figure); during a run also save the figure as
    PNG and SVG."""
    folder = run_dir()
    if folder is not None:
        fig = obj
        if hasattr(fig, "flat"):
            fig = next(iter(fig.flat))
        fig = getattr(fig, "figure", fig)
        out = folder / "figures"
        import matplotlib

        for ext in ("png", "svg"):
            # Fixed metadata keeps the files byte-identical across runs.
            meta = {"Software": None} if ext == "png" else {"Date": None, "Creator": None}
            with matplotlib.rc_context({"svg.hashsalt": "kamlab", "svg.id": None}):
                atomic_write(out / f"{_stem(name)}.{ext}",
                             lambda tmp, e=ext, m=meta: fig.savefig(tmp, format=e, dpi=100,
                                                                    metadata=m,
                                                                    bbox_inches="tight"))
    return obj
