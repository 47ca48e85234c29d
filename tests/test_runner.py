"""kamlab run: parameters, run folder contents, determinism, and clear failures."""

from __future__ import annotations

import hashlib
import json

import nbformat
import pytest
from conftest import reference_path

from kamlab.runner import RunFailed, find_notebooks, resolve_parameters, run_notebooks

PARAMS = 'data_dir = "../data/sample"\ncutoff = "2023-01-01"\nseed = 0\nfail = False\n'
BODY = """\
import matplotlib.pyplot as plt
import numpy as np
from kamlab import report
from kamlab.data import load_dataset
ds = load_dataset(data_dir)
rng = np.random.default_rng(seed)
summary = report.table(ds.summary()[["rows"]].assign(draw=rng.integers(0, 1000, 4)), "summary")
print(cutoff, int(summary["rows"].sum()))
"""
PLOT = """\
fig, ax = plt.subplots()
ax.plot([1, 2, 3], [1, 4, 9])
report.figure(ax, "line");
if fail:
    raise ValueError("planted failure")
"""


def _notebook(path, params=PARAMS):
    nb = nbformat.v4.new_notebook()
    cell = nbformat.v4.new_code_cell(params)
    cell.metadata["tags"] = ["parameters"]
    nb.cells = [
        nbformat.v4.new_markdown_cell("# test"),
        cell,
        nbformat.v4.new_code_cell(BODY),
        nbformat.v4.new_code_cell(PLOT),
    ]
    nb.metadata["kernelspec"] = {
        "name": "python3",
        "display_name": "Python 3",
        "language": "python",
    }
    nbformat.write(nb, str(path))


@pytest.fixture(scope="module")
def books(tmp_path_factory):
    folder = tmp_path_factory.mktemp("notebooks")
    _notebook(folder / "01_first.ipynb")
    _notebook(folder / "02_second.ipynb", PARAMS + "extra = 1\n")
    return folder


def _digest(folder):
    return {
        p.relative_to(folder).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(folder.rglob("*"))
        if p.is_file()
    }


def test_selection_and_unknown_selection(books):
    assert [p.name for p in find_notebooks(books, ["02"])] == ["02_second.ipynb"]
    with pytest.raises(ValueError, match="no notebook matches 07"):
        find_notebooks(books, ["07"])


def test_parameters_shared_per_notebook_and_typos(books, tmp_path):
    nbs = find_notebooks(books)
    params = tmp_path / "params.yaml"
    params.write_text("seed: 3\n'02':\n  extra: 5\n")
    resolved = resolve_parameters(nbs, params, {"cutoff": "2023-06-01"})
    assert resolved["01_first"] == {"seed": 3, "cutoff": "2023-06-01"}
    assert resolved["02_second"] == {"seed": 3, "cutoff": "2023-06-01", "extra": 5}
    with pytest.raises(ValueError, match="unknown parameter sed"):
        resolve_parameters(nbs, None, {"sed": "1"})
    params.write_text("'01':\n  extra: 5\n")
    with pytest.raises(ValueError, match="01_first does not declare parameter"):
        resolve_parameters(nbs, params)


def test_run_folder_is_complete_and_reproducible(books, sample_dir, tmp_path):
    out = run_notebooks(
        sample_dir, tmp_path / "run1", notebook_dir=books, progress=False, parameters={"seed": "7"}
    )
    for rel in (
        "manifest.json",
        "notebooks/01_first.ipynb",
        "html/01_first.html",
        "tables/01_first__summary.csv",
        "tables/01_first__summary.parquet",
        "figures/02_second__line.png",
        "figures/02_second__line.svg",
        "logs/01_first.log",
    ):
        assert (out / rel).is_file(), rel
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["status"] == "ok"
    assert manifest["parameters"]["01_first"]["seed"] == 7
    assert manifest["parameters"]["01_first"]["fail"] is False  # defaults recorded too
    assert "fail" not in manifest["injected_parameters"]["01_first"]
    assert set(manifest["inputs"]) >= {"accounts.csv", "transactions.csv"}
    assert all(len(v) == 64 for v in manifest["inputs"].values())
    assert [n["status"] for n in manifest["notebooks"]] == ["ok", "ok"]
    assert "pandas" in manifest["packages"]
    html = (out / "html" / "01_first.html").read_text()
    assert "load_dataset(data_dir)" not in html  # readers see results, not code
    assert not list(tmp_path.glob(".run1*"))  # no staging left behind
    again = run_notebooks(
        sample_dir,
        tmp_path / "run2",
        notebook_dir=books,
        progress=False,
        parameters={"seed": "7"},
        jobs=2,
    )
    first, second = _digest(out), _digest(again)
    for rel in first:
        if rel.startswith(("tables/", "figures/", "notebooks/")):
            assert first[rel] == second[rel], f"{rel} differs between identical runs"


