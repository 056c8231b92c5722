"""Atomic file writes: an artifact is either complete or absent, never half-written.

>>> import shutil, tempfile
>>> folder = Path(tempfile.mkdtemp())
>>> print(write_json(folder / "eval" / "metrics.json", {"nrmse": 0.238}).read_text(), end="")
{
  "nrmse": 0.238
}
>>> with atomic_path(folder / "table.csv") as tmp:
...     _ = tmp.write_text("a,b")
...     raise RuntimeError("the writer failed")
Traceback (most recent call last):
RuntimeError: the writer failed
>>> sorted(p.name for p in folder.iterdir())   # no table.csv, and no temporary file left
['eval']
>>> shutil.rmtree(folder)
"""

from __future__ import annotations

import contextlib
import glob
import json
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any


_UMASK = os.umask(0)
os.umask(_UMASK)


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike[str]) -> Iterator[Path]:
    """Yield a temporary path beside ``path``; rename it onto ``path`` only on success.

    :param path: the final destination; its folder is created if needed.
    :return: a context manager yielding the temporary path to write to.
    """
    dest = Path(path)
    dest.parent.mkdir(parents=True, exist_ok=True)
    _sweep(dest)
    fd, tmp = tempfile.mkstemp(prefix=f".{dest.name}.{os.getpid()}.", suffix=".tmp" + dest.suffix, dir=dest.parent)
    os.close(fd)
    os.chmod(tmp, 0o666 & ~_UMASK)  # mkstemp makes 0600; artifacts follow the umask like any file
    tmp_path = Path(tmp)
    try:
        yield tmp_path
        os.replace(tmp_path, dest)
    finally:
        if tmp_path.exists():
            tmp_path.unlink()


def _sweep(dest: Path) -> None:
    """Delete temporary files of ``dest`` whose writer was killed (kill -9, power cut): their name
    carries the writer's process id, and that process is gone. A live writer's file is left alone."""
    for stale in dest.parent.glob(f".{glob.escape(dest.name)}.*.tmp*"):
        pid = stale.name[len(dest.name) + 2:].split(".", 1)[0]
        if pid.isdigit() and not _alive(int(pid)):
            stale.unlink(missing_ok=True)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # someone else's process
        return True
    return True


def check_writable(folder: str | os.PathLike[str]) -> Path:
    """Make sure files can be written in ``folder`` (created if needed) before a long stage starts.

    :raises RlimproError: one line naming the folder when it is read-only, not ours or full.
    """
    from rlimpro.errors import RlimproError

    folder = Path(folder)
    try:
        folder.mkdir(parents=True, exist_ok=True)
        fd, probe = tempfile.mkstemp(prefix=".write-probe.", suffix=".tmp", dir=folder)
        try:
            os.write(fd, b"\0" * 4096)  # a full disk fails here, not only at the first real write
        finally:
            os.close(fd)
            os.unlink(probe)
    except OSError as exc:
        raise RlimproError(f"{folder}: cannot write there ({exc.strerror}); make it writable or free some space, "
                           "then run again (finished files are kept)") from None
    return folder


def write_text(path: str | os.PathLike[str], text: str) -> Path:
    """Write ``text`` to ``path`` atomically and return the path."""
    with atomic_path(path) as tmp:
        tmp.write_text(text)
    return Path(path)


def write_json(path: str | os.PathLike[str], data: Any) -> Path:
    """Write ``data`` as indented JSON (keys in insertion order) to ``path`` atomically."""
    return write_text(path, json.dumps(data, indent=2) + "\n")
