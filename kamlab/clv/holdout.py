"""Calibration / holdout checks of the purchase models: per-frequency holdout predictions and
cumulative repeat purchases over time, and the run's check (:func:`holdout_fit`: calibrated
before the outcome cutoff, checked on what followed) in tables and words."""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from kamlab import fmt
from kamlab.clv.bgnbd import BGNBD
from kamlab.clv.pareto_nbd import ParetoNBD
from kamlab.clv.rfm import FREQ_DAYS, RFMSummary, freq_days, purchase_days, rfm_summary

__all__ = [
    "PARAM_COLUMNS",
    "HoldoutFit",
    "cumulative_purchases",
    "describe_holdout",
    "describe_models",
    "frequency_bins",
    "holdout_check",
    "holdout_fit",
]


def holdout_check(
    model: BGNBD | ParetoNBD,
    summary: RFMSummary | pd.DataFrame,
    max_bucket: int = 7,
    bins: Sequence[int] | None = None,
) -> pd.DataFrame:
    """Predicted vs actual holdout repeat purchases by calibration frequency.

    Parameters
    ----------
    model : fitted BGNBD or ParetoNBD
    summary : RFMSummary or DataFrame
        :func:`rfm_summary` with ``holdout_end`` (needs ``frequency_holdout`` and
        ``duration_holdout``).
    max_bucket : int
        Frequencies >= this are pooled in one bucket labelled e.g. ``"7+"``.
    bins : sequence of int, optional
        Increasing lower edges of frequency buckets instead of one bucket per frequency, e.g.
        ``[0, 10, 25, 50]`` gives ``"0-9"``, ``"10-24"``, ``"25-49"``, ``"50+"`` (for frequent
        B2B buyers). Must start at 0.

    Returns
    -------
    DataFrame
        One row per bucket (``"0"`` ... ``"7+"``) plus ``"total"``: ``n`` customers, actual and
        predicted totals and means per customer.

    Examples
    --------
    >>> bg = BGNBD()
    >>> bg.params_ = pd.Series({"r": 0.2426, "alpha": 4.4135, "a": 0.7929, "b": 2.4258})
    >>> table = pd.DataFrame({"frequency": [0, 3, 12], "recency": [0.0, 20.0, 30.0],
    ...                       "T": [30.0] * 3, "frequency_holdout": [0, 2, 9],
    ...                       "duration_holdout": [10.0] * 3})
    >>> holdout_check(bg, table, bins=[0, 1, 10])[["n", "actual_total", "predicted_total"]].round(2)
               n  actual_total  predicted_total
    frequency
    0          1           0.0             0.07
    1-9        1           2.0             0.57
    10+        1           9.0             3.07
    total      3          11.0             3.70
    """
    table = summary.table if isinstance(summary, RFMSummary) else summary
    need = {"frequency", "recency", "T", "frequency_holdout", "duration_holdout"}
    if not need <= set(table.columns):
        raise ValueError(
            f"summary lacks {sorted(need - set(table.columns))}; call rfm_summary(..., holdout_end=...)"
        )
    pred = model.expected_purchases(
        table["duration_holdout"].to_numpy(float),
        table["frequency"],
        table["recency"],
        table["T"],
    )
    freq_x = table["frequency"].to_numpy()
    if bins is None:
        bucket = np.minimum(freq_x, max_bucket).astype(int)
        labels = [str(i) for i in range(max_bucket)] + [f"{max_bucket}+"]
    else:
        edges = np.asarray(bins, dtype=int)
        if len(edges) == 0 or edges[0] != 0 or np.any(np.diff(edges) <= 0):
            raise ValueError(f"bins must be increasing lower edges starting at 0, got {list(bins)}")
        bucket = np.searchsorted(edges, freq_x, side="right") - 1
        labels = [
            str(lo) if hi - lo == 1 else f"{lo}-{hi - 1}" for lo, hi in zip(edges[:-1], edges[1:])
        ]
        labels.append(f"{edges[-1]}+")
    df = pd.DataFrame(
        {
            "bucket": pd.Categorical.from_codes(bucket, labels),
            "actual": table["frequency_holdout"].to_numpy(float),
            "predicted": pred,
        }
    )
    g = df.groupby("bucket", observed=False)
    out = pd.DataFrame(
        {"n": g.size(), "actual_total": g["actual"].sum(), "predicted_total": g["predicted"].sum()}
    )
    out.loc["total"] = out.sum()
    out["n"] = out["n"].astype(int)
    out["actual_mean"] = out["actual_total"] / out["n"].where(out["n"] > 0)
    out["predicted_mean"] = out["predicted_total"] / out["n"].where(out["n"] > 0)
    out.index = pd.Index([str(i) for i in out.index], name="frequency")
    return out


