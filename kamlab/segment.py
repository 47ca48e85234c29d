"""Data-driven account segments, and how they compare with rule-based tiers and types.

The question this module answers: do clusters of accounts agree with the key-account tiers and
types that rules produce, and which partition separates *future* growth and churn better?

Steps, each a small function or estimator:

1. :func:`make_preprocessor` - a scikit-learn pipeline: select the feature columns, log (or
   Yeo-Johnson) the heavy-tailed money columns, impute medians, scale, optionally PCA.
2. :class:`Segmenter` - KMeans, Gaussian mixture or Ward clustering on the prepared features,
   seeded, with segments relabelled deterministically (segment 0 has the highest mean revenue).
3. :func:`choose_k`, :func:`recommend_k` - internal indices per number of segments.
4. :func:`stability` - bootstrap adjusted Rand index against the full-data solution; warns with
   :class:`UnstableSegmentsWarning` below :data:`STABILITY_THRESHOLD`.
5. :func:`profile_segments`, :func:`name_segments` - what each segment looks like.
6. :func:`compare_partitions`, :func:`outcome_separation`, :func:`compare_outcome_separation` -
   agreement between partitions (crosstab, ARI, AMI) and how well each separates an outcome
   (group means with bootstrap intervals, eta², omega², epsilon², Kruskal-Wallis).

Partitions are plain label Series indexed by account, so any rule (``kamlab.criteria`` tiers
and types, or the simple :func:`size_tiers` / :func:`quadrant_types` here) can be compared.

Small fits run with one BLAS/OpenMP thread (:data:`SINGLE_THREAD_BELOW` rows): on a few hundred
accounts thread start-up costs far more than the arithmetic.
"""

from __future__ import annotations

import warnings
from collections.abc import Mapping, Sequence
from contextlib import nullcontext
from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy import stats
from sklearn.base import BaseEstimator, ClusterMixin, TransformerMixin
from sklearn.cluster import AgglomerativeClustering, KMeans
from sklearn.compose import ColumnTransformer
from sklearn.decomposition import PCA
from sklearn.impute import SimpleImputer
from sklearn.metrics import (
    adjusted_mutual_info_score,
    adjusted_rand_score,
    calinski_harabasz_score,
    davies_bouldin_score,
    silhouette_score,
)
from sklearn.mixture import GaussianMixture
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import FunctionTransformer, PowerTransformer, StandardScaler
from threadpoolctl import threadpool_limits

__all__ = [
    "ALGORITHMS",
    "DEFAULT_FEATURES",
    "MONEY_COLUMNS",
    "STABILITY_THRESHOLD",
    "ColumnSelector",
    "PartitionComparison",
    "Segmenter",
    "Separation",
    "UnstableSegmentsWarning",
    "choose_k",
    "compare_outcome_separation",
    "compare_partitions",
    "effect_sizes",
    "embed_2d",
    "make_preprocessor",
    "name_segments",
    "outcome_separation",
    "plot_crosstab",
    "plot_embedding",
    "plot_k_selection",
    "plot_outcome_by_group",
    "profile_segments",
    "quadrant_types",
    "recommend_k",
    "signed_log1p",
    "size_tiers",
    "stability",
]

ALGORITHMS = ("kmeans", "gmm", "ward")

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
#: Mean bootstrap ARI below which a solution is called unstable (Hennig 2007 calls clusters
#: with mean Jaccard below 0.6 "dissolved"; we use the same cut on the ARI).
STABILITY_THRESHOLD = 0.6
#: Fits on fewer rows than this run single-threaded (thread start-up dominates below it).
SINGLE_THREAD_BELOW = 20_000


class UnstableSegmentsWarning(UserWarning):
    """A clustering solution does not survive bootstrap resampling (mean ARI below threshold)."""


# --------------------------------------------------------------------------------------------
# 1. Feature preparation
# --------------------------------------------------------------------------------------------


def signed_log1p(x):
    """``sign(x) · log(1 + |x|)``: a log for money that keeps zero and negative amounts."""
    x = np.asarray(x, dtype=float)
    return np.sign(x) * np.log1p(np.abs(x))


def _numeric_columns(frame: pd.DataFrame) -> list[str]:
    return [
        c
        for c in frame.columns
        if pd.api.types.is_numeric_dtype(frame[c]) and not pd.api.types.is_bool_dtype(frame[c])
    ]


def _resolve_features(X, features: Sequence[str] | None) -> list[str] | None:
    """The feature columns to use: explicit list, else the defaults present, else all numeric."""
    if not isinstance(X, pd.DataFrame):
        return None
    if features is not None:
        missing = [c for c in features if c not in X.columns]
        if missing:
            raise KeyError(f"feature columns not in the frame: {', '.join(missing)}")
        return list(features)
    present = [c for c in DEFAULT_FEATURES if c in X.columns]
    return present or _numeric_columns(X)


