"""Commands that train and evaluate agents: ``train`` and ``evaluate`` (DAG stages)."""

from __future__ import annotations

import json
from pathlib import Path

import typer

from rlimpro.cli._common import console


def train(
    synth: str = typer.Option(..., "--synth", "-s", help="Synth name: the folder 00_synths/NAME/."),
    run_id: str = typer.Option(
        None, "--run-id",
        help="Run folder name under 00_synths/NAME/runs/. Default: 'main' (the DAG's run) for the default "
             "profile, else a new '<timestamp>-<algo>'. Pass 'new' for a new timestamped run.",
    ),
    profile: str = typer.Option(None, "--profile", help="Research profile from params.yaml profiles: (e.g. full)."),
) -> None:
    """Train an agent on the synth's lookup table and the corpus, as params.yaml says.

    An interrupted run resumes from its last checkpoint when run again with the same settings.
    """
    from rlimpro.layout import MAIN_RUN
    from rlimpro.params import load_params
    from rlimpro.train import train as stage

    params = load_params()
    chosen = profile or params["train"]["profile"]
    rid = None if run_id == "new" or (run_id is None and chosen != "default") else (run_id or MAIN_RUN)
    paths = stage(synth, params, Path("."), run_id=rid, profile=profile)
    stats = json.loads(paths[3].read_text())
    console.print(f"trained {synth}: {stats['timesteps']} steps in {stats['wall_time_s']} s -> {paths[0].parent}")


def evaluate(
    run: Path = typer.Argument(None, help="A run folder (00_synths/NAME/runs/ID). Omit and give --synth for runs/main."),
    synth: str = typer.Option(None, "--synth", "-s", help="Evaluate 00_synths/NAME/runs/main."),
) -> None:
    """Evaluate a run on held-out corpus tracks against the baselines; write metrics and plots."""
    from rlimpro.errors import RlimproError
    from rlimpro.evaluate import evaluate as stage
    from rlimpro.evaluate import evaluate_run
    from rlimpro.params import load_params

    if run is None and synth is None:
        raise RlimproError("evaluate: give a run folder or --synth NAME")
    params = load_params()
    paths = evaluate_run(run, Path("."), params) if run is not None else stage(synth, params, Path("."))
    overall = json.loads(paths[0].read_text())["overall"]
    ratios = json.loads(paths[1].read_text())
    console.print("policy      nRMSE   x oracle")
    for name, value in overall.items():
        console.print(f"{name:<10} {value['nrmse']:7.3f}  {ratios[name]:7.2f}", highlight=False)
    console.print(f"wrote {paths[0].parent}")


def register(app: typer.Typer) -> None:
    """Add the training commands to ``app``."""
    app.command("train")(train)
    app.command("evaluate")(evaluate)
