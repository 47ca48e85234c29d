"""kamlab run: parameters, run folder contents, determinism, and clear failures."""

from __future__ import annotations

import hashlib
import json
import re

import nbformat
import pytest
from conftest import reference_path

from kamlab.runner import (
    RunFailed,
    RunRefused,
    find_notebooks,
    resolve_parameters,
    run_notebooks,
)

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


@pytest.mark.slow  # executes notebooks
def test_run_folder_is_complete_and_reproducible(books, sample_dir, tmp_path):
    out = run_notebooks(
        sample_dir, tmp_path / "run1", notebook_dir=books, progress=False, parameters={"seed": "7"}
    )
    for rel in (
        "manifest.json",
        "index.html",
        "notebooks/01_first.ipynb",
        "html/01_first.html",
        "tables/01_first__summary.csv",
        "tables/01_first__summary.parquet",
        "figures/02_second__line.png",
        "figures/02_second__line.svg",
        "logs/kernel-1.log",
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
    assert manifest["dates"]["as_of"] == "2025-01-01"
    assert manifest["dates"]["outcome_cutoff"] == "2024-01-01"
    assert manifest["rows"]["accounts"] == 300
    assert "pandas" in manifest["packages"]
    html = (out / "html" / "01_first.html").read_text()
    assert "load_dataset(data_dir)" not in html  # readers see results, not code
    assert "back to the run index" in html
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


@pytest.mark.slow  # executes notebooks
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
    assert manifest["notebooks"][1]["status"] == "not run"  # nothing new starts after a failure


def test_invalid_data_is_refused_before_running(books, tiny_dir, tmp_path_factory):
    from kamlab.data import DataContractError

    runs = tmp_path_factory.mktemp("runs")
    (tiny_dir / "transactions.csv").write_text("account_id,date,amount\nA1,2022-01-01,x\n")
    with pytest.raises(DataContractError, match="column 'amount'"):
        run_notebooks(tiny_dir, runs / "r", notebook_dir=books, progress=False)
    assert list(runs.iterdir()) == []  # no .partial left behind


@pytest.mark.reference
@pytest.mark.slow  # executes notebooks
def test_adapter_data_spec_converts_into_the_run_folder(books, tmp_path):
    source = reference_path("cdnow", "CDNOW_sample.txt")
    out = run_notebooks(
        f"cdnow:{source}", tmp_path / "cd", notebook_dir=books, notebooks=["01"], progress=False
    )
    assert (out / "data" / "transactions.parquet").is_file()
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["inputs"] == {"CDNOW_sample.txt": manifest["inputs"]["CDNOW_sample.txt"]}
    assert manifest["dates"]["as_of"] == "1998-07-01"


# ------------------------------------------------------------------ never lose data
def _copy_sample(sample_dir, folder):
    import shutil

    shutil.copytree(sample_dir, folder)
    return folder


@pytest.mark.parametrize("where", ["same", "inside", "parent"])
def test_out_touching_the_data_is_refused_and_nothing_is_deleted(
    books, sample_dir, tmp_path, where
):
    data = _copy_sample(sample_dir, tmp_path / "data")
    before = _digest(data)
    out = {"same": data, "inside": data / "run", "parent": tmp_path}[where]
    with pytest.raises(RunRefused, match="outside the data"):
        run_notebooks(data, out, notebook_dir=books, progress=False)
    assert _digest(data) == before
    assert not (data / "run").exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["data"]


def test_out_that_is_a_file_or_a_foreign_folder_is_refused(books, sample_dir, tmp_path):
    (tmp_path / "afile").write_text("mine")
    with pytest.raises(RunRefused, match="is a file"):
        run_notebooks(sample_dir, tmp_path / "afile", notebook_dir=books, progress=False)
    with pytest.raises(RunRefused, match="is a file"):
        run_notebooks(sample_dir, tmp_path / "afile" / "run", notebook_dir=books, progress=False)
    mine = tmp_path / "mine"
    mine.mkdir()
    (mine / "notes.txt").write_text("do not delete")
    for replace in (False, True):
        with pytest.raises(RunRefused, match="not a kamlab run folder"):
            run_notebooks(sample_dir, mine, notebook_dir=books, progress=False, replace=replace)
    assert (mine / "notes.txt").read_text() == "do not delete"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["afile", "mine"]


@pytest.mark.slow  # executes notebooks
def test_replacing_a_run_needs_replace_and_keeps_the_old_one_until_done(
    books, sample_dir, tmp_path
):
    out = run_notebooks(sample_dir, tmp_path / "run", notebook_dir=books, progress=False)
    first = _digest(out)
    with pytest.raises(RunRefused, match="--replace"):
        run_notebooks(sample_dir, out, notebook_dir=books, progress=False)
    with pytest.raises(RunFailed):  # a failing replacement leaves the old run untouched
        run_notebooks(
            sample_dir,
            out,
            notebook_dir=books,
            progress=False,
            replace=True,
            parameters={"fail": "true"},
        )
    assert _digest(out) == first
    run_notebooks(
        sample_dir, out, notebook_dir=books, progress=False, replace=True, parameters={"seed": "3"}
    )
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["parameters"]["01_first"]["seed"] == 3
    assert sorted(p.name for p in tmp_path.iterdir()) == ["run", "run.failed"]


@pytest.mark.slow  # executes notebooks
def test_a_subset_updates_only_its_notebooks(books, sample_dir, tmp_path):
    out = run_notebooks(sample_dir, tmp_path / "run", notebook_dir=books, progress=False)
    kept = (out / "tables" / "01_first__summary.csv").read_bytes()
    run_notebooks(
        sample_dir,
        out,
        notebook_dir=books,
        notebooks=["02"],
        progress=False,
        parameters={"seed": "5"},
    )
    manifest = json.loads((out / "manifest.json").read_text())
    assert [n["notebook"] for n in manifest["notebooks"]] == ["01_first.ipynb", "02_second.ipynb"]
    assert "updated" in manifest["notebooks"][1] and "updated" not in manifest["notebooks"][0]
    assert manifest["updates"][0]["notebooks"] == ["02_second"]
    assert manifest["parameters"]["02_second"]["seed"] == 5
    assert (out / "tables" / "01_first__summary.csv").read_bytes() == kept
    assert (out / "notebooks" / "01_first.ipynb").is_file()
    # Other dates: updating would mix two runs.
    with pytest.raises(RunRefused, match="other dates"):
        run_notebooks(
            sample_dir,
            out,
            notebook_dir=books,
            notebooks=["02"],
            progress=False,
            parameters={"as_of": "2024-07-01"},
        )


@pytest.mark.slow  # executes notebooks
def test_default_out_is_named_after_the_data_and_its_as_of(
    books, sample_dir, tmp_path, monkeypatch
):
    monkeypatch.chdir(tmp_path)
    out = run_notebooks(sample_dir, notebook_dir=books, notebooks=["01"], progress=False)
    assert out == (tmp_path / "runs" / "sample" / "2025-01-01").resolve()
    later = run_notebooks(
        sample_dir,
        notebook_dir=books,
        notebooks=["01"],
        progress=False,
        parameters={"as_of": "2024-10-01"},
    )
    assert later.name == "2024-10-01" and out.is_dir()  # refreshes sit side by side


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"seed": "abc"}, "seed: 'abc' is not a whole number"),
        ({"seed": "-1"}, "seed: -1 must not be negative"),
        ({"as_of": "notadate"}, "as_of: 'notadate' is not a date"),
        ({"as_of": "2024-13-01"}, "as_of: '2024-13-01' is not a date"),
        ({"horizon_days": "soon"}, "horizon_days: 'soon' is not an interval"),
        ({"fail": "maybe"}, "fail: 'maybe' is not true or false"),
    ],
)
def test_bad_parameters_are_refused_before_any_work(
    books, sample_dir, tmp_path, overrides, message
):
    with pytest.raises(ValueError, match=re.escape(message)):
        run_notebooks(
            sample_dir, tmp_path / "r", notebook_dir=books, progress=False, parameters=overrides
        )
    assert list(tmp_path.iterdir()) == []


