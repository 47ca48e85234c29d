"""Which criteria predict account growth: inference, prediction and back-tests of rule sets.

Three views of one question, all built on :func:`kamlab.features.account_features`, so every
feature is measured before a cutoff and every outcome after it:

* **Inference** (statsmodels): :func:`criteria_effects` estimates the standardised effect of each
  criterion on later growth (OLS with HC3 robust or clustered errors; Logit for the binary
  ``grew`` flag), with Benjamini–Hochberg q-values across criteria; :func:`variance_inflation`
  reports multicollinearity.
* **Prediction** (scikit-learn): :func:`time_split_cv` trains a ridge model and a gradient-boosted
  model on earlier cutoffs and evaluates them on later ones (expanding window, never random splits
  across time); :func:`permutation_importance_table` ranks the features on a held-out cutoff.
* **Back-test**: :func:`backtest` asks "had we picked the top-k accounts with rule R on each past
  cutoff, what happened to them next?" for any scorer (rule sets, lambdas, or a
  :class:`LearnedScorer` that is refitted on earlier cutoffs only), with account-level bootstrap
  intervals; :func:`summarise` turns the results into a few sentences.

The horizon rule: a training cutoff's outcomes cover ``[cutoff, cutoff + horizon)``, so a model
may only be trained on cutoffs with ``cutoff_train + horizon <= cutoff_test``. Every function that
trains enforces it, and :func:`backtest` refuses cutoffs whose horizon runs past the data's end.
"""

from __future__ import annotations

import inspect
import warnings
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy import stats

from kamlab.data import Dataset
from kamlab.features import account_features, feature_panel

__all__ = [
    "BACKTEST_METRICS",
    "EFFECT_COLUMNS",
    "InsufficientHistory",
    "LearnedScorer",
    "backtest",
    "criteria_effects",
    "cutoff_grid",
    "make_model",
    "permutation_importance_table",
    "plot_backtest",
    "plot_effects",
    "plot_importance",
    "summarise",
    "time_split_cv",
    "variance_inflation",
]

#: Columns of :func:`criteria_effects`.
EFFECT_COLUMNS = ("coef", "std_err", "ci_low", "ci_high", "p_value", "q_value", "n", "note")
#: Metrics of :func:`backtest` (``delta_*`` are differences to the baseline rule set).
BACKTEST_METRICS = (
    "mean_growth_dh_selected",
    "mean_growth_dh_rest",
    "growth_dh_gap",
    "mean_log_growth_selected",
    "log_growth_gap",
    "precision_at_k",
    "lift",
    "spearman_growth_dh",
    "churn_selected",
)
_DELTA_METRICS = ("precision_at_k", "lift", "mean_growth_dh_selected", "spearman_growth_dh")
_DAY = pd.Timedelta(days=1)
Scorer = Callable[[pd.DataFrame], pd.Series]


class InsufficientHistory(ValueError):
    """Raised by a scorer that cannot score at a cutoff (e.g. no earlier cutoff to train on)."""


# --------------------------------------------------------------------------------------------
# Inference
# --------------------------------------------------------------------------------------------
def _is_binary(values: pd.Series) -> bool:
    if pd.api.types.is_bool_dtype(values):
        return True
    uniq = pd.unique(values.dropna())
    return len(uniq) <= 2 and set(np.asarray(uniq, dtype=float)) <= {0.0, 1.0}


def _finite(frame: pd.DataFrame, columns: Sequence[str]) -> pd.Series:
    """Rows where every listed column is present (and finite, for numeric columns)."""
    ok = pd.Series(True, index=frame.index)
    for col in columns:
        values = frame[col]
        ok &= values.notna()
        if pd.api.types.is_numeric_dtype(values) and not pd.api.types.is_bool_dtype(values):
            ok &= np.isfinite(values.astype(float).fillna(0.0))
    return ok


def _control_design(
    sample: pd.DataFrame, controls: Sequence[str], size_control: str | None
) -> pd.DataFrame:
    """Controls as numeric columns: categoricals one-hot (first level dropped, levels sorted),
    numerics standardised, ``log1p`` of the (non-negative part of the) size column."""
    parts = []
    for col in controls:
        values = sample[col]
        if pd.api.types.is_numeric_dtype(values) and not pd.api.types.is_bool_dtype(values):
            sd = values.std()
            if sd > 0:
                parts.append(((values - values.mean()) / sd).rename(col).astype(float))
        else:
            levels = sorted(values.astype(str).unique())
            cat = pd.Categorical(values.astype(str), categories=levels)
            dummies = pd.get_dummies(cat, prefix=col, drop_first=True, dtype=float)
            dummies.index = sample.index
            parts.append(dummies)
    if size_control is not None:
        size = np.log1p(sample[size_control].astype(float).clip(lower=0))
        if size.std() > 0:
            parts.append(((size - size.mean()) / size.std()).rename(f"log_{size_control}"))
    if not parts:
        return pd.DataFrame(index=sample.index)
    return pd.concat(parts, axis=1)


def _fit(y, X, kind, cluster_codes, alpha):
    """Fit one model; returns (result, intervals, converged, note)."""
    import warnings

    import statsmodels.api as sm
    from statsmodels.tools.sm_exceptions import ConvergenceWarning as SMConvergenceWarning

    note = ""
    robust = "HC3" if kind == "ols" else "HC0"
    if kind == "ols" and cluster_codes is None:
        # HC3 divides by (1 - leverage): a point with leverage 1 (one account alone carrying a
        # criterion's variation) makes it infinite, so fall back to HC1 and say so.
        leverage = sm.OLS(y, X).fit().get_influence().hat_matrix_diag
        if np.any(leverage > 1 - 1e-8):
            robust, note = "HC1", "an account has leverage 1; HC1 errors instead of HC3"
    cov = (
        {"cov_type": "cluster", "cov_kwds": {"groups": cluster_codes}}
        if cluster_codes is not None
        else {"cov_type": robust}
    )
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", SMConvergenceWarning)
        warnings.simplefilter("always", RuntimeWarning)
        if kind == "ols":
            res = sm.OLS(y, X).fit(**cov)
            converged = True
        else:
            res = sm.Logit(y, X).fit(disp=0, method="newton", maxiter=100, **cov)
            converged = bool(res.mle_retvals.get("converged", True))
    if any(issubclass(w.category, SMConvergenceWarning) for w in caught):
        converged = False
    return res, res.conf_int(alpha), converged, note


