"""The one definition of kamlab's as-of features and outcomes, as backend-agnostic Ibis expressions.

Every feature and outcome of :func:`kamlab.features.account_features` is written here once.
DuckDB evaluates it in process on loaded tables (:mod:`kamlab.features`); any Ibis backend
(Spark, a SQL warehouse) evaluates the same expression through :mod:`kamlab.scale`.

One query serves any number of cutoffs: every window of every cutoff starts and ends on one of
a few edges (:class:`kamlab.features.Calendar`), which cut the time axis into *buckets*. Rows
are aggregated once per (account, bucket) and each cutoff sums the buckets of its windows.
Distinct counts (purchase days, products, categories) count a key in the bucket where it first
occurs inside the window; "latest before the cutoff" (NPS, scores) reads the last segment
between cutoffs that has a value. Only portable operations are used: filtered aggregates,
``CASE``, equi-joins with inequality filters, windows partitioned by account; no SQL strings, no
whole-table window, no ``ASOF`` join. Ties do not depend on row order: two NPS answers of an
account at one instant count as their mean (the contract makes (account, criterion, date)
unique for scores).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

import pandas as pd

if TYPE_CHECKING:
    import ibis
    import ibis.expr.types as ir
else:

    class _Ibis:
        """Ibis on first use: running a cached query needs :class:`Layout`, not Ibis."""

        def __getattr__(self, name):
            import ibis

            return getattr(ibis, name)

    ibis = _Ibis()

__all__ = ["ACCOUNT_ATTRIBUTES", "OUTCOME_COLUMNS", "Layout", "features_expr"]

#: Outcome columns (everything else except the attributes is a feature).
OUTCOME_COLUMNS = ("base_revenue", "future_revenue", "log_growth", "growth_dh", "grew", "churned")
#: Static account attributes passed through (categorical controls, not scored features).
ACCOUNT_ATTRIBUTES = ("industry", "region", "size_band", "account_manager")
#: Interaction kinds that add columns (compared in lower case).
INTERACTION_KINDS = ("support_ticket", "qbr", "nps")

_SECONDS_PER_DAY = 86_400
DAWN = datetime(1, 1, 1)  # where the first bucket starts (kamlab.features.Calendar)


@dataclass(frozen=True)
class Layout:
    """What the compiled query depends on: the optional inputs present (they decide which
    columns exist) and the shape of the calendar. Equal layouts share one compiled query.

    ``kinds`` are the :data:`INTERACTION_KINDS` present in the interactions table and
    ``criteria`` the sorted assessment criteria, both over the whole table (not only before a
    cutoff), so the columns are the same at every cutoff.
    """

    transactions: tuple[str, ...] = ()  # optional columns present: product, category, cost
    accounts: tuple[str, ...] = ()  # acquired_on, churned_on and the attributes present
    interactions: bool = False
    interaction_value: bool = False
    kinds: tuple[str, ...] = ()
    criteria: tuple[str, ...] = ()
    ordered: bool = False  # accounts carry ``_pos``, their row order
    #: a look-back window spans several buckets / there are several cutoffs; when not, the
    #: previous / next occurrence is always NULL and the query skips those window functions
    split_lookback: bool = True
    split_history: bool = True
    schemas: str = ""  # the input column types, when they shape the compiled text

    @classmethod
    def of(
        cls,
        tx_columns: Iterable[str],
        account_columns: Iterable[str],
        interaction_columns: Iterable[str] | None = None,
        kinds: Iterable = (),
        criteria: Iterable = (),
    ) -> Layout:
        """The layout of tables with these columns, interaction kinds and criteria.

        >>> layout = Layout.of(["account_id", "date", "amount", "cost"], ["account_id", "region"])
        >>> layout.columns()[9:12]
        ['gross_margin_12m', 'credit_note_share_12m', 'region']
        """
        tx_columns, account_columns = set(tx_columns), set(account_columns)
        lower = {str(k).lower() for k in kinds if k is not None and not pd.isna(k)}
        optional_accounts = ("acquired_on", "churned_on", *ACCOUNT_ATTRIBUTES)
        return cls(
            transactions=tuple(c for c in ("product", "category", "cost") if c in tx_columns),
            accounts=tuple(c for c in optional_accounts if c in account_columns),
            interactions=interaction_columns is not None,
            interaction_value=interaction_columns is not None and "value" in interaction_columns,
            kinds=tuple(k for k in INTERACTION_KINDS if k in lower),
            criteria=tuple(sorted({str(c) for c in criteria if c is not None})),
            ordered="_pos" in account_columns,
        )

    @property
    def attributes(self) -> tuple[str, ...]:
        return tuple(c for c in ACCOUNT_ATTRIBUTES if c in self.accounts)

    def columns(self) -> list[str]:
        """The result's columns after ``account_id``, in the order of ``account_features``."""
        names = {
            "product": "products_12m",
            "category": "categories_12m",
            "cost": "gross_margin_12m",
        }
        cols = [
            "revenue_12m",
            "revenue_prev_12m",
            "revenue_total",
            "revenue_share",
            "revenue_growth_12m",
            "orders_12m",
            "order_frequency",
            "recency_days",
            "tenure_days",
            *(names[c] for c in self.transactions),
            "credit_note_share_12m",
        ]
        if "support_ticket" in self.kinds:
            cols += ["support_tickets_12m", "support_hours_12m", "cost_to_serve"]
        cols += [c for k, c in (("qbr", "qbr_12m"), ("nps", "nps")) if k in self.kinds]
        cols += [f"score_{c}" for c in self.criteria]
        return [*cols, *self.attributes, *OUTCOME_COLUMNS]


