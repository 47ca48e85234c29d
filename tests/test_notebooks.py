"""Committed notebooks are reports nbval can check: executed, clean, parameterised, and they
also run through `kamlab run` with non-default parameters (the smoke tier)."""

from __future__ import annotations

import json
import re

import pytest
from conftest import REPO

NOTEBOOKS = sorted((REPO / "notebooks").glob("[0-9][0-9]_*.ipynb"))
MACHINE_PATH = re.compile(r"(/home/|/tmp/|/root/|/work/|/Users/|[A-Z]:\\\\)")
TIMESTAMP = re.compile(r"\b20\d\d-\d\d-\d\d[T ]\d\d:\d\d:\d\d")


def test_notebooks_exist():
    assert NOTEBOOKS, "no numbered notebooks in notebooks/"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_committed_notebook_is_clean(path):
    nb = json.loads(path.read_text(encoding="utf-8"))
    assert "papermill" not in nb["metadata"], "papermill metadata committed (strip it)"
    code = [c for c in nb["cells"] if c["cell_type"] == "code"]
    tagged = [c for c in code if "parameters" in c["metadata"].get("tags", [])]
    assert len(tagged) == 1, "exactly one cell must be tagged 'parameters'"
    assert "data_dir" in "".join(tagged[0]["source"])
    for index, cell in enumerate(code):
        source = "".join(cell["source"])
        assert cell["execution_count"] is not None or not source.strip(), (
            f"code cell {index} is unexecuted"
        )
        assert "papermill" not in cell["metadata"], f"cell {index}: papermill metadata"
        assert "injected-parameters" not in cell["metadata"].get("tags", []), (
            f"cell {index}: a papermill injected-parameters cell is committed"
        )
        for output in cell.get("outputs", []):
            assert output["output_type"] != "error", f"cell {index} shows an error"
            assert output.get("name") != "stderr", f"cell {index} writes to stderr"
            text = "".join(output.get("text", "")) + "".join(
                "".join(v) for k, v in output.get("data", {}).items() if k.startswith("text/")
            )
            assert not MACHINE_PATH.search(text), f"cell {index} shows a machine path"
            assert not TIMESTAMP.search(text), f"cell {index} shows a timestamp"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_every_parameter_is_visible_to_the_runner(path):
    """papermill silently skips a parameter line it cannot parse (e.g. a comment holding a
    quote); the runner would then neither check nor record that parameter."""
    import papermill as pm

    nb = json.loads(path.read_text(encoding="utf-8"))
    cell = next(c for c in nb["cells"] if "parameters" in c["metadata"].get("tags", []))
    assigned = [
        line.split("=")[0].strip()
        for line in "".join(cell["source"]).splitlines()
        if re.match(r"^\w+\s*=", line)
    ]
    assert list(pm.inspect_notebook(str(path))) == assigned
    assert assigned[:4] == ["data_dir", "as_of", "horizon_days", "review_interval"]


@pytest.mark.slow
def test_smoke_every_notebook_runs_with_other_parameters(sample_dir, tmp_path):
    from kamlab.runner import run_notebooks

    out = run_notebooks(
        sample_dir,
        tmp_path / "smoke",
        progress=False,
        parameters={"seed": "1", "as_of": "2024-07-01"},
        jobs=2,
    )
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["status"] == "ok"
    assert [n["notebook"] for n in manifest["notebooks"]] == [p.name for p in NOTEBOOKS]
    for path in NOTEBOOKS:
        assert (out / "notebooks" / path.name).is_file()
        assert (out / "html" / f"{path.stem}.html").is_file()
    assert list((out / "tables").glob("*.csv")), "no notebook published a table"
    assert list((out / "figures").glob("*.png")), "no notebook published a figure"