def criteria_effects(
    features: pd.DataFrame,
    criteria: Sequence[str],
    outcome: str = "log_growth",
    *,
    controls: Sequence[str] | None = None,
    size_control: str | None = None,
    cluster: str | None = None,
    joint: bool = False,
    model: str = "auto",
    alpha: float = 0.05,
    min_n: int = 30,
) -> pd.DataFrame:
    """Standardised effect of each criterion on a later outcome, with BH q-values.

    Parameters
    ----------
    features : pandas.DataFrame
        One row per account, e.g. from :func:`kamlab.features.account_features`.
    criteria : sequence of str
        Numeric criterion columns (e.g. ``score_growth_potential``).
    outcome : str
        ``log_growth`` / ``growth_dh`` (OLS) or the binary ``grew`` (Logit).
    controls : sequence of str, optional
        Extra regressors: categorical columns are one-hot encoded (first sorted level dropped),
        numeric ones standardised.
    size_control : str, optional
        A money column (e.g. ``revenue_12m``) entered as ``log1p`` of its non-negative part.
    cluster : str, optional
        Column of cluster labels (e.g. ``account_manager``): cluster-robust errors instead of
        HC3 (OLS) / HC0 (Logit).
    joint : bool
        ``False`` (default): one model per criterion (criterion + controls). ``True``: one model
        with all criteria together (adds a ``vif`` column; warns when a VIF exceeds 5).
    model : {"auto", "ols", "logit"}
        ``auto`` picks Logit for a binary outcome, OLS otherwise.
    alpha : float
        1 − confidence level of the intervals.
    min_n : int
        Fewest complete rows accepted (also at least the number of parameters + 10).

    Returns
    -------
    pandas.DataFrame
        Index = criterion; columns ``coef`` (per standard deviation of the criterion in the
        analysis sample; outcome units for OLS, log-odds for Logit), ``std_err``, ``ci_low``,
        ``ci_high``, ``p_value``, ``q_value`` (Benjamini–Hochberg across the estimated
        criteria), ``n`` and ``note`` (why a criterion was not estimated, e.g. constant).
        All criteria share one analysis sample: rows missing the outcome, any criterion, a
        control or the cluster label are dropped and counted in ``attrs["missing"]``; ``attrs``
        also records ``outcome``, ``model``, ``cov_type``, ``controls`` and ``view``.

    Raises
    ------
    ValueError
        Unknown columns, a non-numeric criterion, or fewer complete rows than needed.
    """
    from statsmodels.stats.multitest import multipletests

    criteria = list(dict.fromkeys(criteria))
    controls = list(controls or [])
    if not criteria:
        raise ValueError("criteria is empty")
    needed = [outcome, *criteria, *controls] + [c for c in (size_control, cluster) if c]
    missing_cols = [c for c in needed if c not in features.columns]
    if missing_cols:
        raise ValueError(f"columns not in features: {', '.join(missing_cols)}")
    for col in criteria:
        if not pd.api.types.is_numeric_dtype(features[col]):
            raise ValueError(f"criterion {col!r} is not numeric (dtype {features[col].dtype})")
    if model == "auto":
        model = "logit" if _is_binary(features[outcome]) else "ols"
    if model not in ("ols", "logit"):
        raise ValueError(f"model must be 'auto', 'ols' or 'logit', not {model!r}")

    # Explicit, counted complete-case selection.
    report = {"n_input": int(len(features))}
    keep = pd.Series(True, index=features.index)
    for label, cols in (
        ("outcome", [outcome]),
        ("criteria", criteria),
        ("controls", controls + ([size_control] if size_control else [])),
        ("cluster", [cluster] if cluster else []),
    ):
        ok = _finite(features, cols) if cols else keep
        report[f"dropped_{label}"] = int((keep & ~ok).sum())
        keep &= ok
    sample = features.loc[keep]
    report["n_used"] = int(len(sample))

    y = sample[outcome].astype(float)
    if model == "logit" and not set(pd.unique(y)) <= {0.0, 1.0}:
        raise ValueError(f"outcome {outcome!r} is not binary; use model='ols'")
    if y.nunique() < 2:
        raise ValueError(
            f"outcome {outcome!r} is constant in the analysis sample (n={len(sample)})"
        )
    ctrl = _control_design(sample, controls, size_control)
    cluster_codes = pd.factorize(sample[cluster].astype(str), sort=True)[0] if cluster else None

    sd = sample[criteria].astype(float).std()
    notes = dict.fromkeys(criteria, "")
    usable = []
    for c in criteria:
        if not sd[c] > 0:
            notes[c] = "constant in the analysis sample; not estimated"
        else:
            usable.append(c)
    if not usable:
        raise ValueError("every criterion is constant in the analysis sample")
    z = (sample[usable].astype(float) - sample[usable].astype(float).mean()) / sd[usable]

    n_params = 1 + ctrl.shape[1] + (len(usable) if joint else 1)
    if len(sample) < max(min_n, n_params + 10):
        raise ValueError(
            f"too few complete rows: n={len(sample)} for {n_params} parameters "
            f"(need at least {max(min_n, n_params + 10)}); "
            f"missing-value report: {report}"
        )

    rows = {}
    const = pd.Series(1.0, index=sample.index, name="const")
    designs = (
        [(usable, pd.concat([const, z, ctrl], axis=1))]
        if joint
        else [([c], pd.concat([const, z[[c]], ctrl], axis=1)) for c in usable]
    )
    for names, X in designs:
        res, ci, converged, note = _fit(y, X, model, cluster_codes, alpha)
        for c in names:
            rows[c] = {
                "coef": res.params[c],
                "std_err": res.bse[c],
                "ci_low": ci.loc[c, 0],
                "ci_high": ci.loc[c, 1],
                "p_value": res.pvalues[c],
            }
            if note:
                notes[c] = note
            if not converged:
                notes[c] = "Logit did not converge (e.g. separation); treat with caution"
    out = pd.DataFrame(
        index=pd.Index(criteria, name="criterion"),
        columns=["coef", "std_err", "ci_low", "ci_high", "p_value"],
        dtype=float,
    )
    for c, row in rows.items():
        out.loc[c] = pd.Series(row)
    est = out["p_value"].notna()
    out["q_value"] = np.nan
    out.loc[est, "q_value"] = multipletests(
        out.loc[est, "p_value"].to_numpy(), alpha=alpha, method="fdr_bh"
    )[1]
    out["n"] = len(sample)
    out["note"] = pd.Series(notes)
    if joint:
        out["vif"] = variance_inflation(sample, usable)["vif"].reindex(out.index)
    out.attrs.update(
        outcome=outcome,
        model=model,
        view="joint" if joint else "univariate",
        cov_type=("cluster" if cluster else "HC3" if model == "ols" else "HC0"),
        controls=list(ctrl.columns),
        cluster=cluster,
        alpha=alpha,
        missing=report,
    )
    return out


