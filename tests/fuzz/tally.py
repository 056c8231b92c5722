"""What the reliability suite tried, counted across one pytest session (docs/reliability.md's rows).

Tests call :func:`add`; the ``tests/fuzz`` and ``tests/faults`` conftests print the totals once
at the end of the session, so ``make fuzz`` ends with the figures the docs publish.
"""

from __future__ import annotations

from collections import Counter

__all__ = ["ROWS", "add", "summary"]

#: the rows of docs/reliability.md's table, in order
ROWS = ("packets fuzzed", "Pd messages fuzzed", "signal blocks fuzzed", "bad files tried", "faults injected", "bytes lost")

_counts: Counter = Counter()
_printed = [False]


def add(row: str, n: int = 1) -> None:
    """Count ``n`` more of ``row`` (one of :data:`ROWS`)."""
    if row not in ROWS:
        raise ValueError(f"unknown row {row!r}; one of {', '.join(ROWS)}")
    _counts[row] += n


def summary(write) -> None:
    """Write the totals once per session (``write`` takes one line)."""
    if _printed[0] or not _counts:
        return
    _printed[0] = True
    write("reliability suite: " + ", ".join(f"{row} {_counts[row]:,}" for row in ROWS))
