"""A Dask worker killed mid-flow: the Prefect flow's retry completes, and the lookup table is
byte-identical to the CLI's. Uses the real `prefect server` and `dask worker` set-up of
tests/pipeline/test_prefect.py (about a minute: marked slow, run by `make fuzz`)."""

from __future__ import annotations

import os
import signal
import subprocess
import threading
import time
from pathlib import Path

import pytest

from tests.fuzz import tally
from tests.pipeline.test_prefect import external_cluster, rlimpro, sine_lookup
from tests.pipeline.test_prefect import server  # noqa: F401 - a fixture

pytestmark = pytest.mark.slow


def test_a_killed_dask_worker_is_retried_to_the_same_table(server: dict[str, str], project: Path,  # noqa: F811
                                                           tmp_path: Path) -> None:
    table, reference = sine_lookup(project, server, chunk_size=4)  # 36 points: 9 chunks
    chunks = project / "00_synths" / "sine" / ".lookup_chunks"
    with external_cluster(server, tmp_path) as (address, env, client):
        pids = client.run(os.getpid)  # worker address -> its process (the nanny restarts it)
        result: dict[str, subprocess.CompletedProcess] = {}
        flow = threading.Thread(target=lambda: result.update(done=rlimpro(
            "pipeline", "run", "render_lookup", "--name", "sine", "--dask-address", address, cwd=project, env=env)))
        flow.start()
        deadline = time.monotonic() + 300
        while not any(chunks.rglob("chunk_*.npy")):
            assert flow.is_alive() and time.monotonic() < deadline, result
            time.sleep(0.05)
        os.kill(next(iter(pids.values())), signal.SIGKILL)  # mid-flow: the other chunks are still to render
        tally.add("faults injected")
        flow.join(600)
    done = result["done"]
    assert done.returncode == 0, done.stderr[-3000:]
    assert table.read_bytes() == reference
    assert not chunks.exists()
