"""Feature preparation for clustering: select, log the money columns, impute, scale.

:func:`make_preprocessor` is a scikit-learn pipeline from an account-features frame to a scaled
numeric matrix; :class:`~kamlab.segment.Segmenter` builds one from its own parameters.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator, TransformerMixin
from sklearn.compose import ColumnTransformer
from sklearn.decomposition import PCA
from sklearn.impute import SimpleImputer
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import FunctionTransformer, PowerTransformer, StandardScaler

__all__ = [
    "DEFAULT_FEATURES",
    "MONEY_COLUMNS",
    "ColumnSelector",
    "make_preprocessor",
    "signed_log1p",
]

#: Default clustering features (those present in the frame are used): size, momentum, buying
#: behaviour, profitability, service cost, satisfaction and the three planted-relevant criteria.
DEFAULT_FEATURES = (
    "revenue_12m",
    "revenue_growth_12m",
    "order_frequency",
    "products_12m",
    "gross_margin_12m",
    "cost_to_serve",
    "nps",
    "score_growth_potential",
    "score_strategic_fit",
    "score_willingness_to_partner",
)
#: Heavy-tailed money-like columns transformed before scaling when they are features.
MONEY_COLUMNS = (
    "revenue_12m",
    "revenue_prev_12m",
    "revenue_total",
    "base_revenue",
    "support_hours_12m",
    "cost_to_serve",
)


def signed_log1p(x):
    """``sign(x) · log(1 + |x|)``: a log for money that keeps zero and negative amounts.

    Examples
    --------
    >>> signed_log1p([-(np.e - 1), 0.0, np.e - 1]).round(12).tolist()
    [-1.0, 0.0, 1.0]
    """
    x = np.asarray(x, dtype=float)
    return np.sign(x) * np.log1p(np.abs(x))


def _numeric_columns(frame: pd.DataFrame) -> list[str]:
    return [
        c
        for c in frame.columns
        if pd.api.types.is_numeric_dtype(frame[c]) and not pd.api.types.is_bool_dtype(frame[c])
    ]


def _resolve_features(X, feature_columns: Sequence[str] | None) -> list[str] | None:
    """The feature columns to use: explicit list, else the defaults present, else all numeric."""
    if not isinstance(X, pd.DataFrame):
        return None
    if feature_columns is not None:
        missing = [c for c in feature_columns if c not in X.columns]
        if missing:
            raise ValueError(f"feature columns not in the frame: {', '.join(missing)}")
        return list(feature_columns)
    present = [c for c in DEFAULT_FEATURES if c in X.columns]
    return present or _numeric_columns(X)


class ColumnSelector(TransformerMixin, BaseEstimator):
    """Select feature columns of a DataFrame as floats and count their missing values.

    Parameters
    ----------
    feature_columns : sequence of str or None
        Columns to keep; ``None`` keeps :data:`DEFAULT_FEATURES` present in the frame, or every
        numeric column when none is. Arrays pass through unchanged.

    Attributes
    ----------
    feature_names_out_ : list of str
    n_missing_ : pandas.Series
        Missing values per selected column in the data seen by ``fit`` (imputed downstream).

    Examples
    --------
    >>> frame = pd.DataFrame({"nps": [7.0, None], "industry": ["a", "b"], "x": [1, 2]})
    >>> ColumnSelector().fit(frame).n_missing_.to_dict()
    {'nps': 1}
    """

    def __init__(self, feature_columns: Sequence[str] | None = None):
        self.feature_columns = feature_columns

    def fit(self, X, y=None):
        cols = _resolve_features(X, self.feature_columns)
        if cols is None:
            arr = np.asarray(X, dtype=float)
            cols = [f"x{i}" for i in range(arr.shape[1])]
            frame = pd.DataFrame(arr, columns=cols)
        else:
            frame = X[cols]
        self.feature_names_out_ = cols
        self.n_missing_ = frame.isna().sum().astype(int).rename("n_missing")
        return self

    def transform(self, X):
        if isinstance(X, pd.DataFrame) and set(self.feature_names_out_) <= set(X.columns):
            return X[self.feature_names_out_].astype(float)
        arr = np.asarray(X, dtype=float)
        return pd.DataFrame(arr, columns=self.feature_names_out_, index=getattr(X, "index", None))

    def get_feature_names_out(self, input_features=None):
        return np.asarray(self.feature_names_out_, dtype=object)


def make_preprocessor(
    feature_columns: Sequence[str] | None = None,
    log_money: bool | str = True,
    pca: int | float | None = None,
    *,
    money_columns: Sequence[str] | None = None,
    random_state: int = 0,
) -> Pipeline:
    """A pipeline from an account-features frame to a scaled numeric matrix.

    Steps: ``select`` (:class:`ColumnSelector`, counts missing values) → ``money`` (transform
    the heavy-tailed money columns) → ``impute`` (median) → ``scale`` (z-scores) → ``pca``
    (optional).

    Parameters
    ----------
    feature_columns : sequence of str or None
        Feature columns; ``None`` uses :data:`DEFAULT_FEATURES` present in the frame.
    log_money : bool or {"log1p", "yeo-johnson"}
        ``True``/``"log1p"``: :func:`signed_log1p`; ``"yeo-johnson"``: a fitted Yeo-Johnson
        power transform; ``False``: money columns are only scaled.
    pca : int, float or None
        Keep this many principal components (or this share of variance when a float < 1).
    money_columns : sequence of str or None
        Which features are money; ``None`` means the features listed in :data:`MONEY_COLUMNS`.
    random_state : int
        Seed of the PCA solver.

    Returns
    -------
    sklearn.pipeline.Pipeline
        Outputs pandas DataFrames (``set_output(transform="pandas")``).

    Examples
    --------
    >>> frame = pd.DataFrame({"revenue_12m": [10.0, 100.0, 1000.0], "nps": [1.0, None, 9.0]})
    >>> make_preprocessor().fit_transform(frame).round(3)
       revenue_12m    nps
    0       -1.218 -1.225
    1       -0.014  0.000
    2        1.232  1.225
    """
    money_kind = "log1p" if log_money is True else None if log_money is False else log_money
    if money_kind not in (None, "log1p", "yeo-johnson"):
        raise ValueError(
            f"log_money must be True, False, 'log1p' or 'yeo-johnson', not {log_money!r}"
        )
    money = list(MONEY_COLUMNS if money_columns is None else money_columns)

    def money_cols(frame: pd.DataFrame) -> list[str]:
        return [c for c in frame.columns if c in money]

    if money_kind == "log1p":
        money_step = FunctionTransformer(signed_log1p, feature_names_out="one-to-one")
    elif money_kind == "yeo-johnson":
        money_step = PowerTransformer(method="yeo-johnson", standardize=False)
    else:
        money_step = "passthrough"
    steps = [
        ("select", ColumnSelector(feature_columns)),
        (
            "money",
            ColumnTransformer(
                [("money", money_step, money_cols)],
                remainder="passthrough",
                verbose_feature_names_out=False,
            ),
        ),
        ("impute", SimpleImputer(strategy="median", keep_empty_features=True)),
        ("scale", StandardScaler()),
    ]
    if pca is not None:
        steps.append(("pca", PCA(n_components=pca, random_state=random_state)))
    return Pipeline(steps).set_output(transform="pandas")
