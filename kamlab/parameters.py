"""Notebook parameters of ``kamlab run``: what each notebook declares, what the user sets
(``--params`` YAML and ``-p NAME=VALUE``), and the checks that refuse a wrong value before any
work, naming the parameter.

The run-level parameters :data:`TIMELINE_PARAMETERS` (``as_of``, ``horizon_days``,
``review_interval``) have one value per run: every notebook reads the same dates.
"""

from __future__ import annotations

import datetime as _dt
import functools
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import pandas as pd

__all__ = [
    "TIMELINE_PARAMETERS",
    "check_parameter",
    "declared_parameters",
    "resolve_parameters",
    "run_level",
    "timeline_arguments",
]

#: The parameters every notebook of a run shares; one value per run.
TIMELINE_PARAMETERS = ("as_of", "horizon_days", "review_interval")


def check_parameter(name: str, value: Any, default: Any, notebook: str = "") -> Any:
    """``value`` for parameter ``name`` (checked against its meaning or the type of its
    ``default``); a :class:`ValueError` naming the parameter otherwise.

    >>> check_parameter("seed", 3, 0)
    3
    >>> check_parameter("seed", "abc", 0)
    Traceback (most recent call last):
    ...
    ValueError: seed: 'abc' is not a whole number (e.g. seed=1)
    """
    from kamlab import timeline

    where = f" (notebook {notebook})" if notebook else ""
    if name == "data_dir":
        return str(value)
    if name == "as_of":
        if str(value).strip().lower() != "auto":
            timeline.parse_date(value, "as_of")
        return value
    if name == "horizon_days":
        if str(value).strip().lower() != "auto":
            timeline.parse_horizon(value, pd.Timestamp("2000-01-01"))
        return value
    if name == "review_interval":
        timeline.parse_interval(value, name)
        return value
    if name in ("strategic_cap", "key_cap", "discount_rate", "growth_threshold"):
        if isinstance(value, bool) or not isinstance(value, int | float) or not 0 < value < 1:
            raise ValueError(f"{name}: {value!r} must be a number between 0 and 1{where}")
        return float(value)
    if name == "rule_set":
        from kamlab.criteria import load_rule_set

        load_rule_set(value)
        return value
    if isinstance(default, bool):
        if not isinstance(value, bool):
            raise ValueError(f"{name}: {value!r} is not true or false{where}")
    elif isinstance(default, int):
        if isinstance(value, bool) or not isinstance(value, int):
            raise ValueError(f"{name}: {value!r} is not a whole number (e.g. {name}=1){where}")
        if name == "seed" and value < 0:
            raise ValueError(f"seed: {value!r} must not be negative{where}")
    elif isinstance(default, float):
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise ValueError(f"{name}: {value!r} is not a number{where}")
        return float(value)
    elif isinstance(default, list | tuple):
        if not isinstance(value, list | tuple):
            raise ValueError(f"{name}: {value!r} is not a list (e.g. {name}=[1, 2]){where}")
    elif isinstance(default, str) and not isinstance(value, str | int | float):
        raise ValueError(f"{name}: {value!r} is not text{where}")
    return value


def timeline_arguments(effective: Mapping[str, Mapping[str, Any]]) -> dict[str, Any]:
    """The one ``as_of``, ``horizon_days`` and ``review_interval`` of a run, from every
    notebook's effective parameters; refused when two notebooks would differ."""
    chosen: dict[str, Any] = {}
    for name in TIMELINE_PARAMETERS:
        values = {
            notebook: params[name] for notebook, params in effective.items() if name in params
        }
        distinct = {repr(v) for v in values.values()}
        if len(distinct) > 1:
            listing = ", ".join(f"{nb}: {v!r}" for nb, v in values.items())
            raise ValueError(
                f"{name} must be the same for every notebook of a run, got "
                f"{listing}; set it once with -p {name}=..."
            )
        if values:
            chosen[name] = next(iter(values.values()))
    return chosen


def declared_parameters(notebook: Path) -> dict[str, Any]:
    """Names and default values in the notebook's cell tagged ``parameters``."""
    path = Path(notebook).resolve()
    return dict(_declared(path, path.stat().st_mtime_ns))


@functools.lru_cache(maxsize=64)
def _declared(path: Path, mtime_ns: int) -> tuple[tuple[str, Any], ...]:
    import papermill as pm

    return tuple(
        (name, _literal(spec.get("default")))
        for name, spec in pm.inspect_notebook(str(path)).items()
    )


