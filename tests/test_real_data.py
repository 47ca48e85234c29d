"""Every notebook on real data: UCI Online Retail and the CDNOW master file (skipped when
../shared/reference is absent)."""

from __future__ import annotations

import hashlib
import json

import pytest
from conftest import reference_path

from kamlab.runner import find_notebooks, run_notebooks

pytestmark = [pytest.mark.slow, pytest.mark.reference]
# The tests sharing the Online Retail run go to one worker (the run is built once per worker).
SHARED_RUN = pytest.mark.xdist_group("online_retail")


def _tables(folder):
    return {
        p.name: hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted((folder / "tables").glob("*.csv"))
    }


@pytest.fixture(scope="session")
def online_retail_run(tmp_path_factory):
    source = reference_path("online-retail", "online_retail.parquet")
    out = tmp_path_factory.mktemp("or") / "run"
    return run_notebooks(f"online-retail:{source}", out, progress=False, jobs=2)


@SHARED_RUN
def test_online_retail_full_run(online_retail_run):
    manifest = json.loads((online_retail_run / "manifest.json").read_text())
    assert manifest["status"] == "ok"
    assert [n["notebook"] for n in manifest["notebooks"]] == [p.name for p in find_notebooks()]
    # No date overrides: the dates follow the data (13 months of invoices, so a six-month
    # horizon, said in the manifest), one value per date across all notebooks.
    dates = manifest["dates"]
    assert (dates["as_of"], dates["horizon_days"], dates["outcome_cutoff"]) == (
        "2011-12-10",
        183,
        "2011-06-01",
    )
    assert "6 months" in dates["horizon_note"]
    assert dates["backtest_cutoffs"] == ["2011-03-01", "2011-06-01"]
    for used in manifest["notebook_dates"].values():
        assert all(dates[key] == value for key, value in used.items())
    # The ledger travels with the run and accounts for every excluded line.
    ledger = {r["rule"]: r["rows_dropped"] for r in manifest["data_quality_ledger"]}
    assert ledger["missing_account_id"] == 135_077 and ledger["bookkeeping_adjustment"] == 3
    assert manifest["inputs"] == {
        "online_retail.parquet": (
            "0a3bc1acf50608cb76604364a49626e1a9b9b8bb7f7bdb95b05ce72427b2187f"
        )
    }
    concentration = (online_retail_run / "tables" / "01_portfolio__concentration.csv").read_text()
    assert "top_20pct_share" in concentration


@SHARED_RUN
def test_online_retail_tables_are_identical_across_runs(online_retail_run, tmp_path):
    source = reference_path("online-retail", "online_retail.parquet")
    again = run_notebooks(
        f"online-retail:{source}", tmp_path / "again", progress=False, notebooks=["01", "06"]
    )
    first, second = _tables(online_retail_run), _tables(again)
    assert second and all(first[name] == digest for name, digest in second.items())


def test_cdnow_master_full_run(tmp_path):
    source = reference_path("cdnow", "CDNOW_master.txt")
    # 23,570 accounts: fewer bootstrap resamples and segment counts in 03 keep the suite quick; the dates and
    # every notebook's path through them are what this test is about.
    params = tmp_path / "params.yaml"
    params.write_text("'03':\n  n_boot: 10\n  k_range: [2, 3, 4, 5]\n")
    out = run_notebooks(
        f"cdnow:{source}", tmp_path / "cdnow", progress=False, jobs=2, params_file=params
    )
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["status"] == "ok"
    assert (out / "data" / "transactions.parquet").is_file()
    dates = manifest["dates"]
    assert (dates["as_of"], dates["horizon_days"], dates["outcome_cutoff"]) == (
        "1998-07-01",
        242,
        "1997-11-01",
    )


@SHARED_RUN
def test_readme_results_are_what_the_run_says(online_retail_run):
    from conftest import REPO

    from kamlab.report import summarize_run

    readme = (REPO / "README.md").read_text(encoding="utf-8")
    digest = summarize_run(online_retail_run).splitlines()[1:]  # line 0 names the input path
    missing = [line for line in digest if line not in readme]
    assert not missing, (
        "README 'Results on real data' is stale; re-run kamlab summarize:\n" + "\n".join(missing)
    )
