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


def test_undeclared_tables_and_figures_fail_loudly(tmp_path, monkeypatch):
    monkeypatch.setenv("KAMLAB_RUN_DIR", str(tmp_path))
    monkeypatch.setenv("KAMLAB_NOTEBOOK", "01_portfolio")
    report.table(pd.DataFrame({"a": [1]}), "concentration")  # declared
    with pytest.raises(ValueError, match="undeclared table 'typo'"):
        report.table(pd.DataFrame({"a": [1]}), "typo")


def test_show_is_for_people():
    frame = pd.DataFrame(
        {
            "revenue": [18150234.4871, float("nan")],
            "share": [0.632, None],
            "n": [244.0, 3.0],
            "p_value": [5.3e-17, 0.0412],
            "note": ["x", None],
        },
        index=pd.Index(["A1", "A2"], name="account_id"),
    )
    shown = report.show(frame, money=["revenue"], share=["share"], count=["n"], p=["p_value"])
    text, html = repr(shown), shown._repr_html_()
    for cell in ("18,150,234", "63.2%", "244", "< 0.001", "0.041", "–"):
        assert cell in text and cell.replace("<", "&lt;") in html
    for bad in ("e+", "e-1", "NaN", "nan", "<NA>", "None", "1.815"):
        assert bad not in text
    assert "<th>Account</th>" in html and "p-value" in text
    hostile = report.show(pd.DataFrame({"name": ["<script>alert(1)</script>"]}), index=False)
    assert "<script>" not in hostile._repr_html_()
    assert "&lt;script&gt;" in hostile._repr_html_()
    assert repr(report.show(frame.iloc[:0])) == "(none)"


def test_answers_and_names():
    assert repr(report.answer("Yes.")) == "**Answer.** Yes."
    assert report.answer("Yes.")._repr_markdown_() == "**Answer.** Yes."
    accounts = pd.DataFrame(
        {"account_id": ["A1", "A2"], "name": ["Alpha", "Beta"], "account_manager": ["Ann", None]}
    )
    named = report.with_names(
        pd.DataFrame({"clv": [1.0, 2.0]}, index=pd.Index(["A2", "A1"], name="account_id")), accounts
    )
    assert named.columns.tolist() == ["name", "account_manager", "clv"]
    assert named["name"].tolist() == ["Beta", "Alpha"]


@pytest.fixture
def fake_run(tmp_path):
    tables = tmp_path / "tables"
    tables.mkdir()
    manifest = {
        "kamlab_version": "0.2.0",
        "data": "x",
        "status": "ok",
        "dates": {
            "data_start": "2022-01-01",
            "data_end": "2024-12-31",
            "as_of": "2025-01-01",
            "horizon_days": 365,
            "outcome_cutoff": "2024-01-01",
            "previous_review": "2024-07-01",
        },
        "parameters": {"02_key_accounts": {"rule_set": "seed_weighted"}},
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
            "concentration": [10, 0.5, 0.7, 0.2, 4],
        }
    ).to_parquet(tables / "01_portfolio__concentration.parquet")
    pd.DataFrame(
        {
            "tier": ["regular", "key", "strategic", "total"],
            "accounts": [8, 1, 1, 10],
            "revenue_share": [0.4, 0.25, 0.35, 1.0],
        }
    ).to_parquet(tables / "02_key_accounts__tiers.parquet")
    pd.DataFrame(
        {
            "account_id": ["R1", "K1", "K2"],
            "tier": ["regular", "key", "strategic"],
            "churn_probability": [0.9, 0.3, 0.1],
            "at_risk": [True, True, False],
        }
    ).to_parquet(tables / "05_churn__churn_risk.parquet")
    pd.DataFrame(
        {
            "model": ["BG/NBD", "BG/NBD"],
            "parameter": ["r", "a"],
            "estimate": [0.24, float("nan")],
            "note": ["", "at the boundary"],
            "reported": ["0.24", "at the boundary"],
        }
    ).to_parquet(tables / "06_clv__model_params.parquet")
    pd.DataFrame(
        {
            "frequency": ["0-9", "total"],
            "n": [5, 5],
            "actual_total": [100, 100],
            "predicted_total": [90, 90],
        }
    ).to_parquet(tables / "06_clv__holdout_check.parquet")
    return tmp_path


def test_summarize_quotes_the_run_tables(fake_run):
    text = report.summarize_run(fake_run)
    assert (
        "data 2022-01-01 to 2024-12-31, as of 2025-01-01; outcomes over 365 days from "
        "2024-01-01; previous review 2024-07-01." in text
    )
    assert "3 rows left out by rule (exact_duplicate 3)" in text
    assert "top 20 % bring 70.0% of revenue" in text and "Gini 0.5" in text
    assert "1 strategic and 1 key of 10, carrying 60.0% of revenue" in text
    assert "1 of 2 key or strategic accounts flagged at risk; highest K1 (30.0%), K2" in text
    assert "BG/NBD: r 0.24, a at the boundary." in text
    assert "90 repeat purchases predicted vs 100 actual (-10.0%)" in text
    assert "Back-test" not in text  # absent tables leave their section out


def test_summarize_command(fake_run, capsys):
    assert main(["summarize", str(fake_run)]) == 0
    assert "Gini 0.5" in capsys.readouterr().out
    assert main(["summarize", str(fake_run / "tables")]) == 1