def _literal(value):
    """papermill reports defaults as source text (quotes included); evaluate simple literals."""
    import ast

    if isinstance(value, str):
        try:
            return ast.literal_eval(value)
        except (ValueError, SyntaxError):
            return value
    return value


def _coerce(value):
    """Parameters from the command line arrive as text; give numbers, booleans and lists
    their type by YAML rules (``3`` → int, ``[1, 2]`` → list, ``true`` → bool)."""
    if not isinstance(value, str):
        return value
    import yaml

    try:
        parsed = yaml.safe_load(value)
    except (yaml.YAMLError, ValueError):  # e.g. '2024-13-01' fails YAML's date constructor
        return value
    # Dates stay text (notebooks parse them); a mapping is never a parameter value.
    return value if isinstance(parsed, dict | _dt.date) or parsed is None else parsed


def _read_params_file(path) -> dict:
    from kamlab._io import read_yaml

    return read_yaml(path, "parameters file")  # an empty file is {}; a non-mapping is refused


def resolve_parameters(
    books: Sequence[Path], params_file=None, overrides: Mapping[str, object] | None = None
) -> dict[str, dict]:
    """The parameters to inject into each notebook.

    ``params_file`` (YAML) holds shared parameters at the top level and per-notebook ones under
    the notebook's number or name (``"03": {n_boot: 200}``); ``overrides`` (``-p``) win over
    both. A notebook only receives the parameters it declares; a parameter that no selected
    notebook declares, a value of the wrong type or an invalid run parameter (a date that is
    no date, ``seed=abc``) is refused with a message naming the parameter.
    """
    config = _read_params_file(params_file) if params_file is not None else {}
    config = {str(k): v for k, v in config.items()}
    per_book_keys = {b.stem for b in books} | {b.name[:2] for b in books}
    all_numbers = _numbered(books[0].parent) if books else set()
    for key, value in config.items():
        if (key in per_book_keys or key in all_numbers) and not isinstance(value, dict):
            raise ValueError(
                f"{Path(params_file).name}: '{key}' must hold the parameters of "
                f"notebook {key} as a mapping (e.g. '\"{key}\": {{seed: 1}}'), "
                f"got {value!r}"
            )
    shared = {k: v for k, v in config.items() if k not in per_book_keys | all_numbers}
    overrides = {k: _coerce(v) for k, v in (overrides or {}).items()}
    shared.update(overrides)
    declared = {b: declared_parameters(b) for b in books}
    known = set().union(*(d.keys() for d in declared.values())) if declared else set()
    unknown = sorted(set(shared) - known - {"data_dir", *TIMELINE_PARAMETERS})
    if unknown:
        hint = ""
        if "cutoff" in unknown:
            hint = (
                " ('cutoff' is derived from the review date: set as_of, and analyses "
                "that need outcomes use as_of minus horizon_days)"
            )
        raise ValueError(
            f"unknown parameter{'s' if len(unknown) > 1 else ''} "
            f"{', '.join(unknown)}{hint}; the selected notebooks declare: "
            f"{', '.join(sorted(known))}"
        )
    for name in TIMELINE_PARAMETERS:  # run-level: checked even where no notebook declares it
        if name in shared:
            check_parameter(name, shared[name], None)
    resolved = {}
    for book in books:
        specific = {**config.get(book.name[:2], {}), **config.get(book.stem, {})}
        bad = sorted(set(specific) - set(declared[book]))
        if bad:
            raise ValueError(f"{book.stem} does not declare parameter(s) {', '.join(bad)}")
        merged = {**shared, **specific, **overrides}
        chosen = {k: v for k, v in merged.items() if k in declared[book]}
        for name, value in chosen.items():
            chosen[name] = check_parameter(name, value, declared[book][name], book.stem)
        resolved[book.stem] = chosen
    return resolved


def run_level(params_file, overrides) -> dict[str, Any]:
    """The run's as_of / horizon_days / review_interval as given (file, then -p)."""
    config = _read_params_file(params_file) if params_file is not None else {}
    given = {**config, **{k: _coerce(v) for k, v in (overrides or {}).items()}}
    return {k: given[k] for k in TIMELINE_PARAMETERS if k in given}


def _numbered(folder: Path) -> set[str]:
    return {p.name[:2] for p in Path(folder).glob("*.ipynb") if p.name[:2].isdigit()}