def cumulative_purchases(
    model: BGNBD | ParetoNBD,
    transactions: pd.DataFrame,
    calibration_end: Any,
    holdout_end: Any = None,
    freq: str = "W",
    *,
    account_col: str = "account_id",
    date_col: str = "date",
    amount_col: str = "amount",
) -> pd.DataFrame:
    """Actual and predicted cumulative repeat purchases of the calibration accounts over time.

    The population is the accounts of :func:`rfm_summary` (first purchase on or before
    ``calibration_end``); purchase days follow its rules (credit-note days are not purchases).
    The prediction at a date is the sum over accounts of the model's unconditional expectation
    E[X(age)] for a customer acquired at its first purchase (Fader, Hardie & Lee 2005, fig. 3),
    so the holdout part is a genuine out-of-sample check of the whole purchase process.

    Parameters
    ----------
    model : fitted BGNBD or ParetoNBD
        Fitted on ``rfm_summary(transactions, calibration_end, freq=freq)``.
    transactions : DataFrame
        Transactions with account, date and amount columns.
    calibration_end, holdout_end : date-like
        Last day of calibration (inclusive) and of the tracking window (default: the last
        transaction date, or ``calibration_end`` if no later transaction).
    freq : {"D", "W", "M"}
        Time unit of the grid and of the model.

    Returns
    -------
    DataFrame
        One row per grid point (every ``freq`` from the first purchase, plus the end):
        ``t`` (periods since the first purchase), ``date``, ``actual``, ``predicted`` and
        ``holdout`` (the date is after ``calibration_end``).

    Examples
    --------
    >>> bg = BGNBD()
    >>> bg.params_ = pd.Series({"r": 0.2426, "alpha": 4.4135, "a": 0.7929, "b": 2.4258})
    >>> tx = pd.DataFrame({"account_id": ["a", "a", "b", "b"],
    ...                    "date": pd.to_datetime(["2024-01-01", "2024-01-15", "2024-01-08", "2024-02-01"]),
    ...                    "amount": [5.0, 3.0, 2.0, 6.0]})
    >>> cumulative_purchases(bg, tx, "2024-01-21", "2024-02-04").round({"t": 3, "predicted": 3})
           t       date  actual  predicted  holdout
    0  0.000 2024-01-01       0      0.000    False
    1  1.000 2024-01-08       0      0.053    False
    2  2.000 2024-01-15       1      0.156    False
    3  3.000 2024-01-22       1      0.254     True
    4  4.000 2024-01-29       1      0.346     True
    5  4.857 2024-02-04       2      0.422     True
    """
    unit = freq_days(freq)
    model._check_fitted()
    cal_end = pd.Timestamp(calibration_end).normalize()
    daily = purchase_days(
        transactions, account_col=account_col, date_col=date_col, amount_col=amount_col
    )
    daily = daily[daily["purchase"]]
    first = daily.groupby("acc", sort=True, observed=True)["day"].transform("min")
    daily = daily[first <= cal_end]
    first = first[first <= cal_end]
    if daily.empty:
        raise ValueError(f"no purchases on or before calibration_end {cal_end.date()}")
    end = (
        pd.Timestamp(holdout_end).normalize()
        if holdout_end is not None
        else max(daily["day"].max(), cal_end)
    )
    if end < cal_end:
        raise ValueError(f"holdout_end {end.date()} is before calibration_end {cal_end.date()}")
    start = daily["day"].min()
    day_ns = np.timedelta64(1, "D")
    repeat = ((daily.loc[daily["day"] > first, "day"] - start) / day_ns).to_numpy(dtype=float)
    repeat = np.sort(repeat[repeat <= (end - start) / day_ns])
    birth_day = daily.groupby("acc", sort=True, observed=True)["day"].min()
    births, counts = np.unique(
        ((birth_day - start) / day_ns).to_numpy(dtype=float), return_counts=True
    )
    span = (end - start) / day_ns
    grid = np.arange(0.0, span + 1e-9, unit)
    if grid[-1] < span:
        grid = np.append(grid, span)
    grid_days = np.floor(grid + 1e-9)
    ages = np.clip(grid_days[:, None] - births[None, :], 0.0, None) / unit
    expected = np.asarray(model.expected_purchases_new(ages), dtype=float)
    dates = start + pd.to_timedelta(grid_days, unit="D")
    out = pd.DataFrame(
        {
            "t": grid / unit,
            "date": dates,
            "actual": np.searchsorted(repeat, grid_days, side="right").astype("int64"),
            "predicted": np.einsum("kj,j->k", expected, counts.astype(float)),
            "holdout": dates > cal_end,
        }
    )
    return out


