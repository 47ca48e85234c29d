"""Plot smoke tests: each function returns the Axes with the expected artists and labels."""

from __future__ import annotations

import matplotlib.pyplot as plt
import pandas as pd
import pytest
from matplotlib.axes import Axes

from kamlab import plotting
from kamlab.criteria import contributions, score_accounts, tier_migration
from kamlab.features import account_features


@pytest.fixture(autouse=True)
def _close():
    yield
    plt.close("all")


@pytest.fixture(scope="module")
def scored(sample_dataset):
    feats = account_features(sample_dataset, "2024-01-01", 365)
    return feats, score_accounts(feats, "selection_matrix")


def test_lorenz_has_gini_in_legend():
    ax = plotting.lorenz([0, 0, 0, 4])
    assert isinstance(ax, Axes) and len(ax.lines) == 2
    labels = [t.get_text() for t in ax.get_legend().get_texts()]
    assert labels == ["portfolio (Gini 0.75)", "equality"]
    assert len(ax.lines[0].get_xdata()) == 5


def test_lorenz_uses_the_given_axes():
    _, ax = plt.subplots()
    assert plotting.lorenz([1, 2, 3], ax=ax) is ax


def test_revenue_by_tier(scored):
    feats, sc = scored
    ax = plotting.revenue_by_tier(sc, feats)
    assert isinstance(ax, Axes) and len(ax.patches) == 6
    assert [t.get_text() for t in ax.get_xticklabels()] == ["regular", "key", "strategic"]
    heights = [p.get_height() for p in ax.patches]
    assert sum(heights[:3]) == pytest.approx(1.0) and sum(heights[3:]) == pytest.approx(1.0)


def test_selection_matrix_has_quadrant_labels(scored):
    _, sc = scored
    ax = plotting.selection_matrix(sc)
    assert len(ax.collections) == 3  # one scatter per tier
    assert sorted(t.get_text() for t in ax.texts) == ["star", "status", "strategic", "streamline"]
    with pytest.raises(ValueError, match="axes"):
        plotting.selection_matrix(sc.drop(columns=["strength"]))


def test_contribution_bar(scored, sample_dataset):
    feats, sc = scored
    contrib = contributions(feats, "selection_matrix")
    best = sc["rank"].idxmin()
    ax = plotting.contribution_bar(contrib, best)
    assert len(ax.patches) == contrib.shape[1]
    assert ax.get_title() == f"{best}: score {sc.loc[best, 'score']:+.3f}"
    assert len(plotting.contribution_bar(contrib, best, top=5).patches) == 5
    with pytest.raises(KeyError):
        plotting.contribution_bar(contrib, "nobody")


def test_migration_heatmap():
    a = pd.Series({"A": "strategic", "B": "key", "C": "regular"})
    b = pd.Series({"A": "key", "B": "key", "D": "regular"})
    ax = plotting.migration_heatmap(tier_migration(a, b))
    assert isinstance(ax, Axes)
    assert len(ax.texts) == 16  # 4 × 4 annotated counts
    assert sum(int(t.get_text()) for t in ax.texts) == 4
