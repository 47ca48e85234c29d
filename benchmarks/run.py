"""Time and measure peak memory of kamlab's heavy steps on synthetic portfolios of growing size.

Usage::

    python benchmarks/run.py --sizes 1k,10k,100k [--out benchmarks/out] [--repeats 3]

For every size it generates (once, cached in ``<out>/data_<size>/``) a Parquet portfolio with
:func:`kamlab.synth.write_synthetic` (about 100 transactions per account over ``--years``
years), then runs every step in a fresh Python subprocess so peak memory is the step's own:
the process's peak resident set (``VmHWM``) is reset after the step's inputs are prepared and
read after the step. Small sizes report the median of ``--repeats`` runs; sizes of 100k
accounts and more run once. Results: a printed table (rows: steps, columns: sizes, cells:
seconds and peak MB) and ``<out>/results.csv`` (long format) plus ``<out>/table.csv``.
"""

from __future__ import annotations

import argparse
import json
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
START = "2019-01-01"
STEPS = (
    "load",
    "features",
    "features_legacy",
    "features_scale",
    "features_scale_legacy",
    "panel13",
    "panel13_legacy",
    "panel13_scale",
    "features_spark",
    "criteria",
    "segmentation",
    "clv",
    "kamlab_run",
)
STEP_LABELS = {
    "load": "load_dataset + validation",
    "features": "account_features (engine, DuckDB on the loaded dataset)",
    "features_legacy": "account_features (old pandas code)",
    "features_scale": "scale.account_features (DuckDB from Parquet)",
    "features_scale_legacy": "account_features_duckdb (old Ibis code)",
    "panel13": "feature_panel, 13 monthly cutoffs (engine)",
    "panel13_legacy": "13 x account_features (old pandas code)",
    "panel13_scale": "scale.feature_panel, 13 cutoffs (DuckDB from Parquet)",
    "features_spark": "scale.account_features on Spark local[2] (from Parquet)",
    "criteria": "criteria scores + tiers (3 rule sets)",
    "segmentation": "segmentation (KMeans, k=4)",
    "clv": "rfm_summary + BG/NBD + Gamma-Gamma",
    "kamlab_run": "kamlab run (all notebooks)",
}


def parse_size(text: str) -> int:
    """``"1k"`` → 1000, ``"2.5M"`` → 2 500 000, ``"300"`` → 300."""
    text = text.strip().lower()
    factor = {"k": 1_000, "m": 1_000_000}.get(text[-1:], 1)
    number = text[:-1] if factor > 1 else text
    return int(float(number) * factor)


def ensure_data(out: Path, label: str, n_accounts: int, years: int, seed: int) -> Path:
    """Generate the portfolio once; regenerate when the parameters differ."""
    from kamlab.synth import write_synthetic

    folder = out / f"data_{label}"
    params = {
        "n_accounts": n_accounts,
        "years": years,
        "seed": seed,
        "start": START,
        "fmt": "parquet",
    }
    stamp = folder / "params.json"
    if stamp.exists() and json.loads(stamp.read_text()) == params:
        return folder
    t0 = time.perf_counter()
    write_synthetic(
        folder, n_accounts=n_accounts, years=years, seed=seed, start=START, fmt="parquet"
    )
    stamp.write_text(json.dumps(params))
    print(
        f"  generated {label}: {n_accounts} accounts, {years} years in "
        f"{time.perf_counter() - t0:.1f} s -> {folder}",
        flush=True,
    )
    return folder