# ------------------------------------------------------------------------------ small helpers
def _f(value: float) -> ir.FloatingScalar:
    """A float64 literal (a bare ``0.0`` is a decimal on Spark)."""
    return ibis.literal(value, type="float64")


def _null() -> ir.FloatingScalar:
    return ibis.null().cast("float64")


def _num(column) -> ir.FloatingColumn:
    """A float column with NULL for missing (an aggregate over no rows) replaced by 0.
    Cast first, then fill: filling an integer count with a float literal types it as a decimal on
    some engines."""
    return column.cast("float64").fill_null(_f(0.0))


def _valid(value) -> ir.BooleanColumn:
    return value.notnull() & ~value.isnan()


def _ratio(num, den, ok) -> ir.FloatingColumn:
    """``num / den`` where ``ok``, else NULL; the division never sees the excluded rows."""
    return ibis.ifelse(ok, num / ibis.ifelse(ok, den, _f(1.0)), _null())


def _log_ratio(num, den) -> ir.FloatingColumn:
    ok = (num > 0) & (den > 0)
    return ibis.ifelse(
        ok, (ibis.ifelse(ok, num, _f(1.0)) / ibis.ifelse(ok, den, _f(1.0))).ln(), _null()
    )


def _positive(value) -> ir.FloatingColumn:
    return ibis.ifelse(value > 0, value, _f(0.0))


def _days_between(later, earlier) -> ir.FloatingColumn:
    """Days from ``earlier`` to ``later`` as a float (exact for whole seconds)."""
    seconds = later.epoch_seconds().cast("float64") - earlier.epoch_seconds().cast("float64")
    return seconds / _SECONDS_PER_DAY


def _attach(base: ir.Table, other: ir.Table, keys: Sequence[str]) -> ir.Table:
    """Left-join ``other``'s value columns onto ``base`` by ``keys``."""
    values = [c for c in other.columns if c not in keys]
    joined = base.left_join(other, [base[k] == other[k] for k in keys])
    return joined.select(*base.columns, *values)


