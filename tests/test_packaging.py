"""Packaging: conda and pip declare the same dependencies; the layout is what users expect."""

from __future__ import annotations

import re
import tomllib

import yaml
from conftest import REPO


def _name(requirement: str) -> str:
    return re.split(r"[<>=!~\[ ]", requirement.strip(), maxsplit=1)[0].lower()


def test_environment_yml_matches_pyproject():
    project = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]
    env = yaml.safe_load((REPO / "environment.yml").read_text())
    pip_section = next(d["pip"] for d in env["dependencies"] if isinstance(d, dict))
    conda_reqs = sorted(r for r in pip_section if not r.startswith("-e"))
    assert conda_reqs == sorted(
        project["dependencies"] + project["optional-dependencies"]["notebooks"]
    )


def test_constraints_pin_every_dependency():
    project = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]
    pinned = {}
    for line in (REPO / "constraints.txt").read_text().splitlines():
        if "==" in line:
            name, version = line.split("==")
            pinned[name.lower().replace("_", "-")] = version
    extras = project["optional-dependencies"]
    for req in project["dependencies"] + extras["test"] + extras["notebooks"]:
        assert _name(req) in pinned, f"{req} is not pinned in constraints.txt"
    assert int(pinned["pandas"].split(".")[0]) >= 3, "the pinned stack must use pandas 3"


def test_top_level_layout():
    for name in (
        "notebooks",
        "kamlab",
        "data",
        "tests",
        "environment.yml",
        "README.md",
        "Makefile",
        ".ci/run",
        "pyproject.toml",
    ):
        assert (REPO / name).exists(), name
    readme = (REPO / "README.md").read_text().splitlines()
    head = "\n".join(readme[:15])
    assert "make run" in head and "make test" in head
    assert "make test" in (REPO / ".ci" / "run").read_text()


def test_the_library_needs_no_notebook_tooling():
    """Loading data and fitting a model import neither JupyterLab, papermill, nbval nor
    IPython: those are the "notebooks" extra, not dependencies of the library."""
    import subprocess
    import sys

    code = (
        "import sys\n"
        "from kamlab.data import load_dataset\n"
        "from kamlab.clv import BGNBD, rfm_summary\n"
        "from kamlab.features import account_features\n"
        f"ds = load_dataset({str(REPO / 'data' / 'sample')!r})\n"
        "account_features(ds, '2024-01-01', 365)\n"
        "rfm = rfm_summary(ds.transactions, '2023-12-31')\n"
        "BGNBD().fit(rfm.table['frequency'], rfm.table['recency'], rfm.table['T'])\n"
        "tooling = ('jupyterlab', 'papermill', 'nbval', 'nbclient', 'nbconvert', 'IPython')\n"
        "print(sorted(m for m in tooling if m in sys.modules))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
    project = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]
    core = {_name(r) for r in project["dependencies"]}
    assert not core & {"jupyterlab", "papermill", "nbval", "ipykernel", "nbconvert"}
