"""What a notebook needs to be a report: its data and dates, readable tables, answers in words,
and publishing into a ``kamlab run`` folder.

A notebook starts with :func:`start` (the dataset, validated once per run, and the run's
:class:`~kamlab.timeline.Timeline`; it displays the banner stating the notebook's dates),
shows tables with :func:`show` (numbers for people: money with separators, shares as
percentages, counts as integers, no NaN), answers with :func:`answer` (rendered Markdown) and
publishes with :func:`table` and :func:`figure`. Run interactively or under nbval, publishing
only returns what it was given; inside ``kamlab run`` tables are also saved under
``tables/<notebook>__<name>.csv|.parquet`` and figures under ``figures/<notebook>__<name>.png|.svg``.

:data:`NOTEBOOKS` is the registry of the shipped notebooks: what each one publishes and which
dates it uses. The runner, the run index and :mod:`kamlab.digest` read it instead of
hard-coding names, and a notebook publishing an undeclared table fails loudly.
"""

from __future__ import annotations

import io
import os
import pickle
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from kamlab import fmt
from kamlab._io import atomic_write, write_csv
from kamlab.registry import NOTEBOOKS, NotebookSpec, notebook_dates

__all__ = [
    "NOTEBOOKS",
    "NotebookSpec",
    "Session",
    "answer",
    "figure",
    "run_dir",
    "say",
    "show",
    "show_values",
    "start",
    "table",
    "with_names",
]

_SAFE = re.compile(r"[^A-Za-z0-9_.-]+")


# ----------------------------------------------------------------------------- sessions
def write_snapshot(dataset, folder: Path) -> Path:
    """Save the validated dataset once per run; every notebook of the run reads it."""
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "dataset.pkl"
    atomic_write(path, lambda tmp: tmp.write_bytes(pickle.dumps(dataset, protocol=5)))
    return path


def load_dataset(data_dir: str | os.PathLike, **kwargs):
    """The run's snapshot of ``data_dir`` inside ``kamlab run``, else
    :func:`kamlab.data.load_dataset` (validated)."""
    snapshot, source = os.environ.get("KAMLAB_SNAPSHOT"), os.environ.get("KAMLAB_DATA_DIR")
    if (
        snapshot
        and source
        and Path(data_dir).resolve() == Path(source).resolve()
        and Path(snapshot).is_file()
    ):
        with open(snapshot, "rb") as handle:
            return pickle.load(handle)
    from kamlab.data import load_dataset as load

    return load(data_dir, **kwargs)


@dataclass(frozen=True)
class Session:
    """A notebook's data and dates (see :func:`start`)."""

    notebook: str
    dataset: Any
    timeline: Any

    @property
    def spec(self) -> NotebookSpec | None:
        return NOTEBOOKS.get(self.notebook)

    def banner(self) -> str:
        """Markdown: the data, the dates this notebook uses, the kamlab version."""
        return _banner(self)


def _banner(session: Session) -> str:
    import kamlab

    tl = session.timeline
    ds = session.dataset
    source = getattr(ds, "source", None) or {}
    name = source.get("file") or os.environ.get("KAMLAB_DATA_LABEL") or _data_label(ds)
    lines = [
        f"**Data** {name}: {fmt.count(len(ds.accounts))} accounts, "
        f"{fmt.count(len(ds.transactions))} transactions, {tl.data_start.date()} to "
        f"{tl.data_end.date()}. **As of** {tl.as_of.date()}.",
    ]
    dates = notebook_dates(session.notebook, tl)
    words = {
        "outcome_cutoff": f"outcomes measured over {tl.horizon_days} days from "
        f"{dates.get('outcome_cutoff')} ({tl.horizon_note})",
        "previous_review": f"previous review {dates.get('previous_review')}",
        "backtest_cutoffs": "back-test cutoffs "
        + ", ".join(dates.get("backtest_cutoffs") or ["none"]),
        "training_cutoffs": "models learn from cutoffs "
        + ", ".join(dates.get("training_cutoffs") or ["none"]),
        "review_dates": "reviews " + ", ".join(dates.get("review_dates") or []),
        "retention_periods": "retention compares the " + f"{tl.horizon_days} days before "
        f"{tl.as_of.date()} with the {tl.horizon_days} days before that",
    }
    used = [words[d] for d in (session.spec.dates if session.spec else ()) if d in words]
    if used:
        lines.append("**Dates**: " + "; ".join(used) + ".")
    lines.append(f"kamlab {kamlab.__version__}.")
    return "\n\n".join(lines)