# ----------------------------------------------------------------------------- the run's check
PARAM_COLUMNS = (
    "model",
    "parameter",
    "estimate",
    "std_error",
    "ci_low",
    "ci_high",
    "identified",
    "note",
    "reported",
)


@dataclass(frozen=True)
class HoldoutFit:
    """The purchase and spend models calibrated before the outcome cutoff and checked on what
    followed (:func:`holdout_fit`).

    Attributes
    ----------
    rfm : RFMSummary
        Calibration summary up to ``calibration_end`` with the holdout columns (without them
        when ``skipped``: the models are then calibrated on everything before ``as_of``).
    models : dict
        ``"BG/NBD"``, ``"Pareto/NBD"`` and, when it could be fitted, ``"Gamma-Gamma"``.
    calibration_end, holdout_end : Timestamp (holdout_end None when skipped)
    check, check_pareto : pandas.DataFrame
        :func:`holdout_check` of BG/NBD and Pareto/NBD (empty when skipped).
    tracking : pandas.DataFrame
        :func:`cumulative_purchases` of BG/NBD (empty when skipped).
    notes : tuple of str
        What the fits had to say (warnings, a Gamma-Gamma that could not be fitted).
    skipped : str or None
        Why there is no holdout check.
    """

    rfm: RFMSummary
    models: dict[str, Any]
    calibration_end: pd.Timestamp
    holdout_end: pd.Timestamp | None
    check: pd.DataFrame
    check_pareto: pd.DataFrame
    tracking: pd.DataFrame
    notes: tuple[str, ...]
    skipped: str | None

    @property
    def bgnbd(self) -> BGNBD:
        return self.models["BG/NBD"]

    @property
    def pareto_nbd(self) -> ParetoNBD:
        return self.models["Pareto/NBD"]

    def params(self) -> pd.DataFrame:
        """Every model's parameters in one table (:data:`PARAM_COLUMNS`): ``summary()`` of each
        model with its name; a parameter at the boundary has no number, only words."""
        frames = [m.summary().reset_index().assign(model=name) for name, m in self.models.items()]
        return pd.concat(frames, ignore_index=True)[list(PARAM_COLUMNS)]


def frequency_bins(frequency: pd.Series) -> list[int] | None:
    """Lower edges of calibration-frequency buckets for :func:`holdout_check`: one bucket per
    frequency (None, ``0 ... 7+``) when nine in ten accounts made at most 7 repeat purchases,
    else about five buckets at round numbers near the 20th, 40th, 60th, 80th and 95th
    percentiles (frequent B2B buyers).

    Examples
    --------
    >>> frequency_bins(pd.Series([0, 0, 1, 2, 3, 5]))
    >>> frequency_bins(pd.Series(range(0, 100)))
    [0, 20, 40, 60, 80, 95]
    """
    values = pd.Series(frequency, dtype=float)
    if values.quantile(0.9) <= 7:
        return None
    edges = [0]
    for q in values.quantile([0.2, 0.4, 0.6, 0.8, 0.95]).to_numpy():
        if q < 1:
            continue
        step = 10 ** np.floor(np.log10(q)) / 2
        edge = int(max(1, np.round(q / step) * step))
        if edge > edges[-1]:
            edges.append(edge)
    return edges


