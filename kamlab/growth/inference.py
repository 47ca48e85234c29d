"""Which criteria are associated with later growth: robust regressions, one verdict per
criterion.

:func:`criteria_effects` estimates the standardised effect of each criterion on an outcome
measured after the cutoff: OLS with HC3 robust (or clustered) errors for ``log_growth`` /
``growth_dh``, Logit for the binary ``grew``, with Benjamini–Hochberg q-values across
criteria. :func:`variance_inflation` reports multicollinearity. Two outcomes can disagree (an
effect on *whether* an account grows by more than the threshold, not on *how much*), so
:func:`verdicts` reconciles a continuous and a binary fit into one verdict per criterion: the
one sentence a report prints (:func:`kamlab.growth.describe_verdicts`).

Statsmodels fits on a few thousand rows run single-threaded
(:func:`kamlab._threads.limit_threads`).
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from kamlab import fmt
from kamlab._threads import limit_threads

__all__ = [
    "DERIVED_CRITERIA",
    "EFFECT_COLUMNS",
    "VERDICTS",
    "VIF_THRESHOLD",
    "Effects",
    "SampleReport",
    "criteria_columns",
    "criteria_effects",
    "usable_cluster",
    "usable_controls",
    "variance_inflation",
    "verdicts",
]

#: Variance inflation above which a joint effect is noted as poorly identified.
VIF_THRESHOLD = 5.0
#: Columns of :attr:`Effects.table`.
EFFECT_COLUMNS = ("coef", "std_error", "ci_low", "ci_high", "p_value", "q_value", "n", "note")
#: Verdicts of :func:`verdicts`, strongest first (``{a}``/``{b}``: the two outcomes).
VERDICTS = (
    "credible on both",
    "credible on {a} only",
    "credible on {b} only",
    "opposite directions",
    "not credible",
    "not estimated",
)
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


def _standardise(values: pd.Series) -> pd.Series | None:
    sd = values.std()
    return ((values - values.mean()) / sd).astype(float) if sd > 0 else None


def _control_design(
    sample: pd.DataFrame, controls: Sequence[str], size_control: str | None
) -> pd.DataFrame:
    """Controls as numeric columns: categoricals one-hot (first level dropped, levels sorted),
    numerics standardised, ``log1p`` of the (non-negative part of the) size column."""
    parts = []
    for col in controls:
        values = sample[col]
        if pd.api.types.is_numeric_dtype(values) and not pd.api.types.is_bool_dtype(values):
            z = _standardise(values)
            if z is not None:
                parts.append(z.rename(col))
        else:
            levels = sorted(values.astype(str).unique())
            cat = pd.Categorical(values.astype(str), categories=levels)
            dummies = pd.get_dummies(cat, prefix=col, drop_first=True, dtype=float)
            dummies.index = sample.index
            parts.append(dummies)
    if size_control is not None:
        z = _standardise(np.log1p(sample[size_control].astype(float).clip(lower=0)))
        if z is not None:
            parts.append(z.rename(f"log_{size_control}"))
    if not parts:
        return pd.DataFrame(index=sample.index)
    return pd.concat(parts, axis=1)


def _fit(y, X, kind, cluster_codes, alpha):
    """Fit one model; returns (result, intervals, converged, note). The caller limits the
    threads (once for all the fits of a table: each limit costs milliseconds)."""
    # The two model modules, not statsmodels.api (which imports all of statsmodels: 0.45 s).
    from statsmodels.discrete.discrete_model import Logit
    from statsmodels.regression.linear_model import OLS
    from statsmodels.tools.sm_exceptions import ConvergenceWarning

    note = ""
    robust = "HC3" if kind == "ols" else "HC0"
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", ConvergenceWarning)
        warnings.simplefilter("always", RuntimeWarning)
        if kind == "ols" and cluster_codes is None:
            # HC3 divides by (1 - leverage): a point with leverage 1 (one account alone
            # carrying a criterion's variation) makes it infinite; fall back to HC1, say so.
            leverage = OLS(y, X).fit().get_influence().hat_matrix_diag
            if np.any(leverage > 1 - 1e-8):
                robust, note = "HC1", "an account has leverage 1; HC1 errors instead of HC3"
        cov = (
            {"cov_type": "cluster", "cov_kwds": {"groups": cluster_codes}}
            if cluster_codes is not None
            else {"cov_type": robust}
        )
        if kind == "ols":
            res = OLS(y, X).fit(**cov)
            converged = True
        else:
            res = Logit(y, X).fit(disp=0, method="newton", maxiter=100, **cov)
            converged = bool(res.mle_retvals.get("converged", True))
    if any(issubclass(w.category, ConvergenceWarning) for w in caught):
        converged = False
    return res, res.conf_int(alpha), converged, note


@dataclass(frozen=True)
class SampleReport:
    """The complete-case selection of :func:`criteria_effects`: rows in, rows dropped for a
    missing (or infinite) outcome, criterion, control or cluster label, rows used."""

    n_input: int
    dropped_outcome: int
    dropped_criteria: int
    dropped_controls: int
    dropped_cluster: int
    n_used: int


@dataclass(frozen=True)
class Effects:
    """Standardised effects of criteria on one outcome (:func:`criteria_effects`).

    Attributes
    ----------
    table : pandas.DataFrame
        Index = criterion; the :data:`EFFECT_COLUMNS` (``coef`` per standard deviation of the
        criterion in the analysis sample: outcome units for OLS, log-odds for Logit; ``note``
        says why a criterion was not estimated) and ``vif`` for the joint view.
    outcome, model, view, cov_type : str
        The outcome column; ``ols`` or ``logit``; ``univariate`` (one model per criterion) or
        ``joint`` (all criteria together); the covariance estimator the fits used (``HC3``,
        ``HC1`` when an account has leverage 1 and HC3 is undefined, ``HC0`` for Logit,
        ``cluster``).
    controls : tuple of str
        The control columns of the design (after one-hot encoding).
    cluster : str or None
        The cluster column of clustered errors.
    alpha : float
        1 − confidence level of the intervals.
    sample : SampleReport
        How the analysis sample was selected.
    """

    table: pd.DataFrame
    outcome: str
    model: str
    view: str
    cov_type: str
    controls: tuple[str, ...]
    cluster: str | None
    alpha: float
    sample: SampleReport

    def credible(self, q_threshold: float = 0.05) -> pd.DataFrame:
        """The rows with ``q_value < q_threshold``, largest coefficient first."""
        rows = self.table[self.table["q_value"] < q_threshold]
        return rows.sort_values("coef", ascending=False, kind="stable")


def _select(features, outcome, criteria, controls, size_control, cluster):
    """The complete-case analysis sample and its report."""
    counts = {"n_input": int(len(features))}
    keep = pd.Series(True, index=features.index)
    for label, cols in (
        ("outcome", [outcome]),
        ("criteria", criteria),
        ("controls", controls + ([size_control] if size_control else [])),
        ("cluster", [cluster] if cluster else []),
    ):
        ok = _finite(features, cols) if cols else keep
        counts[f"dropped_{label}"] = int((keep & ~ok).sum())
        keep &= ok
    counts["n_used"] = int(keep.sum())
    return features.loc[keep], SampleReport(**counts)


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
) -> Effects:
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
        with all criteria together (adds a ``vif`` column; a VIF above
        :data:`VIF_THRESHOLD` is said in ``note``, not warned: the report says it).
    model : {"auto", "ols", "logit"}
        ``auto`` picks Logit for a binary outcome, OLS otherwise.
    alpha : float
        1 − confidence level of the intervals.
    min_n : int
        Fewest complete rows accepted (also at least the number of parameters + 10).

    Returns
    -------
    Effects
        All criteria share one analysis sample: rows missing the outcome, any criterion, a
        control or the cluster label are dropped and counted in :attr:`Effects.sample`.

    Raises
    ------
    ValueError
        Unknown columns, a non-numeric criterion, or fewer complete rows than needed.

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> frame = pd.DataFrame({"x": rng.normal(size=200), "noise": rng.normal(size=200)})
    >>> frame["y"] = 0.5 * frame["x"] + rng.normal(size=200)
    >>> effects = criteria_effects(frame, ["x", "noise"], "y")
    >>> effects.model, effects.cov_type, effects.sample.n_used
    ('ols', 'HC3', 200)
    >>> effects.credible().index.tolist()
    ['x']
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

    sample, report = _select(features, outcome, criteria, controls, size_control, cluster)
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
    usable = [c for c in criteria if sd[c] > 0]
    for c in set(criteria) - set(usable):
        notes[c] = "constant in the analysis sample; not estimated"
    if not usable:
        raise ValueError("every criterion is constant in the analysis sample")
    z = (sample[usable].astype(float) - sample[usable].astype(float).mean()) / sd[usable]

    n_params = 1 + ctrl.shape[1] + (len(usable) if joint else 1)
    if len(sample) < max(min_n, n_params + 10):
        raise ValueError(
            f"too few complete rows: n={len(sample)} for {n_params} parameters "
            f"(need at least {max(min_n, n_params + 10)}); missing-value report: {report}"
        )

    const = pd.Series(1.0, index=sample.index, name="const")
    designs = (
        [(usable, pd.concat([const, z, ctrl], axis=1))]
        if joint
        else [([c], pd.concat([const, z[[c]], ctrl], axis=1)) for c in usable]
    )
    table = pd.DataFrame(
        np.nan, index=pd.Index(criteria, name="criterion"), columns=list(EFFECT_COLUMNS[:5])
    )
    fits = []
    with limit_threads(len(sample)):
        for names, X in designs:
            fits.append((names, *_fit(y, X, model, cluster_codes, alpha)))
    for names, res, ci, converged, note in fits:
        for c in names:
            table.loc[c] = [res.params[c], res.bse[c], ci.loc[c, 0], ci.loc[c, 1], res.pvalues[c]]
            if note:
                notes[c] = note
            if not converged:
                notes[c] = "Logit did not converge (e.g. separation); treat with caution"
    est = table["p_value"].notna()
    table["q_value"] = np.nan
    table.loc[est, "q_value"] = multipletests(
        table.loc[est, "p_value"].to_numpy(), alpha=alpha, method="fdr_bh"
    )[1]
    table["n"] = len(sample)
    table["note"] = pd.Series(notes)
    if joint:
        table["vif"] = variance_inflation(sample, usable, warn=False)["vif"].reindex(table.index)
        for c in table.index[table["vif"] > VIF_THRESHOLD]:
            vif_note = (
                f"VIF {fmt.estimate(table.loc[c, 'vif'], 2)}: overlaps with the other criteria; its joint "
                "effect is poorly identified"
            )
            notes[c] = f"{notes[c]}; {vif_note}" if notes[c] else vif_note
        table["note"] = pd.Series(notes)
    return Effects(
        table=table,
        outcome=outcome,
        model=model,
        view="joint" if joint else "univariate",
        cov_type=_cov_type(cluster, model, [note for *_, note in fits]),
        controls=tuple(ctrl.columns),
        cluster=cluster,
        alpha=alpha,
        sample=report,
    )


def _cov_type(cluster: str | None, model: str, notes: list[str]) -> str:
    """The covariance estimator the fits used: HC1 where HC3 was undefined (leverage 1)."""
    if cluster:
        return "cluster"
    if model != "ols":
        return "HC0"
    fallback = sum("HC1" in note for note in notes)
    if fallback == 0:
        return "HC3"
    return "HC1" if fallback == len(notes) else "HC3, HC1 where an account has leverage 1"


def variance_inflation(
    features: pd.DataFrame,
    criteria: Sequence[str],
    *,
    threshold: float = 5.0,
    warn: bool = True,
) -> pd.DataFrame:
    """Variance inflation factor of each criterion given the others (complete rows).

    When ``warn``, warns (``UserWarning``) naming the criteria whose VIF exceeds
    ``threshold``: their joint coefficients are unstable and their univariate effects overlap.

    Returns
    -------
    pandas.DataFrame
        Index = criterion; ``vif`` and ``n`` (the complete rows used).

    Examples
    --------
    >>> rng = np.random.default_rng(1)
    >>> frame = pd.DataFrame(rng.normal(size=(100, 2)), columns=["a", "b"])
    >>> bool(variance_inflation(frame, ["a", "b"])["vif"].between(1, 1.1).all())
    True
    """
    from statsmodels.stats.outliers_influence import variance_inflation_factor

    criteria = list(criteria)
    data = features[criteria].astype(float).replace([np.inf, -np.inf], np.nan).dropna()
    if len(data) <= len(criteria) + 1:
        raise ValueError(f"too few complete rows ({len(data)}) for {len(criteria)} criteria")
    X = np.column_stack([np.ones(len(data)), data.to_numpy()])
    with np.errstate(divide="ignore", invalid="ignore"), limit_threads(len(data)):
        vif = [variance_inflation_factor(X, j + 1) for j in range(len(criteria))]
    out = pd.DataFrame({"vif": vif, "n": len(data)}, index=pd.Index(criteria, name="criterion"))
    high = out.index[~(out["vif"] <= threshold)].tolist()
    if high and warn:
        warnings.warn(
            f"variance inflation above {threshold:g} for {', '.join(high)}: these "
            "criteria are collinear, so their separate effects are poorly identified",
            UserWarning,
            stacklevel=2,
        )
    return out


def criteria_columns(features: pd.DataFrame) -> tuple[list[str], str]:
    """The criteria to test and where they come from.

    Returns the assessed criteria (``score_*`` columns) when the data have assessments,
    otherwise the :data:`DERIVED_CRITERIA` present with more than one distinct value, with a
    sentence saying which was used.

    Examples
    --------
    >>> criteria_columns(pd.DataFrame({"score_fit": [1, 2], "nps": [3, 4]}))
    (['score_fit'], '1 assessed criteria (account-team scores 1-5)')
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
    """The requested control columns that exist and vary (others cannot adjust anything).

    Examples
    --------
    >>> usable_controls(pd.DataFrame({"region": ["n", "s"], "flat": ["x", "x"]}),
    ...                 ["region", "flat", "absent"])
    ['region']
    """
    return [c for c in (controls or []) if c in features and features[c].nunique() > 1]