# ------------------------------------------------------------------ worker (one step, one size)
def _rss_mb(field: str) -> float | None:
    try:
        with open("/proc/self/status") as handle:
            for line in handle:
                if line.startswith(field + ":"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    return None


def _reset_peak() -> bool:
    """Reset the peak resident set (Linux ``VmHWM``); False where unsupported."""
    try:
        with open("/proc/self/clear_refs", "w") as handle:
            handle.write("5")
        return True
    except OSError:
        return False


def _cutoff(data: Path):
    import pandas as pd

    from kamlab.data import find_tables

    src = find_tables(data)["transactions"]
    if src.kind == "parquet":
        import pyarrow.parquet as pq

        dates = pq.read_table(src.files[0], columns=["date"]).column("date").to_pandas()
    else:
        dates = pd.read_csv(src.files[0], usecols=["date"])["date"]
    end = pd.Timestamp(pd.to_datetime(dates).max())
    return (end - pd.Timedelta(days=365)).normalize() + pd.Timedelta(days=1)


# The implementation the engine replaced (issue 18), read from git so the ratios are measured
# side by side in one run without keeping a second copy of the features in the repository.
LEGACY = "f54703e"


def _legacy(module: str):
    import types

    source = subprocess.run(
        ["git", "-C", str(HERE.parent), "show", f"{LEGACY}:kamlab/{module}.py"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    legacy = types.ModuleType(f"legacy_{module}")
    exec(compile(source, f"{LEGACY}:kamlab/{module}.py", "exec"), legacy.__dict__)
    return legacy


def _spark_backend():
    import ibis
    from pyspark.sql import SparkSession

    spark = (
        SparkSession.builder.master("local[2]")
        .config("spark.ui.enabled", "false")
        .config("spark.ui.showConsoleProgress", "false")
        .config("spark.sql.shuffle.partitions", "4")
        .config("spark.driver.memory", "2g")
        .getOrCreate()
    )
    spark.sparkContext.setLogLevel("ERROR")
    return ibis.pyspark.connect(spark)


def _worker(step: str, data: Path, repeats: int) -> dict:
    """Prepare a step's inputs (untimed), then time it ``repeats`` times."""
    import warnings

    import pandas as pd

    warnings.simplefilter("ignore")
    cutoff = _cutoff(data)
    info: dict = {"cutoff": cutoff.date().isoformat()}

    def dataset():
        from kamlab.data import load_dataset

        return load_dataset(data)

    if step == "load":
        run = dataset
    elif step in ("features", "features_legacy", "panel13", "panel13_legacy"):
        from kamlab import features

        ds = dataset()
        frames = {
            t: getattr(ds, t) for t in ("accounts", "transactions", "assessments", "interactions")
        }
        sizes = {t: f.memory_usage(deep=True).sum() / 2**20 for t, f in frames.items()}
        info.update(
            tx_rows=len(ds.transactions),
            tx_mb=sizes["transactions"],
            acc_mb=sizes["accounts"],
            all_mb=sum(sizes.values()),
            accounts=len(ds.accounts),
        )
        cutoffs = [cutoff - pd.DateOffset(months=i) for i in range(13)][::-1]
        module = _legacy("features") if step.endswith("legacy") else features
        if step.startswith("panel"):

            def run():
                if step == "panel13_legacy":
                    return [module.account_features(ds, c) for c in cutoffs]
                return module.feature_panel(ds, cutoffs)
        else:

            def run():
                return module.account_features(ds, cutoff)

        run()  # warm: the compiled query and the connection, as in a notebook's later calls
    elif step in ("features_scale", "panel13_scale", "features_spark"):
        from kamlab import scale

        con = _spark_backend() if step == "features_spark" else None
        cutoffs = [cutoff - pd.DateOffset(months=i) for i in range(13)][::-1]

        def run():
            if step == "panel13_scale":
                return scale.feature_panel(data, cutoffs)
            return scale.account_features(data, cutoff, con=con)
    elif step == "features_scale_legacy":
        legacy = _legacy("scale")

        def run():
            return legacy.account_features_duckdb(data, cutoff)
    elif step in ("criteria", "segmentation"):
        from kamlab.features import account_features

        feats = account_features(dataset(), cutoff)
        info["population"] = len(feats)
        if step == "criteria":
            from kamlab.criteria import available_rule_sets, load_rule_set, score_accounts

            rule_sets = [load_rule_set(name) for name in available_rule_sets()]

            def run():
                return [score_accounts(feats, rs) for rs in rule_sets]
        else:
            from kamlab.segment import Segmenter

            def run():
                return Segmenter("kmeans", n_clusters=4, random_state=0).fit(feats)
    elif step == "kamlab_run":
        return {**info, **_run_kamlab(data, data.parent)}
    elif step == "clv":
        from kamlab.clv import BGNBD, GammaGamma, rfm_summary

        tx = dataset().transactions

        def run():
            rfm = rfm_summary(tx, cutoff - pd.Timedelta(days=1)).table
            BGNBD().fit(rfm["frequency"], rfm["recency"], rfm["T"])
            rep = rfm[(rfm["frequency"] > 0) & (rfm["monetary_value"] > 0)]
            GammaGamma().fit(rep["frequency"], rep["monetary_value"])
            return rfm
    else:
        raise ValueError(f"unknown step {step!r}")

    times, cpu = [], []
    rss_before = _rss_mb("VmRSS")
    resettable = _reset_peak()
    for _ in range(repeats):
        t0, c0 = time.perf_counter(), time.process_time()
        result = run()
        times.append(time.perf_counter() - t0)
        cpu.append(time.process_time() - c0)
        del result
    peak = _rss_mb("VmHWM") if resettable else None
    if peak is None:
        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    info.update(
        seconds=statistics.median(times),
        cpu_seconds=statistics.median(cpu),
        runs=len(times),
        times=times,
        rss_before_mb=rss_before,
        peak_mb=peak,
        peak_is_step_only=resettable,
    )
    return info


def _run_kamlab(data: Path, out: Path) -> dict:
    """A full ``kamlab run`` in a subprocess; peak is the largest RSS among its processes
    (papermill kernels included)."""
    notebooks = HERE.parent / "notebooks"
    if not notebooks.is_dir() or not list(notebooks.glob("[0-9]*.ipynb")):
        return {"skipped": "no notebooks in notebooks/"}
    t0 = time.perf_counter()
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "kamlab.cli",
            "run",
            "--data",
            str(data),
            "--out",
            str(out / "run_1k"),
        ],
        capture_output=True,
        text=True,
    )
    seconds = time.perf_counter() - t0
    if proc.returncode != 0:
        return {"skipped": f"kamlab run failed: {proc.stderr.strip().splitlines()[-1:]}"}
    peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    return {"seconds": seconds, "runs": 1, "peak_mb": peak, "peak_is_step_only": True}


def _spawn(step: str, data: Path, repeats: int, timeout: float) -> dict:
    cmd = [
        sys.executable,
        str(Path(__file__).resolve()),
        "--worker",
        step,
        "--data",
        str(data),
        "--repeats",
        str(repeats),
    ]
    try:
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout)
    except subprocess.TimeoutExpired:
        return {"skipped": f"timed out after {timeout:.0f} s"}
    if proc.returncode != 0:
        last = (proc.stderr.strip().splitlines() or ["?"])[-1]
        return {"skipped": f"failed: {last}"}
    return json.loads(proc.stdout.strip().splitlines()[-1])