def _fit_models(table: pd.DataFrame) -> tuple[dict[str, Any], list[str]]:
    from kamlab.clv.gamma_gamma import GammaGamma

    notes: list[str] = []
    models: dict[str, Any] = {}
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        models["BG/NBD"] = BGNBD().fit(table["frequency"], table["recency"], table["T"])
        models["Pareto/NBD"] = ParetoNBD().fit(table["frequency"], table["recency"], table["T"])
        repeat = (table["frequency"] > 0) & (table["monetary_value"] > 0)
        try:
            models["Gamma-Gamma"] = GammaGamma().fit(
                table.loc[repeat, "frequency"], table.loc[repeat, "monetary_value"]
            )
        except (ValueError, RuntimeError) as exc:
            notes.append(f"Gamma-Gamma could not be fitted: {exc}.")
    notes += list(dict.fromkeys(str(w.message).rstrip(".") + "." for w in caught))
    return models, notes


def holdout_fit(transactions: pd.DataFrame, timeline, freq: str = "W") -> HoldoutFit:
    """BG/NBD, Pareto/NBD and Gamma-Gamma calibrated on the purchases before
    ``timeline.outcome_cutoff`` and checked on the holdout from it to the day before
    ``timeline.as_of``.

    Calibration ends the day before the cutoff; the holdout is everything the run may see
    after it. Without an outcome cutoff (data too short), the models are calibrated on every
    purchase before ``as_of`` and ``skipped`` says why there is no holdout. Warnings of the
    fits are kept in ``notes``, not printed.

    Parameters
    ----------
    transactions : pandas.DataFrame
        ``account_id``, ``date``, ``amount``.
    timeline : kamlab.timeline.Timeline
    freq : {"D", "W", "M"}
        Time unit of the models.
    """
    from kamlab.timeline import InsufficientHistory

    day = pd.Timedelta(days=1)
    try:
        timeline.require("A holdout check of the purchase models")
        skipped = None
    except InsufficientHistory as exc:
        skipped = str(exc)
    if skipped is None:
        calibration_end = timeline.outcome_cutoff - day
        holdout_end = timeline.as_of - day
    else:
        calibration_end, holdout_end = timeline.as_of - day, None
    rfm = rfm_summary(transactions, calibration_end, holdout_end, freq=freq)
    models, notes = _fit_models(rfm.table)
    empty = pd.DataFrame(
        columns=["n", "actual_total", "predicted_total", "actual_mean", "predicted_mean"],
        index=pd.Index([], name="frequency"),
    )
    if skipped is not None:
        return HoldoutFit(
            rfm, models, calibration_end, None, empty, empty, empty, tuple(notes), skipped
        )
    bins = frequency_bins(rfm.table["frequency"])
    return HoldoutFit(
        rfm,
        models,
        calibration_end,
        holdout_end,
        holdout_check(models["BG/NBD"], rfm, bins=bins),
        holdout_check(models["Pareto/NBD"], rfm, bins=bins),
        cumulative_purchases(models["BG/NBD"], transactions, calibration_end, holdout_end, freq),
        tuple(notes),
        None,
    )


def _pct(predicted: float, actual: float) -> str:
    """``"+1.4 %"``: how far a prediction is off, in percent of the actual."""
    return f"{fmt.signed(100 * (predicted / actual - 1), 2)} %" if actual else fmt.MISSING


def _ratio(a: float, b: float) -> float:
    return a / b if b else float("nan")


