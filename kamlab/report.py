"""Publish notebook results into a run folder.

Inside ``kamlab run`` every notebook's tables and figures are saved under the run folder
(``tables/<notebook>__<name>.csv`` and ``.parquet``, ``figures/<notebook>__<name>.png`` and
``.svg``). Run interactively or under nbval, the functions only return what they were given,
so a notebook cell reads the same either way::

    report.table(tiers, "tiers")        # shows the table; saves it during a run
    report.figure(ax, "lorenz")          # saves the figure during a run

The run folder and notebook name come from the environment variables ``KAMLAB_RUN_DIR`` and
``KAMLAB_NOTEBOOK``, which :mod:`kamlab.runner` sets for each notebook's kernel.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

import pandas as pd

from kamlab._io import atomic_write, write_csv

__all__ = ["figure", "run_dir", "summarize_run", "table"]

_SAFE = re.compile(r"[^A-Za-z0-9_.-]+")


def run_dir() -> Path | None:
    """The run folder when executing under ``kamlab run``, else None."""
    value = os.environ.get("KAMLAB_RUN_DIR")
    return Path(value) if value else None


def _stem(name: str) -> str:
    notebook = os.environ.get("KAMLAB_NOTEBOOK", "notebook")
    return f"{_SAFE.sub('_', notebook)}__{_SAFE.sub('_', name)}"


def table(frame: pd.DataFrame | pd.Series, name: str) -> pd.DataFrame | pd.Series:
    """Return ``frame`` (for display); during a run also save it as CSV and Parquet."""
    folder = run_dir()
    if folder is not None:
        out = folder / "tables"
        data = frame.to_frame() if isinstance(frame, pd.Series) else frame
        data = data.reset_index() if not isinstance(data.index, pd.RangeIndex) else data.copy()
        data.columns = [str(c) for c in data.columns]
        for col in data.columns:
            # Parquet needs one type per column; mixed text/date columns become text.
            if data[col].dtype == object:
                kinds = {type(v) for v in data[col].dropna()}
                if len(kinds) > 1:
                    data[col] = data[col].map(lambda v: v if pd.isna(v) else str(v))
        write_csv(data, out / f"{_stem(name)}.csv", float_format="%.10g")
        atomic_write(out / f"{_stem(name)}.parquet", lambda tmp: data.to_parquet(tmp, index=False))
    return frame


def figure(obj, name: str):
    """Return ``obj`` (an Axes, array of Axes or Figure); during a run also save the figure as
    PNG and SVG."""
    folder = run_dir()
    if folder is not None:
        fig = obj
        if hasattr(fig, "flat"):
            fig = next(iter(fig.flat))
        fig = getattr(fig, "figure", fig)
        out = folder / "figures"
        import matplotlib

        for ext in ("png", "svg"):
            # Fixed metadata keeps the files byte-identical across runs.
            meta = {"Software": None} if ext == "png" else {"Date": None, "Creator": None}
            with matplotlib.rc_context({"svg.hashsalt": "kamlab", "svg.id": None}):
                atomic_write(
                    out / f"{_stem(name)}.{ext}",
                    lambda tmp, e=ext, m=meta: fig.savefig(
                        tmp, format=e, dpi=100, metadata=m, bbox_inches="tight"
                    ),
                )
    return obj


def _read(folder: Path, name: str) -> pd.DataFrame | None:
    path = folder / "tables" / f"{name}.csv"
    return pd.read_csv(path) if path.is_file() else None


def summarize_run(run: str | os.PathLike) -> str:
    """A short Markdown digest of a run folder's key tables, for a README or a review note.

    Every number is read from the run's ``tables/`` (nothing is recomputed); sections whose
    tables are absent (e.g. a subset run) are left out.
    """
    import json

    folder = Path(run)
    manifest = json.loads((folder / "manifest.json").read_text(encoding="utf-8"))
    first = next(iter(manifest["parameters"].values()), {})
    lines = [
        f"Run of kamlab {manifest.get('kamlab_version')} on `{manifest['data']}` "
        f"(status {manifest['status']}; cutoff {first.get('cutoff', 'default')}, horizon "
        f"{first.get('horizon_days', 'default')} days)."
    ]
    ledger = manifest.get("data_quality_ledger") or []
    if ledger:
        dropped = sum(int(r["rows_dropped"]) for r in ledger)
        rules = ", ".join(f"{r['rule']} {int(r['rows_dropped']):,}" for r in ledger)
        lines.append(f"- Data quality: {dropped:,} rows left out by rule ({rules}).")

    conc = _read(folder, "01_portfolio__concentration")
    if conc is not None:
        c = conc.set_index(conc.columns[0])["value"]
        lines.append(
            f"- Concentration (last 12 months before the cutoff, {int(c['accounts']):,} "
            f"accounts): top 20 % bring {c['top_20pct_share']:.1%} of revenue, top "
            f"1 % {c['top_1pct_share']:.1%}; Gini {c['gini']:.3f}; "
            f"{int(c['accounts_for_80pct']):,} accounts make 80 %."
        )
    ret = _read(folder, "01_portfolio__retention")
    if ret is not None:
        r = ret.set_index(ret.columns[0])["value"]
        lines.append(
            f"- Retention over the horizon: NRR {r['nrr']:.1%}, GRR {r['grr']:.1%}, "
            f"logo retention {r['logo_retention']:.1%} ({int(r['retained_accounts']):,} of "
            f"{int(r['accounts']):,} accounts)."
        )
    tiers = _read(folder, "02_key_accounts__tiers")
    if tiers is not None:
        t = tiers.set_index("tier")
        used = manifest["parameters"].get("02_key_accounts", {})
        rule = used.get("rule_set", "the notebook's default rule set")
        caps = f"{used.get('strategic_cap', 0.03):.0%} / {used.get('key_cap', 0.15):.0%}"
        lines.append(
            f"- Key accounts ({rule}, caps {caps}): {int(t.loc['strategic', 'accounts']):,} "
            f"strategic and {int(t.loc['key', 'accounts']):,} key of "
            f"{int(t['accounts'].sum()):,}, carrying "
            f"{t.loc[['key', 'strategic'], 'revenue_share'].sum():.1%} of revenue."
        )
    versus = _read(folder, "02_key_accounts__size_only_vs_rule_set")
    if versus is not None:
        v = versus.set_index(versus.columns[0])
        parts = [
            f"{name}: mean symmetric growth {row['growth_dh']:+.3f}, grew > threshold "
            f"{row['grew']:.1%}, churned {row['churned']:.1%}"
            for name, row in v.iterrows()
        ]
        lines.append("- What the key accounts did after the cutoff — " + "; ".join(parts) + ".")
    bt = _read(folder, "04_growth_drivers__backtest")
    if bt is not None:
        pooled = bt[(bt["cutoff"] == "pooled") & (bt["metric"] == "precision_at_k")]
        parts = [
            f"{row['rule_set']} {row['estimate']:.2f} ({row['ci_low']:.2f}–{row['ci_high']:.2f})"
            for _, row in pooled.sort_values("estimate", ascending=False).iterrows()
        ]
        lines.append(
            '- Back-test, precision@15 % for "grew" pooled over cutoffs (95 % CI): '
            + ", ".join(parts)
            + "."
        )
    effects = _read(folder, "04_growth_drivers__effects_joint")
    if effects is not None:
        credible = effects[effects["q_value"] < 0.05]
        named = (
            ", ".join(
                f"{row['criterion']} ({row['coef']:+.2f} per SD)" for _, row in credible.iterrows()
            )
            or "none"
        )
        lines.append(f"- Criteria with a credible joint effect on log growth (q < 0.05): {named}.")
    agree = _read(folder, "03_segments_vs_rules__segments_vs_rules_agreement")
    sep = _read(folder, "03_segments_vs_rules__outcome_separation")
    if agree is not None and sep is not None:
        a = agree.set_index("comparison")
        g = sep[sep["outcome"] == "growth_dh"].set_index("partition")
        lines.append(
            f"- Segments vs rules: agreement with tiers ARI {a.iloc[0]['ARI']:.3f}; "
            "future growth separated (epsilon²) by "
            + ", ".join(
                f"{p} {row['epsilon2']:.3f} (p = {row['p_value']:.2g})" for p, row in g.iterrows()
            )
            + "."
        )
    params = _read(folder, "06_clv__model_params")
    holdout = _read(folder, "06_clv__holdout_check")
    if params is not None:
        for model in params["model"].unique():
            p = params[params["model"] == model]
            lines.append(
                f"- {model}: "
                + ", ".join(f"{row['parameter']} {row['estimate']:.4g}" for _, row in p.iterrows())
                + "."
            )
    if holdout is not None:
        total = holdout[holdout["frequency"].astype(str) == "total"].iloc[0]
        lines.append(
            f"- Holdout check: {total['predicted_total']:,.0f} repeat purchases "
            f"predicted vs {total['actual_total']:,.0f} actual "
            f"({total['predicted_total'] / total['actual_total'] - 1:+.1%})."
        )
    return "\n".join(lines) + "\n"
