"""Shared CLI plumbing: error display and consoles."""

from __future__ import annotations

import errno
import traceback
from dataclasses import dataclass
from pathlib import Path

import typer
from rich.console import Console
from rich.markup import escape

from rlimpro.errors import RlimproError

#: OSError numbers that mean the disk or the folder, not the program, is at fault
_DISK_ERRORS = {errno.ENOSPC, errno.EDQUOT, errno.EROFS, errno.EACCES, errno.EPERM}

console = Console()
err_console = Console(stderr=True)


@dataclass
class _State:
    verbose: bool = False


STATE = _State()


def run(app: typer.Typer) -> int:
    """Run the app; turn user errors into at most 3 lines on stderr and exit code 1.

    Usage errors and ``--help`` are handled by typer itself (it exits with its own code).
    """
    try:
        app()
    except RlimproError as exc:
        if STATE.verbose:
            traceback.print_exc()
        lines = str(exc).strip().splitlines() or ["error"]
        err_console.print(f"[red]error:[/red] {escape(lines[0])}", highlight=False, soft_wrap=True)
        for line in lines[1:3]:
            err_console.print(line, highlight=False, markup=False, soft_wrap=True)
        return 1
    except OSError as exc:
        if exc.errno not in _DISK_ERRORS:
            return _internal(exc)
        if STATE.verbose:  # a full disk, a read-only or foreign folder: the user's to fix, not a bug
            traceback.print_exc()
        where = Path(exc.filename).name if exc.filename else "a file"
        err_console.print(f"[red]error:[/red] {escape(where)}: cannot write ({escape(exc.strerror or str(exc))}); "
                          "free some space or make the folder writable, then run again", highlight=False, soft_wrap=True)
        return 1
    except Exception as exc:  # a bug: say so briefly unless asked for details
        return _internal(exc)
    return 0


def _internal(exc: Exception) -> int:
    """A bug: one line (the traceback with --verbose) and exit code 2."""
    if STATE.verbose:
        traceback.print_exc()
    else:
        err_console.print(f"[red]internal error:[/red] {escape(f'{exc.__class__.__name__}: {exc}')}", highlight=False)
        err_console.print("run again with --verbose for the traceback and report it")
    return 2