def describe_models(fit: HoldoutFit) -> str:
    """What the fitted parameters say about the accounts, and which are uncertain (Markdown).

    BG/NBD and Pareto/NBD: the mean purchase rate (r / alpha per period) and the dropout
    (a / (a + b) per purchase; s / beta per period); Gamma-Gamma: the mean spend per purchase
    (p gamma / (q - 1), finite only for q > 1). Parameters at the boundary are named in words.
    """
    per_year = 365.25 / FREQ_DAYS.get(fit.rfm.freq, 7.0)
    parts = [
        f"Calibrated on {fmt.count(len(fit.rfm.table))} accounts' purchases up to "
        f"{fit.calibration_end.date()}; 95 % intervals on the log scale, never below zero."
    ]
    for name, model in fit.models.items():
        s = model.summary()
        est = s["estimate"]
        boundary = list(s.index[~s["identified"]])
        wide = list(s.index[s["note"].str.startswith("wide")])
        if name in ("BG/NBD", "Pareto/NBD"):
            rate = _ratio(est["r"], est["alpha"]) * per_year
            text = (
                f"{name}: an active account buys on {fmt.estimate(rate, 3)} days a year on average"
            )
            if name == "BG/NBD" and not boundary:
                text += (
                    f" and drops out after a purchase with probability "
                    f"{fmt.share(_ratio(est['a'], est['a'] + est['b']))}"
                )
            elif name == "Pareto/NBD" and not boundary:
                dropout = _ratio(est["s"], est["beta"]) * per_year
                text += f" and drops out at a rate of {fmt.estimate(dropout, 3)} a year"
        else:
            q_low = s.loc["q", "ci_low"]
            text = (
                f"{name}: mean spend per purchase across accounts "
                f"{fmt.money(est['p'] * est['gamma'] / (est['q'] - 1))}"
                if est["q"] > 1 and q_low > 1
                else f"{name}: q = {s.loc['q', 'reported']} (95 % interval "
                f"{fmt.estimate(q_low, 3)} to {fmt.estimate(s.loc['q', 'ci_high'], 3)}) is "
                "not clearly above 1, so the accounts' average spend per purchase is not "
                "pinned down (a heavy tail of large orders); each account's expected spend "
                "leans on its own history"
            )
        if boundary:
            text += (
                f". {' and '.join(boundary)} {'is' if len(boundary) == 1 else 'are'} at the "
                "boundary: the calibration data show no sign of accounts dropping out, so the "
                "model treats every account as still active"
                if name != "Gamma-Gamma"
                else f". {' and '.join(boundary)} at the boundary (not identified)"
            )
        if wide:
            text += (
                f"; {' and '.join(wide)} {'is' if len(wide) == 1 else 'are'} wide (standard "
                "error above the estimate): the data say little about "
                f"{'it' if len(wide) == 1 else 'them'}"
            )
        parts.append(text + ".")
    return " ".join(parts + list(fit.notes))


def describe_holdout(fit: HoldoutFit) -> str:
    """Do the models predict the holdout? (Markdown)"""
    if fit.skipped or fit.holdout_end is None:
        return f"No holdout check: {fit.skipped}."
    total = fit.check.loc["total"]
    actual = float(total["actual_total"])
    other = float(fit.check_pareto.loc["total", "predicted_total"])
    unit = {"D": "days", "W": "weeks", "M": "months"}.get(fit.rfm.freq, fit.rfm.freq)
    weeks = fit.rfm.table["duration_holdout"].iloc[0]
    buckets = fit.check.drop(index="total")
    buckets = buckets[buckets["n"] > 0]
    miss = (buckets["predicted_mean"] / buckets["actual_mean"] - 1).abs()
    worst = miss.idxmax() if miss.notna().any() else None
    end = fit.tracking.iloc[-1]
    start = fit.calibration_end + pd.Timedelta(days=1)
    text = (
        f"In the {fmt.estimate(weeks, 3)} {unit} from {start.date()} "
        f"to {fit.holdout_end.date()}, the {fmt.count(total['n'])} calibration accounts made "
        f"{fmt.count(actual)} repeat purchases; BG/NBD predicted "
        f"{fmt.count(total['predicted_total'])} ({_pct(total['predicted_total'], actual)}) "
        f"and Pareto/NBD {fmt.count(other)} ({_pct(other, actual)})."
    )
    if worst is not None:
        row = buckets.loc[worst]
        text += (
            f" By calibration frequency, BG/NBD misses most in the group with {worst} "
            f"repeat purchase{'' if worst == '1' else 's'} in calibration: "
            f"{fmt.estimate(row['predicted_mean'], 3)} predicted against "
            f"{fmt.estimate(row['actual_mean'], 3)} actual per account."
        )
    return text + (
        f" Followed from each account's first purchase (without its calibration history), "
        f"BG/NBD's cumulative repeat purchases reach {fmt.count(end['predicted'])} by "
        f"{end['date'].date()} against {fmt.count(end['actual'])} actual."
    )
