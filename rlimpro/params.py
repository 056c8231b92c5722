"""Load ``params.yaml``: every knob of every stage lives there (docs/architecture.md).

:func:`load_params` validates the whole file against :mod:`rlimpro.settings`, so every
command and stage reads complete, well-typed values.

>>> import shutil, tempfile
>>> root = Path(tempfile.mkdtemp())
>>> _ = (root / PARAMS_FILE).write_text("synths: [fm]\\nsynth: {fm: {subdiv: 8}}\\n")
>>> params = load_params(root)
>>> params["synth"], params["train"]["algo"], params["analysis"]   # what the file leaves out: the defaults
({'fm': {'subdiv': 8}}, 'avi', {'sr': 44100, 'window': 1024, 'hop': 512})
>>> _ = (root / PARAMS_FILE).write_text("env: {episode_stepz: 10}\\n")
>>> load_params(root)
Traceback (most recent call last):
rlimpro.errors.RlimproError: params.yaml: env.episode_stepz: unknown key (did you mean episode_steps?)
>>> shutil.rmtree(root)
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from rlimpro.errors import RlimproError
from rlimpro.settings import validate

PARAMS_FILE = "params.yaml"


def load_params(root: str | Path = ".") -> dict[str, Any]:
    """Read and validate ``<root>/params.yaml``.

    :param root: the project folder (the one holding params.yaml, 00_synths/, 01_corpus/).
    :return: every section and key (missing ones with the defaults of :mod:`rlimpro.settings`).
    :raises RlimproError: if the file is missing, not valid YAML, or has an unknown or
        mistyped key (one line naming it).
    """
    path = Path(root) / PARAMS_FILE
    if not path.is_file():
        raise RlimproError(f"{path}: not found; run rlimpro from the project folder (the one with params.yaml)")
    try:
        data = yaml.safe_load(path.read_text())
    except yaml.YAMLError as exc:
        raise RlimproError(f"{path.name}: not valid YAML ({exc.__class__.__name__}); fix the file") from exc
    if not isinstance(data, dict):
        raise RlimproError(f"{path.name}: expected a mapping of sections, got {type(data).__name__}")
    return validate(data, path.name)