class ColumnSelector(TransformerMixin, BaseEstimator):
    """Select feature columns of a DataFrame as floats and count their missing values.

    Parameters
    ----------
    features : sequence of str or None
        Columns to keep; ``None`` keeps :data:`DEFAULT_FEATURES` present in the frame, or every
        numeric column when none is. Arrays pass through unchanged.

    Attributes
    ----------
    feature_names_out_ : list of str
    n_missing_ : pandas.Series
        Missing values per selected column in the data seen by ``fit`` (imputed downstream).
    """

    def __init__(self, features: Sequence[str] | None = None):
        self.features = features

    def fit(self, X, y=None):
        cols = _resolve_features(X, self.features)
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
    features: Sequence[str] | None = None,
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
    features : sequence of str or None
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
    """
    money_kind = {True: "log1p", False: None}.get(log_money, log_money)
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
        ("select", ColumnSelector(features)),
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


def _prepare(X, features, log_money, pca, money_columns, random_state) -> pd.DataFrame:
    prep = make_preprocessor(
        features, log_money, pca, money_columns=money_columns, random_state=random_state
    )
    Z = prep.fit_transform(X)
    if isinstance(X, pd.DataFrame):
        Z.index = X.index
    return Z


# --------------------------------------------------------------------------------------------
# 2. Clustering
# --------------------------------------------------------------------------------------------


def _threads(n_rows: int):
    return threadpool_limits(limits=1) if n_rows < SINGLE_THREAD_BELOW else nullcontext()


def _make_model(
    algorithm: str, n_clusters: int, random_state: int, n_init: int, covariance_type: str
):
    if algorithm == "kmeans":
        return KMeans(n_clusters=n_clusters, n_init=n_init, random_state=random_state)
    if algorithm == "gmm":
        return GaussianMixture(
            n_components=n_clusters,
            covariance_type=covariance_type,
            n_init=max(1, n_init // 4),
            random_state=random_state,
        )
    if algorithm == "ward":
        return AgglomerativeClustering(n_clusters=n_clusters, linkage="ward")
    raise ValueError(f"algorithm must be one of {ALGORITHMS}, not {algorithm!r}")


def _fit_labels(model, Z: np.ndarray) -> np.ndarray:
    with _threads(len(Z)):
        return np.asarray(model.fit_predict(Z))


class Segmenter(ClusterMixin, BaseEstimator):
    """Cluster accounts on prepared features, with deterministic segment numbers.

    Parameters
    ----------
    algorithm : {"kmeans", "gmm", "ward"}
        KMeans, Gaussian mixture (full covariance by default) or agglomerative Ward linkage.
    n_clusters : int
        Number of segments.
    random_state : int
        Seed for KMeans / mixture initialisation and PCA.
    features : sequence of str or None
        Feature columns (see :func:`make_preprocessor`).
    log_money, pca, money_columns
        Passed to :func:`make_preprocessor`.
    order_by : str
        Segments are numbered by decreasing mean of this raw column (default ``revenue_12m``):
        segment 0 is the biggest. When the column is absent, by decreasing mean of the row sum
        of the prepared features (the overall level). Ties break by size, then fit order.
    n_init : int
        KMeans restarts (the mixture uses ``n_init // 4``, at least 1).
    covariance_type : str
        Mixture covariance type.

    Attributes
    ----------
    labels_ : pandas.Series
        Segment (0 … k-1) per account, named ``segment``, indexed like ``X``.
    preprocessor_ : sklearn.pipeline.Pipeline
    model_ : the fitted clusterer
    mapping_ : numpy.ndarray
        ``mapping_[raw_label]`` is the segment number.
    centers_ : pandas.DataFrame
        Segment means in the prepared space, one row per segment.
    n_features_in_ : int
    """

    def __init__(
        self,
        algorithm: str = "kmeans",
        n_clusters: int = 4,
        random_state: int = 0,
        features: Sequence[str] | None = None,
        log_money: bool | str = True,
        pca: int | float | None = None,
        money_columns: Sequence[str] | None = None,
        order_by: str = "revenue_12m",
        n_init: int = 10,
        covariance_type: str = "full",
    ):
        self.algorithm = algorithm
        self.n_clusters = n_clusters
        self.random_state = random_state
        self.features = features
        self.log_money = log_money
        self.pca = pca
        self.money_columns = money_columns
        self.order_by = order_by
        self.n_init = n_init
        self.covariance_type = covariance_type

    def fit(self, X, y=None) -> Segmenter:
        """Prepare ``X``, cluster it and number the segments; returns self."""
        self.preprocessor_ = make_preprocessor(
            self.features,
            self.log_money,
            self.pca,
            money_columns=self.money_columns,
            random_state=self.random_state,
        )
        Z = self.preprocessor_.fit_transform(X)
        index = X.index if isinstance(X, pd.DataFrame) else pd.RangeIndex(len(Z))
        self.n_features_in_ = Z.shape[1]
        self.model_ = _make_model(
            self.algorithm, self.n_clusters, self.random_state, self.n_init, self.covariance_type
        )
        raw = _fit_labels(self.model_, Z.to_numpy())
        if isinstance(X, pd.DataFrame) and self.order_by in X.columns:
            key = X[self.order_by].to_numpy(dtype=float)
        else:
            key = Z.to_numpy().sum(axis=1)
        self.mapping_ = _order_labels(raw, key, self.n_clusters)
        labels = self.mapping_[raw]
        self.labels_ = pd.Series(labels, index=index, name="segment")
        centers = pd.DataFrame(Z.to_numpy(), columns=Z.columns).groupby(labels).mean()
        self.centers_ = centers.reindex(range(self.n_clusters))
        self.centers_.index.name = "segment"
        return self

    def transform(self, X) -> pd.DataFrame:
        """The prepared feature matrix of ``X`` (after the fitted preprocessor)."""
        Z = self.preprocessor_.transform(X)
        if isinstance(X, pd.DataFrame):
            Z.index = X.index
        return Z

    def predict(self, X) -> pd.Series:
        """Segment of new accounts (Ward: the nearest segment centre)."""
        Z = self.transform(X)
        if self.algorithm == "ward":
            centers = self.centers_.to_numpy()
            d = ((Z.to_numpy()[:, None, :] - centers[None]) ** 2).sum(axis=2)
            labels = np.nanargmin(d, axis=1)
        else:
            with _threads(len(Z)):
                labels = self.mapping_[self.model_.predict(Z.to_numpy())]
        return pd.Series(labels, index=Z.index, name="segment")


def _order_labels(raw: np.ndarray, key: np.ndarray, k: int) -> np.ndarray:
    """Map raw cluster ids to segment numbers by decreasing mean ``key`` (then size, then id)."""
    ids = np.arange(k)
    counts = np.bincount(raw, minlength=k)
    finite = np.isfinite(key)
    sums = np.bincount(raw[finite], weights=key[finite], minlength=k)
    n_fin = np.bincount(raw[finite], minlength=k)
    with np.errstate(invalid="ignore", divide="ignore"):
        means = np.where(n_fin > 0, sums / np.maximum(n_fin, 1), -np.inf)
    order = np.lexsort((ids, -counts, -means))  # last key is primary
    mapping = np.empty(k, dtype=int)
    mapping[order] = ids
    return mapping


# --------------------------------------------------------------------------------------------
# 3. Choice of k
# --------------------------------------------------------------------------------------------


def choose_k(
    X,
    k_range: Sequence[int] = range(2, 9),
    algorithm: str = "kmeans",
    random_state: int = 0,
    *,
    features: Sequence[str] | None = None,
    log_money: bool | str = True,
    pca: int | float | None = None,
    money_columns: Sequence[str] | None = None,
    n_init: int = 10,
    covariance_type: str = "full",
) -> pd.DataFrame:
    """Internal validity indices for each number of segments.

    Returns
    -------
    pandas.DataFrame
        One row per ``k``: ``silhouette`` (higher is better), ``calinski_harabasz`` (higher),
        ``davies_bouldin`` (lower), ``bic`` (mixture only, lower; NaN otherwise) and
        ``smallest_share`` (share of accounts in the smallest segment).
    """
    Z = _prepare(X, features, log_money, pca, money_columns, random_state).to_numpy()
    rows = []
    for k in k_range:
        model = _make_model(algorithm, int(k), random_state, n_init, covariance_type)
        labels = _fit_labels(model, Z)
        n_labels = len(np.unique(labels))
        ok = 1 < n_labels < len(Z)
        rows.append(
            {
                "k": int(k),
                "silhouette": silhouette_score(Z, labels) if ok else np.nan,
                "calinski_harabasz": calinski_harabasz_score(Z, labels) if ok else np.nan,
                "davies_bouldin": davies_bouldin_score(Z, labels) if ok else np.nan,
                "bic": model.bic(Z) if algorithm == "gmm" else np.nan,
                "smallest_share": np.bincount(labels).min() / len(labels),
            }
        )
    return pd.DataFrame(rows)


def recommend_k(
    table: pd.DataFrame,
    stability_table: pd.DataFrame | None = None,
    *,
    criterion: str | None = None,
    threshold: float = STABILITY_THRESHOLD,
) -> tuple[int, str]:
    """Recommend a number of segments from :func:`choose_k` (and optionally :func:`stability`).

    The rule: among the ``k`` whose bootstrap mean ARI reaches ``threshold`` (all ``k`` when no
    stability table is given, or when none is stable), take the best ``criterion``: lowest
    ``bic`` when the table has BIC values, else highest ``silhouette``. Ties go to the smaller k.

    Returns
    -------
    (int, str)
        The recommended ``k`` and a one-sentence reason.
    """
    if criterion is None:
        criterion = "bic" if table["bic"].notna().any() else "silhouette"
    lower_better = criterion in ("bic", "davies_bouldin")
    cand = table.dropna(subset=[criterion])
    note = ""
    if stability_table is not None:
        stable = stability_table.loc[stability_table["mean_ari"] >= threshold, "k"]
        if cand["k"].isin(stable).any():
            cand = cand[cand["k"].isin(stable)]
            note = f" among the solutions with mean bootstrap ARI ≥ {threshold:g}"
        else:
            note = (
                f", but no k reached mean bootstrap ARI ≥ {threshold:g}, so treat the "
                f"segments with caution"
            )
    if cand.empty:
        raise ValueError(f"no k has a value of {criterion!r}")
    values = cand[criterion].to_numpy()
    best = values.min() if lower_better else values.max()
    k = int(cand.loc[values == best, "k"].min())
    word = "lowest" if lower_better else "highest"
    reason = f"k = {k} has the {word} {criterion.replace('_', '-')} ({best:.3f}){note}."
    return k, reason


# --------------------------------------------------------------------------------------------
# 4. Stability
# --------------------------------------------------------------------------------------------


def stability(
    X,
    k_range: Sequence[int] = range(2, 9),
    n_boot: int = 50,
    random_state: int = 0,
    *,
    algorithm: str = "kmeans",
    threshold: float = STABILITY_THRESHOLD,
    warn: bool = True,
    features: Sequence[str] | None = None,
    log_money: bool | str = True,
    pca: int | float | None = None,
    money_columns: Sequence[str] | None = None,
    n_init: int = 4,
    covariance_type: str = "full",
) -> pd.DataFrame:
    """Bootstrap stability of the clustering for each number of segments.

    The features are prepared once on all accounts; for each of ``n_boot`` bootstrap samples
    (rows drawn with replacement, the same samples for every ``k``) the clustering is refitted
    and its labels compared, on the resampled rows, with the full-data labels by the adjusted
    Rand index (ARI; 1 = identical partitions, about 0 = chance agreement).

    Parameters
    ----------
    threshold : float
        Solutions with mean ARI below it are flagged (``stable`` False) and, when ``warn``,
        reported in one :class:`UnstableSegmentsWarning`.
    n_init : int
        KMeans restarts per refit (fewer than the final fit: each refit is one replicate).

    Returns
    -------
    pandas.DataFrame
        One row per ``k``: ``mean_ari``, ``sd_ari``, ``q05``, ``q95``, ``n_boot``, ``stable``.
    """
    Z = _prepare(X, features, log_money, pca, money_columns, random_state).to_numpy()
    n = len(Z)
    rng = np.random.default_rng(random_state)
    samples = rng.integers(0, n, size=(n_boot, n))
    seeds = rng.integers(0, 2**31 - 1, size=n_boot)
    rows = []
    with _threads(n):
        for k in k_range:
            k = int(k)
            full = _make_model(
                algorithm, k, random_state, max(n_init, 10), covariance_type
            ).fit_predict(Z)
            ari = np.empty(n_boot)
            for b in range(n_boot):
                idx = samples[b]
                model = _make_model(algorithm, k, int(seeds[b]), n_init, covariance_type)
                ari[b] = adjusted_rand_score(full[idx], model.fit_predict(Z[idx]))
            q05, q95 = np.quantile(ari, [0.05, 0.95])
            rows.append(
                {
                    "k": k,
                    "mean_ari": ari.mean(),
                    "sd_ari": ari.std(ddof=1) if n_boot > 1 else np.nan,
                    "q05": q05,
                    "q95": q95,
                    "n_boot": n_boot,
                }
            )
    table = pd.DataFrame(rows)
    table["stable"] = table["mean_ari"] >= threshold
    if warn and not table["stable"].all():
        bad = table.loc[~table["stable"]]
        listed = ", ".join(f"k={k} (mean ARI {a:.2f})" for k, a in zip(bad["k"], bad["mean_ari"]))
        warnings.warn(
            f"unstable segments: {listed} below the threshold {threshold:g}; these partitions "
            f"change under resampling and should not be interpreted.",
            UnstableSegmentsWarning,
            stacklevel=2,
        )
    return table


# --------------------------------------------------------------------------------------------
# 5. Profiles and names
# --------------------------------------------------------------------------------------------

#: Traits used by :func:`name_segments`: column → (word when high, word when low).
NAME_TRAITS = {
    "revenue_12m": ("large", "small"),
    "revenue_growth_12m": ("growing", "shrinking"),
    "fit": ("high-fit", "low-fit"),
    "order_frequency": ("frequent", "occasional"),
    "gross_margin_12m": ("high-margin", "low-margin"),
    "cost_to_serve": ("costly to serve", "cheap to serve"),
    "nps": ("satisfied", "dissatisfied"),
}


def profile_segments(
    features: pd.DataFrame,
    labels: pd.Series,
    *,
    revenue: str = "revenue_12m",
    criteria: Sequence[str] | None = None,
    attributes: Sequence[str] = ("industry", "region"),
) -> pd.DataFrame:
    """What each segment looks like.

    Parameters
    ----------
    features : pandas.DataFrame
        Account features (:func:`kamlab.features.account_features`), indexed by account.
    labels : pandas.Series
        Segment (or tier, or type) per account; accounts without a label are left out.
    revenue : str
        Revenue column for the revenue share.
    criteria : sequence of str or None
        Columns whose means are shown; ``None``: :data:`DEFAULT_FEATURES` present plus ``fit``
        (the mean of the ``score_*`` assessment columns) when there are any.
    attributes : sequence of str
        Categorical columns summarised by their most common value and its share.

    Returns
    -------
    pandas.DataFrame
        Indexed by label: ``n_accounts``, ``share_accounts``, ``revenue_share``, the criteria
        means, and ``<attribute>_mode`` / ``<attribute>_mode_share``. ``attrs["standardised"]``
        holds each segment's criteria means minus the overall mean in overall standard
        deviations (money columns on the signed-log scale), used by :func:`name_segments`.
    """
    labels = labels.dropna()
    frame = features.loc[features.index.intersection(labels.index, sort=False)].copy()
    group = labels.reindex(frame.index).rename("group")
    scores = [c for c in frame.columns if c.startswith("score_")]
    if scores:
        frame["fit"] = frame[scores].mean(axis=1)
    if criteria is None:
        criteria = [c for c in DEFAULT_FEATURES if c in frame.columns]
        if scores:
            criteria.append("fit")
    criteria = list(criteria)
    grouped = frame.groupby(group, sort=True, observed=True)
    out = pd.DataFrame({"n_accounts": grouped.size()})
    out["share_accounts"] = out["n_accounts"] / out["n_accounts"].sum()
    if revenue in frame:
        rev = grouped[revenue].sum()
        out["revenue_share"] = rev / frame[revenue].sum()
    out = out.join(grouped[criteria].mean())
    for col in attributes:
        if col not in frame:
            continue
        counts = frame.groupby([group, frame[col]], sort=True, observed=True).size()
        top = counts.sort_values(ascending=False, kind="stable").groupby(level=0).head(1)
        top = top.rename("count").reset_index().set_index("group")
        out[f"{col}_mode"] = top[col]
        out[f"{col}_mode_share"] = top["count"] / out["n_accounts"]
    out.index.name = labels.name if labels.name is not None else "group"
    scaled = frame[criteria].astype(float).copy()
    for c in criteria:
        if c in MONEY_COLUMNS:
            scaled[c] = signed_log1p(scaled[c])
    sd = scaled.std(ddof=0).replace(0, np.nan)
    z = (scaled.groupby(group, sort=True, observed=True).mean() - scaled.mean()) / sd
    out.attrs["standardised"] = z.to_dict(orient="index")
    return out


def name_segments(profile: pd.DataFrame, threshold: float = 0.3, max_traits: int = 3) -> pd.Series:
    """Readable names from each segment's dominant traits, e.g. ``"large, growing, high-fit"``.

    A trait of :data:`NAME_TRAITS` enters a name when the segment's mean differs from the
    overall mean by at least ``threshold`` standard deviations (from
    ``profile.attrs["standardised"]``; without it, across segment means). The ``max_traits``
    strongest traits are listed in the order of :data:`NAME_TRAITS`. A segment with no
    distinct trait is ``"average"``; duplicate names get the segment number appended.
    """
    traits = [c for c in NAME_TRAITS if c in profile.columns]
    z = profile.attrs.get("standardised")
    if z:
        zf = pd.DataFrame.from_dict(z, orient="index").reindex(index=profile.index, columns=traits)
    else:
        vals = profile[traits].astype(float)
        zf = (vals - vals.mean()) / vals.std(ddof=0).replace(0, np.nan)
    names = {}
    for seg, row in zf.iterrows():
        strong = row[row.abs() >= threshold].dropna()
        strong = strong.reindex(
            strong.abs().sort_values(ascending=False, kind="stable").index[:max_traits]
        )
        words = [NAME_TRAITS[c][0 if strong[c] > 0 else 1] for c in traits if c in strong]
        names[seg] = ", ".join(words) if words else "average"
    out = pd.Series(names, name="name")
    dup = out.duplicated(keep=False)
    out[dup] = [f"{n} ({s})" for s, n in out[dup].items()]
    out.index.name = profile.index.name
    return out


# --------------------------------------------------------------------------------------------
# 6. Comparing partitions and their outcomes
# --------------------------------------------------------------------------------------------


def size_tiers(
    features: pd.DataFrame,
    strategic: float = 0.03,
    key: float = 0.15,
    *,
    revenue: str = "revenue_12m",
) -> pd.Series:
    """A plain size rule: top ``strategic`` share of accounts by revenue are ``strategic``, the
    accounts up to the top ``key`` share (cumulative) ``key``, the rest ``regular``.

    Returns an ordered categorical Series (regular < key < strategic) named ``tier``. Ranks
    break ties by account order.
    """
    if not 0 <= strategic <= key <= 1:
        raise ValueError("need 0 <= strategic <= key <= 1")
    n = len(features)
    order = np.argsort(-features[revenue].to_numpy(dtype=float), kind="stable")
    rank = np.empty(n, dtype=int)
    rank[order] = np.arange(n)
    n_strategic, n_key = int(round(strategic * n)), int(round(key * n))
    tier = np.where(rank < n_strategic, "strategic", np.where(rank < n_key, "key", "regular"))
    cats = pd.CategoricalDtype(["regular", "key", "strategic"], ordered=True)
    return pd.Series(tier, index=features.index, name="tier").astype(cats)


def quadrant_types(
    features: pd.DataFrame,
    *,
    share: str = "revenue_share",
    growth: str = "revenue_growth_12m",
    share_cut: float | None = None,
    growth_cut: float | None = None,
) -> pd.Series:
    """A plain revenue share × growth quadrant: strategic (high, high), stable (high, low),
    high-growth (low, high), tactical (low, low); cuts default to the medians. Accounts with
    unknown growth count as low growth. Returns a categorical Series named ``type``."""
    s = features[share].astype(float)
    g = features[growth].astype(float)
    share_cut = s.median() if share_cut is None else share_cut
    growth_cut = g.median() if growth_cut is None else growth_cut
    hi_s, hi_g = (s > share_cut).to_numpy(), (g > growth_cut).fillna(False).to_numpy()
    kind = np.select([hi_s & hi_g, hi_s, hi_g], ["strategic", "stable", "high-growth"], "tactical")
    cats = pd.CategoricalDtype(["strategic", "high-growth", "stable", "tactical"])
    return pd.Series(kind, index=features.index, name="type").astype(cats)


@dataclass(frozen=True)
class PartitionComparison:
    """Agreement between two partitions of the same accounts.

    Attributes
    ----------
    crosstab : pandas.DataFrame
        Accounts per (label a, label b); rows a, columns b.
    ari, ami : float
        Adjusted Rand index and adjusted mutual information (1 = same partition, ~0 = chance).
    n : int
        Accounts labelled in both.
    """

    crosstab: pd.DataFrame
    ari: float
    ami: float
    n: int


def _align(a: pd.Series, b: pd.Series) -> tuple[pd.Series, pd.Series]:
    both = pd.concat([a.rename("a"), b.rename("b")], axis=1, join="inner").dropna()
    return both["a"], both["b"]


def compare_partitions(labels_a: pd.Series, labels_b: pd.Series) -> PartitionComparison:
    """Crosstab, ARI and AMI of two label Series, on the accounts labelled in both."""
    a, b = _align(labels_a, labels_b)
    tab = pd.crosstab(a.rename(labels_a.name or "a"), b.rename(labels_b.name or "b"), dropna=False)
    ca, cb = pd.factorize(a, sort=True)[0], pd.factorize(b, sort=True)[0]
    return PartitionComparison(
        crosstab=tab,
        ari=float(adjusted_rand_score(ca, cb)),
        ami=float(adjusted_mutual_info_score(ca, cb)),
        n=len(a),
    )


def effect_sizes(labels: pd.Series, outcome: pd.Series) -> pd.Series:
    """How much of an outcome's variation a partition explains.

    Returns
    -------
    pandas.Series
        ``n``, ``groups``; ``eta2`` = SS_between / SS_total; ``omega2`` = (SS_between − (g−1)
        MS_within) / (SS_total + MS_within), which corrects eta² for the number of groups;
        ``epsilon2`` = H / (n − 1), the rank-based effect size of the Kruskal-Wallis test;
        ``kruskal_h`` and ``p_value`` (scipy.stats.kruskal, tie-corrected).
    """
    lab, y = _align(labels, outcome.astype(float))
    y = y.to_numpy(dtype=float)
    codes = pd.factorize(lab, sort=True)[0]
    n, g = len(y), int(codes.max()) + 1 if len(codes) else 0
    counts = np.bincount(codes, minlength=g)
    means = np.bincount(codes, weights=y, minlength=g) / np.maximum(counts, 1)
    ss_total = float(((y - y.mean()) ** 2).sum())
    ss_between = float((counts * (means - y.mean()) ** 2).sum())
    ss_within = ss_total - ss_between
    ms_within = ss_within / (n - g) if n > g else np.nan
    eta2 = ss_between / ss_total if ss_total > 0 else np.nan
    omega2 = (
        (ss_between - (g - 1) * ms_within) / (ss_total + ms_within)
        if ss_total > 0 and n > g
        else np.nan
    )
    if g >= 2 and ss_total > 0:
        h, p = stats.kruskal(*[y[codes == i] for i in range(g)])
        h, p = float(h), float(p)
    else:
        h, p = np.nan, np.nan
    epsilon2 = h / (n - 1) if n > 1 else np.nan
    return pd.Series(
        {
            "n": n,
            "groups": g,
            "eta2": eta2,
            "omega2": omega2,
            "epsilon2": epsilon2,
            "kruskal_h": h,
            "p_value": p,
        }
    )


@dataclass(frozen=True)
class Separation:
    """Outcome by group: ``groups`` (n, mean, ci_low, ci_high, median per group) and ``effect``
    (:func:`effect_sizes`)."""

    groups: pd.DataFrame
    effect: pd.Series


def outcome_separation(
    labels: pd.Series,
    outcome: pd.Series,
    n_boot: int = 1000,
    random_state: int = 0,
    *,
    level: float = 0.95,
) -> Separation:
    """Mean outcome per group with percentile bootstrap intervals, and the effect sizes.

    Each group's mean is resampled ``n_boot`` times (rows with replacement within the group,
    groups in sorted order from one seeded generator). Boolean outcomes (``churned``) give rates.
    """
    lab, y = _align(labels, outcome.astype(float))
    rng = np.random.default_rng(random_state)
    alpha = (1 - level) / 2
    rows = []
    keys = lab.unique()
    keys = (
        sorted(keys)
        if not isinstance(lab.dtype, pd.CategoricalDtype)
        else [c for c in lab.cat.categories if c in set(keys)]
    )
    for key in keys:
        v = y[lab == key].to_numpy(dtype=float)
        boot = v[rng.integers(0, len(v), size=(n_boot, len(v)))].mean(axis=1)
        lo, hi = np.quantile(boot, [alpha, 1 - alpha])
        rows.append(
            {
                "group": key,
                "n": len(v),
                "mean": v.mean(),
                "ci_low": lo,
                "ci_high": hi,
                "median": float(np.median(v)),
            }
        )
    groups = pd.DataFrame(rows).set_index("group")
    groups.index.name = labels.name if labels.name is not None else "group"
    return Separation(groups=groups, effect=effect_sizes(lab, y))


def compare_outcome_separation(
    partitions: Mapping[str, pd.Series], outcome, *, rank_by: str = "epsilon2"
) -> pd.DataFrame:
    """Rank partitions by how well they separate one or more outcomes.

    Parameters
    ----------
    partitions : mapping of name → label Series
        e.g. ``{"segments": seg, "tiers": tier, "types": type_}``.
    outcome : pandas.Series or pandas.DataFrame
        One outcome, or several as columns (e.g. ``features[["growth_dh", "churned"]]``).
    rank_by : str
        Effect size to rank by within each outcome (``epsilon2``: rank-based and robust to the
        heavy tails of growth; ``omega2`` corrects for the number of groups).

    Returns
    -------
    pandas.DataFrame
        One row per (outcome, partition) with the :func:`effect_sizes` columns and ``rank``
        (1 = best separation of that outcome), sorted by outcome then rank.
    """
    frame = outcome.to_frame() if isinstance(outcome, pd.Series) else outcome
    rows = []
    for col in frame.columns:
        for name, labels in partitions.items():
            eff = effect_sizes(labels, frame[col])
            rows.append({"outcome": col, "partition": name, **eff.to_dict()})
    table = pd.DataFrame(rows)
    table["n"] = table["n"].astype(int)
    table["groups"] = table["groups"].astype(int)
    table["rank"] = (
        table.groupby("outcome", sort=False)[rank_by]
        .rank(ascending=False, method="min")
        .astype(int)
    )
    order = {c: i for i, c in enumerate(frame.columns)}
    table = table.sort_values(
        ["outcome", "rank", "partition"],
        kind="stable",
        key=lambda s: s.map(order) if s.name == "outcome" else s,
    )
    return table.reset_index(drop=True)


# --------------------------------------------------------------------------------------------
# 7. Plots
# --------------------------------------------------------------------------------------------


def _axes(ax, **kw):
    import matplotlib.pyplot as plt

    if ax is None:
        _, ax = plt.subplots(**kw)
    return ax


def plot_k_selection(table: pd.DataFrame, axes=None, stability_table: pd.DataFrame | None = None):
    """One small panel per index of :func:`choose_k` (and the stability mean ARI with its 5–95 %
    band when given) against k. Returns the array of Axes."""
    import matplotlib.pyplot as plt

    metrics = [
        ("silhouette", "silhouette (↑)"),
        ("calinski_harabasz", "Calinski–Harabasz (↑)"),
        ("davies_bouldin", "Davies–Bouldin (↓)"),
    ]
    if table["bic"].notna().any():
        metrics.append(("bic", "BIC (↓)"))
    n_panels = len(metrics) + (stability_table is not None)
    if axes is None:
        _, axes = plt.subplots(1, n_panels, figsize=(3.2 * n_panels, 3), layout="constrained")
    axes = np.atleast_1d(axes)
    for ax, (col, title) in zip(axes, metrics):
        ax.plot(table["k"], table[col], marker="o")
        ax.set_title(title)
        ax.set_xlabel("k")
    if stability_table is not None:
        ax = axes[len(metrics)]
        st = stability_table
        ax.fill_between(st["k"], st["q05"], st["q95"], alpha=0.25)
        ax.plot(st["k"], st["mean_ari"], marker="o")
        ax.axhline(STABILITY_THRESHOLD, ls="--", color="grey", lw=1)
        ax.set_ylim(-0.05, 1.05)
        ax.set_title("bootstrap ARI (↑)")
        ax.set_xlabel("k")
    return axes


def embed_2d(Z, random_state: int = 0) -> pd.DataFrame:
    """First two principal components of a prepared matrix (``pc1``, ``pc2``), indexed like it;
    each component's sign is fixed so that its largest loading is positive."""
    frame = Z if isinstance(Z, pd.DataFrame) else pd.DataFrame(np.asarray(Z, dtype=float))
    pca = PCA(n_components=2, random_state=random_state)
    scores = pca.fit_transform(frame.to_numpy())
    signs = np.sign(pca.components_[np.arange(2), np.abs(pca.components_).argmax(axis=1)])
    out = pd.DataFrame(scores * signs, index=frame.index, columns=["pc1", "pc2"])
    out.attrs["explained_variance_ratio"] = pca.explained_variance_ratio_.tolist()
    return out


