"""Account features as of a cutoff date, and outcomes over a horizon after it.

The one rule that keeps every kamlab result honest: **features use only rows dated strictly
before the cutoff; outcomes use only rows dated on or after it** (and before cutoff + horizon).
Both come from :func:`account_features`, so leakage is impossible by construction, and a
back-test over several cutoffs is :func:`feature_panel` (one query for all cutoffs).

Every feature is defined once, as an Ibis expression in :mod:`kamlab.engine`; this module
evaluates it with an embedded DuckDB (no server) on the loaded, validated pandas tables, which
DuckDB reads in place through Arrow, on one thread so that the same data give byte-identical
features. :mod:`kamlab.scale` evaluates the same expression on any other Ibis backend. The compiled query depends only on which optional columns, interaction kinds
and criteria exist, so it is compiled once and kept (in memory and under the user's cache
folder, ``$KAMLAB_CACHE_DIR`` or ``~/.cache/kamlab``; set ``KAMLAB_CACHE_DIR=off`` to keep it in
memory only).

Time units are explicit: windows and horizons are in days (``365`` = one year); recency and
tenure are in days.
"""

from __future__ import annotations

import hashlib
import os
import threading
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from functools import lru_cache
from importlib.metadata import version
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from kamlab.data import Dataset
from kamlab.engine import ACCOUNT_ATTRIBUTES, DAWN, OUTCOME_COLUMNS, Layout

__all__ = [
    "ACCOUNT_ATTRIBUTES",
    "OUTCOME_COLUMNS",
    "FeatureTable",
    "account_features",
    "feature_columns",
    "feature_panel",
    "feature_table",
]

#: The tables of a :class:`Calendar`, as :func:`kamlab.engine.features_expr` takes them.
CALENDAR_TABLES = ("cutoffs", "windows", "days", "lookback_days", "segment_days", "edges")
DAYS_PER_MONTH = 365.25 / 12
_DAWN = np.datetime64(DAWN, "us")  # where the first bucket starts


def _days(value, name: str = "windows") -> int:
    """A window length in whole days from an int (days), a Timedelta or a string like '365D'."""
    if isinstance(value, (int, np.integer)) and not isinstance(value, bool):
        days = int(value)
    else:
        delta = pd.Timedelta(value)
        if delta % pd.Timedelta(days=1):
            raise ValueError(f"{name} must be whole days, got {value!r}")
        days = delta.days
    if days <= 0:
        raise ValueError(f"{name} must be positive, got {value!r}")
    return days


