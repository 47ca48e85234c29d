"""Figures of the segmentation: the choice of k, a 2-D map of the accounts, crosstabs and the
outcome by group. Each has a title, axis labels and a legend for every line
(:mod:`kamlab._plot`)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
import pandas as pd
from sklearn.decomposition import PCA

from kamlab._plot import axes as new_axes
from kamlab._plot import finish
from kamlab.segment.clustering import STABILITY_THRESHOLD
from kamlab.segment.compare import PartitionComparison, Separation

__all__ = [
    "Embedding",
    "embed_2d",
    "plot_crosstab",
    "plot_crosstabs",
    "plot_embedding",
    "plot_embeddings",
    "plot_k_selection",
    "plot_outcome_by_group",
    "plot_separations",
]

_INDICES = (
    ("silhouette", "silhouette (higher is better)"),
    ("calinski_harabasz", "Calinski–Harabasz (higher is better)"),
    ("davies_bouldin", "Davies–Bouldin (lower is better)"),
    ("bic", "BIC (lower is better)"),
)


def plot_k_selection(table: pd.DataFrame, axes=None, stability_table: pd.DataFrame | None = None):
    """One panel per index of :func:`~kamlab.segment.choose_k` (and the stability mean ARI
    with its 5–95 % band when given) against k. Returns the array of Axes.

    Examples
    --------
    >>> table = pd.DataFrame({"k": [2, 3], "silhouette": [0.5, 0.4], "calinski_harabasz":
    ...                       [90.0, 80], "davies_bouldin": [0.7, 0.9], "bic": [np.nan] * 2})
    >>> [ax.get_title() for ax in plot_k_selection(table)][0]
    'silhouette (higher is better)'
    """
    metrics = [(c, t) for c, t in _INDICES if c != "bic" or table["bic"].notna().any()]
    n_panels = len(metrics) + (stability_table is not None)
    axes = np.atleast_1d(
        new_axes(axes, figsize=(3.2 * n_panels, 3), ncols=n_panels, layout="constrained")
    )
    for ax, (col, title) in zip(axes, metrics):
        ax.plot(table["k"], table[col], marker="o", label=col.replace("_", "-"))
        finish(ax, title=title, xlabel="number of segments k", ylabel="index value")
    if stability_table is not None:
        ax, st = axes[len(metrics)], stability_table
        ax.fill_between(st["k"], st["q05"], st["q95"], alpha=0.25, label="5–95 % of replicates")
        ax.plot(st["k"], st["mean_ari"], marker="o", label="mean ARI")
        ax.axhline(STABILITY_THRESHOLD, ls="--", color="grey", lw=1, label="stable from here")
        ax.set_ylim(-0.05, 1.05)
        finish(
            ax,
            title="bootstrap stability (higher is better)",
            xlabel="number of segments k",
            ylabel="adjusted Rand index (0–1)",
            fontsize="small",
        )
    return axes


@dataclass(frozen=True)
class Embedding:
    """The accounts on their first two principal components (:func:`embed_2d`).

    Attributes
    ----------
    table : pandas.DataFrame
        ``pc1``, ``pc2`` per account.
    explained_variance_ratio : tuple of float
        Share of the variance each component explains.
    """

    table: pd.DataFrame
    explained_variance_ratio: tuple[float, float]


def embed_2d(Z, random_state: int = 0) -> Embedding:
    """First two principal components of a prepared matrix, indexed like it; each component's
    sign is fixed so that its largest loading is positive.

    Examples
    --------
    >>> Z = pd.DataFrame({"a": [1.0, 2, 3, 4], "b": [1.0, 0, 1, 0], "c": [0.0, 0, 0, 1]})
    >>> emb = embed_2d(Z)
    >>> list(emb.table.columns), round(sum(emb.explained_variance_ratio), 3)
    (['pc1', 'pc2'], 0.96)
    """
    frame = Z if isinstance(Z, pd.DataFrame) else pd.DataFrame(np.asarray(Z, dtype=float))
    pca = PCA(n_components=2, random_state=random_state)
    scores = pca.fit_transform(frame.to_numpy())
    signs = np.sign(pca.components_[np.arange(2), np.abs(pca.components_).argmax(axis=1)])
    table = pd.DataFrame(scores * signs, index=frame.index, columns=["pc1", "pc2"])
    ratio = pca.explained_variance_ratio_
    return Embedding(table, (float(ratio[0]), float(ratio[1])))


def plot_embedding(embedding: Embedding, labels: pd.Series, ax=None, *, title: str | None = None):
    """Scatter of :func:`embed_2d` coloured by a label Series; returns the Axes.

    Examples
    --------
    >>> emb = embed_2d(pd.DataFrame({"a": [1.0, 2, 3, 4], "b": [1.0, 0, 1, 0]}))
    >>> ax = plot_embedding(emb, pd.Series(["x", "x", "y", "y"], name="segment"))
    >>> ax.get_title(), ax.get_xlabel()
    ('accounts by segment', 'PC1 (87% of variance)')
    """
    ax = new_axes(ax, figsize=(5, 4))
    frame = embedding.table
    lab = labels.reindex(frame.index)
    keys = (
        list(lab.cat.categories)
        if isinstance(lab.dtype, pd.CategoricalDtype)
        else sorted(lab.dropna().unique())
    )
    for i, key in enumerate(keys):
        m = (lab == key).to_numpy()
        ax.scatter(frame.loc[m, "pc1"], frame.loc[m, "pc2"], s=14, alpha=0.8,
                   color=f"C{i % 10}", label=str(key))  # fmt: skip
    evr = embedding.explained_variance_ratio
    return finish(
        ax,
        title=title or f"accounts by {labels.name or 'group'}",
        xlabel=f"PC1 ({evr[0]:.0%} of variance)",
        ylabel=f"PC2 ({evr[1]:.0%} of variance)",
        title_fontsize=8,
        fontsize=8,
        loc="best",
    )


def plot_crosstab(crosstab: pd.DataFrame, ax=None, *, normalize: bool = False):
    """Heatmap of a crosstab (counts, or row shares when ``normalize``); returns the Axes.

    Examples
    --------
    >>> tab = pd.crosstab(pd.Series([0, 0, 1], name="segment"), pd.Series(list("kkr"), name="tier"))
    >>> ax = plot_crosstab(tab)
    >>> ax.get_xlabel(), ax.get_ylabel()
    ('tier', 'segment')
    """
    import seaborn as sns

    ax = new_axes(ax, figsize=(5, 3.5))
    data = crosstab.div(crosstab.sum(axis=1), axis=0) if normalize else crosstab
    sns.heatmap(data, annot=True, fmt=".2f" if normalize else "d", cmap="Blues", cbar=False, ax=ax)
    rows, cols = crosstab.index.name or "rows", crosstab.columns.name or "columns"
    what = "share of each row" if normalize else "accounts"
    return finish(ax, title=f"{what} by {rows} and {cols}", xlabel=cols, ylabel=rows, legend=False)


def plot_outcome_by_group(
    separation: Separation, ax=None, *, title: str | None = None, overall: float | None = None
):
    """Mean outcome per group with its bootstrap interval (:func:`outcome_separation`);
    returns the Axes.

    Examples
    --------
    >>> from kamlab.segment import outcome_separation
    >>> sep = outcome_separation(pd.Series(list("aabb"), name="tier"),
    ...                          pd.Series([1.0, 2, 3, 4], name="growth_dh"), n_boot=50)
    >>> plot_outcome_by_group(sep, overall=2.5).get_xlabel()
    'mean growth_dh (95 % CI)'
    """
    ax = new_axes(ax, figsize=(4.5, 3))
    table = separation.groups
    y = np.arange(len(table))
    level = round(100 * separation.level)
    ax.errorbar(
        table["mean"],
        y,
        xerr=[table["mean"] - table["ci_low"], table["ci_high"] - table["mean"]],
        fmt="o",
        capsize=3,
        label=f"group mean ({level} % CI)",
    )
    ax.set_yticks(y, [f"{g} (n={n})" for g, n in zip(table.index, table["n"])])
    ax.invert_yaxis()
    if overall is not None:
        ax.axvline(overall, ls="--", color="grey", lw=1, label="all accounts")
    return finish(
        ax,
        title=title or f"{separation.outcome} by {table.index.name}",
        xlabel=f"mean {separation.outcome} ({level} % CI)",
        ylabel=str(table.index.name),
        fontsize="small",
    )


def plot_crosstabs(comparisons: Mapping[str, PartitionComparison], axes=None):
    """:func:`plot_crosstab` of each comparison side by side; returns the array of Axes.

    Examples
    --------
    >>> from kamlab.segment import compare_partitions
    >>> seg = pd.Series([0, 0, 1], name="segment")
    >>> comps = {"tiers": compare_partitions(seg, pd.Series(list("kkr"), name="tier")),
    ...          "types": compare_partitions(seg, pd.Series(list("aab"), name="type"))}
    >>> [ax.get_xlabel() for ax in plot_crosstabs(comps)]
    ['tier', 'type']
    """
    n = len(comparisons)
    axes = np.atleast_1d(new_axes(axes, figsize=(5 * n, 3.5), ncols=n, layout="constrained"))
    for ax, comp in zip(axes, comparisons.values()):
        plot_crosstab(comp.crosstab, ax=ax)
    return axes


def plot_embeddings(embedding: Embedding, partitions: Mapping[str, pd.Series], axes=None):
    """:func:`plot_embedding` coloured by each partition side by side; returns the Axes.

    Examples
    --------
    >>> emb = embed_2d(pd.DataFrame({"a": [1.0, 2, 3, 4], "b": [1.0, 0, 1, 0]}))
    >>> parts = {"segments": pd.Series([0, 0, 1, 1]), "tiers": pd.Series(list("rrkk"))}
    >>> [ax.get_title() for ax in plot_embeddings(emb, parts)]
    ['accounts by segments', 'accounts by tiers']
    """
    n = len(partitions)
    axes = np.atleast_1d(new_axes(axes, figsize=(5 * n, 4), ncols=n, layout="constrained"))
    for ax, (name, labels) in zip(axes, partitions.items()):
        plot_embedding(embedding, labels, ax=ax, title=f"accounts by {name}")
    return axes


def plot_separations(separations: Mapping[str, Separation], axes=None):
    """:func:`plot_outcome_by_group` for each partition side by side, with the mean of all
    accounts as a dashed line; returns the array of Axes.

    Examples
    --------
    >>> from kamlab.segment import outcome_separations
    >>> y = pd.Series([1.0, 2, 3, 4], name="growth_dh")
    >>> seps = outcome_separations({"tiers": pd.Series(list("aabb"), name="tier")}, y, n_boot=20)
    >>> [ax.get_title() for ax in plot_separations(seps)]
    ['tiers: mean growth_dh (95 % CI)']
    """
    n = len(separations)
    axes = np.atleast_1d(
        new_axes(axes, figsize=(4.2 * n, 3.2), ncols=n, layout="constrained", sharex=True)
    )
    for ax, (name, sep) in zip(axes, separations.items()):
        groups = sep.groups
        overall = float((groups["n"] * groups["mean"]).sum() / groups["n"].sum())
        level = round(100 * sep.level)
        plot_outcome_by_group(
            sep, ax=ax, title=f"{name}: mean {sep.outcome} ({level} % CI)", overall=overall
        )
    return axes
