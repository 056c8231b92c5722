"""Synth commands: ``render-lookup`` (a DAG stage), ``render`` (listen) and ``check-synth``."""

from __future__ import annotations

from pathlib import Path

import typer

from rlimpro.cli._common import console


def _sr() -> int:
    """The analysis sample rate of the project in the current folder (the standard one outside one)."""
    from rlimpro.descriptors import SR
    from rlimpro.params import PARAMS_FILE, load_params

    return load_params()["analysis"]["sr"] if Path(PARAMS_FILE).is_file() else SR


def render_lookup(
    synth: str = typer.Option(..., "--synth", "-s", help="Synth name: the folder 00_synths/NAME/."),
) -> None:
    """Render the synth's lookup table (its sound map) to 00_synths/NAME/lookup.parquet.

    subdiv^N grid points, rendered headless by Pd in parallel chunks and analysed. Finished
    chunks are kept while it runs: after an interruption, run it again to resume.
    """
    from rlimpro.lookup import render_lookup as stage
    from rlimpro.params import load_params

    (out,) = stage(synth, load_params(), Path("."))
    console.print(f"wrote {out}")


def render(
    synth: str = typer.Option(..., "--synth", "-s", help="Synth name (00_synths/NAME) or a path to a synth folder."),
    params: str = typer.Option(..., "--params", "-p", help="The N parameter values in [0, 1], comma-separated: 0.2,0.5"),
    output: Path = typer.Option(..., "-o", "--output", help="WAV file to write (32-bit float)."),
    sweep: str = typer.Option(
        None, "--sweep", help="End point of a sweep from --params, comma-separated (one synth instance, 50 ms steps)."
    ),
    seconds: float = typer.Option(
        None, "--seconds", min=0.05, help="Seconds after settling (default: the synth's length_s; sweeps: 4)."
    ),
) -> None:
    """Render one parameter point (or a sweep) of a synth to a WAV file, to hear its space.

    A single point sounds exactly as its lookup row was rendered: same initial state, same
    settle time, same length.
    """
    from rlimpro.render import render_to_wav
    from rlimpro.synth import load_synth, parse_params, resolve_synth

    n = load_synth(resolve_synth(".", synth)).n_params
    start = parse_params(params, n)
    end = parse_params(sweep, n, what="--sweep") if sweep is not None else None
    (out,) = render_to_wav(synth, start, output, sweep_to=end, seconds=seconds, sr=_sr())
    console.print(f"wrote {out}")


def check_synth(
    patch: Path = typer.Argument(..., help="Your synth.pd (or the folder holding it)."),
    n_params: int = typer.Option(None, "--n-params", min=1, help="Parameter count, when there is no synth.yaml yet."),
) -> None:
    """Check that a synth patch follows the contract and makes sound.

    It must have one inlet taking a list of N floats in 0..1 and one outlet~, load in
    vanilla Pd without errors, and sound (finite, not silent) at the centre and corners of
    its range.
    """
    from rlimpro.checksynth import check_synth as check

    report = check(patch, n_params=n_params, sr=_sr())
    console.print(
        f"ok: {report.name}, {len(report.params)} params ({', '.join(report.params)}); "
        f"{len(report.points)} test points, peak {report.peaks.min():.1f} to {report.peaks.max():.1f} dBFS",
        highlight=False,
    )


def register(app: typer.Typer) -> None:
    """Add the synth commands to ``app``."""
    app.command("render-lookup")(render_lookup)
    app.command("render")(render)
    app.command("check-synth")(check_synth)
