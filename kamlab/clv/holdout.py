"""Calibration / holdout checks of the purchase models: per-frequency holdout predictions and
cumulative repeat purchases over time."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd

from kamlab.clv.bgnbd import BGNBD
from kamlab.clv.pareto_nbd import ParetoNBD
from kamlab.clv.rfm import RFMSummary, freq_days, purchase_days

__all__ = ["cumulative_purchases", "holdout_check"]


def holdout_check(
    model: BGNBD | ParetoNBD,
    summary: RFMSummary | pd.DataFrame,
    max_bucket: int = 7,
    bins: Sequence[int] | None = None,
) -> pd.DataFrame:
    """Predicted vs actual holdout repeat purchases by calibration frequency.

    Parameters
    ----------
    model : fitted BGNBD or ParetoNBD
    summary : RFMSummary or DataFrame
        :func:`rfm_summary` with ``holdout_end`` (needs ``frequency_holdout`` and
        ``duration_holdout``).
    max_bucket : int
        Frequencies >= this are pooled in one bucket labelled e.g. ``"7+"``.
    bins : sequence of int, optional
        Increasing lower edges of frequency buckets instead of one bucket per frequency, e.g.
        ``[0, 10, 25, 50]`` gives ``"0-9"``, ``"10-24"``, ``"25-49"``, ``"50+"`` (for frequent
        B2B buyers). Must start at 0.

    Returns
    -------
    DataFrame
        One row per bucket (``"0"`` ... ``"7+"``) plus ``"total"``: ``n`` customers, actual and
        predicted totals and means per customer.

    Examples
    --------
    >>> bg = BGNBD()
    >>> bg.params_ = pd.Series({"r": 0.2426, "alpha": 4.4135, "a": 0.7929, "b": 2.4258})
    >>> table = pd.DataFrame({"frequency": [0, 3, 12], "recency": [0.0, 20.0, 30.0],
    ...                       "T": [30.0] * 3, "frequency_holdout": [0, 2, 9],
    ...                       "duration_holdout": [10.0] * 3})
    >>> holdout_check(bg, table, bins=[0, 1, 10])[["n", "actual_total", "predicted_total"]].round(2)
               n  actual_total  predicted_total
    frequency
    0          1           0.0             0.07
    1-9        1           2.0             0.57
    10+        1           9.0             3.07
    total      3          11.0             3.70
    """
    table = summary.table if isinstance(summary, RFMSummary) else summary
    need = {"frequency", "recency", "T", "frequency_holdout", "duration_holdout"}
    if not need <= set(table.columns):
        raise ValueError(
            f"summary lacks {sorted(need - set(table.columns))}; call rfm_summary(..., holdout_end=...)"
        )
    pred = model.expected_purchases(
        table["duration_holdout"].to_numpy(float),
        table["frequency"],
        table["recency"],
        table["T"],
    )
    freq_x = table["frequency"].to_numpy()
    if bins is None:
        bucket = np.minimum(freq_x, max_bucket).astype(int)
        labels = [str(i) for i in range(max_bucket)] + [f"{max_bucket}+"]
    else:
        edges = np.asarray(bins, dtype=int)
        if len(edges) == 0 or edges[0] != 0 or np.any(np.diff(edges) <= 0):
            raise ValueError(f"bins must be increasing lower edges starting at 0, got {list(bins)}")
        bucket = np.searchsorted(edges, freq_x, side="right") - 1
        labels = [
            str(lo) if hi - lo == 1 else f"{lo}-{hi - 1}" for lo, hi in zip(edges[:-1], edges[1:])
        ]
        labels.append(f"{edges[-1]}+")
    df = pd.DataFrame(
        {
            "bucket": pd.Categorical.from_codes(bucket, labels),
            "actual": table["frequency_holdout"].to_numpy(float),
            "predicted": pred,
        }
    )
    g = df.groupby("bucket", observed=False)
    out = pd.DataFrame(
        {"n": g.size(), "actual_total": g["actual"].sum(), "predicted_total": g["predicted"].sum()}
    )
    out.loc["total"] = out.sum()
    out["n"] = out["n"].astype(int)
    out["actual_mean"] = out["actual_total"] / out["n"].where(out["n"] > 0)
    out["predicted_mean"] = out["predicted_total"] / out["n"].where(out["n"] > 0)
    out.index = pd.Index([str(i) for i in out.index], name="frequency")
    return out


def tracking(
    model: BGNBD | ParetoNBD,
    transactions: pd.DataFrame,
    calibration_end: Any,
    holdout_end: Any = None,
    freq: str = "W",
    *,
    account_col: str = "account_id",
    date_col: str = "date",
    amount_col: str = "amount",
) -> tuple[pd.DataFrame, float]:
    """:func:`cumulative_purchases` and the calibration end in periods since the first purchase."""
    unit = freq_days(freq)
    model._check_fitted()
    cal_end = pd.Timestamp(calibration_end).normalize()
    daily = purchase_days(
        transactions, account_col=account_col, date_col=date_col, amount_col=amount_col
    )
    daily = daily[daily["purchase"]]
    first = daily.groupby("acc", sort=True, observed=True)["day"].transform("min")
    daily = daily[first <= cal_end]
    first = first[first <= cal_end]
    if daily.empty:
        raise ValueError(f"no purchases on or before calibration_end {cal_end.date()}")
    end = (
        pd.Timestamp(holdout_end).normalize()
        if holdout_end is not None
        else max(daily["day"].max(), cal_end)
    )
    if end < cal_end:
        raise ValueError(f"holdout_end {end.date()} is before calibration_end {cal_end.date()}")
    start = daily["day"].min()
    day_ns = np.timedelta64(1, "D")
    repeat = ((daily.loc[daily["day"] > first, "day"] - start) / day_ns).to_numpy(dtype=float)
    repeat = np.sort(repeat[repeat <= (end - start) / day_ns])
    birth_day = daily.groupby("acc", sort=True, observed=True)["day"].min()
    births, counts = np.unique(
        ((birth_day - start) / day_ns).to_numpy(dtype=float), return_counts=True
    )
    span = (end - start) / day_ns
    grid = np.arange(0.0, span + 1e-9, unit)
    if grid[-1] < span:
        grid = np.append(grid, span)
    grid_days = np.floor(grid + 1e-9)
    ages = np.clip(grid_days[:, None] - births[None, :], 0.0, None) / unit
    expected = np.asarray(model.expected_purchases_new(ages), dtype=float)
    dates = start + pd.to_timedelta(grid_days, unit="D")
    out = pd.DataFrame(
        {
            "t": grid / unit,
            "date": dates,
            "actual": np.searchsorted(repeat, grid_days, side="right").astype("int64"),
            "predicted": np.einsum("kj,j->k", expected, counts.astype(float)),
            "holdout": dates > cal_end,
        }
    )
    return out, float((cal_end - start) / day_ns) / unit


def cumulative_purchases(
    model: BGNBD | ParetoNBD,
    transactions: pd.DataFrame,
    calibration_end: Any,
    holdout_end: Any = None,
    freq: str = "W",
    *,
    account_col: str = "account_id",
    date_col: str = "date",
    amount_col: str = "amount",
) -> pd.DataFrame:
    """Actual and predicted cumulative repeat purchases of the calibration accounts over time.

    The population is the accounts of :func:`rfm_summary` (first purchase on or before
    ``calibration_end``); purchase days follow its rules (credit-note days are not purchases).
    The prediction at a date is the sum over accounts of the model's unconditional expectation
    E[X(age)] for a customer acquired at its first purchase (Fader, Hardie & Lee 2005, fig. 3),
    so the holdout part is a genuine out-of-sample check of the whole purchase process.

    Parameters
    ----------
    model : fitted BGNBD or ParetoNBD
        Fitted on ``rfm_summary(transactions, calibration_end, freq=freq)``.
    transactions : DataFrame
        Transactions with account, date and amount columns.
    calibration_end, holdout_end : date-like
        Last day of calibration (inclusive) and of the tracking window (default: the last
        transaction date, or ``calibration_end`` if no later transaction).
    freq : {"D", "W", "M"}
        Time unit of the grid and of the model.

    Returns
    -------
    DataFrame
        One row per grid point (every ``freq`` from the first purchase, plus the end):
        ``t`` (periods since the first purchase), ``date``, ``actual``, ``predicted`` and
        ``holdout`` (the date is after ``calibration_end``).

    Examples
    --------
    >>> bg = BGNBD()
    >>> bg.params_ = pd.Series({"r": 0.2426, "alpha": 4.4135, "a": 0.7929, "b": 2.4258})
    >>> tx = pd.DataFrame({"account_id": ["a", "a", "b", "b"],
    ...                    "date": pd.to_datetime(["2024-01-01", "2024-01-15", "2024-01-08", "2024-02-01"]),
    ...                    "amount": [5.0, 3.0, 2.0, 6.0]})
    >>> cumulative_purchases(bg, tx, "2024-01-21", "2024-02-04").round({"t": 3, "predicted": 3})
           t       date  actual  predicted  holdout
    0  0.000 2024-01-01       0      0.000    False
    1  1.000 2024-01-08       0      0.053    False
    2  2.000 2024-01-15       1      0.156    False
    3  3.000 2024-01-22       1      0.254     True
    4  4.000 2024-01-29       1      0.346     True
    5  4.857 2024-02-04       2      0.422     True
    """
    out, _ = tracking(
        model,
        transactions,
        calibration_end,
        holdout_end,
        freq,
        account_col=account_col,
        date_col=date_col,
        amount_col=amount_col,
    )
    return out
