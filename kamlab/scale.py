"""Account features on any Ibis backend: the engine's one definition, evaluated where the data are.

:func:`kamlab.features.account_features` evaluates the expressions of :mod:`kamlab.engine` with
an embedded DuckDB on a loaded dataset. This module evaluates the same expressions on any Ibis
backend, straight from files or from tables the backend already has:

* a data folder (``<table>.csv``, ``<table>.parquet`` or a ``<table>/`` folder of Parquet
  files, found by :func:`kamlab.data.find_tables`), a mapping of table name to file, glob or list
  of files, or a mapping of table name to Ibis table;
* ``con=``: any Ibis backend, e.g. ``ibis.duckdb.connect(memory_limit="4GB")`` (the default is a
  new in-process DuckDB on one thread: byte-identical results), ``ibis.pyspark.connect(spark)``
  or a warehouse connection. Parallel engines sum floats in varying order: their results agree
  to about 1e-15 relative, not bit for bit.

The result is exactly :func:`kamlab.features.account_features` on
``kamlab.data.load_dataset(source)`` (same index, columns, dtypes; values to about 1e-12) for
data that satisfy the contract. Differences: nothing is validated here (run ``kamlab validate``
first, or on a sample); transactions of account ids absent from the accounts table are ignored
where :func:`~kamlab.data.load_dataset` refuses them; recency and tenure count whole seconds on
backends without sub-second epochs (Spark).

Spark, in short (needs Java 17 and ``pip install 'kamlab[spark]'``)::

    from pyspark.sql import SparkSession
    import ibis
    from kamlab import scale

    spark = SparkSession.builder.master("local[2]").getOrCreate()
    features = scale.account_features("data/sample", "2024-01-01", 365,
                                      con=ibis.pyspark.connect(spark))

A warehouse keeps the data where they are: pass its tables (``{"transactions":
con.table("sales.invoices"), ...}``, renamed to the contract's column names) and write
:func:`feature_expression` back with ``con.create_table(...)`` instead of fetching it.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from kamlab.data import SUFFIXES, TABLES, find_tables
from kamlab.features import (
    Calendar,
    FeatureTable,
    Layout,
    _days,
    _frame,
)

if TYPE_CHECKING:  # pragma: no cover
    import ibis.expr.types as ir

__all__ = [
    "account_features",
    "connect_tables",
    "feature_expression",
    "feature_panel",
    "feature_table",
]

# Reader options per backend: every column as text, so ids keep their leading zeros and the
# engine casts the rest as the pandas loader does. Other backends get their defaults.
_CSV_OPTIONS: dict[str, dict[str, Any]] = {
    "duckdb": {"all_varchar": True},
    "pyspark": {"inferSchema": False, "header": True},
}


def _ibis():
    import ibis

    return ibis


def _read(con, table: str, files: list[str], kind: str) -> ir.Table:
    """One table from its file(s) on ``con``, in a form the backend's reader understands."""
    name = getattr(con, "name", "")
    if kind == "csv":
        return con.read_csv(files if len(files) > 1 else files[0], **_CSV_OPTIONS.get(name, {}))
    if kind == "parquet":
        if len(files) == 1 or name == "duckdb":
            return con.read_parquet(files if len(files) > 1 else files[0])
        # Readers that take one path (Spark's through Ibis): one table per file, stacked.
        return _ibis().union(*(con.read_parquet(f) for f in files))
    raise ValueError(
        f"{files[0]}: the {table} table is an Excel workbook; kamlab.scale reads CSV and Parquet "
        f"(load workbooks with kamlab.data.load_dataset and use kamlab.features)."
    )


def _kind(pattern: str, table: str) -> str:
    kind = SUFFIXES.get(Path(pattern).suffix.lower())
    if kind is None:
        raise ValueError(
            f"{pattern}: cannot tell the file type of the {table} table; name files *.csv or "
            f"*.parquet."
        )
    return kind


