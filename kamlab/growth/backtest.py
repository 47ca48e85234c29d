"""The back-test: had we picked the top-k accounts with each rule on each past cutoff, what
happened to them next?

All cutoffs come from one feature panel (one call of :func:`kamlab.features.feature_panel`
for the evaluation cutoffs and every training cutoff of a learned scorer, or a panel the caller
built once). Every scorer ranks the accounts with :func:`kamlab.tiers.order_accounts`; the
account-level bootstrap is one matrix of resampling counts shared by every scorer and cutoff,
and every metric of every replicate is computed at once (no loop over replicates).
"""

from __future__ import annotations

import warnings
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from kamlab._threads import limit_threads
from kamlab.growth.prediction import InsufficientHistory, LearnedScorer, _panel_cutoffs
from kamlab.tiers import KEY_CAP, cap_counts, order_accounts

__all__ = [
    "BACKTEST_METRICS",
    "KEY_METRICS",
    "METRIC_UNITS",
    "Backtest",
    "analysis_cutoffs",
    "backtest",
]

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
#: The metrics a report shows first (:meth:`Backtest.summary`).
KEY_METRICS = (
    "precision_at_k",
    "lift",
    "mean_growth_dh_selected",
    "spearman_growth_dh",
    "churn_selected",
    "delta_precision_at_k",
)
#: What each back-test metric measures (figure axes, readable tables).
METRIC_UNITS = {
    "precision_at_k": "share of the selected accounts that grew",
    "lift": "precision ÷ share of all accounts that grew",
    "mean_growth_dh_selected": "mean symmetric growth of the selected (−2 to 2)",
    "mean_growth_dh_rest": "mean symmetric growth of the others (−2 to 2)",
    "growth_dh_gap": "selected − others, symmetric growth",
    "mean_log_growth_selected": "mean log growth of the selected",
    "log_growth_gap": "selected − others, log growth",
    "spearman_growth_dh": "Spearman correlation of score and growth (−1 to 1)",
    "churn_selected": "share of the selected accounts that churned",
}
#: The unit of each metric in readable tables (``share`` prints as a percentage).
_UNITS = {
    "precision_at_k": "share",
    "churn_selected": "share",
    "lift": "ratio",
    "spearman_growth_dh": "correlation",
}
_DAY = pd.Timedelta(days=1)
_COLUMNS = [
    "rule_set",
    "cutoff",
    "metric",
    "estimate",
    "ci_low",
    "ci_high",
    "n_accounts",
    "n_selected",
]
Scorer = Callable[[pd.DataFrame], pd.Series] | LearnedScorer