def variance_inflation(
    features: pd.DataFrame, criteria: Sequence[str], *, threshold: float = 5.0
) -> pd.DataFrame:
    """Variance inflation factor of each criterion given the others (complete rows).

    Warns (``UserWarning``) naming the criteria whose VIF exceeds ``threshold``: their joint
    coefficients are unstable and their univariate effects overlap.

    Returns
    -------
    pandas.DataFrame
        Index = criterion, column ``vif``; ``attrs["n"]`` is the number of complete rows.
    """
    from statsmodels.stats.outliers_influence import variance_inflation_factor

    criteria = list(criteria)
    data = features[criteria].astype(float).replace([np.inf, -np.inf], np.nan).dropna()
    if len(data) <= len(criteria) + 1:
        raise ValueError(f"too few complete rows ({len(data)}) for {len(criteria)} criteria")
    X = np.column_stack([np.ones(len(data)), data.to_numpy()])
    with np.errstate(divide="ignore", invalid="ignore"):
        vif = [variance_inflation_factor(X, j + 1) for j in range(len(criteria))]
    out = pd.DataFrame({"vif": vif}, index=pd.Index(criteria, name="criterion"))
    out.attrs["n"] = int(len(data))
    high = out.index[~(out["vif"] <= threshold)].tolist()
    if high:
        warnings.warn(
            f"variance inflation above {threshold:g} for {', '.join(high)}: these "
            "criteria are collinear, so their separate effects are poorly identified",
            UserWarning,
            stacklevel=2,
        )
    return out


# --------------------------------------------------------------------------------------------
# Prediction
# --------------------------------------------------------------------------------------------
def make_model(kind: str = "ridge", task: str = "regression", random_state: int = 0):
    """A scikit-learn pipeline for growth prediction.

    ``kind="ridge"``: median imputation (with missing-value indicators), scaling, then
    ``RidgeCV`` (regression) or L2 ``LogisticRegressionCV`` (classification).
    ``kind="hgb"``: ``HistGradientBoosting*`` (handles missing values natively), a fixed,
    deliberately conservative configuration without early stopping (deterministic under
    ``random_state``).
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
            params = inspect.signature(LogisticRegressionCV).parameters
            extra = {
                k: v
                for k, v in (("l1_ratios", (0.0,)), ("use_legacy_attributes", False))
                if k in params
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
    returns the estimator, the task and the columns used."""
    cols = [c for c in X.columns if X[c].notna().any()]
    if not cols:
        raise ValueError("every feature is missing in the training rows")
    task = _task(y)
    return make_model(kind, task, random_state).fit(X[cols], y), task, cols


def _task(y: pd.Series) -> str:
    return "classification" if _is_binary(y) else "regression"


def _xy(frame: pd.DataFrame, features: Sequence[str], outcome: str):
    ok = _finite(frame, [outcome])
    X = frame.loc[ok, list(features)].astype(float).replace([np.inf, -np.inf], np.nan)
    y = frame.loc[ok, outcome]
    y = y.astype(int) if _is_binary(y) else y.astype(float)
    return X, y, int((~ok).sum())


def _train_cutoffs(cutoffs, test_cutoff, horizon_days) -> list[pd.Timestamp]:
    return [c for c in cutoffs if c + pd.Timedelta(days=horizon_days) <= test_cutoff]


def _panel_cutoffs(panel: pd.DataFrame, cutoffs) -> list[pd.Timestamp]:
    present = pd.DatetimeIndex(panel.index.get_level_values("cutoff").unique())
    chosen = present if cutoffs is None else pd.DatetimeIndex(pd.to_datetime(list(cutoffs)))
    absent = chosen.difference(present)
    if len(absent):
        raise ValueError(f"cutoffs not in the panel: {[d.date().isoformat() for d in absent]}")
    return sorted(chosen)


