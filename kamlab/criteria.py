"""Key-account criteria as data: catalogue, rule sets, scores, tiers, types and reviews.

Catalogue
    A YAML file (the default ships as ``kamlab/catalogue.yaml``) listing criteria. Each has an
    ``id``, a ``family`` (one of :data:`FAMILIES`), a ``source`` — ``feature:<column>`` (a
    column of :func:`kamlab.features.account_features`) or ``assessment:<criterion>`` (the
    latest account-team score, column ``score_<criterion>``) — a ``direction`` (+1 more is
    better, −1 less is better), a default ``weight``, a ``description`` and a ``reference`` (ids
    of the catalogue's ``references``: the seed documents and the selection-matrix framework).

Rule set
    Weights over catalogue criteria, a normalisation, tier rules, type rules and, optionally,
    two ``axes`` (the McDonald & Woodburn selection matrix). Shipped: ``size_only``,
    ``seed_weighted``, ``selection_matrix`` (:func:`available_rule_sets`).

Scoring (:func:`contributions`, :func:`score_accounts`)
    1. Each criterion's raw value is multiplied by its direction and normalised across the
       accounts scored together (the portfolio at one cutoff):

       * ``rank`` (default): centred percentile rank ``(rank − 0.5) / n_observed − 0.5`` in
         (−0.5, 0.5), ties sharing their average rank;
       * ``robust_z``: ``(x − median) / (1.4826 · MAD)`` clipped to [−3, 3] (0 where MAD = 0).

       Both put the portfolio median at 0.
    2. Weights are divided by the sum of the weights of the *available* criteria, so they sum
       to 1. A criterion is unavailable when its column is absent from the features or has no
       observed value at all (e.g. ``ease_of_buying`` on the synthetic sample): it is left out,
       reported in ``attrs["unavailable"]`` and in :func:`coverage`, never scored as 0.
    3. contribution = normalised weight × normalised value; score = the row sum of the
       contributions (so every score is explained exactly by its contributions).

Missing values (an account without a score for an available criterion), ``missing=``:
    ``"median"`` (default): imputed at the portfolio median, i.e. normalised value 0, a neutral
    contribution; ``"worst"``: imputed at the lowest observed normalised value (no evidence, no
    credit); ``"raise"``: a ``ValueError`` naming the criteria and counts. Imputations are
    counted per criterion in ``attrs["imputed"]`` and per account in the ``n_imputed`` column.

Tiers (ordered categorical ``regular < key < strategic``)
    ``method: cap`` (default ``strategic: 0.03, key: 0.15``): caps are *cumulative* shares of
    the accounts scored. The ``floor(0.03 · n)`` best scores are strategic, and the
    ``floor(0.15 · n)`` best scores are key **or** strategic, so the key tier itself holds at
    most 12 % of accounts and the designated set (key + strategic) at most 15 %. Accounts are
    ordered by score, ties broken by ``account_id``. ``method: threshold``: strategic when
    ``score ≥ strategic``, key when ``score ≥ key``.

Types (:data:`TYPES`)
    Revenue contribution × growth potential quadrant on the *raw* values: revenue is high above
    its ``revenue_split`` quantile (default 0.8: the top 20 %), growth is high above its
    ``growth_split`` quantile (default 0.5: above the median). High/high → strategic,
    low/high → high-growth, high/low → stable, low/low → tactical. An account with no growth
    value counts as low growth (counted in ``attrs["type_growth_missing"]``).

Selection matrix (rule sets with ``axes``)
    The axes ``attractiveness`` and ``strength`` partition the weighted criteria; each axis is
    the sum of its criteria's contributions (so ``score = attractiveness + strength``), and the
    quadrant splits each axis at its median: strategic (high, high), star (high attractiveness,
    low strength), status (low attractiveness, high strength), streamline (low, low).
"""

from __future__ import annotations

import difflib
import math
import os
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from importlib import resources
from pathlib import Path

import numpy as np
import pandas as pd
import yaml

__all__ = [
    "FAMILIES",
    "QUADRANTS",
    "TIERS",
    "TYPES",
    "Catalogue",
    "CatalogueError",
    "Criterion",
    "RuleSet",
    "TierRule",
    "TypeRule",
    "available_rule_sets",
    "contributions",
    "coverage",
    "load_catalogue",
    "load_rule_set",
    "review",
    "score_accounts",
    "tier_migration",
]

