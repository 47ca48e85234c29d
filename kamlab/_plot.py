"""The one home of kamlab's plotting conventions.

Every ``plot_*`` function in kamlab takes ``ax=None`` and returns the Axes. It gets its Axes
from :func:`axes` and ends with :func:`finish`, so every figure has a title, axis labels (with
units where there are units) and a legend that shows every labelled line.
"""

from __future__ import annotations

__all__ = ["axes", "finish"]

FIGSIZE = (6.0, 4.0)


def axes(ax=None, *, figsize: tuple[float, float] = FIGSIZE, **subplots):
    """``ax`` itself, or a new Axes on a new figure of ``figsize`` inches."""
    if ax is not None:
        return ax
    import matplotlib.pyplot as plt

    _, ax = plt.subplots(figsize=figsize, **subplots)
    return ax


def finish(
    ax,
    *,
    title: str,
    xlabel: str | None = None,
    ylabel: str | None = None,
    legend: bool | None = None,
    **legend_kw,
):
    """Set the title and axis labels; draw the legend when any artist carries a label.

    ``legend=None`` (default) draws it when there is something to show; ``True`` forces it,
    ``False`` suppresses it (e.g. a colour bar already explains the colours).
    """
    ax.set_title(title)
    if xlabel is not None:
        ax.set_xlabel(xlabel)
    if ylabel is not None:
        ax.set_ylabel(ylabel)
    _, labels = ax.get_legend_handles_labels()
    shown = [label for label in labels if label and not label.startswith("_")]
    if legend or (legend is None and shown):
        legend_kw.setdefault("frameon", False)
        ax.legend(**legend_kw)
    return ax
