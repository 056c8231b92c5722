"""The fault suite prints what it tried at the end of the session (see tally.py)."""

from __future__ import annotations

import pytest

from tests.fuzz import tally


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    tally.summary(terminalreporter.write_line)