@dataclass(frozen=True)
class Backtest:
    """Results of :func:`backtest`.

    Attributes
    ----------
    table : pandas.DataFrame
        Tidy: ``rule_set``, ``cutoff`` (ISO date, or ``"pooled"`` for the mean over cutoffs),
        ``metric`` (:data:`BACKTEST_METRICS` and ``delta_*``), ``estimate``, ``ci_low``,
        ``ci_high``, ``n_accounts``, ``n_selected``.
    horizon_days, k, growth_threshold, n_boot, alpha, min_tenure_days
        The settings of the run.
    baseline : str or None
        The rule set the ``delta_*`` rows compare with (None when it was not among the
        scorers: then there are no deltas).
    cutoffs : tuple of str
        The evaluation cutoffs (ISO dates).
    skipped : pandas.DataFrame
        ``rule_set``, ``cutoff``, ``reason`` for each scorer that could not score at a cutoff.
    selected : pandas.DataFrame or None
        ``rule_set``, ``cutoff``, ``account_id``: the accounts each scorer selected at each
        cutoff (best first).
    """

    table: pd.DataFrame
    horizon_days: int
    k: float
    growth_threshold: float
    n_boot: int
    baseline: str | None
    alpha: float
    min_tenure_days: int
    cutoffs: tuple[str, ...]
    skipped: pd.DataFrame
    selected: pd.DataFrame | None = None

    def summary(
        self, metrics: Sequence[str] = KEY_METRICS, *, cutoff: str = "pooled"
    ) -> pd.DataFrame:
        """Point estimates, one row per rule set and one column per metric, at ``cutoff``
        (``"pooled"`` by default; the single cutoff when there is only one). A scorer scored
        at fewer than two cutoffs has no pooled value (NaN): see :attr:`skipped`."""
        table = self.table
        if cutoff == "pooled" and len(self.cutoffs) == 1:
            cutoff = self.cutoffs[0]
        rows = table[(table["cutoff"] == cutoff) & table["metric"].isin(list(metrics))]
        wide = rows.pivot(index="rule_set", columns="metric", values="estimate")
        order = list(dict.fromkeys(table["rule_set"]))
        return wide.reindex(index=order, columns=[m for m in metrics if m in wide.columns])

    def intervals(
        self, metrics: Sequence[str] = KEY_METRICS, *, cutoff: str = "pooled"
    ) -> pd.DataFrame:
        """Estimates with their intervals at ``cutoff`` (``"pooled"`` by default; the single
        cutoff when there is only one), for people and for machines: ``rule_set``,
        ``metric``, ``measure`` (the metric in words, :data:`METRIC_UNITS`), ``unit``
        (``share``, ``growth``, ``ratio`` or ``correlation``), ``estimate``, ``ci_low``,
        ``ci_high``, ``n_selected``; rows by rule set, then in the order of ``metrics``."""
        table = self.table
        if cutoff == "pooled" and len(self.cutoffs) == 1:
            cutoff = self.cutoffs[0]
        metrics = list(metrics)
        rows = table[(table["cutoff"] == cutoff) & table["metric"].isin(metrics)]
        order = {name: i for i, name in enumerate(dict.fromkeys(table["rule_set"]))}
        rows = rows.sort_values(
            ["rule_set", "metric"],
            key=lambda s: s.map(order) if s.name == "rule_set" else s.map(metrics.index),
            kind="stable",
        )
        columns = ["rule_set", "metric", "estimate", "ci_low", "ci_high", "n_selected"]
        out = rows[columns].reset_index(drop=True)
        readable = self._readable(out["metric"])
        out.insert(2, "measure", readable["measure"])
        out.insert(3, "unit", readable["unit"])
        return out

    def by_cutoff(self, metric: str = "delta_precision_at_k") -> pd.DataFrame:
        """One metric at every cutoff (and pooled), for people: ``rule_set``, ``cutoff``,
        ``measure``, ``unit``, ``estimate``, ``ci_low``, ``ci_high``, ``n_accounts``,
        ``n_selected``; rows by rule set, then by cutoff (pooled last)."""
        rows = self.table[self.table["metric"] == metric]
        order = {name: i for i, name in enumerate(dict.fromkeys(self.table["rule_set"]))}
        rows = rows.sort_values(
            ["rule_set", "cutoff"],
            key=lambda s: s.map(order) if s.name == "rule_set" else s.eq("pooled"),
            kind="stable",
        )
        out = rows.reset_index(drop=True)
        readable = self._readable(out["metric"])
        out.insert(2, "measure", readable["measure"])
        out.insert(3, "unit", readable["unit"])
        columns = ["rule_set", "cutoff", "measure", "unit", "estimate", "ci_low", "ci_high"]
        return out[[*columns, "n_accounts", "n_selected"]]

    def _readable(self, metrics: pd.Series) -> pd.DataFrame:
        base = metrics.str.removeprefix("delta_")
        words = base.map(METRIC_UNITS).fillna(base.str.replace("_", " "))
        delta = metrics.str.startswith("delta_")
        return pd.DataFrame(
            {
                "measure": words.where(~delta, f"difference to {self.baseline}: " + words),
                "unit": base.map(_UNITS).fillna("growth"),
            },
            index=metrics.index,
        )

    def overlap(self, a: str, b: str, cutoff: str | None = None) -> int:
        """How many accounts scorers ``a`` and ``b`` both selected at ``cutoff`` (default the
        last cutoff)."""
        if self.selected is None:
            raise ValueError("this back-test did not record the selected accounts")
        cutoff = self.cutoffs[-1] if cutoff is None else cutoff
        at = self.selected[self.selected["cutoff"] == cutoff]
        ids_a = set(at.loc[at["rule_set"] == a, "account_id"])
        return len(ids_a & set(at.loc[at["rule_set"] == b, "account_id"]))

    def without(self, *rule_sets: str) -> Backtest:
        """The same results without the given rule sets (e.g. to compare rules only)."""
        keep = ~self.table["rule_set"].isin(rule_sets)
        skipped = self.skipped[~self.skipped["rule_set"].isin(rule_sets)]
        baseline = None if self.baseline in rule_sets else self.baseline
        return Backtest(
            self.table[keep].reset_index(drop=True),
            self.horizon_days,
            self.k,
            self.growth_threshold,
            self.n_boot,
            baseline,
            self.alpha,
            self.min_tenure_days,
            self.cutoffs,
            skipped.reset_index(drop=True),
            None
            if self.selected is None
            else self.selected[~self.selected["rule_set"].isin(rule_sets)].reset_index(drop=True),
        )


