"""Figures of the growth analysis. Each takes ``ax=None`` and returns the Axes, with a title,
axis labels with units and a legend for every line (:mod:`kamlab._plot`)."""

from __future__ import annotations

import numpy as np
import pandas as pd

from kamlab._plot import axes, finish
from kamlab.growth.backtest import METRIC_UNITS, Backtest
from kamlab.growth.inference import Effects, _label
from kamlab.growth.prediction import Importance

__all__ = ["plot_backtest", "plot_effects", "plot_importance"]


def plot_effects(effects: Effects, ax=None, *, q_threshold: float = 0.05, title: str | None = None):
    """Forest plot: standardised coefficient and interval per criterion; credible effects
    (q below ``q_threshold``) in colour. Returns the Axes.

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> frame = pd.DataFrame({"x": rng.normal(size=100), "z": rng.normal(size=100)})
    >>> frame["y"] = frame["x"] + rng.normal(size=100)
    >>> from kamlab.growth import criteria_effects
    >>> ax = plot_effects(criteria_effects(frame, ["x", "z"], "y"))
    >>> [t.get_text() for t in ax.get_legend().get_texts()]
    ['no effect', 'q < 0.05', 'q ≥ 0.05']
    """
    ax = axes(ax)
    data = effects.table.dropna(subset=["coef"]).sort_values("coef", kind="stable")
    y = np.arange(len(data))
    ax.axvline(0, color="k", lw=0.8, label="no effect")
    credible = (data["q_value"] < q_threshold).to_numpy()
    for flag, color, label in (
        (True, "C0", f"q < {q_threshold:g}"),
        (False, "0.6", f"q ≥ {q_threshold:g}"),
    ):
        pick = credible == flag
        if pick.any():
            coef = data["coef"][pick]
            ax.errorbar(
                coef,
                y[pick],
                xerr=[coef - data["ci_low"][pick], data["ci_high"][pick] - coef],
                fmt="o",
                color=color,
                capsize=3,
                label=label,
            )
    ax.set_yticks(y, [_label(c) for c in data.index])
    unit = "log-odds" if effects.model == "logit" else effects.outcome.replace("_", " ")
    level = round(100 * (1 - effects.alpha))
    return finish(
        ax,
        title=title or f"Effect on {effects.outcome.replace('_', ' ')} ({effects.view} view)",
        xlabel=f"effect per SD of the criterion ({unit}, {level} % CI)",
        ylabel="criterion",
        loc="lower right",
    )


def plot_importance(importance: Importance, ax=None, *, top: int | None = None):
    """Horizontal bars of permutation importance with their intervals. Returns the Axes.

    Examples
    --------
    >>> table = pd.DataFrame({"importance": [0.2, 0.1], "ci_low": [0.1, 0.0],
    ...                       "ci_high": [0.3, 0.2]}, index=["a", "b"])
    >>> imp = Importance(table, "2024-01-01", ("2023-01-01",), "r2", "ridge", 0.3, 100)
    >>> plot_importance(imp).get_xlabel()
    'drop in r2 when the feature is shuffled'
    """
    ax = axes(ax)
    data = importance.table.dropna(subset=["importance"])
    data = (data.head(top) if top else data).iloc[::-1]
    y = np.arange(len(data))
    ax.barh(y, data["importance"], color="C0", alpha=0.8, label="mean over repeats")
    ax.errorbar(
        data["importance"],
        y,
        xerr=[data["importance"] - data["ci_low"], data["ci_high"] - data["importance"]],
        fmt="none",
        color="k",
        capsize=2,
        lw=0.8,
        label="2.5–97.5 % of repeats",
    )
    ax.axvline(0, color="k", lw=0.8, label="no importance")
    ax.set_yticks(y, [_label(c) for c in data.index])
    return finish(
        ax,
        title=f"Permutation importance on {importance.test_cutoff} ({importance.model})",
        xlabel=f"drop in {importance.scoring} when the feature is shuffled",
        ylabel="feature",
        loc="lower right",
    )


def plot_backtest(result: Backtest, metric: str = "precision_at_k", ax=None):
    """Back-test metric over cutoffs, one line per scorer with its interval. Returns the Axes.

    Examples
    --------
    >>> rows = [("size_only", c, "lift", 1.1, 0.9, 1.3) for c in ("2023-01-01", "2024-01-01")]
    >>> table = pd.DataFrame(rows, columns=["rule_set", "cutoff", "metric", "estimate",
    ...                                     "ci_low", "ci_high"])
    >>> result = Backtest(table, 365, 0.15, 0.1, 500, None, 0.05, 0, ("a", "b"),
    ...                   pd.DataFrame(columns=["rule_set", "cutoff", "reason"]))
    >>> plot_backtest(result, "lift").get_ylabel()
    'precision ÷ share of all accounts that grew'
    """
    ax = axes(ax)
    table = result.table
    data = table[(table["metric"] == metric) & (table["cutoff"] != "pooled")]
    if data.empty:
        raise ValueError(f"metric {metric!r} not in the back-test table")
    names = list(dict.fromkeys(data["rule_set"]))
    offsets = np.linspace(-6, 6, len(names)) if len(names) > 1 else [0.0]
    for i, name in enumerate(names):
        d = data[data["rule_set"] == name]
        x = pd.to_datetime(d["cutoff"]) + pd.to_timedelta(offsets[i], unit="D")
        ax.errorbar(
            x,
            d["estimate"],
            yerr=[d["estimate"] - d["ci_low"], d["ci_high"] - d["estimate"]],
            fmt="-o",
            capsize=3,
            label=name,
            color=f"C{i}",
        )
    unit = METRIC_UNITS.get(metric.removeprefix("delta_"), metric.replace("_", " "))
    if metric.startswith("delta_"):
        unit = f"difference to {result.baseline}: {unit}"
    level = round(100 * (1 - result.alpha))
    return finish(
        ax,
        title=f"{metric.replace('_', ' ')} of the top {_k(result.k)} by cutoff ({level} % CI)",
        xlabel="cutoff (date)",
        ylabel=unit,
        fontsize="small",
    )


def _k(k: float) -> str:
    return f"{k:.0%}" if k < 1 else f"{int(k)} accounts"