FAMILIES = ("size", "growth", "harmony", "value_creation", "relationship")
TIERS = ("regular", "key", "strategic")
TYPES = ("strategic", "high-growth", "stable", "tactical")
QUADRANTS = ("strategic", "star", "status", "streamline")
NORMALISATIONS = ("rank", "robust_z")
MISSING = ("median", "worst", "raise")
TIER_DTYPE = pd.CategoricalDtype(list(TIERS), ordered=True)
_CRITERION_KEYS = {"id", "family", "source", "direction", "weight", "description", "reference"}
_RULE_SET_KEYS = {
    "name",
    "description",
    "reference",
    "normalisation",
    "weights",
    "axes",
    "tiers",
    "types",
}
_AXES = ("attractiveness", "strength")


class CatalogueError(ValueError):
    """A catalogue or rule-set file is malformed; ``key`` names the offending key."""

    def __init__(self, message: str, *, key: str | None = None):
        super().__init__(message)
        self.key = key


def _fail(where: str, key: str, message: str):
    raise CatalogueError(f"{where}: {key}: {message}", key=key)


def _suggest(name: str, known: Iterable[str]) -> str:
    close = difflib.get_close_matches(str(name), list(known), n=1)
    return f" (did you mean {close[0]!r}?)" if close else ""


# --------------------------------------------------------------------------- catalogue
@dataclass(frozen=True)
class Criterion:
    """One key-account criterion of the catalogue."""

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
    """The criteria catalogue: criteria by id and the references they cite."""

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
        return yaml.safe_load(text)
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
    """
    path = _default_path() if path is None else Path(path)
    return _parse_catalogue(_read_yaml(path), path.name)


# --------------------------------------------------------------------------- rule sets
@dataclass(frozen=True)
class TierRule:
    """Tier rule: ``cap`` (cumulative shares of accounts) or ``threshold`` (score cut-offs)."""

    method: str = "cap"
    strategic: float = 0.03
    key: float = 0.15


@dataclass(frozen=True)
class TypeRule:
    """Type rule: revenue criterion × growth criterion, each split at a quantile."""

    revenue: str = "revenue_contribution"
    growth: str = "growth_potential"
    revenue_split: float = 0.8
    growth_split: float = 0.5


@dataclass(frozen=True)
class RuleSet:
    """Weights over catalogue criteria plus normalisation, tier, type and axis rules.

    Calling a rule set on an :func:`~kamlab.features.account_features` frame returns the score
    Series (so rule sets and learned models can be back-tested alike).
    """

    name: str
    weights: dict[str, float]
    catalogue: Catalogue
    description: str = ""
    reference: tuple[str, ...] = ()
    normalisation: str = "rank"
    tiers: TierRule = TierRule()
    types: TypeRule = TypeRule()
    axes: dict[str, tuple[str, ...]] = field(default_factory=dict)

    def __call__(self, features: pd.DataFrame) -> pd.Series:
        return contributions(features, self).sum(axis=1).rename("score")

    @property
    def criteria(self) -> list[Criterion]:
        """The criteria with a positive weight, in the rule set's order."""
        return [self.catalogue[c] for c, w in self.weights.items() if w > 0]

    def with_caps(self, strategic: float | None = None, key: float | None = None) -> RuleSet:
        """The same rule set with other tier caps (or thresholds)."""
        tiers = replace(
            self.tiers,
            **{k: v for k, v in (("strategic", strategic), ("key", key)) if v is not None},
        )
        _check_tiers(tiers, f"rule set {self.name!r}")
        return replace(self, tiers=tiers)

    def weights_frame(self) -> pd.DataFrame:
        """One row per weighted criterion: family, source, direction, weight, axis."""
        axis_of = {c: a for a, cs in self.axes.items() for c in cs}
        rows = [
            {
                "criterion": c.id,
                "family": c.family,
                "source": c.source,
                "direction": c.direction,
                "weight": self.weights[c.id],
                **({"axis": axis_of.get(c.id)} if self.axes else {}),
            }
            for c in self.criteria
        ]
        return pd.DataFrame(rows).set_index("criterion")


