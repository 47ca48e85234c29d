"""Execute notebooks on a few long-lived kernels.

``kamlab run`` executes seven notebooks that all import the same scientific stack; starting a
kernel and importing pandas, scikit-learn and statsmodels costs about four seconds each time.
Here each worker starts **one** kernel and executes its share of the notebooks on it, one
after the other, resetting the kernel's state in between (user namespace, open figures,
Matplotlib and pandas options, warning filters, working directory and the ``KAMLAB_*``
variables), so a notebook sees the same state it would see in a fresh kernel. Workers run
concurrently (``jobs``); each kernel gets its share of the cores for BLAS and OpenMP.

Parameters are injected with papermill's ``parameterize_notebook`` (the cell tagged
``injected-parameters`` after the one tagged ``parameters``) and cells are executed with
nbclient.
"""

from __future__ import annotations

import asyncio
import os
import sys
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

__all__ = ["NotebookJob", "NotebookResult", "execute_fresh", "execute_jobs"]

THREAD_VARIABLES = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS")
KERNEL_NAME = "python3"


@dataclass(frozen=True)
class NotebookJob:
    """One notebook to execute: its source, where the executed copy goes, its parameters and
    the environment (``KAMLAB_*`` variables) it runs with."""

    source: Path
    target: Path
    parameters: Mapping[str, Any]
    environment: Mapping[str, str] = field(default_factory=dict)


@dataclass
class NotebookResult:
    notebook: str
    status: str
    seconds: float
    cell: int | None = None
    error: str | None = None

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "notebook": self.notebook,
            "status": self.status,
            "seconds": self.seconds,
        }
        if self.status != "ok":
            out.update(cell=self.cell, error=self.error)
        return out


def _read(job: NotebookJob):
    from papermill.iorw import load_notebook_node
    from papermill.parameterize import parameterize_notebook

    nb = load_notebook_node(str(job.source))
    if job.parameters:
        nb = parameterize_notebook(nb, dict(job.parameters), kernel_name=KERNEL_NAME)
    return nb


def _prepare_code(job: NotebookJob) -> str:
    """Code run silently before each notebook on a reused kernel."""
    env = {k: str(v) for k, v in job.environment.items()}
    return (
        "%reset -f\n"
        "import kamlab._kernel as _kamlab_kernel\n"
        f"_kamlab_kernel.prepare({str(job.source.parent)!r}, {env!r})\n"
        "del _kamlab_kernel\n"
    )


def _failure(nb, exc: BaseException) -> tuple[int | None, str]:
    """The execution count of the failing cell and ``'Name: message'``."""
    for cell in nb.cells:
        for output in cell.get("outputs", []):
            if output.get("output_type") == "error":
                return cell.get("execution_count"), f"{output['ename']}: {output['evalue']}"
    return None, f"{type(exc).__name__}: {exc}"


async def _run_on(client_factory: Callable, job: NotebookJob, km, kc) -> NotebookResult:
    """Reset the kernel (a silent cell), then execute the notebook's cells on it."""
    import nbformat
    from nbclient.exceptions import CellExecutionError, DeadKernelError
    from nbclient.util import ensure_async

    started = time.perf_counter()
    nb = _read(job)
    client = client_factory(nb, km=km, kc=kc)
    status, cell, error = "ok", None, None
    try:
        async with client.async_setup_kernel(cleanup_kc=False):
            msg_id = await ensure_async(client.kc.kernel_info())
            info = await client.async_wait_for_reply(msg_id)
            if info is not None and "language_info" in info["content"]:
                nb.metadata["language_info"] = info["content"]["language_info"]
            # nbclient stores an executed cell back at its index: run the reset in a notebook
            # of its own so it never replaces a cell of the report.
            reset = nbformat.v4.new_code_cell(_prepare_code(job))
            resetter = client_factory(nbformat.v4.new_notebook(cells=[reset]), km=km, kc=kc)
            resetter.reset_execution_trackers()
            await resetter.async_execute_cell(reset, 0, store_history=False)
            if reset.outputs:
                raise RuntimeError(
                    "could not reset the kernel: "
                    + " ".join(str(o.get("evalue", o.get("text", ""))) for o in reset.outputs)
                )
            client.reset_execution_trackers()
            for index, code in enumerate(nb.cells):
                await client.async_execute_cell(
                    code, index, execution_count=client.code_cells_executed + 1
                )
    except (CellExecutionError, DeadKernelError, RuntimeError, TimeoutError) as exc:
        status = "failed"
        cell, error = _failure(nb, exc)
    from kamlab.runner import strip_volatile_metadata

    job.target.parent.mkdir(parents=True, exist_ok=True)
    nbformat.write(nb, str(job.target))
    strip_volatile_metadata(job.target)
    return NotebookResult(
        job.source.name, status, round(time.perf_counter() - started, 2), cell, error
    )


