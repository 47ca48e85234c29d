"""One timeline per run: every date an analysis uses, derived from the data and three parameters.

kamlab's analyses look at a portfolio at two kinds of dates:

* **as of** the review date ``as_of`` (by default the day after the last transaction):
  descriptive views — concentration, tiers and types, the review, the at-risk list, CLV
  valuation — use every row dated before it;
* **at outcome cutoffs**: analyses that judge a method by what happened next (growth drivers,
  churn models, the back-test, holdout checks) need an outcome window of ``horizon_days`` that
  is complete before ``as_of``. The latest such cutoff is ``outcome_cutoff`` (the first day of
  the month on or before ``as_of - horizon_days``); the back-test steps back from it, and
  models train on quarterly cutoffs whose windows closed before the date they are applied at.

The previous review is ``as_of - review_interval``. All of it comes from :class:`Timeline`,
built once per run from the data and the run's parameters, so every notebook of a run uses
the same dates and a refresh on newer data moves every date with the data.

>>> tl = Timeline.from_data("2022-01-01", "2024-12-31")
>>> print(tl.as_of.date(), tl.horizon_days, tl.outcome_cutoff.date(), tl.previous_review.date())
2025-01-01 365 2024-01-01 2024-07-01
>>> [str(c.date()) for c in tl.backtest_cutoffs]
['2023-01-01', '2023-07-01', '2024-01-01']
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

import pandas as pd

__all__ = [
    "DEFAULT_HORIZON_DAYS",
    "InsufficientHistory",
    "Timeline",
    "parse_date",
    "parse_horizon",
    "parse_interval",
]

DEFAULT_HORIZON_DAYS = 365
DEFAULT_REVIEW_INTERVAL = "6M"
DEFAULT_BACKTEST_STEP = "6M"
#: History a cutoff needs when the data are too short for a full look-back year.
SHORT_DATA_HISTORY_DAYS = 90
DEFAULT_BACKTEST_CUTOFFS = 3
#: Models train on cutoffs this far apart.
TRAINING_FREQ = "QS"
_DAY = pd.Timedelta(days=1)
_OFFSET = re.compile(r"^\s*(\d+)\s*([DWMY])\s*$", re.IGNORECASE)


class InsufficientHistory(ValueError):
    """The data are too short for an analysis; the message says what is missing."""


def parse_date(value: Any, name: str) -> pd.Timestamp:
    """A date parameter as a Timestamp; a clear error naming the parameter otherwise.

    >>> parse_date("2024-07-01", "as_of").date()
    datetime.date(2024, 7, 1)
    >>> parse_date("2024-13-01", "as_of")
    Traceback (most recent call last):
    ...
    ValueError: as_of: '2024-13-01' is not a date (expected YYYY-MM-DD, e.g. 2024-07-01)
    """
    if isinstance(value, pd.Timestamp):
        return value.normalize()
    text = str(value).strip()
    if not re.fullmatch(r"\d{4}-\d{2}-\d{2}", text):
        raise ValueError(f"{name}: {value!r} is not a date (expected YYYY-MM-DD, e.g. 2024-07-01)")
    try:
        return pd.Timestamp(text)
    except ValueError:
        raise ValueError(
            f"{name}: {value!r} is not a date (expected YYYY-MM-DD, e.g. 2024-07-01)"
        ) from None


def parse_interval(value: Any, name: str) -> pd.DateOffset:
    """An interval such as ``"6M"``, ``"1Y"``, ``"13W"``, ``"90D"`` or a number of days.

    >>> parse_interval("6M", "review_interval")
    <DateOffset: months=6>
    >>> parse_interval(90, "review_interval")
    <DateOffset: days=90>
    """
    if isinstance(value, pd.DateOffset):
        return value
    if isinstance(value, pd.Timedelta):
        return pd.DateOffset(days=value.days)
    if isinstance(value, bool):
        raise ValueError(f"{name}: {value!r} is not an interval")
    if isinstance(value, int) or (isinstance(value, str) and value.strip().isdigit()):
        days = int(value)
        if days <= 0:
            raise ValueError(f"{name}: {value!r} must be positive")
        return pd.DateOffset(days=days)
    match = _OFFSET.match(str(value))
    if not match:
        raise ValueError(
            f"{name}: {value!r} is not an interval (use a number of days, or e.g. '90D', "
            f"'13W', '6M', '1Y')"
        )
    n, unit = int(match.group(1)), match.group(2).upper()
    if n <= 0:
        raise ValueError(f"{name}: {value!r} must be positive")
    unit_name = {"D": "days", "W": "weeks", "M": "months", "Y": "years"}[unit]
    return pd.DateOffset(**{unit_name: n})


def parse_horizon(value: Any, as_of: pd.Timestamp | None = None) -> tuple[int, str]:
    """``(days, how)``: a horizon in whole days and the sentence that states the conversion.

    Days pass through; ``"12M"``/``"1Y"``/``pd.DateOffset`` are converted to the days of that
    span ending at ``as_of`` (the span the outcome cutoff uses), so ``"12M"`` ending on
    2025-01-01 is 366 days.

    >>> parse_horizon(365)
    (365, '365 days')
    >>> parse_horizon("12M", pd.Timestamp("2025-01-01"))
    (366, '12M = 366 days (2024-01-01 to 2025-01-01)')
    """
    if isinstance(value, bool):
        raise ValueError(f"horizon_days: {value!r} is not a horizon")
    if isinstance(value, int | float) and not isinstance(value, bool):
        if value != int(value) or value <= 0:
            raise ValueError(f"horizon_days: {value!r} must be a positive whole number of days")
        return int(value), f"{int(value)} days"
    offset = parse_interval(value, "horizon_days")
    kwds = offset.kwds
    if set(kwds) == {"days"}:
        return int(kwds["days"]), f"{int(kwds['days'])} days"
    if set(kwds) == {"weeks"}:
        days = 7 * int(kwds["weeks"])
        return days, f"{value} = {days} days"
    if as_of is None:
        raise ValueError(
            "horizon_days: a horizon in months or years needs the date it ends at (as_of)"
        )
    start = as_of - offset
    days = int((as_of - start).days)
    return days, f"{value} = {days} days ({start.date()} to {as_of.date()})"


def _month_start_on_or_before(day: pd.Timestamp) -> pd.Timestamp:
    return day.normalize().to_period("M").start_time


@dataclass(frozen=True)
class Timeline:
    """Every date of a run.

    Build it with :meth:`from_data`; the attributes are the run's dates. ``outcome_cutoff`` and
    the cutoff lists are empty/None when the data are too short; :meth:`require` then raises
    :class:`InsufficientHistory` with the reason a notebook prints.

    Attributes
    ----------
    data_start, data_end : Timestamp
        First and last transaction date.
    as_of : Timestamp
        The review date: descriptive views use rows strictly before it.
    horizon_days : int
        Outcome window of the analyses that need outcomes.
    horizon_note : str
        How the horizon was chosen ("365 days", "12M = 366 days (...)", or why it was shortened).
    review_interval : DateOffset
        Spacing of reviews; ``previous_review = as_of - review_interval``.
    min_history_days : int
        History a cutoff needs before it (a full look-back window for the features).
    """

    data_start: pd.Timestamp
    data_end: pd.Timestamp
    as_of: pd.Timestamp
    horizon_days: int
    horizon_note: str
    review_interval: pd.DateOffset
    backtest_step: pd.DateOffset
    n_backtest: int
    min_history_days: int

    # ------------------------------------------------------------------ construction
    @classmethod
    def from_data(
        cls,
        start: Any,
        end: Any,
        *,
        as_of: Any = "auto",
        horizon_days: Any = "auto",
        review_interval: Any = DEFAULT_REVIEW_INTERVAL,
        backtest_step: Any = "auto",
        n_backtest: int = DEFAULT_BACKTEST_CUTOFFS,
        min_history_days: int | None = None,
    ) -> Timeline:
        """The timeline of data running from ``start`` to ``end`` (first and last transaction).

        Parameters
        ----------
        start, end : date-like
            First and last transaction date (``Dataset.start``, ``Dataset.end``).
        as_of : ``"auto"`` or date-like
            The review date; ``"auto"`` (default) is the day after ``end``. A later date is
            refused (nothing is known after the data's end).
        horizon_days : ``"auto"``, int or interval
            Outcome window. ``"auto"`` (default): 365 days when the data hold two years before
            ``as_of``, else half the data's span in whole months (said in ``horizon_note``).
            Days (``365``, ``"365D"``), weeks (``"52W"``) or months/years (``"12M"``, ``"1Y"``,
            converted to the days of that span ending at ``as_of``).
        review_interval : interval, default ``"6M"``
            Time between two reviews.
        backtest_step, n_backtest : interval and int
            The back-test uses ``n_backtest`` cutoffs ``backtest_step`` apart, ending at
            ``outcome_cutoff``; ``"auto"``: 6 months, 3 for horizons under a year.
        min_history_days : int, optional
            History a cutoff needs before it; default: ``min(365, horizon_days)``, or 90 days
            when the horizon had to be shortened for short data.
        """
        first = parse_date(pd.Timestamp(start).normalize(), "data start")
        last = parse_date(pd.Timestamp(end).normalize(), "data end")
        if last < first:
            raise ValueError(f"the data end {last.date()} is before their start {first.date()}")
        if isinstance(as_of, str) and as_of.strip().lower() == "auto":
            review = last + _DAY
        else:
            review = parse_date(as_of, "as_of")
            if review > last + _DAY:
                raise ValueError(
                    f"as_of {review.date()} is after the data's end ({last.date()}): kamlab "
                    f"cannot describe a date it has no data for; use as_of='auto' "
                    f"({(last + _DAY).date()}) or an earlier date"
                )
            if review <= first:
                raise ValueError(
                    f"as_of {review.date()} is not after the data's start ({first.date()})"
                )
        shortened = False
        if isinstance(horizon_days, str) and horizon_days.strip().lower() == "auto":
            days, note, shortened = _auto_horizon(first, review)
        else:
            days, note = parse_horizon(horizon_days, review)
        if n_backtest < 1:
            raise ValueError(f"n_backtest must be at least 1, got {n_backtest}")
        if min_history_days is not None:
            history = int(min_history_days)
        else:  # a full look-back year where the data allow it; a quarter on short data
            history = SHORT_DATA_HISTORY_DAYS if shortened else min(365, days)
        if isinstance(backtest_step, str) and backtest_step.strip().lower() == "auto":
            backtest_step = DEFAULT_BACKTEST_STEP if days >= 365 else "3M"
        return cls(
            data_start=first,
            data_end=last,
            as_of=review,
            horizon_days=days,
            horizon_note=note,
            review_interval=parse_interval(review_interval, "review_interval"),
            backtest_step=parse_interval(backtest_step, "backtest_step"),
            n_backtest=int(n_backtest),
            min_history_days=history,
        )

    @classmethod
    def from_dataset(cls, dataset, **kwargs) -> Timeline:
        """:meth:`from_data` with the dataset's first and last transaction dates."""
        return cls.from_data(dataset.start, dataset.end, **kwargs)

    # ------------------------------------------------------------------ derived dates
    @property
    def earliest_cutoff(self) -> pd.Timestamp:
        """The first date with ``min_history_days`` of data before it."""
        return self.data_start + pd.Timedelta(days=self.min_history_days)

    def _fits(self, cutoff: pd.Timestamp, until: pd.Timestamp | None = None) -> bool:
        until = self.as_of if until is None else until
        return (
            cutoff >= self.earliest_cutoff
            and cutoff + pd.Timedelta(days=self.horizon_days) <= until
        )

    @property
    def outcome_cutoff(self) -> pd.Timestamp | None:
        """The latest cutoff whose ``horizon_days`` outcome window closes by ``as_of``: the
        month start on or before ``as_of - horizon_days`` (that day itself when the month
        start leaves too little history)."""
        latest = self.as_of - pd.Timedelta(days=self.horizon_days)
        for cutoff in (_month_start_on_or_before(latest), latest):
            if self._fits(cutoff):
                return cutoff
        return None

    @property
    def outcome_end(self) -> pd.Timestamp | None:
        """The end (exclusive) of the outcome window at ``outcome_cutoff``."""
        cutoff = self.outcome_cutoff
        return None if cutoff is None else cutoff + pd.Timedelta(days=self.horizon_days)

    @property
    def backtest_cutoffs(self) -> list[pd.Timestamp]:
        """Up to ``n_backtest`` cutoffs ``backtest_step`` apart, oldest first, ending at
        ``outcome_cutoff``; each with ``min_history_days`` of history."""
        last = self.outcome_cutoff
        if last is None:
            return []
        cutoffs = [last - self.backtest_step * k for k in range(self.n_backtest)]
        return sorted(c for c in cutoffs if self._fits(c))

    def training_cutoffs(self, before: Any = None) -> list[pd.Timestamp]:
        """Quarterly cutoffs whose outcome windows closed by ``before`` (default ``as_of``):
        the dates a model applied at ``before`` may learn from. Oldest first."""
        until = self.as_of if before is None else parse_date(before, "before")
        last = until - pd.Timedelta(days=self.horizon_days)
        grid = pd.date_range(self.earliest_cutoff, last, freq=TRAINING_FREQ)
        return [c for c in grid if self._fits(c, until)]

    @property
    def previous_review(self) -> pd.Timestamp | None:
        """``as_of - review_interval`` when the data reach that far back, else None."""
        previous = self.as_of - self.review_interval
        return previous if previous > self.data_start else None

    def review_dates(self, max_reviews: int = 6) -> list[pd.Timestamp]:
        """``as_of`` and earlier reviews at ``review_interval``, oldest first, each with a
        full look-back window of history (at most ``max_reviews``)."""
        dates = [self.as_of]
        while len(dates) < max_reviews:
            earlier = dates[-1] - self.review_interval
            if earlier < self.earliest_cutoff:
                break
            dates.append(earlier)
        return sorted(dates)

    @property
    def retention_periods(self) -> tuple[tuple[pd.Timestamp, pd.Timestamp], ...] | None:
        """Two back-to-back windows ending at ``as_of`` (``[start, end)``) for NRR/GRR "this
        year against last year": calendar years when the horizon is a year (365 or 366 days),
        else ``horizon_days`` each; None when the data are too short."""
        span = (
            pd.DateOffset(years=1)
            if self.horizon_days in (365, 366)
            else pd.DateOffset(days=self.horizon_days)
        )
        first = (self.as_of - 2 * span, self.as_of - span)
        if first[0] < self.data_start:
            return None
        return first, (self.as_of - span, self.as_of)

    # ------------------------------------------------------------------ reporting
    def require(self, what: str, *, backtest: int = 1, training: bool = False) -> None:
        """Raise :class:`InsufficientHistory` saying why ``what`` cannot be computed."""
        span = f"data {self.data_start.date()} to {self.data_end.date()}"
        if self.outcome_cutoff is None:
            raise InsufficientHistory(
                f"{what} needs a cutoff with {self.min_history_days} days of history before it "
                f"and a complete {self.horizon_days}-day outcome window before {self.as_of.date()} "
                f"({span}); shorten horizon_days or use longer data"
            )
        if len(self.backtest_cutoffs) < backtest:
            raise InsufficientHistory(
                f"{what} needs {backtest} cutoffs with complete outcome windows; the {span} "
                f"give {len(self.backtest_cutoffs)}"
            )
        if training and not self.training_cutoffs(self.outcome_cutoff):
            raise InsufficientHistory(
                f"{what} needs a training cutoff whose {self.horizon_days}-day outcome window "
                f"closed before {self.outcome_cutoff.date()} ({span})"
            )

    def to_dict(self) -> dict[str, Any]:
        """Every date of the run as ISO strings (the manifest's ``dates`` section)."""

        def iso(value):
            return None if value is None else value.date().isoformat()

        return {
            "data_start": iso(self.data_start),
            "data_end": iso(self.data_end),
            "as_of": iso(self.as_of),
            "horizon_days": self.horizon_days,
            "horizon_note": self.horizon_note,
            "review_interval": _interval_text(self.review_interval),
            "previous_review": iso(self.previous_review),
            "review_dates": [iso(d) for d in self.review_dates()],
            "outcome_cutoff": iso(self.outcome_cutoff),
            "outcome_end": iso(self.outcome_end),
            "backtest_cutoffs": [iso(c) for c in self.backtest_cutoffs],
            "training_cutoffs": [iso(c) for c in self.training_cutoffs()],
            "outcome_training_cutoffs": [iso(c) for c in self.training_cutoffs(self.outcome_cutoff)]
            if self.outcome_cutoff is not None
            else [],
        }

    def describe(self) -> str:
        """One line stating the run's dates, for the banner of every report."""
        parts = [
            f"Data {self.data_start.date()} to {self.data_end.date()}",
            f"as of {self.as_of.date()}",
        ]
        if self.outcome_cutoff is not None:
            parts.append(
                f"outcomes over {self.horizon_days} days from {self.outcome_cutoff.date()} "
                f"to {(self.outcome_end - _DAY).date()}"
            )
        else:
            parts.append(f"too short for {self.horizon_days}-day outcomes")
        if self.previous_review is not None:
            parts.append(f"previous review {self.previous_review.date()}")
        return "; ".join(parts) + "."


def _interval_text(offset: pd.DateOffset) -> str:
    (unit, n), *_ = offset.kwds.items()
    return f"{n}{unit[0].upper()}"


def _auto_horizon(first: pd.Timestamp, as_of: pd.Timestamp) -> tuple[int, str, bool]:
    """365 days when two years of data precede ``as_of``; else half the span in whole months
    (``(days, note, shortened)``)."""
    span_days = (as_of - first).days
    if span_days >= 2 * DEFAULT_HORIZON_DAYS:
        return DEFAULT_HORIZON_DAYS, f"{DEFAULT_HORIZON_DAYS} days", False
    months = max(1, (span_days // 2) * 12 // 365)
    start = as_of - pd.DateOffset(months=months)
    days = int((as_of - start).days)
    return (
        days,
        (
            f"{days} days ({months} months: the data cover {span_days} days, too few for a "
            f"365-day horizon with a year of history before it)"
        ),
        True,
    )
