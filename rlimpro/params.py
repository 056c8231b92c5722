"""Load ``params.yaml``: every knob of every stage lives there (DESIGN.md §1)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from rlimpro.errors import RlimproError

PARAMS_FILE = "params.yaml"


def load_params(root: str | Path = ".") -> dict[str, Any]:
    """Read ``<root>/params.yaml``.

    :param root: the project folder (the one holding params.yaml, 00_synths/, 01_corpus/).
    :return: the parsed parameters.
    :raises RlimproError: if the file is missing or not valid YAML.
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
    return data


def section(params: dict[str, Any], name: str) -> dict[str, Any]:
    """Return ``params[name]`` or raise a clear error naming the missing section."""
    value = params.get(name)
    if not isinstance(value, dict):
        raise RlimproError(f"params.yaml: section {name!r} is missing; add it (see the shipped params.yaml)")
    return value
