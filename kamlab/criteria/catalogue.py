"""The criteria catalogue: which criteria exist, where their values come from, which seed
document each one cites.

A YAML file (the default ships as ``kamlab/catalogue.yaml``) lists criteria. Each has an
``id``, a ``family`` (one of :data:`FAMILIES`), a ``source`` — ``feature:<column>`` (a column
of :func:`kamlab.features.account_features`) or ``assessment:<criterion>`` (the latest
account-team score, column ``score_<criterion>``) — a ``direction`` (+1 more is better, −1 less
is better), a default ``weight``, a ``description`` and a ``reference`` (ids of the catalogue's
``references``: the seed documents and the selection-matrix framework).

A malformed file raises :class:`CatalogueError` whose message names the file and the key.
"""

from __future__ import annotations

import difflib
import math
import os
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import NoReturn

import pandas as pd
import yaml

from kamlab._io import load_yaml

__all__ = ["FAMILIES", "Catalogue", "CatalogueError", "Criterion", "load_catalogue"]

FAMILIES = ("size", "growth", "harmony", "value_creation", "relationship")
_CRITERION_KEYS = {"id", "family", "source", "direction", "weight", "description", "reference"}


class CatalogueError(ValueError):
    """A catalogue or rule-set file is malformed; ``key`` names the offending key."""

    def __init__(self, message: str, *, key: str | None = None):
        super().__init__(message)
        self.key = key


def _fail(where: str, key: str, message: str) -> NoReturn:
    raise CatalogueError(f"{where}: {key}: {message}", key=key)


def _suggest(name: str, known: Iterable[str]) -> str:
    close = difflib.get_close_matches(str(name), list(known), n=1)
    return f" (did you mean {close[0]!r}?)" if close else ""


@dataclass(frozen=True)
class Criterion:
    """One key-account criterion of the catalogue.

    Examples
    --------
    >>> c = Criterion("margin", "growth", "feature:gross_margin_12m", 1, 1.0, "", ())
    >>> c.kind, c.column
    ('feature', 'gross_margin_12m')
    """

    id: str
    family: str
    source: str
    direction: int
    weight: float
    description: str
    reference: tuple[str, ...]

    @property
    def kind(self) -> str:
        """``"feature"`` or ``"assessment"``."""
        return self.source.split(":", 1)[0]

    @property
    def column(self) -> str:
        """The :func:`~kamlab.features.account_features` column holding the raw value."""
        kind, name = self.source.split(":", 1)
        return name if kind == "feature" else f"score_{name}"


@dataclass(frozen=True)
class Catalogue:
    """The criteria catalogue: criteria by id and the references they cite.

    Examples
    --------
    >>> catalogue = load_catalogue()
    >>> "growth_potential" in catalogue, catalogue.to_frame().loc["margin", "family"]
    (True, 'growth')
    """

    criteria: dict[str, Criterion]
    references: dict[str, dict] = field(default_factory=dict)
    version: int = 1
    source: str = "<memory>"

    def __getitem__(self, key: str) -> Criterion:
        return self.criteria[key]

    def __contains__(self, key: object) -> bool:
        return key in self.criteria

    def __iter__(self):
        return iter(self.criteria.values())

    def __len__(self) -> int:
        return len(self.criteria)

    def to_frame(self) -> pd.DataFrame:
        """One row per criterion: family, source, direction, weight, references (seed titles)."""
        rows = [
            {
                "criterion": c.id,
                "family": c.family,
                "source": c.source,
                "direction": c.direction,
                "weight": c.weight,
                "reference": ", ".join(c.reference),
                "description": c.description,
            }
            for c in self
        ]
        return pd.DataFrame(rows).set_index("criterion")

    def references_frame(self) -> pd.DataFrame:
        """One row per reference: ``title``, ``file`` (missing for a reference that is not a
        seed document), ``note`` and ``criteria`` (how many criteria cite it).

        Examples
        --------
        >>> load_catalogue().references_frame()["criteria"].to_dict()["seed_000"]
        12
        """
        cited = pd.Series([r for c in self for r in c.reference], dtype=object).value_counts()
        frame = pd.DataFrame(
            [
                {
                    "reference": key,
                    "title": ref.get("title"),
                    "file": ref.get("file"),
                    "note": ref.get("note"),
                    "criteria": int(cited.get(key, 0)),
                }
                for key, ref in self.references.items()
            ],
            columns=["reference", "title", "file", "note", "criteria"],
        )
        return frame.set_index("reference")


def _number(value, where, key, *, positive_ok_zero=True) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        _fail(where, key, f"must be a number, got {value!r}")
    if value < 0 or (value == 0 and not positive_ok_zero):
        _fail(where, key, f"must be {'≥ 0' if positive_ok_zero else '> 0'}, got {value!r}")
    return float(value)