@dataclass(frozen=True)
class Calendar:
    """The cutoffs and their windows as small tables: data, not SQL, so one compiled query
    serves any cutoffs, horizon and window.

    Every window of every cutoff starts and ends on an edge ``c - 2 window``, ``c - window``,
    ``c - horizon``, ``c`` or ``c + horizon``; the distinct edges cut the time axis into
    *buckets*, and every window is a union of whole buckets.

    Attributes
    ----------
    cutoffs : pandas.DataFrame
        One row per cutoff: ``_k`` (its position), ``cutoff``, ``future_end`` (cutoff +
        horizon), ``months`` (the look-back window in months), ``grow_factor``
        (1 + growth_threshold).
    buckets : pandas.DataFrame
        ``lo``, ``hi``: consecutive edges (the first bucket starts in year 1).
    windows : pandas.DataFrame
        One row per (cutoff, bucket before it or in its outcome window): ``_k``, ``lo``,
        ``recent_start`` (cutoff − window) and the flags ``before`` (``[.., c)``), ``recent``
        (``[c - window, c)``), ``previous`` (``[c - 2 window, c - window)``), ``base``
        (``[c - horizon, c)``) and ``future`` (``[c, c + horizon)``).
    lookback : pandas.DataFrame
        The buckets inside some look-back window (for the distinct counts).
    segments : pandas.DataFrame
        ``lo``, ``hi``: the time axis cut at the cutoffs only (for the latest values before a
        cutoff).
    """

    cutoffs: pd.DataFrame
    buckets: pd.DataFrame
    windows: pd.DataFrame
    lookback: pd.DataFrame
    segments: pd.DataFrame

    @classmethod
    def of(
        cls, cutoffs: Sequence, horizon_days: int, window_days: int, growth_threshold: float
    ) -> Calendar:
        """The calendar of ``cutoffs`` for a horizon and a look-back window in days.

        >>> cal = Calendar.of(["2024-01-01"], 365, 365, 0.1)
        >>> [str(t.date()) for t in cal.buckets["hi"]]
        ['2022-01-01', '2023-01-01', '2024-01-01', '2024-12-31']
        >>> cal.windows[["recent", "previous", "base", "future"]].sum().tolist()
        [1, 1, 1, 1]
        """
        cut = pd.DatetimeIndex([pd.Timestamp(c) for c in cutoffs]).as_unit("us")
        if not len(cut):
            raise ValueError("cutoffs is empty")
        horizon, window = pd.Timedelta(days=horizon_days), pd.Timedelta(days=window_days)
        edges = {
            "prev_start": cut - 2 * window,
            "recent_start": cut - window,
            "base_start": cut - horizon,
            "cutoff": cut,
            "future_end": cut + horizon,
        }
        bounds = np.unique(np.concatenate([e.to_numpy() for e in edges.values()]))
        lo = np.concatenate([[_DAWN], bounds[:-1]])
        buckets = pd.DataFrame({"lo": lo, "hi": bounds})
        k = np.repeat(np.arange(len(cut), dtype=np.int64), len(lo))
        at = {name: e.to_numpy()[k] for name, e in edges.items()}
        b = np.tile(lo, len(cut))
        flags = {
            "before": b < at["cutoff"],
            "recent": (b >= at["recent_start"]) & (b < at["cutoff"]),
            "previous": (b >= at["prev_start"]) & (b < at["recent_start"]),
            "base": (b >= at["base_start"]) & (b < at["cutoff"]),
            "future": (b >= at["cutoff"]) & (b < at["future_end"]),
        }
        windows = pd.DataFrame({"_k": k, "lo": b, "recent_start": at["recent_start"], **flags})
        windows = windows.loc[flags["before"] | flags["future"]].reset_index(drop=True)
        lookback = buckets.loc[buckets["lo"].isin(windows.loc[windows["recent"], "lo"])]
        ends = np.unique(cut.to_numpy())
        segments = pd.DataFrame({"lo": np.concatenate([[_DAWN], ends[:-1]]), "hi": ends})
        table = pd.DataFrame(
            {
                "_k": np.arange(len(cut), dtype=np.int64),
                "cutoff": cut,
                "future_end": edges["future_end"],
                "months": np.full(len(cut), window_days / DAYS_PER_MONTH),
                "grow_factor": np.full(len(cut), 1 + float(growth_threshold)),
            }
        )
        return cls(table, buckets, windows, lookback.reset_index(drop=True), segments)

    def tables(self) -> dict[str, pd.DataFrame]:
        """The tables the engine reads (:data:`CALENDAR_TABLES`): ``cutoffs``, ``windows``, the
        spans cut at midnight (``days``, ``lookback_days``, ``segment_days``: ``day``, ``lo``,
        ``start``, ``end``, so that a row finds its bucket by an equi-join on its date) and
        ``edges`` (one row: ``first_bucket``, ``first_segment``; rows before those fall in the
        first bucket or segment, which has no day pieces).

        >>> Calendar.of(["2024-01-01"], 365, 365, 0.1).tables()["days"].shape
        (1095, 4)
        """
        first = {"first_bucket": self.buckets["hi"], "first_segment": self.segments["hi"]}
        edges = pd.DataFrame({name: col.to_numpy()[:1] for name, col in first.items()})
        return {
            "cutoffs": self.cutoffs,
            "windows": self.windows,
            "days": _day_pieces(self.buckets),
            "lookback_days": _day_pieces(self.lookback),
            "segment_days": _day_pieces(self.segments),
            "edges": edges,
        }


