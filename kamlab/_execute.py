"""Execute notebooks on a few long-lived kernels.

``kamlab run`` executes seven notebooks that all import the same scientific stack; starting a
kernel and importing pandas, scikit-learn and statsmodels costs about three seconds each time.
Here a :class:`KernelPool` launches one kernel per worker as soon as the run's arguments are
checked, and each kernel runs the notebooks' import statements while it starts
(:func:`notebook_imports`), in parallel with the data load in the calling process. Each
worker then executes its share of the notebooks on its kernel, one after the other,
resetting the kernel's state in between (user namespace, open figures, Matplotlib and pandas
options, warning filters, working directory and the ``KAMLAB_*`` variables), so a notebook
sees the same state it would see in a fresh kernel.
Workers run concurrently (``jobs``); each kernel gets its share of the cores for BLAS and
OpenMP.

Parameters are injected with papermill's ``parameterize_notebook`` (the cell tagged
``injected-parameters`` after the one tagged ``parameters``) and cells are executed with
nbclient.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import shutil
import sys
import tempfile
import time
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

__all__ = ["KernelPool", "NotebookJob", "NotebookResult", "execute_fresh", "notebook_imports"]

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


def _manager():
    from jupyter_client.manager import AsyncKernelManager

    return AsyncKernelManager(kernel_name=KERNEL_NAME)


async def _launch(km, cwd: Path, threads: int | None, log: Path, preload: str) -> None:
    """Start ``km``'s kernel process; returns at once (the kernel boots on its own)."""
    env = dict(os.environ)
    if threads is not None:
        for name in THREAD_VARIABLES:
            env.setdefault(name, str(threads))
    log.parent.mkdir(parents=True, exist_ok=True)
    with open(log, "ab") as handle:
        await km.start_kernel(
            cwd=str(cwd), env=env, stderr=handle, extra_arguments=_preload_arguments(preload)
        )


async def _connect(km):
    """A client of ``km``'s kernel once the kernel answers (after its preload)."""
    kc = km.client()
    kc.start_channels()
    try:
        await kc.wait_for_ready(timeout=120)
    except BaseException:
        kc.stop_channels()
        raise
    return kc


def _preload_arguments(statements: str) -> list[str]:
    """Kernel arguments that run ``statements`` while the kernel starts, before any notebook
    (the namespace is reset before every notebook all the same, see ``_prepare_code``)."""
    if not statements:
        return []
    code = f"import kamlab._kernel as _k; _k.preload({statements!r}); del _k"
    return [f"--IPKernelApp.exec_lines={code}"]


def notebook_imports(notebooks: Sequence[Path]) -> str:
    """The top-level ``import`` statements of the notebooks' code cells, one per line, each
    once: what a kernel can import before it knows which notebook it will run.

    Examples
    --------
    >>> import json, tempfile
    >>> path = Path(tempfile.mkdtemp()) / "01_x.ipynb"
    >>> cells = [{"cell_type": "code", "source": ["%matplotlib inline\\n", "import numpy as np\\n",
    ...           "from kamlab import (fmt,\\n", "    tiers)\\n", "if True:\\n", "    import os"]}]
    >>> _ = path.write_text(json.dumps({"cells": cells}))
    >>> print(notebook_imports([path, path]))
    import numpy as np
    from kamlab import fmt, tiers
    """
    import ast
    import json

    seen: dict[str, None] = {}
    for path in notebooks:
        for cell in json.loads(Path(path).read_text(encoding="utf-8")).get("cells", []):
            if cell.get("cell_type") != "code":
                continue
            source = cell.get("source", "")
            lines = (source if isinstance(source, str) else "".join(source)).splitlines()
            # IPython magics and shell escapes are not Python: blank them, keep line numbers.
            code = "\n".join("" if ln.lstrip().startswith(("%", "!")) else ln for ln in lines)
            try:
                tree = ast.parse(code)
            except SyntaxError:
                continue
            for node in tree.body:
                if isinstance(node, ast.Import | ast.ImportFrom) and not (
                    isinstance(node, ast.ImportFrom) and node.level
                ):
                    seen.setdefault(ast.unparse(node), None)
    return "\n".join(seen)


