"""Run inside a notebook kernel by ``kamlab run`` before each notebook: give the notebook the
state a fresh kernel would give it (see :mod:`kamlab._execute`)."""

from __future__ import annotations

import gc
import os
import warnings
from typing import Any

_PRISTINE: dict[str, Any] = {}
#: The pandas option groups a notebook may change for display.
_OPTION_GROUPS = ("display", "styler")


def _pandas_options() -> dict[str, Any]:
    import pandas as pd

    def walk(node, prefix):
        for name in dir(node):
            child = getattr(node, name)
            if type(child).__name__ == "DictWrapper":
                yield from walk(child, f"{prefix}{name}.")
            else:
                yield f"{prefix}{name}", child

    found = {}
    for group in _OPTION_GROUPS:
        found.update(walk(getattr(pd.options, group), f"{group}."))
    return found


def preload(statements: str) -> None:
    """Run import statements (one per line) in a scratch namespace: the modules are imported
    into the kernel, not into the notebook's namespace. One that fails is skipped; the
    notebook that needs it reports the error itself."""
    for line in statements.splitlines():
        try:
            exec(compile(line, "<kamlab preload>", "exec"), {})
        except Exception:  # the notebook's own import reports the error
            pass


def prepare(cwd: str, environment: dict[str, str]) -> None:
    """Reset what a previous notebook may have changed, then set the working directory and the
    ``KAMLAB_*`` variables of the next one."""
    import matplotlib
    import matplotlib.pyplot as plt
    import pandas as pd

    if not _PRISTINE:  # first notebook on this kernel: remember the fresh state
        _PRISTINE["rc"] = matplotlib.rcParams.copy()
        _PRISTINE["warnings"] = list(warnings.filters)
        _PRISTINE["env"] = {k: v for k, v in os.environ.items() if k.startswith("KAMLAB_")}
        _PRISTINE["pandas"] = _pandas_options()
    else:
        plt.close("all")
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            # Not the backend or interactive mode, which ipykernel's inline support owns.
            keep = {"backend", "backend_fallback", "interactive"}
            matplotlib.rcParams.update({k: v for k, v in _PRISTINE["rc"].items() if k not in keep})
        for key, value in _pandas_options().items():
            if value != _PRISTINE["pandas"][key]:
                pd.set_option(key, _PRISTINE["pandas"][key])
        warnings.filters[:] = _PRISTINE["warnings"]
        warnings._filters_mutated()  # type: ignore[attr-defined]  # forget "once" registries
        for key in [k for k in os.environ if k.startswith("KAMLAB_")]:
            del os.environ[key]
        os.environ.update(_PRISTINE["env"])
        gc.collect()
    os.environ.update(environment)
    os.chdir(cwd)