def _day_pieces(spans: pd.DataFrame) -> pd.DataFrame:
    """Each span ``[lo, hi)`` (but the one starting at dawn) cut at midnights: one row per day
    it touches, with the part of the day inside it (``start``, ``end``)."""
    spans = spans.loc[spans["lo"] != _DAWN]
    lo, hi = spans["lo"].to_numpy("datetime64[us]"), spans["hi"].to_numpy("datetime64[us]")
    first = lo.astype("datetime64[D]")
    count = ((hi - np.timedelta64(1, "us")).astype("datetime64[D]") - first).astype(int) + 1
    span = np.repeat(np.arange(len(lo)), count)
    offset = np.arange(len(span)) - np.repeat(np.cumsum(count) - count, count)
    day = first[span] + offset.astype("timedelta64[D]")
    start = np.maximum(day.astype("datetime64[us]"), lo[span])
    end = np.minimum((day + np.timedelta64(1, "D")).astype("datetime64[us]"), hi[span])
    return pd.DataFrame({"day": day, "lo": lo[span], "start": start, "end": end})


@dataclass(frozen=True)
class FeatureTable:
    """Features and outcomes at one or more cutoffs, with the parameters that made them.

    Attributes
    ----------
    table : pandas.DataFrame
        Indexed by ``(cutoff, account_id)``; the columns of :func:`account_features`.
    cutoffs : tuple of pandas.Timestamp
        In the order asked for.
    horizon_days, window_days : int
        The outcome horizon and the look-back window.
    growth_threshold : float
        ``grew`` means future revenue above base revenue × (1 + growth_threshold).

    Examples
    --------
    >>> from kamlab.data import load_dataset
    >>> ft = feature_table(load_dataset("data/sample"), ["2023-01-01", "2024-01-01"], 180)
    >>> list(ft.table.index.names), len(ft.at("2024-01-01"))
    (['cutoff', 'account_id'], 244)
    """

    table: pd.DataFrame
    cutoffs: tuple[pd.Timestamp, ...]
    horizon_days: int
    window_days: int
    growth_threshold: float

    def at(self, cutoff) -> pd.DataFrame:
        """The rows of one cutoff, indexed by ``account_id`` (as :func:`account_features`
        returns them, ``attrs`` included)."""
        cutoff = pd.Timestamp(cutoff)
        if cutoff not in self.cutoffs:
            raise ValueError(f"cutoff {cutoff.date()} is not one of this table's cutoffs")
        level = self.table.index.get_level_values("cutoff")
        out = self.table.loc[level == cutoff].droplevel("cutoff")
        out = out.loc[~out.index.duplicated()]  # a cutoff asked for twice
        out.attrs = {
            "cutoff": cutoff.date().isoformat(),
            "horizon_days": self.horizon_days,
            "window_days": self.window_days,
        }
        return out


def feature_table(
    dataset: Dataset,
    cutoffs: Iterable,
    horizon=365,
    *,
    window=365,
    growth_threshold: float = 0.10,
) -> FeatureTable:
    """Features before, and outcomes after, each of several cutoffs: one query for all.

    Parameters are those of :func:`account_features`, with ``cutoffs`` a list of date-likes.
    Returns a :class:`FeatureTable` (its ``table`` is :func:`feature_panel`'s frame).

    Examples
    --------
    >>> from kamlab.data import load_dataset
    >>> ft = feature_table(load_dataset("data/sample"), ["2023-01-01", "2024-01-01"], 180)
    >>> ft.cutoffs[1].year, ft.horizon_days, ft.table.shape
    (2024, 180, (477, 38))
    """
    cuts = tuple(pd.Timestamp(c) for c in cutoffs)
    horizon_days, window_days = _days(horizon, "horizon"), _days(window, "window")
    frame, k = _evaluate(dataset, cuts, horizon_days, window_days, float(growth_threshold))
    index = pd.MultiIndex.from_arrays(
        [pd.DatetimeIndex(np.asarray(cuts, dtype="datetime64[us]")[k]), frame.index],
        names=["cutoff", "account_id"],
    )
    return FeatureTable(
        frame.set_axis(index), cuts, horizon_days, window_days, float(growth_threshold)
    )