def connect_tables(source, con=None) -> tuple[Any, dict[str, ir.Table]]:
    """The contract tables of ``source`` as (lazy) Ibis tables on a backend.

    Parameters
    ----------
    source : path-like or mapping
        A data folder (:func:`kamlab.data.find_tables` finds the files), a mapping of table name
        to a file, a glob (``"lake/tx/*.parquet"``) or a list of files, or a mapping of table
        name to Ibis tables (returned as they are).
    con : ibis backend, optional
        Where to read the files. Default: a new in-process DuckDB with one thread, so that
        floating-point sums run in a fixed order and the same files give byte-identical
        features (pass ``ibis.duckdb.connect()`` for all cores and last-bit noise);
        with Ibis tables, their own backend.

    Returns
    -------
    (con, tables)
        The backend and a dict of Ibis tables; nothing is loaded. CSV files are read as text
        on DuckDB and Spark (ids keep leading zeros) and cast by the engine.

    Examples
    --------
    >>> con, tables = connect_tables("data/sample")
    >>> sorted(tables), con.name
    (['accounts', 'assessments', 'interactions', 'transactions'], 'duckdb')
    """
    ibis = _ibis()
    if isinstance(source, Mapping):
        unknown = sorted(set(source) - set(TABLES))
        if unknown:
            raise ValueError(f"unknown table(s) {unknown}; expected some of {', '.join(TABLES)}")
        given = {t: v for t, v in source.items() if isinstance(v, ibis.Table)}
        if given:
            if len(given) < len(source):
                raise ValueError("pass either Ibis tables or files for every table, not both")
            if con is None:
                con = next(iter(given.values()))._find_backend(use_default=True)
            tables = dict(given)
        else:
            con = con if con is not None else ibis.duckdb.connect(threads=1)
            tables = {}
            for table, value in source.items():
                files = (
                    [os.fspath(value)]
                    if isinstance(value, (str, os.PathLike))
                    else [os.fspath(v) for v in value]
                )
                tables[table] = _read(con, table, files, _kind(files[0], table))
    else:
        found = find_tables(source)
        con = con if con is not None else ibis.duckdb.connect(threads=1)
        tables = {
            t: _read(con, t, [os.fspath(p) for p in src.files], src.kind)
            for t, src in found.items()
        }
    for table in ("accounts", "transactions"):
        if table not in tables:
            raise ValueError(f"{source}: no {table} table (it is required)")
    return con, tables


def _distinct(con, column) -> list:
    """The distinct values of a column, computed on the table's own backend."""
    values = con.to_pyarrow(column.name("v").as_table().distinct()).column("v").to_pylist()
    return [v for v in values if v is not None]


def _prepare(source, cutoffs, horizon, window, growth_threshold, con):
    """Tables, calendar (as tables on the backend) and layout of one evaluation."""
    ibis = _ibis()
    cuts = tuple(pd.Timestamp(c) for c in cutoffs)
    if not cuts:
        raise ValueError("cutoffs is empty")
    horizon_days, window_days = _days(horizon, "horizon"), _days(window, "window")
    con, tables = connect_tables(source, con)
    inter, assess = tables.get("interactions"), tables.get("assessments")
    kinds = _distinct(con, inter.kind.cast("string").lower()) if inter is not None else []
    criteria = _distinct(con, assess.criterion.cast("string")) if assess is not None else []
    layout = Layout.of(
        tables["transactions"].columns,
        tables["accounts"].columns,
        inter.columns if inter is not None else None,
        kinds,
        criteria,
    )
    calendar = Calendar.of(cuts, horizon_days, window_days, float(growth_threshold))
    layout = replace(
        layout,
        split_lookback=len(calendar.lookback) > 1,
        split_history=len(calendar.segments) > 1,
    )
    on_backend = {name: ibis.memtable(frame) for name, frame in calendar.tables().items()}
    meta = (cuts, horizon_days, window_days, float(growth_threshold))
    return con, tables, on_backend, layout, meta


