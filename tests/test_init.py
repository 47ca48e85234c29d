"""The flat top-level API loads lazily and points at the right objects."""

import subprocess
import sys

import kamlab


def test_entry_points_resolve():
    from kamlab.criteria import score_accounts
    from kamlab.data import load_dataset

    assert kamlab.load_dataset is load_dataset
    assert kamlab.score_accounts is score_accounts
    assert kamlab.clv.BGNBD.__name__ == "BGNBD"
    assert set(kamlab.__all__) <= set(dir(kamlab)) | {"__version__"}


def test_unknown_attribute_is_an_attribute_error():
    try:
        kamlab.nonexistent  # noqa: B018
    except AttributeError as exc:
        assert "nonexistent" in str(exc)
    else:  # pragma: no cover
        raise AssertionError("expected AttributeError")


def test_import_is_light():
    code = "import sys, kamlab; print('sklearn' in sys.modules, 'statsmodels' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.split() == ["False", "False"]
