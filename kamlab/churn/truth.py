"""Did a model find the churn drivers a synthetic portfolio planted?

:func:`kamlab.synth.write_synthetic` writes ``truth.json`` beside the data: which latent traits
drive churn (``churn_drivers``), their coefficients on the log churn hazard, and how the data
observe each trait (``observed_as``: an assessed criterion, the NPS...). :func:`compare_with_truth`
sets a :class:`~kamlab.churn.ChurnEffects` against it; on real data (no ``truth.json``) it says so.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from kamlab import fmt
from kamlab.churn.outcomes import ChurnEffects, _label

__all__ = ["TruthCheck", "compare_with_truth"]


@dataclass(frozen=True)
class TruthCheck:
    """The planted churn drivers of a synthetic portfolio against a model's estimates
    (:func:`compare_with_truth`).

    Attributes
    ----------
    table : pandas.DataFrame
        Index ``driver`` (the planted latent trait): ``column`` (how the data observe it),
        ``planted`` (its coefficient on the log churn hazard per standard deviation),
        ``ratio``, ``q_value`` (the model's estimate; NaN when the column is not in the
        model) and ``recovered`` (significant, in the planted direction).
    false_alarms : tuple of str
        Significant criteria that were not planted.
    model, ratio_name : str
    skipped : str or None
    """

    table: pd.DataFrame
    false_alarms: tuple[str, ...]
    model: str
    ratio_name: str
    skipped: str | None

    def describe(self) -> str:
        """Did the model find the planted drivers? (Markdown)"""
        if self.skipped:
            return f"No comparison with a planted truth: {self.skipped}."
        t = self.table
        planted = "; ".join(
            f"{d.replace('_', ' ')} ({'protective' if r['planted'] < 0 else 'raising the risk'}"
            f", observed as {_observed(r['column'])})"
            for d, r in t.iterrows()
        )
        found = t[t["recovered"]]
        missed = t[~t["recovered"]]
        text = (
            f"The generator of this synthetic portfolio planted {fmt.count(len(t))} churn "
            f"drivers (truth.json): {planted}. The {self.model} model recovers "
            f"{fmt.count(len(found))} of {fmt.count(len(t))} (significant at q < 0.05 in the "
            "planted direction)"
        )
        if len(found):
            text += ": " + "; ".join(
                f"{_label(r['column'])} ({self.ratio_name} {fmt.estimate(r['ratio'], 3)}, "
                f"{fmt.p_value(r['q_value'], 'q')})"
                for _, r in found.iterrows()
            )
        if len(missed):
            text += ". Missed: " + "; ".join(
                f"{d.replace('_', ' ')} ("
                + (
                    "not in the model"
                    if pd.isna(r["ratio"])
                    else f"{self.ratio_name} {fmt.estimate(r['ratio'], 3)}, {fmt.p_value(r['q_value'], 'q')}"
                )
                + ")"
                for d, r in missed.iterrows()
            )
        alarms = ", ".join(_label(c) for c in self.false_alarms) or "none"
        return (
            text + f". Significant criteria that were not planted: {alarms}. Sizes are not "
            "comparable: the planted effects act on latent traits, the model sees noisy "
            "scores of them."
        )


_OBSERVED = (
    (re.compile(r"assessments\.criterion\s*==\s*'(\w+)'"), "score_{0}"),
    (re.compile(r"interactions\.kind\s*==\s*'nps'"), "nps"),
    (re.compile(r"interactions\.kind\s*==\s*'support_ticket'"), "cost_to_serve"),
)


def _observed(column: str) -> str:
    if not column:
        return "nothing in the data"
    if column.startswith("score_"):
        return f"the assessed criterion '{_label(column)}'"
    return "the latest NPS" if column == "nps" else f"'{column}'"


def _column_of(observed: str) -> str:
    for pattern, column in _OBSERVED:
        match = pattern.search(observed or "")
        if match:
            return column.format(*match.groups())
    return ""


def compare_with_truth(effects: ChurnEffects, data_dir, q_threshold: float = 0.05) -> TruthCheck:
    """Compare the estimated criteria effects with the churn drivers planted in a synthetic
    portfolio (the ``truth.json`` that :func:`kamlab.synth.write_synthetic` writes beside the
    data).

    A planted driver is *recovered* when the column that observes it is significant
    (``q_value < q_threshold``) with the planted sign (a negative planted coefficient is a
    ratio below 1). Real data have no ``truth.json``: the result is then skipped, with the
    reason.

    Examples
    --------
    >>> import tempfile
    >>> folder = Path(tempfile.mkdtemp())
    >>> _ = (folder / "truth.json").write_text(json.dumps({
    ...     "churn_drivers": ["satisfaction"],
    ...     "churn": {"coefficients": {"satisfaction": -0.6, "reputation": 0.0}},
    ...     "observed_as": {"satisfaction": "interactions.kind == 'nps' (0-10)"}}))
    >>> table = pd.DataFrame({"ratio": [0.5, 1.4], "q_value": [0.001, 0.02]},
    ...                      index=pd.Index(["nps", "score_reputation"], name="covariate"))
    >>> effects = ChurnEffects(table, "Cox", "hazard ratio", 200, 40, 0, "", (), None, 365, None)
    >>> check = compare_with_truth(effects, folder)
    >>> check.table[["column", "recovered"]]
                   column  recovered
    driver
    satisfaction      nps       True
    >>> check.false_alarms
    ('score_reputation',)
    >>> compare_with_truth(effects, tempfile.mkdtemp()).skipped
    'there is no truth.json in the data folder (real data have no planted answer)'
    """
    path = Path(data_dir) / "truth.json"
    if not path.is_file():
        return TruthCheck(
            pd.DataFrame(),
            (),
            effects.model,
            effects.ratio_name,
            "there is no truth.json in the data folder (real data have no planted answer)",
        )
    if effects.skipped:
        return TruthCheck(pd.DataFrame(), (), effects.model, effects.ratio_name, effects.skipped)
    truth = json.loads(path.read_text(encoding="utf-8"))
    drivers = list(truth.get("churn_drivers", []))
    if not drivers:
        return TruthCheck(
            pd.DataFrame(),
            (),
            effects.model,
            effects.ratio_name,
            f"{path.name} plants no churn drivers",
        )
    coefficients = truth.get("churn", {}).get("coefficients", {})
    observed = truth.get("observed_as", {})
    columns = [_column_of(observed.get(d, "")) for d in drivers]
    estimates = effects.table.reindex([c or "-" for c in columns])
    planted = np.array([float(coefficients.get(d, np.nan)) for d in drivers])
    ratio = estimates["ratio"].to_numpy(float)
    q = estimates["q_value"].to_numpy(float)
    with np.errstate(invalid="ignore", divide="ignore"):
        recovered = (q < q_threshold) & (np.sign(np.log(ratio)) == np.sign(planted))
    table = pd.DataFrame(
        {
            "column": columns,
            "planted": planted,
            "ratio": ratio,
            "q_value": q,
            "recovered": recovered,
        },
        index=pd.Index(drivers, name="driver"),
    )
    significant = effects.table.index[effects.table["q_value"] < q_threshold]
    alarms = tuple(c for c in significant if c not in set(columns))
    return TruthCheck(table, alarms, effects.model, effects.ratio_name, None)
