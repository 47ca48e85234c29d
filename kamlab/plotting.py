"""Portfolio and key-account plots (matplotlib / seaborn). Each takes ``ax=None`` and returns
the Axes it drew on, so notebooks can compose figures and tests can inspect artists."""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import seaborn as sns

from kamlab.criteria import QUADRANTS, TIERS
from kamlab.portfolio import gini, lorenz_curve

__all__ = ["contribution_bar", "lorenz", "migration_heatmap", "revenue_by_tier", "selection_matrix"]

TIER_COLOURS = {"regular": "#9e9e9e", "key": "#1f77b4", "strategic": "#d62728"}


def _axes(ax):
    if ax is None:
        _, ax = plt.subplots(figsize=(6, 4.5))
    return ax


def lorenz(values, ax=None, *, label: str = "portfolio", negative: str = "raise"):
    """Lorenz curve of ``values`` with the line of equality; the Gini is in the legend."""
    ax = _axes(ax)
    curve = lorenz_curve(values, negative=negative)
    g = gini(values, negative=negative)
    ax.plot(
        curve["population_share"],
        curve["value_share"],
        color="#1f77b4",
        label=f"{label} (Gini {g:.2f})",
    )
    ax.plot([0, 1], [0, 1], color="grey", linestyle="--", linewidth=1, label="equality")
    ax.set_xlim(0, 1)
    ax.set_ylim(0, 1)
    ax.set_xlabel("share of accounts (smallest first)")
    ax.set_ylabel("share of value")
    ax.legend(loc="upper left")
    return ax


def revenue_by_tier(
    scored: pd.DataFrame,
    features: pd.DataFrame,
    ax=None,
    *,
    tier_col: str = "tier",
    revenue_col: str = "revenue_12m",
):
    """Bars of the share of accounts and the share of revenue in each tier."""
    ax = _axes(ax)
    frame = pd.DataFrame(
        {
            "tier": scored[tier_col],
            "revenue": features[revenue_col].reindex(scored.index).clip(lower=0),
        }
    )
    grouped = frame.groupby("tier", observed=False)["revenue"].agg(["size", "sum"])
    grouped = grouped.reindex(list(TIERS)).fillna(0)
    shares = pd.DataFrame(
        {
            "accounts": grouped["size"] / grouped["size"].sum(),
            "revenue": grouped["sum"] / grouped["sum"].sum(),
        }
    )
    x = np.arange(len(TIERS))
    width = 0.38
    ax.bar(x - width / 2, shares["accounts"], width, color="#c7c7c7", label="share of accounts")
    ax.bar(
        x + width / 2,
        shares["revenue"],
        width,
        color=[TIER_COLOURS[t] for t in TIERS],
        label="share of revenue",
    )
    ax.set_xticks(x, list(TIERS))
    ax.set_ylabel("share")
    ax.set_ylim(0, 1)
    ax.legend(loc="upper right")
    return ax


def selection_matrix(
    scored: pd.DataFrame,
    ax=None,
    *,
    x: str = "strength",
    y: str = "attractiveness",
    tier_col: str = "tier",
):
    """Scatter of account attractiveness × relative strength, split at the medians, with the
    four McDonald & Woodburn quadrant labels; points coloured by tier."""
    for col in (x, y):
        if col not in scored:
            raise ValueError(
                f"scored has no {col!r} column: score with a rule set that has "
                f"axes (e.g. 'selection_matrix')"
            )
    ax = _axes(ax)
    for tier in TIERS:
        part = scored[scored[tier_col] == tier]
        ax.scatter(
            part[x],
            part[y],
            s=18 if tier == "regular" else 36,
            color=TIER_COLOURS[tier],
            label=tier,
            alpha=0.8,
            edgecolors="none",
        )
    mx, my = scored[x].median(), scored[y].median()
    ax.axvline(mx, color="grey", linewidth=0.8)
    ax.axhline(my, color="grey", linewidth=0.8)
    x0, x1 = scored[x].min(), scored[x].max()
    y0, y1 = scored[y].min(), scored[y].max()
    spots = {
        "strategic": (x1, y1, "right", "top"),
        "star": (x0, y1, "left", "top"),
        "status": (x1, y0, "right", "bottom"),
        "streamline": (x0, y0, "left", "bottom"),
    }
    for quadrant in QUADRANTS:
        px, py, ha, va = spots[quadrant]
        ax.text(px, py, quadrant, ha=ha, va=va, fontsize=10, fontweight="bold", alpha=0.6)
    ax.set_xlabel(f"our relative {x}")
    ax.set_ylabel(f"account {y}")
    ax.legend(title="tier", loc="center left", bbox_to_anchor=(1.0, 0.5))
    return ax


def contribution_bar(contributions: pd.DataFrame, account_id, ax=None, *, top: int | None = None):
    """Horizontal bars of each criterion's contribution to one account's score (positive pulls
    the score up, negative down); the title gives the score, which the bars add up to."""
    if account_id not in contributions.index:
        raise KeyError(f"account {account_id!r} is not in the contributions table")
    row = contributions.loc[account_id]
    row = row.reindex(row.abs().sort_values(ascending=True).index)
    if top is not None:
        row = row.iloc[-top:]
    ax = _axes(ax)
    colours = ["#2ca02c" if v >= 0 else "#d62728" for v in row]
    ax.barh(list(row.index), row.to_numpy(), color=colours)
    ax.axvline(0, color="black", linewidth=0.8)
    ax.set_xlabel("contribution to score")
    ax.set_title(f"{account_id}: score {contributions.loc[account_id].sum():+.3f}")
    return ax


def migration_heatmap(table: pd.DataFrame, ax=None, *, cmap: str = "Blues"):
    """Heatmap of a :func:`kamlab.criteria.tier_migration` table with the counts annotated."""
    ax = _axes(ax)
    sns.heatmap(table, annot=True, fmt="d", cmap=cmap, cbar=False, ax=ax, linewidths=0.5)
    ax.set_xlabel(f"tier at the later review ({table.columns.name or 'to'})")
    ax.set_ylabel(f"tier at the earlier review ({table.index.name or 'from'})")
    return ax
