"""Where the tasks of a flow run: a Dask cluster (local or remote) or this process, in order.

- default: a Dask ``LocalCluster`` started for the run, one single-threaded worker process
  per core (Dask sets BLAS to one thread in each);
- ``address`` or the environment variable ``RLIMPRO_DASK_ADDRESS``: an existing Dask
  scheduler (``tcp://host:8786``); its workers need this package installed and the project
  folder at the same path (a shared file system), as tasks read and write it in place, and
  :data:`WORKER_CONFIG` (``DASK_DISTRIBUTED__WORKER__DAEMON=False dask worker tcp://host:8786``, and
  ``MALLOC_TRIM_THRESHOLD_: null`` under ``distributed.nanny.pre-spawn-environ`` in a Dask config file);
- ``sequential``: one task at a time in the flow's process (for comparison and debugging).
"""

from __future__ import annotations

import logging
import os

from prefect.task_runners import TaskRunner, ThreadPoolTaskRunner

__all__ = ["ADDRESS_ENV", "WORKER_CONFIG", "task_runner"]

ADDRESS_ENV = "RLIMPRO_DASK_ADDRESS"

#: Dask settings for workers that run stages: stage functions may start processes of their
#: own, which daemon processes may not; and no ``MALLOC_TRIM_THRESHOLD_`` (Dask sets 65536),
#: which turns off glibc's adaptive mmap threshold, so every numpy temporary over 128 KiB is
#: mapped and page-faulted anew: the descriptors then run about twice as slow (sys time).
WORKER_CONFIG = {"distributed.worker.daemon": False, "distributed.nanny.pre-spawn-environ.MALLOC_TRIM_THRESHOLD_": None}


def task_runner(address: str | None = None, *, sequential: bool = False, workers: int | None = None) -> TaskRunner:
    """The task runner for a flow run.

    :param address: a Dask scheduler; ``None`` reads ``RLIMPRO_DASK_ADDRESS``, else a local cluster.
    :param sequential: run tasks one by one in this process instead.
    :param workers: worker processes of the local cluster (default: every core).
    """
    if sequential:
        return ThreadPoolTaskRunner(max_workers=1)
    import dask
    from prefect_dask import DaskTaskRunner

    dask.config.set(WORKER_CONFIG)
    logging.getLogger("distributed").setLevel(logging.WARNING)  # no line per worker start and stop
    address = address or os.environ.get(ADDRESS_ENV) or None
    if address:
        return DaskTaskRunner(address=address)
    cluster = {"n_workers": workers or os.cpu_count() or 1, "threads_per_worker": 1, "processes": True,
               "dashboard_address": None}
    return DaskTaskRunner(cluster_class="distributed.LocalCluster", cluster_kwargs=cluster)