def time_split_cv(
    panel: pd.DataFrame,
    cutoffs: Sequence | None = None,
    *,
    features: Sequence[str],
    outcome: str = "growth_dh",
    horizon: int = 365,
    models: Sequence[str] = ("ridge", "hgb"),
    random_state: int = 0,
) -> pd.DataFrame:
    """Expanding-window validation over cutoffs: train on earlier cutoffs, test on the next.

    For each test cutoff the training set is every earlier cutoff whose outcomes were fully
    observed by then (``cutoff_train + horizon <= cutoff_test``); cutoffs with no such earlier
    cutoff are not tested. Rows are never split at random across time.

    Parameters
    ----------
    panel : pandas.DataFrame
        From :func:`kamlab.features.feature_panel`, indexed by ``(cutoff, account_id)``.
    cutoffs : sequence of date-like, optional
        The cutoffs to use (default: all in the panel).
    features, outcome : column names
        Predictors and target (binary target → classifiers and AUC).
    horizon : int
        Outcome horizon in days the panel was built with.
    models : sequence of {"ridge", "hgb"}
    random_state : int

    Returns
    -------
    pandas.DataFrame
        One row per (model, test cutoff): ``model``, ``test_cutoff``, ``train_cutoffs``
        (``first..last`` and count), ``n_train``, ``n_test``, and ``r2`` and ``spearman``
        (regression) or ``auc`` (classification). Rows without the outcome are dropped and
        counted in ``attrs["dropped_missing_outcome"]``.
    """
    from sklearn.metrics import r2_score, roc_auc_score

    cuts = _panel_cutoffs(panel, cutoffs)
    rows, dropped = [], 0
    for test in cuts:
        train = _train_cutoffs(cuts, test, horizon)
        if not train:
            continue
        tr = panel.loc[panel.index.get_level_values("cutoff").isin(train)]
        te = panel.xs(test, level="cutoff")
        X_tr, y_tr, d1 = _xy(tr, features, outcome)
        X_te, y_te, d2 = _xy(te, features, outcome)
        dropped += d1 + d2
        for kind in models:
            est, task, used = _fit_model(kind, X_tr, y_tr, random_state)
            X_te = X_te[used]
            row = {
                "model": kind,
                "test_cutoff": test.date().isoformat(),
                "train_cutoffs": f"{train[0].date()}..{train[-1].date()} ({len(train)})",
                "n_train": len(y_tr),
                "n_test": len(y_te),
            }
            if task == "regression":
                pred = est.predict(X_te)
                row["r2"] = r2_score(y_te, pred)
                row["spearman"] = stats.spearmanr(pred, y_te).statistic
            else:
                row["auc"] = roc_auc_score(y_te, est.predict_proba(X_te)[:, 1])
            rows.append(row)
    if not rows:
        raise ValueError(
            f"no test cutoff has an earlier cutoff at least {horizon} days before "
            "it (training outcomes must be observed before the test cutoff); use "
            "more or earlier cutoffs"
        )
    out = pd.DataFrame(rows)
    out.attrs.update(outcome=outcome, horizon_days=horizon, dropped_missing_outcome=dropped)
    return out


def permutation_importance_table(
    panel: pd.DataFrame,
    *,
    features: Sequence[str],
    outcome: str = "growth_dh",
    test_cutoff=None,
    horizon: int = 365,
    model: str = "ridge",
    n_repeats: int = 30,
    random_state: int = 0,
) -> pd.DataFrame:
    """Permutation importance of each feature on a held-out cutoff.

    The model is trained on every cutoff with ``cutoff + horizon <= test_cutoff`` and scored
    (R² for a continuous outcome, ROC-AUC for a binary one) on the test cutoff, with each
    feature shuffled ``n_repeats`` times (``sklearn.inspection.permutation_importance``).

    Returns
    -------
    pandas.DataFrame
        Index = feature, sorted by decreasing importance: ``importance`` (mean drop in score),
        ``std``, ``ci_low`` / ``ci_high`` (2.5 % and 97.5 % of the repeats: the shuffling
        variability on this test set, not the model's sampling variability); features with no
        observed value in the training rows are not used and come last with NaN. ``attrs``
        records the cutoffs, the scoring and the unshuffled test score.
    """
    from sklearn.inspection import permutation_importance

    cuts = _panel_cutoffs(panel, None)
    test = pd.Timestamp(test_cutoff) if test_cutoff is not None else cuts[-1]
    train = _train_cutoffs(cuts, test, horizon)
    if not train:
        raise ValueError(
            f"no cutoff in the panel is at least {horizon} days before the test "
            f"cutoff {test.date()}"
        )
    tr = panel.loc[panel.index.get_level_values("cutoff").isin(train)]
    X_tr, y_tr, _ = _xy(tr, features, outcome)
    X_te, y_te, _ = _xy(panel.xs(test, level="cutoff"), features, outcome)
    est, task, used = _fit_model(model, X_tr, y_tr, random_state)
    X_te = X_te[used]
    scoring = "r2" if task == "regression" else "roc_auc"
    result = permutation_importance(
        est, X_te, y_te, scoring=scoring, n_repeats=n_repeats, random_state=random_state
    )
    reps = result.importances
    out = pd.DataFrame(
        {
            "importance": reps.mean(axis=1),
            "std": reps.std(axis=1),
            "ci_low": np.percentile(reps, 2.5, axis=1),
            "ci_high": np.percentile(reps, 97.5, axis=1),
        },
        index=pd.Index(used, name="feature"),
    )
    out = out.sort_values("importance", ascending=False, kind="stable")
    out = out.reindex(out.index.tolist() + [c for c in features if c not in used])
    from sklearn.metrics import check_scoring

    out.attrs.update(
        test_cutoff=test.date().isoformat(),
        train_cutoffs=[c.date().isoformat() for c in train],
        scoring=scoring,
        model=model,
        test_score=float(check_scoring(est, scoring=scoring)(est, X_te, y_te)),
        n_test=len(y_te),
    )
    return out