# ------------------------------------------------------------------------------ inputs
def _events(tables: Mapping[str, ir.Table | None], layout: Layout) -> ir.Table:
    """Transactions and counted interactions as one stream: ``account_id``, ``t``, ``amount``,
    ``cost`` when present (NULL for interactions), ``kind`` and ``value`` when tickets or QBRs
    are counted (NULL for transactions)."""
    raw = tables["transactions"]
    assert raw is not None
    cols: dict[str, Any] = {
        "account_id": raw.account_id.cast("string"),
        "t": raw.date.cast("timestamp"),
        "amount": raw.amount.cast("float64"),
    }
    if "cost" in layout.transactions:
        cols["cost"] = raw.cost.cast("float64")
    counted = [k for k in ("support_ticket", "qbr") if k in layout.kinds]
    if not counted:
        return raw.select(**cols)
    tx = raw.select(**cols, kind=ibis.null().cast("string"), value=_null())
    inter = _interactions(tables, layout)
    inter = inter.filter(inter.kind.isin(counted))
    extra = {"cost": _null()} if "cost" in layout.transactions else {}
    return ibis.union(
        tx, inter.select("account_id", "t", amount=_null(), **extra, kind="kind", value="value")
    )


def _interactions(tables: Mapping[str, ir.Table | None], layout: Layout) -> ir.Table:
    raw = tables["interactions"]
    assert raw is not None
    return raw.select(
        account_id=raw.account_id.cast("string"),
        t=raw.date.cast("timestamp"),
        kind=raw.kind.cast("string").lower(),
        value=raw.value.cast("float64") if layout.interaction_value else _null(),
    )


def _purchase_keys(tables: Mapping[str, ir.Table | None], layout: Layout) -> ir.Table:
    """Purchases (amount > 0) as ``account_id``, ``t``, ``what``, ``day`` and ``key``: one row
    per purchase day (``what`` = 0, ``day`` set), product (1) and category (2, ``key`` set),
    for the distinct counts."""
    raw = tables["transactions"]
    assert raw is not None
    bought = raw.filter(raw.amount.cast("float64") > 0)
    account_id, t = bought.account_id.cast("string"), bought.date.cast("timestamp")
    no_day, no_key = ibis.null().cast("date"), ibis.null().cast("string")
    streams = [
        bought.select(
            account_id=account_id, t=t, what=ibis.literal(0, "int8"), day=t.date(), key=no_key
        )
    ]
    for what, col in ((1, "product"), (2, "category")):
        if col in layout.transactions:
            part = bought.select(
                account_id=account_id,
                t=t,
                what=ibis.literal(what, "int8"),
                day=no_day,
                key=bought[col].cast("string"),
            )
            streams.append(part.filter(part.key.notnull()))
    return ibis.union(*streams)


def _latest_values(tables: Mapping[str, ir.Table | None], layout: Layout) -> ir.Table | None:
    """NPS answers (``what`` = 0; several at one instant count as their mean) and assessment
    scores (``what`` = 1, ``key`` the criterion) as ``account_id``, ``what``, ``key``, ``t``,
    ``value``."""
    streams = []
    if "nps" in layout.kinds:
        inter = _interactions(tables, layout)
        nps = inter.filter((inter.kind == "nps") & _valid(inter.value))
        nps = nps.group_by(["account_id", "t"]).aggregate(value=nps.value.mean())
        streams.append(
            nps.select(
                "account_id",
                what=ibis.literal(0, "int8"),
                key=ibis.literal("nps"),
                t="t",
                value="value",
            )
        )
    if layout.criteria:
        raw = tables["assessments"]
        assert raw is not None
        # (account, criterion, assessed_on) is unique by contract: no tie to break.
        streams.append(
            raw.select(
                account_id=raw.account_id.cast("string"),
                what=ibis.literal(1, "int8"),
                key=raw.criterion.cast("string"),
                t=raw.assessed_on.cast("timestamp"),
                value=raw.score.cast("float64"),
            )
        )
    return ibis.union(*streams) if streams else None


