"""Fault injection helpers: kill -9 a real ``rlimpro`` command mid-stage, compare artifacts, find leftovers."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

from tests.fuzz import tally

__all__ = ["RLIMPRO", "kill_when", "leftovers", "run_ok", "snapshot"]

RLIMPRO = str(Path(sys.executable).parent / "rlimpro")


def run_ok(args: list[str], cwd: Path, timeout: float = 600) -> str:
    """Run ``rlimpro ARGS`` to completion; fail with its output unless it exits 0; return stdout."""
    run = subprocess.run([RLIMPRO, *args], cwd=cwd, capture_output=True, text=True, timeout=timeout)
    assert run.returncode == 0, run.stdout + run.stderr
    return run.stdout


def kill_when(args: list[str], cwd: Path, ready: Callable[[], bool], timeout: float = 600) -> None:
    """Start ``rlimpro ARGS`` in its own process group and SIGKILL the whole group (workers and Pd
    included) as soon as ``ready()`` is true.

    :raises AssertionError: if the command ended before the fault could be injected.
    """
    proc = subprocess.Popen([RLIMPRO, *args], cwd=cwd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                            start_new_session=True)
    deadline = time.monotonic() + timeout
    try:
        while not ready():
            assert proc.poll() is None, f"rlimpro {' '.join(args)} ended before the fault: {proc.stderr.read()!r}"
            assert time.monotonic() < deadline, "the fault point was never reached"
            time.sleep(0.01)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(60)
        proc.stderr.close()
    assert proc.returncode == -signal.SIGKILL
    tally.add("faults injected")


def snapshot(folder: Path, pattern: str = "*") -> dict[str, bytes]:
    """The bytes of every file below ``folder`` matching ``pattern``, by relative path."""
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob(pattern)) if p.is_file()}


def leftovers(folder: Path) -> list[str]:
    """Temporary files (atomic writers' ``.NAME.*.tmp*``), lock files and scratch folders left below ``folder``."""
    found = [p for p in folder.rglob(".*") if ".tmp" in p.name or p.name in (".lookup_chunks",)]
    found += [p for p in folder.rglob("checkpoints") if p.is_dir()]
    return sorted(str(p.relative_to(folder)) for p in found)
