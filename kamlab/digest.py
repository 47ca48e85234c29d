"""``kamlab summarize``: a run's key numbers in a few lines, and what changed between two runs.

Every number is read from the run's manifest and published tables (nothing is recomputed),
found through the notebook registry :data:`kamlab.registry.NOTEBOOKS`; sections whose tables are
absent (a subset run, data too short for an analysis) are left out.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import pandas as pd

from kamlab import fmt

__all__ = ["compare_runs", "summarize_run"]


class _Run:
    def __init__(self, folder: str | os.PathLike):
        self.folder = Path(folder)
        path = self.folder / "manifest.json"
        if not path.is_file():
            raise FileNotFoundError(f"{self.folder} is not a run folder (no manifest.json)")
        self.manifest = json.loads(path.read_text(encoding="utf-8"))

    def table(self, notebook: str, name: str) -> pd.DataFrame | None:
        from kamlab.registry import NOTEBOOKS

        spec = NOTEBOOKS[notebook]
        if name not in spec.tables:
            raise KeyError(f"{notebook} does not publish a table {name!r}")
        path = self.folder / "tables" / f"{notebook}__{name}.parquet"
        return pd.read_parquet(path) if path.is_file() else None

    def values(self, notebook: str, name: str) -> pd.Series | None:
        frame = self.table(notebook, name)
        if frame is None:
            return None
        return frame.set_index(frame.columns[0]).iloc[:, 0]

    def link(self, notebook: str, text: str, links: bool) -> str:
        return f"[{text}](html/{notebook}.html)" if links else text

    def bullet(self, notebook: str, text: str, links: bool) -> str:
        """The start of a digest line: a bullet and the (linked) name of its report."""
        return "- " + self.link(notebook, text, links)


def _dates_line(run: _Run) -> str:
    d = run.manifest.get("dates", {})
    m = run.manifest
    line = (
        f"Run of kamlab {m.get('kamlab_version')} on `{m.get('data')}` (status "
        f"{m.get('status')}): data {d.get('data_start')} to {d.get('data_end')}, as of "
        f"{d.get('as_of')}"
    )
    if d.get("outcome_cutoff"):
        line += f"; outcomes over {d.get('horizon_days')} days from {d.get('outcome_cutoff')}"
    if d.get("previous_review"):
        line += f"; previous review {d.get('previous_review')}"
    return line + "."


def summarize_run(run: str | os.PathLike, *, links: bool = False) -> str:
    """A short Markdown digest of a run folder, for a README, a review note or the run index.

    ``links=True`` links each line to the report it comes from (for ``index.html``).
    """
    r = _Run(run)
    lines = [_dates_line(r)]
    ledger = r.manifest.get("data_quality_ledger") or []
    source = r.manifest.get("source") or {}
    if source:
        lines.append(
            f"- Imported from `{source.get('file')}`: {fmt.count(source.get('lines'))} "
            f"lines, signed total {fmt.money(source.get('signed_total'))}."
        )
    if ledger:
        dropped = sum(int(row["rows_dropped"]) for row in ledger)
        rules = ", ".join(f"{row['rule']} {fmt.count(row['rows_dropped'])}" for row in ledger)
        lines.append(f"- Data quality: {fmt.count(dropped)} rows left out by rule ({rules}).")
    conc = r.values("01_portfolio", "concentration")
    if conc is not None:
        lines.append(
            r.bullet("01_portfolio", "Concentration", links)
            + f" (12 months before {r.manifest['dates']['as_of']}, "
            f"{fmt.count(conc['accounts'])} accounts): top 20 % bring "
            f"{fmt.share(conc['top_20pct_share'])} of revenue, top 1 % "
            f"{fmt.share(conc['top_1pct_share'])}; Gini {fmt.estimate(conc['gini'], 3)}; "
            f"{fmt.count(conc['accounts_for_80pct'])} accounts make 80 %."
        )
    ret = r.values("01_portfolio", "retention")
    if ret is not None:
        lines.append(
            r.bullet("01_portfolio", "Retention", links)
            + f" (last {r.manifest['dates']['horizon_days']} days against the "
            f"{r.manifest['dates']['horizon_days']} before): NRR {fmt.share(ret['nrr'])}, "
            f"GRR {fmt.share(ret['grr'])}, logo retention "
            f"{fmt.share(ret['logo_retention'])} ({fmt.count(ret['retained_accounts'])} "
            f"of {fmt.count(ret['accounts'])} accounts)."
        )
    tiers = r.table("02_key_accounts", "tiers")
    if tiers is not None:
        t = tiers.set_index("tier")
        used = r.manifest.get("parameters", {}).get("02_key_accounts", {})
        lines.append(
            r.bullet("02_key_accounts", "Key accounts", links)
            + f" ({used.get('rule_set', 'seed_weighted')}): "
            f"{fmt.count(t.loc['strategic', 'accounts'])} strategic and "
            f"{fmt.count(t.loc['key', 'accounts'])} key of "
            f"{fmt.count(t['accounts'].drop(index='total', errors='ignore').sum())}, carrying "
            f"{fmt.share(t.loc[['key', 'strategic'], 'revenue_share'].sum())} of revenue."
        )
    bt = r.table("04_growth_drivers", "backtest")
    if bt is not None:
        pooled = bt[(bt["cutoff"] == "pooled") & (bt["metric"] == "precision_at_k")]
        parts = [
            f"{row['rule_set']} {fmt.estimate(row['estimate'], 2)} "
            f"({fmt.estimate(row['ci_low'], 2)}–{fmt.estimate(row['ci_high'], 2)})"
            for _, row in pooled.sort_values(
                ["estimate", "rule_set"], ascending=[False, True]
            ).iterrows()
        ]
        if parts:
            lines.append(
                r.bullet("04_growth_drivers", "Back-test", links)
                + ', precision@15 % for "grew" pooled over cutoffs (95 % CI): '
                + ", ".join(parts)
                + "."
            )
    verdicts = r.table("04_growth_drivers", "verdicts")
    if verdicts is not None and "verdict" in verdicts:
        credible = verdicts[verdicts["verdict"].astype(str).str.startswith("credible")]
        named = (
            ", ".join(f"{row['criterion']} ({row['verdict']})" for _, row in credible.iterrows())
            or "none"
        )
        lines.append(
            r.bullet("04_growth_drivers", "Growth drivers", links)
            + f" with a credible effect: {named}."
        )
    risk = r.table("05_churn", "churn_risk")
    if risk is not None and "churn_probability" in risk:
        key = risk[risk["tier"].astype(str).isin(["key", "strategic"])] if "tier" in risk else risk
        flagged = key[key["at_risk"].astype(bool)] if "at_risk" in key else key.iloc[:0]
        highest = key.sort_values(
            ["churn_probability", "account_id"], ascending=[False, True]
        ).head(3)
        lines.append(
            r.bullet("05_churn", "Churn risk", links)
            + f": {fmt.count(len(flagged))} of {fmt.count(len(key))} key or strategic "
            f"accounts flagged at risk; highest "
            + (
                ", ".join(
                    f"{row['account_id']} ({fmt.share(row['churn_probability'])})"
                    for _, row in highest.iterrows()
                )
                or "none"
            )
            + "."
        )
    params = r.table("06_clv", "model_params")
    if params is not None:
        for model in params["model"].unique():
            p = params[params["model"] == model]
            shown = [
                f"{row['parameter']} "
                + (str(row["reported"]) if "reported" in p else fmt.estimate(row["estimate"]))
                for _, row in p.iterrows()
            ]
            lines.append(r.bullet("06_clv", str(model), links) + ": " + ", ".join(shown) + ".")
    holdout = r.table("06_clv", "holdout_check")
    if holdout is not None:
        total = holdout[holdout[holdout.columns[0]].astype(str) == "total"]
        if len(total):
            row = total.iloc[0]
            lines.append(
                r.bullet("06_clv", "Holdout check", links)
                + f": {fmt.count(row['predicted_total'])} repeat purchases predicted "
                f"vs {fmt.count(row['actual_total'])} actual "
                f"({fmt.share(row['predicted_total'] / row['actual_total'] - 1, signed=True)})."
            )
    checklist = r.table("07_account_review", "checklist")
    if checklist is not None and "status" in checklist:
        counts = checklist["status"].value_counts()
        lines.append(
            r.bullet("07_account_review", "Review checklist", links)
            + ": "
            + ", ".join(
                f"{fmt.count(counts[s])} {s}" for s in ("act", "watch", "ok", "n/a") if s in counts
            )
            + "."
        )
    return "\n".join(lines) + "\n"


def _designated(run: _Run) -> pd.Series | None:
    scores = run.table("02_key_accounts", "scores")
    if scores is None or "tier" not in scores:
        return None
    return scores.set_index("account_id")["tier"].astype(str)


def compare_runs(previous: str | os.PathLike, current: str | os.PathLike) -> str:
    """What changed from one refresh to the next: dates, KPIs, key-list entries and exits,
    at-risk accounts (Markdown)."""
    a, b = _Run(previous), _Run(current)
    da, db = a.manifest.get("dates", {}), b.manifest.get("dates", {})
    lines = [f"Changes from the run as of {da.get('as_of')} to the run as of {db.get('as_of')}."]
    for notebook, name, label, kind in (
        ("01_portfolio", "concentration", "top 20 % share", "top_20pct_share"),
        ("01_portfolio", "concentration", "Gini", "gini"),
        ("01_portfolio", "retention", "NRR", "nrr"),
        ("01_portfolio", "retention", "GRR", "grr"),
        ("01_portfolio", "retention", "logo retention", "logo_retention"),
    ):
        va, vb = a.values(notebook, name), b.values(notebook, name)
        if va is None or vb is None or kind not in va or kind not in vb:
            continue
        show = fmt.estimate if kind == "gini" else fmt.share
        lines.append(f"- {label}: {show(va[kind])} → {show(vb[kind])}.")
    ta, tb = _designated(a), _designated(b)
    if ta is not None and tb is not None:
        key_a = set(ta.index[ta.isin(["key", "strategic"])])
        key_b = set(tb.index[tb.isin(["key", "strategic"])])
        entered, left = sorted(key_b - key_a), sorted(key_a - key_b)
        lines.append(
            f"- Key list: {fmt.count(len(key_a))} → {fmt.count(len(key_b))} accounts; "
            f"entered {fmt.count(len(entered))} ({', '.join(entered[:10]) or 'none'}), "
            f"left {fmt.count(len(left))} ({', '.join(left[:10]) or 'none'})."
        )
    ra, rb = (run.table("05_churn", "churn_risk") for run in (a, b))
    if ra is not None and rb is not None and "at_risk" in ra and "at_risk" in rb:
        risk_a = set(ra.loc[ra["at_risk"].astype(bool), "account_id"])
        risk_b = set(rb.loc[rb["at_risk"].astype(bool), "account_id"])
        new, cleared = sorted(risk_b - risk_a), sorted(risk_a - risk_b)
        lines.append(
            f"- At risk: {fmt.count(len(risk_a))} → {fmt.count(len(risk_b))}; newly "
            f"at risk {', '.join(new[:10]) or 'none'}; no longer at risk "
            f"{', '.join(cleared[:10]) or 'none'}."
        )
    return "\n".join(lines) + "\n"
