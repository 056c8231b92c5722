"""Load ``params.yaml``: every knob of every stage lives there (DESIGN.md §1).

:func:`load_params` validates the whole file against :mod:`rlimpro.settings`, so every
command and stage reads complete, well-typed values.
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
