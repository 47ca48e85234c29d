"""The action list: one row per active account, everything a review meeting needs, in the order
a meeting walks it.

A key-account lead asks, account by account: who owns it, which tier is it in now and at the
previous review, why (the score and its three largest contributions), how big and how fast is
it growing, how likely is it to leave and why, what is it worth (CLV with an 80 % interval,
P(alive)), and what should we do (flags). :func:`action_list` joins the results of the run's
analyses into that table; :meth:`ActionList.write` writes it as ``action_list.xlsx``
(formatted, filterable, frozen header, one sheet per account manager) and ``action_list.csv``.

Nothing here computes a model: every column comes from a tested kamlab result passed in.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from kamlab import fmt
from kamlab.tiers import TIERS

__all__ = ["COLUMNS", "FLAGS", "ActionList", "action_list"]

#: The flags, in the order a review meeting takes them (the first one sets the priority).
FLAGS = (
    "at risk",
    "demoted",
    "low-value key",
    "promoted",
    "high-value regular",
    "growth candidate",
)
#: Columns of the action list, in order.
COLUMNS = (
    "priority",
    "account_id",
    "name",
    "account_manager",
    "industry",
    "region",
    "tier",
    "previous_tier",
    "change",
    "flags",
    "score",
    "top_contributions",
    "type",
    "revenue_12m",
    "revenue_growth_12m",
    "churn_probability",
    "churn_driver",
    "clv",
    "clv_low",
    "clv_high",
    "p_alive",
)


@dataclass(frozen=True)
class ActionList:
    """The action list (:func:`action_list`).

    Attributes
    ----------
    table : pandas.DataFrame
        One row per active account with :data:`COLUMNS` plus one boolean column per flag
        (``at_risk``, ``demoted``, ...), sorted for a review meeting: accounts with a flag
        first (in :data:`FLAGS` order), then by tier (strategic first), churn probability and
        value.
    counts : pandas.Series
        Accounts per flag.
    """

    table: pd.DataFrame
    counts: pd.Series

    def write(self, folder: str | os.PathLike) -> tuple[Path, Path]:
        """Write ``action_list.xlsx`` (a sheet with every account, then one per account
        manager) and ``action_list.csv`` into ``folder``; both spreadsheet-safe."""
        from kamlab._io import sheet_name, write_csv, write_excel

        folder = Path(folder)
        frame = self.table
        sheets = {"All accounts": frame}
        if "account_manager" in frame and frame["account_manager"].notna().any():
            for manager, rows in frame.groupby("account_manager", sort=True):
                sheets[sheet_name(str(manager), sheets)] = rows
        xlsx = write_excel(sheets, folder / "action_list.xlsx")
        csv = write_csv(frame, folder / "action_list.csv", float_format="%.10g")
        return xlsx, csv

    def describe(self) -> str:
        """The list in one paragraph (Markdown)."""
        n = len(self.table)
        flagged = int(self.table["flags"].astype(bool).sum())
        parts = [f"{fmt.count(c)} {flag}" for flag, c in self.counts.items() if c]
        return (
            f"The action list has {fmt.count(n)} active accounts; {fmt.count(flagged)} carry at "
            f"least one flag ({', '.join(parts) or 'none'}) and come first, in the order a "
            f"review takes them: at-risk key accounts, demotions, key accounts of low value, "
            f"promotions, valuable regular accounts, growth candidates."
        )


def _top_contributions(contributions: pd.DataFrame, k: int = 3) -> pd.Series:
    """The ``k`` largest contributions per account as text, e.g. ``"growth_potential +0.12"``."""
    if contributions.empty:
        return pd.Series("", index=contributions.index, dtype=object)
    values = contributions.to_numpy(dtype=float)
    names = np.asarray(contributions.columns, dtype=object)
    order = np.argsort(-np.nan_to_num(values, nan=-np.inf), axis=1, kind="stable")[:, :k]
    texts = []
    for row, idx in zip(values, order):
        texts.append(
            "; ".join(f"{names[j]} {fmt.signed(row[j], 2)}" for j in idx if np.isfinite(row[j]))
        )
    return pd.Series(texts, index=contributions.index, dtype=object)


def action_list(
    accounts: pd.DataFrame,
    scored,
    changes: pd.DataFrame,
    features: pd.DataFrame,
    *,
    churn: pd.DataFrame | None = None,
    value: pd.DataFrame | None = None,
    mismatch: pd.Series | None = None,
    candidates=None,
) -> ActionList:
    """Join the run's results into one row per active account.

    Parameters
    ----------
    accounts : pandas.DataFrame
        The dataset's accounts (``account_id`` and, where present, ``name``,
        ``account_manager``, ``industry``, ``region``).
    scored : kamlab.criteria.Scores
        Scores, tiers and types as of the review; its accounts are the active ones.
    changes : pandas.DataFrame
        :func:`kamlab.review.review_changes` between the previous review and this one.
    features : pandas.DataFrame
        As-of features (``revenue_12m``, ``revenue_growth_12m``).
    churn : pandas.DataFrame, optional
        Indexed by account: ``churn_probability``, ``churn_driver``, ``at_risk``.
    value : pandas.DataFrame, optional
        Indexed by account: ``clv``, ``clv_low``, ``clv_high``, ``p_alive``.
    mismatch : pandas.Series, optional
        Account → ``"high-value regular"`` or ``"low-value key"``
        (:func:`kamlab.review.value_vs_tier`).
    candidates : index-like, optional
        Growth candidates the key list leaves off (:func:`kamlab.review.model_additions`).

    Examples
    --------
    >>> from types import SimpleNamespace
    >>> tiers = pd.Categorical(["key", "regular"], categories=TIERS, ordered=True)
    >>> scored = SimpleNamespace(
    ...     table=pd.DataFrame({"score": [0.4, -0.1], "tier": tiers, "type": ["stable", "tactical"]},
    ...                        index=pd.Index(["A", "B"], name="account_id")),
    ...     contributions=pd.DataFrame({"size": [0.3, -0.2], "growth": [0.1, 0.1]}, index=["A", "B"]))
    >>> changes = pd.DataFrame({"previous_tier": ["regular", "regular"], "change": ["promoted", "unchanged"]},
    ...                        index=["A", "B"])
    >>> features = pd.DataFrame({"revenue_12m": [1000.0, 50.0]}, index=["A", "B"])
    >>> churn = pd.DataFrame({"churn_probability": [0.4, 0.1], "churn_driver": ["nps", "recency_days"],
    ...                       "at_risk": [True, False]}, index=["A", "B"])
    >>> actions = action_list(pd.DataFrame({"account_id": ["A", "B"], "name": ["Alpha", "Beta"]}),
    ...                       scored, changes, features, churn=churn)
    >>> actions.table[["account_id", "tier", "flags", "top_contributions"]].to_string(index=False)
    'account_id    tier               flags  top_contributions\\n         A     key at risk, promoted size +0.3; growth +0.1\\n         B regular                    growth +0.1; size -0.2'
    """
    table = scored.table
    ids = table.index
    out = pd.DataFrame(index=ids)
    out.index.name = "account_id"
    info = accounts.set_index("account_id")
    for col in ("name", "account_manager", "industry", "region"):
        out[col] = info[col].reindex(ids) if col in info else np.nan
    out["tier"] = table["tier"]
    previous = changes.get("previous_tier")
    out["previous_tier"] = previous.reindex(ids) if previous is not None else np.nan
    out["change"] = changes["change"].reindex(ids).astype(object) if "change" in changes else np.nan
    out["score"] = table["score"]
    out["top_contributions"] = _top_contributions(scored.contributions.reindex(ids))
    out["type"] = table["type"] if "type" in table else np.nan
    for col in ("revenue_12m", "revenue_growth_12m"):
        out[col] = features[col].reindex(ids) if col in features else np.nan
    churn_cols = ("churn_probability", "churn_driver")
    for col in churn_cols:
        out[col] = churn[col].reindex(ids) if churn is not None and col in churn else np.nan
    for col in ("clv", "clv_low", "clv_high", "p_alive"):
        out[col] = value[col].reindex(ids) if value is not None and col in value else np.nan

    designated = (table["tier"] >= "key").reindex(ids).fillna(False).astype(bool)
    at_risk = (
        churn["at_risk"].reindex(ids).fillna(False).astype(bool)
        if churn is not None and "at_risk" in churn
        else pd.Series(False, index=ids)
    )
    change = out["change"].astype(str)
    mism = (
        mismatch.reindex(ids).astype(object)
        if mismatch is not None
        else pd.Series(np.nan, index=ids, dtype=object)
    )
    flags = {
        "at risk": at_risk & designated,
        "demoted": change.eq("demoted"),
        "low-value key": mism.eq("low-value key"),
        "promoted": change.eq("promoted"),
        "high-value regular": mism.eq("high-value regular"),
        "growth candidate": pd.Series(
            ids.isin(pd.Index(candidates if candidates is not None else [])), index=ids
        ),
    }
    flag_frame = pd.DataFrame(flags, columns=list(FLAGS)).fillna(False).astype(bool)
    raised = flag_frame.to_numpy()
    names = np.asarray(FLAGS, dtype=object)
    out["flags"] = [", ".join(names[row]) for row in raised]
    first_flag = np.where(raised.any(axis=1), raised.argmax(axis=1), len(FLAGS))
    tier_rank = -pd.Categorical(out["tier"], categories=TIERS, ordered=True).codes
    order = np.lexsort(
        (
            out.index.to_numpy(dtype=str),
            -np.nan_to_num(out["clv"].to_numpy(dtype=float), nan=-np.inf),
            -np.nan_to_num(out["churn_probability"].to_numpy(dtype=float), nan=-np.inf),
            tier_rank,
            first_flag,
        )
    )
    out = out.iloc[order]
    out.insert(0, "priority", np.arange(1, len(out) + 1))
    out = out.reset_index()[list(COLUMNS)]
    for flag in FLAGS:
        out[flag.replace(" ", "_").replace("-", "_")] = (
            flag_frame[flag].reindex(out["account_id"]).to_numpy()
        )
    counts = flag_frame.sum().astype(int).rename("accounts")
    return ActionList(out, counts)