def _data_label(dataset) -> str:
    files = getattr(dataset, "files", {}) or {}
    first = files.get("transactions")
    return Path(first).parent.name if first else "the dataset"


def start(
    notebook: str,
    data_dir: str | os.PathLike,
    *,
    as_of: Any = "auto",
    horizon_days: Any = "auto",
    review_interval: Any = "6M",
    display: bool = True,
) -> Session:
    """Load the data (the run's snapshot under ``kamlab run``), build the run's timeline and
    display the banner stating which data and dates this notebook uses."""
    from kamlab.timeline import Timeline

    dataset = load_dataset(data_dir)
    tl = Timeline.from_dataset(
        dataset, as_of=as_of, horizon_days=horizon_days, review_interval=review_interval
    )
    session = Session(notebook, dataset, tl)
    if display:
        _display_markdown(session.banner())
    return session


# ----------------------------------------------------------------------------- display
class _Markdown:
    """Markdown for the notebook; its plain text is the same words (what nbval compares)."""

    def __init__(self, text: str):
        self.text = text

    def _repr_markdown_(self) -> str:
        return self.text

    def __repr__(self) -> str:
        return self.text


def _display_markdown(text: str) -> None:
    try:
        from IPython.display import display
    except ImportError:  # pragma: no cover - plain Python
        print(text)
        return
    display(_Markdown(text))


def answer(text: str) -> _Markdown:
    """An answer in words, rendered as Markdown and opened with **Answer.**"""
    return _Markdown(f"**Answer.** {text}")


def say(text: str) -> _Markdown:
    """A sentence of the report (rendered Markdown), for statements that are not the answer."""
    return _Markdown(text)


_FORMATS = {
    "money": fmt.money,
    "share": fmt.share,
    "count": fmt.count,
    "estimate": fmt.estimate,
    "signed": fmt.signed,
    "p": fmt.p_value,
}


#: The kind of number a row's unit (``show(..., by_unit=...)``) asks for.
_UNIT_KINDS = {"share": "share", "accounts": "count", "count": "count", "money": "money"}


def _kinds(columns: Iterable[str] | None, *names: Iterable[str]) -> dict[str, str]:
    """Each named column or measure → its kind of number. ``names`` holds one iterable of names
    per kind, in :data:`_FORMATS` order (money, share, count, estimate, signed, p); a later kind
    wins. With ``columns``, a name that is not one of them is refused."""
    kinds = {}
    for kind, listed in zip(_FORMATS, names, strict=True):
        for name in listed:
            if columns is not None and name not in columns:
                raise KeyError(f"show: no column {name!r} to format as {kind}")
            kinds[name] = kind
    return kinds


def _formatter(kind: str | None, currency: str | None) -> Callable[[Any], str]:
    """How a value of this kind is printed (a value of no named kind: :func:`_auto`)."""
    if kind == "money":
        return lambda value: fmt.money(value, currency)
    return _auto if kind is None else _FORMATS[kind]


class Shown:
    """A table formatted for people: an HTML table in the notebook and its report, the same
    cells as aligned text (what nbval compares). Every cell is a string."""

    def __init__(self, cells: pd.DataFrame, index_name: str | None):
        self.cells = cells
        self.index_name = index_name

    def _repr_html_(self) -> str:
        from html import escape

        if self.cells.empty:
            return "<p><em>(none)</em></p>"
        head = "".join(f"<th>{escape(str(c))}</th>" for c in self.cells.columns)
        corner = f"<th>{escape(self.index_name)}</th>" if self.index_name is not None else ""
        rows = []
        for label, row in self.cells.iterrows():
            first = f"<th>{escape(str(label))}</th>" if self.index_name is not None else ""
            tds = "".join(f"<td>{escape(str(v))}</td>" for v in row)
            rows.append(f"<tr>{first}{tds}</tr>")
        return (
            f'<table class="kamlab-table"><thead><tr>{corner}{head}</tr></thead>'
            f"<tbody>{''.join(rows)}</tbody></table>"
        )

    def __repr__(self) -> str:
        if self.cells.empty:
            return "(none)"
        frame = self.cells.reset_index(drop=True)
        if self.index_name is not None:
            frame.insert(0, self.index_name or " ", list(self.cells.index))
        return frame.to_string(index=False)

    def __len__(self) -> int:
        return len(self.cells)