#: Transaction- and interaction-derived criteria, the fallback when no assessments exist.
DERIVED_CRITERIA = (
    "revenue_growth_12m",
    "order_frequency",
    "recency_days",
    "tenure_days",
    "products_12m",
    "categories_12m",
    "gross_margin_12m",
    "credit_note_share_12m",
    "cost_to_serve",
    "nps",
)


def criteria_columns(features: pd.DataFrame) -> tuple[list[str], str]:
    """The criteria to test and where they come from.

    Returns the assessed criteria (``score_*`` columns) when the data have assessments,
    otherwise the :data:`DERIVED_CRITERIA` present with more than one distinct value, with a
    sentence saying which was used.
    """
    assessed = [c for c in features.columns if c.startswith("score_") and features[c].nunique() > 1]
    if assessed:
        return assessed, f"{len(assessed)} assessed criteria (account-team scores 1-5)"
    derived = [c for c in DERIVED_CRITERIA if c in features and features[c].nunique() > 1]
    if not derived:
        raise ValueError("no assessed or transaction-derived criteria vary across accounts")
    return derived, (
        f"no assessments in these data: {len(derived)} transaction-derived "
        f"criteria instead ({', '.join(derived)})"
    )


def usable_controls(features: pd.DataFrame, controls: Sequence[str] | None) -> list[str]:
    """The requested control columns that exist and vary (others cannot adjust anything)."""
    return [c for c in (controls or []) if c in features and features[c].nunique() > 1]


def has_time_folds(cutoffs: Sequence, horizon: int) -> bool:
    """Whether any later cutoff has an earlier one whose horizon ended before it."""
    stamps = sorted(pd.Timestamp(c) for c in cutoffs)
    return any(_train_cutoffs(stamps, c, horizon) for c in stamps)


def cutoff_grid(
    dataset: Dataset, horizon: int = 365, *, freq: str = "QS", min_history_days: int = 182
) -> list[pd.Timestamp]:
    """Regular cutoffs with at least ``min_history_days`` of history before them and a fully
    observed horizon after them (``cutoff + horizon <= data end + 1 day``)."""
    first = dataset.start + pd.Timedelta(days=min_history_days)
    last = dataset.end + _DAY - pd.Timedelta(days=horizon)
    grid = pd.date_range(first, last, freq=freq)
    return list(grid)


@dataclass
class LearnedScorer:
    """A scorer refitted at every cutoff on earlier cutoffs only, for :func:`backtest`.

    Called with the features at cutoff ``c`` (``features.attrs["cutoff"]``), it builds a
    training panel at ``c - horizon - i * step_days`` for ``i < n_train_cutoffs`` (so every
    training outcome was observed before ``c``), fits :func:`make_model` and returns its
    predictions (probabilities for a binary outcome). Raises :class:`InsufficientHistory` when
    fewer than ``min_train`` training rows exist (e.g. at the first cutoffs of the data).
    """

    dataset: Dataset
    features: Sequence[str]
    outcome: str = "growth_dh"
    model: str = "ridge"
    horizon: int = 365
    n_train_cutoffs: int = 2
    step_days: int = 182
    min_train: int = 50
    growth_threshold: float = 0.10
    random_state: int = 0

    def training_cutoffs(self, cutoff) -> list[pd.Timestamp]:
        """The training cutoffs used at ``cutoff`` (after the data's first transaction)."""
        cutoff = pd.Timestamp(cutoff)
        cuts = [
            cutoff - pd.Timedelta(days=self.horizon + i * self.step_days)
            for i in range(self.n_train_cutoffs)
        ]
        return sorted(c for c in cuts if c > self.dataset.start)

    def __call__(self, features: pd.DataFrame) -> pd.Series:
        if "cutoff" not in features.attrs:
            raise ValueError("features.attrs has no 'cutoff'; pass account_features output")
        cutoff = pd.Timestamp(features.attrs["cutoff"])
        train = self.training_cutoffs(cutoff)
        if not train:
            raise InsufficientHistory(
                f"no training cutoff {self.horizon} days before {cutoff.date()} within the data"
            )
        panel = feature_panel(
            self.dataset, train, self.horizon, growth_threshold=self.growth_threshold
        )
        X, y, _ = _xy(panel, self.features, self.outcome)
        if len(y) < self.min_train or y.nunique() < 2:
            raise InsufficientHistory(f"only {len(y)} training rows before {cutoff.date()}")
        est, task, used = _fit_model(self.model, X, y, self.random_state)
        Xc = features[used].astype(float).replace([np.inf, -np.inf], np.nan)
        pred = est.predict(Xc) if task == "regression" else est.predict_proba(Xc)[:, 1]
        return pd.Series(pred, index=features.index, name="score")


# --------------------------------------------------------------------------------------------
# Back-test
# --------------------------------------------------------------------------------------------
def _n_selected(k: float, n: int) -> int:
    if k <= 0:
        raise ValueError(f"k must be positive, got {k}")
    if k < 1:
        return int(min(n, max(1, round(k * n))))
    if float(k) != int(k):
        raise ValueError(f"k >= 1 is a count and must be whole, got {k}")
    return int(min(n, k))