def _check_tiers(tiers: TierRule, where: str) -> None:
    if tiers.method not in ("cap", "threshold"):
        _fail(where, "tiers.method", f"must be 'cap' or 'threshold', got {tiers.method!r}")
    for key in ("strategic", "key"):
        value = getattr(tiers, key)
        if (
            isinstance(value, bool)
            or not isinstance(value, (int, float))
            or not math.isfinite(value)
        ):
            _fail(where, f"tiers.{key}", f"must be a number, got {value!r}")
        if tiers.method == "cap" and not 0 <= value <= 1:
            _fail(where, f"tiers.{key}", f"a cap is a share of accounts in [0, 1], got {value!r}")
    if tiers.method == "cap" and tiers.strategic > tiers.key:
        _fail(
            where,
            "tiers.strategic",
            f"cap {tiers.strategic} exceeds the key cap "
            f"{tiers.key} (caps are cumulative: key includes "
            f"strategic)",
        )
    if tiers.method == "threshold" and tiers.strategic < tiers.key:
        _fail(
            where,
            "tiers.strategic",
            f"threshold {tiers.strategic} is below the key threshold {tiers.key}",
        )


def _known(where, key, name, catalogue: Catalogue) -> str:
    if name not in catalogue:
        _fail(
            where,
            key,
            f"unknown criterion {name!r}{_suggest(name, catalogue.criteria)}; "
            f"not in the catalogue ({catalogue.source})",
        )
    return name


def _parse_rule_set(data, name: str, catalogue: Catalogue, where: str) -> RuleSet:
    where = f"{where}: rule set {name!r}" if where != name else f"rule set {name!r}"
    if not isinstance(data, Mapping):
        raise CatalogueError(
            f"{where}: must be a mapping with 'weights', got {type(data).__name__}", key=None
        )
    unknown = set(data) - _RULE_SET_KEYS
    if unknown:
        bad = sorted(unknown)[0]
        _fail(
            where,
            bad,
            f"unknown key{_suggest(bad, _RULE_SET_KEYS)}; allowed: "
            f"{', '.join(sorted(_RULE_SET_KEYS))}",
        )
    weights = data.get("weights")
    if weights is None:
        _fail(where, "weights", "is missing")
    if not isinstance(weights, Mapping) or not weights:
        _fail(where, "weights", "must be a non-empty mapping criterion → weight")
    parsed = {}
    for cid, w in weights.items():
        _known(where, f"weights.{cid}", cid, catalogue)
        parsed[cid] = _number(w, where, f"weights.{cid}")
    if not any(w > 0 for w in parsed.values()):
        _fail(where, "weights", "at least one weight must be positive")
    norm = data.get("normalisation", "rank")
    if norm not in NORMALISATIONS:
        _fail(
            where,
            "normalisation",
            f"must be one of {', '.join(NORMALISATIONS)}, got "
            f"{norm!r}{_suggest(norm, NORMALISATIONS)}",
        )
    tiers_data = data.get("tiers", {}) or {}
    if not isinstance(tiers_data, Mapping):
        _fail(where, "tiers", "must be a mapping {method, strategic, key}")
    for key in tiers_data:
        if key not in ("method", "strategic", "key"):
            _fail(
                where, f"tiers.{key}", f"unknown key{_suggest(key, ['method', 'strategic', 'key'])}"
            )
    tiers = TierRule(**tiers_data)
    _check_tiers(tiers, where)
    types_data = data.get("types", {}) or {}
    if not isinstance(types_data, Mapping):
        _fail(where, "types", "must be a mapping {revenue, growth, revenue_split, growth_split}")
    allowed = ("revenue", "growth", "revenue_split", "growth_split")
    for key, value in types_data.items():
        if key not in allowed:
            _fail(where, f"types.{key}", f"unknown key{_suggest(key, allowed)}")
        if key in ("revenue", "growth"):
            _known(where, f"types.{key}", value, catalogue)
        elif isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 < value < 1:
            _fail(where, f"types.{key}", f"must be a quantile in (0, 1), got {value!r}")
    types = TypeRule(**types_data)
    axes_data = data.get("axes") or {}
    axes: dict[str, tuple[str, ...]] = {}
    if axes_data:
        if not isinstance(axes_data, Mapping) or set(axes_data) != set(_AXES):
            _fail(where, "axes", f"must map exactly {' and '.join(_AXES)} to lists of criteria")
        seen: dict[str, str] = {}
        for axis in _AXES:
            members = axes_data[axis]
            if not isinstance(members, list) or not members:
                _fail(where, f"axes.{axis}", "must be a non-empty list of criteria")
            for cid in members:
                if cid not in parsed:
                    _fail(
                        where, f"axes.{axis}", f"criterion {cid!r} has no weight in this rule set"
                    )
                if cid in seen:
                    _fail(
                        where,
                        f"axes.{axis}",
                        f"criterion {cid!r} is already on the {seen[cid]} axis",
                    )
                seen[cid] = axis
            axes[axis] = tuple(members)
        left = [c for c, w in parsed.items() if w > 0 and c not in seen]
        if left:
            _fail(
                where,
                "axes",
                f"weighted criteria on no axis: {', '.join(left)} (the axes "
                f"must partition the weights so score = attractiveness + "
                f"strength)",
            )
    refs = data.get("reference", [])
    refs = (refs,) if isinstance(refs, str) else tuple(refs)
    return RuleSet(
        name=str(data.get("name", name)),
        weights=parsed,
        catalogue=catalogue,
        description=str(data.get("description", "")),
        reference=refs,
        normalisation=norm,
        tiers=tiers,
        types=types,
        axes=axes,
    )


