"""The ``rlimpro`` command line: one typer app, one module per command group.

Errors of type :class:`~rlimpro.errors.RlimproError` print as at most three lines with no
traceback; ``--verbose`` shows the traceback.
"""

from __future__ import annotations

import sys

import typer

from rlimpro.cli import _common, analysis
from rlimpro.cli import export as export_commands
from rlimpro.cli import live as live_commands
from rlimpro.cli import pages as page_commands
from rlimpro.cli import pipeline as pipeline_commands
from rlimpro.cli import synth as synth_commands
from rlimpro.cli import train as train_commands

app = typer.Typer(
    name="rlimpro",
    help="An RL agent that improvises with a live musician by steering a Pure Data synth.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)


@app.callback()
def _root(
    verbose: bool = typer.Option(False, "--verbose", "-v", help="Show tracebacks and details on errors."),
) -> None:
    _common.STATE.verbose = verbose


analysis.register(app)
export_commands.register(app)
live_commands.register(app)
page_commands.register(app)
pipeline_commands.register(app)
synth_commands.register(app)
train_commands.register(app)


def main() -> None:
    """Entry point of the ``rlimpro`` script."""
    sys.exit(_common.run(app))
