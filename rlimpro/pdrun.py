"""Find and run Pure Data headless (``pd -nogui -nosound -batch``), its console captured.

Pd's console output is never passed through: it is scanned for the lines that mean a patch
is broken ("couldn't create", "error: ...") and turned into one clear :class:`RlimproError`.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Sequence
from importlib import resources
from pathlib import Path

from rlimpro.descriptors.framing import SR
from rlimpro.errors import RlimproError

__all__ = ["find_pd", "harness", "run_pd", "pd_errors"]

#: console lines that mean the patch did not load or run as written
_ERROR_MARKERS = (
    "couldn't create", "error:", "can't connect", "connection failed", "couldn't open", "no method for",
    "bad arguments", "divide by zero",
)
#: harmless lines that contain a marker
_IGNORED = ("biggest amplitude",)


def find_pd() -> str:
    """Path of the ``pd`` executable: ``$RLIMPRO_PD``, else ``pd`` (or ``puredata``) on PATH.

    :raises RlimproError: if Pd is not installed.
    """
    explicit = os.environ.get("RLIMPRO_PD")
    if explicit:
        if not (Path(explicit).is_file() and os.access(explicit, os.X_OK)):
            raise RlimproError(f"RLIMPRO_PD={explicit}: not an executable; point it at the pd binary or unset it")
        return explicit
    for name in ("pd", "puredata"):
        found = shutil.which(name)
        if found:
            return found
    raise RlimproError("Pure Data (pd) not found on PATH; install it: apt-get install puredata-core (or make system)")


def harness(name: str = "render.pd") -> Path:
    """Path of a harness patch shipped in the package (``rlimpro/pd/<name>``)."""
    path = Path(str(resources.files("rlimpro") / "pd" / name))
    if not path.is_file():
        raise RlimproError(f"{name}: harness patch missing from the rlimpro package; reinstall rlimpro")
    return path


def pd_errors(console: str) -> list[str]:
    """The console lines that report a broken patch (missing object, failed connection, ...)."""
    found = []
    for line in console.splitlines():
        low = line.lower()
        if any(m in low for m in _ERROR_MARKERS) and not any(i in low for i in _IGNORED):
            found.append(line.strip())
    return found


def _describe(console: str, errors: list[str]) -> str:
    """One short phrase for the first problem: the object Pd could not create (Pd prints its
    text on the line before "... couldn't create"), else Pd's first error line."""
    lines = [line.strip() for line in console.splitlines()]
    for i, line in enumerate(lines):
        if "couldn't create" in line and i > 0 and "couldn't create" not in lines[i - 1]:
            return f"couldn't create '{_strip(lines[i - 1])}' (a missing abstraction or external, or a typo)"
    return _strip(errors[0])


def _strip(line: str) -> str:
    """A console line without Pd's ``verbose(n):`` / ``error:`` prefixes."""
    for prefix in ("verbose(0):", "verbose(1):", "verbose(2):", "error:"):
        line = line.removeprefix(prefix).strip()
    return line


def run_pd(
    patch: Path,
    *,
    paths: Sequence[Path] = (),
    send: str | None = None,
    sr: int = SR,
    timeout: float = 60.0,
    what: str = "patch",
) -> str:
    """Run ``patch`` in a headless batch Pd (as fast as the CPU allows) and return its console.

    :param patch: the patch to open (it must end with ``; pd quit``).
    :param paths: folders added to Pd's search path (``-path``), e.g. the synth's folder.
    :param send: a message sent after the patch is loaded (``-send``).
    :param sr: sample rate of the DSP.
    :param timeout: seconds before Pd is killed.
    :param what: the file the user knows (e.g. ``"fm/synth.pd"``), named in errors.
    :return: Pd's console output (stdout and stderr merged).
    :raises RlimproError: if Pd reports a broken patch, fails, or runs past ``timeout``.
    """
    cmd = [find_pd(), "-nogui", "-nosound", "-noprefs", "-batch", "-r", str(int(sr))]
    for folder in paths:
        cmd += ["-path", str(folder)]
    cmd += ["-open", str(patch)]
    if send:
        cmd += ["-send", send]
    try:
        proc = subprocess.run(
            cmd, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=timeout
        )
    except subprocess.TimeoutExpired as exc:
        raise RlimproError(
            f"{what}: Pd did not finish within {timeout:.0f} s; the patch loops endlessly or renders "
            "slower than real time (open it in Pd to see)"
        ) from exc
    console = proc.stdout.decode("utf-8", "replace")
    errors = pd_errors(console)
    if errors:
        raise RlimproError(f"{what}: {_describe(console, errors)}; open it in Pd to fix it")
    if proc.returncode != 0:
        raise RlimproError(f"{what}: Pd exited with code {proc.returncode}; open the patch in Pd to see why")
    return console