def _accounts(raw: ir.Table, layout: Layout) -> ir.Table:
    cols: dict[str, Any] = {"account_id": raw.account_id.cast("string")}
    if "acquired_on" in layout.accounts:
        cols["_acq"] = raw.acquired_on.cast("timestamp")
    if "churned_on" in layout.accounts:
        cols["_churn"] = raw.churned_on.cast("timestamp")
    cols.update({c: raw[c].cast("string") for c in layout.attributes})
    if layout.ordered:
        cols["_pos"] = raw._pos.cast("int64")
    return raw.select(**cols)


def _calendar(tables: Mapping[str, ir.Table]) -> dict[str, ir.Table]:
    """The calendar tables with the column types the expression relies on."""
    cuts, windows = tables["cutoffs"], tables["windows"]
    cuts = cuts.select(
        _k=cuts._k.cast("int64"),
        cutoff=cuts.cutoff.cast("timestamp"),
        future_end=cuts.future_end.cast("timestamp"),
        months=cuts.months.cast("float64"),
        grow_factor=cuts.grow_factor.cast("float64"),
    )
    spans = {
        name: tables[name].select(
            day=tables[name].day.cast("date"),
            lo=tables[name].lo.cast("timestamp"),
            start=tables[name].start.cast("timestamp"),
            end=tables[name].end.cast("timestamp"),
        )
        for name in ("days", "lookback_days", "segment_days")
    }
    edges = tables["edges"].select(
        _first_bucket=tables["edges"].first_bucket.cast("timestamp"),
        _first_segment=tables["edges"].first_segment.cast("timestamp"),
    )
    flags = ("before", "recent", "previous", "base", "future")
    windows = windows.select(
        _k=windows._k.cast("int64"),
        lo=windows.lo.cast("timestamp"),
        recent_start=windows.recent_start.cast("timestamp"),
        **{f: windows[f].cast("boolean") for f in flags},
    )
    return {"cutoffs": cuts, "windows": windows, "edges": edges, **spans}


def _bucketed(table: ir.Table, days: ir.Table, first: ir.Column | None = None) -> ir.Table:
    """Each row with the start (``lo``) of the bucket holding its time ``t``: an equi-join on
    the row's date with the buckets' day pieces (no range join, no sort). With ``first`` (the
    first bucket's end, a column of a one-row table), rows before it fall in the first bucket,
    which starts at dawn; rows after the last bucket are dropped."""
    on = [table.t.date() == days.day, table.t >= days.start, table.t < days.end]
    if first is None:
        return table.join(days, on).select(*table.columns, "lo")
    edge = first.as_table()
    joined = table.cross_join(edge).left_join(days, on)
    dawn = ibis.literal(DAWN, type="timestamp")
    lo = ibis.ifelse(joined.lo.isnull() & (joined.t < joined[first.get_name()]), dawn, joined.lo)
    out = joined.select(*table.columns, lo=lo)
    return out.filter(out.lo.notnull())