def _client_factory(timeout: int | None):
    from nbclient import NotebookClient

    def make(nb, km, kc):
        client = NotebookClient(
            nb,
            km=km,
            timeout=timeout,
            kernel_name=KERNEL_NAME,
            allow_errors=False,
            record_timing=False,
        )
        client.kc = kc  # not a constructor argument; one client per kernel, reused
        return client

    return make


async def _start_kernel(cwd: Path, threads: int | None, log: Path | None):
    from jupyter_client.manager import AsyncKernelManager

    env = dict(os.environ)
    if threads is not None:
        for name in THREAD_VARIABLES:
            env.setdefault(name, str(threads))
    km = AsyncKernelManager(kernel_name=KERNEL_NAME)
    kwargs: dict[str, Any] = {"cwd": str(cwd), "env": env}
    handle = None
    if log is not None:
        log.parent.mkdir(parents=True, exist_ok=True)
        handle = open(log, "ab")
        kwargs["stderr"] = handle
    try:
        await km.start_kernel(**kwargs)
    finally:
        if handle is not None:
            handle.close()
    kc = km.client()
    kc.start_channels()
    await kc.wait_for_ready(timeout=120)
    return km, kc


async def _worker(
    queue: asyncio.Queue,
    results: dict,
    cwd: Path,
    threads: int | None,
    log: Path | None,
    timeout: int | None,
    stop: asyncio.Event,
    on_done: Callable[[NotebookResult], None],
) -> None:
    km = kc = None
    factory = _client_factory(timeout)
    try:
        while not queue.empty() and not stop.is_set():
            job: NotebookJob = queue.get_nowait()
            if km is None:
                km, kc = await _start_kernel(cwd, threads, log)
            try:
                result = await _run_on(factory, job, km, kc)
            except Exception as exc:  # the kernel died between notebooks
                result = NotebookResult(
                    job.source.name, "failed", 0.0, None, f"{type(exc).__name__}: {exc}"
                )
            results[job.source.name] = result
            on_done(result)
            if result.status != "ok":
                stop.set()
                if not await km.is_alive():
                    km = kc = None
    finally:
        if kc is not None:
            kc.stop_channels()
        if km is not None:
            await km.shutdown_kernel(now=True)


def execute_jobs(
    jobs: Sequence[NotebookJob],
    *,
    workers: int = 1,
    threads: int | None = None,
    cwd: Path,
    log_dir: Path | None = None,
    timeout: int | None = None,
    on_done: Callable[[NotebookResult], None] | None = None,
) -> list[NotebookResult]:
    """Execute ``jobs`` on ``workers`` long-lived kernels; results in the order of ``jobs``.

    After the first failure no new notebook is started (those running finish). Jobs never
    started are reported with status ``"not run"``.
    """

    async def main() -> dict:
        queue: asyncio.Queue = asyncio.Queue()
        for job in jobs:
            queue.put_nowait(job)
        results: dict[str, NotebookResult] = {}
        stop = asyncio.Event()
        n = max(1, min(workers, len(jobs)))
        logs = [None if log_dir is None else log_dir / f"kernel-{i + 1}.log" for i in range(n)]
        await asyncio.gather(
            *(
                _worker(
                    queue,
                    results,
                    cwd,
                    threads,
                    logs[i],
                    timeout,
                    stop,
                    on_done or (lambda r: None),
                )
                for i in range(n)
            )
        )
        return results

    results = asyncio.run(main())
    return [
        results.get(job.source.name)
        or NotebookResult(job.source.name, "not run", 0.0, None, "an earlier notebook failed")
        for job in jobs
    ]


def execute_fresh(
    source: Path, target: Path, parameters: Mapping[str, Any] | None = None
) -> NotebookResult:
    """Execute one notebook on a fresh kernel (what ``make notebooks`` uses to refresh the
    committed notebooks that nbval compares against)."""
    job = NotebookJob(Path(source), Path(target), dict(parameters or {}))
    result = execute_jobs([job], workers=1, cwd=Path(source).parent)[0]
    if result.status != "ok":
        print(f"{source.name} failed in cell {result.cell}: {result.error}", file=sys.stderr)
    return result
