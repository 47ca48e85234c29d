"""A run folder as a key-account lead opens it: the index, readable reports, the action list, the
same numbers as the committed notebooks, and refreshes that move with the data."""

from __future__ import annotations

import json
import re
from html.parser import HTMLParser
from pathlib import Path

import nbformat
import pandas as pd
import pytest
from conftest import REPO, SAMPLE

from kamlab.registry import NOTEBOOKS
from kamlab.runner import run_notebooks

pytestmark = [pytest.mark.slow, pytest.mark.xdist_group("sample_run")]

SCIENTIFIC = re.compile(r"\d\.?\d*e[+-]?\d+", re.IGNORECASE)
MISSING = {"nan", "NaN", "<NA>", "None", "NaT", "inf", "-inf"}


@pytest.fixture(scope="session")
def sample_run(tmp_path_factory):
    # Session scope: xdist may interleave other modules' tests on this worker, which would
    # tear down (and rebuild) a module-scoped run.
    out = tmp_path_factory.mktemp("sample") / "run"
    return run_notebooks(SAMPLE, out, jobs=2, progress=False)


class _Page(HTMLParser):
    def __init__(self):
        super().__init__()
        self.links: list[str] = []
        self.ids: set[str] = set()
        self.cells: list[str] = []
        self.classes: set[str] = set()
        self.scripts = 0
        self._cell: list[str] | None = None
        self.text: list[str] = []

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if "id" in attrs:
            self.ids.add(attrs["id"])
        self.classes.update((attrs.get("class") or "").split())
        if tag == "a" and attrs.get("href"):
            self.links.append(attrs["href"])
        if tag == "img" and attrs.get("src"):
            self.links.append(attrs["src"])
        if tag == "script":
            self.scripts += 1
        if tag in ("td", "th"):
            self._cell = []

    def handle_endtag(self, tag):
        if tag in ("td", "th") and self._cell is not None:
            self.cells.append("".join(self._cell).strip())
            self._cell = None

    def handle_data(self, data):
        self.text.append(data)
        if self._cell is not None:
            self._cell.append(data)


def _parse(path: Path) -> _Page:
    page = _Page()
    page.feed(path.read_text(encoding="utf-8"))
    return page


def _pages(run: Path) -> list[Path]:
    return [run / "index.html", *sorted((run / "html").glob("*.html"))]


def test_index_links_resolve_and_every_report_reads_as_a_report(sample_run):
    pages = _pages(sample_run)
    assert [p.stem for p in pages[1:]] == list(NOTEBOOKS)
    for path in pages:
        page = _parse(path)
        assert page.scripts == 0, f"{path.name}: a report must not need scripts"
        for link in page.links:
            if link.startswith("data:"):
                continue
            target, _, anchor = link.partition("#")
            assert not re.match(r"\w+://", target), f"{path.name} links outside: {link}"
            if target:
                assert (path.parent / target).exists(), f"{path.name}: broken link {link}"
            if anchor and not target:
                assert anchor in page.ids, f"{path.name}: no anchor #{anchor}"
        bad = [c for c in page.cells if SCIENTIFIC.fullmatch(c.replace(",", "")) or c in MISSING]
        assert not bad, f"{path.name}: cells {bad[:5]}"
        text = " ".join(page.text)
        if path.name != "index.html":
            assert "kamlab-banner" in page.classes, f"{path.name}: no banner"
            assert "../index.html" in page.links, f"{path.name}: no link back to the index"
            assert "Answer." in text, f"{path.name}: no Answer block"
            assert "printed above" not in text
    index = " ".join(_parse(pages[0]).text)
    assert "Executive summary" in index and "action_list.xlsx" in index


def test_reports_render_in_a_browser_without_errors(sample_run):
    from browser import Browser, find_chromium

    executable = find_chromium()
    if executable is None:
        pytest.skip("no Chromium installed (apt-get install chromium)")
    pytest.importorskip("websocket", reason="websocket-client is needed to drive Chromium")
    browser = Browser(executable)
    try:
        for path in _pages(sample_run):
            seen = browser.visit(path)
            assert seen["errors"] == [], f"{path.name}: {seen['errors']}"
            assert seen["broken_images"] == [], f"{path.name}: {seen['broken_images']}"
    finally:
        browser.close()


def test_action_list_has_every_active_account_and_the_notebooks_numbers(sample_run):
    book = pd.read_excel(sample_run / "action_list.xlsx", sheet_name=None, engine="calamine")
    actions = book["All accounts"].set_index("account_id")
    for column in (
        "name",
        "account_manager",
        "industry",
        "region",
        "tier",
        "previous_tier",
        "change",
        "score",
        "top_contributions",
        "type",
        "revenue_12m",
        "revenue_growth_12m",
        "churn_probability",
        "churn_driver",
        "clv",
        "clv_low",
        "clv_high",
        "p_alive",
        "flags",
    ):
        assert column in actions, column
    assert (
        sum(len(rows) for name, rows in book.items() if name != "All accounts")
        == actions["account_manager"].notna().sum()
    )
    tables = sample_run / "tables"
    scores = pd.read_parquet(tables / "02_key_accounts__scores.parquet").set_index("account_id")
    assert sorted(actions.index) == sorted(scores.index)  # one row per active account
    assert (actions["tier"] == scores.loc[actions.index, "tier"].astype(str)).all()
    risk = pd.read_parquet(tables / "05_churn__churn_risk.parquet").set_index("account_id")
    pd.testing.assert_series_equal(
        actions["churn_probability"],
        risk.loc[actions.index, "churn_probability"],
        check_names=False,
        rtol=1e-12,
    )
    ranking = pd.read_parquet(tables / "06_clv__clv_ranking.parquet").set_index("account_id")
    pd.testing.assert_series_equal(
        actions["clv"], ranking.loc[actions.index, "clv"], check_names=False, rtol=1e-12
    )
    flagged = actions["flags"].fillna("") != ""
    assert flagged.to_numpy()[: flagged.sum()].all()  # flagged accounts first
    csv = pd.read_csv(sample_run / "action_list.csv")
    assert len(csv) == len(actions)