def _wmean(W: np.ndarray, values: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """Weighted means of ``values[mask]`` for each row of weights ``W`` (NaN when no weight)."""
    w = W[:, mask]
    total = w.sum(axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(total > 0, w @ values[mask] / np.where(total > 0, total, 1), np.nan)


def _spearman_weighted(score: np.ndarray, y: np.ndarray, W: np.ndarray) -> np.ndarray:
    """Spearman correlation for each bootstrap replicate (a row of integer counts)."""
    out = np.full(W.shape[0], np.nan)
    for b in range(W.shape[0]):
        s, v = np.repeat(score, W[b]), np.repeat(y, W[b])
        if len(s) > 2 and np.ptp(s) > 0 and np.ptp(v) > 0:
            out[b] = np.corrcoef(stats.rankdata(s), stats.rankdata(v))[0, 1]
    return out


def _metrics(W, sel, score, growth_dh, log_growth, grew, churned) -> dict[str, np.ndarray]:
    """All back-test metrics for each row of weights (point estimate: a row of ones)."""
    fin_dh, fin_lg = np.isfinite(growth_dh), np.isfinite(log_growth)
    dh, lg = np.nan_to_num(growth_dh), np.nan_to_num(log_growth)
    m = {
        "mean_growth_dh_selected": _wmean(W, dh, sel & fin_dh),
        "mean_growth_dh_rest": _wmean(W, dh, ~sel & fin_dh),
        "mean_log_growth_selected": _wmean(W, lg, sel & fin_lg),
        "precision_at_k": _wmean(W, grew, sel),
        "churn_selected": _wmean(W, churned, sel),
    }
    m["growth_dh_gap"] = m["mean_growth_dh_selected"] - m["mean_growth_dh_rest"]
    m["log_growth_gap"] = m["mean_log_growth_selected"] - _wmean(W, lg, ~sel & fin_lg)
    base = _wmean(W, grew, np.ones_like(sel))
    with np.errstate(invalid="ignore", divide="ignore"):
        m["lift"] = np.where(base > 0, m["precision_at_k"] / base, np.nan)
    ok = fin_dh & np.isfinite(score)
    m["spearman_growth_dh"] = _spearman_weighted(score[ok], growth_dh[ok], W[:, ok])
    return m


def backtest(
    dataset: Dataset,
    rule_sets: Mapping[str, Scorer],
    cutoffs: Sequence,
    horizon: int = 365,
    k: float = 0.15,
    growth_threshold: float = 0.10,
    n_boot: int = 500,
    random_state: int = 0,
    *,
    baseline: str | None = "size_only",
    min_tenure_days: int = 0,
    alpha: float = 0.05,
) -> pd.DataFrame:
    """Had we picked the top-k accounts with each rule set at each cutoff, what happened next?

    At each cutoff the features come from :func:`kamlab.features.account_features` (data
    before the cutoff) and the outcomes from the ``horizon`` days after it; every scorer ranks
    the accounts (ties broken by ``account_id``; missing scores rank last) and the top ``k``
    are "selected".

    Parameters
    ----------
    dataset : Dataset
    rule_sets : mapping of name → callable
        Each maps the features frame to a score per ``account_id`` (higher = more key):
        :mod:`kamlab.criteria` rule sets, lambdas such as ``lambda f: f["revenue_12m"]``, or a
        :class:`LearnedScorer` (a scorer raising :class:`InsufficientHistory` is skipped at
        that cutoff and the skip recorded in ``attrs["skipped"]``).
    cutoffs : sequence of date-like
        Each needs a fully observed horizon: ``cutoff + horizon <= dataset.end + 1 day``.
    horizon : int
        Outcome window in days.
    k : float
        Share of accounts selected when below 1, else a count.
    growth_threshold : float
        ``grew`` = future revenue above base revenue × (1 + threshold).
    n_boot : int
        Bootstrap replicates. Accounts are resampled with replacement, the same draw for every
        rule set and cutoff (paired across rule sets, clustered by account across cutoffs);
        the selection is held fixed, so intervals reflect the sampling variability of what
        happened to the selected and other accounts.
    random_state : int
    baseline : str, optional
        Rule set to compare against: adds ``delta_<metric>`` rows (rule set − baseline, paired).
    min_tenure_days : int
        Keep only accounts with at least this tenure at the cutoff (``horizon`` compares full
        base and future windows; younger accounts have a partial base and look like growth).
    alpha : float
        1 − confidence level of the percentile intervals.

    Returns
    -------
    pandas.DataFrame
        Tidy: ``rule_set``, ``cutoff`` (ISO date, or ``"pooled"`` for the mean over cutoffs),
        ``metric`` (see :data:`BACKTEST_METRICS`; plus ``delta_*``), ``estimate``,
        ``ci_low``, ``ci_high``, ``n_accounts``, ``n_selected``.
    """
    if not rule_sets:
        raise ValueError("rule_sets is empty")
    if n_boot < 1:
        raise ValueError(f"n_boot must be at least 1, got {n_boot}")
    if baseline is not None and baseline not in rule_sets:
        baseline = None
    cuts = sorted({pd.Timestamp(c) for c in cutoffs})
    if not cuts:
        raise ValueError("cutoffs is empty")
    last_ok = dataset.end + _DAY
    late = [c for c in cuts if c + pd.Timedelta(days=horizon) > last_ok]
    if late:
        raise ValueError(
            f"the {horizon}-day horizon after cutoff(s) "
            f"{[c.date().isoformat() for c in late]} runs past the data's end "
            f"({dataset.end.date()}): outcomes would be incomplete"
        )

    frames, scores, skipped = {}, {}, []
    for c in cuts:
        feats = account_features(dataset, c, horizon, growth_threshold=growth_threshold)
        if min_tenure_days:
            feats = feats.loc[feats["tenure_days"] >= min_tenure_days]
            feats.attrs["cutoff"] = c.date().isoformat()
        if len(feats) < 2:
            raise ValueError(f"fewer than 2 eligible accounts at cutoff {c.date()}")
        frames[c] = feats
        for name, scorer in rule_sets.items():
            try:
                s = scorer(feats)
            except InsufficientHistory as exc:
                skipped.append(
                    {"rule_set": name, "cutoff": c.date().isoformat(), "reason": str(exc)}
                )
                continue
            s = pd.Series(s).reindex(feats.index).astype(float)
            scores[(name, c)] = s.to_numpy()

    # One bootstrap draw over the union of accounts, shared by every rule set and cutoff.
    union = pd.Index(sorted(set().union(*[f.index for f in frames.values()])))
    rng = np.random.default_rng(random_state)
    draws = rng.integers(0, len(union), size=(n_boot, len(union)))
    W_all = np.zeros((n_boot, len(union)), dtype=np.int64)
    np.add.at(W_all, (np.repeat(np.arange(n_boot), len(union)), draws.ravel()), 1)

    q = (100 * alpha / 2, 100 * (1 - alpha / 2))
    rows, reps = [], {}
    for c, feats in frames.items():
        pos = union.get_indexer(feats.index)
        W = np.vstack([np.ones((1, len(feats)), dtype=np.int64), W_all[:, pos]])
        ids = feats.index.to_numpy().astype(str)
        cols = {col: feats[col].to_numpy(dtype=float) for col in ("growth_dh", "log_growth")}
        grew = feats["grew"].to_numpy(dtype=float)
        churned = feats["churned"].to_numpy(dtype=float)
        n_sel = _n_selected(k, len(feats))
        for name in rule_sets:
            if (name, c) not in scores:
                continue
            score = scores[(name, c)]
            order = np.lexsort((ids, -np.nan_to_num(score, nan=-np.inf)))
            sel = np.zeros(len(feats), dtype=bool)
            sel[order[:n_sel]] = True
            m = _metrics(W, sel, score, cols["growth_dh"], cols["log_growth"], grew, churned)
            for metric in BACKTEST_METRICS:
                reps[(name, c, metric)] = m[metric]
            reps[(name, c, "_n")] = (len(feats), n_sel)
    if baseline is not None:
        for name, c, metric in list(reps):
            if metric in _DELTA_METRICS and name != baseline and (baseline, c, metric) in reps:
                reps[(name, c, f"delta_{metric}")] = (
                    reps[(name, c, metric)] - reps[(baseline, c, metric)]
                )
    metrics = list(BACKTEST_METRICS) + [f"delta_{m}" for m in _DELTA_METRICS]
    for name in rule_sets:
        for metric in metrics:
            series = [(c, reps[(name, c, metric)]) for c in cuts if (name, c, metric) in reps]
            for c, values in series:
                n_acc, n_sel = reps[(name, c, "_n")]
                rows.append(_row(name, c.date().isoformat(), metric, values, q, n_acc, n_sel))
            if len(series) > 1:
                with warnings.catch_warnings():  # an all-NaN replicate stays NaN
                    warnings.simplefilter("ignore", RuntimeWarning)
                    pooled = np.nanmean(np.vstack([v for _, v in series]), axis=0)
                n_acc = sum(reps[(name, c, "_n")][0] for c, _ in series)
                n_sel = sum(reps[(name, c, "_n")][1] for c, _ in series)
                rows.append(_row(name, "pooled", metric, pooled, q, n_acc, n_sel))
    out = pd.DataFrame(
        rows,
        columns=[
            "rule_set",
            "cutoff",
            "metric",
            "estimate",
            "ci_low",
            "ci_high",
            "n_accounts",
            "n_selected",
        ],
    )
    out.attrs.update(
        horizon_days=horizon,
        k=k,
        growth_threshold=growth_threshold,
        n_boot=n_boot,
        baseline=baseline,
        alpha=alpha,
        min_tenure_days=min_tenure_days,
        skipped=skipped,
        cutoffs=[c.date().isoformat() for c in cuts],
    )
    return out


def _row(name, cutoff, metric, values, q, n_acc, n_sel) -> dict:
    boot = values[1:]
    boot = boot[np.isfinite(boot)]
    lo, hi = np.percentile(boot, q) if len(boot) else (np.nan, np.nan)
    return {
        "rule_set": name,
        "cutoff": cutoff,
        "metric": metric,
        "estimate": float(values[0]),
        "ci_low": float(lo),
        "ci_high": float(hi),
        "n_accounts": int(n_acc),
        "n_selected": int(n_sel),
    }


# --------------------------------------------------------------------------------------------
# Summary
# --------------------------------------------------------------------------------------------
def _fmt(x: float, digits: int = 2, sign: bool = False) -> str:
    return f"{x:+.{digits}f}" if sign else f"{x:.{digits}f}"


def _label(criterion: str) -> str:
    return criterion.removeprefix("score_").replace("_", " ")


def summarise(
    effects: pd.DataFrame,
    backtest_table: pd.DataFrame,
    *,
    metric: str = "precision_at_k",
    baseline: str = "size_only",
    q_threshold: float = 0.05,
    digits: int = 2,
) -> str:
    """A few plain-language sentences, with the numbers, from :func:`criteria_effects` and
    :func:`backtest` results: which criteria have a credible effect (q below ``q_threshold``),
    how much better than ``baseline`` the best rule set is on ``metric`` (pooled over cutoffs,
    with its interval), and how stable that is across cutoffs."""
    out = []
    outcome = effects.attrs.get("outcome", "growth")
    level = int(round(100 * (1 - effects.attrs.get("alpha", 0.05))))
    credible = effects[effects["q_value"] < q_threshold].sort_values(
        "coef", ascending=False, kind="stable"
    )
    n_est = int(effects["q_value"].notna().sum())
    if len(credible):
        parts = [
            f"{_label(c)} ({_fmt(r.coef, digits, True)} per SD, {level} % CI "
            f"{_fmt(r.ci_low, digits)} to {_fmt(r.ci_high, digits)})"
            for c, r in credible.iterrows()
        ]
        verb = "has" if len(credible) == 1 else "have"
        out.append(
            f"Of the {n_est} criteria, {len(credible)} {verb} a credible effect on "
            f"{outcome} "
            f"(q < {q_threshold:g}): " + "; ".join(parts) + "."
        )
    else:
        out.append(
            f"None of the {n_est} criteria has a credible effect on {outcome} "
            f"(all q >= {q_threshold:g})."
        )

    table = backtest_table
    pooled = table[(table["cutoff"] == "pooled") & (table["metric"] == metric)]
    if pooled.empty:  # a single cutoff: use it
        pooled = table[table["metric"] == metric]
    others = pooled[pooled["rule_set"] != baseline]
    base = pooled[pooled["rule_set"] == baseline]
    if others.empty or base.empty:
        out.append(f"No comparison with {baseline} is possible from this back-test.")
        return " ".join(out)
    best = others.sort_values("estimate", ascending=False, kind="stable").iloc[0]
    name = best["rule_set"]
    scope = "pooled over cutoffs" if best["cutoff"] == "pooled" else f"at {best['cutoff']}"
    delta = table[(table["rule_set"] == name) & (table["metric"] == f"delta_{metric}")]
    d_pool = delta[delta["cutoff"] == best["cutoff"]]
    sentence = (
        f"The best rule set on {metric.replace('_', ' ')} ({scope}) is {name}: "
        f"{_fmt(best['estimate'], digits)} ({level} % CI {_fmt(best['ci_low'], digits)} "
        f"to {_fmt(best['ci_high'], digits)}) against {_fmt(base['estimate'].iloc[0], digits)} "
        f"for {baseline}"
    )
    if len(d_pool):
        d = d_pool.iloc[0]
        verdict = (
            "a credible improvement"
            if d["ci_low"] > 0
            else "credibly worse"
            if d["ci_high"] < 0
            else "not distinguishable from zero"
        )
        sentence += (
            f", a difference of {_fmt(d['estimate'], digits, True)} ({level} % CI "
            f"{_fmt(d['ci_low'], digits, True)} to {_fmt(d['ci_high'], digits, True)}),"
            f" {verdict}"
        )
    out.append(sentence + ".")
    per = delta[delta["cutoff"] != "pooled"]
    if len(per) > 1:
        wins = int((per["estimate"] > 0).sum())
        sure = int((per["ci_low"] > 0).sum())
        out.append(
            f"Across {len(per)} cutoffs {name} beat {baseline} at {wins} "
            f"(with an interval excluding zero at {sure}); the per-cutoff differences "
            f"range from {_fmt(per['estimate'].min(), digits, True)} to "
            f"{_fmt(per['estimate'].max(), digits, True)}."
        )
    return " ".join(out)


# --------------------------------------------------------------------------------------------
# Plots
# --------------------------------------------------------------------------------------------
def _axes(ax):
    if ax is None:
        import matplotlib.pyplot as plt

        _, ax = plt.subplots(figsize=(6, 4))
    return ax


def plot_effects(effects: pd.DataFrame, ax=None, *, q_threshold: float = 0.05):
    """Forest plot: standardised coefficient and interval per criterion; credible effects
    (q below ``q_threshold``) in colour. Returns the Axes."""
    ax = _axes(ax)
    data = effects.dropna(subset=["coef"]).sort_values("coef", kind="stable")
    y = np.arange(len(data))
    credible = (data["q_value"] < q_threshold).to_numpy()
    for flag, color, label in (
        (True, "C0", f"q < {q_threshold:g}"),
        (False, "0.6", f"q ≥ {q_threshold:g}"),
    ):
        pick = credible == flag
        if pick.any():
            ax.errorbar(
                data["coef"][pick],
                y[pick],
                xerr=[
                    data["coef"][pick] - data["ci_low"][pick],
                    data["ci_high"][pick] - data["coef"][pick],
                ],
                fmt="o",
                color=color,
                capsize=3,
                label=label,
            )
    ax.axvline(0, color="k", lw=0.8)
    ax.set_yticks(y, [_label(c) for c in data.index])
    units = (
        "log-odds"
        if effects.attrs.get("model") == "logit"
        else effects.attrs.get("outcome", "outcome")
    )
    ax.set_xlabel(f"effect per SD of the criterion ({units})")
    ax.legend(loc="lower right", frameon=False)
    return ax


def plot_importance(table: pd.DataFrame, ax=None, *, top: int | None = None):
    """Horizontal bars of permutation importance with their intervals. Returns the Axes."""
    ax = _axes(ax)
    data = table.head(top) if top else table
    data = data.iloc[::-1]
    y = np.arange(len(data))
    ax.barh(y, data["importance"], color="C0", alpha=0.8)
    ax.errorbar(
        data["importance"],
        y,
        xerr=[data["importance"] - data["ci_low"], data["ci_high"] - data["importance"]],
        fmt="none",
        color="k",
        capsize=2,
        lw=0.8,
    )
    ax.axvline(0, color="k", lw=0.8)
    ax.set_yticks(y, [_label(c) for c in data.index])
    ax.set_xlabel(f"drop in {table.attrs.get('scoring', 'score')} when shuffled")
    return ax


def plot_backtest(table: pd.DataFrame, metric: str = "precision_at_k", ax=None):
    """Back-test metric over cutoffs, one line per rule set with its interval. Returns the
    Axes."""
    ax = _axes(ax)
    data = table[(table["metric"] == metric) & (table["cutoff"] != "pooled")]
    if data.empty:
        raise ValueError(f"metric {metric!r} not in the back-test table")
    names = list(dict.fromkeys(data["rule_set"]))
    offsets = np.linspace(-6, 6, len(names)) if len(names) > 1 else [0.0]
    for i, name in enumerate(names):
        d = data[data["rule_set"] == name]
        x = pd.to_datetime(d["cutoff"]) + pd.to_timedelta(offsets[i], unit="D")
        ax.errorbar(
            x,
            d["estimate"],
            yerr=[d["estimate"] - d["ci_low"], d["ci_high"] - d["estimate"]],
            fmt="-o",
            capsize=3,
            label=name,
            color=f"C{i}",
        )
    ax.set_xlabel("cutoff")
    ax.set_ylabel(metric.replace("_", " "))
    ax.legend(frameon=False, fontsize="small")
    return ax