def account_features(
    dataset: Dataset,
    cutoff,
    horizon=365,
    *,
    window=365,
    growth_threshold: float = 0.10,
) -> pd.DataFrame:
    """One row per account with features before ``cutoff`` and outcomes after it.

    Parameters
    ----------
    dataset : Dataset
        A loaded, validated dataset (:func:`kamlab.data.load_dataset`).
    cutoff : date-like
        Features use rows dated strictly before it; outcomes rows on or after it.
    horizon : int or timedelta-like
        Outcome window in days after the cutoff (default 365).
    window : int or timedelta-like
        Look-back window in days for the recent-activity features (default 365).
    growth_threshold : float
        ``grew`` is true when future revenue exceeds base revenue by more than this share.

    Returns
    -------
    pandas.DataFrame
        Indexed by ``account_id`` in the accounts table's order: the accounts acquired (or
        first buying) before the cutoff and not recorded as churned before it. Features:

        ``revenue_12m`` (net revenue in the look-back window), ``revenue_prev_12m`` (the window
        before), ``revenue_total``, ``revenue_share`` (of the portfolio's positive
        ``revenue_12m``), ``revenue_growth_12m`` (log ratio of the two windows; NaN unless both
        are positive), ``orders_12m`` (distinct purchase days), ``order_frequency`` (purchase
        days per month), ``recency_days`` (since the last purchase), ``tenure_days``,
        ``products_12m`` and ``categories_12m`` (breadth, when those columns exist),
        ``gross_margin_12m`` (when ``cost`` exists), ``credit_note_share_12m``,
        ``support_tickets_12m``, ``support_hours_12m``, ``cost_to_serve`` (support hours per
        1,000 of revenue), ``qbr_12m``, ``nps`` (latest score; two answers at one instant count
        as their mean), ``score_<criterion>`` (latest assessment of each criterion), plus the
        account attributes ``industry``, ``region``, ``size_band``, ``account_manager`` where
        present.

        Outcomes (see :data:`OUTCOME_COLUMNS`): ``base_revenue`` (revenue in the ``horizon``
        days before the cutoff, the like-for-like base), ``future_revenue`` (in the ``horizon``
        days from the cutoff), ``log_growth`` (log of their ratio; NaN unless both positive),
        ``growth_dh`` (symmetric growth (future − base) / mean of the two, in [−2, 2]; −2 for
        an account that stopped buying), ``grew`` (future > base · (1 + growth_threshold)) and
        ``churned`` (recorded ``churned_on`` inside the horizon, or no purchase in it).

        ``frame.attrs`` records ``cutoff``, ``horizon_days`` and ``window_days`` (kept for
        callers that read them; :func:`feature_table` returns them as named fields).

    Examples
    --------
    >>> from kamlab.data import load_dataset
    >>> f = account_features(load_dataset("data/sample"), "2024-01-01", 365)
    >>> f.shape, f.attrs["horizon_days"], f.index[0]
    ((244, 38), 365, 'A00001')
    """
    cutoff = pd.Timestamp(cutoff)
    horizon_days, window_days = _days(horizon, "horizon"), _days(window, "window")
    frame, _ = _evaluate(dataset, (cutoff,), horizon_days, window_days, float(growth_threshold))
    frame.attrs = {
        "cutoff": cutoff.date().isoformat(),
        "horizon_days": horizon_days,
        "window_days": window_days,
    }
    return frame


def feature_panel(dataset: Dataset, cutoffs: Iterable, horizon=365, **kwargs) -> pd.DataFrame:
    """:func:`account_features` at several cutoffs, stacked, computed in one query.

    Returns a frame indexed by ``(cutoff, account_id)`` (cutoffs in the order given); used for
    time-ordered validation and back-tests ("had we chosen key accounts on each past date, what
    happened next?"). ``kwargs`` are ``window`` and ``growth_threshold``; the parameters travel
    with :func:`feature_table`'s result, not in ``attrs``.

    Examples
    --------
    >>> from kamlab.data import load_dataset
    >>> panel = feature_panel(load_dataset("data/sample"), ["2023-01-01", "2024-01-01"])
    >>> list(panel.index.names), panel.index.get_level_values("cutoff").year.unique().tolist()
    (['cutoff', 'account_id'], [2023, 2024])
    """
    return feature_table(dataset, cutoffs, horizon, **kwargs).table