def _parse_criterion(item, index: int, where: str, references: Mapping) -> Criterion:
    label = f"criteria[{index}]"
    if not isinstance(item, Mapping):
        _fail(
            where,
            label,
            f"must be a mapping with keys {sorted(_CRITERION_KEYS)}, got {type(item).__name__}",
        )
    if "id" not in item:
        _fail(where, f"{label}.id", "is missing")
    cid = item["id"]
    if not isinstance(cid, str) or not cid.isidentifier():
        _fail(where, f"{label}.id", f"must be an identifier-like string, got {cid!r}")
    label = f"criteria[{index}] ({cid!r})"
    unknown = set(item) - _CRITERION_KEYS
    if unknown:
        bad = sorted(unknown)[0]
        _fail(
            where,
            f"{label}.{bad}",
            f"unknown key{_suggest(bad, _CRITERION_KEYS)}; "
            f"allowed: {', '.join(sorted(_CRITERION_KEYS))}",
        )
    for key in ("family", "source", "direction"):
        if key not in item:
            _fail(where, f"{label}.{key}", "is missing")
    family = item["family"]
    if family not in FAMILIES:
        _fail(
            where,
            f"{label}.family",
            f"must be one of {', '.join(FAMILIES)}, got {family!r}{_suggest(family, FAMILIES)}",
        )
    source = item["source"]
    if not isinstance(source, str) or ":" not in source:
        _fail(
            where,
            f"{label}.source",
            f"must be 'feature:<column>' or 'assessment:<criterion>', got {source!r}",
        )
    kind, name = source.split(":", 1)
    if kind not in ("feature", "assessment") or not name.strip():
        _fail(
            where,
            f"{label}.source",
            f"must be 'feature:<column>' or 'assessment:<criterion>', got {source!r}",
        )
    direction = item["direction"]
    if isinstance(direction, bool) or direction not in (1, -1):
        _fail(where, f"{label}.direction", f"must be +1 or -1, got {direction!r}")
    weight = _number(item.get("weight", 1.0), where, f"{label}.weight")
    refs = item.get("reference", [])
    refs = [refs] if isinstance(refs, str) else refs
    if not isinstance(refs, list) or not all(isinstance(r, str) for r in refs):
        _fail(
            where, f"{label}.reference", f"must be a reference id or a list of them, got {refs!r}"
        )
    for ref in refs:
        if references and ref not in references:
            _fail(
                where,
                f"{label}.reference",
                f"unknown reference {ref!r}"
                f"{_suggest(ref, references)}; known: "
                f"{', '.join(references)}",
            )
    description = item.get("description", "")
    if not isinstance(description, str):
        _fail(where, f"{label}.description", f"must be text, got {description!r}")
    return Criterion(
        id=cid,
        family=family,
        source=f"{kind}:{name.strip()}",
        direction=int(direction),
        weight=weight,
        description=description,
        reference=tuple(refs),
    )


def _read_yaml(path: Path):
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise CatalogueError(f"{path}: file not found", key=None) from None
    try:
        return load_yaml(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        at = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        problem = getattr(exc, "problem", None) or str(exc)
        raise CatalogueError(f"{path.name}: not valid YAML{at}: {problem}", key=None) from None


def _parse_catalogue(data, where: str) -> Catalogue:
    if not isinstance(data, Mapping):
        raise CatalogueError(
            f"{where}: the catalogue must be a mapping with a 'criteria' list, "
            f"got {type(data).__name__}",
            key=None,
        )
    unknown = set(data) - {"version", "references", "criteria", "rule_sets"}
    if unknown:
        bad = sorted(unknown)[0]
        _fail(
            where,
            bad,
            "unknown top-level key"
            f"{_suggest(bad, ['version', 'references', 'criteria', 'rule_sets'])}",
        )
    references = data.get("references") or {}
    if not isinstance(references, Mapping):
        _fail(where, "references", "must be a mapping of reference id → {file, title}")
    for rid, ref in references.items():
        if not isinstance(ref, Mapping) or "title" not in ref:
            _fail(where, f"references.{rid}", "must be a mapping with at least a 'title'")
    items = data.get("criteria")
    if items is None:
        _fail(where, "criteria", "is missing")
    if not isinstance(items, list) or not items:
        _fail(where, "criteria", "must be a non-empty list of criteria")
    criteria: dict[str, Criterion] = {}
    for i, item in enumerate(items):
        crit = _parse_criterion(item, i, where, references)
        if crit.id in criteria:
            _fail(where, f"criteria[{i}].id", f"duplicate id {crit.id!r}")
        criteria[crit.id] = crit
    version = data.get("version", 1)
    return Catalogue(
        criteria=criteria,
        references={k: dict(v) for k, v in references.items()},
        version=version,
        source=where,
    )


def _default_path() -> Path:
    return Path(str(resources.files("kamlab").joinpath("catalogue.yaml")))


def load_catalogue(path: str | os.PathLike | None = None) -> Catalogue:
    """Load a criteria catalogue.

    Parameters
    ----------
    path : path-like, optional
        A YAML file with ``criteria`` (and optionally ``references``, ``version``,
        ``rule_sets``). Default: the catalogue shipped with kamlab.

    Returns
    -------
    Catalogue

    Raises
    ------
    CatalogueError
        Malformed YAML or a malformed criterion; the message names the key.

    Examples
    --------
    >>> catalogue = load_catalogue()
    >>> catalogue["cost_to_serve"].direction, catalogue["growth_potential"].column
    (-1, 'score_growth_potential')
    """
    path = _default_path() if path is None else Path(path)
    return _parse_catalogue(_read_yaml(path), path.name)