def _shipped() -> dict:
    data = _read_yaml(_default_path())
    return data.get("rule_sets") or {}


def available_rule_sets() -> list[str]:
    """Names of the rule sets shipped with kamlab."""
    return list(_shipped())


def load_rule_set(
    name_or_path: str | os.PathLike | Mapping, catalogue: Catalogue | None = None
) -> RuleSet:
    """Load a shipped rule set by name, a user's rule set from YAML, or one from a mapping.

    Parameters
    ----------
    name_or_path : str, path-like or mapping
        A name from :func:`available_rule_sets`; or a YAML file holding one rule set (keys
        ``name``, ``description``, ``reference``, ``normalisation``, ``weights``, ``axes``,
        ``tiers``, ``types``) or a catalogue file with ``criteria`` and ``rule_sets`` (then
        it must hold exactly one rule set, or pass ``path::name``); or such a mapping.
    catalogue : Catalogue, optional
        The criteria the weights refer to. Default: the criteria in the same file, else the
        shipped catalogue.

    Raises
    ------
    CatalogueError
        Unknown name, malformed YAML or a malformed rule set; the message names the key.
    """
    if isinstance(name_or_path, Mapping):
        cat = catalogue or load_catalogue()
        name = str(name_or_path.get("name", "custom"))
        return _parse_rule_set(name_or_path, name, cat, name)
    text = str(name_or_path)
    shipped = _shipped()
    if text in shipped:
        return _parse_rule_set(shipped[text], text, catalogue or load_catalogue(), text)
    path_text, _, wanted = text.partition("::")
    path = Path(path_text)
    if not path.exists():
        raise CatalogueError(
            f"unknown rule set {text!r}{_suggest(text, shipped)}: neither a "
            f"shipped rule set ({', '.join(shipped)}) nor an existing file",
            key=None,
        )
    data = _read_yaml(path)
    if isinstance(data, Mapping) and ("rule_sets" in data or "criteria" in data):
        cat = catalogue or (
            _parse_catalogue(data, path.name) if "criteria" in data else load_catalogue()
        )
        sets = data.get("rule_sets") or {}
        if not isinstance(sets, Mapping) or not sets:
            _fail(path.name, "rule_sets", "no rule sets in this file")
        if wanted:
            if wanted not in sets:
                _fail(path.name, "rule_sets", f"no rule set {wanted!r}{_suggest(wanted, sets)}")
        elif len(sets) == 1:
            wanted = next(iter(sets))
        else:
            _fail(
                path.name,
                "rule_sets",
                f"holds {len(sets)} rule sets ({', '.join(sets)}); pass '{path}::<name>'",
            )
        return _parse_rule_set(sets[wanted], wanted, cat, path.name)
    name = str(data.get("name", path.stem)) if isinstance(data, Mapping) else path.stem
    return _parse_rule_set(data, name, catalogue or load_catalogue(), path.name)


def _as_rule_set(rule_set) -> RuleSet:
    return rule_set if isinstance(rule_set, RuleSet) else load_rule_set(rule_set)