def feature_columns(frame: pd.DataFrame, numeric_only: bool = True) -> list[str]:
    """The feature columns of an :func:`account_features` frame (no outcomes, no cutoff).

    >>> feature_columns(pd.DataFrame({"revenue_12m": [1.0], "grew": [True], "region": ["x"]}))
    ['revenue_12m']
    """
    skip = set(OUTCOME_COLUMNS) | {"cutoff"}
    cols = [c for c in frame.columns if c not in skip]
    if numeric_only:
        cols = [
            c
            for c in cols
            if pd.api.types.is_numeric_dtype(frame[c]) and not pd.api.types.is_bool_dtype(frame[c])
        ]
    return cols


# ------------------------------------------------------------------------ DuckDB evaluation
def _arrow(frame: pd.DataFrame):
    """A frame as an Arrow table, column by column: NumPy and Arrow-backed columns are shared,
    not copied, and float NaN stays NaN (the engine treats NaN and NULL alike)."""
    import pyarrow as pa

    columns = {}
    for name in frame.columns:
        col = frame[name]
        if col.dtype.kind in "fiub" or col.dtype.kind == "M":
            columns[name] = pa.array(col.to_numpy())
        else:
            columns[name] = pa.array(col)
    return pa.table(columns)


def _evaluate(dataset: Dataset, cuts: tuple, horizon_days: int, window_days: int, growth: float):
    """Evaluate the engine's query on ``dataset`` with embedded DuckDB: the features frame
    (rows by cutoff, then account order) and each row's cutoff position."""
    if not cuts:
        raise ValueError("cutoffs is empty")
    inputs, layout = _inputs(dataset)
    calendar, split_lookback, split_history = _calendar(cuts, horizon_days, window_days, growth)
    inputs.update(calendar)
    layout = replace(layout, split_lookback=split_lookback, split_history=split_history)
    result = _execute(_compiled(layout, inputs), inputs)
    return _frame(result, layout, order=None)


@lru_cache(maxsize=256)
def _calendar(cuts: tuple, horizon_days: int, window_days: int, growth: float):
    """The calendar's tables as Arrow, and whether its windows span several buckets."""
    calendar = Calendar.of(cuts, horizon_days, window_days, growth)
    tables = {name: _arrow(frame) for name, frame in calendar.tables().items()}
    return tables, len(calendar.lookback) > 1, len(calendar.segments) > 1


def _inputs(dataset: Dataset) -> tuple[dict[str, Any], Layout]:
    """The dataset's columns the features read, as Arrow tables (zero-copy where pandas keeps
    Arrow or NumPy buffers), and their layout."""
    import pyarrow as pa

    tx, acc = dataset.transactions, dataset.accounts
    tx_cols = ["account_id", "date", "amount"] + [
        c for c in ("product", "category", "cost") if c in tx
    ]
    acc_cols = ["account_id"] + [
        c for c in ("acquired_on", "churned_on", *ACCOUNT_ATTRIBUTES) if c in acc
    ]
    accounts = _arrow(acc[acc_cols]).append_column("_pos", pa.array(np.arange(len(acc))))
    tables = {"transactions": _arrow(tx[tx_cols]), "accounts": accounts}
    inter, assess = dataset.interactions, dataset.assessments
    kinds, criteria, inter_cols = [], [], None
    if inter is not None and len(inter):
        inter_cols = ["account_id", "date", "kind"] + (["value"] if "value" in inter else [])
        tables["interactions"] = _arrow(inter[inter_cols])
        kinds = list(inter["kind"].unique())
    if assess is not None and len(assess):
        tables["assessments"] = _arrow(assess[["account_id", "assessed_on", "criterion", "score"]])
        criteria = list(assess["criterion"].astype("str").unique())
    layout = Layout.of(tx_cols, [*acc_cols, "_pos"], inter_cols, kinds, criteria)
    return tables, layout


