"""The reliability suite (tests/fuzz, tests/faults): run by `make fuzz`, printing what it tried.

`make test` collects these tests too; they are skipped there (CI runs `make fuzz` right after
`make test`) unless asked for by path (``pytest tests/fuzz``) or with RLIMPRO_FUZZ=1.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from tests.fuzz import tally

SUITE = (Path(__file__).parent, Path(__file__).parent.parent / "faults")


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    asked = os.environ.get("RLIMPRO_FUZZ") or any(
        Path(arg.split("::")[0]).resolve().is_relative_to(folder) for arg in config.args for folder in SUITE)
    if asked:
        return
    skip = pytest.mark.skip(reason="the reliability suite: `make fuzz` (or pytest tests/fuzz tests/faults)")
    for item in items:
        if any(item.path.is_relative_to(folder) for folder in SUITE):
            item.add_marker(skip)


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    tally.summary(terminalreporter.write_line)
