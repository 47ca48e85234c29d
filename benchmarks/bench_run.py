"""``kamlab run`` on the committed sample: this checkout against an earlier commit, side by side.

The earlier commit is exported with ``git archive`` into ``benchmarks/out/run-<commit>/`` and run
with the same interpreter and packages (its ``kamlab`` first on ``PYTHONPATH``, so its kernels
import it too). The two are run alternately, ``--repeats`` times each, every run in a fresh
process that writes its own run folder; wall-clock and CPU seconds (the process and its
kernels) are reported with their medians and the ratio.

    .venv/bin/python benchmarks/bench_run.py --baseline 91928f4 --repeats 3 --jobs 2
"""

from __future__ import annotations

import argparse
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tarfile
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
OUT = REPO / "benchmarks" / "out"


def _export(commit: str) -> Path:
    folder = OUT / f"run-{commit}"
    if not (folder / "kamlab").is_dir():
        folder.mkdir(parents=True, exist_ok=True)
        archive = subprocess.run(
            ["git", "archive", commit], cwd=REPO, check=True, capture_output=True
        ).stdout
        with tempfile.TemporaryFile() as handle:
            handle.write(archive)
            handle.seek(0)
            with tarfile.open(fileobj=handle) as tar:
                tar.extractall(folder, filter="data")
    return folder


def _run(root: Path, jobs: int, new_style: bool) -> tuple[float, float]:
    target = Path(tempfile.mkdtemp(prefix="bench-run-")) / "run"
    env = dict(os.environ, PYTHONPATH=str(root))
    command = [
        sys.executable,
        "-m",
        "kamlab.cli",
        "run",
        "--data",
        str(root / "data" / "sample"),
        "--out",
        str(target),
        "--jobs",
        str(jobs),
    ]
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    result = subprocess.run(command, cwd=root, env=env, capture_output=True, text=True)
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    shutil.rmtree(target.parent, ignore_errors=True)
    if result.returncode != 0:
        raise SystemExit(f"run in {root} failed:\n{result.stderr[-2000:]}")
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return wall, cpu


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--baseline", required=True, help="the earlier commit (e.g. 91928f4)")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--jobs", type=int, default=2)
    args = parser.parse_args()
    old = _export(args.baseline)
    rows: dict[str, list[tuple[float, float]]] = {"baseline": [], "this checkout": []}
    for i in range(args.repeats):
        for label, root in (("baseline", old), ("this checkout", REPO)):
            wall, cpu = _run(root, args.jobs, label != "baseline")
            rows[label].append((wall, cpu))
            print(f"run {i + 1} {label:>13}: {wall:6.1f} s wall, {cpu:6.1f} s CPU", flush=True)
    load = os.getloadavg()[0]
    print(
        f"\nkamlab run on data/sample, --jobs {args.jobs}, {args.repeats} runs each "
        f"(load average at the end {load:.1f}):"
    )
    med = {
        k: (statistics.median(w for w, _ in v), statistics.median(c for _, c in v))
        for k, v in rows.items()
    }
    for label, (wall, cpu) in med.items():
        print(
            f"  {label:>13} ({args.baseline if label == 'baseline' else 'HEAD'}): median "
            f"{wall:.1f} s wall, {cpu:.1f} s CPU"
        )
    print(
        f"  ratio (this / baseline): {med['this checkout'][0] / med['baseline'][0]:.2f} wall, "
        f"{med['this checkout'][1] / med['baseline'][1]:.2f} CPU"
    )


if __name__ == "__main__":
    main()
