"""Synth specs: ``00_synths/<name>/synth.pd`` + ``synth.yaml`` (docs/synths.md).

``synth.yaml``::

    name: fm
    description: two-operator FM
    params:
      - {name: pitch, description: carrier 55-1760 Hz, exponential}
      - ...
    render: {settle_s: 0.1, length_s: 0.5}
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from rlimpro.errors import RlimproError
from rlimpro.layout import SYNTHS_DIR, Layout

__all__ = ["Param", "Synth", "load_synth", "synth_dir", "resolve_synth", "parse_params"]

#: Pd processes DSP in blocks of this many samples; point lengths are whole blocks
BLOCK = 64


@dataclass(frozen=True)
class Param:
    """One synth parameter (its value is always in [0, 1])."""

    name: str
    description: str


@dataclass(frozen=True)
class Synth:
    """A loaded synth: its folder, parameters and render settings.

    :param name: the synth's name (its folder's name).
    :param folder: the folder holding ``synth.pd`` (passed to Pd with ``-path``).
    :param description: one line on what it is.
    :param params: the parameters, in the order of the control list.
    :param settle_s: seconds rendered before analysis starts (smoothing, attacks).
    :param length_s: seconds analysed after settling.
    """

    name: str
    folder: Path
    description: str
    params: tuple[Param, ...]
    settle_s: float
    length_s: float

    @property
    def n_params(self) -> int:
        """Number of parameters N (the length of the control list)."""
        return len(self.params)

    @property
    def patch(self) -> Path:
        """Path of ``synth.pd``."""
        return self.folder / "synth.pd"

    def point_samples(self, sr: int) -> int:
        """Samples rendered per point (settle + length), rounded up to whole Pd blocks."""
        return int(math.ceil((self.settle_s + self.length_s) * sr / BLOCK)) * BLOCK


def synth_dir(root: str | Path, name: str) -> Path:
    """``<root>/00_synths/<name>``, checked to hold a synth.

    :raises RlimproError: naming the missing folder or file.
    """
    folder = Layout(root).synth(name)
    if not (folder / "synth.pd").is_file():
        known = sorted(p.parent.name for p in Layout(root).synths.glob("*/synth.pd"))
        raise RlimproError(
            f"{SYNTHS_DIR}/{name}/synth.pd: not found; known synths: {', '.join(known) or 'none'}"
        )
    return folder


def resolve_synth(root: str | Path, name_or_path: str) -> Path:
    """Folder of a synth given by name (``00_synths/<name>``) or by a path (with a ``/``) to
    its folder or its ``synth.pd``.

    :raises RlimproError: if there is no synth.pd there.
    """
    if "/" not in name_or_path:
        return synth_dir(root, name_or_path)
    path = Path(name_or_path)
    folder = path.parent if path.name == "synth.pd" else path
    if not (folder / "synth.pd").is_file():
        raise RlimproError(f"{folder}/synth.pd: not found; pass a synth name or the folder holding synth.pd")
    return folder


def _fail(path: Path, problem: str) -> RlimproError:
    return RlimproError(f"{path.parent.name}/{path.name}: {problem}; see 00_synths/sine/synth.yaml for an example")


def load_synth(folder: str | Path) -> Synth:
    """Load and validate the ``synth.yaml`` of a synth folder.

    :param folder: a folder with ``synth.pd`` and ``synth.yaml``.
    :return: the synth spec.
    :raises RlimproError: naming the file and the bad or missing key.
    """
    folder = Path(folder)
    path = folder / "synth.yaml"
    if not path.is_file():
        raise _fail(path, "not found (every synth needs one beside synth.pd)")
    try:
        data: Any = yaml.safe_load(path.read_text())
    except yaml.YAMLError as exc:
        raise _fail(path, f"not valid YAML ({exc.__class__.__name__})") from exc
    if not isinstance(data, dict):
        raise _fail(path, "expected a mapping with keys name, description, params, render")
    missing = [k for k in ("name", "description", "params", "render") if k not in data]
    if missing:
        raise _fail(path, f"missing key(s) {', '.join(missing)}")
    raw_params = data["params"]
    if not isinstance(raw_params, list) or not raw_params:
        raise _fail(path, "'params' must be a non-empty list of {name, description}")
    params = []
    for i, item in enumerate(raw_params):
        if not isinstance(item, dict) or not isinstance(item.get("name"), str) or "description" not in item:
            raise _fail(path, f"params[{i}] must be a mapping with 'name' and 'description'")
        params.append(Param(item["name"], str(item["description"])))
    names = [p.name for p in params]
    if len(set(names)) != len(names):
        raise _fail(path, f"parameter names must be unique, got {names}")
    render = data["render"]
    if not isinstance(render, dict):
        raise _fail(path, "'render' must be a mapping {settle_s, length_s}")
    try:
        settle_s, length_s = float(render["settle_s"]), float(render["length_s"])
    except (KeyError, TypeError, ValueError) as exc:
        raise _fail(path, "'render' needs numbers settle_s and length_s (seconds)") from exc
    if not (0 <= settle_s <= 10 and 0.05 <= length_s <= 60):
        raise _fail(path, f"render settle_s must be 0..10 s and length_s 0.05..60 s, got {settle_s}, {length_s}")
    return Synth(
        name=str(data["name"]),
        folder=folder,
        description=str(data["description"]),
        params=tuple(params),
        settle_s=settle_s,
        length_s=length_s,
    )


def parse_params(text: str, n_params: int, *, what: str = "--params") -> list[float]:
    """Parse ``"0.2,0.5"`` into N floats in [0, 1].

    :param text: comma-separated values (one token on the command line).
    :param n_params: how many values the synth takes.
    :param what: the option name used in errors.
    :raises RlimproError: on a wrong count, a non-number or a value outside [0, 1].
    """
    try:
        values = [float(v) for v in text.split(",") if v.strip()]
    except ValueError as exc:
        raise RlimproError(f"{what} {text!r}: expected {n_params} comma-separated numbers, e.g. 0.2,0.5") from exc
    if len(values) != n_params:
        raise RlimproError(f"{what} {text!r}: expected {n_params} values (one per synth parameter), got {len(values)}")
    if not all(0.0 <= v <= 1.0 for v in values):
        raise RlimproError(f"{what} {text!r}: every value must be in [0, 1]")
    return values
