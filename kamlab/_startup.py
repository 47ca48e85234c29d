"""Keep a slow import off the start-up path of ``kamlab`` commands and of the test session.

``nbformat`` (used by papermill, nbclient, nbconvert and nbval) imports ``jsonschema``, which
imports ``rfc3987_syntax`` when it is installed (jupyterlab brings it) to check the ``iri``
string format. That import builds about forty Lark parsers: 1.4 s of a 1.9 s ``import
papermill`` on a 2-core machine (jsonschema issue 1428), paid by every ``kamlab run`` and every
pytest worker, although notebook validation never checks that format.

:func:`defer_iri_grammar` puts a stand-in module in its place whose ``is_valid_syntax``
imports the real package on first call and delegates to it, so a program that does check IRIs
gets exactly the real answer, only later. Any other attribute imports the real module too.

It is also a pytest plugin (``-p kamlab._startup`` in ``pyproject.toml``), loaded before the
plugins that import nbformat.
"""

from __future__ import annotations

import importlib
import importlib.util
import sys
import types

__all__ = ["defer_iri_grammar"]

_NAME = "rfc3987_syntax"


def _real():
    """Replace the stand-in by the real module (imported now) and return it."""
    if isinstance(sys.modules.get(_NAME), _Deferred):
        del sys.modules[_NAME]  # a failed import below is then simply retried next time
    return importlib.import_module(_NAME)


class _Deferred(types.ModuleType):
    """Stand-in for ``rfc3987_syntax`` until something really uses it."""

    def __getattr__(self, name):
        if name.startswith("__"):
            raise AttributeError(name)
        return getattr(_real(), name)


def _is_valid_syntax(term, value):
    return _real().is_valid_syntax(term, value)


def defer_iri_grammar() -> bool:
    """Defer the import of ``rfc3987_syntax``; True if the stand-in was installed.

    Does nothing when the package is absent or already imported.
    """
    spec = None if _NAME in sys.modules else importlib.util.find_spec(_NAME)
    if spec is None:
        return False
    stand_in = _Deferred(_NAME, "Deferred by kamlab._startup; imported on first use.")
    # The real spec and path, so that find_spec and submodule imports still work.
    stand_in.__spec__ = spec
    stand_in.__path__ = list(spec.submodule_search_locations or [])
    stand_in.is_valid_syntax = _is_valid_syntax
    sys.modules[_NAME] = stand_in
    return True


# Importing this module is enough: ``-p kamlab._startup`` loads it before pytest imports the
# entry-point plugins (nbval imports nbformat at once).
defer_iri_grammar()
