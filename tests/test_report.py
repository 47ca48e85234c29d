"""report: tables and figures are saved only inside a run; the run digest quotes the tables."""

from __future__ import annotations

import json

import matplotlib.pyplot as plt
import pandas as pd
import pytest

from kamlab import report
from kamlab.cli import main


def test_outside_a_run_nothing_is_written(tmp_path, monkeypatch):
    monkeypatch.delenv("KAMLAB_RUN_DIR", raising=False)
    frame = pd.DataFrame({"a": [1]})
    assert report.table(frame, "t") is frame
    assert report.run_dir() is None


def test_inside_a_run_tables_and_figures_are_saved(tmp_path, monkeypatch):
    monkeypatch.setenv("KAMLAB_RUN_DIR", str(tmp_path))
    monkeypatch.setenv("KAMLAB_NOTEBOOK", "01_x")
    frame = pd.DataFrame({0: [1.5, 2.0], "when": ["pooled", pd.Timestamp("2024-01-01")]})
    assert report.table(frame, "mixed") is frame
    assert list(frame.columns) == [0, "when"]  # the caller's frame is untouched
    back = pd.read_parquet(tmp_path / "tables" / "01_x__mixed.parquet")
    assert list(back["when"]) == ["pooled", "2024-01-01 00:00:00"]
    fig, ax = plt.subplots()
    ax.plot([0, 1])
    report.figure(ax, "line")
    first = (tmp_path / "figures" / "01_x__line.svg").read_bytes()
    report.figure(ax, "line")
    assert (tmp_path / "figures" / "01_x__line.svg").read_bytes() == first  # byte-stable
    assert (tmp_path / "figures" / "01_x__line.png").stat().st_size > 0
    plt.close(fig)


@pytest.fixture
def fake_run(tmp_path):
    tables = tmp_path / "tables"
    tables.mkdir()
    manifest = {
        "kamlab_version": "0.1.0",
        "data": "x",
        "status": "ok",
        "parameters": {
            "02_key_accounts": {
                "cutoff": "2024-01-01",
                "horizon_days": 365,
                "rule_set": "seed_weighted",
            }
        },
        "data_quality_ledger": [{"rule": "exact_duplicate", "rows_dropped": 3}],
    }
    (tmp_path / "manifest.json").write_text(json.dumps(manifest))
    pd.DataFrame(
        {
            "index": [
                "accounts",
                "gini",
                "top_20pct_share",
                "top_1pct_share",
                "accounts_for_80pct",
            ],
            "value": [10, 0.5, 0.7, 0.2, 4],
        }
    ).to_csv(tables / "01_portfolio__concentration.csv", index=False)
    pd.DataFrame(
        {
            "tier": ["regular", "key", "strategic"],
            "accounts": [8, 1, 1],
            "revenue_share": [0.4, 0.25, 0.35],
        }
    ).to_csv(tables / "02_key_accounts__tiers.csv", index=False)
    pd.DataFrame(
        {
            "frequency": ["0-9", "total"],
            "n": [5, 5],
            "actual_total": [100, 100],
            "predicted_total": [90, 90],
        }
    ).to_csv(tables / "06_clv__holdout_check.csv", index=False)
    return tmp_path


def test_summarize_quotes_the_run_tables(fake_run):
    text = report.summarize_run(fake_run)
    assert "cutoff 2024-01-01, horizon 365 days" in text
    assert "3 rows left out by rule (exact_duplicate 3)" in text
    assert "top 20 % bring 70.0% of revenue" in text and "Gini 0.500" in text
    assert "1 strategic and 1 key of 10, carrying 60.0% of revenue" in text
    assert "90 repeat purchases predicted vs 100 actual (-10.0%)" in text
    assert "Back-test" not in text  # absent tables leave their section out


def test_summarize_command(fake_run, capsys):
    assert main(["summarize", str(fake_run)]) == 0
    assert "Gini 0.500" in capsys.readouterr().out
    assert main(["summarize", str(fake_run / "tables")]) == 1