def test_failed_run_is_kept_marked_and_explained(books, sample_dir, tmp_path):
    with pytest.raises(RunFailed) as info:
        run_notebooks(
            sample_dir,
            tmp_path / "bad",
            notebook_dir=books,
            progress=False,
            parameters={"fail": "true"},
        )
    message = str(info.value)
    assert "01_first.ipynb failed in cell" in message and "ValueError: planted failure" in message
    assert not (tmp_path / "bad").exists()
    failed = tmp_path / "bad.failed"
    manifest = json.loads((failed / "manifest.json").read_text())
    assert manifest["status"] == "failed"
    assert manifest["notebooks"][0]["error"] == "ValueError: planted failure"


def test_invalid_data_is_refused_before_running(books, tiny_dir, tmp_path):
    from kamlab.data import DataContractError

    (tiny_dir / "transactions.csv").write_text("account_id,date,amount\nA1,2022-01-01,x\n")
    with pytest.raises(DataContractError, match="column 'amount'"):
        run_notebooks(tiny_dir, tmp_path / "r", notebook_dir=books, progress=False)


def test_adapter_data_spec_converts_into_the_run_folder(books, tmp_path):
    source = reference_path("cdnow", "CDNOW_sample.txt")
    out = run_notebooks(
        f"cdnow:{source}", tmp_path / "cd", notebook_dir=books, notebooks=["01"], progress=False
    )
    assert (out / "data" / "transactions.parquet").is_file()
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["inputs"] == {"CDNOW_sample.txt": manifest["inputs"]["CDNOW_sample.txt"]}


def test_time_parameters_follow_the_data_and_the_cutoff(tmp_path):
    from kamlab.runner import adapt_time_parameters, data_defaults

    assert data_defaults("2010-12-01", "2011-12-09") == {
        "cutoff": "2011-06-01",
        "horizon_days": 192,
        "review_cutoff": "2011-03-01",
        "previous_cutoff": "2011-03-01",
        "cutoffs": ["2011-03-01", "2011-06-01"],
        "calibration_end": "2011-05-31",
    }
    book = tmp_path / "07_review.ipynb"
    _notebook(
        book,
        'data_dir = "x"\ncutoff = "2024-07-01"\nprevious_cutoff = "2024-01-01"\n'
        "horizon_days = 180\n",
    )
    # Defaults outside the data: replaced by dates that fit.
    out = adapt_time_parameters(
        [book], {book.stem: {}}, {}, "2010-12-01", "2011-12-09", progress=False
    )
    assert out[book.stem] == {
        "cutoff": "2011-06-01",
        "previous_cutoff": "2011-03-01",
        "horizon_days": 192,
    }
    # A new cutoff alone moves the previous review with it (same gap as the defaults).
    out = adapt_time_parameters(
        [book],
        {book.stem: {"cutoff": "2023-10-01"}},
        {"cutoff": "2023-10-01"},
        "2022-01-01",
        "2024-12-31",
        progress=False,
    )
    assert out[book.stem] == {"cutoff": "2023-10-01", "previous_cutoff": "2023-04-02"}
    # Defaults inside the data are left alone.
    out = adapt_time_parameters(
        [book], {book.stem: {}}, {}, "2022-01-01", "2024-12-31", progress=False
    )
    assert out[book.stem] == {}