# --------------------------------------------------------------------------- scoring
def _normalise(values: pd.Series, method: str) -> pd.Series:
    """Centred normalisation of observed values (NaN stays NaN); the median maps to 0."""
    observed = values.dropna()
    out = pd.Series(np.nan, index=values.index, dtype=float)
    if observed.empty:
        return out
    if method == "rank":
        ranks = observed.rank(method="average")
        out.loc[observed.index] = (ranks - 0.5) / len(observed) - 0.5
    else:
        median = observed.median()
        mad = 1.4826 * (observed - median).abs().median()
        z = (observed - median) / mad if mad > 0 else observed * 0.0
        out.loc[observed.index] = z.clip(-3.0, 3.0)
    return out


def _availability(features: pd.DataFrame, rule_set: RuleSet):
    available, unavailable = [], []
    for crit in rule_set.criteria:
        col = crit.column
        if col in features and features[col].notna().any():
            available.append(crit)
        else:
            unavailable.append(crit.id)
    if not available:
        raise ValueError(
            f"rule set {rule_set.name!r}: none of its criteria is available in "
            f"the features (missing: {', '.join(unavailable)})"
        )
    return available, unavailable


def _contributions(features: pd.DataFrame, rule_set: RuleSet, missing: str):
    if missing not in MISSING:
        raise ValueError(f"missing must be one of {', '.join(MISSING)}, not {missing!r}")
    if features.index.has_duplicates:
        raise ValueError("features must have one row per account (duplicated index)")
    available, unavailable = _availability(features, rule_set)
    total = sum(rule_set.weights[c.id] for c in available)
    imputed: dict[str, int] = {}
    normed = {}
    for crit in available:
        raw = pd.to_numeric(features[crit.column], errors="coerce").astype(float)
        z = _normalise(raw * crit.direction, rule_set.normalisation)
        n_missing = int(z.isna().sum())
        imputed[crit.id] = n_missing
        if n_missing:
            if missing == "raise":
                counts = {
                    c.id: int(features[c.column].isna().sum())
                    for c in available
                    if features[c.column].isna().any()
                }
                raise ValueError(
                    f"rule set {rule_set.name!r}: missing values with "
                    f"missing='raise': "
                    + ", ".join(f"{k} ({v} accounts)" for k, v in counts.items())
                )
            fill = 0.0 if missing == "median" else float(z.min())
            z = z.fillna(fill)
        normed[crit.id] = z
    frame = pd.DataFrame(normed, index=features.index)
    weights = pd.Series({c.id: rule_set.weights[c.id] / total for c in available})
    contrib = frame * weights
    contrib.index.name = "account_id"
    contrib.columns.name = "criterion"
    contrib.attrs.update(
        rule_set=rule_set.name,
        unavailable=unavailable,
        imputed=imputed,
        weights=weights.to_dict(),
        normalisation=rule_set.normalisation,
    )
    missing_mask = pd.DataFrame(
        {c.id: features[c.column].isna() for c in available}, index=features.index
    )
    return contrib, missing_mask


def contributions(features: pd.DataFrame, rule_set, *, missing: str = "median") -> pd.DataFrame:
    """Per-account contribution of each criterion to the score.

    Parameters
    ----------
    features : pandas.DataFrame
        :func:`kamlab.features.account_features` output (one row per account).
    rule_set : RuleSet or str
        A rule set or the name of a shipped one.
    missing : {"median", "worst", "raise"}
        Missing-value policy (module docstring).

    Returns
    -------
    pandas.DataFrame
        Accounts × available criteria; row sums are the scores of :func:`score_accounts`.
        ``attrs`` holds ``weights`` (normalised), ``unavailable``, ``imputed``.
    """
    return _contributions(features, _as_rule_set(rule_set), missing)[0]


