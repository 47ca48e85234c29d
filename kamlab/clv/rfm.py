"""RFM summaries: transactions → (frequency, recency, T, monetary value) per account.

Time is measured in the unit chosen here (``"D"`` days, ``"W"`` weeks = days / 7, ``"M"``
months = days / 30.4375); every model and every horizon downstream uses that same unit.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from kamlab import fmt

__all__ = ["FREQ_DAYS", "RFMSummary", "describe_rfm", "rfm_overview", "rfm_summary"]

#: Length of one time unit in days, for the supported ``freq`` codes.
FREQ_DAYS: dict[str, float] = {"D": 1.0, "W": 7.0, "M": 365.25 / 12.0}


def freq_days(freq: str) -> float:
    try:
        return FREQ_DAYS[freq]
    except KeyError:
        raise ValueError(f"freq must be one of {sorted(FREQ_DAYS)}, got {freq!r}") from None


@dataclass(frozen=True)
class RFMSummary:
    """The result of :func:`rfm_summary`.

    Attributes
    ----------
    table : DataFrame
        Indexed by account: ``frequency``, ``recency``, ``T``, ``monetary_value`` and, with a
        holdout, ``frequency_holdout`` and ``duration_holdout``.
    freq : str
        Time unit of ``recency``, ``T`` and ``duration_holdout``.
    calibration_end, holdout_end : Timestamp (holdout_end None without a holdout)
    credit_days : int
        Account-days in calibration that are not purchases (net amount negative, or zero
        because credits cancel the orders).
    credit_amount : float
        Their net amount.
    excluded_zero_T : tuple of str
        Accounts first seen on ``calibration_end`` (no exposure, T = 0), left out of ``table``.
    """

    table: pd.DataFrame
    freq: str
    calibration_end: pd.Timestamp
    holdout_end: pd.Timestamp | None
    credit_days: int
    credit_amount: float
    excluded_zero_T: tuple[str, ...]


def rfm_summary(
    transactions: pd.DataFrame,
    calibration_end: Any,
    holdout_end: Any = None,
    freq: str = "W",
    *,
    account_col: str = "account_id",
    date_col: str = "date",
    amount_col: str = "amount",
) -> RFMSummary:
    """Calibration (and optional holdout) RFM summary per account.

    Several transactions on one day count as one purchase (their amounts are summed, so a
    credit note on the day of an order reduces that order's value).

    Credit notes (negative amounts, allowed by the data contract) are not purchases: a
    *purchase day* is a day whose net amount is positive, or a day of zero-value orders only
    (e.g. free samples, as in CDNOW). A day with a negative net amount, or zero because
    credits cancel its orders, is not counted in ``frequency``, ``recency``, the first
    purchase, ``frequency_holdout`` or ``monetary_value``. How many account-days were left out
    and their net amount are the result's ``credit_days`` and ``credit_amount`` (calibration
    period), so nothing is dropped silently.

    Parameters
    ----------
    transactions : DataFrame
        One row per transaction with account, date and amount columns.
    calibration_end : date-like
        Last day of the calibration period (inclusive).
    holdout_end : date-like, optional
        Last day of the holdout period (inclusive); the holdout starts the day after
        ``calibration_end``.
    freq : {"D", "W", "M"}
        Time unit of ``recency``, ``T`` and ``duration_holdout``.

    Returns
    -------
    RFMSummary
        ``table`` indexed by account, columns ``frequency`` (repeat purchase days in
        calibration), ``recency`` (first to last purchase), ``T`` (first purchase to
        ``calibration_end``), ``monetary_value`` (mean day total over repeat purchase days, 0
        when frequency is 0) and, with ``holdout_end``, ``frequency_holdout`` and
        ``duration_holdout``. Only accounts with a first purchase before ``calibration_end``
        appear (those first seen on that day have no exposure; their ids are in
        ``excluded_zero_T``).

    Examples
    --------
    >>> tx = pd.DataFrame({"account_id": ["a", "a", "a", "b"],
    ...                    "date": pd.to_datetime(["2024-01-01", "2024-01-08", "2024-01-15", "2024-01-10"]),
    ...                    "amount": [10.0, 20.0, -4.0, 7.0]})
    >>> rfm = rfm_summary(tx, "2024-01-22", freq="D")
    >>> rfm.table
                frequency  recency     T  monetary_value
    account_id
    a                   1      7.0  21.0            20.0
    b                   0      0.0  12.0             0.0
    >>> rfm.credit_days, rfm.credit_amount
    (1, -4.0)
    """
    unit = freq_days(freq)
    missing = [c for c in (account_col, date_col, amount_col) if c not in transactions.columns]
    if missing:
        raise ValueError(f"transactions lacks column(s) {missing}")
    cal_end = pd.Timestamp(calibration_end).normalize()
    hold_end = None if holdout_end is None else pd.Timestamp(holdout_end).normalize()
    if hold_end is not None and hold_end <= cal_end:
        raise ValueError(
            f"holdout_end {hold_end.date()} must be after calibration_end {cal_end.date()}"
        )
    daily = purchase_days(
        transactions, account_col=account_col, date_col=date_col, amount_col=amount_col
    )
    credit_cal = daily[~daily["purchase"] & (daily["day"] <= cal_end)]
    daily = daily[daily["purchase"]]

    cal = daily[daily["day"] <= cal_end]
    g = cal.groupby("acc", sort=True, observed=True)
    first = g["day"].min()
    last = g["day"].max()
    n_days = g["day"].size()
    total = g["amount"].sum()
    first_amount = g["amount"].first()  # rows are sorted by day within account

    frequency = (n_days - 1).astype("int64")
    day_ns = np.timedelta64(1, "D")
    recency = ((last - first) / day_ns) / unit
    T = ((cal_end - first) / day_ns) / unit
    with np.errstate(invalid="ignore", divide="ignore"):
        monetary = np.where(
            frequency > 0, (total - first_amount) / frequency.where(frequency > 0, 1), 0.0
        )

    out = pd.DataFrame(
        {
            "frequency": frequency,
            "recency": recency.astype(float),
            "T": T.astype(float),
            "monetary_value": monetary.astype(float),
        },
        index=first.index,
    )
    out.index.name = account_col
    # An account first seen on the calibration end has T = 0: no exposure to learn from, and
    # the models' likelihoods are undefined there. Leave it out, but count it.
    zero_T = out.index[out["T"] <= 0]
    out = out.drop(index=zero_T)
    if hold_end is not None:
        hold = daily[(daily["day"] > cal_end) & (daily["day"] <= hold_end)]
        counts = hold.groupby("acc", sort=True, observed=True)["day"].size()
        out["frequency_holdout"] = (
            counts.reindex(out.index, fill_value=0).astype("int64").to_numpy()
        )
        out["duration_holdout"] = ((hold_end - cal_end) / day_ns) / unit
    return RFMSummary(
        table=out,
        freq=freq,
        calibration_end=cal_end,
        holdout_end=hold_end,
        credit_days=int(len(credit_cal)),
        credit_amount=float(credit_cal["amount"].sum()),
        excluded_zero_T=tuple(str(a) for a in zero_T),
    )


def purchase_days(
    transactions: pd.DataFrame, *, account_col: str, date_col: str, amount_col: str
) -> pd.DataFrame:
    """Day totals per account (columns acc, day, amount) and whether each day is a purchase.

    A purchase day has a positive net amount, or only zero-value rows (no credit note).
    Missing dates or amounts are refused with their count.
    """
    dates = pd.to_datetime(transactions[date_col])
    if dates.isna().any():
        raise ValueError(f"{int(dates.isna().sum())} transactions have a missing {date_col!r}")
    amounts = pd.to_numeric(transactions[amount_col])
    if amounts.isna().any():
        raise ValueError(f"{int(amounts.isna().sum())} transactions have a missing {amount_col!r}")
    tx = pd.DataFrame(
        {
            "acc": transactions[account_col].to_numpy(),
            "day": dates.dt.normalize().to_numpy(),
            "amount": amounts.to_numpy(dtype=float),
        }
    )
    g = tx.assign(credit=tx["amount"] < 0).groupby(["acc", "day"], sort=True, observed=True)
    daily = g.agg(amount=("amount", "sum"), credit=("credit", "any")).reset_index()
    daily["purchase"] = (daily["amount"] > 0) | ((daily["amount"] == 0) & ~daily["credit"])
    return daily.drop(columns="credit")


_UNITS = {"D": "days", "W": "weeks", "M": "months"}


def rfm_overview(rfm: RFMSummary) -> pd.DataFrame:
    """The distribution of each RFM measure across accounts, for people.

    Returns
    -------
    DataFrame
        Index ``measure`` (in words, with the time unit), columns ``mean``, ``p10``, ``p25``,
        ``median``, ``p75``, ``p90``, ``max``; rows for the calibration measures and, with a
        holdout, the repeat purchase days in it.

    Examples
    --------
    >>> tx = pd.DataFrame({"account_id": ["a", "a", "a", "b"],
    ...                    "date": pd.to_datetime(["2024-01-01", "2024-01-08", "2024-01-15", "2024-01-10"]),
    ...                    "amount": [10.0, 20.0, 30.0, 7.0]})
    >>> rfm_overview(rfm_summary(tx, "2024-01-22", freq="D"))[["mean", "median", "max"]]
                                                  mean  median   max
    measure
    repeat purchase days (calibration)             1.0     1.0   2.0
    days from first to last purchase               7.0     7.0  14.0
    days from first purchase to calibration end   16.5    16.5  21.0
    mean spend per repeat purchase day            12.5    12.5  25.0
    """
    unit = _UNITS.get(rfm.freq, rfm.freq)
    names = {
        "frequency": "repeat purchase days (calibration)",
        "recency": f"{unit} from first to last purchase",
        "T": f"{unit} from first purchase to calibration end",
        "monetary_value": "mean spend per repeat purchase day",
        "frequency_holdout": "repeat purchase days (holdout)",
    }
    table = rfm.table[[c for c in names if c in rfm.table]].astype(float)
    quantiles = table.quantile([0.1, 0.25, 0.5, 0.75, 0.9]).T
    quantiles.columns = ["p10", "p25", "median", "p75", "p90"]
    out = pd.concat([table.mean().rename("mean"), quantiles, table.max().rename("max")], axis=1)
    out.index = pd.Index([names[c] for c in out.index], name="measure")
    return out


def describe_rfm(rfm: RFMSummary) -> str:
    """The RFM summary in words (Markdown): who is in it, how often and how much the typical
    account buys, and what was not counted as a purchase.

    Examples
    --------
    >>> tx = pd.DataFrame({"account_id": ["a", "a", "a", "b"],
    ...                    "date": pd.to_datetime(["2024-01-01", "2024-01-08", "2024-01-15", "2024-01-10"]),
    ...                    "amount": [10.0, 20.0, -4.0, 7.0]})
    >>> print(describe_rfm(rfm_summary(tx, "2024-01-22", freq="D")))
    2 accounts had bought by 2024-01-22. The median account made 0.5 repeat purchase days in the 16.5 days since its first purchase (50.0% made none); those with repeat purchases spent a median of 20 per repeat purchase day. 1 account-day with credit notes (net -4) is not a purchase.
    """
    t = rfm.table
    unit = _UNITS.get(rfm.freq, rfm.freq)
    repeat = t["monetary_value"][t["frequency"] > 0]
    parts = [
        f"{fmt.count(len(t))} accounts had bought by {rfm.calibration_end.date()}. The median "
        f"account made {fmt.estimate(t['frequency'].median(), 3)} repeat purchase days in the "
        f"{fmt.estimate(t['T'].median(), 3)} {unit} since its first purchase "
        f"({fmt.share((t['frequency'] == 0).mean())} made none)"
        + (
            f"; those with repeat purchases spent a median of {fmt.money(repeat.median())} "
            "per repeat purchase day."
            if len(repeat)
            else "."
        )
    ]
    if "frequency_holdout" in t and rfm.holdout_end is not None:
        parts.append(
            f"In the holdout to {rfm.holdout_end.date()} "
            f"({fmt.estimate(t['duration_holdout'].iloc[0], 3)} {unit}) they made "
            f"{fmt.count(t['frequency_holdout'].sum())} repeat purchase days."
        )
    if rfm.credit_days:
        parts.append(
            f"{fmt.count(rfm.credit_days)} account-day{'s' if rfm.credit_days != 1 else ''} "
            f"with credit notes (net {fmt.money(rfm.credit_amount)}) "
            + ("is not a purchase." if rfm.credit_days == 1 else "are not purchases.")
        )
    if rfm.excluded_zero_T:
        parts.append(
            f"{fmt.count(len(rfm.excluded_zero_T))} accounts first bought on "
            f"{rfm.calibration_end.date()} itself and are left out (no time to observe them)."
        )
    return " ".join(parts)
