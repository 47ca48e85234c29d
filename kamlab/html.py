"""The readable side of a run folder: one HTML report per notebook and the run's ``index.html``.

Each report is the executed notebook without code, opened by a banner (data, dates, kamlab
version, a link back to the index) and a table of contents. The index states the data source,
rows and date range, the run's dates and parameters, kamlab's version and commit, the
executive summary of :mod:`kamlab.digest` with links into each report, and links to the
reports, the action list, tables and figures. Everything shown is escaped.
"""

from __future__ import annotations

import json
import re
from html import escape
from pathlib import Path

from kamlab._io import atomic_write

__all__ = ["export_report", "write_index"]

STYLE = """
<style>
body { font-family: system-ui, -apple-system, "Segoe UI", sans-serif; color: #1d2733;
  line-height: 1.45; margin: 0 1em; }
main.kamlab-report { max-width: 1100px; margin: auto; }
main.kamlab-report img { max-width: 100%; height: auto; }
main.kamlab-report pre { white-space: pre-wrap; }
a.anchor-link { display: none; }
.kamlab-banner { border: 1px solid #c8d1dc; background: #f5f8fb; padding: 0.6em 1em;
  margin: 1em auto; max-width: 1100px; font-size: 0.95em; }
.kamlab-banner p { margin: 0.25em 0; }
.kamlab-toc { max-width: 1100px; margin: 0.5em auto 1.5em auto; font-size: 0.95em; }
.kamlab-toc ol { margin: 0.2em 0 0 1.2em; }
table.kamlab-table { border-collapse: collapse; margin: 0.5em 0; font-size: 0.92em; }
table.kamlab-table th, table.kamlab-table td { border-bottom: 1px solid #dde3ea;
  padding: 0.25em 0.7em; text-align: right; }
table.kamlab-table th:first-child, table.kamlab-table td:first-child { text-align: left; }
table.kamlab-table thead th { border-bottom: 2px solid #8795a8; }
</style>
"""
_HEADING = re.compile(r'<h2 id="([^"]+)"[^>]*>(.*?)(<a class="anchor-link".*?</a>)?</h2>', re.S)
_TAG = re.compile(r"<[^>]+>")


def _manifest(run: Path) -> dict:
    path = run / "manifest.json"
    return json.loads(path.read_text(encoding="utf-8")) if path.is_file() else {}


def _banner(run: Path, notebook: str, manifest: dict) -> str:
    from kamlab.registry import NOTEBOOKS

    dates = manifest.get("dates", {})
    spec = NOTEBOOKS.get(notebook)
    used = manifest.get("notebook_dates", {}).get(notebook, {})
    parts = [
        f"<strong>{escape(spec.title if spec else notebook)}</strong> · "
        f"data <code>{escape(str(manifest.get('data_label', manifest.get('data', ''))))}"
        f"</code> ({escape(str(dates.get('data_start')))} to "
        f"{escape(str(dates.get('data_end')))}) · as of {escape(str(dates.get('as_of')))}"
    ]
    extra = [
        f"{escape(k.replace('_', ' '))}: {escape(_text(v))}"
        for k, v in used.items()
        if k not in ("as_of",)
    ]
    if extra:
        parts.append("Dates used here: " + "; ".join(extra))
    parts.append(
        f"kamlab {escape(str(manifest.get('kamlab_version')))}"
        + (
            f" ({escape(str(manifest.get('git_commit'))[:10])})"
            if manifest.get("git_commit")
            else ""
        )
        + ' · <a href="../index.html">back to the run index</a>'
    )
    return '<div class="kamlab-banner">' + "".join(f"<p>{p}</p>" for p in parts) + "</div>"


def _text(value) -> str:
    if isinstance(value, list):
        return ", ".join(str(v) for v in value) or "none"
    return str(value)


def _toc(body: str) -> str:
    items = []
    for anchor, title, _ in _HEADING.findall(body):
        text = _TAG.sub("", title).strip()
        items.append(f'<li><a href="#{escape(anchor, quote=True)}">{escape(text)}</a></li>')
    if not items:
        return ""
    return '<nav class="kamlab-toc"><strong>Contents</strong><ol>' + "".join(items) + "</ol></nav>"


def export_report(run: Path, notebook: str) -> Path:
    """Write ``html/<notebook>.html`` from ``notebooks/<notebook>.ipynb`` of the run: the
    outputs without code, self-contained (figures inline, no script or font from the network),
    opened by the banner and a table of contents."""
    from nbconvert import HTMLExporter

    from kamlab.registry import NOTEBOOKS

    source = run / "notebooks" / f"{notebook}.ipynb"
    exporter = HTMLExporter(
        template_name="basic",
        exclude_input=True,
        exclude_input_prompt=True,
        exclude_output_prompt=True,
    )
    body, _ = exporter.from_filename(str(source))
    spec = NOTEBOOKS.get(notebook)
    title = f"{notebook[:2]} · {spec.title}" if spec else notebook
    page = (
        "<!DOCTYPE html>\n<html lang='en'><head><meta charset='utf-8'>"
        "<meta name='viewport' content='width=device-width, initial-scale=1'>"
        f"<title>{escape(title)} — kamlab run</title>{STYLE}</head><body>"
        f"{_banner(run, notebook, _manifest(run))}{_toc(body)}"
        f"<main class='kamlab-report'>{body}</main></body></html>\n"
    )
    target = run / "html" / f"{notebook}.html"
    atomic_write(target, lambda tmp: tmp.write_text(page, encoding="utf-8"))
    return target