def show_values(
    values: pd.Series | Mapping[str, Any],
    *,
    money: Iterable[str] = (),
    share: Iterable[str] = (),
    count: Iterable[str] = (),
    estimate: Iterable[str] = (),
    p: Iterable[str] = (),
    labels: Mapping[str, str] | None = None,
    currency: str | None = None,
) -> Shown:
    """A two-column table of named measures, each formatted by its kind.

    >>> show_values({"accounts": 244.0, "gini": 0.66512, "top_20pct_share": 0.7},
    ...             count=["accounts"], estimate=["gini"], share=["top_20pct_share"])
                  Measure Value
                 Accounts   244
                     Gini 0.665
    Share of the top 20 % 70.0%
    """
    series = pd.Series(values, dtype=object)
    kinds = _kinds(None, money, share, count, estimate, (), p)
    names = dict(labels or {})
    rows = []
    for key, value in series.items():
        kind = kinds.get(str(key))
        text = fmt.estimate(value, 3) if kind == "estimate" else _formatter(kind, currency)(value)
        rows.append((names.get(str(key), _label(str(key))), text))
    cells = pd.DataFrame(rows, columns=["Measure", "Value"])
    return Shown(cells, None)


#: Column and measure names whose readable label is not just the name with spaces.
LABELS = {
    "hhi": "HHI (sum of squared shares)",
    "gini": "Gini",
    "nrr": "NRR",
    "grr": "GRR",
    "revenue_p1": "Revenue, first period",
    "revenue_p2": "Revenue, second period",
    "revenue_p2_capped": "Revenue, second period, capped",
    "accounts_for_80pct": "Accounts making 80 %",
    "accounts_for_80pct_share": "Share of accounts making 80 %",
    "equivalent_accounts": "Equivalent equal accounts (1/HHI)",
    "revenue_12m": "Revenue, last 12 months",
    "revenue_prev_12m": "Revenue, 12 months before",
    "p_alive": "P(alive)",
    "clv": "CLV",
    "ari": "ARI",
    "ami": "AMI",
    "epsilon2": "ε²",
    "p_value": "p-value",
    "q_value": "q-value",
    "std_error": "Std. error",
    "ci_low": "CI low",
    "ci_high": "CI high",
    "account_id": "Account",
    "account_manager": "Account manager",
    "revenue_growth_12m": "Growth, 12 months (log ratio)",
    "growth_dh": "Symmetric growth",
    "account_share": "Share of accounts",
    "revenue_share": "Share of revenue",
    "min_score": "Lowest score",
    "n_imputed": "Criteria imputed",
    "n_selected": "Accounts selected",
    "calinski_harabasz": "Calinski–Harabasz",
    "davies_bouldin": "Davies–Bouldin",
    "bic": "BIC",
    "smallest_share": "Smallest segment",
    "mean_ari": "Mean ARI",
    "sd_ari": "SD of ARI",
    "q05": "ARI, 5th percentile",
    "q95": "ARI, 95th percentile",
    "n_boot": "Resamples",
    "n_accounts": "Accounts",
    "share_accounts": "Share of accounts",
    "eta2": "η²",
    "omega2": "ω²",
    "kruskal_h": "Kruskal–Wallis H",
    "nps": "NPS",
    "order_frequency": "Purchase days per month",
    "products_12m": "Products, last 12 months",
    "gross_margin_12m": "Gross margin, last 12 months",
    "r2": "R²",
    "p10": "10th percentile",
    "p25": "25th percentile",
    "p75": "75th percentile",
    "p90": "90th percentile",
    "clv_rank": "CLV rank",
    "clv_low": "CLV, 80 % low",
    "clv_high": "CLV, 80 % high",
    "clv_share": "Share of CLV",
    "churn_share": "Share churned",
}


def _label(name: str) -> str:
    if name in LABELS:
        return LABELS[name]
    match = re.fullmatch(r"top_([\d.]+)pct_share", name)
    if match:
        return f"Share of the top {match.group(1)} %"
    text = str(name).replace("_", " ")
    return text[:1].upper() + text[1:]


