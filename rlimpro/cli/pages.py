"""Page commands: ``map`` (a synth's sound map) and ``report`` (a run's page); DAG stages without ``-o``."""

from __future__ import annotations

from pathlib import Path

import typer

from rlimpro.cli._common import console


def sound_map(
    synth: str = typer.Option(..., "--synth", "-s", help="Synth name: 00_synths/NAME/ with its lookup.parquet."),
    output: Path = typer.Option(None, "-o", "--output",
                                help="The HTML page to write (its clips go beside it in <name>_files/). "
                                     "Default: the DAG's 00_synths/NAME/map/index.html."),
) -> None:
    """Write a synth's sound map: its lookup table in 2-D (PCA, t-SNE, UMAP); a click plays the point.

    Overlays show where each corpus track and the agent's replay of it go. Clips and projections
    are kept while it runs: after an interruption, run it again to resume.
    """
    from rlimpro.pages.soundmap import build_map, map_stage
    from rlimpro.params import load_params

    params = load_params()
    paths = map_stage(synth, params, Path(".")) if output is None else build_map(synth, output, params=params)
    console.print(f"wrote {paths[0]} (clips in {paths[1]}/)", highlight=False, soft_wrap=True)


def report(
    synth: str = typer.Option(..., "--synth", "-s", help="Synth name: the folder 00_synths/NAME/."),
    output: Path = typer.Option(None, "-o", "--output", help="The HTML page to write. Default: the DAG's "
                                                             "00_synths/NAME/eval/report.html."),
    run: Path = typer.Option(None, "--run", help="A run folder (default 00_synths/NAME/runs/main)."),
    take: Path = typer.Option(None, "--take", help="The musician's recording for the duet (default: the run's first "
                                                   "held-out track)."),
) -> None:
    """Write a run's report: training curves, evaluation against the baselines, and the duet to hear."""
    from rlimpro.errors import RlimproError
    from rlimpro.pages.report import build_report, report_stage
    from rlimpro.params import load_params

    params = load_params()
    if output is None and (run is not None or take is not None):
        raise RlimproError("--run and --take make an ad-hoc report: give it a file with -o report.html")
    paths = (report_stage(synth, params, Path(".")) if output is None
             else build_report(synth, output, params=params, run=run, take=take))
    console.print(f"wrote {paths[0]}", highlight=False, soft_wrap=True)


def register(app: typer.Typer) -> None:
    """Add the page commands to ``app``."""
    app.command("map")(sound_map)
    app.command("report")(report)