def _markdown(text: str) -> str:
    import mistune

    return mistune.html(text)  # escapes raw HTML in the text


def write_index(run: Path) -> Path:
    """Write the run's ``index.html`` (after the manifest)."""
    from kamlab.digest import summarize_run
    from kamlab.registry import NOTEBOOKS

    manifest = _manifest(run)
    dates = manifest.get("dates", {})
    rows = manifest.get("rows", {})
    source = manifest.get("source") or {}
    title = f"kamlab run · {manifest.get('data_label', '')} as of {dates.get('as_of')}"
    out = [
        f"<!DOCTYPE html><html><head><meta charset='utf-8'><title>{escape(title)}</title>",
        STYLE,
        "</head><body><main style='max-width:1100px;margin:auto'>",
        f"<h1>{escape(title)}</h1>",
        '<div class="kamlab-banner">',
    ]
    data_line = f"Data <code>{escape(str(manifest.get('data')))}</code>"
    if source:
        data_line += (
            f" (imported from <code>{escape(str(source.get('file')))}</code>, "
            f"sha256 {escape(str(source.get('sha256', ''))[:12])}…)"
        )
    out.append(
        f"<p>{data_line}: "
        + ", ".join(f"{escape(f'{n:,}')} {escape(t)}" for t, n in rows.items() if n)
        + ".</p>"
    )
    out.append(
        f"<p>Transactions from {escape(str(dates.get('data_start')))} to "
        f"{escape(str(dates.get('data_end')))}. <strong>As of</strong> "
        f"{escape(str(dates.get('as_of')))}; outcomes over "
        f"{escape(str(dates.get('horizon_days')))} days from "
        f"{escape(str(dates.get('outcome_cutoff')))} "
        f"({escape(str(dates.get('horizon_note')))}); previous review "
        f"{escape(str(dates.get('previous_review')))}; back-test cutoffs "
        f"{escape(_text(dates.get('backtest_cutoffs')))}.</p>"
    )
    out.append(
        f"<p>kamlab {escape(str(manifest.get('kamlab_version')))}"
        + (
            f", commit {escape(str(manifest.get('git_commit')))}"
            if manifest.get("git_commit")
            else ""
        )
        + f"; status {escape(str(manifest.get('status')))}; started "
        f"{escape(str(manifest.get('started')))}.</p></div>"
    )
    out.append("<h2 id='summary'>Executive summary</h2>")
    try:
        digest = summarize_run(run, links=True)
        out.append(_markdown("\n".join(digest.splitlines()[1:])))
    except Exception as exc:  # a digest bug must not lose a finished run
        out.append(
            f"<p><strong>Summary unavailable</strong> ({escape(type(exc).__name__)}: "
            f"{escape(str(exc))}); the reports below are complete.</p>"
        )
    out.append("<h2 id='reports'>Reports</h2><ol>")
    for entry in manifest.get("notebooks", []):
        stem = Path(entry["notebook"]).stem
        spec = NOTEBOOKS.get(stem)
        label = f"{stem[:2]} · {spec.title}" if spec else stem
        question = f" — {escape(spec.question)}" if spec else ""
        if (run / "html" / f"{stem}.html").is_file():
            out.append(
                f'<li><a href="html/{escape(stem, quote=True)}.html">{escape(label)}'
                f"</a>{question}</li>"
            )
        else:
            out.append(f"<li>{escape(label)} ({escape(str(entry.get('status')))}){question}</li>")
    out.append("</ol>")
    actions = [p for p in ("action_list.xlsx", "action_list.csv") if (run / p).is_file()]
    if actions:
        out.append(
            "<h2 id='actions'>Action list</h2><p>One row per active account, sorted "
            "for a review meeting: "
            + ", ".join(f'<a href="{escape(p, quote=True)}">{escape(p)}</a>' for p in actions)
            + ".</p>"
        )
    for folder, heading in (("tables", "Tables"), ("figures", "Figures")):
        files = sorted(p.name for p in (run / folder).glob("*") if p.suffix in (".csv", ".png"))
        if files:
            out.append(f"<h2 id='{folder}'>{heading}</h2><ul>")
            out.extend(
                f'<li><a href="{folder}/{escape(f, quote=True)}">{escape(f)}</a></li>'
                for f in files
            )
            out.append("</ul>")
    params = manifest.get("parameters", {})
    if params:
        out.append(
            "<h2 id='parameters'>Parameters</h2><table class='kamlab-table'>"
            "<thead><tr><th>notebook</th><th>parameters</th></tr></thead><tbody>"
        )
        for stem, values in params.items():
            shown = ", ".join(f"{k}={v!r}" for k, v in values.items() if k != "data_dir")
            out.append(
                f"<tr><td>{escape(stem)}</td><td style='text-align:left'>{escape(shown)}</td></tr>"
            )
        out.append("</tbody></table>")
    out.append("</main></body></html>\n")
    target = run / "index.html"
    text = "\n".join(out)
    atomic_write(target, lambda tmp: tmp.write_text(text, encoding="utf-8"))
    return target