def plot_embedding(
    embedding: pd.DataFrame, labels: pd.Series, ax=None, *, title: str | None = None
):
    """Scatter of :func:`embed_2d` coloured by a label Series; returns the Axes."""
    ax = _axes(ax, figsize=(5, 4))
    lab = labels.reindex(embedding.index)
    keys = (
        list(lab.cat.categories)
        if isinstance(lab.dtype, pd.CategoricalDtype)
        else sorted(lab.dropna().unique())
    )
    for i, key in enumerate(keys):
        m = (lab == key).to_numpy()
        ax.scatter(
            embedding.loc[m, "pc1"],
            embedding.loc[m, "pc2"],
            s=14,
            alpha=0.8,
            color=f"C{i % 10}",
            label=str(key),
        )
    evr = embedding.attrs.get("explained_variance_ratio")
    ax.set_xlabel("PC1" + (f" ({evr[0]:.0%})" if evr else ""))
    ax.set_ylabel("PC2" + (f" ({evr[1]:.0%})" if evr else ""))
    ax.legend(title=labels.name, fontsize=8, title_fontsize=8, loc="best")
    if title:
        ax.set_title(title)
    return ax


def plot_crosstab(crosstab: pd.DataFrame, ax=None, *, normalize: bool = False):
    """Heatmap of a crosstab (counts, or row shares when ``normalize``); returns the Axes."""
    import seaborn as sns

    ax = _axes(ax, figsize=(5, 3.5))
    data = crosstab.div(crosstab.sum(axis=1), axis=0) if normalize else crosstab
    sns.heatmap(data, annot=True, fmt=".2f" if normalize else "d", cmap="Blues", cbar=False, ax=ax)
    return ax


def plot_outcome_by_group(
    groups: pd.DataFrame | Separation,
    ax=None,
    *,
    title: str | None = None,
    overall: float | None = None,
):
    """Mean outcome per group with its bootstrap interval (from :func:`outcome_separation`);
    returns the Axes."""
    ax = _axes(ax, figsize=(4.5, 3))
    table = groups.groups if isinstance(groups, Separation) else groups
    y = np.arange(len(table))
    ax.errorbar(
        table["mean"],
        y,
        xerr=[table["mean"] - table["ci_low"], table["ci_high"] - table["mean"]],
        fmt="o",
        capsize=3,
    )
    ax.set_yticks(y, [f"{g} (n={n})" for g, n in zip(table.index, table["n"])])
    ax.invert_yaxis()
    if overall is not None:
        ax.axvline(overall, ls="--", color="grey", lw=1)
    if title:
        ax.set_title(title)
    return ax