def _visible(cell) -> list:
    """A cell's outputs without images (PNG bytes may differ with the font cache)."""
    return [
        (
            o.get("output_type"),
            o.get("text"),
            {k: v for k, v in o.get("data", {}).items() if not k.startswith("image/")},
        )
        for o in cell.outputs
    ]


def test_run_notebooks_show_what_the_committed_notebooks_show(sample_run):
    """Kernels reused between notebooks give the outputs of a fresh kernel per notebook."""
    for committed in sorted((REPO / "notebooks").glob("[0-9][0-9]_*.ipynb")):
        ran = nbformat.read(str(sample_run / "notebooks" / committed.name), as_version=4)
        ref = nbformat.read(str(committed), as_version=4)
        cells = [c for c in ran.cells if "injected-parameters" not in c.metadata.get("tags", [])]
        assert len(cells) == len(ref.cells), committed.name
        for index, (a, b) in enumerate(zip(cells, ref.cells)):
            if a.cell_type != "code":
                continue
            assert _visible(a) == _visible(b), f"{committed.name} cell {index} differs"


def test_summarize_states_the_dates_and_every_section(sample_run):
    from kamlab.digest import summarize_run

    text = summarize_run(sample_run)
    assert "as of 2025-01-01; outcomes over 365 days from 2024-01-01" in text
    for section in (
        "Concentration",
        "Retention",
        "Key accounts",
        "Back-test",
        "Growth drivers",
        "Churn risk",
        "BG/NBD",
        "Holdout check",
        "Review checklist",
    ):
        assert section in text, section


def _cut(source: Path, folder: Path, end: str) -> Path:
    """The sample as it looked at the end of ``end``: no row dated later."""
    folder.mkdir(parents=True)
    last = pd.Timestamp(end)
    for table, column in (
        ("transactions", "date"),
        ("assessments", "assessed_on"),
        ("interactions", "date"),
    ):
        frame = pd.read_csv(source / f"{table}.csv", dtype=str)
        frame[pd.to_datetime(frame[column]) <= last].to_csv(folder / f"{table}.csv", index=False)
    accounts = pd.read_csv(source / "accounts.csv", dtype=str)
    accounts = accounts[pd.to_datetime(accounts["acquired_on"]) <= last].copy()
    later = pd.to_datetime(accounts["churned_on"]) > last
    accounts.loc[later, "churned_on"] = None
    accounts.to_csv(folder / "accounts.csv", index=False)
    return folder


def test_a_refresh_three_months_later_moves_every_date(tmp_path):
    runs = {}
    for end in ("2024-09-30", "2024-12-31"):
        data = _cut(SAMPLE, tmp_path / f"data-{end}", end)
        runs[end] = run_notebooks(
            data, tmp_path / f"run-{end}", notebooks=["01", "02"], progress=False
        )
    before, after = (
        json.loads((runs[e] / "manifest.json").read_text()) for e in ("2024-09-30", "2024-12-31")
    )
    shift = pd.DateOffset(months=3)
    assert (before["dates"]["data_end"], after["dates"]["data_end"]) == ("2024-09-30", "2024-12-31")
    for key in ("as_of", "outcome_cutoff", "previous_review"):
        moved = (pd.Timestamp(before["dates"][key]) + shift).date().isoformat()
        assert after["dates"][key] == moved, f"{key} did not move with the data"
    for key in ("backtest_cutoffs", "training_cutoffs", "review_dates"):
        moved = [(pd.Timestamp(d) + shift).date().isoformat() for d in before["dates"][key]]
        assert set(moved) <= set(after["dates"][key]), key
    for manifest in (before, after):
        for dates in manifest["notebook_dates"].values():  # one value per date across notebooks
            for key, value in dates.items():
                assert manifest["dates"][key] == value, key


def test_hostile_names_are_text_in_every_report_and_export(tmp_path):
    """Names and ids that look like markup or formulas stay text: escaped in the HTML reports,
    written with a leading ' in CSV and Excel."""
    from kamlab.synth import write_synthetic

    data = write_synthetic(tmp_path / "data", n_accounts=80, years=3, seed=3)
    accounts = pd.read_csv(data / "accounts.csv", dtype=str)
    accounts.loc[:, "name"] = "<script>alert(1)</script>"
    accounts.loc[:, "account_manager"] = '=HYPERLINK("http://x.example","click")'
    accounts.to_csv(data / "accounts.csv", index=False)
    out = run_notebooks(data, tmp_path / "run", notebooks=["01", "07"], progress=False)
    for path in _pages(out):
        text = path.read_text(encoding="utf-8")
        assert "<script" not in text, path.name
        page = _parse(path)
        assert page.scripts == 0
    review = (out / "html" / "07_account_review.html").read_text(encoding="utf-8")
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in review
    csv = (out / "action_list.csv").read_text(encoding="utf-8")
    assert "'=HYPERLINK" in csv and ",=HYPERLINK" not in csv
    sheet = pd.read_excel(out / "action_list.xlsx", sheet_name="All accounts", engine="calamine")
    assert sheet["account_manager"].str.startswith("'=").all()