# ------------------------------------------------------------------------------ the definition
def features_expr(
    tables: Mapping[str, ir.Table | None],
    calendar: Mapping[str, ir.Table],
    layout: Layout,
) -> ir.Table:
    """Every as-of feature and outcome at every cutoff, as one Ibis expression.

    Parameters
    ----------
    tables : mapping of str to ibis.Table
        The contract tables by name (``transactions``, ``accounts`` and, when ``layout`` uses
        them, ``interactions`` and ``assessments``), with the column names of
        :mod:`kamlab.data`; dates may be dates, timestamps or ISO strings, ids and labels
        anything castable to text.
    calendar : mapping of str to ibis.Table
        The tables of a :class:`Calendar` (``Calendar.tables()``) on the same backend.
    layout : Layout
        The optional columns, interaction kinds and criteria present (decides the columns).

    Returns
    -------
    ibis.Table
        Unevaluated; one row per (cutoff, account in the population at it) with ``_k`` (the
        cutoff's position), ``account_id``, ``_pos`` when ``layout.ordered``, then
        ``layout.columns()``; rows unordered.

    Examples
    --------
    >>> import ibis
    >>> from kamlab.features import Calendar
    >>> layout = Layout.of(["account_id", "date", "amount"], ["account_id"])
    >>> tables = {
    ...     "transactions": ibis.table(
    ...         {"account_id": "string", "date": "date", "amount": "float64"}, name="tx"
    ...     ),
    ...     "accounts": ibis.table({"account_id": "string"}, name="acc"),
    ... }
    >>> cal = Calendar.of(["2024-01-01"], 365, 365, 0.1)
    >>> calendar = {k: ibis.memtable(v) for k, v in cal.tables().items()}
    >>> expr = features_expr(tables, calendar, layout)
    >>> expr.columns[:4]
    ('_k', 'account_id', 'revenue_12m', 'revenue_prev_12m')
    >>> "revenue_share" in ibis.to_sql(expr, dialect="snowflake")
    True
    """
    cal = _calendar(calendar)
    cuts, windows = cal["cutoffs"], cal["windows"]
    recent = windows.filter(windows.recent)
    keys = ["_k", "account_id"]

    # Sums, counts, first and last dates: per (account, bucket), then per (cutoff, account).
    ev = _bucketed(_events(tables, layout), cal["days"], cal["edges"]._first_bucket)
    is_tx = ev.amount.notnull()
    purchase = ev.amount > 0
    aggs: dict[str, Any] = {
        "_amount": ev.amount.sum(),
        "_gross": ev.amount.sum(where=purchase),
        "_credit": ev.amount.sum(where=ev.amount <= 0),
        "_n_purchases": ev.amount.count(where=purchase),
        "_first": ev.t.min(where=is_tx),
        "_last": ev.t.max(where=purchase),
    }
    if "cost" in layout.transactions:
        with_cost = _valid(ev.cost)
        aggs.update(_rev_c=ev.amount.sum(where=with_cost), _cost_c=ev.cost.sum(where=with_cost))
    if "support_ticket" in layout.kinds:
        ticket = ev.kind == "support_ticket"
        aggs.update(
            _tickets=ev.t.count(where=ticket), _hours=ev.value.sum(where=ticket & _valid(ev.value))
        )
    if "qbr" in layout.kinds:
        aggs["_qbr"] = ev.t.count(where=ev.kind == "qbr")
    per_bucket = ev.group_by(["account_id", "lo"]).aggregate(**aggs)
    # Several cutoffs: "everything before c" is a running total over the buckets (read at the
    # last bucket before each cutoff), so each bucket joins only the bounded windows it is in.
    bounded = windows.recent | windows.previous | windows.base | windows.future
    w = per_bucket.join(windows.filter(bounded) if layout.split_history else windows, "lo")
    sums: dict[str, Any] = {
        "_r12": w._amount.sum(where=w.recent),
        "_rprev": w._amount.sum(where=w.previous),
        "_base": w._amount.sum(where=w.base),
        "_future": w._amount.sum(where=w.future),
        "_bought": w._n_purchases.sum(where=w.future),
    }
    sums.update(
        (name, w[name].sum(where=w.recent))
        for name in ("_gross", "_credit", "_rev_c", "_cost_c", "_tickets", "_hours", "_qbr")
        if name in aggs
    )
    if not layout.split_history:
        sums.update(
            _rtotal=w._amount.sum(where=w.before),
            _first=w._first.min(where=w.before),
            _last=w._last.max(where=w.before),
        )
    per_cutoff = w.group_by(keys).aggregate(**sums)

    # Distinct purchase days, products and categories in the look-back window: a key counts in
    # the bucket where it first occurs inside the window (its previous bucket is before it).
    item = ["account_id", "what", "day", "key"]
    present = (
        _bucketed(_purchase_keys(tables, layout), cal["lookback_days"])
        .select(*item, "lo")
        .distinct()
    )
    if layout.split_lookback:
        order = ibis.window(group_by=[present[c] for c in item], order_by=present.lo)
        present = present.mutate(prev=present.lo.lag().over(order))
    else:  # one look-back bucket: no key occurs earlier in its window
        present = present.mutate(prev=ibis.null().cast("timestamp"))
    firsts = present.group_by(["account_id", "lo", "what", "prev"]).aggregate(n=ibis._.count())
    d = firsts.join(recent, "lo")
    first_in_window = d.prev.isnull() | (d.prev < d.recent_start)
    counted = [("_orders", 0)] + [
        (f"_{name}", what)
        for what, col, name in ((1, "product", "products"), (2, "category", "categories"))
        if col in layout.transactions
    ]
    distinct = d.group_by(keys).aggregate(
        **{name: d.n.sum(where=first_in_window & (d.what == what)) for name, what in counted}
    )

    acc = _accounts(tables["accounts"], layout)
    j = acc.cross_join(cuts)
    j = _attach(j, per_cutoff, keys)
    if layout.split_history:
        j = _attach(j, _before(per_bucket, cuts), keys)
    j = _attach(j, distinct, keys)
    latest = _latest_values(tables, layout)
    if latest is not None:
        j = _attach(j, _latest_before(latest, cal, layout), keys)
    # revenue_share's denominator: the portfolio's positive look-back revenue at each cutoff,
    # an aggregate joined back (a whole-table window would put every row in one partition).
    known = per_cutoff.semi_join(acc, "account_id")
    total = known.group_by("_k").aggregate(_total=_positive(_num(known._r12)).sum())
    j = _attach(j, total, ["_k"])
    return _finish(j, layout)


