"""Predicting growth out of time: models, time-split validation, permutation importance, and
a learned scorer that competes with the rule sets.

The horizon rule: a training cutoff's outcomes cover ``[cutoff, cutoff + horizon_days)``, so a
model applied at cutoff ``c`` may only learn from cutoffs with ``cutoff + horizon_days <= c``.
Every function that trains enforces it; rows are never split at random across time. Every
function takes its cutoffs as arguments (a feature panel over them, or a rule that gives the
training cutoffs of a date such as :meth:`kamlab.timeline.Timeline.training_cutoffs`).

scikit-learn fits on a few thousand rows run single-threaded
(:func:`kamlab._threads.limit_threads`).
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy import stats

from kamlab._threads import limit_threads
from kamlab.growth.inference import _finite, _is_binary
from kamlab.timeline import InsufficientHistory

__all__ = [
    "CrossValidation",
    "Importance",
    "InsufficientHistory",
    "LearnedScorer",
    "OutOfTime",
    "expected_gain",
    "make_model",
    "out_of_time",
    "permutation_importance_table",
    "time_split_cv",
]

#: Largest symmetric growth turned into a revenue gain (future = 99 × base); growth_dh → 2
#: would mean an infinite ratio.
MAX_GROWTH_DH = 1.98


def make_model(kind: str = "ridge", task: str = "regression", random_state: int = 0):
    """A scikit-learn pipeline for growth prediction.

    ``kind="ridge"``: median imputation (with missing-value indicators), scaling, then
    ``RidgeCV`` (regression) or L2 ``LogisticRegressionCV`` (classification).
    ``kind="hgb"``: ``HistGradientBoosting*`` (handles missing values natively), a fixed,
    deliberately conservative configuration without early stopping (deterministic under
    ``random_state``).

    Examples
    --------
    >>> make_model("ridge").steps[-1][0]
    'ridgecv'
    """
    from sklearn.ensemble import HistGradientBoostingClassifier, HistGradientBoostingRegressor
    from sklearn.impute import SimpleImputer
    from sklearn.linear_model import LogisticRegressionCV, RidgeCV
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    if task not in ("regression", "classification"):
        raise ValueError(f"task must be 'regression' or 'classification', not {task!r}")
    if kind == "ridge":
        if task == "regression":
            est = RidgeCV(alphas=np.logspace(-2, 4, 25))
        else:
            # Plain L2; newer scikit-learn wants this said explicitly (no FutureWarning).
            accepted = inspect.signature(LogisticRegressionCV).parameters
            extra = {
                k: v
                for k, v in (("l1_ratios", (0.0,)), ("use_legacy_attributes", False))
                if k in accepted
            }
            est = LogisticRegressionCV(
                Cs=np.logspace(-3, 2, 11), cv=5, scoring="roc_auc", max_iter=2000, **extra
            )
        return make_pipeline(
            SimpleImputer(strategy="median", add_indicator=True, keep_empty_features=True),
            StandardScaler(),
            est,
        )
    if kind == "hgb":
        params = dict(
            max_iter=150,
            learning_rate=0.05,
            max_leaf_nodes=8,
            min_samples_leaf=20,
            l2_regularization=1.0,
            early_stopping=False,
            random_state=random_state,
        )
        est = (
            HistGradientBoostingRegressor(**params)
            if task == "regression"
            else HistGradientBoostingClassifier(**params)
        )
        return make_pipeline(est)
    raise ValueError(f"kind must be 'ridge' or 'hgb', not {kind!r}")


def _fit_model(kind: str, X: pd.DataFrame, y: pd.Series, random_state: int):
    """Fit :func:`make_model` on the columns of ``X`` with at least one observed value;
    returns the estimator, the task and the columns used.

    The estimator sees plain float arrays (the columns used are returned): scikit-learn
    checks a DataFrame's columns on every call, which made the permutation importance's
    hundreds of predictions cost more than the model.
    """
    cols = [c for c in X.columns if X[c].notna().any()]
    if not cols:
        raise ValueError("every feature is missing in the training rows")
    task = "classification" if _is_binary(y) else "regression"
    with limit_threads(len(y)):
        est = make_model(kind, task, random_state).fit(_matrix(X[cols]), y.to_numpy())
    return est, task, cols


def _matrix(X: pd.DataFrame) -> np.ndarray:
    """``X`` as a float array, missing values as NaN."""
    return X.to_numpy(dtype=float, na_value=np.nan)


def _predict(est, task: str, X: pd.DataFrame) -> np.ndarray:
    with limit_threads(len(X)):
        values = _matrix(X)
        return est.predict(values) if task == "regression" else est.predict_proba(values)[:, 1]


def _xy(frame: pd.DataFrame, feature_columns: Sequence[str], outcome: str):
    ok = _finite(frame, [outcome])
    X = frame.loc[ok, list(feature_columns)].astype(float).replace([np.inf, -np.inf], np.nan)
    y = frame.loc[ok, outcome]
    y = y.astype(int) if _is_binary(y) else y.astype(float)
    return X, y, int((~ok).sum())


def _train_cutoffs(cutoffs, test_cutoff, horizon_days) -> list[pd.Timestamp]:
    return [c for c in cutoffs if c + pd.Timedelta(days=horizon_days) <= test_cutoff]


def _panel_cutoffs(panel: pd.DataFrame, cutoffs=None) -> list[pd.Timestamp]:
    present = pd.DatetimeIndex(panel.index.get_level_values("cutoff").unique())
    chosen = present if cutoffs is None else pd.DatetimeIndex(pd.to_datetime(list(cutoffs)))
    absent = chosen.difference(present)
    if len(absent):
        raise ValueError(f"cutoffs not in the panel: {[d.date().isoformat() for d in absent]}")
    return sorted(chosen)


def _rows_at(panel: pd.DataFrame, cutoffs) -> pd.DataFrame:
    return panel.loc[panel.index.get_level_values("cutoff").isin(list(cutoffs))]


@dataclass(frozen=True)
class CrossValidation:
    """Out-of-time validation (:func:`time_split_cv`).

    Attributes
    ----------
    table : pandas.DataFrame
        One row per (model, test cutoff): ``model``, ``test_cutoff``, ``train_cutoffs``
        (``first..last (count)``), ``n_train``, ``n_test``, and ``r2`` and ``spearman``
        (regression) or ``auc`` (classification).
    outcome : str
    horizon_days : int
    dropped_missing_outcome : int
        Panel rows without the outcome (left out of training and testing).
    """

    table: pd.DataFrame
    outcome: str
    horizon_days: int
    dropped_missing_outcome: int


def time_split_cv(
    panel: pd.DataFrame,
    cutoffs: Sequence | None = None,
    *,
    feature_columns: Sequence[str],
    outcome: str = "growth_dh",
    horizon_days: int = 365,
    models: Sequence[str] = ("ridge", "hgb"),
    random_state: int = 0,
) -> CrossValidation:
    """Expanding-window validation over cutoffs: train on earlier cutoffs, test on the next.

    For each test cutoff the training set is every earlier cutoff whose outcomes were fully
    observed by then (``cutoff_train + horizon_days <= cutoff_test``); cutoffs with no such
    earlier cutoff are not tested.

    Parameters
    ----------
    panel : pandas.DataFrame
        From :func:`kamlab.features.feature_panel`, indexed by ``(cutoff, account_id)``.
    cutoffs : sequence of date-like, optional
        The cutoffs to use (default: all in the panel).
    feature_columns, outcome : column names
        Predictors and target (binary target → classifiers and AUC).
    horizon_days : int
        Outcome horizon in days the panel was built with.
    models : sequence of {"ridge", "hgb"}
    random_state : int

    Returns
    -------
    CrossValidation

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> index = pd.MultiIndex.from_product(
    ...     [pd.to_datetime(["2022-01-01", "2023-01-01"]), range(100)],
    ...     names=["cutoff", "account_id"])
    >>> panel = pd.DataFrame({"x": rng.normal(size=200)}, index=index)
    >>> panel["growth_dh"] = panel["x"] + rng.normal(size=200)
    >>> cv = time_split_cv(panel, feature_columns=["x"], models=("ridge",))
    >>> cv.table[["test_cutoff", "n_train", "n_test"]]
      test_cutoff  n_train  n_test
    0  2023-01-01      100     100
    """
    from sklearn.metrics import r2_score, roc_auc_score

    cuts = _panel_cutoffs(panel, cutoffs)
    rows, dropped = [], 0
    for test in cuts:
        train = _train_cutoffs(cuts, test, horizon_days)
        if not train:
            continue
        X_tr, y_tr, d1 = _xy(_rows_at(panel, train), feature_columns, outcome)
        X_te, y_te, d2 = _xy(panel.xs(test, level="cutoff"), feature_columns, outcome)
        dropped += d1 + d2
        for kind in models:
            est, task, used = _fit_model(kind, X_tr, y_tr, random_state)
            pred = _predict(est, task, X_te[used])
            row = {
                "model": kind,
                "test_cutoff": test.date().isoformat(),
                "train_cutoffs": f"{train[0].date()}..{train[-1].date()} ({len(train)})",
                "n_train": len(y_tr),
                "n_test": len(y_te),
            }
            if task == "regression":
                row["r2"] = r2_score(y_te, pred)
                row["spearman"] = stats.spearmanr(pred, y_te).statistic
            else:
                row["auc"] = roc_auc_score(y_te, pred)
            rows.append(row)
    if not rows:
        raise InsufficientHistory(
            f"no test cutoff has an earlier cutoff at least {horizon_days} days before "
            "it (training outcomes must be observed before the test cutoff); use "
            "more or earlier cutoffs"
        )
    return CrossValidation(pd.DataFrame(rows), outcome, horizon_days, dropped)


@dataclass(frozen=True)
class Importance:
    """Permutation importance on a held-out cutoff (:func:`permutation_importance_table`).

    Attributes
    ----------
    table : pandas.DataFrame
        Index = feature, by decreasing importance: ``importance`` (mean drop in score),
        ``std``, ``ci_low`` / ``ci_high`` (2.5 % and 97.5 % of the repeats: the shuffling
        variability on this test set, not the model's sampling variability); features with no
        observed value in the training rows were not used and come last with NaN.
    test_cutoff : str
    train_cutoffs : tuple of str
    scoring : str
        ``r2`` or ``roc_auc``.
    model : str
    test_score : float
        The unshuffled score on the test cutoff.
    n_test : int
    """

    table: pd.DataFrame
    test_cutoff: str
    train_cutoffs: tuple[str, ...]
    scoring: str
    model: str
    test_score: float
    n_test: int


def permutation_importance_table(
    panel: pd.DataFrame,
    *,
    feature_columns: Sequence[str],
    outcome: str = "growth_dh",
    test_cutoff=None,
    horizon_days: int = 365,
    model: str = "ridge",
    n_repeats: int = 30,
    random_state: int = 0,
) -> Importance:
    """Permutation importance of each feature on a held-out cutoff.

    The model is trained on every cutoff with ``cutoff + horizon_days <= test_cutoff`` and
    scored (R² for a continuous outcome, ROC-AUC for a binary one) on the test cutoff (default
    the panel's last), with each feature shuffled ``n_repeats`` times
    (``sklearn.inspection.permutation_importance``).

    Returns
    -------
    Importance

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> index = pd.MultiIndex.from_product(
    ...     [pd.to_datetime(["2022-01-01", "2023-01-01"]), range(100)],
    ...     names=["cutoff", "account_id"])
    >>> panel = pd.DataFrame(rng.normal(size=(200, 2)), columns=["x", "noise"], index=index)
    >>> panel["growth_dh"] = panel["x"] + 0.5 * rng.normal(size=200)
    >>> imp = permutation_importance_table(panel, feature_columns=["x", "noise"], n_repeats=5)
    >>> imp.table.index.tolist(), imp.test_cutoff
    (['x', 'noise'], '2023-01-01')
    """
    from sklearn.inspection import permutation_importance
    from sklearn.metrics import check_scoring

    cuts = _panel_cutoffs(panel)
    test = pd.Timestamp(test_cutoff) if test_cutoff is not None else cuts[-1]
    train = _train_cutoffs(cuts, test, horizon_days)
    if not train:
        raise InsufficientHistory(
            f"no cutoff in the panel is at least {horizon_days} days before the test "
            f"cutoff {test.date()}"
        )
    X_tr, y_tr, _ = _xy(_rows_at(panel, train), feature_columns, outcome)
    X_te, y_te, _ = _xy(panel.xs(test, level="cutoff"), feature_columns, outcome)
    est, task, used = _fit_model(model, X_tr, y_tr, random_state)
    X_te = X_te[used]
    scoring = "r2" if task == "regression" else "roc_auc"
    with limit_threads(len(X_te)):
        X_te, y_te = _matrix(X_te), y_te.to_numpy()
        reps = permutation_importance(
            est, X_te, y_te, scoring=scoring, n_repeats=n_repeats, random_state=random_state
        ).importances
        test_score = float(check_scoring(est, scoring=scoring)(est, X_te, y_te))
    table = pd.DataFrame(
        {
            "importance": reps.mean(axis=1),
            "std": reps.std(axis=1),
            "ci_low": np.percentile(reps, 2.5, axis=1),
            "ci_high": np.percentile(reps, 97.5, axis=1),
        },
        index=pd.Index(used, name="feature"),
    )
    table = table.sort_values("importance", ascending=False, kind="stable")
    table = table.reindex(table.index.tolist() + [c for c in feature_columns if c not in used])
    return Importance(
        table=table,
        test_cutoff=test.date().isoformat(),
        train_cutoffs=tuple(c.date().isoformat() for c in train),
        scoring=scoring,
        model=model,
        test_score=test_score,
        n_test=len(y_te),
    )


@dataclass(frozen=True)
class OutOfTime:
    """Out-of-time prediction of growth (:func:`out_of_time`): the validation, the permutation
    importance on the latest test cutoff, or the reason both were skipped.

    Attributes
    ----------
    cv : CrossValidation or None
    importance : Importance or None
    cutoffs : tuple of str
        The cutoffs offered (ISO dates).
    skipped : str or None
        Why nothing was validated (too little history), else None.
    """

    cv: CrossValidation | None
    importance: Importance | None
    cutoffs: tuple[str, ...]
    skipped: str | None = None

    @property
    def table(self) -> pd.DataFrame:
        """The validation table (:attr:`CrossValidation.table`); empty when skipped."""
        if self.cv is None:
            columns = ["model", "test_cutoff", "train_cutoffs", "n_train", "n_test"]
            return pd.DataFrame(columns=columns)
        return self.cv.table


def out_of_time(
    panel: pd.DataFrame,
    cutoffs: Sequence,
    *,
    feature_columns: Sequence[str],
    outcome: str = "growth_dh",
    horizon_days: int = 365,
    models: Sequence[str] = ("ridge", "hgb"),
    importance_model: str = "ridge",
    n_repeats: int = 20,
    random_state: int = 0,
) -> OutOfTime:
    """:func:`time_split_cv` over ``cutoffs`` and :func:`permutation_importance_table` on the
    latest of them, or the reason they cannot be run.

    Short data have no pair of cutoffs ``horizon_days`` apart; then the result carries the
    reason in :attr:`OutOfTime.skipped` instead of raising, so a report can say what it
    skipped and why.

    Parameters
    ----------
    panel : pandas.DataFrame
        A feature panel holding every cutoff in ``cutoffs``.
    cutoffs : sequence of date-like
        The cutoffs to validate on, e.g. :meth:`kamlab.timeline.Timeline.training_cutoffs`.

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> index = pd.MultiIndex.from_product(
    ...     [pd.to_datetime(["2022-01-01", "2023-01-01"]), range(100)],
    ...     names=["cutoff", "account_id"])
    >>> panel = pd.DataFrame({"x": rng.normal(size=200)}, index=index)
    >>> panel["growth_dh"] = panel["x"] + rng.normal(size=200)
    >>> result = out_of_time(panel, ["2022-01-01", "2023-01-01"], feature_columns=["x"],
    ...                      models=("ridge",), n_repeats=5)
    >>> result.skipped, result.importance.test_cutoff
    (None, '2023-01-01')
    >>> out_of_time(panel, ["2023-01-01"], feature_columns=["x"]).skipped
    'no cutoff has an earlier one at least 365 days before it, so no model can learn from growth observed in full before the cutoff it is tested on'
    """
    cuts = tuple(pd.Timestamp(c).date().isoformat() for c in sorted(cutoffs))
    if not cuts:
        return OutOfTime(None, None, cuts, "no cutoff with a complete outcome window")
    rows = _rows_at(panel, _panel_cutoffs(panel, cutoffs))
    try:
        cv = time_split_cv(
            rows,
            feature_columns=feature_columns,
            outcome=outcome,
            horizon_days=horizon_days,
            models=models,
            random_state=random_state,
        )
    except InsufficientHistory:
        return OutOfTime(
            None,
            None,
            cuts,
            f"no cutoff has an earlier one at least {horizon_days} days before it, so no model "
            "can learn from growth observed in full before the cutoff it is tested on",
        )
    importance = permutation_importance_table(
        rows,
        feature_columns=feature_columns,
        outcome=outcome,
        horizon_days=horizon_days,
        model=importance_model,
        n_repeats=n_repeats,
        random_state=random_state,
    )
    return OutOfTime(cv, importance, cuts)


def expected_gain(
    predicted_growth: pd.Series, base_revenue: pd.Series, *, outcome: str = "growth_dh"
) -> pd.Series:
    """The expected absolute revenue gain over the horizon implied by a predicted growth.

    ``growth_dh`` (symmetric growth ``(F − B) / ((F + B) / 2)``) gives ``F = B (2 + g) /
    (2 − g)``, a gain of ``B · 2g / (2 − g)``; predictions are clipped to [−2, 1.98] (a
    hundredfold at most). ``log_growth`` gives ``B (exp(g) − 1)``. ``B`` is the revenue of
    the base window (the ``horizon_days`` before the cutoff); an account without positive
    base revenue has no relative growth to convert, so its gain is NaN.

    Examples
    --------
    >>> expected_gain(pd.Series([0.5, -2.0, 1.0]), pd.Series([1200.0, 500.0, 0.0])).tolist()
    [800.0, -500.0, nan]
    """
    g = pd.to_numeric(predicted_growth, errors="coerce").astype(float)
    base = pd.to_numeric(base_revenue, errors="coerce").astype(float).reindex(g.index)
    if outcome == "growth_dh":
        g = g.clip(-2.0, MAX_GROWTH_DH)
        gain = base * 2 * g / (2 - g)
    elif outcome == "log_growth":
        gain = base * np.expm1(g)
    else:
        raise ValueError(f"outcome must be 'growth_dh' or 'log_growth', not {outcome!r}")
    return gain.where(base > 0).rename("expected_gain")


@dataclass(frozen=True)
class LearnedScorer:
    """A growth model refitted at every cutoff on earlier cutoffs only: the learned competitor
    of the rule sets in :func:`kamlab.growth.backtest`, and the source of growth candidates in
    :func:`kamlab.review.model_additions`.

    Parameters
    ----------
    feature_columns : sequence of str
        Predictors (columns of the feature table).
    training_cutoffs : callable
        ``training_cutoffs(cutoff)`` → the dates a model applied at ``cutoff`` learns from,
        e.g. :meth:`kamlab.timeline.Timeline.training_cutoffs`. Each must satisfy the horizon
        rule (``date + horizon_days <= cutoff``); a date on or before the data's first day has
        no history and is not used.
    outcome : str
        Target (``growth_dh`` by default; a binary target gives probabilities).
    model : {"ridge", "hgb"}
    horizon_days : int
        Outcome window of the training panel.
    growth_threshold : float
        Threshold of the ``grew`` outcome when the scorer builds its own panel.
    min_train : int
        Fewest training rows; fewer raise :class:`InsufficientHistory`.
    random_state : int

    Examples
    --------
    >>> scorer = LearnedScorer(["x"], lambda c: [c - pd.Timedelta(days=365)])
    >>> [d.date().isoformat() for d in scorer.training_dates("2024-01-01")]
    ['2023-01-01']
    """

    feature_columns: Sequence[str]
    training_cutoffs: Callable[[pd.Timestamp], Sequence]
    outcome: str = "growth_dh"
    model: str = "ridge"
    horizon_days: int = 365
    growth_threshold: float = 0.10
    min_train: int = 50
    random_state: int = 0

    def training_dates(self, cutoff, start=None) -> list[pd.Timestamp]:
        """The training cutoffs at ``cutoff`` (after ``start``, the data's first day, when
        given), oldest first; a ``ValueError`` when one breaks the horizon rule."""
        cutoff = pd.Timestamp(cutoff)
        dates = sorted({pd.Timestamp(d) for d in self.training_cutoffs(cutoff)})
        late = [d for d in dates if d + pd.Timedelta(days=self.horizon_days) > cutoff]
        if late:
            raise ValueError(
                f"training cutoffs {[d.date().isoformat() for d in late]} have outcomes "
                f"({self.horizon_days} days) that end after the cutoff {cutoff.date()}"
            )
        return [d for d in dates if start is None or d > pd.Timestamp(start)]

    def score(self, features: pd.DataFrame, cutoff, *, dataset=None, panel=None) -> pd.Series:
        """Fit on the training cutoffs of ``cutoff`` and predict for ``features``.

        Parameters
        ----------
        features : pandas.DataFrame
            The accounts to score, with the feature columns measured before ``cutoff``.
        cutoff : date-like
        dataset : Dataset, optional
            Builds the training panel (:func:`kamlab.features.feature_panel`) when ``panel``
            is not given, and bounds the training dates by its first day.
        panel : pandas.DataFrame, optional
            A feature panel holding every training date (built with the same horizon).

        Returns
        -------
        pandas.Series
            Predictions (probabilities for a binary outcome) indexed like ``features``.

        Raises
        ------
        InsufficientHistory
            No training date, or fewer than ``min_train`` training rows.
        """
        cutoff = pd.Timestamp(cutoff)
        dates = self.training_dates(cutoff, None if dataset is None else dataset.start)
        if not dates:
            raise InsufficientHistory(
                f"no training cutoff {self.horizon_days} days before {cutoff.date()} "
                f"within the data"
            )
        if panel is None:
            if dataset is None:
                raise ValueError("pass the dataset or a panel holding the training cutoffs")
            from kamlab.features import feature_panel

            panel = feature_panel(
                dataset, dates, self.horizon_days, growth_threshold=self.growth_threshold
            )
        else:
            _panel_cutoffs(panel, dates)
        X, y, _ = _xy(_rows_at(panel, dates), self.feature_columns, self.outcome)
        if len(y) < self.min_train or y.nunique() < 2:
            raise InsufficientHistory(f"only {len(y)} training rows before {cutoff.date()}")
        est, task, used = _fit_model(self.model, X, y, self.random_state)
        Xc = features[used].astype(float).replace([np.inf, -np.inf], np.nan)
        return pd.Series(_predict(est, task, Xc), index=features.index, name="score")