def feature_expression(
    source, cutoffs: Iterable, horizon=365, *, window=365, growth_threshold: float = 0.10, con=None
) -> ir.Table:
    """The features at ``cutoffs`` as an unevaluated Ibis table on the data's backend.

    Columns ``cutoff``, ``account_id`` and those of :func:`kamlab.features.account_features`;
    rows unordered. Use it to keep the result in a warehouse (``con.create_table("features",
    expr)``) or to stream it (``expr.to_parquet(...)``).

    Examples
    --------
    >>> expr = feature_expression("data/sample", ["2024-01-01"], 365)
    >>> expr.columns[:3], expr.count().execute()
    (('cutoff', 'account_id', 'revenue_12m'), 244)
    """
    from kamlab.engine import features_expr

    _, tables, calendar, layout, _ = _prepare(
        source, cutoffs, horizon, window, growth_threshold, con
    )
    expr = features_expr(tables, calendar, layout)
    cuts = calendar["cutoffs"].select("_k", "cutoff")
    expr = expr.join(cuts, "_k")
    return expr.select("cutoff", "account_id", *layout.columns())


def feature_table(
    source, cutoffs: Iterable, horizon=365, *, window=365, growth_threshold: float = 0.10, con=None
) -> FeatureTable:
    """:func:`kamlab.features.feature_table` evaluated on ``con`` (one query for all cutoffs).

    Examples
    --------
    >>> ft = feature_table("data/sample", ["2023-01-01", "2024-01-01"], 365)
    >>> ft.table.shape, ft.window_days
    ((477, 38), 365)
    """
    from kamlab.engine import features_expr

    con, tables, calendar, layout, meta = _prepare(
        source, cutoffs, horizon, window, growth_threshold, con
    )
    cuts, horizon_days, window_days, growth = meta
    result = con.execute(features_expr(tables, calendar, layout))
    # SQL rows are unordered: the accounts table's own order, as the pandas path keeps it.
    ids = tables["accounts"].select(account_id=tables["accounts"].account_id.cast("string"))
    order = pd.Index(con.to_pyarrow(ids).column("account_id").to_pylist())
    frame, k = _frame(result, layout, order=order)
    index = pd.MultiIndex.from_arrays(
        [pd.DatetimeIndex(np.asarray(cuts, dtype="datetime64[us]")[k]), frame.index],
        names=["cutoff", "account_id"],
    )
    return FeatureTable(frame.set_axis(index), cuts, horizon_days, window_days, growth)


def account_features(
    source, cutoff, horizon=365, *, window=365, growth_threshold: float = 0.10, con=None
) -> pd.DataFrame:
    """:func:`kamlab.features.account_features` evaluated on ``con``, from files or tables.

    Parameters
    ----------
    source : path-like or mapping
        See :func:`connect_tables`.
    cutoff, horizon, window, growth_threshold
        As in :func:`kamlab.features.account_features`.
    con : ibis backend, optional
        Default: a new in-process DuckDB (or the backend of the Ibis tables passed).

    Returns
    -------
    pandas.DataFrame
        The frame :func:`kamlab.features.account_features` returns on
        ``load_dataset(source)``: indexed by ``account_id`` in the accounts table's order, same
        columns, dtypes and ``attrs``.

    Examples
    --------
    >>> f = account_features("data/sample", "2024-01-01", 365)
    >>> f.shape, f.attrs["cutoff"]
    ((244, 38), '2024-01-01')
    """
    return feature_table(
        source, [cutoff], horizon, window=window, growth_threshold=growth_threshold, con=con
    ).at(cutoff)


def feature_panel(source, cutoffs: Iterable, horizon=365, *, con=None, **kwargs) -> pd.DataFrame:
    """:func:`kamlab.features.feature_panel` evaluated on ``con``: one query for all cutoffs.

    Examples
    --------
    >>> feature_panel("data/sample", ["2023-01-01", "2024-01-01"]).index.names[0]
    'cutoff'
    """
    return feature_table(source, cutoffs, horizon, con=con, **kwargs).table
