"""Ad-hoc training runs for the benchmarks: params.yaml with a few settings changed, trained once
and reused while their model is newer than nothing else asks (``fresh`` retrains)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from rlimpro.layout import Layout
from rlimpro.params import load_params
from rlimpro.train import train

ROOT = Path(__file__).resolve().parents[1]


def trained(synth: str, run_id: str, change: Callable[[dict[str, Any]], None], fresh: bool = False) -> Path:
    """The run folder ``00_synths/<synth>/runs/<run_id>`` trained with params.yaml as ``change`` edits it.

    :param change: edits the validated params in place (e.g. sets ``env.move_cost``).
    :param fresh: retrain even if the run has a model.
    :return: the run folder.
    """
    params = load_params(ROOT)
    change(params)
    run = Layout(ROOT).run(synth, run_id)
    if fresh or not (run / "model.zip").is_file():
        train(synth, params, ROOT, run_id=run_id)
    return run
