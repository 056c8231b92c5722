"""Ad-hoc training runs for the benchmarks: params.yaml with a few settings changed, trained once
and reused while their model is newer than nothing else asks (``fresh`` retrains)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import yaml

from rlimpro.layout import Layout
from rlimpro.params import load_params
from rlimpro.train import train

ROOT = Path(__file__).resolve().parents[1]


def apply_sets(params: dict[str, Any], synth: str, sets: list[str]) -> None:
    """Apply ``--set SECTION.KEY=VALUE`` settings to ``params`` as per-synth overrides of ``synth``
    (so that they win over params.yaml's own per-synth values); VALUE is YAML."""
    for item in sets:
        key, value = item.split("=", 1)
        section, name = key.split(".", 1)
        params[section]["synths"].setdefault(synth, {})[name] = yaml.safe_load(value)


def sets_label(sets: list[str]) -> str:
    """The part of a run's name that ``--set`` settings add: ``-KEYVALUE`` per setting."""
    return "".join(f"-{key.split('.')[-1]}{value}" for key, value in (s.split("=", 1) for s in sets))


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
