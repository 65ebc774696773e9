"""Ordered parallel map over processes with a bounded number of tasks in flight."""

from __future__ import annotations

import multiprocessing
import os
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Future, ProcessPoolExecutor
from typing import TypeVar

T = TypeVar("T")
R = TypeVar("R")


def resolve_n_jobs(n_jobs: int) -> int:
    """Number of worker processes: ``-1`` means every core this process may run on."""
    if n_jobs == -1:
        return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1
    if n_jobs < 1:
        raise ValueError(f"n_jobs must be -1 (all cores) or >= 1, got {n_jobs}")
    return n_jobs


def ordered_map(func: Callable[[T], R], items: Iterable[T], n_jobs: int,
                in_flight_per_worker: int = 2) -> Iterator[R]:  # fmt: skip
    """``func`` over ``items`` in input order; with ``n_jobs > 1`` in worker processes.

    At most ``n_jobs * in_flight_per_worker`` items are submitted and not yet yielded, so
    memory does not grow with the number of items. ``func`` must be a module-level function.
    Workers start with ``forkserver`` (no fork of a process that already runs threads); as
    with any such start method, the caller's main script needs an ``if __name__ ==
    "__main__":`` guard.
    """
    if n_jobs <= 1:
        yield from map(func, items)
        return
    context = multiprocessing.get_context("forkserver")
    module = getattr(func, "__module__", None)
    if module and module != "__main__":  # workers fork from a server that imported it once
        context.set_forkserver_preload([module])
    pending: deque[Future[R]] = deque()
    with ProcessPoolExecutor(max_workers=n_jobs, mp_context=context) as pool:
        try:
            for item in items:
                pending.append(pool.submit(func, item))
                if len(pending) >= n_jobs * in_flight_per_worker:
                    yield pending.popleft().result()
            while pending:
                yield pending.popleft().result()
        finally:  # on an error (or an abandoned generator) do not run what is still queued
            for future in pending:
                future.cancel()
