"""Portfolio and key-account figures: the artists drawn, and every figure titled, labelled and
with a legend for every labelled line."""

from __future__ import annotations

import matplotlib.pyplot as plt
import pandas as pd
import pytest
from matplotlib.axes import Axes

from kamlab import plotting
from kamlab.criteria import score_accounts
from kamlab.features import account_features
from kamlab.review import tier_migration
from kamlab.tiers import tier_overview


@pytest.fixture(autouse=True)
def _close():
    yield
    plt.close("all")


@pytest.fixture(scope="module")
def scored(sample_dataset):
    feats = account_features(sample_dataset, "2024-01-01", 365)
    return feats, score_accounts(feats, "selection_matrix")


def assert_readable(ax: Axes, *, legend: bool = True) -> None:
    """A title, both axis labels, and (when asked) a legend naming every labelled artist."""
    assert ax.get_title() and ax.get_xlabel() and ax.get_ylabel()
    if legend:
        _, labels = ax.get_legend_handles_labels()
        shown = [t.get_text() for t in ax.get_legend().get_texts()]
        assert shown == [label for label in labels if not label.startswith("_")]


def test_lorenz_has_gini_in_legend():
    ax = plotting.plot_lorenz([0, 0, 0, 4])
    assert isinstance(ax, Axes) and len(ax.lines) == 2
    assert [t.get_text() for t in ax.get_legend().get_texts()] == [
        "portfolio (Gini 0.75)",
        "equality",
    ]
    assert len(ax.lines[0].get_xdata()) == 5
    assert_readable(ax)


def test_lorenz_uses_the_given_axes():
    _, ax = plt.subplots()
    assert plotting.plot_lorenz([1, 2, 3], ax=ax) is ax


def test_revenue_by_tier_draws_the_overview(scored):
    feats, sc = scored
    overview = tier_overview(sc, feats["revenue_12m"])
    ax = plotting.plot_revenue_by_tier(overview)
    assert len(ax.patches) == 6
    assert [t.get_text() for t in ax.get_xticklabels()] == ["regular", "key", "strategic"]
    heights = [p.get_height() for p in ax.patches]
    assert heights[:3] == pytest.approx(overview["account_share"].iloc[:3].tolist(), abs=1e-15)
    assert heights[3:] == pytest.approx(overview["revenue_share"].iloc[:3].tolist(), abs=1e-15)
    assert sum(heights[:3]) == pytest.approx(1.0) and sum(heights[3:]) == pytest.approx(1.0)
    assert_readable(ax)


def test_selection_matrix_has_quadrant_labels(scored):
    _, sc = scored
    ax = plotting.plot_selection_matrix(sc)
    assert len(ax.collections) == 3  # one scatter per tier
    assert sorted(t.get_text() for t in ax.texts) == ["star", "status", "strategic", "streamline"]
    assert_readable(ax)
    with pytest.raises(ValueError, match="axes"):
        plotting.plot_selection_matrix(sc.table.drop(columns=["strength"]))


def test_contributions_add_up_to_the_score(scored):
    _, sc = scored
    best = sc.table["rank"].idxmin()
    ax = plotting.plot_contributions(sc.contributions, best)
    assert len(ax.patches) == sc.contributions.shape[1]
    widths = sum(p.get_width() for p in ax.patches)
    assert widths == pytest.approx(sc.table.loc[best, "score"], abs=1e-12)
    assert ax.get_title().startswith(f"{best}: score +")
    assert_readable(ax)
    assert len(plotting.plot_contributions(sc.contributions, best, top=5).patches) == 5
    with pytest.raises(KeyError):
        plotting.plot_contributions(sc.contributions, "nobody")


def test_migration_heatmap():
    a = pd.Series({"A": "strategic", "B": "key", "C": "regular"})
    b = pd.Series({"A": "key", "B": "key", "D": "regular"})
    ax = plotting.plot_migration(tier_migration(a, b))
    assert len(ax.texts) == 16  # 4 × 4 annotated counts
    assert sum(int(t.get_text()) for t in ax.texts) == 4
    assert_readable(ax, legend=False)


def test_retention_bars(sample_dataset):
    from kamlab.portfolio import cohort_retention

    table = cohort_retention(sample_dataset)
    ax = plotting.plot_retention(table)
    periods = table.xs("all", level="cohort")
    heights = [p.get_height() for p in ax.patches]
    n = len(periods)
    assert heights[:n] == pytest.approx((100 * periods["nrr"]).tolist())
    assert heights[n:] == pytest.approx((100 * periods["grr"]).tolist())
    assert_readable(ax)