_SQL: dict[str, str] = {}
_LOCK = threading.Lock()
_DUCK: dict[str, Any] = {}


def _compiled(layout: Layout, inputs: dict[str, Any]) -> str:
    """The DuckDB SQL of the engine's expression for this layout: from memory, from the cache
    folder, or compiled by Ibis (the only step that imports Ibis)."""
    schemas = ";".join(f"{name}:{t.schema.remove_metadata()}" for name, t in sorted(inputs.items()))
    layout = replace(layout, schemas=schemas)
    key = hashlib.sha256(repr((_engine_version(), layout)).encode()).hexdigest()[:32]
    if key in _SQL:
        return _SQL[key]
    folder = _cache_folder()
    path = folder / f"features-{key}.sql" if folder else None
    if path is not None and path.is_file():
        sql = path.read_text(encoding="utf-8")
    else:
        import ibis

        from kamlab.engine import features_expr

        unbound = {
            name: ibis.table(ibis.Schema.from_pyarrow(t.schema), name=f"kamlab_{name}")
            for name, t in inputs.items()
        }
        calendar = {name: unbound.pop(name) for name in CALENDAR_TABLES}
        sql = str(ibis.to_sql(features_expr(unbound, calendar, layout), dialect="duckdb"))
        if path is not None:
            try:
                from kamlab._io import atomic_write

                atomic_write(path, lambda tmp: tmp.write_text(sql, encoding="utf-8"))
            except OSError:  # a read-only home: keep the query in memory only
                pass
    _SQL[key] = sql
    return sql


def _engine_version() -> str:
    """What the compiled text depends on: the engine's source and the compilers' versions."""
    if "version" not in _DUCK:
        source = Path(__file__).with_name("engine.py").read_bytes()
        parts = [hashlib.sha256(source).hexdigest()]
        parts += [version(p) for p in ("ibis-framework", "sqlglot", "duckdb")]
        _DUCK["version"] = "/".join(parts)
    return _DUCK["version"]


def _cache_folder() -> Path | None:
    setting = os.environ.get("KAMLAB_CACHE_DIR", "")
    if setting.lower() in ("off", "0", "none", "false"):
        return None
    if setting:
        return Path(setting)
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "kamlab"


def _execute(sql: str, inputs: dict[str, Any]):
    """Run ``sql`` on the process's DuckDB connection with ``inputs`` registered as
    ``kamlab_<name>`` (DuckDB scans the Arrow buffers in place)."""
    import duckdb

    with _LOCK:
        if _DUCK.get("pid") != os.getpid():  # a forked child gets its own connection
            # One thread: floating-point sums then run in row order, so the same data give
            # byte-identical features on every run (DuckDB's parallel sums do not).
            _DUCK.update(pid=os.getpid(), con=duckdb.connect(":memory:", config={"threads": 1}))
        # A cursor per query: its registrations and result state end with it, so a query that
        # failed half-way (an interrupted fetch, an error) never blocks the next one.
        cursor = _DUCK["con"].cursor()
        try:
            for name, table in inputs.items():
                cursor.register(f"kamlab_{name}", table)
            return cursor.execute(sql).fetchdf()
        finally:
            cursor.close()


def _frame(result: pd.DataFrame, layout: Layout, order: pd.Index | None):
    """The result rows sorted by cutoff then account order, indexed by ``account_id`` with the
    dtypes of :func:`account_features`; also returns each row's cutoff position ``_k``."""
    k = result["_k"].to_numpy(dtype=np.int64)
    ids = result["account_id"]
    pos = result["_pos"].to_numpy(dtype=np.int64) if order is None else order.get_indexer(ids)
    rows = np.lexsort((pos, k))
    cols = layout.columns()
    frame = result.take(rows)[cols]
    for c in cols:
        want = (
            "str" if c in layout.attributes else "bool" if c in ("grew", "churned") else "float64"
        )
        if frame[c].dtype != want:
            frame[c] = frame[c].astype(want)
    frame.index = pd.Index(ids.to_numpy()[rows], dtype="str", name="account_id")
    return frame, k[rows]