def _n_selected(k: float, n: int) -> int:
    """Accounts selected: a share ``k < 1`` is a cap, floored as the key-account cap is
    (:func:`kamlab.tiers.cap_counts`), at least one; ``k >= 1`` is a count."""
    if k <= 0:
        raise ValueError(f"k must be positive, got {k}")
    if k < 1:
        return int(min(n, max(1, cap_counts(n, 0.0, k)[1])))
    if float(k) != int(k):
        raise ValueError(f"k >= 1 is a count and must be whole, got {k}")
    return int(min(n, k))


def _wmean(W: np.ndarray, values: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """Weighted means of ``values[mask]`` for each row of weights ``W`` (NaN when no weight)."""
    w = W[:, mask]
    total = w.sum(axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(total > 0, w @ values[mask] / np.where(total > 0, total, 1), np.nan)


def _midranks(values: np.ndarray, W: np.ndarray) -> np.ndarray:
    """For each replicate (row of integer counts ``W``), the average rank each item would get
    in the sample that repeats it ``W[b, i]`` times (``scipy.stats.rankdata`` of the repeated
    sample, ties sharing their mean rank)."""
    order = np.argsort(values, kind="stable")
    v = values[order]
    starts = np.flatnonzero(np.r_[True, v[1:] != v[:-1]])
    group = np.repeat(np.arange(len(starts)), np.diff(np.r_[starts, len(v)]))
    counts = np.add.reduceat(W[:, order], starts, axis=1).astype(float)
    mid = np.cumsum(counts, axis=1) - counts + (counts + 1) / 2
    ranks = np.empty(W.shape, dtype=float)
    ranks[:, order] = mid[:, group]
    return ranks


def _spearman_weighted(score: np.ndarray, y: np.ndarray, W: np.ndarray) -> np.ndarray:
    """Spearman correlation of ``score`` and ``y`` in each bootstrap replicate: the Pearson
    correlation of the mid-ranks, weighted by the resampling counts."""
    if len(score) == 0:
        return np.full(W.shape[0], np.nan)
    rx, ry = _midranks(score, W), _midranks(y, W)
    n = W.sum(axis=1).astype(float)
    with np.errstate(invalid="ignore", divide="ignore"):
        dx = rx - (W * rx).sum(axis=1, keepdims=True) / n[:, None]
        dy = ry - (W * ry).sum(axis=1, keepdims=True) / n[:, None]
        vx, vy = (W * dx * dx).sum(axis=1), (W * dy * dy).sum(axis=1)
        rho = (W * dx * dy).sum(axis=1) / np.sqrt(vx * vy)
    return np.where((n > 2) & (vx > 0) & (vy > 0), rho, np.nan)


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


def _row(name, cutoff, metric, values, q, n_acc, n_sel) -> dict:
    boot = values[1:]
    boot = boot[np.isfinite(boot)]
    lo, hi = np.percentile(boot, q) if len(boot) else (np.nan, np.nan)
    return dict(zip(_COLUMNS, [name, cutoff, metric, float(values[0]), float(lo), float(hi),
                               int(n_acc), int(n_sel)]))  # fmt: skip


def _check_cutoffs(dataset, cuts, horizon_days) -> None:
    if not cuts:
        raise ValueError("cutoffs is empty")
    late = [c for c in cuts if c + pd.Timedelta(days=horizon_days) > dataset.end + _DAY]
    if late:
        raise ValueError(
            f"the {horizon_days}-day horizon after cutoff(s) "
            f"{[c.date().isoformat() for c in late]} runs past the data's end "
            f"({dataset.end.date()}): outcomes would be incomplete"
        )


def backtest(
    dataset,
    scorers: Mapping[str, Scorer],
    cutoffs: Sequence,
    *,
    horizon_days: int = 365,
    k: float = KEY_CAP,
    growth_threshold: float = 0.10,
    n_boot: int = 500,
    random_state: int = 0,
    baseline: str | None = "size_only",
    min_tenure_days: int | str = 0,
    alpha: float = 0.05,
    panel: pd.DataFrame | None = None,
) -> Backtest:
    """Had we picked the top-k accounts with each scorer at each cutoff, what happened next?

    At each cutoff the features come from data before it and the outcomes from the
    ``horizon_days`` after it; every scorer ranks the accounts (ties broken by account id;
    missing scores rank last) and the top ``k`` are "selected".

    Parameters
    ----------
    dataset : Dataset
    scorers : mapping of name → scorer
        Each maps the features frame to a score per account (higher = more key):
        :mod:`kamlab.criteria` rule sets, lambdas such as ``lambda f: f["revenue_12m"]``, or a
        :class:`~kamlab.growth.LearnedScorer`, refitted at each cutoff on its training cutoffs
        (one that raises :class:`~kamlab.growth.InsufficientHistory` is skipped at that cutoff
        and the skip recorded in :attr:`Backtest.skipped`).
    cutoffs : sequence of date-like
        Each needs a fully observed horizon: ``cutoff + horizon_days <= dataset.end + 1 day``.
    horizon_days : int
        Outcome window in days.
    k : float
        Share of accounts selected when below 1 (default the key cap,
        :data:`kamlab.tiers.KEY_CAP`), else a count.
    growth_threshold : float
        ``grew`` = future revenue above base revenue × (1 + threshold).
    n_boot : int
        Bootstrap replicates. Accounts are resampled with replacement, the same draw for every
        scorer and cutoff (paired across scorers, clustered by account across cutoffs); the
        selection is held fixed, so intervals reflect the sampling variability of what
        happened to the selected and other accounts.
    random_state : int
    baseline : str, optional
        Scorer to compare against: adds ``delta_<metric>`` rows (scorer − baseline, paired).
    min_tenure_days : int or "auto"
        Keep only accounts whose first purchase was at least this many days before the cutoff
        (whole days: a purchase on the day ``cutoff - min_tenure_days`` counts). ``horizon_days``
        compares full base and future windows; younger accounts have a partial base and look
        like growth. ``"auto"``: ``horizon_days``, or on short data as many days as the data
        hold before the first cutoff (the accounts present from the data's first day).
    alpha : float
        1 − confidence level of the percentile intervals.
    panel : pandas.DataFrame, optional
        A :func:`~kamlab.features.feature_panel` (same horizon and growth threshold) holding
        every evaluation cutoff and every learned scorer's training cutoff; built here in one
        call when not given.

    Returns
    -------
    Backtest

    Examples
    --------
    >>> from kamlab.synth import generate
    >>> from kamlab.data import Dataset
    >>> p = generate(150, 3, seed=1)
    >>> data = Dataset(p.accounts, p.transactions, p.assessments, p.interactions)
    >>> bt = backtest(data, {"size_only": lambda f: f["revenue_12m"]}, ["2023-07-01"], n_boot=20)
    >>> bt.summary(["precision_at_k", "lift"]).index.tolist()
    ['size_only']
    """
    if not scorers:
        raise ValueError("scorers is empty")
    if n_boot < 1:
        raise ValueError(f"n_boot must be at least 1, got {n_boot}")
    baseline = baseline if baseline in scorers else None
    cuts = sorted({pd.Timestamp(c) for c in cutoffs})
    _check_cutoffs(dataset, cuts, horizon_days)
    learned = {n: s for n, s in scorers.items() if isinstance(s, LearnedScorer)}
    for name, learner in learned.items():
        if learner.horizon_days != horizon_days:
            raise ValueError(
                f"scorer {name!r} learns a {learner.horizon_days}-day horizon; the back-test "
                f"measures {horizon_days} days"
            )
    needed = set(cuts)
    for learner in learned.values():
        for c in cuts:
            needed.update(learner.training_dates(c, dataset.start))
    if panel is None:
        from kamlab.features import feature_panel

        panel = feature_panel(
            dataset, sorted(needed), horizon_days, growth_threshold=growth_threshold
        )
    else:
        _panel_cutoffs(panel, sorted(needed))

    tenure = _min_tenure(min_tenure_days, dataset, cuts, horizon_days)
    frames, scores, skipped = {}, {}, []
    for c in cuts:
        feats = panel.xs(c, level="cutoff")
        if tenure:
            feats = feats.loc[np.ceil(feats["tenure_days"].to_numpy(dtype=float)) >= tenure]
        if len(feats) < 2:
            raise ValueError(
                f"fewer than 2 eligible accounts at cutoff {c.date()} (min_tenure_days={tenure})"
            )
        frames[c] = feats
        for name, scorer in scorers.items():
            try:
                if isinstance(scorer, LearnedScorer):
                    s = scorer.score(feats, c, dataset=dataset, panel=panel)
                else:
                    s = scorer(feats)
            except InsufficientHistory as exc:
                skipped.append((name, c.date().isoformat(), str(exc)))
                continue
            scores[(name, c)] = pd.Series(s).reindex(feats.index).astype(float)

    # One bootstrap draw over the union of accounts, shared by every scorer and cutoff.
    union = pd.Index(sorted(set().union(*[f.index for f in frames.values()])))
    rng = np.random.default_rng(random_state)
    draws = rng.integers(0, len(union), size=(n_boot, len(union)))
    W_all = np.zeros((n_boot, len(union)), dtype=np.int64)
    np.add.at(W_all, (np.repeat(np.arange(n_boot), len(union)), draws.ravel()), 1)

    reps, sizes, chosen = {}, {}, []
    with limit_threads(n_boot * len(union)):
        for c, feats in frames.items():
            pos = union.get_indexer(feats.index)
            W = np.vstack([np.ones((1, len(feats)), dtype=np.int64), W_all[:, pos]])
            cols = {
                col: feats[col].to_numpy(dtype=float)
                for col in ("growth_dh", "log_growth", "grew", "churned")
            }
            n_sel = _n_selected(k, len(feats))
            for name in scorers:
                if (name, c) not in scores:
                    continue
                score = scores[(name, c)]
                top = order_accounts(score)[:n_sel]
                chosen.append(pd.DataFrame({"rule_set": name, "cutoff": c.date().isoformat(),
                                            "account_id": top}))  # fmt: skip
                sel = feats.index.isin(top)
                m = _metrics(W, sel, score.to_numpy(), *cols.values())
                reps.update({(name, c, metric): m[metric] for metric in BACKTEST_METRICS})
                sizes[(name, c)] = (len(feats), n_sel)
    if baseline is not None:
        for name, c, metric in list(reps):
            if metric in _DELTA_METRICS and name != baseline and (baseline, c, metric) in reps:
                reps[(name, c, f"delta_{metric}")] = (
                    reps[(name, c, metric)] - reps[(baseline, c, metric)]
                )
    q = (100 * alpha / 2, 100 * (1 - alpha / 2))
    rows = []
    for name in scorers:
        for metric in [*BACKTEST_METRICS, *(f"delta_{m}" for m in _DELTA_METRICS)]:
            series = [(c, reps[(name, c, metric)]) for c in cuts if (name, c, metric) in reps]
            for c, values in series:
                rows.append(_row(name, c.date().isoformat(), metric, values, q, *sizes[(name, c)]))
            if len(series) > 1:
                with warnings.catch_warnings():  # an all-NaN replicate stays NaN
                    warnings.simplefilter("ignore", RuntimeWarning)
                    pooled = np.nanmean(np.vstack([v for _, v in series]), axis=0)
                n_acc = sum(sizes[(name, c)][0] for c, _ in series)
                n_sel = sum(sizes[(name, c)][1] for c, _ in series)
                rows.append(_row(name, "pooled", metric, pooled, q, n_acc, n_sel))
    return Backtest(
        table=pd.DataFrame(rows, columns=_COLUMNS),
        horizon_days=horizon_days,
        k=k,
        growth_threshold=growth_threshold,
        n_boot=n_boot,
        baseline=baseline,
        alpha=alpha,
        min_tenure_days=tenure,
        cutoffs=tuple(c.date().isoformat() for c in cuts),
        skipped=pd.DataFrame(skipped, columns=["rule_set", "cutoff", "reason"]),
        selected=pd.concat(chosen, ignore_index=True)
        if chosen
        else pd.DataFrame(columns=["rule_set", "cutoff", "account_id"]),
    )


def _min_tenure(value: int | str, dataset, cuts: list[pd.Timestamp], horizon_days: int) -> int:
    if isinstance(value, str):
        if value != "auto":
            raise ValueError(f"min_tenure_days must be a number of days or 'auto', not {value!r}")
        history = (cuts[0] - pd.Timestamp(dataset.start).normalize()).days
        return int(max(0, min(horizon_days, history)))
    if value < 0:
        raise ValueError(f"min_tenure_days must not be negative, got {value}")
    return int(value)


def analysis_cutoffs(timeline) -> list[pd.Timestamp]:
    """Every cutoff the growth analysis reads, oldest first: the outcome cutoff, the
    out-of-time validation cutoffs (:meth:`~kamlab.timeline.Timeline.training_cutoffs` of
    ``as_of``), the back-test cutoffs and the training cutoffs of each, so that one
    :func:`~kamlab.features.feature_panel` serves the whole analysis.

    Examples
    --------
    >>> from kamlab.timeline import Timeline
    >>> tl = Timeline.from_data("2021-01-01", "2024-12-31")
    >>> [str(c.date()) for c in analysis_cutoffs(tl)][:3], len(analysis_cutoffs(tl))
    (['2022-01-01', '2022-04-01', '2022-07-01'], 9)
    """
    dates = set(timeline.training_cutoffs(timeline.as_of)) | set(timeline.backtest_cutoffs)
    if timeline.outcome_cutoff is not None:
        dates.add(timeline.outcome_cutoff)
    for cutoff in timeline.backtest_cutoffs:
        dates.update(timeline.training_cutoffs(cutoff))
    return sorted(dates)
