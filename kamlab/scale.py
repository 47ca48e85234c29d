"""Account features at scale: the same as-of aggregation as :func:`kamlab.features.account_features`,
written as Ibis expressions so it runs on DuckDB locally or on Spark / a SQL warehouse.

Two entry points:

* :func:`account_features_ibis` builds a backend-agnostic Ibis expression from Ibis tables
  (``transactions``, ``accounts`` and optionally ``interactions`` and ``assessments``). It uses
  only portable operations (filtered aggregates, ``CASE``, one whole-table window sum, joins) and
  no SQL strings, so the same code runs on any Ibis backend: DuckDB, Spark, Snowflake,
  BigQuery, Postgres...
* :func:`account_features_duckdb` is the convenience for files: it points an embedded DuckDB
  connection (no server) at a folder of Parquet/CSV files, a folder of Parquet files per table
  or a glob, evaluates the expression out of core and returns a pandas frame shaped like
  :func:`~kamlab.features.account_features`' output (same index, column names, dtypes and order).

Semantics are those of :func:`kamlab.features.account_features` (features strictly before the
cutoff, outcomes from it on; see that function for every definition). Differences:

* the Ibis path does **not** validate the data contract (no pandera checks, no ledger). Run
  ``kamlab validate`` on the data, or on a sample of it, first. Transactions of account ids
  absent from ``accounts`` are ignored (the pandas loader refuses or drops them).
* ``nps`` is the latest NPS score before the cutoff; when an account has two NPS rows at the
  same instant, the pandas path takes the later row in file order while the Ibis path takes
  either (SQL has no row order).
* Sums run in another order than in numpy, so money columns agree to about 1e-12 relative,
  not bit for bit.

Ibis, DuckDB and the Ibis DuckDB backend are optional dependencies (the ``scale`` extra).
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from kamlab.features import ACCOUNT_ATTRIBUTES, _days

if TYPE_CHECKING:  # pragma: no cover
    import ibis.expr.types as ir

__all__ = [
    "TRANSACTION_FEATURES",
    "account_features_duckdb",
    "account_features_ibis",
    "connect_tables",
]

#: Transaction-derived feature columns, in the order of ``account_features`` (the optional ones
#: appear only when the transactions carry ``product``, ``category`` or ``cost``).
TRANSACTION_FEATURES = (
    "revenue_12m",
    "revenue_prev_12m",
    "revenue_total",
    "revenue_share",
    "revenue_growth_12m",
    "orders_12m",
    "order_frequency",
    "recency_days",
    "tenure_days",
    "products_12m",
    "categories_12m",
    "gross_margin_12m",
    "credit_note_share_12m",
)
_SECONDS_PER_DAY = 86_400
_TABLES = ("accounts", "transactions", "assessments", "interactions")


def _ibis():
    try:
        import ibis
    except ImportError as exc:  # pragma: no cover - depends on the environment
        raise ImportError(
            "kamlab.scale needs the optional dependencies ibis-framework[duckdb] "
            "and duckdb: pip install 'kamlab[scale]'"
        ) from exc
    return ibis


def _null(ibis):
    return ibis.null().cast("float64")


def _safe_div(ibis, num, den, ok):
    """``num / den`` where ``ok`` else NULL; the division never sees a zero or negative guard."""
    return ibis.ifelse(ok, num / ibis.ifelse(ok, den, 1.0), _null(ibis))


def _positive(ibis, value):
    return ibis.ifelse(value > 0, value, 0.0)


def _days_between(later, earlier):
    """Days from ``earlier`` to ``later`` (timestamps) as a float, via epoch seconds."""
    return (
        later.epoch_seconds().cast("float64") - earlier.epoch_seconds().cast("float64")
    ) / _SECONDS_PER_DAY


def account_features_ibis(
    transactions: ir.Table,
    accounts: ir.Table,
    cutoff,
    horizon=365,
    *,
    window=365,
    growth_threshold: float = 0.10,
    interactions: ir.Table | None = None,
    assessments: ir.Table | None = None,
    interaction_kinds: Iterable[str] | None = None,
    criteria: Sequence[str] | None = None,
) -> ir.Table:
    """As-of account features and outcomes as a backend-agnostic Ibis expression.

    Parameters
    ----------
    transactions : ibis.Table
        Columns ``account_id``, ``date``, ``amount`` and optionally ``product``, ``category``,
        ``cost`` (contract names; ``date`` may be a date, timestamp or ISO string column).
    accounts : ibis.Table
        Column ``account_id`` and optionally ``acquired_on``, ``churned_on`` and the attributes
        ``industry``, ``region``, ``size_band``, ``account_manager``.
    cutoff : date-like
        Features use rows dated strictly before it; outcomes rows on or after it.
    horizon : int or timedelta-like
        Outcome window in days after the cutoff (default 365).
    window : int or timedelta-like
        Look-back window in days of the recent-activity features (default 365).
    growth_threshold : float
        ``grew`` is true when future revenue exceeds base revenue by more than this share.
    interactions : ibis.Table, optional
        Columns ``account_id``, ``date``, ``kind`` and optionally ``value``: adds
        ``support_tickets_12m``, ``support_hours_12m``, ``cost_to_serve``, ``qbr_12m``, ``nps``.
    assessments : ibis.Table, optional
        Columns ``account_id``, ``assessed_on``, ``criterion``, ``score``: adds one
        ``score_<criterion>`` column per criterion (latest score before the cutoff).
    interaction_kinds : iterable of str, optional
        The (lower-case) interaction kinds present in ``interactions``; they decide which
        interaction columns exist, as in the pandas path. Default: queried from the table
        (one small ``DISTINCT`` query on its backend).
    criteria : sequence of str, optional
        The assessment criteria (default: queried from the table, sorted).

    Returns
    -------
    ibis.Table
        Unevaluated expression, one row per account in the population of
        :func:`kamlab.features.account_features` (a transaction before the cutoff and not
        churned before it), with an ``account_id`` column followed by the feature, attribute and
        outcome columns in the pandas path's order. Rows are unordered.
    """
    ibis = _ibis()
    cutoff = pd.Timestamp(cutoff)
    horizon_days, window_days = _days(horizon), _days(window)
    day = pd.Timedelta(days=1)
    cut = ibis.literal(cutoff.to_pydatetime(), type="timestamp")

    def at(offset_days: int):
        return ibis.literal((cutoff + offset_days * day).to_pydatetime(), type="timestamp")

    tx_cols = transactions.columns
    tx = transactions.select(
        account_id=transactions.account_id.cast("string"),
        t=transactions.date.cast("timestamp"),
        amount=transactions.amount.cast("float64"),
        **{c: transactions[c].cast("string") for c in ("product", "category") if c in tx_cols},
        **({"cost": transactions.cost.cast("float64")} if "cost" in tx_cols else {}),
    )
    # Nothing after the outcome window matters: let the engine prune those rows (Parquet
    # row-group statistics) before aggregating.
    tx = tx.filter(tx.t < at(horizon_days))
    t, amount = tx.t, tx.amount
    before = t < cut
    recent = before & (t >= at(-window_days))
    previous = (t < at(-window_days)) & (t >= at(-2 * window_days))
    base_win = before & (t >= at(-horizon_days))
    future_win = t >= cut  # upper bound applied by the filter above
    purchase = amount > 0

    aggs: dict[str, Any] = {
        "_r12": amount.sum(where=recent),
        "_rprev": amount.sum(where=previous),
        "_rtotal": amount.sum(where=before),
        "_orders": t.date().nunique(where=recent & purchase),
        "_last": t.max(where=before & purchase),
        "_first": t.min(where=before),
        "_gross": amount.sum(where=recent & purchase),
        "_credits": amount.sum(where=recent & ~purchase),
        "_base": amount.sum(where=base_win),
        "_future": amount.sum(where=future_win),
        "_bought": amount.count(where=future_win & purchase),
    }
    for col, name in (("product", "_products"), ("category", "_categories")):
        if col in tx_cols:
            aggs[name] = tx[col].nunique(where=recent & purchase & tx[col].notnull())
    if "cost" in tx_cols:
        with_cost = recent & tx.cost.notnull() & ~tx.cost.isnan()
        aggs["_rev_c"] = amount.sum(where=with_cost)
        aggs["_cost_c"] = tx.cost.sum(where=with_cost)
    per_account = tx.group_by("account_id").aggregate(**aggs)

    acc_cols = accounts.columns
    acc = accounts.select(
        account_id=accounts.account_id.cast("string"),
        **({"_acq": accounts.acquired_on.cast("timestamp")} if "acquired_on" in acc_cols else {}),
        **({"_churn": accounts.churned_on.cast("timestamp")} if "churned_on" in acc_cols else {}),
        **{c: accounts[c].cast("string") for c in ACCOUNT_ATTRIBUTES if c in acc_cols},
    )
    j = acc.left_join(per_account, "account_id").drop("account_id_right")

    def zero(name):
        return j[name].fill_null(0.0).cast("float64")

    r12, rprev = zero("_r12"), zero("_rprev")
    first, last = j._first, j._last
    if "acquired_on" in acc_cols:
        acquired = ibis.ifelse(
            j._acq.isnull(), first, ibis.ifelse(first.isnull() | (j._acq <= first), j._acq, first)
        )
    else:
        acquired = first
    total_recent = _positive(ibis, r12).sum().over(ibis.window())
    cols: dict[str, Any] = {
        "revenue_12m": r12,
        "revenue_prev_12m": rprev,
        "revenue_total": zero("_rtotal"),
        "revenue_share": ibis.ifelse(
            total_recent > 0,
            _positive(ibis, r12) / ibis.ifelse(total_recent > 0, total_recent, 1.0),
            0.0,
        ),
        "revenue_growth_12m": _log_ratio(ibis, r12, rprev),
        "orders_12m": zero("_orders"),
        "order_frequency": zero("_orders") / (window_days / (365.25 / 12)),
        "recency_days": _days_between(cut, last),
        "tenure_days": _days_between(cut, acquired),
    }
    if "product" in tx_cols:
        cols["products_12m"] = zero("_products")
    if "category" in tx_cols:
        cols["categories_12m"] = zero("_categories")
    if "cost" in tx_cols:
        rev_c, cost_c = zero("_rev_c"), zero("_cost_c")
        cols["gross_margin_12m"] = _safe_div(ibis, rev_c - cost_c, rev_c, rev_c > 0)
    gross = zero("_gross")
    cols["credit_note_share_12m"] = _safe_div(ibis, 0.0 - zero("_credits"), gross, gross > 0)

    extra_joins = []
    if interactions is not None:
        inter = _interaction_aggregate(ibis, interactions, cutoff, window_days, interaction_kinds)
        if inter is not None:
            extra_joins.append(inter)
    if assessments is not None:
        assess = _assessment_aggregate(ibis, assessments, cutoff, criteria)
        if assess is not None:
            extra_joins.append(assess)

    base, future = zero("_base"), zero("_future")
    pos_base, pos_future = _positive(ibis, base), _positive(ibis, future)
    mean = (pos_base + pos_future) / 2
    if "churned_on" in acc_cols:
        churn = j._churn
        recorded = (churn.notnull() & (churn >= cut) & (churn < at(horizon_days))).fill_null(False)
        churned_before = (churn.notnull() & (churn < cut)).fill_null(False)
    else:
        recorded = churned_before = ibis.literal(False)
    bought_after = j._bought.fill_null(0) > 0
    outcomes = {
        "base_revenue": base,
        "future_revenue": future,
        "log_growth": _log_ratio(ibis, future, base),
        "growth_dh": _safe_div(ibis, pos_future - pos_base, mean, mean > 0),
        "grew": future > base * (1 + growth_threshold),
        "churned": recorded | ~bought_after,
    }
    population = (
        acquired.notnull() & (acquired < cut) & ~churned_before & first.notnull() & (first < cut)
    )
    attrs = [c for c in ACCOUNT_ATTRIBUTES if c in acc_cols]
    out = j.mutate(**cols, **outcomes, _keep=population.fill_null(False))
    out = out.filter(out._keep)
    out = out.select("account_id", *cols, *attrs, *outcomes)
    if not extra_joins:
        return out
    # Interaction and assessment columns sit between the transaction features and the
    # attributes, as in account_features.
    for table in extra_joins:
        out = out.left_join(table, "account_id").drop("account_id_right")
    extra_cols: dict[str, Any] = {}
    for table in extra_joins:
        for name in table.columns:
            if name == "account_id" or name.startswith("_"):
                continue
            extra_cols[name] = out[name]
    if "_support_hours" in out.columns:
        tickets = out._support_tickets.fill_null(0.0)
        hours = out._support_hours.fill_null(0.0)
        rev = out.revenue_12m
        extra_cols = {
            "support_tickets_12m": tickets,
            "support_hours_12m": hours,
            "cost_to_serve": _safe_div(ibis, hours, rev / 1000, rev > 0),
            **extra_cols,
        }
    if "qbr_12m" in extra_cols:
        extra_cols["qbr_12m"] = extra_cols["qbr_12m"].fill_null(0.0)
    order = [*cols, *extra_cols, *attrs, *outcomes]
    return out.mutate(**extra_cols).select("account_id", *order)


def _log_ratio(ibis, num, den):
    ok = (num > 0) & (den > 0)
    return ibis.ifelse(
        ok, (ibis.ifelse(ok, num, 1.0) / ibis.ifelse(ok, den, 1.0)).ln(), _null(ibis)
    )


def _interaction_aggregate(ibis, interactions, cutoff, window_days, kinds):
    cols = interactions.columns
    inter = interactions.select(
        account_id=interactions.account_id.cast("string"),
        t=interactions.date.cast("timestamp"),
        kind=interactions.kind.cast("string").lower(),
        value=interactions.value.cast("float64") if "value" in cols else _null(ibis),
    )
    if kinds is None:
        kinds = inter.select("kind").distinct().to_pyarrow().column("kind").to_pylist()
    kinds = {str(k).lower() for k in kinds if k is not None}
    cut = ibis.literal(cutoff.to_pydatetime(), type="timestamp")
    start = ibis.literal(
        (cutoff - pd.Timedelta(days=window_days)).to_pydatetime(), type="timestamp"
    )
    before = inter.t < cut
    recent = before & (inter.t >= start)
    value_ok = inter.value.notnull() & ~inter.value.isnan()
    aggs: dict[str, Any] = {}
    if "support_ticket" in kinds:
        tickets = recent & (inter.kind == "support_ticket")
        aggs["_support_tickets"] = inter.kind.count(where=tickets).cast("float64")
        aggs["_support_hours"] = (
            inter.value.fill_null(0.0).sum(where=tickets & value_ok).fill_null(0.0)
        )
    if "qbr" in kinds:
        aggs["qbr_12m"] = inter.kind.count(where=recent & (inter.kind == "qbr")).cast("float64")
    if "nps" in kinds:
        aggs["nps"] = inter.value.argmax(
            inter.t, where=before & (inter.kind == "nps") & value_ok
        ).cast("float64")
    if not aggs:
        return None
    return inter.group_by("account_id").aggregate(**aggs)


def _assessment_aggregate(ibis, assessments, cutoff, criteria):
    table = assessments.select(
        account_id=assessments.account_id.cast("string"),
        t=assessments.assessed_on.cast("timestamp"),
        criterion=assessments.criterion.cast("string"),
        score=assessments.score.cast("float64"),
    )
    if criteria is None:
        found = table.select("criterion").distinct().to_pyarrow().column("criterion")
        criteria = sorted(c for c in found.to_pylist() if c is not None)
    if not criteria:
        return None
    cut = ibis.literal(cutoff.to_pydatetime(), type="timestamp")
    latest = (
        table.filter(table.t < cut)
        .group_by(["account_id", "criterion"])
        .aggregate(score=table.score.argmax(table.t))
    )
    return latest.group_by("account_id").aggregate(
        **{f"score_{c}": latest.score.max(where=latest.criterion == c) for c in criteria}
    )


# --------------------------------------------------------------------------- files → DuckDB
def _table_source(folder: Path, table: str) -> list[str] | None:
    """The file(s) of one table in a folder: ``<table>.parquet``, ``<table>.csv`` or a
    sub-folder ``<table>/`` of Parquet (or CSV) files."""
    found = [folder / f"{table}{ext}" for ext in (".parquet", ".pq", ".csv")]
    found = [p for p in found if p.is_file()]
    if len(found) > 1:
        raise ValueError(
            f"{folder}: several files for the {table} table "
            f"({', '.join(p.name for p in found)}); keep one."
        )
    if found:
        return [str(found[0])]
    sub = folder / table
    if sub.is_dir():
        for pattern in ("**/*.parquet", "**/*.csv"):
            files = sorted(str(p) for p in sub.glob(pattern))
            if files:
                return files
    return None


def _resolve_sources(path_or_paths) -> dict[str, list[str]]:
    if isinstance(path_or_paths, Mapping):
        sources = {}
        for table, value in path_or_paths.items():
            if table not in _TABLES:
                raise ValueError(f"unknown table {table!r}; expected one of {_TABLES}")
            if isinstance(value, (str, os.PathLike)):
                value = [value]
            sources[table] = [str(v) for v in value]
    else:
        folder = Path(path_or_paths)
        if not folder.is_dir():
            raise FileNotFoundError(
                f"{folder}: not a folder (pass a data folder, or a mapping "
                f"of table name to file, glob or list of files)"
            )
        sources = {t: s for t in _TABLES if (s := _table_source(folder, t)) is not None}
    for table in ("accounts", "transactions"):
        if table not in sources:
            raise FileNotFoundError(
                f"no {table} file found in {path_or_paths} (expected "
                f"{table}.parquet, {table}.csv or a {table}/ folder of "
                f"Parquet files)"
            )
    return sources


def _is_csv(paths: list[str]) -> bool:
    return all(str(p).lower().endswith((".csv", ".txt", ".csv.gz")) for p in paths)


def connect_tables(path_or_paths, con=None) -> tuple[Any, dict[str, ir.Table]]:
    """Register the tables of a data folder (or a table → files mapping) on a DuckDB connection.

    Parameters
    ----------
    path_or_paths : path-like or mapping
        A data folder holding ``<table>.parquet`` / ``<table>.csv`` files or ``<table>/``
        folders of Parquet files; or a mapping of table name to a file, a glob
        (``"lake/tx/*.parquet"``) or a list of files.
    con : ibis DuckDB backend, optional
        Default: a new in-memory connection (``ibis.duckdb.connect()``).

    Returns
    -------
    (con, tables)
        The connection and a dict of Ibis tables (lazy; nothing is loaded). CSV files are read
        as text and cast like the pandas loader does, so ids keep leading zeros.
    """
    ibis = _ibis()
    con = con if con is not None else ibis.duckdb.connect()
    tables = {}
    for table, paths in _resolve_sources(path_or_paths).items():
        if _is_csv(paths):
            tables[table] = con.read_csv(paths, all_varchar=True)
        else:
            tables[table] = con.read_parquet(paths)
    return con, tables


def account_features_duckdb(
    path_or_paths,
    cutoff,
    horizon=365,
    *,
    window=365,
    growth_threshold: float = 0.10,
    interactions: bool = True,
    assessments: bool = True,
    con=None,
) -> pd.DataFrame:
    """:func:`kamlab.features.account_features` computed by DuckDB straight from files.

    Parameters
    ----------
    path_or_paths : path-like or mapping
        See :func:`connect_tables`: a data folder (``data/sample``, a folder written with
        ``kamlab synth --format parquet``, or one with a ``transactions/`` folder of Parquet
        files) or a mapping of table name to a file, glob or list of files.
    cutoff, horizon, window, growth_threshold
        As in :func:`kamlab.features.account_features`.
    interactions, assessments : bool
        Compute the interaction and assessment features when those tables exist (default).
    con : ibis DuckDB backend, optional
        A configured connection, e.g. ``ibis.duckdb.connect(threads=2, memory_limit="4GB",
        temp_directory="/scratch")`` for out-of-core work. Default: a new in-memory one.

    Returns
    -------
    pandas.DataFrame
        Indexed by ``account_id`` in the order of the accounts file(s), with the columns,
        dtypes and ``attrs`` of :func:`~kamlab.features.account_features`.
    """
    cutoff = pd.Timestamp(cutoff)
    con, tables = connect_tables(path_or_paths, con)
    expr = account_features_ibis(
        tables["transactions"],
        tables["accounts"],
        cutoff,
        horizon,
        window=window,
        growth_threshold=growth_threshold,
        interactions=tables.get("interactions") if interactions else None,
        assessments=tables.get("assessments") if assessments else None,
    )
    frame = expr.to_pyarrow().to_pandas()
    # SQL results are unordered: restore the accounts' file order (DuckDB scans in order).
    ids = tables["accounts"].select(account_id=tables["accounts"].account_id.cast("string"))
    order = pd.Index(ids.to_pyarrow().column("account_id").to_pylist())
    frame = frame.set_index("account_id")
    frame = frame.reindex(order[order.isin(frame.index)])
    frame.index = frame.index.astype("str")
    frame.index.name = "account_id"
    for col in frame.columns:
        if col in ("grew", "churned"):
            frame[col] = frame[col].astype(bool)
        elif col in ACCOUNT_ATTRIBUTES:
            frame[col] = frame[col].astype("str")
        else:
            frame[col] = frame[col].astype(np.float64)
    frame.attrs.update(
        cutoff=cutoff.date().isoformat(), horizon_days=_days(horizon), window_days=_days(window)
    )
    return frame
