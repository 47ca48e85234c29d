"""Rule sets: weights over catalogue criteria, a normalisation, tier, type and axis rules.

A rule set says how to score accounts (:mod:`kamlab.criteria.scoring`). It is written in YAML
(shipped ones in ``kamlab/catalogue.yaml``: ``size_only``, ``seed_weighted``,
``selection_matrix``; :func:`available_rule_sets`) or given as a mapping:

``weights``
    criterion id → weight (at least one positive).
``normalisation``
    ``rank`` (default) or ``robust_z`` (see :mod:`kamlab.criteria.scoring`).
``tiers``
    ``{method: cap, strategic: …, key: …}`` (cumulative caps; default
    :data:`kamlab.tiers.STRATEGIC_CAP` and :data:`kamlab.tiers.KEY_CAP`) or
    ``{method: threshold, strategic: …, key: …}`` (score cut-offs); :func:`kamlab.tiers.assign_tiers`.
``types``
    revenue criterion × growth criterion, each split at a quantile (:class:`TypeRule`).
``axes``
    optional ``attractiveness`` and ``strength`` lists that partition the weighted criteria
    (the McDonald & Woodburn selection matrix).
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path

import pandas as pd

from kamlab.criteria.catalogue import (
    Catalogue,
    CatalogueError,
    Criterion,
    _default_path,
    _fail,
    _number,
    _parse_catalogue,
    _read_yaml,
    _suggest,
    load_catalogue,
)
from kamlab.tiers import KEY_CAP, STRATEGIC_CAP, TierRuleError, check_tier_rule

__all__ = [
    "NORMALISATIONS",
    "RuleSet",
    "TierRule",
    "TypeRule",
    "as_rule_set",
    "available_rule_sets",
    "load_rule_set",
]

NORMALISATIONS = ("rank", "robust_z")
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


@dataclass(frozen=True)
class TierRule:
    """Tier rule: ``cap`` (cumulative shares of accounts) or ``threshold`` (score cut-offs),
    applied by :func:`kamlab.tiers.assign_tiers`.

    Examples
    --------
    >>> TierRule()
    TierRule(method='cap', strategic=0.03, key=0.15)
    """

    method: str = "cap"
    strategic: float = STRATEGIC_CAP
    key: float = KEY_CAP


@dataclass(frozen=True)
class TypeRule:
    """Type rule: revenue criterion × growth criterion, each split at a quantile.

    Examples
    --------
    >>> TypeRule().revenue_split
    0.8
    """

    revenue: str = "revenue_contribution"
    growth: str = "growth_potential"
    revenue_split: float = 0.8
    growth_split: float = 0.5


@dataclass(frozen=True)
class RuleSet:
    """Weights over catalogue criteria plus normalisation, tier, type and axis rules.

    Calling a rule set on an :func:`~kamlab.features.account_features` frame returns the score
    Series (so rule sets and learned models can be back-tested alike).

    Examples
    --------
    >>> rules = load_rule_set("seed_weighted").with_caps(strategic=0.05, key=0.2)
    >>> rules.tiers
    TierRule(method='cap', strategic=0.05, key=0.2)
    >>> features = pd.DataFrame({"revenue_12m": [1.0, 3.0, 2.0]}, index=["A", "B", "C"])
    >>> load_rule_set("size_only")(features).round(3).tolist()
    [-0.333, 0.333, 0.0]
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
        from kamlab.criteria.scoring import contributions

        return contributions(features, self).sum(axis=1).rename("score")

    @property
    def criteria(self) -> list[Criterion]:
        """The criteria with a positive weight, in the rule set's order."""
        return [self.catalogue[c] for c, w in self.weights.items() if w > 0]

    def with_caps(self, strategic: float | None = None, key: float | None = None) -> RuleSet:
        """The same rule set with other tier caps (or thresholds)."""
        tiers = replace(
            self.tiers,
            strategic=self.tiers.strategic if strategic is None else strategic,
            key=self.tiers.key if key is None else key,
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
    try:
        check_tier_rule(tiers.method, tiers.strategic, tiers.key)
    except TierRuleError as exc:
        _fail(where, f"tiers.{exc.parameter}", str(exc).split(": ", 1)[1])


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
    """Names of the rule sets shipped with kamlab.

    Examples
    --------
    >>> available_rule_sets()
    ['size_only', 'seed_weighted', 'selection_matrix']
    """
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

    Examples
    --------
    >>> load_rule_set({"weights": {"revenue_contribution": 2, "margin": 1}}).weights
    {'revenue_contribution': 2.0, 'margin': 1.0}
    >>> load_rule_set("seed_weighed")
    Traceback (most recent call last):
    ...
    kamlab.criteria.catalogue.CatalogueError: unknown rule set 'seed_weighed' (did you mean 'seed_weighted'?): neither a shipped rule set (size_only, seed_weighted, selection_matrix) nor an existing file
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


def as_rule_set(rule_set) -> RuleSet:
    """``rule_set`` itself when it is a :class:`RuleSet`, else :func:`load_rule_set` of it.

    Examples
    --------
    >>> as_rule_set("size_only").weights
    {'revenue_contribution': 1.0}
    """
    return rule_set if isinstance(rule_set, RuleSet) else load_rule_set(rule_set)