def test_as_of_after_the_data_is_refused(books, sample_dir, tmp_path):
    with pytest.raises(ValueError, match="after the data's end"):
        run_notebooks(
            sample_dir,
            tmp_path / "r",
            notebook_dir=books,
            progress=False,
            parameters={"as_of": "2026-01-01"},
        )
    assert list(tmp_path.iterdir()) == []


def test_params_file_mistakes_are_one_sentence(books, tmp_path):
    nbs = find_notebooks(books)
    bad = tmp_path / "p.yaml"
    bad.write_text("'01': 5\n")
    with pytest.raises(ValueError, match="'01' must hold the parameters of notebook 01"):
        resolve_parameters(nbs, bad)
    bad.write_text("- seed\n")
    with pytest.raises(ValueError, match="must be a mapping"):
        resolve_parameters(nbs, bad)
    bad.write_text("seed: !!python/object/apply:os.system ['echo hi']\n")
    with pytest.raises(ValueError, match="p.yaml"):
        resolve_parameters(nbs, bad)


def test_cutoff_is_explained_where_no_notebook_declares_it(tmp_path):
    book = tmp_path / "01_only.ipynb"
    _notebook(book, 'data_dir = "x"\nseed = 0\n')
    with pytest.raises(ValueError, match="derived from the review date: set as_of"):
        resolve_parameters([book], None, {"cutoff": "2024-01-01"})