def coverage(features: pd.DataFrame, rule_set, *, missing: str = "median") -> pd.DataFrame:
    """Which criteria of a rule set could be scored, and how many values were imputed.

    Returns
    -------
    pandas.DataFrame
        One row per weighted criterion: ``family``, ``source``, ``weight`` (as given),
        ``effective_weight`` (normalised over the available criteria; 0 when unavailable),
        ``available``, ``observed`` and ``imputed`` account counts.
    """
    rule_set = _as_rule_set(rule_set)
    _, unavailable = _availability(features, rule_set)
    weights = _contributions(features, rule_set, "median")[0].attrs["weights"]
    rows = []
    for crit in rule_set.criteria:
        ok = crit.id not in unavailable
        observed = int(features[crit.column].notna().sum()) if ok else 0
        rows.append(
            {
                "criterion": crit.id,
                "family": crit.family,
                "source": crit.source,
                "weight": rule_set.weights[crit.id],
                "effective_weight": weights.get(crit.id, 0.0),
                "available": ok,
                "observed": observed,
                "imputed": len(features) - observed if ok else 0,
            }
        )
    return pd.DataFrame(rows).set_index("criterion")


def _tiers(score: pd.Series, rule: TierRule) -> pd.Series:
    if rule.method == "threshold":
        labels = np.where(
            score >= rule.strategic, "strategic", np.where(score >= rule.key, "key", "regular")
        )
        return pd.Series(labels, index=score.index).astype(TIER_DTYPE)
    n = len(score)
    n_strategic = int(math.floor(rule.strategic * n + 1e-9))
    n_key = int(math.floor(rule.key * n + 1e-9))
    order = pd.DataFrame(
        {"score": score.to_numpy(), "id": score.index.astype(str)}, index=score.index
    )
    order = order.sort_values(["score", "id"], ascending=[False, True], kind="mergesort")
    position = pd.Series(np.arange(n), index=order.index).reindex(score.index)
    labels = np.where(
        position < n_strategic, "strategic", np.where(position < n_key, "key", "regular")
    )
    return pd.Series(labels, index=score.index).astype(TIER_DTYPE)


def _high(values: pd.Series, quantile: float) -> pd.Series:
    observed = values.dropna()
    if observed.empty:
        return pd.Series(False, index=values.index)
    return (values > observed.quantile(quantile)).fillna(False).astype(bool)


def _types(features: pd.DataFrame, rule_set: RuleSet) -> tuple[pd.Series, int]:
    rule = rule_set.types
    cat = rule_set.catalogue
    rev, gro = cat[rule.revenue], cat[rule.growth]
    if rev.column not in features:
        raise ValueError(f"type rule: revenue criterion {rev.id!r} needs column {rev.column!r}")
    rev_v = features[rev.column].astype(float) * rev.direction
    gro_v = (
        features[gro.column].astype(float) * gro.direction
        if gro.column in features
        else pd.Series(np.nan, index=features.index)
    )
    high_rev, high_gro = _high(rev_v, rule.revenue_split), _high(gro_v, rule.growth_split)
    labels = np.select(
        [high_rev & high_gro, ~high_rev & high_gro, high_rev & ~high_gro],
        ["strategic", "high-growth", "stable"],
        "tactical",
    )
    types = pd.Series(labels, index=features.index).astype(pd.CategoricalDtype(list(TYPES)))
    return types, int(gro_v.isna().sum())


def score_accounts(features: pd.DataFrame, rule_set, *, missing: str = "median") -> pd.DataFrame:
    """Score, rank, tier and type every account with a rule set.

    Parameters
    ----------
    features : pandas.DataFrame
        :func:`kamlab.features.account_features` output (one row per account).
    rule_set : RuleSet or str
        A rule set or the name of a shipped one.
    missing : {"median", "worst", "raise"}
        Missing-value policy (module docstring).

    Returns
    -------
    pandas.DataFrame
        Indexed by ``account_id``: ``score`` (row sum of :func:`contributions`), ``rank``
        (1 = best), ``tier`` (ordered categorical regular < key < strategic), ``type``
        (strategic / high-growth / stable / tactical), ``n_imputed`` (criteria imputed for the
        account) and, for rule sets with axes, ``attractiveness``, ``strength`` and
        ``quadrant``. ``attrs``: ``rule_set``, ``unavailable``, ``imputed`` (per criterion),
        ``type_growth_missing``, ``cutoff``.
    """
    rule_set = _as_rule_set(rule_set)
    contrib, missing_mask = _contributions(features, rule_set, missing)
    out = pd.DataFrame(index=contrib.index)
    out["score"] = contrib.sum(axis=1)
    order = pd.DataFrame({"s": out["score"], "id": out.index.astype(str)})
    order = order.sort_values(["s", "id"], ascending=[False, True], kind="mergesort")
    out["rank"] = pd.Series(np.arange(1, len(out) + 1), index=order.index).reindex(out.index)
    out["tier"] = _tiers(out["score"], rule_set.tiers)
    out["type"], growth_missing = _types(features, rule_set)
    out["n_imputed"] = missing_mask.sum(axis=1).astype(int)
    if rule_set.axes:
        for axis, members in rule_set.axes.items():
            cols = [c for c in members if c in contrib]
            out[axis] = contrib[cols].sum(axis=1)
        hi_a = out["attractiveness"] > out["attractiveness"].median()
        hi_s = out["strength"] > out["strength"].median()
        labels = np.select(
            [hi_a & hi_s, hi_a & ~hi_s, ~hi_a & hi_s], ["strategic", "star", "status"], "streamline"
        )
        out["quadrant"] = pd.Categorical(labels, categories=list(QUADRANTS))
    out.attrs.update(
        rule_set=rule_set.name,
        unavailable=list(contrib.attrs["unavailable"]),
        imputed=dict(contrib.attrs["imputed"]),
        type_growth_missing=growth_missing,
        cutoff=features.attrs.get("cutoff"),
    )
    return out