def usable_cluster(
    features: pd.DataFrame, column: str = "account_manager", *, min_clusters: int = 10
) -> str | None:
    """``column`` when it can carry cluster-robust errors (present, with at least
    ``min_clusters`` distinct labels), else None (HC errors instead).

    Cluster-robust errors need many clusters: with a handful they are too small.

    Examples
    --------
    >>> frame = pd.DataFrame({"account_manager": [f"m{i % 12}" for i in range(48)]})
    >>> usable_cluster(frame), usable_cluster(frame.head(5)), usable_cluster(frame, "owner")
    ('account_manager', None, None)
    """
    if column not in features or features[column].nunique() < min_clusters:
        return None
    return column


def _label(name: str) -> str:
    return name.removeprefix("score_").replace("_", " ")


def verdicts(continuous: Effects, binary: Effects, *, q_threshold: float = 0.05) -> pd.DataFrame:
    """One verdict per criterion that reconciles a continuous and a binary growth model.

    The log-growth model (OLS) asks *how much* an account grows; the grew/not-grew model
    (Logit) asks *whether* it grows by more than the threshold. A criterion is

    * ``credible on both`` when both q-values are below ``q_threshold`` with the same sign;
    * ``credible on <continuous> only`` / ``credible on <binary> only`` when one is;
    * ``opposite directions`` when both are credible with opposite signs;
    * ``not credible`` when neither is, ``not estimated`` when a model could not estimate it.

    Parameters
    ----------
    continuous, binary : Effects
        :func:`criteria_effects` on a continuous outcome (e.g. ``log_growth``) and on a binary
        one (``grew``), in the **same view** (both univariate or both joint).
    q_threshold : float

    Returns
    -------
    pandas.DataFrame
        Index = criterion (strongest verdict first, then by q-value): ``coef_<a>``, ``q_<a>``,
        ``coef_<b>``, ``q_<b>`` (``a``, ``b`` the outcome names) and ``verdict``.

    Examples
    --------
    >>> rng = np.random.default_rng(2)
    >>> frame = pd.DataFrame(rng.normal(size=(400, 2)), columns=["x", "noise"])
    >>> frame["log_growth"] = 0.4 * frame["x"] + rng.normal(size=400)
    >>> frame["grew"] = frame["log_growth"] > 0.1
    >>> table = verdicts(criteria_effects(frame, ["x", "noise"], "log_growth"),
    ...                  criteria_effects(frame, ["x", "noise"], "grew"))
    >>> table["verdict"].to_dict()
    {'x': 'credible on both', 'noise': 'not credible'}
    """
    if continuous.view != binary.view:
        raise ValueError(
            f"verdicts needs both models in the same view; got {continuous.view} for "
            f"{continuous.outcome} and {binary.view} for {binary.outcome}"
        )
    a, b = continuous.outcome, binary.outcome
    if a == b:
        raise ValueError(f"both effects are on the same outcome {a!r}")
    ta, tb = continuous.table, binary.table
    index = ta.index.append(tb.index.difference(ta.index))
    out = pd.DataFrame(
        {
            f"coef_{a}": ta["coef"].reindex(index),
            f"q_{a}": ta["q_value"].reindex(index),
            f"coef_{b}": tb["coef"].reindex(index),
            f"q_{b}": tb["q_value"].reindex(index),
        },
        index=pd.Index(index, name="criterion"),
    )
    ca, cb = out[f"q_{a}"] < q_threshold, out[f"q_{b}"] < q_threshold
    same = np.sign(out[f"coef_{a}"]) == np.sign(out[f"coef_{b}"])
    unknown = out[[f"q_{a}", f"q_{b}"]].isna().any(axis=1) & ~(ca | cb)
    labels = [v.format(a=_label(a), b=_label(b)) for v in VERDICTS]
    code = np.select(
        [ca & cb & same, ca & cb, ca, cb, unknown], [0, 3, 1, 2, 5], 4
    )  # order of VERDICTS
    out["verdict"] = pd.Categorical.from_codes(code, categories=labels)
    order = np.lexsort((out[f"q_{a}"].fillna(np.inf).to_numpy(), code))
    return out.iloc[order]
