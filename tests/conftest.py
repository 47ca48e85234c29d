"""Shared fixtures: the committed sample, the reference data, and small hand-made tables."""

from __future__ import annotations

from pathlib import Path

import matplotlib
import pytest

matplotlib.use("Agg")

REPO = Path(__file__).resolve().parents[1]
SAMPLE = REPO / "data" / "sample"
REFERENCE = REPO.parent / "shared" / "reference"


def reference_path(*parts: str) -> Path:
    """Path under ../shared/reference, or skip the test with the reason when it is absent.

    Only for tests marked ``reference`` (``make test-fast`` leaves them out): one that is not
    marked fails here, so the marker cannot drift from what a test reads.
    """
    item = _RUNNING.get("item")
    if item is not None and item.get_closest_marker("reference") is None:
        pytest.fail(
            f"{item.nodeid} reads ../shared/reference but is not marked @pytest.mark.reference",
            pytrace=False,
        )
    path = REFERENCE.joinpath(*parts)
    if not path.exists():
        pytest.skip(
            f"reference data not found at {path} (needs ../shared/reference beside the repo)"
        )
    return path


@pytest.fixture(scope="session")
def sample_dir() -> Path:
    return SAMPLE


@pytest.fixture(scope="session")
def sample_dataset():
    from kamlab.data import load_dataset

    return load_dataset(SAMPLE)


@pytest.fixture
def tiny_dir(tmp_path: Path) -> Path:
    """A valid three-account portfolio written as CSV; tests break one thing at a time."""
    (tmp_path / "accounts.csv").write_text(
        "account_id,name,industry,acquired_on\n"
        "A1,Alpha,retail,2020-01-01\n"
        "A2,Beta,retail,2020-06-01\n"
        "A3,Gamma,health,2021-01-01\n"
    )
    (tmp_path / "transactions.csv").write_text(
        "transaction_id,account_id,date,amount\n"
        "T1,A1,2022-01-05,100.50\n"
        "T2,A1,2022-02-05,200\n"
        "T3,A2,2022-03-01,-20\n"
        "T4,A3,2022-04-01,50\n"
    )
    (tmp_path / "assessments.csv").write_text(
        "account_id,assessed_on,criterion,score\n"
        "A1,2022-01-10,growth_potential,4\n"
        "A2,2022-01-10,growth_potential,2\n"
    )
    (tmp_path / "interactions.csv").write_text("account_id,date,kind,value\nA1,2022-02-01,nps,9\n")
    return tmp_path


_RUNNING: dict[str, pytest.Item] = {}


@pytest.hookimpl(tryfirst=True)
def pytest_runtest_setup(item):
    _RUNNING["item"] = item  # for reference_path, which module fixtures call in setup too


@pytest.hookimpl(tryfirst=True)
def pytest_collection_modifyitems(config, items):
    """Keep each notebook's nbval cells on one xdist worker, in order, so that `make test` can
    run the notebooks in the same session as the tests (``--dist loadgroup``)."""
    for item in items:
        if item.path.suffix == ".ipynb":
            item.add_marker(pytest.mark.xdist_group(f"nbval_{item.path.stem}"))


def pytest_configure(config):
    # pytest 9.2 with pytest-xdist <= 3.8 drops the groups without a word (xdist issue 1386):
    # the shared runs would be built once per worker and a notebook's nbval cells split up.
    from importlib.metadata import version

    def release(name):
        return tuple(int(p) for p in version(name).split(".")[:2] if p.isdigit())

    if config.getoption("dist", "no") == "loadgroup" and release("pytest") >= (9, 2):
        if release("pytest-xdist") <= (3, 8):
            raise pytest.UsageError(
                f"--dist loadgroup does not group tests with pytest {version('pytest')} and "
                f"pytest-xdist {version('pytest-xdist')}; install the pinned versions: "
                "pip install -c constraints.txt -e '.[test]'"
            )
