"""A calibrated churn classifier and the measures that judge its probabilities.

:class:`ChurnClassifier` is impute → scale → model inside scikit-learn's
``CalibratedClassifierCV``; :func:`churn_scores` (Brier score and skill, ROC-AUC, log loss) and
:func:`reliability_table` judge the probabilities; :meth:`ChurnClassifier.drivers` says which
features push an account's risk up (logistic model). Fits on small data run single-threaded.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.calibration import CalibratedClassifierCV
from sklearn.ensemble import HistGradientBoostingClassifier
from sklearn.impute import SimpleImputer
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import brier_score_loss, log_loss, roc_auc_score
from sklearn.model_selection import StratifiedKFold
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from kamlab import fmt
from kamlab._plot import axes, finish
from kamlab._threads import limit_threads
from kamlab.churn.survival import wilson_interval

__all__ = [
    "ChurnClassifier",
    "check_reliability",
    "churn_scores",
    "describe_reliability",
    "plot_reliability",
    "reliability_table",
]


# ---------------------------------------------------------------------------------------------
# churn classifier
# ---------------------------------------------------------------------------------------------


class ChurnClassifier(ClassifierMixin, BaseEstimator):
    """Calibrated churn classifier: impute -> scale -> model, inside ``CalibratedClassifierCV``.

    Parameters
    ----------
    model : {"logistic", "hgb"}
        Logistic regression or histogram gradient boosting.
    calibration : {"isotonic", "sigmoid"}
        Calibration method.
    cv : int
        Folds (stratified, shuffled with ``random_state``) for calibration.
    C : float
        Inverse regularisation of the logistic regression.
    random_state : int
        Seed for the folds and the boosting model.
    """

    def __init__(
        self,
        model: str = "logistic",
        calibration: str = "isotonic",
        cv: int = 5,
        C: float = 1.0,
        random_state: int = 0,
    ):
        self.model = model
        self.calibration = calibration
        self.cv = cv
        self.C = C
        self.random_state = random_state

    def _pipeline(self):
        if self.model == "logistic":
            est = LogisticRegression(C=self.C, max_iter=2000)
        elif self.model == "hgb":
            est = HistGradientBoostingClassifier(random_state=self.random_state)
        else:
            raise ValueError(f"model must be 'logistic' or 'hgb', got {self.model!r}")
        return make_pipeline(
            SimpleImputer(strategy="median", keep_empty_features=True), StandardScaler(), est
        )

    def fit(self, X, y) -> ChurnClassifier:
        """Fit on features X (numeric; NaN imputed) and binary churn labels y."""
        if isinstance(X, pd.DataFrame):
            bad = [c for c in X.columns if not pd.api.types.is_numeric_dtype(X[c])]
            if bad:
                raise ValueError(f"ChurnClassifier needs numeric features; encode {bad} first")
        y_arr = np.asarray(y).ravel()
        if pd.isna(y_arr).any():
            raise ValueError("y contains missing values")
        if len(np.unique(y_arr)) != 2:
            raise ValueError("y must contain exactly two classes (churned / retained)")
        if self.calibration not in ("isotonic", "sigmoid"):
            raise ValueError("calibration must be 'isotonic' or 'sigmoid'")
        folds = StratifiedKFold(n_splits=self.cv, shuffle=True, random_state=self.random_state)
        self.calibrated_ = CalibratedClassifierCV(
            self._pipeline(), method=self.calibration, cv=folds
        )
        with limit_threads(len(y_arr)):
            self.calibrated_.fit(X, y_arr)
        self.classes_ = self.calibrated_.classes_
        if isinstance(X, pd.DataFrame):
            self.feature_names_in_ = np.asarray(X.columns, dtype=object)
        self.n_features_in_ = np.shape(X)[1]
        return self

    def predict_proba(self, X) -> np.ndarray:
        """Calibrated class probabilities, shape (n, 2); column 1 is ``classes_[1]``."""
        if not hasattr(self, "calibrated_"):
            raise RuntimeError("ChurnClassifier is not fitted; call fit() first")
        with limit_threads(len(X)):
            return self.calibrated_.predict_proba(X)

    def predict(self, X) -> np.ndarray:
        """Class labels at probability 0.5."""
        return self.classes_[(self.predict_proba(X)[:, 1] >= 0.5).astype(int)]

    def drivers(self, X: pd.DataFrame) -> pd.DataFrame:
        """Each feature's contribution to each account's log-odds of churning (logistic model
        only): coefficient × standardised value, averaged over the calibration folds' models.

        A positive contribution raises the account's risk above the average account's; the
        largest one is the account's main driver.
        """
        if self.model != "logistic":
            raise ValueError("drivers need model='logistic' (boosted trees have no coefficients)")
        if not hasattr(self, "calibrated_"):
            raise RuntimeError("ChurnClassifier is not fitted; call fit() first")
        total = np.zeros(np.shape(X), dtype=float)
        fitted = self.calibrated_.calibrated_classifiers_
        for member in fitted:
            pipe = member.estimator
            imputer, scaler, logit = pipe.steps[0][1], pipe.steps[1][1], pipe.steps[2][1]
            z = scaler.transform(imputer.transform(X))
            total += z * logit.coef_[0]
        names = list(X.columns) if isinstance(X, pd.DataFrame) else None
        index = X.index if isinstance(X, pd.DataFrame) else None
        return pd.DataFrame(total / len(fitted), index=index, columns=names)


def _binary_inputs(y_true, proba) -> tuple[np.ndarray, np.ndarray]:
    y = np.asarray(y_true).ravel().astype(float)
    p = np.asarray(proba, dtype=float)
    if p.ndim == 2:
        p = p[:, 1]
    p = p.ravel()
    if len(y) != len(p):
        raise ValueError(f"y_true and proba differ in length: {len(y)}, {len(p)}")
    if not np.all(np.isin(y, (0.0, 1.0))):
        raise ValueError("y_true must be 0/1")
    if not np.all((p >= 0) & (p <= 1)):
        raise ValueError("proba must lie in [0, 1]")
    return y, p


def churn_scores(y_true, proba) -> pd.Series:
    """Probability-quality scores for binary churn predictions.

    Returns
    -------
    Series
        n, base_rate, brier, brier_baseline (Brier of always predicting the base rate),
        brier_skill (1 - brier / brier_baseline), roc_auc, log_loss.
    """
    y, p = _binary_inputs(y_true, proba)
    base = float(y.mean())
    brier = float(brier_score_loss(y, p))
    baseline = base * (1.0 - base)
    two = len(np.unique(y)) == 2
    return pd.Series(
        {
            "n": float(len(y)),
            "base_rate": base,
            "brier": brier,
            "brier_baseline": baseline,
            "brier_skill": 1.0 - brier / baseline if baseline > 0 else np.nan,
            "roc_auc": float(roc_auc_score(y, p)) if two else np.nan,
            "log_loss": float(log_loss(y, np.clip(p, 1e-15, 1 - 1e-15), labels=[0, 1])),
        }
    )


def reliability_table(
    y_true, proba, n_bins: int = 10, *, strategy: str = "uniform"
) -> pd.DataFrame:
    """Observed churn rate against mean predicted probability, bin by bin.

    Parameters
    ----------
    y_true, proba : array-like
        Observed churn (0/1) and predicted probabilities.
    n_bins : int
        Number of bins.
    strategy : {"uniform", "quantile"}
        Equal-width bins on [0, 1], or bins holding about equally many accounts (edges at the
        quantiles of ``proba``; better when the probabilities span a narrow range).

    Returns
    -------
    DataFrame
        One row per non-empty bin: bin_low, bin_high, n, mean_predicted, observed_rate and a
        95 % Wilson interval (ci_low, ci_high) of the observed rate.

    Examples
    --------
    >>> table = reliability_table([0, 0, 1, 0, 1, 1], [0.1, 0.2, 0.25, 0.3, 0.6, 0.7], n_bins=2,
    ...                           strategy="quantile")
    >>> table[["bin_low", "bin_high", "n", "observed_rate"]].round(3)
       bin_low  bin_high  n  observed_rate
    0    0.100     0.275  3          0.333
    1    0.275     0.700  3          0.667
    """
    y, p = _binary_inputs(y_true, proba)
    if n_bins < 1:
        raise ValueError("n_bins must be >= 1")
    if strategy == "uniform":
        edges = np.linspace(0.0, 1.0, n_bins + 1)
    elif strategy == "quantile":
        edges = np.unique(np.quantile(p, np.linspace(0.0, 1.0, n_bins + 1)))
        if len(edges) < 2:
            edges = np.array([edges[0], edges[0]])
    else:
        raise ValueError(f"strategy must be 'uniform' or 'quantile', got {strategy!r}")
    last = len(edges) - 2
    idx = np.clip(np.digitize(p, edges[1:-1], right=False), 0, last)
    df = pd.DataFrame({"bin": idx, "p": p, "y": y})
    g = df.groupby("bin")
    n = g.size()
    obs = g["y"].mean()
    low, high = wilson_interval(g["y"].sum(), n)
    out = pd.DataFrame(
        {
            "bin_low": edges[n.index],
            "bin_high": edges[n.index + 1],
            "n": n.to_numpy(),
            "mean_predicted": g["p"].mean().to_numpy(),
            "observed_rate": obs.to_numpy(),
            "ci_low": low.to_numpy(),
            "ci_high": high.to_numpy(),
        }
    )
    return out.reset_index(drop=True)


def check_reliability(risk, n_bins: int = 5) -> pd.DataFrame | None:
    """:func:`reliability_table` of a churn-risk check (:func:`kamlab.churn.churn_risk`'s
    ``check_predictions``), in ``n_bins`` groups of about equally many accounts; None when
    the recipe had no out-of-time check.

    Examples
    --------
    >>> from types import SimpleNamespace
    >>> check_reliability(SimpleNamespace(check_predictions=None)) is None
    True
    """
    predictions = getattr(risk, "check_predictions", None)
    if predictions is None or len(predictions) == 0:
        return None
    return reliability_table(
        predictions["churned"].astype(int),
        predictions["churn_probability"],
        n_bins=n_bins,
        strategy="quantile",
    )


def describe_reliability(table: pd.DataFrame | None, cutoff=None) -> str:
    """Do the predicted probabilities match the observed churn? (Markdown, from
    :func:`reliability_table`; None when there was no test.)

    Examples
    --------
    >>> table = pd.DataFrame({"n": [50, 50], "mean_predicted": [0.1, 0.3],
    ...                       "observed_rate": [0.08, 0.2], "ci_low": [0.03, 0.11],
    ...                       "ci_high": [0.19, 0.33]})
    >>> print(describe_reliability(table))
    In 2 groups of about 50 accounts, sorted by predicted probability, the mean prediction runs from 10.0% to 30.0% and the observed churn rate from 8.0% to 20.0%. The 95 % interval of the observed rate holds the mean prediction in 2 of 2 groups. Accounts in the highest group churned more often than those in the lowest (20.0% against 8.0%): higher probabilities do mean more churn.
    """
    if table is None or len(table) == 0:
        return (
            "There is no out-of-time test (no earlier window closed before the check date), so "
            "the calibration of the probabilities cannot be judged on these data."
        )
    at = f" at {pd.Timestamp(cutoff).date()}" if cutoff is not None else ""
    inside = (table["ci_low"] <= table["mean_predicted"]) & (
        table["mean_predicted"] <= table["ci_high"]
    )
    over = int((table["mean_predicted"] > table["ci_high"]).sum())
    under = int((table["mean_predicted"] < table["ci_low"]).sum())
    first, last = table.iloc[0], table.iloc[-1]
    text = (
        f"In {fmt.count(len(table))} groups of about {fmt.count(table['n'].mean())} accounts"
        f"{at}, sorted by predicted probability, the mean prediction runs from "
        f"{fmt.share(first['mean_predicted'])} to {fmt.share(last['mean_predicted'])} and the "
        f"observed churn rate from {fmt.share(table['observed_rate'].min())} to "
        f"{fmt.share(table['observed_rate'].max())}. The 95 % interval of the observed rate "
        f"holds the mean prediction in {fmt.count(inside.sum())} of {fmt.count(len(table))} "
        "groups"
    )
    if over or under:
        text += (
            f" (the model predicts too much churn in {fmt.count(over)} and too little in "
            f"{fmt.count(under)})"
        )
    rises = last["observed_rate"] > first["observed_rate"]
    text += (
        f". Accounts in the highest group churned "
        f"{'more' if rises else 'no more'} often than those in the lowest "
        f"({fmt.share(last['observed_rate'])} against {fmt.share(first['observed_rate'])}): "
        + (
            "higher probabilities do mean more churn."
            if rises
            else "the probabilities do not separate the accounts that churned."
        )
    )
    return text


def plot_reliability(table: pd.DataFrame, ax=None, *, title: str | None = None):
    """Reliability diagram: observed rate (with Wilson intervals) against mean prediction.

    Examples
    --------
    >>> table = reliability_table([0, 0, 1, 1, 0, 1], [0.1, 0.2, 0.7, 0.9, 0.3, 0.6], n_bins=2)
    >>> ax = plot_reliability(table)
    >>> [t.get_text() for t in ax.get_legend().get_texts()]
    ['perfect calibration', 'model']
    """
    ax = axes(ax, figsize=(5.0, 5.0))
    ax.plot([0, 100], [0, 100], color="grey", linestyle=":", label="perfect calibration")
    ax.set_aspect("equal")
    # Rounding can put an interval end a hair past the estimate; error bars must be >= 0.
    yerr = np.clip(
        np.vstack(
            [table["observed_rate"] - table["ci_low"], table["ci_high"] - table["observed_rate"]]
        ),
        0,
        None,
    )
    ax.errorbar(
        100 * table["mean_predicted"],
        100 * table["observed_rate"],
        yerr=100 * yerr,
        marker="o",
        linestyle="-",
        capsize=3,
        label="model",
    )
    # Zoom to the data (probabilities often span a narrow range), same scale on both axes.
    top = float(np.nanmax(np.r_[table["ci_high"], table["mean_predicted"], 0.0]))
    limit = min(100.0, 10 * np.ceil(100 * top / 10) + (5 if top < 0.95 else 0))
    ax.set_xlim(0, limit)
    ax.set_ylim(0, limit)
    return finish(
        ax,
        title=title or "Calibration of churn probabilities (95 % Wilson intervals)",
        xlabel="mean predicted churn probability (%)",
        ylabel="observed churn rate (%)",
    )