def with_names(frame: pd.DataFrame, accounts: pd.DataFrame) -> pd.DataFrame:
    """``frame`` (indexed by account id) with the account's ``name`` and ``account_manager``
    in front, when the accounts table has them.

    >>> accounts = pd.DataFrame({"account_id": ["A1", "A2"], "name": ["Alpha", "Beta"]})
    >>> with_names(pd.DataFrame({"clv": [5.0]}, index=pd.Index(["A2"], name="account_id")),
    ...            accounts).columns.tolist()
    ['name', 'clv']
    """
    info = accounts.set_index("account_id")
    wanted = [c for c in ("name", "account_manager") if c in info and c not in frame]
    if not wanted:
        return frame
    names = info[wanted].reindex(frame.index)
    out = pd.concat([names, frame], axis=1)
    out.index.name = frame.index.name
    return out


def show(
    frame: pd.DataFrame | pd.Series,
    *,
    money: Iterable[str] = (),
    share: Iterable[str] = (),
    count: Iterable[str] = (),
    estimate: Iterable[str] = (),
    signed: Iterable[str] = (),
    p: Iterable[str] = (),
    labels: Mapping[str, str] | None = None,
    index: bool | str = True,
    head: int | None = None,
    currency: str | None = None,
    by_unit: Iterable[str] = (),
    unit_column: str = "unit",
) -> Shown:
    """A table for people: each named column formatted by :mod:`kamlab.fmt`, readable labels.

    Columns not named keep their text (numbers get :func:`kamlab.fmt.estimate`, whole numbers
    :func:`kamlab.fmt.count`); missing values show as "–". ``index=False`` hides a
    meaningless row index; a string renames it. ``currency`` prefixes money. Columns in
    ``by_unit`` are formatted row by row after the row's ``unit_column`` (``share``,
    ``accounts``, ``money``).

    Examples
    --------
    >>> t = pd.DataFrame({"revenue": [18150234.49, None], "share": [0.632, 0.05], "n": [244.0, 3]},
    ...                  index=pd.Index(["key", "regular"], name="tier"))
    >>> show(t, money=["revenue"], share=["share"], count=["n"])
    Tier      Revenue  Share    N
    key    18,150,234  63.2%  244
    regular         –   5.0%    3
    """
    data = frame.to_frame() if isinstance(frame, pd.Series) else frame
    if head is not None:
        data = data.head(head)
    rules = _kinds(data.columns, money, share, count, estimate, signed, p)
    cells = pd.DataFrame(index=data.index)
    by_unit = set(by_unit)
    for column in data.columns:
        values = data[column]
        if column in by_unit:
            cells[column] = [
                _formatter(_UNIT_KINDS.get(str(u), "estimate"), currency)(v)
                for u, v in zip(data[unit_column], values)
            ]
        else:
            cells[column] = list(map(_formatter(rules.get(column), currency), values))
    names = dict(labels or {})
    cells.columns = [names.get(c, _label(c)) for c in cells.columns]
    index_name: str | None
    if index is False:
        index_name = None
    else:
        index_name = index if isinstance(index, str) else _label(data.index.name or "")
        cells.index = [_auto(v) for v in cells.index]
    return Shown(cells, index_name)


def _auto(value: Any) -> str:
    if fmt.is_missing(value):
        return fmt.MISSING
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, pd.Timestamp):
        return value.date().isoformat() if value == value.normalize() else value.isoformat()
    if isinstance(value, int) or (hasattr(value, "dtype") and str(value.dtype).startswith("int")):
        return fmt.count(value)
    if isinstance(value, float) or (hasattr(value, "dtype") and "float" in str(value.dtype)):
        return (
            fmt.count(value)
            if float(value).is_integer() and abs(value) >= 1
            else fmt.estimate(value)
        )
    return str(value)


# ----------------------------------------------------------------------------- publishing
def run_dir() -> Path | None:
    """The run folder when executing under ``kamlab run``, else None."""
    value = os.environ.get("KAMLAB_RUN_DIR")
    return Path(value) if value else None


def _notebook() -> str:
    return os.environ.get("KAMLAB_NOTEBOOK", "notebook")


def _stem(name: str) -> str:
    return f"{_SAFE.sub('_', _notebook())}__{_SAFE.sub('_', name)}"


