"""Figures of the CLV and contract models. Each takes ``ax=None`` and returns the Axes, with a
title, axis labels (with units) and a legend showing every line (:mod:`kamlab._plot`)."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from kamlab._plot import axes, finish
from kamlab.clv.bgnbd import BGNBD
from kamlab.clv.holdout import cumulative_purchases
from kamlab.clv.pareto_nbd import ParetoNBD
from kamlab.clv.rfm import freq_days
from kamlab.clv.sbg import ShiftedBetaGeometric

__all__ = ["plot_cumulative", "plot_holdout", "plot_retention"]

_UNITS = {"D": "days", "W": "weeks", "M": "months"}


def plot_holdout(check: pd.DataFrame, ax=None, *, title: str | None = None):
    """Mean actual vs predicted holdout repeat purchases per calibration frequency bucket.

    ``check`` is a :func:`holdout_check` table (its ``total`` row is left out).

    Examples
    --------
    >>> check = pd.DataFrame({"actual_mean": [0.2, 1.1, 3.0], "predicted_mean": [0.25, 0.9, 2.6]},
    ...                      index=["0", "1", "2+"])
    >>> ax = plot_holdout(check)
    >>> [t.get_text() for t in ax.get_legend().get_texts()]
    ['actual', 'predicted']
    """
    ax = axes(ax)
    data = check.drop(index="total", errors="ignore")
    pos = np.arange(len(data))
    ax.plot(pos, data["actual_mean"], marker="o", label="actual")
    ax.plot(pos, data["predicted_mean"], marker="s", linestyle="--", label="predicted")
    ax.set_xticks(pos, data.index)
    return finish(
        ax,
        title=title or "Holdout purchases by calibration frequency",
        xlabel="repeat purchases in calibration (count)",
        ylabel="mean repeat purchases in holdout (count)",
    )


def plot_cumulative(
    model: BGNBD | ParetoNBD,
    transactions: pd.DataFrame,
    calibration_end: Any,
    holdout_end: Any = None,
    freq: str = "W",
    *,
    ax=None,
    title: str | None = None,
    **columns: str,
):
    """Tracking plot: actual vs predicted cumulative repeat purchases, holdout shaded.

    Arguments as in :func:`cumulative_purchases` (``columns`` passes ``account_col``,
    ``date_col``, ``amount_col``). The shaded span starts at the calibration end.

    Examples
    --------
    >>> bg = BGNBD()
    >>> bg.params_ = pd.Series({"r": 0.2426, "alpha": 4.4135, "a": 0.7929, "b": 2.4258})
    >>> tx = pd.DataFrame({"account_id": ["a", "a", "b", "b"],
    ...                    "date": pd.to_datetime(["2024-01-01", "2024-01-15", "2024-01-08", "2024-02-01"]),
    ...                    "amount": [5.0, 3.0, 2.0, 6.0]})
    >>> ax = plot_cumulative(bg, tx, "2024-01-21", "2024-02-04")
    >>> [t.get_text() for t in ax.get_legend().get_texts()]
    ['actual', 'predicted (BGNBD)', 'holdout']
    """
    track = cumulative_purchases(model, transactions, calibration_end, holdout_end, freq, **columns)
    # t counts periods since the first purchase, the grid's first date
    since_first = pd.Timestamp(calibration_end).normalize() - track["date"].iloc[0]
    calibration_t = float(since_first / np.timedelta64(1, "D")) / freq_days(freq)
    ax = axes(ax, figsize=(7.0, 4.0))
    ax.plot(track["t"], track["actual"], label="actual")
    ax.plot(
        track["t"], track["predicted"], linestyle="--", label=f"predicted ({type(model).__name__})"
    )
    if track["holdout"].any():
        ax.axvspan(
            calibration_t, float(track["t"].max()), color="grey", alpha=0.15, label="holdout"
        )
    return finish(
        ax,
        title=title or f"Cumulative repeat purchases ({type(model).__name__})",
        xlabel=f"{_UNITS[freq]} since {track['date'].iloc[0].date()}",
        ylabel="cumulative repeat purchases (count)",
        loc="upper left",
    )


def plot_retention(
    model: ShiftedBetaGeometric,
    periods: int = 15,
    ax=None,
    *,
    observed: Any = None,
    unit: str = "years",
    title: str | None = None,
):
    """sBG survival S(t) and renewal rate r(t) over ``periods`` periods, as percentages.

    ``observed`` (optional): a cohort table (or :func:`kamlab.churn.renewal_survivors`' result)
    whose share alive per period is drawn as points, one series per cohort.

    Examples
    --------
    >>> sbg = ShiftedBetaGeometric().fit([1000, 631, 468, 382, 326, 289, 262, 241])
    >>> ax = plot_retention(sbg, 12)
    >>> [t.get_text() for t in ax.get_legend().get_texts()]
    ['share still a customer', 'renewal rate']
    """
    ax = axes(ax)
    t = np.arange(0, periods + 1)
    ax.plot(t, 100 * model.survival(t), marker="o", label="share still a customer")
    ax.plot(
        t[1:], 100 * model.retention_rate(t[1:]), marker="s", linestyle="--", label="renewal rate"
    )
    if observed is not None:
        table = pd.DataFrame(getattr(observed, "table", observed)).astype(float)
        for cohort, row in table.iterrows():
            seen = row.dropna()
            if len(seen) and seen.index[0] == 0 and seen.iloc[0] > 0:
                share = 100 * seen / seen.iloc[0]
                ax.plot(share.index.astype(int), share, linestyle=":", label=f"cohort {cohort}")
    ax.set_ylim(0, 102)
    return finish(
        ax,
        title=title or "Projected retention (sBG)",
        xlabel=f"{unit} since acquisition",
        ylabel="share of the cohort (%)",
    )
