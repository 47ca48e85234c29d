"""Clustering accounts: a seeded segmenter with deterministic segment numbers, the choice of k
and bootstrap stability.

:func:`choose_k` and :func:`stability` take a :class:`Segmenter` (as scikit-learn's
``validation_curve`` takes an estimator) and vary its number of segments; everything else
(features, money transform, PCA, algorithm, seeds) comes from the segmenter. Small fits run
single-threaded (:func:`kamlab._threads.limit_threads`): on a few hundred accounts thread
start-up costs far more than the arithmetic.
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence

import numpy as np
import pandas as pd
from sklearn import config_context
from sklearn.base import BaseEstimator, ClusterMixin
from sklearn.cluster import AgglomerativeClustering, KMeans
from sklearn.metrics import (
    adjusted_rand_score,
    calinski_harabasz_score,
    davies_bouldin_score,
    silhouette_score,
)
from sklearn.mixture import GaussianMixture

from kamlab import fmt
from kamlab._threads import limit_threads
from kamlab.segment.prepare import make_preprocessor

__all__ = [
    "ALGORITHMS",
    "STABILITY_THRESHOLD",
    "Segmenter",
    "UnstableSegmentsWarning",
    "choose_k",
    "describe_k",
    "recommend_k",
    "stability",
]

ALGORITHMS = ("kmeans", "gmm", "ward")
#: Mean bootstrap ARI below which a solution is called unstable (Hennig 2007 calls clusters
#: with mean Jaccard below 0.6 "dissolved"; we use the same cut on the ARI).
STABILITY_THRESHOLD = 0.6


class UnstableSegmentsWarning(UserWarning):
    """A clustering solution does not survive bootstrap resampling (mean ARI below threshold)."""


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
    feature_columns : sequence of str or None
        Feature columns (see :func:`~kamlab.segment.make_preprocessor`).
    log_money, pca, money_columns
        Passed to :func:`~kamlab.segment.make_preprocessor`.
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

    Examples
    --------
    >>> frame = pd.DataFrame({"revenue_12m": [10.0, 12, 11, 1000, 1100, 1050]})
    >>> Segmenter(n_clusters=2).fit(frame).labels_.tolist()
    [1, 1, 1, 0, 0, 0]
    """

    def __init__(
        self,
        algorithm: str = "kmeans",
        n_clusters: int = 4,
        random_state: int = 0,
        feature_columns: Sequence[str] | None = None,
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
        self.feature_columns = feature_columns
        self.log_money = log_money
        self.pca = pca
        self.money_columns = money_columns
        self.order_by = order_by
        self.n_init = n_init
        self.covariance_type = covariance_type

    def make_preprocessor(self):
        """A new (unfitted) preprocessing pipeline with this segmenter's parameters."""
        return make_preprocessor(
            self.feature_columns,
            self.log_money,
            self.pca,
            money_columns=self.money_columns,
            random_state=self.random_state,
        )

    def make_model(
        self,
        n_clusters: int | None = None,
        *,
        random_state: int | None = None,
        n_init: int | None = None,
    ):
        """A new (unfitted) clusterer with this segmenter's algorithm and the given overrides."""
        k = self.n_clusters if n_clusters is None else int(n_clusters)
        seed = self.random_state if random_state is None else int(random_state)
        restarts = self.n_init if n_init is None else int(n_init)
        if self.algorithm == "kmeans":
            return KMeans(n_clusters=k, n_init=restarts, random_state=seed)
        if self.algorithm == "gmm":
            return GaussianMixture(
                n_components=k,
                covariance_type=self.covariance_type,
                n_init=max(1, restarts // 4),
                random_state=seed,
            )
        if self.algorithm == "ward":
            return AgglomerativeClustering(n_clusters=k, linkage="ward")
        raise ValueError(f"algorithm must be one of {ALGORITHMS}, not {self.algorithm!r}")

    def fit(self, X, y=None) -> Segmenter:
        """Prepare ``X``, cluster it and number the segments; returns self."""
        self.model_ = self.make_model()
        self.preprocessor_ = self.make_preprocessor()
        Z = self.preprocessor_.fit_transform(X)
        index = X.index if isinstance(X, pd.DataFrame) else pd.RangeIndex(len(Z))
        self.n_features_in_ = Z.shape[1]
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
            with limit_threads(len(Z)):
                labels = self.mapping_[self.model_.predict(Z.to_numpy())]
        return pd.Series(labels, index=Z.index, name="segment")


def _fit_labels(model, Z: np.ndarray) -> np.ndarray:
    with limit_threads(len(Z)):
        return np.asarray(model.fit_predict(Z))


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


def _prepared(segmenter: Segmenter | None, X) -> tuple[Segmenter, np.ndarray]:
    segmenter = Segmenter() if segmenter is None else segmenter
    return segmenter, segmenter.make_preprocessor().fit_transform(X).to_numpy()


def choose_k(
    segmenter: Segmenter | None,
    X,
    k_range: Sequence[int] = range(2, 9),
    *,
    silhouette_sample: int | None = 5000,
) -> pd.DataFrame:
    """Internal validity indices of the segmenter for each number of segments.

    Parameters
    ----------
    segmenter : Segmenter or None
        Everything but the number of segments (None: the defaults).
    X : pandas.DataFrame
        Account features.
    k_range : sequence of int
    silhouette_sample : int or None
        The silhouette compares every pair of accounts (its cost grows with the square of
        their number): above this many accounts it is computed on a random subset of this size,
        the same subset for every ``k``, drawn from the segmenter's ``random_state``. None:
        always on every account.

    Returns
    -------
    pandas.DataFrame
        One row per ``k``: ``silhouette`` (higher is better), ``calinski_harabasz`` (higher),
        ``davies_bouldin`` (lower), ``bic`` (mixture only, lower; NaN otherwise) and
        ``smallest_share`` (share of accounts in the smallest segment).

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> frame = pd.DataFrame({"x": np.r_[rng.normal(0, 1, 50), rng.normal(9, 1, 50)]})
    >>> choose_k(Segmenter(), frame, [2, 3]).set_index("k")["silhouette"].idxmax()
    2
    """
    segmenter, Z = _prepared(segmenter, X)
    n = len(Z)
    subset = np.arange(n)
    if silhouette_sample is not None and n > silhouette_sample:
        rng = np.random.default_rng(segmenter.random_state)
        subset = np.sort(rng.choice(n, size=silhouette_sample, replace=False))
    rows = []
    with limit_threads(len(Z)):
        for k in k_range:
            model = segmenter.make_model(k)
            labels = np.asarray(model.fit_predict(Z))
            ok = 1 < len(np.unique(labels)) < len(Z)
            ok_sub = ok and 1 < len(np.unique(labels[subset])) < len(subset)
            rows.append(
                {
                    "k": int(k),
                    "silhouette": silhouette_score(Z[subset], labels[subset]) if ok_sub else np.nan,
                    "calinski_harabasz": calinski_harabasz_score(Z, labels) if ok else np.nan,
                    "davies_bouldin": davies_bouldin_score(Z, labels) if ok else np.nan,
                    "bic": model.bic(Z) if segmenter.algorithm == "gmm" else np.nan,
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

    Examples
    --------
    >>> table = pd.DataFrame({"k": [2, 3], "silhouette": [0.61, 0.4], "bic": [np.nan] * 2})
    >>> recommend_k(table)
    (2, 'k = 2 has the highest silhouette (0.61).')
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
    reason = (
        f"k = {k} has the {word} {criterion.replace('_', '-')} ({fmt.estimate(best, 3)}){note}."
    )
    return k, reason


def stability(
    segmenter: Segmenter | None,
    X,
    k_range: Sequence[int] = range(2, 9),
    n_boot: int = 50,
    random_state: int = 0,
    *,
    n_init: int = 4,
    threshold: float = STABILITY_THRESHOLD,
    warn: bool = True,
) -> pd.DataFrame:
    """Bootstrap stability of the segmenter's clustering for each number of segments.

    The features are prepared once on all accounts; the full-data solution is the segmenter's
    own (its seed and restarts). For each of ``n_boot`` bootstrap samples (rows drawn with
    replacement, the same samples for every ``k``, drawn from ``random_state``) the clustering
    is refitted with a fresh seed and ``n_init`` restarts, and its labels compared, on the
    resampled rows, with the full-data labels by the adjusted Rand index (ARI; 1 = identical
    partitions, about 0 = chance agreement).

    Parameters
    ----------
    threshold : float
        Solutions with mean ARI below it are flagged (``stable`` False) and, when ``warn``,
        reported in one :class:`UnstableSegmentsWarning`.

    Returns
    -------
    pandas.DataFrame
        One row per ``k``: ``mean_ari``, ``sd_ari``, ``q05``, ``q95``, ``n_boot``, ``stable``.

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> frame = pd.DataFrame({"x": np.r_[rng.normal(0, 1, 50), rng.normal(9, 1, 50)]})
    >>> bool(stability(Segmenter(), frame, [2], n_boot=5).loc[0, "stable"])
    True
    """
    k_range = list(k_range)  # iterated twice: checked here, then refitted
    for name, values in (("k_range", k_range), ("n_init", [n_init])):
        # Checked here: scikit-learn's own checks are skipped in the refits below.
        bad = [v for v in values if isinstance(v, bool) or not float(v).is_integer() or v < 1]
        if bad:
            raise ValueError(f"{name} must hold whole numbers of at least 1, got {bad}")
    segmenter, Z = _prepared(segmenter, X)
    n = len(Z)
    rng = np.random.default_rng(random_state)
    samples = rng.integers(0, n, size=(n_boot, n))
    seeds = rng.integers(0, 2**31 - 1, size=n_boot)
    rows = []
    # Z is prepared and finite: skip scikit-learn's per-call checks across the many refits.
    with limit_threads(n), config_context(assume_finite=True, skip_parameter_validation=True):
        for k in k_range:
            full = segmenter.make_model(int(k)).fit_predict(Z)
            ari = np.array(
                [
                    adjusted_rand_score(
                        full[idx],
                        segmenter.make_model(int(k), random_state=seed, n_init=n_init).fit_predict(
                            Z[idx]
                        ),
                    )
                    for idx, seed in zip(samples, seeds)
                ]
            )
            q05, q95 = np.quantile(ari, [0.05, 0.95])
            rows.append(
                {
                    "k": int(k),
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
        listed = ", ".join(
            f"k={k} (mean ARI {fmt.estimate(a, 2)})" for k, a in zip(bad["k"], bad["mean_ari"])
        )
        warnings.warn(
            f"unstable segments: {listed} below the threshold {threshold:g}; these partitions "
            f"change under resampling and should not be interpreted.",
            UnstableSegmentsWarning,
            stacklevel=2,
        )
    return table


def _structure(silhouette: float) -> str:
    """Kaufman & Rousseeuw's reading of an average silhouette."""
    if silhouette > 0.7:
        return "a strong structure"
    if silhouette > 0.5:
        return "a reasonable structure"
    if silhouette > 0.25:
        return "a weak structure that could be artificial"
    return "no substantial structure: the accounts form a continuum"


def describe_k(
    table: pd.DataFrame,
    stability_table: pd.DataFrame,
    k: int,
    reason: str,
    *,
    threshold: float = STABILITY_THRESHOLD,
) -> str:
    """The choice of the number of segments in words: the recommendation, how many solutions
    survive resampling, and what the silhouette says about the structure.

    Parameters
    ----------
    table, stability_table : pandas.DataFrame
        :func:`choose_k` and :func:`stability`.
    k, reason :
        :func:`recommend_k`.

    Examples
    --------
    >>> table = pd.DataFrame({"k": [2, 3], "silhouette": [0.14, 0.12]})
    >>> stab = pd.DataFrame({"k": [2, 3], "mean_ari": [0.69, 0.59]})
    >>> print(describe_k(table, stab, 2, "k = 2 has the highest silhouette (0.14)."))
    k = 2 has the highest silhouette (0.14). 1 of the 2 values of k tried (2) survives resampling (mean bootstrap ARI ≥ 0.6). The silhouette of k = 2 is 0.14, which means no substantial structure: the accounts form a continuum. Read the segments as a description of the portfolio, not as natural groups.
    """
    stable = stability_table.loc[stability_table["mean_ari"] >= threshold, "k"].astype(int)
    listed = ", ".join(str(v) for v in stable)
    sil = float(table.set_index("k").loc[k, "silhouette"])
    words = _structure(sil)
    survive = (
        f"{len(stable)} of the {len(stability_table)} values of k tried ({listed}) "
        f"{'survives' if len(stable) == 1 else 'survive'} resampling"
        if len(stable)
        else f"None of the {len(stability_table)} values of k tried survives resampling"
    )
    parts = [
        reason,
        f"{survive} (mean bootstrap ARI ≥ {threshold:g}).",
        f"The silhouette of k = {k} is {fmt.estimate(sil, 2)}, which means {words}.",
    ]
    if sil <= 0.5 or k not in set(stable):
        parts.append("Read the segments as a description of the portfolio, not as natural groups.")
    return " ".join(parts)