def _before(per_bucket: ir.Table, cuts: ir.Table) -> ir.Table:
    """Per (cutoff, account): amount, first transaction and last purchase before the cutoff, as
    running aggregates over the account's buckets read at its last bucket before the cutoff."""
    running = ibis.cumulative_window(group_by=per_bucket.account_id, order_by=per_bucket.lo)
    following = ibis.window(group_by=per_bucket.account_id, order_by=per_bucket.lo)
    run = per_bucket.select(
        "account_id",
        "lo",
        _rtotal=per_bucket._amount.sum().over(running),
        _first=per_bucket._first.min().over(running),
        _last=per_bucket._last.max().over(running),
        next_lo=per_bucket.lo.lead().over(following),
    )
    at = run.join(cuts, [run.lo < cuts.cutoff, run.next_lo.isnull() | (run.next_lo >= cuts.cutoff)])
    return at.select("_k", "account_id", "_rtotal", "_first", "_last")


def _latest_before(values: ir.Table, cal: Mapping[str, ir.Table], layout: Layout) -> ir.Table:
    """Per (cutoff, account): the latest NPS and score of each criterion before the cutoff.

    Per (account, segment between two cutoffs): one column per key with its value at the
    segment's latest time; then, over the account's segments in order, the latest segment with
    a value of each key (a running arg-max). Cutoff c reads the account's last segment before
    it: that segment starts before c (so ends at or before it), the next one at or after c."""
    v = _bucketed(values, cal["segment_days"], cal["edges"]._first_segment)
    keys = [("_nps", v.what == 0)] if "nps" in layout.kinds else []
    keys += [(f"_score_{i}", (v.what == 1) & (v.key == c)) for i, c in enumerate(layout.criteria)]
    wide = v.group_by(["account_id", "lo"]).aggregate(
        **{name: v.value.argmax(v.t, where=is_key) for name, is_key in keys}
    )
    if layout.split_history:
        running = ibis.cumulative_window(group_by=wide.account_id, order_by=wide.lo)
        following = ibis.window(group_by=wide.account_id, order_by=wide.lo)
        latest = {
            name: wide[name].argmax(ibis.ifelse(wide[name].notnull(), wide.lo, None)).over(running)
            for name, _ in keys
        }
        wide = wide.select("account_id", "lo", **latest, next_lo=wide.lo.lead().over(following))
    else:  # one segment: nothing comes after it
        wide = wide.mutate(next_lo=ibis.null().cast("timestamp"))
    cuts = cal["cutoffs"]
    j = wide.join(
        cuts, [wide.lo < cuts.cutoff, wide.next_lo.isnull() | (wide.next_lo >= cuts.cutoff)]
    )
    return j.select("_k", "account_id", *(name for name, _ in keys))


