"""The run's churn risk: one recipe, one date, one list for every report.

Notebook 05 (churn), notebook 07 (the review) and the action list all need "how likely is each
account to stop buying within the horizon, and why". :func:`churn_risk` is the one recipe:

1. a calibrated logistic classifier on every numeric as-of feature, trained on the quarterly
   cutoffs whose churn window closed by the review date (``timeline.training_cutoffs``);
2. applied to the features as of ``timeline.as_of``: a probability per active account, its
   main driver (the feature that pushes its log-odds up the most) and a flag at ``factor``
   times the training churn rate;
3. checked first: the same recipe trained only on cutoffs whose windows closed by
   ``timeline.outcome_cutoff`` and tested on the accounts at that cutoff, where the outcome is
   known (ROC-AUC, Brier skill), so a report can say whether to trust the ranking.

Only data before each date are used for it. With too little history the result says what was
skipped and why instead of failing.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import pandas as pd

from kamlab import fmt
from kamlab.churn.classifier import ChurnClassifier, churn_scores

__all__ = ["MIN_CLASS_ROWS", "ChurnRisk", "churn_risk"]

#: Fewest churned (and fewest retained) training rows a classifier is fitted on.
MIN_CLASS_ROWS = 5


@dataclass(frozen=True)
class ChurnRisk:
    """Churn risk per active account as of the review (:func:`churn_risk`).

    Attributes
    ----------
    table : pandas.DataFrame
        Indexed by ``account_id`` (the accounts active at ``as_of``), highest risk first:
        ``churn_probability`` (of no purchase, or a recorded churn, within ``horizon_days``),
        ``relative_risk`` (probability / base rate), ``churn_driver`` (the feature that raises
        the account's risk most, with its contribution to the log-odds) and ``at_risk``.
        Empty when ``skipped``.
    as_of : Timestamp
    horizon_days : int
    base_rate : float
        Churn rate of the training rows.
    factor : float
        ``at_risk`` is ``churn_probability >= threshold``, with ``threshold`` the smaller of
        ``factor * base_rate`` and halfway from the base rate to certainty (so a portfolio
        where most accounts churn still has a reachable threshold).
    training_cutoffs : tuple of Timestamp
    feature_columns : tuple of str
    check : pandas.Series or None
        :func:`kamlab.churn.churn_scores` of the recipe tested at ``check_cutoff`` (trained
        only on earlier windows); None when there is no such test.
    check_cutoff : Timestamp or None
    skipped : str or None
        Why no probabilities were computed.
    check_predictions : pandas.DataFrame or None
        The out-of-time check per account at ``check_cutoff``: ``churned`` (observed) and
        ``churn_probability`` (predicted), e.g. for
        :func:`kamlab.churn.reliability_table`; None without a check.
    """

    table: pd.DataFrame
    as_of: pd.Timestamp
    horizon_days: int
    base_rate: float
    factor: float
    training_cutoffs: tuple[pd.Timestamp, ...]
    feature_columns: tuple[str, ...]
    check: pd.Series | None
    check_cutoff: pd.Timestamp | None
    skipped: str | None
    check_predictions: pd.DataFrame | None = None

    @property
    def threshold(self) -> float:
        """The churn probability from which an account is at risk."""
        return min(self.factor * self.base_rate, (1 + self.base_rate) / 2)

    @property
    def flagged(self) -> pd.DataFrame:
        return self.table[self.table["at_risk"]] if len(self.table) else self.table

    def trusted(self) -> bool:
        """Whether the out-of-time check ranks well enough to act on (ROC-AUC ≥ 0.7 and a
        positive Brier skill)."""
        return bool(
            self.check is not None
            and self.check["roc_auc"] >= 0.7
            and self.check["brier_skill"] > 0
        )

    def describe_check(self) -> str:
        """Can the ranking be trusted? (Markdown)"""
        if self.skipped:
            return f"Churn risk was not computed: {self.skipped}."
        if self.check is None:
            return (
                f"No cutoff before {self.as_of.date()} leaves room for an out-of-time test "
                f"of the churn model, so treat its ranking as a prompt for conversations, "
                f"not a forecast."
            )
        c = self.check
        verdict = (
            "good enough to rank accounts"
            if self.trusted()
            else "weak, so read the list as prompts for a conversation, not a forecast"
        )
        return (
            f"Tested where the outcome is known: trained on windows that closed by "
            f"{self.check_cutoff.date()} and applied to the {fmt.count(c['n'])} accounts at that "
            f"date ({fmt.share(c['base_rate'])} churned), the model reaches ROC-AUC "
            f"{fmt.estimate(c['roc_auc'], 2)} (0.5 = chance, 1 = perfect ranking) and a Brier "
            f"skill of {fmt.signed(c['brier_skill'] * 100, 2)} % against predicting the churn "
            f"rate for everyone: {verdict}."
        )

    def describe(self, tiers: pd.Series | None = None) -> str:
        """The at-risk answer (Markdown); ``tiers`` (account → tier) limits the flags to key
        and strategic accounts, as a review does."""
        if self.skipped:
            return f"Churn risk was not computed: {self.skipped}."
        scoped = self.table
        scope = "accounts"
        if tiers is not None:
            key = tiers.reindex(scoped.index).astype(str).isin(["key", "strategic"])
            scoped = scoped[key.to_numpy()]
            scope = "key or strategic accounts"
        flagged = scoped[scoped["at_risk"].astype(bool)]
        shown = flagged if len(flagged) else scoped
        top = ", ".join(
            f"{i} ({fmt.share(p)})" for i, p in shown["churn_probability"].head(3).items()
        )
        n_cutoffs = len(self.training_cutoffs)
        text = (
            f"As of {self.as_of.date()}, {fmt.count(len(flagged))} of {fmt.count(len(scoped))} "
            f"{scope} have a churn probability of {fmt.share(self.threshold)} or more, the "
            f"flag: {fmt.estimate(self.factor, 2)} times the training churn rate of "
            f"{fmt.share(self.base_rate)}, at most halfway to certainty (the model learned from "
            f"{fmt.count(n_cutoffs)} cutoff{'s' if n_cutoffs != 1 else ''}, the last "
            f"{self.training_cutoffs[-1].date()})."
        )
        if not top:
            return text
        return text + (f" Highest: {top}." if len(flagged) else f" The highest risks: {top}.")


def _skipped(timeline, reason: str, factor: float) -> ChurnRisk:
    empty = pd.DataFrame(columns=["churn_probability", "relative_risk", "churn_driver", "at_risk"])
    empty.index.name = "account_id"
    return ChurnRisk(
        empty,
        timeline.as_of,
        timeline.horizon_days,
        float("nan"),
        factor,
        (),
        (),
        None,
        None,
        reason,
    )


def _enough(labels: pd.Series) -> bool:
    return int(labels.sum()) >= MIN_CLASS_ROWS and int((~labels).sum()) >= MIN_CLASS_ROWS


def churn_risk(
    dataset,
    timeline,
    *,
    feature_columns: Sequence[str] | None = None,
    factor: float = 2.0,
    random_state: int = 0,
) -> ChurnRisk:
    """Churn probability, main driver and risk flag per active account as of
    ``timeline.as_of`` (see the module docstring for the recipe).

    Parameters
    ----------
    dataset : kamlab.data.Dataset
    timeline : kamlab.timeline.Timeline
    feature_columns : sequence of str, optional
        Predictors (default: every numeric as-of feature).
    factor : float
        An account is at risk at ``factor`` times the training churn rate.
    random_state : int
        Seeds the calibration folds.
    """
    from kamlab.features import OUTCOME_COLUMNS, account_features, feature_panel
    from kamlab.features import feature_columns as numeric_features

    cutoffs = timeline.training_cutoffs(timeline.as_of)
    if not cutoffs:
        return _skipped(
            timeline,
            f"no cutoff has a {timeline.horizon_days}-day churn window "
            f"that closed before {timeline.as_of.date()}",
            factor,
        )
    check_at = timeline.outcome_cutoff
    check_train = timeline.training_cutoffs(check_at) if check_at is not None else []
    wanted = sorted({*cutoffs, *check_train, *([check_at] if check_train else [])})
    panel = feature_panel(dataset, wanted, timeline.horizon_days)
    columns = list(feature_columns) if feature_columns is not None else numeric_features(panel)
    dates = panel.index.get_level_values("cutoff")
    train = panel[dates.isin(cutoffs)]
    labels = train["churned"].astype(bool)
    if not _enough(labels):
        return _skipped(
            timeline,
            f"the training cutoffs hold {int(labels.sum())} churned and "
            f"{int((~labels).sum())} retained accounts; at least {MIN_CLASS_ROWS} "
            f"of each are needed",
            factor,
        )
    model = ChurnClassifier("logistic", calibration="sigmoid", random_state=random_state)
    model.fit(train[columns], labels)
    now = account_features(dataset, timeline.as_of, timeline.horizon_days)
    now = now.drop(columns=[c for c in OUTCOME_COLUMNS if c in now])
    proba = pd.Series(model.predict_proba(now[columns])[:, 1], index=now.index)
    contributions = model.drivers(now[columns])
    top = contributions.idxmax(axis=1)
    size = contributions.max(axis=1)
    driver = [
        f"{name} {fmt.signed(value, 2)}" if value > 0 else "none above average"
        for name, value in zip(top, size)
    ]
    base_rate = float(labels.mean())
    table = pd.DataFrame(
        {
            "churn_probability": proba,
            "relative_risk": proba / base_rate,
            "churn_driver": driver,
            "at_risk": proba >= min(factor * base_rate, (1 + base_rate) / 2),
        }
    )
    from kamlab.tiers import order_accounts

    table = table.loc[order_accounts(table["churn_probability"])]
    table.index.name = "account_id"
    check = predictions = None
    if check_train:
        before = panel[dates.isin(check_train)]
        at = panel[dates == check_at]
        if _enough(before["churned"].astype(bool)) and len(at):
            trial = ChurnClassifier("logistic", calibration="sigmoid", random_state=random_state)
            trial.fit(before[columns], before["churned"].astype(bool))
            observed = at["churned"].astype(bool)
            predicted = trial.predict_proba(at[columns])[:, 1]
            check = churn_scores(observed, predicted)
            predictions = pd.DataFrame(
                {"churned": observed.to_numpy(), "churn_probability": predicted},
                index=at.index.get_level_values("account_id"),
            )
    return ChurnRisk(
        table,
        timeline.as_of,
        timeline.horizon_days,
        base_rate,
        float(factor),
        tuple(cutoffs),
        tuple(columns),
        check,
        check_at if check is not None else None,
        None,
        predictions,
    )
