"""Account survival: durations, Kaplan-Meier, log-rank and Cox.

- :func:`account_durations` turns an ``accounts`` table (``acquired_on``, ``churned_on``) into
  the input of Kaplan-Meier / Cox (renewal cohorts for the shifted-beta-geometric model are
  :mod:`kamlab.churn.renewals`).
- :func:`kaplan_meier`, :func:`cox_ph`, :func:`logrank`: thin, tidy wrappers around
  :mod:`statsmodels.duration`; :func:`chi2_by_group` where there are no durations.

Time is in days unless a function says otherwise.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy.stats import norm
from statsmodels.duration.hazard_regression import PHReg
from statsmodels.duration.survfunc import SurvfuncRight, survdiff

from kamlab._plot import axes, finish
from kamlab._threads import limit_threads

__all__ = [
    "CHURN_DATE_COLUMNS",
    "account_durations",
    "chi2_by_group",
    "cox_ph",
    "has_churn_dates",
    "kaplan_meier",
    "logrank",
    "plot_survival",
]

#: The accounts columns that make churn observable as dates (acquisition, churn).
CHURN_DATE_COLUMNS = ("acquired_on", "churned_on")

#: The two-sided 95 % normal quantile.
Z95 = float(norm.ppf(0.975))


def wilson_interval(k, n):
    """The Wilson 95 % interval of ``k`` successes in ``n`` trials (NaN where ``n`` is 0)."""
    with np.errstate(divide="ignore", invalid="ignore"):
        p = k / n
        centre = (p + Z95**2 / (2 * n)) / (1 + Z95**2 / n)
        half = Z95 * np.sqrt(p * (1 - p) / n + Z95**2 / (4 * n**2)) / (1 + Z95**2 / n)
    return centre - half, centre + half


# ---------------------------------------------------------------------------------------------
# accounts table -> durations
# ---------------------------------------------------------------------------------------------


def _account_dates(accounts: pd.DataFrame, cols: list[str], account_col: str) -> pd.DataFrame:
    missing = [c for c in [account_col, *cols] if c not in accounts.columns]
    if missing:
        raise ValueError(f"accounts lacks column(s) {missing}")
    out = pd.DataFrame({c: pd.to_datetime(accounts[c]).dt.normalize() for c in cols})
    out.index = pd.Index(accounts[account_col].to_numpy(), name=account_col)
    return out


def _check_dates(d: pd.DataFrame, cohort_col: str, churn_col: str) -> None:
    no_start = d[cohort_col].isna()
    if no_start.any():
        raise ValueError(
            f"{int(no_start.sum())} account(s) have no {cohort_col!r}; first ids: "
            f"{list(d.index[no_start][:5])}"
        )
    early = d[churn_col] < d[cohort_col]
    if early.any():
        raise ValueError(
            f"{int(early.sum())} account(s) have {churn_col!r} before {cohort_col!r}; "
            f"first ids: {list(d.index[early][:5])}"
        )


def has_churn_dates(accounts: pd.DataFrame) -> bool:
    """Whether the accounts table records acquisition and churn dates
    (:data:`CHURN_DATE_COLUMNS`), so churn can be followed in time; without them churn is
    behavioural (no purchase within a horizon).

    Examples
    --------
    >>> has_churn_dates(pd.DataFrame(columns=["account_id", "acquired_on", "churned_on"]))
    True
    >>> has_churn_dates(pd.DataFrame(columns=["account_id", "acquired_on"]))
    False
    """
    return set(CHURN_DATE_COLUMNS) <= set(accounts.columns)


def account_durations(
    accounts: pd.DataFrame,
    as_of,
    *,
    start=None,
    observed_from=None,
    cohort_col: str = "acquired_on",
    churn_col: str = "churned_on",
    account_col: str = "account_id",
) -> pd.DataFrame:
    """Time to churn in days and the event flag, for Kaplan-Meier and Cox.

    Parameters
    ----------
    accounts : DataFrame
        One row per account with acquisition and churn (NaT = active) dates.
    as_of : date-like
        End of follow-up: churn after it is censored at it.
    start : date-like, optional
        Common time origin (e.g. the cutoff at which tiers and features were measured): only
        accounts acquired before it and not churned before it are followed, from it. By
        default each account is followed from its acquisition.
    observed_from : date-like, optional
        Without ``start``: the first date churn is recorded (accounts that left before are
        absent). Adds ``entry_days`` (days from acquisition to it, 0 if later) so survival can
        be estimated with delayed entry (left truncation).

    Returns
    -------
    DataFrame
        Indexed by account: ``duration_days`` (to churn, or to ``as_of`` when censored),
        ``event`` (1 churned by ``as_of``, else 0) and, with ``observed_from``, ``entry_days``.
    """
    d = _account_dates(accounts, [cohort_col, churn_col], account_col)
    _check_dates(d, cohort_col, churn_col)
    as_of = pd.Timestamp(as_of).normalize()
    if start is not None:
        origin = pd.Timestamp(start).normalize()
        if origin >= as_of:
            raise ValueError(f"start {origin.date()} must be before as_of {as_of.date()}")
        d = d[(d[cohort_col] < origin) & (d[churn_col].isna() | (d[churn_col] >= origin))]
        begin = pd.Series(origin, index=d.index)
    else:
        d = d[d[cohort_col] <= as_of]
        begin = d[cohort_col]
    if d.empty:
        raise ValueError("no account is under follow-up between the origin and as_of")
    event = d[churn_col].notna() & (d[churn_col] <= as_of)
    end = d[churn_col].where(event, as_of)
    out = pd.DataFrame(
        {
            "duration_days": ((end - begin) / pd.Timedelta(days=1)).astype(float),
            "event": event.astype("int64"),
        },
        index=d.index,
    )
    if observed_from is not None and start is None:
        seen = pd.Timestamp(observed_from).normalize()
        if (d.loc[event, churn_col] < seen).any():
            raise ValueError(f"some {churn_col!r} dates are before observed_from {seen.date()}")
        out["entry_days"] = ((seen - begin) / pd.Timedelta(days=1)).clip(lower=0).astype(float)
    return out


# ---------------------------------------------------------------------------------------------
# account survival
# ---------------------------------------------------------------------------------------------


def _survival_inputs(durations, events, groups=None):
    t = np.asarray(durations, dtype=float).ravel()
    e = np.asarray(events).ravel()
    if len(t) != len(e) or (groups is not None and len(np.asarray(groups).ravel()) != len(t)):
        raise ValueError("durations, events (and groups) must have the same length")
    if len(t) == 0:
        raise ValueError("no observations")
    if not np.all(np.isfinite(t)) or pd.isna(e).any():
        raise ValueError("durations and events must not contain missing values")
    if np.any(t < 0):
        raise ValueError(f"{int((t < 0).sum())} negative duration(s)")
    e_float = e.astype(float)
    if not np.all(np.isin(e_float, (0.0, 1.0))):
        raise ValueError("events must be 0/1 (1 = churned, 0 = censored)")
    g = None
    if groups is not None:
        g = np.asarray(groups, dtype=object).ravel()
        if pd.isna(g).any():
            raise ValueError("groups must not contain missing values")
    return t, e_float.astype(int), g


def _entry_times(entry, t: np.ndarray) -> np.ndarray | None:
    if entry is None:
        return None
    en = np.asarray(entry, dtype=float).ravel()
    if len(en) != len(t) or not np.all(np.isfinite(en)) or np.any(en < 0):
        raise ValueError("entry must be finite, non-negative and one per duration")
    if np.any(en > t):
        raise ValueError(f"{int((en > t).sum())} entry time(s) after the duration")
    return en


def kaplan_meier(durations, events, groups=None, entry=None) -> pd.DataFrame:
    """Kaplan-Meier survival curves, one per group (statsmodels ``SurvfuncRight``).

    Pointwise 95 % intervals use the log(-log) transform of Greenwood's variance. ``entry``
    (optional, same unit as ``durations``) gives delayed-entry times for left-truncated data
    (an account enters the risk set only from its entry time).

    Returns
    -------
    DataFrame
        Columns group, time, survival, ci_low, ci_high, n_at_risk, n_events; one row at time 0
        (survival 1) and one per distinct event time.
    """
    t, e, g = _survival_inputs(durations, events, groups)
    en = _entry_times(entry, t)
    if g is None:
        g = np.array(["all"] * len(t), dtype=object)
    frames = []
    for name in pd.unique(g):
        m = g == name
        sf = SurvfuncRight(t[m], e[m], entry=None if en is None else en[m])
        s = np.asarray(sf.surv_prob, dtype=float)
        se = np.asarray(sf.surv_prob_se, dtype=float)
        with np.errstate(divide="ignore", invalid="ignore"):
            inner = (s > 0) & (s < 1)
            ll_se = np.where(inner, se / (s * np.abs(np.log(np.where(inner, s, 0.5)))), np.nan)
            lo = np.where(inner, s ** np.exp(Z95 * ll_se), s)
            hi = np.where(inner, s ** np.exp(-Z95 * ll_se), s)
        frames.append(
            pd.DataFrame(
                {
                    "group": name,
                    "time": np.r_[0.0, sf.surv_times],
                    "survival": np.r_[1.0, s],
                    "ci_low": np.r_[1.0, lo],
                    "ci_high": np.r_[1.0, hi],
                    "n_at_risk": np.r_[
                        int(m.sum()) if en is None else int((en[m] <= 0).sum()), sf.n_risk
                    ].astype(int),
                    "n_events": np.r_[0, sf.n_events].astype(int),
                }
            )
        )
    return pd.concat(frames, ignore_index=True)


def logrank(durations, events, groups) -> pd.Series:
    """Log-rank test of equal survival across groups (statsmodels ``survdiff``).

    Returns
    -------
    Series
        statistic (chi-square), df, p_value.
    """
    t, e, g = _survival_inputs(durations, events, groups)
    levels = pd.unique(g)
    if len(levels) < 2:
        raise ValueError("logrank needs at least two groups")
    codes = pd.Categorical(g, categories=levels).codes
    stat, p = survdiff(t, e, codes)
    return pd.Series({"statistic": float(stat), "df": len(levels) - 1, "p_value": float(p)})


def cox_ph(
    df: pd.DataFrame,
    duration_col: str,
    event_col: str,
    covariates: list[str],
    *,
    ties: str = "efron",
    entry_col: str | None = None,
) -> pd.DataFrame:
    """Cox proportional-hazards regression (statsmodels ``PHReg``).

    Non-numeric covariates are one-hot encoded (first level dropped). ``entry_col`` names
    delayed-entry times for left-truncated data.

    Returns
    -------
    DataFrame
        covariate, coef, std_error, hazard_ratio, ci_low, ci_high (95 % for the hazard ratio),
        p_value.
    """
    cols = [duration_col, event_col, *covariates] + ([entry_col] if entry_col else [])
    missing = [c for c in cols if c not in df.columns]
    if missing:
        raise ValueError(f"df lacks column(s) {missing}")
    na = df[cols].isna().any(axis=1)
    if na.any():
        raise ValueError(
            f"{int(na.sum())} row(s) with missing values in {cols}; first index: {list(df.index[na][:5])}"
        )
    t, e, _ = _survival_inputs(df[duration_col], df[event_col])
    X = pd.get_dummies(df[covariates], drop_first=True, dtype=float)
    en = _entry_times(df[entry_col], t) if entry_col else None
    with limit_threads(len(t)):
        res = PHReg(t, X.to_numpy(dtype=float), status=e, entry=en, ties=ties).fit()
    coef = np.asarray(res.params)
    se = np.asarray(res.bse)
    return pd.DataFrame(
        {
            "covariate": list(X.columns),
            "coef": coef,
            "std_error": se,
            "hazard_ratio": np.exp(coef),
            "ci_low": np.exp(coef - Z95 * se),
            "ci_high": np.exp(coef + Z95 * se),
            "p_value": np.asarray(res.pvalues),
        }
    )


def plot_survival(
    km_table: pd.DataFrame,
    ax=None,
    *,
    time_unit: str = "days",
    title: str | None = None,
    end: float | None = None,
):
    """Step plot of Kaplan-Meier curves with their pointwise 95 % intervals, one line per group.

    Each group gets its own line style as well as colour, so curves that coincide stay
    visible, and the legend lists every group. ``end`` (the end of follow-up, in the units of
    the times) draws each curve on flat to it, so a group without events is a visible line
    and not a single point at time 0.

    Examples
    --------
    >>> km = kaplan_meier([1, 2, 3, 1, 1, 2], [1, 1, 1, 1, 0, 1], groups=list("aaabbb"))
    >>> ax = plot_survival(km)
    >>> [t.get_text() for t in ax.get_legend().get_texts()]
    ['a', 'b']
    >>> flat = kaplan_meier([5, 9], [0, 0])
    >>> plot_survival(flat, end=10).get_lines()[0].get_xdata().tolist()
    [0.0, 10.0]
    """
    ax = axes(ax)
    styles = ["-", "--", "-.", ":"]
    for i, (name, d) in enumerate(km_table.groupby("group", sort=False)):
        if end is not None and d["time"].max() < end:
            d = pd.concat([d, d.tail(1).assign(time=float(end))], ignore_index=True)
        (line,) = ax.step(
            d["time"],
            100 * d["survival"],
            where="post",
            linestyle=styles[i % len(styles)],
            label=str(name),
        )
        ax.fill_between(
            d["time"],
            100 * d["ci_low"],
            100 * d["ci_high"],
            step="post",
            alpha=0.15,
            color=line.get_color(),
        )
    ax.set_ylim(0, 102)
    return finish(
        ax,
        title=title or "Accounts still active (Kaplan-Meier, 95 % intervals)",
        xlabel=f"time ({time_unit})",
        ylabel="share still active (%)",
        legend=True,
    )


def chi2_by_group(events, groups) -> pd.Series:
    """Chi-squared test that the share of events (e.g. churned within a horizon) is the same
    in every group; for data without durations, where a log-rank test cannot be used.

    Returns
    -------
    pandas.Series
        ``statistic``, ``df``, ``p_value`` (like :func:`logrank`).
    """
    from scipy.stats import chi2_contingency

    table = pd.crosstab(np.asarray(groups), np.asarray(events, dtype=bool))
    if table.shape[0] < 2 or table.shape[1] < 2:
        raise ValueError("chi2_by_group needs at least two groups and both outcomes")
    statistic, p_value, dof, _ = chi2_contingency(table.to_numpy(), correction=False)
    return pd.Series({"statistic": float(statistic), "df": float(dof), "p_value": float(p_value)})