# --------------------------------------------------------------------------- reviews
def _tier_series(tiers) -> pd.Series:
    if isinstance(tiers, pd.DataFrame):
        if "tier" not in tiers:
            raise ValueError("a DataFrame of tiers needs a 'tier' column")
        tiers = tiers["tier"]
    return pd.Series(tiers).dropna().astype(TIER_DTYPE)


def tier_migration(tiers_a, tiers_b) -> pd.DataFrame:
    """Transition table of tiers between two reviews.

    Parameters
    ----------
    tiers_a, tiers_b : pandas.Series or DataFrame
        Tiers indexed by account (or :func:`score_accounts` frames) at the earlier and later
        review; missing values mean "not in the portfolio then".

    Returns
    -------
    pandas.DataFrame
        Counts with rows ``regular, key, strategic, (new)`` (tier at the first review; "(new)"
        for accounts only in the second) and columns ``regular, key, strategic, (gone)``
        ("(gone)" for accounts only in the first). Row sums over the tier rows equal the tier
        counts of ``tiers_a``; column sums over the tier columns those of ``tiers_b``.
    """
    a, b = _tier_series(tiers_a), _tier_series(tiers_b)
    ids = a.index.union(b.index)
    rows = a.reindex(ids).astype(object).fillna("(new)")
    cols = b.reindex(ids).astype(object).fillna("(gone)")
    table = pd.crosstab(
        pd.Categorical(rows, categories=list(TIERS) + ["(new)"]),
        pd.Categorical(cols, categories=list(TIERS) + ["(gone)"]),
        dropna=False,
    )
    table.index.name, table.columns.name = "from", "to"
    return table.astype(int)


def review(
    dataset, rule_set, cutoffs: Iterable, *, horizon=365, missing: str = "median", **feature_kwargs
) -> pd.DataFrame:
    """Tiers at successive review dates (is the key-account list set-and-forget?).

    Parameters
    ----------
    dataset : Dataset
        The loaded portfolio.
    rule_set : RuleSet or str
    cutoffs : iterable of date-like
        Review dates; each is scored on :func:`~kamlab.features.account_features` as of it.
    horizon, feature_kwargs
        Passed to :func:`~kamlab.features.account_features` (outcomes are not used).

    Returns
    -------
    pandas.DataFrame
        Indexed by ``account_id``, one column of tiers (ordered categorical) per cutoff, named
        by its ISO date; missing where the account was not in the portfolio at that date.
    """
    from kamlab.features import account_features

    rule_set = _as_rule_set(rule_set)
    columns = {}
    for cutoff in cutoffs:
        feats = account_features(dataset, cutoff, horizon, **feature_kwargs)
        scored = score_accounts(feats, rule_set, missing=missing)
        columns[pd.Timestamp(cutoff).date().isoformat()] = scored["tier"]
    if not columns:
        raise ValueError("cutoffs is empty")
    out = pd.DataFrame(columns)
    out.index.name = "account_id"
    return out.sort_index().apply(lambda s: s.astype(TIER_DTYPE))
