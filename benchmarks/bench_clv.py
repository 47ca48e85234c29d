"""Benchmark kamlab's CLV fits (BG/NBD, Pareto/NBD, Gamma-Gamma) on CDNOW and on 100,000
simulated BG/NBD customers, and compare with the `lifetimes` package when it can be imported.

Usage (from the repo root)::

    .venv/bin/python benchmarks/bench_clv.py

`lifetimes` is not a kamlab dependency (it pins old pandas/numpy), so it never enters the
project venv: install it beside the venv once, without its dependencies::

    .venv/bin/pip install --no-deps --target benchmarks/out/lifetimes-lib lifetimes autograd dill

and this script puts that folder on ``sys.path`` and runs both libraries in one interpreter,
interleaved, so machine load hits both alike. Times are medians of ``--repeat`` runs (default
7) of a full fit, standard errors included; ``kamlab/lifetimes`` is the ratio of the medians.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
import warnings
from pathlib import Path

import numpy as np
import pandas as pd

from kamlab import clv

REF = Path(__file__).resolve().parents[2] / "shared" / "reference" / "cdnow"
LIFETIMES = Path(__file__).resolve().parent / "out" / "lifetimes-lib"


def timed(fn) -> tuple[float, float, object]:
    """Wall-clock and process-CPU seconds of one call, and its result."""
    w0, c0 = time.perf_counter(), time.process_time()
    out = fn()
    return time.perf_counter() - w0, time.process_time() - c0, out


def max_rel_diff(a, b) -> float:
    a, b = np.asarray(a, float), np.asarray(b, float)
    return float(np.max(np.abs(a - b) / np.abs(b)))


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeat", type=int, default=7)
    ap.add_argument("--n-sim", type=int, default=100_000)
    ap.add_argument("--seed", type=int, default=2024)
    ap.add_argument(
        "--lifetimes-100k",
        action="store_true",
        help="also time lifetimes' Pareto/NBD on the simulated customers (minutes)",
    )
    args = ap.parse_args()

    if LIFETIMES.exists():
        sys.path.insert(0, str(LIFETIMES))
    try:
        import lifetimes
        from lifetimes import BetaGeoFitter, GammaGammaFitter, ParetoNBDFitter

        have_lt = True
        lt_note = f"lifetimes {lifetimes.__version__}"
    except Exception as exc:  # not installed, or broken with this numpy/pandas
        have_lt = False
        lt_note = f"lifetimes not importable ({type(exc).__name__}: {exc}); comparison skipped"

    datasets: dict[str, pd.DataFrame] = {}
    if (REF / "cdnow_customers_summary.csv").exists():
        datasets["CDNOW (2,357)"] = pd.read_csv(REF / "cdnow_customers_summary.csv")
        spend = pd.read_csv(REF / "cdnow_customers_summary_with_transactions.csv")
        spend = spend[spend["x"] > 0]
    else:
        spend = None
        print(f"CDNOW reference data not found at {REF}; CDNOW rows skipped")
    rng = np.random.default_rng(args.seed)
    datasets[f"simulated BG/NBD ({args.n_sim:,})"] = clv.simulate_bgnbd(
        args.n_sim, 0.25, 4.4, 0.8, 2.4, T=rng.uniform(20, 52, args.n_sim), random_state=args.seed
    )

    rows = []

    def add(data, model, fn_ours, fn_lt=None, names=None):
        # kamlab and lifetimes runs are interleaved so that load from other processes hits both alike
        ours, theirs, m, lt = [], [], None, None
        for _ in range(args.repeat):
            *dt, m = timed(fn_ours)
            ours.append(dt)
            if fn_lt is not None and have_lt:
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore")
                    *dt, lt = timed(fn_lt)
                theirs.append(dt)
        med = lambda v, i: statistics.median(t[i] for t in v)  # noqa: E731
        row = {
            "data": data,
            "model": model,
            "kamlab_s": med(ours, 0),
            "kamlab_cpu_s": med(ours, 1),
            "lifetimes_s": np.nan,
            "lifetimes_cpu_s": np.nan,
            "kamlab/lifetimes": np.nan,
            "max_rel_param_diff": np.nan,
            "kamlab_LL": m.log_likelihood_,
        }
        if theirs:
            row["lifetimes_s"] = med(theirs, 0)
            row["lifetimes_cpu_s"] = med(theirs, 1)
            row["kamlab/lifetimes"] = row["kamlab_s"] / row["lifetimes_s"]
            row["max_rel_param_diff"] = max_rel_diff(
                m.params_.to_numpy(), lt.params_[names].to_numpy()
            )
        rows.append(row)

    for label, d in datasets.items():
        f, r, T = d["frequency"], d["recency"], d["T"]
        add(
            label,
            "BG/NBD",
            lambda: clv.BGNBD().fit(f, r, T),
            (lambda: BetaGeoFitter().fit(f, r, T)) if have_lt else None,
            ["r", "alpha", "a", "b"],
        )
        if label.startswith("CDNOW"):
            add(
                label,
                "Pareto/NBD",
                lambda: clv.ParetoNBD().fit(f, r, T),
                (lambda: ParetoNBDFitter().fit(f, r, T)) if have_lt else None,
                ["r", "alpha", "s", "beta"],
            )
            if spend is not None:
                x, z = spend["x"], spend["zbar"]
                add(
                    "CDNOW repeaters (946)",
                    "Gamma-Gamma",
                    lambda: clv.GammaGamma().fit(x, z),
                    (lambda: GammaGammaFitter().fit(x, z)) if have_lt else None,
                    ["p", "q", "v"],
                )
        else:
            add(
                label,
                "Pareto/NBD",
                lambda: clv.ParetoNBD().fit(f, r, T),
                (lambda: ParetoNBDFitter().fit(f, r, T))
                if have_lt and args.lifetimes_100k
                else None,
                ["r", "alpha", "s", "beta"],
            )

    table = pd.DataFrame(rows)
    print(f"kamlab CLV fit benchmark: median of {args.repeat} runs; {lt_note}")
    print(f"python {sys.version.split()[0]}, numpy {np.__version__}, pandas {pd.__version__}")
    with pd.option_context("display.width", 160, "display.max_columns", 20):
        print(table.to_string(index=False, float_format=lambda v: f"{v:.4g}"))
    print("kamlab/lifetimes: ratio of wall-clock medians (0.2 = kamlab takes a fifth of the time).")
    print(
        "max_rel_param_diff: largest relative difference between kamlab's and lifetimes' estimates."
    )
    print("Wall times are noisy on a shared machine; *_cpu_s is process CPU time (all threads).")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