def _check_declared(kind: str, name: str) -> None:
    spec = NOTEBOOKS.get(_notebook())
    declared: Sequence[str] = () if spec is None else getattr(spec, kind)
    if spec is not None and name not in declared:
        raise ValueError(
            f"{spec.name} publishes an undeclared {kind[:-1]} {name!r}: add it to "
            f"kamlab.report.NOTEBOOKS[{spec.name!r}].{kind}"
        )


def table(frame: pd.DataFrame | pd.Series, name: str) -> pd.DataFrame | pd.Series:
    """Return ``frame``; during a run also save it as CSV (spreadsheet-safe) and Parquet."""
    folder = run_dir()
    if folder is not None:
        _check_declared("tables", name)
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


def figure(obj, name: str) -> None:
    """Publish a figure (an Axes, array of Axes or Figure): during a run save it as PNG and
    SVG. Returns nothing, so a notebook cell shows the figure itself and no Axes repr.

    During a run, in a kernel with the inline backend, the notebook shows the saved PNG (same
    bytes, same text) and the figure is closed, as the inline backend would close it, instead
    of being drawn again. Outside a run nothing happens: the inline backend shows the figure.
    """
    folder = run_dir()
    if folder is None:
        return
    _check_declared("figures", name)
    fig = obj
    if hasattr(fig, "flat"):
        fig = next(iter(fig.flat))
    fig = getattr(fig, "figure", fig)
    png, svg = _render(fig)
    out = folder / "figures"
    atomic_write(out / f"{_stem(name)}.png", lambda tmp: Path(tmp).write_bytes(png))
    atomic_write(out / f"{_stem(name)}.svg", lambda tmp: Path(tmp).write_bytes(svg))
    if _inline_kernel():
        import matplotlib.pyplot as plt
        from IPython.display import display

        display({"image/png": png, "text/plain": repr(fig)}, raw=True)
        plt.close(fig)


def _render(fig) -> tuple[bytes, bytes]:
    """The figure as PNG (100 dpi) and SVG bytes, cropped as ``bbox_inches="tight"`` would,
    with fixed metadata so that equal figures give equal bytes.

    The layout (e.g. constrained) is solved and the crop measured once, at the PNG's 100 dpi,
    for both formats: the inline backend and two "tight" saves drew the figure six times, this
    draws it three. The PNG bytes are those of a "tight" save.
    """
    import matplotlib

    engine, dpi = fig.get_layout_engine(), fig.dpi
    fig.dpi = 100  # what savefig(dpi=100) measures at
    try:
        fig.draw_without_rendering()
        if engine is not None:
            fig.set_layout_engine("none")
        box = fig.get_tightbbox().padded(matplotlib.rcParams["savefig.pad_inches"])
        png, svg = io.BytesIO(), io.BytesIO()
        fig.savefig(png, format="png", dpi=100, metadata={"Software": None}, bbox_inches=box)
        with matplotlib.rc_context({"svg.hashsalt": "kamlab", "svg.id": None}):
            fig.savefig(
                svg, format="svg", metadata={"Date": None, "Creator": None}, bbox_inches=box
            )
    finally:
        fig.dpi = dpi
        if engine is not None:
            fig.set_layout_engine(engine)
    return png.getvalue(), svg.getvalue()


def _inline_kernel() -> bool:
    """True inside a Jupyter kernel whose Matplotlib backend is the inline one."""
    import sys

    ipython = sys.modules.get("IPython")
    shell = ipython.get_ipython() if ipython is not None else None
    if shell is None or getattr(shell, "kernel", None) is None:
        return False
    import matplotlib

    return "inline" in matplotlib.get_backend()


def action_list(actions) -> None:
    """Publish the action list (:class:`kamlab.actions.ActionList`): during a run write
    ``action_list.xlsx`` and ``action_list.csv`` at the top of the run folder."""
    folder = run_dir()
    if folder is not None:
        actions.write(folder)


def export_html(run: Path, notebook: str) -> None:
    """Write ``html/<notebook>.html`` (see :mod:`kamlab.html`)."""
    from kamlab.html import export_report

    export_report(run, notebook)


def write_index(run: Path) -> None:
    """Write the run's ``index.html`` (see :mod:`kamlab.html`)."""
    from kamlab.html import write_index as write

    write(run)


def summarize_run(run: str | os.PathLike) -> str:
    """A Markdown digest of a run folder (see :mod:`kamlab.digest`)."""
    from kamlab.digest import summarize_run as summarize

    return summarize(run)
