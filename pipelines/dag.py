"""What dvc.yaml says about a stage, so Prefect caches on exactly what DVC tracks.

A stage id is ``<stage>@<item>`` (``render_lookup@fm``), as ``dvc repro`` names it. Its
cache key hashes the project folder, the params.yaml keys the stage lists and the bytes of
every dependency; its outputs (``outs``, ``metrics``, ``plots``) are hashed after a run so
a deleted or edited output is noticed, as DVC notices it.
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from rlimpro.errors import RlimproError
from rlimpro.params import load_params

__all__ = ["Stage", "load_stage", "stage_key", "digest", "output_digests", "stale_outputs"]

DVC_FILE = "dvc.yaml"
#: as in .dvcignore: byte-code is not a dependency
_IGNORED_DIRS = {"__pycache__"}
_IGNORED_SUFFIXES = {".pyc"}


@dataclass(frozen=True)
class Stage:
    """One resolved stage of dvc.yaml.

    :param id: ``<stage>@<item>``.
    :param deps: dependency paths relative to the project folder.
    :param params: params.yaml keys (dotted) the stage depends on.
    :param outs: output paths (outs, metrics and plots) relative to the project folder.
    """

    id: str
    deps: tuple[str, ...]
    params: tuple[str, ...]
    outs: tuple[str, ...]


def _paths(entries: list[Any] | None) -> list[str]:
    """Entry names of a dvc.yaml list whose items are ``path`` or ``{path: options}``."""
    return [next(iter(e)) if isinstance(e, dict) else str(e) for e in entries or []]


def load_stage(root: str | Path, stage_id: str) -> Stage:
    """Resolve ``<stage>@<item>`` from ``<root>/dvc.yaml`` (``foreach`` over a params.yaml list).

    ``${item}`` and ``${section.key}`` references are filled in from the item and params.yaml.

    :raises RlimproError: if dvc.yaml or the stage is missing, or a reference is undefined.
    """
    path = Path(root) / DVC_FILE
    if not path.is_file():
        raise RlimproError(f"{path}: not found; run the pipeline from the project folder")
    name, _, item = stage_id.partition("@")
    spec = (yaml.safe_load(path.read_text()).get("stages") or {}).get(name)
    if not isinstance(spec, dict) or "do" not in spec:
        raise RlimproError(f"dvc.yaml: no stage {name!r} with foreach; add it (see docs/pipeline.md)")
    params_yaml = load_params(root)

    def interpolate(match: re.Match[str]) -> str:  # ${item} and ${section.key}, as DVC does
        key = match.group(1)
        value = item if key == "item" else _lookup(params_yaml, key)
        if value is None or isinstance(value, dict | list):
            raise RlimproError(f"dvc.yaml: stage {name!r} uses ${{{key}}}, which params.yaml does not define as a value")
        return str(value)

    do = json.loads(re.sub(r"\$\{([^}]+)\}", interpolate, json.dumps(spec["do"])))
    params = []
    for entry in do.get("params") or []:
        if isinstance(entry, dict):  # {other.yaml: [keys]}: only params.yaml is used here
            params += [k for keys in entry.values() for k in keys]
        else:
            params.append(str(entry))
    outs = _paths(do.get("outs")) + _paths(do.get("metrics")) + _paths(do.get("plots"))
    return Stage(stage_id, tuple(_paths(do.get("deps"))), tuple(params), tuple(outs))


def _lookup(params: dict[str, Any], dotted: str) -> Any:
    value: Any = params
    for part in dotted.split("."):
        value = value.get(part) if isinstance(value, dict) else None
    return value


def digest(path: Path) -> str | None:
    """sha256 of a file, or of a folder's files with their relative names; ``None`` if absent."""
    if path.is_file():
        return hashlib.sha256(path.read_bytes()).hexdigest()
    if not path.is_dir():
        return None
    h = hashlib.sha256()
    for file in sorted(path.rglob("*")):
        rel = file.relative_to(path)
        if file.is_file() and not _IGNORED_DIRS.intersection(rel.parts) and file.suffix not in _IGNORED_SUFFIXES:
            h.update(str(rel).encode() + b"\0")
            h.update(hashlib.sha256(file.read_bytes()).digest())
    return h.hexdigest()


def stage_key(root: str | Path, stage_id: str) -> str:
    """Cache key of a stage: project folder, its params.yaml keys and its dependencies' bytes.

    :raises RlimproError: if a dependency is missing (its upstream stage has not run).
    """
    root = Path(root).resolve()
    stage = load_stage(root, stage_id)
    params = load_params(root)
    h = hashlib.sha256(json.dumps([str(root), stage.id], sort_keys=True).encode())
    h.update(json.dumps({k: _lookup(params, k) for k in stage.params}, sort_keys=True, default=str).encode())
    for dep in stage.deps:
        value = digest(root / dep)
        if value is None:
            raise RlimproError(f"{dep}: missing, needed by stage {stage_id}; run the stage that makes it first")
        h.update(dep.encode() + b"\0" + value.encode())
    return h.hexdigest()


def output_digests(root: str | Path, paths: list[str] | tuple[str, ...]) -> dict[str, str | None]:
    """``{path: digest}`` of outputs given relative to ``root`` (``None`` for a missing one)."""
    return {p: digest(Path(root) / p) for p in paths}


def stale_outputs(root: str | Path, recorded: dict[str, str | None]) -> list[str]:
    """The outputs that differ on disk from what a (possibly cached) run recorded."""
    return [p for p, d in recorded.items() if d is None or digest(Path(root) / p) != d]