def _finish(j: ir.Table, layout: Layout) -> ir.Table:
    """Every formula of the result, the population filter and the column order."""
    cut = j.cutoff
    r12, rprev = _num(j._r12), _num(j._rprev)
    first, last = j._first, j._last
    if "acquired_on" in layout.accounts:
        acq = j._acq
        acquired = ibis.ifelse(
            acq.isnull(), first, ibis.ifelse(first.isnull() | (acq <= first), acq, first)
        )
    else:
        acquired = first
    orders = _num(j._orders)
    gross, total = _num(j._gross), j._total
    cols: dict[str, Any] = {
        "revenue_12m": r12,
        "revenue_prev_12m": rprev,
        "revenue_total": _num(j._rtotal),
        "revenue_share": _ratio(_positive(r12), total, total > 0).fill_null(_f(0.0)),
        "revenue_growth_12m": _log_ratio(r12, rprev),
        "orders_12m": orders,
        "order_frequency": orders / j.months,
        "recency_days": _days_between(cut, last),
        "tenure_days": _days_between(cut, acquired),
    }
    if "product" in layout.transactions:
        cols["products_12m"] = _num(j._products)
    if "category" in layout.transactions:
        cols["categories_12m"] = _num(j._categories)
    if "cost" in layout.transactions:
        rev_c, cost_c = _num(j._rev_c), _num(j._cost_c)
        cols["gross_margin_12m"] = _ratio(rev_c - cost_c, rev_c, rev_c > 0)
    cols["credit_note_share_12m"] = _ratio(_f(0.0) - _num(j._credit), gross, gross > 0)
    if "support_ticket" in layout.kinds:
        hours = _num(j._hours)
        cols["support_tickets_12m"] = _num(j._tickets)
        cols["support_hours_12m"] = hours
        cols["cost_to_serve"] = _ratio(hours, r12 / 1000, r12 > 0)
    if "qbr" in layout.kinds:
        cols["qbr_12m"] = _num(j._qbr)
    if "nps" in layout.kinds:
        cols["nps"] = j._nps.cast("float64")
    for i, c in enumerate(layout.criteria):
        cols[f"score_{c}"] = j[f"_score_{i}"].cast("float64")
    cols.update({c: j[c] for c in layout.attributes})

    # Outcomes, strictly from the cutoff on.
    base, future = _num(j._base), _num(j._future)
    pos_base, pos_future = _positive(base), _positive(future)
    mean = (pos_base + pos_future) / 2
    if "churned_on" in layout.accounts:
        churn = j._churn
        recorded = (churn >= cut) & (churn < j.future_end)
        churned_before = churn < cut
    else:
        recorded = churned_before = ibis.literal(False)
    cols.update(
        base_revenue=base,
        future_revenue=future,
        log_growth=_log_ratio(future, base),
        growth_dh=_ratio(pos_future - pos_base, mean, mean > 0),
        grew=future > base * j.grow_factor,
        churned=recorded.fill_null(False) | (j._bought.fill_null(0) == 0),
    )
    population = (
        first.notnull() & (first < cut) & acquired.notnull() & (acquired < cut)
    ) & ~churned_before.fill_null(False)
    keys = ["_k", "account_id"] + (["_pos"] if layout.ordered else [])
    out = j.filter(population.fill_null(False)).select(*keys, **cols)
    assert list(out.columns[len(keys) :]) == layout.columns(), "column order drifted"
    return out
