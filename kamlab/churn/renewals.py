"""Renewal cohorts: how many accounts of each acquisition year are still active at each
renewal, the input of the shifted-beta-geometric model (:class:`kamlab.clv.ShiftedBetaGeometric`).

- :func:`renewal_survivors` builds the cohort table from an ``accounts`` table
  (``acquired_on``, ``churned_on``), counting only what is exactly known;
- :func:`renewal_cohorts` is the run's table as of the review date, or the reason there is
  none (no churn dates, too little history);
- :func:`describe_cohorts` and :func:`plot_renewal_cohorts` (a heatmap, blank where a count is
  not known) report it.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np
import pandas as pd

from kamlab import fmt
from kamlab._plot import axes, finish
from kamlab.churn.survival import CHURN_DATE_COLUMNS, _account_dates, _check_dates, has_churn_dates

__all__ = [
    "RenewalCohorts",
    "describe_cohorts",
    "plot_renewal_cohorts",
    "renewal_cohorts",
    "renewal_survivors",
]

_DAY = pd.Timedelta(days=1)


@dataclass(frozen=True)
class RenewalCohorts:
    """The result of :func:`renewal_survivors`, the input of
    :class:`kamlab.clv.ShiftedBetaGeometric` (``fit`` accepts it as it is).

    Attributes
    ----------
    table : DataFrame
        Index ``cohort`` (acquisition year), columns periods 0..n: accounts alive at the start
        of each period (nullable integers, missing where not exactly observed).
    period_days : int
    as_of : str
        ISO date up to which churn is known.
    observed_from : str or None
        ISO date from which churn is recorded (None: since acquisition).
    n_accounts : dict
        Accounts per cohort.
    skipped : str or None
        Why there are no cohorts to fit (:func:`renewal_cohorts`); ``table`` is then empty.
    """

    table: pd.DataFrame
    period_days: int
    as_of: str
    observed_from: str | None
    n_accounts: dict[int, int]
    skipped: str | None = None


def renewal_survivors(
    accounts: pd.DataFrame,
    period_days: int = 365,
    as_of=None,
    cohort_col: str = "acquired_on",
    churn_col: str = "churned_on",
    *,
    observed_from=None,
    account_col: str = "account_id",
) -> RenewalCohorts:
    """Accounts alive at the start of each renewal period, per acquisition-year cohort.

    Period k of an account starts ``k * period_days`` days after its acquisition (its k-th
    renewal); it is alive at the start of period k when it has no churn date on or before
    that day. A cohort's count at period k is reported only when it is exact:

    - right censoring: every member's k-th renewal is on or before ``as_of``;
    - left truncation: with ``observed_from`` (the first day churn was recorded, e.g. the
      data start; accounts that left earlier are absent from the table), every member's k-th
      renewal is on or after it.

    Parameters
    ----------
    accounts : DataFrame
        One row per account with acquisition and (optional, NaT = still active) churn dates.
    period_days : int
        Length of a renewal period in days.
    as_of : date-like, optional
        Date up to which churn is known (default: the latest date in the two columns).
    cohort_col, churn_col : str
        Acquisition and churn date columns.
    observed_from : date-like, optional
        First date from which churn is recorded (default: churn is known since acquisition).

    Returns
    -------
    RenewalCohorts
        ``table``: index ``cohort`` (acquisition year), columns periods 0..n (nullable
        integers, missing where not exactly observed); accounts acquired after ``as_of`` are
        left out. Fit the sBG model with ``kamlab.clv.ShiftedBetaGeometric().fit(cohorts)``.

    Examples
    --------
    >>> accounts = pd.DataFrame({
    ...     "account_id": ["A", "B", "C", "D"],
    ...     "acquired_on": pd.to_datetime(["2020-01-10", "2020-03-01", "2020-06-01", "2021-02-01"]),
    ...     "churned_on": pd.to_datetime([None, "2021-05-01", "2022-01-15", None])})
    >>> cohorts = renewal_survivors(accounts, 365, as_of="2023-06-30")
    >>> cohorts.table
    period  0  1  2  3
    cohort
    2020    3  3  1  1
    2021    1  1  1  <NA>
    >>> cohorts.n_accounts
    {2020: 3, 2021: 1}
    """
    if int(period_days) != period_days or period_days <= 0:
        raise ValueError(f"period_days must be a positive whole number of days, got {period_days}")
    d = _account_dates(accounts, [cohort_col, churn_col], account_col)
    _check_dates(d, cohort_col, churn_col)
    as_of = (
        pd.Timestamp(as_of)
        if as_of is not None
        else max(
            d[cohort_col].max(),
            d[churn_col].max() if d[churn_col].notna().any() else d[cohort_col].max(),
        )
    )
    as_of = as_of.normalize()
    d = d[d[cohort_col] <= as_of]
    if d.empty:
        raise ValueError(f"no account acquired on or before as_of {as_of.date()}")
    start = pd.Timestamp(observed_from).normalize() if observed_from is not None else None
    late = d[churn_col] > as_of
    churn_day = d[churn_col].where(~late)
    if start is not None and (churn_day < start).any():
        raise ValueError(f"some {churn_col!r} dates are before observed_from {start.date()}")
    span = int(((as_of - d[cohort_col].min()) / pd.Timedelta(days=1)) // period_days)
    step = pd.Timedelta(days=int(period_days))
    cohort = d[cohort_col].dt.year.rename("cohort")
    rows = {}
    for year, members in d.groupby(cohort, sort=True):
        acq = members[cohort_col]
        gone = churn_day.loc[members.index]
        counts = {}
        for k in range(span + 1):
            renewal = acq + k * step
            if renewal.max() > as_of:
                break
            if start is not None and renewal.min() < start:
                counts[k] = pd.NA
                continue
            counts[k] = len(members) if k == 0 else int((gone.isna() | (gone > renewal)).sum())
        rows[int(year)] = counts
    out = pd.DataFrame.from_dict(rows, orient="index").reindex(columns=range(span + 1))
    seen = np.flatnonzero(out.notna().any(axis=0).to_numpy())
    out = out.iloc[:, : (seen[-1] + 1 if seen.size else 1)].astype("Int64")  # columns stay 0..n
    out.index.name = "cohort"
    out.columns.name = "period"
    return RenewalCohorts(
        table=out,
        period_days=int(period_days),
        as_of=as_of.date().isoformat(),
        observed_from=None if start is None else start.date().isoformat(),
        n_accounts={int(k): int(v) for k, v in cohort.value_counts().sort_index().items()},
    )


def _empty(period_days: int, as_of: pd.Timestamp, reason: str) -> RenewalCohorts:
    table = pd.DataFrame(index=pd.Index([], name="cohort", dtype="int64"), dtype="Int64")
    table.columns.name = "period"
    return RenewalCohorts(table, int(period_days), as_of.date().isoformat(), None, {}, reason)


def _fit_ready(table: pd.DataFrame) -> bool:
    """Some cohort has two consecutive known counts, the first positive (what sBG needs)."""
    values = table.to_numpy(dtype=float, na_value=np.nan)
    known = ~np.isnan(values)
    pairs = known[:, :-1] & known[:, 1:] & (np.nan_to_num(values[:, :-1]) > 0)
    return bool(pairs.any())


def renewal_cohorts(dataset, timeline, period_days: int = 365) -> RenewalCohorts:
    """The run's renewal cohorts: :func:`renewal_survivors` of the accounts table with churn
    known up to the day before ``timeline.as_of`` and recorded from the data start (or the
    earliest recorded churn, if that is earlier).

    Returns a :class:`RenewalCohorts` whose ``skipped`` says why there is nothing to fit when
    the accounts table has no acquisition and churn dates, or no cohort is known at two
    consecutive renewals.

    Examples
    --------
    >>> from types import SimpleNamespace
    >>> from kamlab.timeline import Timeline
    >>> timeline = Timeline.from_data("2021-01-01", "2023-06-30")
    >>> plain = SimpleNamespace(accounts=pd.DataFrame({"account_id": ["A"], "region": ["n"]}))
    >>> renewal_cohorts(plain, timeline).skipped
    'the accounts table records no acquisition and churn dates (acquired_on, churned_on)'
    >>> dated = SimpleNamespace(accounts=pd.DataFrame({
    ...     "account_id": ["A", "B", "C"],
    ...     "acquired_on": pd.to_datetime(["2021-02-01", "2021-03-01", "2021-05-01"]),
    ...     "churned_on": pd.to_datetime([None, "2022-06-01", None])}))
    >>> renewal_cohorts(dated, timeline).table
    period  0  1  2
    cohort
    2021    3  3  2
    """
    as_of = timeline.as_of - _DAY
    if not has_churn_dates(dataset.accounts):
        return _empty(
            period_days,
            as_of,
            "the accounts table records no acquisition and churn dates "
            f"({', '.join(CHURN_DATE_COLUMNS)})",
        )
    churned = pd.to_datetime(dataset.accounts[CHURN_DATE_COLUMNS[1]])
    first = churned[churned <= as_of].min()
    observed_from = min(timeline.data_start, first) if pd.notna(first) else timeline.data_start
    cohorts = renewal_survivors(
        dataset.accounts, period_days, as_of=as_of, observed_from=observed_from
    )
    if not _fit_ready(cohorts.table):
        return replace(
            cohorts,
            skipped=f"no cohort is observed at two consecutive renewals between "
            f"{observed_from.date()} and {as_of.date()}",
        )
    return cohorts


def _unit(period_days: int) -> str:
    return {365: "years", 366: "years", 7: "weeks", 1: "days"}.get(
        period_days, f"periods of {period_days} days"
    )


def describe_cohorts(cohorts: RenewalCohorts) -> str:
    """What the cohort table holds and why cells are blank (Markdown).

    Examples
    --------
    >>> accounts = pd.DataFrame({
    ...     "account_id": ["A", "B", "C", "D"],
    ...     "acquired_on": pd.to_datetime(["2020-01-10", "2020-03-01", "2020-06-01", "2021-02-01"]),
    ...     "churned_on": pd.to_datetime([None, "2021-05-01", "2022-01-15", None])})
    >>> print(describe_cohorts(renewal_survivors(accounts, 365, as_of="2023-06-30")))
    4 accounts in 2 acquisition-year cohorts (2020 to 2021). A cell counts a cohort's accounts still active at its n-th renewal (every 365 days after acquisition); 7 of 8 cells are known, the others are blank: renewals after 2023-06-30 are not yet due.
    """
    if cohorts.skipped:
        return f"Renewal cohorts were not built: {cohorts.skipped}."
    table = cohorts.table
    known = int(table.notna().to_numpy().sum())
    why = [f"renewals after {cohorts.as_of} are not yet due"]
    if cohorts.observed_from is not None:
        why.insert(
            0,
            f"renewals before {cohorts.observed_from} are not counted, because accounts that "
            "left before then are not in the data",
        )
    return (
        f"{fmt.count(sum(cohorts.n_accounts.values()))} accounts in "
        f"{fmt.count(len(table))} acquisition-year cohorts ({table.index.min()} to "
        f"{table.index.max()}). A cell counts a cohort's accounts still active at its n-th "
        f"renewal (every {cohorts.period_days} days after acquisition); {fmt.count(known)} of "
        f"{fmt.count(table.size)} cells are known, the others are blank: " + "; ".join(why) + "."
    )


def plot_renewal_cohorts(cohorts: RenewalCohorts, ax=None, *, title: str | None = None):
    """Heatmap of the cohort table: one row per acquisition year, one column per renewal, each
    known cell coloured by the share of the cohort's first known count still active and
    labelled with the number of accounts; cells that are not known stay blank.

    Examples
    --------
    >>> accounts = pd.DataFrame({
    ...     "account_id": ["A", "B", "C", "D"],
    ...     "acquired_on": pd.to_datetime(["2020-01-10", "2020-03-01", "2020-06-01", "2021-02-01"]),
    ...     "churned_on": pd.to_datetime([None, "2021-05-01", "2022-01-15", None])})
    >>> ax = plot_renewal_cohorts(renewal_survivors(accounts, 365, as_of="2023-06-30"))
    >>> sorted(t.get_text() for t in ax.texts)
    ['1', '1', '1', '1', '1', '3', '3']
    """
    if cohorts.skipped or cohorts.table.empty:
        raise ValueError(f"no renewal cohorts to plot: {cohorts.skipped or 'the table is empty'}")
    import matplotlib as mpl

    table = cohorts.table
    counts = table.to_numpy(dtype=float, na_value=np.nan)
    first = pd.DataFrame(counts).bfill(axis=1).iloc[:, 0].to_numpy()
    with np.errstate(divide="ignore", invalid="ignore"):
        share = 100 * counts / first[:, None]
    ax = axes(ax, figsize=(max(6.0, 0.6 * table.shape[1] + 2.5), max(3.0, 0.4 * len(table) + 1.5)))
    cmap = mpl.colormaps["Blues"].with_extremes(bad="white")
    image = ax.imshow(np.ma.masked_invalid(share), cmap=cmap, vmin=0, vmax=100, aspect="auto")
    for (i, j), value in np.ndenumerate(counts):
        if not np.isnan(value):
            dark = share[i, j] > 60
            ax.text(
                j,
                i,
                fmt.count(value),
                ha="center",
                va="center",
                fontsize=8,
                color="white" if dark else "black",
            )
    ax.set_xticks(range(table.shape[1]), [str(c) for c in table.columns])
    ax.set_yticks(range(len(table)), [str(c) for c in table.index])
    ax.figure.colorbar(image, ax=ax, label="share of the first known count (%)")
    return finish(
        ax,
        title=title or "Accounts still active at each renewal, by acquisition year",
        xlabel=f"renewals since acquisition ({_unit(cohorts.period_days)})",
        ylabel="acquisition year",
        legend=False,
    )