def _cell(result: dict) -> str:
    if "skipped" in result:
        return "n/a"
    return f"{result['seconds']:.2f} s / {result['peak_mb']:.0f} MB"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--sizes", default="sample,1k,5k,10k,100k", help="account counts, or 'sample' (data/sample)"
    )
    parser.add_argument("--out", type=Path, default=HERE / "out", help="output folder")
    parser.add_argument(
        "--years", type=int, default=6, help="years of history (6 ≈ 100 transactions per account)"
    )
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument(
        "--repeats", type=int, default=3, help="runs per step below 100k accounts (median reported)"
    )
    parser.add_argument("--steps", default=",".join(STEPS), help="comma-separated steps")
    parser.add_argument("--timeout", type=float, default=1800, help="seconds per step")
    parser.add_argument("--worker", default=None, help=argparse.SUPPRESS)
    parser.add_argument("--data", type=Path, default=None, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)

    if args.worker:
        print(json.dumps(_worker(args.worker, args.data, args.repeats)))
        return 0

    sizes = [
        (s.strip(), 300 if s.strip() == "sample" else parse_size(s))
        for s in args.sizes.split(",")
        if s.strip()
    ]
    steps = [s.strip() for s in args.steps.split(",") if s.strip()]
    unknown = [s for s in steps if s not in STEPS]
    if unknown:
        parser.error(f"unknown steps {unknown}; choose from {', '.join(STEPS)}")
    args.out.mkdir(parents=True, exist_ok=True)
    rows, meta = [], {}
    for label, n in sizes:
        print(f"size {label} ({n} accounts)", flush=True)
        if label == "sample":  # the committed 300-account sample (CSV)
            data = HERE.parent / "data" / "sample"
        else:
            data = ensure_data(args.out, label, n, args.years, args.seed)
        repeats = args.repeats if n < 100_000 else 1
        for step in steps:
            if step == "kamlab_run" and n > 1_000:
                result = {"skipped": "run on the 1k size only"}
            elif step == "features_spark" and n > 5_000:
                result = {"skipped": "Spark local is measured up to 5k accounts"}
            else:
                result = _spawn(step, data, 1 if step == "kamlab_run" else repeats, args.timeout)
            if step in ("features", "features_legacy") and "tx_rows" in result:
                meta[label] = result
            note = result.get("skipped")
            print(f"  {STEP_LABELS[step]:<40} {note or _cell(result)}", flush=True)
            rows.append(
                {
                    "step": step,
                    "size": label,
                    "accounts": n,
                    "seconds": result.get("seconds"),
                    "cpu_seconds": result.get("cpu_seconds"),
                    "peak_mb": result.get("peak_mb"),
                    "rss_before_mb": result.get("rss_before_mb"),
                    "runs": result.get("runs"),
                    "note": note or "",
                }
            )

    import pandas as pd

    long = pd.DataFrame(rows)
    long.to_csv(args.out / "results.csv", index=False)
    table = long.assign(
        cell=[_cell({"skipped": 1} if r.note else r._asdict()) for r in long.itertuples()]
    )
    table = table.pivot(index="step", columns="size", values="cell")
    table = table.reindex(index=list(steps), columns=[label for label, _ in sizes])
    table.index = [STEP_LABELS[s] for s in table.index]
    data_rows = {
        label: {
            "transactions": f"{m['tx_rows']:,}",
            "transactions frame (MB)": f"{m['tx_mb']:.0f}",
            "accounts frame (MB)": f"{m['acc_mb']:.1f}",
            "all four tables (MB)": f"{m['all_mb']:.0f}",
        }
        for label, m in meta.items()
    }
    if data_rows:
        table = pd.concat([pd.DataFrame(data_rows).reindex(columns=table.columns), table])
    table.to_csv(args.out / "table.csv")
    print()
    print(table.to_string())
    print(f"\nwrote {args.out / 'results.csv'} and {args.out / 'table.csv'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
