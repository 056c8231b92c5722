"""The ``export`` command: a trained run -> one self-contained policy.onnx (DAG stage ``export@synth``)."""

from __future__ import annotations

from pathlib import Path

import typer

from rlimpro.cli._common import console


def export(
    run: Path = typer.Argument(..., help="A run folder, e.g. 00_synths/fm/runs/main.", show_default=False),
    out: Path = typer.Option(..., "--out", "-o", help="The policy.onnx to write.", show_default=False),
) -> None:
    """Export a run to ONE ONNX file (normalisation, lookup, network, action decoding inside) and verify it."""
    from rlimpro.export import export_run
    from rlimpro.params import load_params

    path, parity = export_run(run, out, Path("."), check=load_params()["export"]["check"])
    size = path.stat().st_size / 1024
    verified = (f"matches the SB3 policy on {parity.n} observations (max diff {parity.max_abs_diff:.2g}"
                f"{f', {parity.ties} exact ties' if parity.ties else ''})" if parity.n else "not verified (export.check: 0)")
    console.print(f"wrote {path} ({size:.0f} KiB); {verified}", highlight=False, soft_wrap=True)


def register(app: typer.Typer) -> None:
    """Add the export command to ``app``."""
    app.command("export")(export)
