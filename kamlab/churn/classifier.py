"""A calibrated churn classifier and the measures that judge its probabilities.

:class:`ChurnClassifier` is impute → scale → model inside scikit-learn's
``CalibratedClassifierCV``; :func:`churn_scores` (Brier score and skill, ROC-AUC, log loss) and
:func:`reliability_table` judge the probabilities; :meth:`ChurnClassifier.drivers` says which
features push an account's risk up (logistic model). Fits on small data run single-threaded.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy.stats import norm
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.calibration import CalibratedClassifierCV
from sklearn.ensemble import HistGradientBoostingClassifier
from sklearn.impute import SimpleImputer
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import brier_score_loss, log_loss, roc_auc_score
from sklearn.model_selection import StratifiedKFold
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from kamlab._plot import axes, finish
from kamlab._threads import limit_threads

__all__ = [
    "ChurnClassifier",
    "churn_scores",
    "plot_reliability",
    "reliability_table",
]

_Z95 = float(norm.ppf(0.975))


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


def reliability_table(y_true, proba, n_bins: int = 10) -> pd.DataFrame:
    """Observed churn rate against mean predicted probability in equal-width bins.

    Returns
    -------
    DataFrame
        One row per non-empty bin: bin_low, bin_high, n, mean_predicted, observed_rate and a
        95 % Wilson interval (ci_low, ci_high) of the observed rate.
    """
    y, p = _binary_inputs(y_true, proba)
    if n_bins < 1:
        raise ValueError("n_bins must be >= 1")
    edges = np.linspace(0.0, 1.0, n_bins + 1)
    idx = np.clip(np.digitize(p, edges[1:-1], right=False), 0, n_bins - 1)
    df = pd.DataFrame({"bin": idx, "p": p, "y": y})
    g = df.groupby("bin")
    n = g.size()
    obs = g["y"].mean()
    z2 = _Z95**2
    centre = (obs + z2 / (2 * n)) / (1 + z2 / n)
    half = _Z95 * np.sqrt(obs * (1 - obs) / n + z2 / (4 * n**2)) / (1 + z2 / n)
    out = pd.DataFrame(
        {
            "bin_low": edges[n.index],
            "bin_high": edges[n.index + 1],
            "n": n.to_numpy(),
            "mean_predicted": g["p"].mean().to_numpy(),
            "observed_rate": obs.to_numpy(),
            "ci_low": (centre - half).to_numpy(),
            "ci_high": (centre + half).to_numpy(),
        }
    )
    return out.reset_index(drop=True)


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
    ax.set_xlim(0, 100)
    ax.set_ylim(0, 100)
    return finish(
        ax,
        title=title or "Calibration of churn probabilities (95 % Wilson intervals)",
        xlabel="mean predicted churn probability (%)",
        ylabel="observed churn rate (%)",
    )