class KernelPool:
    """The kernels of one run, launched before the notebooks are ready to execute.

    Launching returns at once: each kernel starts and runs the ``preload`` imports in its own
    process while the caller loads and validates the data. :meth:`execute` runs notebooks on
    them; :meth:`close` shuts down what is still running and moves each kernel's log
    (``kernel-N.log``, its standard error) into ``log_dir``.

    Parameters
    ----------
    workers : int
        Kernels, one per notebook executed at a time.
    cwd : path
        The kernels' working directory.
    threads : int, optional
        BLAS/OpenMP threads per kernel (``*_NUM_THREADS`` unless already set).
    preload : str
        Import statements each kernel runs as it starts, e.g. :func:`notebook_imports` of the
        notebooks it will execute.
    """

    def __init__(self, workers: int, *, cwd: Path, threads: int | None = None, preload: str = ""):
        self.workers = max(1, workers)
        self._cwd, self._threads, self._preload = Path(cwd), threads, preload
        self._logs = Path(tempfile.mkdtemp(prefix="kamlab-kernels-"))
        self._loop = asyncio.new_event_loop()
        self._spare: list = [None] * self.workers
        self._live: set = set()
        self._used = False
        try:
            for i in range(self.workers):
                self._spare[i] = self._run(self._start(i))
        except BaseException:
            self.close()
            raise

    def _run(self, coro):
        """Run ``coro`` on the pool's loop; on any exit but its end (an error elsewhere,
        Ctrl-C) cancel it and let its ``finally`` blocks shut their kernels down."""
        task = self._loop.create_task(coro)
        try:
            return self._loop.run_until_complete(task)
        except BaseException:
            if not task.done():
                task.cancel()
                with contextlib.suppress(BaseException):
                    self._loop.run_until_complete(task)
            raise

    def _log(self, worker: int) -> Path:
        return self._logs / f"kernel-{worker + 1}.log"

    async def _start(self, worker: int):
        km = _manager()
        self._live.add(km)  # before the process exists: close() stops it whatever happens
        await _launch(km, self._cwd, self._threads, self._log(worker), self._preload)
        return km

    async def _stop(self, km, kc) -> None:
        if kc is not None:
            kc.stop_channels()
        if km is not None:
            self._live.discard(km)
            if km.has_kernel:
                await km.shutdown_kernel(now=True)

    async def _worker(
        self,
        worker: int,
        queue: asyncio.Queue,
        results: dict,
        timeout: int | None,
        stop: asyncio.Event,
        on_done: Callable[[NotebookResult], None],
        reporter: ThreadPoolExecutor,
    ) -> None:
        km, self._spare[worker] = self._spare[worker], None
        kc = None
        factory = _client_factory(timeout)
        try:
            while not queue.empty() and not stop.is_set():
                job: NotebookJob = queue.get_nowait()
                try:
                    if km is None:
                        km = await self._start(worker)
                    if kc is None:
                        kc = await _connect(km)
                    result = await _run_on(factory, job, km, kc)
                except Exception as exc:  # the kernel did not start, or died between notebooks
                    result = NotebookResult(
                        job.source.name, "failed", 0.0, None, f"{type(exc).__name__}: {exc}"
                    )
                results[job.source.name] = result
                if result.status != "ok":
                    stop.set()  # before the report: no other worker takes a new notebook
                # Off the event loop: exporting a report must not hold up the other kernels.
                await asyncio.get_running_loop().run_in_executor(reporter, on_done, result)
                if result.status != "ok" and km is not None and not await km.is_alive():
                    await self._stop(km, kc)
                    km = kc = None
        finally:
            await self._stop(km, kc)

    def execute(
        self,
        jobs: Sequence[NotebookJob],
        *,
        timeout: int | None = None,
        on_done: Callable[[NotebookResult], None] | None = None,
    ) -> list[NotebookResult]:
        """Execute ``jobs`` on the kernels (once per pool); results in the order of ``jobs``.

        ``on_done`` is called with each result as it arrives, one call at a time, in a
        thread of its own. After the first failure no new notebook is started (those running
        finish); jobs never started are reported with status ``"not run"``. The kernels are
        shut down after the jobs.
        """
        if self._used:
            raise RuntimeError("a KernelPool executes one list of jobs; start a new pool")
        self._used = True

        async def main() -> dict:
            queue: asyncio.Queue = asyncio.Queue()
            for job in jobs:
                queue.put_nowait(job)
            results: dict[str, NotebookResult] = {}
            stop = asyncio.Event()
            n = max(1, min(self.workers, len(jobs)))
            done = on_done or (lambda r: None)
            with ThreadPoolExecutor(1, thread_name_prefix="kamlab-report") as reporter:
                # A TaskGroup cancels the other workers (each stops its kernel) if one raises.
                async with asyncio.TaskGroup() as group:
                    for i in range(n):
                        group.create_task(
                            self._worker(i, queue, results, timeout, stop, done, reporter)
                        )
            return results

        results = self._run(main())
        return [
            results.get(job.source.name)
            or NotebookResult(job.source.name, "not run", 0.0, None, "an earlier notebook failed")
            for job in jobs
        ]

    def close(self, log_dir: Path | None = None) -> None:
        """Shut down the kernels still running; move their logs into ``log_dir`` (or drop
        them). Safe to call more than once."""
        if not self._loop.is_closed():
            for km in list(self._live):
                with contextlib.suppress(Exception):
                    self._loop.run_until_complete(self._stop(km, None))
            self._loop.close()
        if log_dir is not None and self._logs.is_dir():
            log_dir.mkdir(parents=True, exist_ok=True)
            for log in sorted(self._logs.glob("kernel-*.log")):
                shutil.move(log, log_dir / log.name)
        shutil.rmtree(self._logs, ignore_errors=True)

    def __enter__(self) -> KernelPool:
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def execute_fresh(
    source: Path, target: Path, parameters: Mapping[str, Any] | None = None
) -> NotebookResult:
    """Execute one notebook on a fresh kernel (what ``make notebooks`` uses to refresh the
    committed notebooks that nbval compares against)."""
    job = NotebookJob(Path(source), Path(target), dict(parameters or {}))
    with KernelPool(1, cwd=Path(source).parent) as pool:
        result = pool.execute([job])[0]
    if result.status != "ok":
        print(f"{source.name} failed in cell {result.cell}: {result.error}", file=sys.stderr)
    return result
