"""Portfolio and key-account figures. Each ``plot_*`` takes ``ax=None`` and returns the Axes it
drew on, with a title, axis labels with units and a legend for every line (:mod:`kamlab._plot`),
so notebooks can compose figures and tests can inspect artists.

Growth and segmentation figures live beside their analyses (:mod:`kamlab.growth`,
:mod:`kamlab.segment`).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from kamlab import fmt
from kamlab._plot import axes, finish
from kamlab.portfolio import gini, lorenz_curve
from kamlab.tiers import TIERS, as_tiers

__all__ = [
    "TIER_COLOURS",
    "plot_contributions",
    "plot_lorenz",
    "plot_migration",
    "plot_retention",
    "plot_revenue_by_tier",
    "plot_selection_matrix",
]

TIER_COLOURS = {"regular": "#9e9e9e", "key": "#1f77b4", "strategic": "#d62728"}
_QUADRANT_SPOTS = {  # where each McDonald & Woodburn quadrant label goes: (x, y, ha, va)
    "strategic": (1, 1, "right", "top"),
    "star": (0, 1, "left", "top"),
    "status": (1, 0, "right", "bottom"),
    "streamline": (0, 0, "left", "bottom"),
}


def plot_lorenz(values, ax=None, *, label: str = "portfolio", negative: str = "raise"):
    """Lorenz curve of ``values`` with the line of equality; the Gini is in the legend.

    Examples
    --------
    >>> ax = plot_lorenz([0, 0, 0, 4])
    >>> [t.get_text() for t in ax.get_legend().get_texts()]
    ['portfolio (Gini 0.75)', 'equality']
    """
    ax = axes(ax, figsize=(6, 4.5))
    curve = lorenz_curve(values, negative=negative)
    g = gini(values, negative=negative)
    ax.plot(curve["population_share"], curve["value_share"], color="#1f77b4",
            label=f"{label} (Gini {fmt.estimate(g, 2)})")  # fmt: skip
    ax.plot([0, 1], [0, 1], color="grey", linestyle="--", linewidth=1, label="equality")
    ax.set_xlim(0, 1)
    ax.set_ylim(0, 1)
    return finish(
        ax,
        title="Revenue concentration (Lorenz curve)",
        xlabel="share of accounts, smallest first (0–1)",
        ylabel="share of revenue (0–1)",
        loc="upper left",
    )


def plot_revenue_by_tier(overview: pd.DataFrame, ax=None):
    """Bars of the share of accounts and the share of revenue in each tier.

    Parameters
    ----------
    overview : pandas.DataFrame
        :func:`kamlab.tiers.tier_overview` (``account_share`` and ``revenue_share`` per tier).

    Examples
    --------
    >>> from kamlab.tiers import tier_overview
    >>> tiers = pd.Series({"A": "regular", "B": "key", "C": "strategic"})
    >>> ax = plot_revenue_by_tier(tier_overview(tiers, pd.Series({"A": 1.0, "B": 2, "C": 7})))
    >>> [round(float(p.get_height()), 2) for p in ax.patches]
    [0.33, 0.33, 0.33, 0.1, 0.2, 0.7]
    """
    ax = axes(ax, figsize=(6, 4.5))
    shares = overview.reindex(list(TIERS))[["account_share", "revenue_share"]].fillna(0.0)
    x = np.arange(len(TIERS))
    width = 0.38
    ax.bar(x - width / 2, shares["account_share"], width, color="#c7c7c7",
           label="share of accounts")  # fmt: skip
    ax.bar(x + width / 2, shares["revenue_share"], width,
           color=[TIER_COLOURS[t] for t in TIERS], label="share of revenue")  # fmt: skip
    ax.set_xticks(x, list(TIERS))
    ax.set_ylim(0, 1)
    return finish(
        ax,
        title="Accounts and revenue by tier",
        xlabel="tier",
        ylabel="share of the portfolio (0–1)",
        loc="upper right",
    )


def plot_selection_matrix(
    scored, ax=None, *, x: str = "strength", y: str = "attractiveness", tier_col: str = "tier"
):
    """Scatter of account attractiveness × relative strength, split at the medians, with the
    four McDonald & Woodburn quadrant labels; points coloured by tier.

    Parameters
    ----------
    scored : Scores or pandas.DataFrame
        :func:`kamlab.criteria.score_accounts` of a rule set with axes (``selection_matrix``).

    Examples
    --------
    >>> from kamlab.criteria import score_accounts
    >>> from kamlab.synth import generate
    >>> from kamlab.features import account_features
    >>> from kamlab.data import Dataset
    >>> p = generate(60, 2, seed=1)
    >>> data = Dataset(p.accounts, p.transactions, p.assessments, p.interactions)
    >>> features = account_features(data, "2023-07-01")
    >>> ax = plot_selection_matrix(score_accounts(features, "selection_matrix"))
    >>> sorted(t.get_text() for t in ax.texts)
    ['star', 'status', 'strategic', 'streamline']
    """
    table = getattr(scored, "table", scored)
    for col in (x, y):
        if col not in table:
            raise ValueError(
                f"scored has no {col!r} column: score with a rule set that has "
                f"axes (e.g. 'selection_matrix')"
            )
    ax = axes(ax, figsize=(6, 4.5))
    tiers = as_tiers(table, tier_col)
    for tier in TIERS:
        part = table[tiers == tier]
        ax.scatter(part[x], part[y], s=18 if tier == "regular" else 36,
                   color=TIER_COLOURS[tier], label=tier, alpha=0.8, edgecolors="none")  # fmt: skip
    ax.axvline(table[x].median(), color="grey", linewidth=0.8, label="median")
    ax.axhline(table[y].median(), color="grey", linewidth=0.8)
    xs, ys = (table[x].min(), table[x].max()), (table[y].min(), table[y].max())
    for quadrant, (px, py, ha, va) in _QUADRANT_SPOTS.items():
        ax.text(xs[px], ys[py], quadrant, ha=ha, va=va, fontsize=10, fontweight="bold", alpha=0.6)
    return finish(
        ax,
        title="Selection matrix (McDonald & Woodburn)",
        xlabel=f"our relative {x} (score contribution)",
        ylabel=f"account {y} (score contribution)",
        loc="center left",
        bbox_to_anchor=(1.0, 0.5),
    )


def plot_contributions(contributions: pd.DataFrame, account_id, ax=None, *, top: int | None = None):
    """Horizontal bars of each criterion's contribution to one account's score (positive pulls
    the score up, negative down); the title gives the score, which the bars add up to.

    Examples
    --------
    >>> contrib = pd.DataFrame({"size": [0.2], "fit": [-0.05]}, index=["A"])
    >>> plot_contributions(contrib, "A").get_title()
    'A: score +0.15 = sum of 2 contributions'
    """
    if account_id not in contributions.index:
        raise KeyError(f"account {account_id!r} is not in the contributions table")
    row = contributions.loc[account_id]
    row = row.reindex(row.abs().sort_values(ascending=True, kind="stable").index)
    if top is not None:
        row = row.iloc[-top:]
    ax = axes(ax, figsize=(6, 4.5))
    up = row.to_numpy() >= 0
    y = np.arange(len(row))
    ax.barh(y[up], row.to_numpy()[up], color="#2ca02c", label="raises the score")
    ax.barh(y[~up], row.to_numpy()[~up], color="#d62728", label="lowers the score")
    ax.set_yticks(y, list(row.index))
    ax.axvline(0, color="black", linewidth=0.8, label="no contribution")
    total = contributions.loc[account_id].sum()
    return finish(
        ax,
        title=f"{account_id}: score {fmt.signed(total, 3)} = sum of "
        f"{contributions.shape[1]} contributions",
        xlabel="contribution to the score (weight × normalised value)",
        ylabel="criterion",
        fontsize="small",
    )


def plot_migration(table: pd.DataFrame, ax=None, *, cmap: str = "Blues"):
    """Heatmap of a :func:`kamlab.review.tier_migration` table with the counts annotated.

    Examples
    --------
    >>> from kamlab.review import tier_migration
    >>> ax = plot_migration(tier_migration(pd.Series({"A": "key"}), pd.Series({"A": "strategic"})))
    >>> len(ax.texts)
    16
    """
    import seaborn as sns

    ax = axes(ax, figsize=(6, 4.5))
    sns.heatmap(table, annot=True, fmt="d", cmap=cmap, cbar=False, ax=ax, linewidths=0.5)
    return finish(
        ax,
        title="Tier migration between two reviews (accounts)",
        xlabel="tier at the later review",
        ylabel="tier at the earlier review",
        legend=False,
    )


def plot_retention(retention: pd.DataFrame, ax=None, *, cohort: str = "all"):
    """NRR and GRR over time as bars, one pair per period, with the 100 % line.

    Parameters
    ----------
    retention : pandas.DataFrame
        :func:`kamlab.portfolio.cohort_retention` (indexed by ``period, cohort``).
    cohort : str
        The cohort to show (default the whole portfolio).

    Examples
    --------
    >>> index = pd.MultiIndex.from_tuples([("2022→2023", "all"), ("2023→2024", "all")],
    ...                                   names=["period", "cohort"])
    >>> table = pd.DataFrame({"nrr": [1.05, 0.97], "grr": [0.9, 0.88]}, index=index)
    >>> ax = plot_retention(table)
    >>> len(ax.patches), ax.get_ylabel()
    (4, 'share of period-1 revenue kept (%)')
    """
    ax = axes(ax)
    rows = retention.xs(cohort, level="cohort")
    x = np.arange(len(rows))
    width = 0.38
    ax.bar(x - width / 2, 100 * rows["nrr"], width, color="#1f77b4",
           label="NRR (net, with expansion)")  # fmt: skip
    ax.bar(x + width / 2, 100 * rows["grr"], width, color="#9e9e9e",
           label="GRR (gross, no expansion)")  # fmt: skip
    ax.axhline(100, color="black", linewidth=0.8, linestyle="--", label="100 % (all kept)")
    ax.set_xticks(x, list(rows.index))
    return finish(
        ax,
        title=f"Revenue retention by period ({cohort} accounts)",
        xlabel="period (base → following)",
        ylabel="share of period-1 revenue kept (%)",
        fontsize="small",
    )
