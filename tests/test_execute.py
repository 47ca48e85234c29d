"""The kernel pool behind kamlab run: kernels launched early are always shut down."""

from __future__ import annotations

import os
import time

import nbformat
import pytest

from kamlab._execute import KernelPool, NotebookJob


def _pids(pool: KernelPool) -> list[int]:
    return [km.provisioner.process.pid for km in pool._live]


def _gone(pid: int, wait: float = 10.0) -> bool:
    end = time.monotonic() + wait
    while time.monotonic() < end:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return True
        time.sleep(0.1)
    return False


@pytest.mark.slow  # starts kernels
def test_a_pool_closed_unused_stops_its_kernels(tmp_path):
    pool = KernelPool(2, cwd=tmp_path, preload="import json")
    pids = _pids(pool)
    assert len(pids) == 2
    pool.close(tmp_path / "logs")
    pool.close()  # twice is harmless
    assert all(_gone(pid) for pid in pids)
    assert sorted(p.name for p in (tmp_path / "logs").iterdir()) == ["kernel-1.log", "kernel-2.log"]


@pytest.mark.slow  # starts a kernel
def test_a_pool_runs_one_list_of_jobs_then_stops(tmp_path):
    source = tmp_path / "01_x.ipynb"
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell("import json\nprint(6 * 7)")])
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3"}
    nbformat.write(nb, source)
    job = NotebookJob(source, tmp_path / "out" / "01_x.ipynb", {})
    with KernelPool(1, cwd=tmp_path, preload="import json") as pool:
        pids = _pids(pool)
        (result,) = pool.execute([job])
        assert result.status == "ok"
        with pytest.raises(RuntimeError, match="one list of jobs"):
            pool.execute([job])
    assert _gone(pids[0])
    ran = nbformat.read(tmp_path / "out" / "01_x.ipynb", as_version=4)
    assert ran.cells[0].outputs[0]["text"] == "42\n"