STATEFUL = """\
import matplotlib
import pandas as pd
import warnings
print(pd.get_option("display.precision"), matplotlib.rcParams["lines.linewidth"],
      "leftover" in globals())
pd.set_option("display.precision", 1)
matplotlib.rcParams["lines.linewidth"] = 9
leftover = True
"""


@pytest.mark.slow  # executes notebooks
def test_a_reused_kernel_gives_each_notebook_a_fresh_state(sample_dir, tmp_path):
    folder = tmp_path / "nbs"
    folder.mkdir()
    for name in ("01_a.ipynb", "02_b.ipynb", "03_c.ipynb"):
        nb = nbformat.v4.new_notebook()
        cell = nbformat.v4.new_code_cell('data_dir = "x"\n')
        cell.metadata["tags"] = ["parameters"]
        plot = nbformat.v4.new_code_cell("import matplotlib.pyplot as plt\nplt.plot([1, 2]);")
        nb.cells = [cell, nbformat.v4.new_code_cell(STATEFUL), plot]
        nb.metadata["kernelspec"] = {
            "name": "python3",
            "display_name": "Python 3",
            "language": "python",
        }
        nbformat.write(nb, str(folder / name))
    out = run_notebooks(sample_dir, tmp_path / "run", notebook_dir=folder, progress=False)
    printed = set()
    for name in ("01_a.ipynb", "02_b.ipynb", "03_c.ipynb"):
        nb = nbformat.read(str(out / "notebooks" / name), as_version=4)
        printed.add(nb.cells[-2].outputs[0]["text"])
        assert "image/png" in nb.cells[-1].outputs[0]["data"], f"{name}: no inline figure"
    assert printed == {"6 1.5 False\n"}


@pytest.mark.slow  # executes notebooks
def test_an_invoice_export_is_imported_into_the_run(tmp_path):
    """--data invoices:EXPORT --map MAPPING: the import's ledger and source reach the run."""
    import yaml
    from export_styles import german_erp

    style = german_erp()
    export = style.write(tmp_path, "csv")
    mapping = tmp_path / "map.yaml"
    mapping.write_text(yaml.safe_dump(style.mapping, allow_unicode=True), encoding="utf-8")
    with pytest.raises(RunRefused, match="needs --map"):
        run_notebooks(f"invoices:{export}", tmp_path / "nomap", progress=False)
    with pytest.raises(RunRefused, match="contains the input"):  # beside the export, not on it
        run_notebooks(f"invoices:{export}", tmp_path, mapping=mapping, progress=False)
    out = run_notebooks(
        f"invoices:{export}", tmp_path / "run", mapping=mapping, notebooks=["01"], progress=False
    )
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["source"]["file"] == export.name
    assert set(manifest["inputs"]) == {export.name, "map.yaml"}
    rules = {row["rule"] for row in manifest["data_quality_ledger"]}
    assert "non_product_code" in rules  # FRACHT lines left out and counted
    assert (out / "data" / "ledger.csv").is_file() and (out / "data" / "source.json").is_file()
    html = (out / "html" / "01_portfolio.html").read_text(encoding="utf-8")
    assert f"The import read {export.name}" in html
