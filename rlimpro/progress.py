"""Progress bars for long work: shown only when stdout is a terminal.

Logs, CI and pipes get the items and no bar:

>>> list(track(iter("abc"), total=3, description="rendering"))
['a', 'b', 'c']
"""

from __future__ import annotations

import sys
from collections.abc import Iterable, Iterator
from typing import TypeVar

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

T = TypeVar("T")


def track(items: Iterable[T], total: int, description: str) -> Iterator[T]:
    """Yield ``items``, advancing a progress bar when stdout is a terminal.

    :param items: the work items (any iterable, e.g. results of a process pool).
    :param total: how many items to expect.
    :param description: a few words shown left of the bar.
    """
    if not sys.stdout.isatty():
        yield from items
        return
    columns = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeRemainingColumn())
    with Progress(*columns, console=Console(), transient=True) as bar:
        task = bar.add_task(description, total=total)
        for item in items:
            yield item
            bar.advance(task)
