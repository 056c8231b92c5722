"""Run independent jobs in worker processes: the one pool helper of the stages.

``render_lookup`` maps its chunks and ``analyze_corpus`` / ``rlimpro analyze`` their audio
files through :func:`map_parallel`.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Executor, ProcessPoolExecutor, ThreadPoolExecutor, as_completed
from multiprocessing import current_process, get_context
from typing import TypeVar

__all__ = ["n_workers", "map_parallel"]

T = TypeVar("T")
R = TypeVar("R")


def n_workers(workers: int | None) -> int:
    """Worker processes to use: ``workers`` if positive, else every core."""
    return workers if workers and workers > 0 else (os.cpu_count() or 1)


def map_parallel(fn: Callable[[T], R], jobs: Iterable[T], workers: int | None) -> Iterator[R]:
    """Apply ``fn`` to every job, in ``workers`` processes, yielding results as they finish.

    ``fn`` must be picklable: a module-level function or a partial of one (processes are
    spawned). With one worker the jobs run in this process, in order; inside a daemonic
    process (e.g. a Dask worker), which may not have children, threads are used (Pd still
    runs in parallel processes).
    """
    jobs = list(jobs)
    workers = min(n_workers(workers), max(1, len(jobs)))
    if workers == 1:
        for job in jobs:
            yield fn(job)
        return
    pool: Executor
    if current_process().daemon:
        pool = ThreadPoolExecutor(max_workers=workers)
    else:
        pool = ProcessPoolExecutor(max_workers=workers, mp_context=get_context("spawn"))
    with pool:
        futures = [pool.submit(fn, job) for job in jobs]
        try:
            for future in as_completed(futures):
                yield future.result()
        except BaseException:
            for future in futures:
                future.cancel()
            raise
