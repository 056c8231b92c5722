"""Ad-hoc training runs for the benchmarks: params.yaml with a few settings changed, trained once
and reused while they were trained with the settings asked for (``fresh`` retrains)."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import yaml

from rlimpro.env.build import prepare
from rlimpro.env.config import EnvConfig
from rlimpro.layout import Layout
from rlimpro.params import load_params
from rlimpro.train import train

ROOT = Path(__file__).resolve().parents[1]


def apply_sets(params: dict[str, Any], synth: str, sets: list[str]) -> None:
    """Apply ``--set SECTION.KEY=VALUE`` settings to ``params`` as per-synth overrides of ``synth``
    (so that they win over params.yaml's own per-synth values); VALUE is YAML, KEY may be a dotted
    path into the section (``train.algos.avi.gamma=0.7``)."""
    for item in sets:
        key, value = item.split("=", 1)
        section, *path, name = key.split(".")
        node = params[section]["synths"].setdefault(synth, {})
        for part in path:
            node = node.setdefault(part, {})
        node[name] = yaml.safe_load(value)


def sets_label(sets: list[str]) -> str:
    """The part of a run's name that ``--set`` settings add: ``-KEYVALUE`` per setting."""
    return "".join(f"-{key.split('.')[-1]}{value}" for key, value in (s.split("=", 1) for s in sets))


def _as_json(value: Any) -> Any:
    return json.loads(json.dumps(value))


def trained_with(run: Path, synth: str, params: dict[str, Any]) -> bool:
    """Whether the run's ``config.json`` records the env, training settings and lookup table that
    ``params`` would train it with now."""
    stored = json.loads((run / "config.json").read_text())
    setup = prepare(ROOT, synth, params)
    return (_as_json(EnvConfig.from_dict(stored["env"]).to_dict()) == _as_json(setup.cfg.to_dict())
            and stored["train"] == _as_json(setup.sections["train"])
            and stored["table"]["sha256"] == setup.table.sha256)


def trained(synth: str, run_id: str, change: Callable[[dict[str, Any]], None], fresh: bool = False) -> Path:
    """The run folder ``00_synths/<synth>/runs/<run_id>`` trained with params.yaml as ``change`` edits it.

    A run with a model is reused if it was trained with those settings (params.yaml may have
    changed since); else, or with ``fresh``, it is trained again.

    :param change: edits the validated params in place (e.g. sets ``env.move_cost``).
    :param fresh: retrain even if the run has a model.
    :return: the run folder.
    """
    params = load_params(ROOT)
    change(params)
    run = Layout(ROOT).run(synth, run_id)
    if fresh or not (run / "model.zip").is_file() or not trained_with(run, synth, params):
        train(synth, params, ROOT, run_id=run_id)
    return run
