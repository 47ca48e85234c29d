"""Thread limits for small numerical problems.

A four-parameter likelihood or a logistic regression on a few thousand rows spends more time
waking OpenBLAS/OpenMP thread pools than computing (measured: a BG/NBD fit on CDNOW took 140 ms
with the default pools and 10 ms single-threaded, with identical estimates). Small problems
therefore run under :func:`limit_threads`; large ones keep every core.
"""

from __future__ import annotations

import functools
import sys
from collections.abc import Callable
from contextlib import contextmanager
from typing import Any, TypeVar

__all__ = ["SMALL_PROBLEM_ROWS", "limit_threads", "single_threaded"]

#: Below this many rows a problem runs single-threaded.
SMALL_PROBLEM_ROWS = 200_000

F = TypeVar("F", bound=Callable[..., Any])


def _controller():
    """A cached thread-pool controller: building one scans the loaded libraries (about 2 ms),
    more than the small fits it limits. Rebuilt once scikit-learn (and its OpenMP runtime) is
    loaded, so a controller made before does not miss that pool."""
    return _cached_controller("sklearn" in sys.modules)


@functools.lru_cache(maxsize=2)
def _cached_controller(sklearn_loaded: bool):
    from threadpoolctl import ThreadpoolController

    return ThreadpoolController()


@contextmanager
def limit_threads(n_rows: int | None = None, *, threshold: int = SMALL_PROBLEM_ROWS):
    """Run the block with one BLAS/OpenMP thread when ``n_rows`` is below ``threshold``
    (or unknown); otherwise leave the pools alone."""
    if n_rows is not None and n_rows >= threshold:
        yield
        return
    with _controller().limit(limits=1):
        yield


def single_threaded(func: F) -> F:
    """Decorator: run ``func`` under :func:`limit_threads` with no row count (always one
    thread). For fits whose cost per call is tiny and called many times."""

    @functools.wraps(func)
    def wrapper(*args, **kwargs):
        with limit_threads():
            return func(*args, **kwargs)

    return wrapper  # type: ignore[return-value]
