"""``rlimpro check-synth``: validate a user's synth patch before building its lookup.

Checks, in order, each failure being one clear line: the file is a Pd patch named
``synth.pd``; its top level has exactly one control ``inlet`` and one ``outlet~`` (and no
other inlets/outlets); ``synth.yaml`` beside it loads (or ``n_params`` is given); Pd loads it
without "couldn't create" or other errors (missing abstractions included); rendering a few
points across its range gives finite audio that is not silent everywhere.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from rlimpro.descriptors.framing import SR
from rlimpro.errors import RlimproError
from rlimpro.render import render_points
from rlimpro.synth import Param, Synth, load_synth

__all__ = ["CheckReport", "check_synth", "count_ports", "probe_points"]

#: peak (linear) below which a rendering counts as silent (-100 dBFS)
SILENCE = 1e-5
_PORTS = ("inlet", "inlet~", "outlet", "outlet~")


@dataclass(frozen=True)
class CheckReport:
    """What check-synth found.

    :param name: the synth's name.
    :param params: parameter names, in list order.
    :param points: the parameter points rendered.
    :param peaks: peak level (dBFS) after settling, per point.
    """

    name: str
    params: tuple[str, ...]
    points: np.ndarray
    peaks: np.ndarray


def count_ports(text: str) -> dict[str, int]:
    """Count the top-level ``inlet``, ``inlet~``, ``outlet`` and ``outlet~`` objects of a patch."""
    counts = dict.fromkeys(_PORTS, 0)
    depth = 0
    for record in text.replace("\n", " ").split(";"):
        words = record.split()
        if words[:2] == ["#N", "canvas"]:
            depth += 1
        elif words[:2] == ["#X", "restore"]:
            depth -= 1
        elif depth == 1 and words[:2] == ["#X", "obj"] and len(words) >= 5 and words[4] in counts:
            counts[words[4]] += 1
    return counts


def probe_points(n_params: int) -> np.ndarray:
    """Points that probe a synth's range: the centre and every corner (N <= 4), else the
    centre, both all-0/all-1 corners and each parameter at 0 and 1 with the others at 0.5."""
    centre = np.full((1, n_params), 0.5)
    if n_params <= 4:
        corners = np.array(list(itertools.product([0.0, 1.0], repeat=n_params)))
        return np.concatenate([centre, corners])
    axes = []
    for i in range(n_params):
        for v in (0.0, 1.0):
            p = np.full(n_params, 0.5)
            p[i] = v
            axes.append(p)
    return np.concatenate([centre, np.zeros((1, n_params)), np.ones((1, n_params)), np.array(axes)])


def _spec(patch: Path, n_params: int | None) -> Synth:
    if (patch.parent / "synth.yaml").is_file():
        synth = load_synth(patch.parent)
        if n_params is not None and n_params != synth.n_params:
            raise RlimproError(
                f"synth.yaml lists {synth.n_params} params but --n-params says {n_params}; make them agree"
            )
        return synth
    if n_params is None:
        raise RlimproError(
            f"{patch.parent.name}/synth.yaml: not found; write it (name, description, params, render) "
            "or pass --n-params N"
        )
    params = tuple(Param(f"p{i}", "") for i in range(n_params))
    return Synth(patch.parent.name, patch.parent, "", params, settle_s=0.1, length_s=0.5)


def check_synth(patch: str | Path, *, n_params: int | None = None, sr: int = SR) -> CheckReport:
    """Validate a synth patch (see the module docstring for the checks).

    :param patch: path of the ``synth.pd`` (or of its folder).
    :param n_params: parameter count when there is no ``synth.yaml`` beside it.
    :param sr: sample rate to render at.
    :return: a report of the rendered test points.
    :raises RlimproError: one line saying what is wrong and what to do.
    """
    patch = Path(patch).absolute()
    if patch.is_dir():
        patch = patch / "synth.pd"
    if not patch.is_file():
        raise RlimproError(f"{patch}: not found; pass the path of your synth.pd")
    if patch.name != "synth.pd":
        raise RlimproError(f"{patch.name}: a synth must be called synth.pd (in a folder named after it); rename it")
    text = patch.read_text(errors="replace")
    if not text.startswith("#N canvas"):
        raise RlimproError(f"{patch.parent.name}/synth.pd: not a Pd patch (no '#N canvas' header); save it from Pd")
    ports = count_ports(text)
    if ports != {"inlet": 1, "inlet~": 0, "outlet": 0, "outlet~": 1}:
        raise RlimproError(
            f"{patch.parent.name}/synth.pd: has {ports['inlet']} inlet, {ports['inlet~']} inlet~, "
            f"{ports['outlet']} outlet and {ports['outlet~']} outlet~ objects; "
            "a synth needs exactly one inlet (the list of N params) and one outlet~"
        )
    synth = _spec(patch, n_params)
    points = probe_points(synth.n_params)
    audio = render_points(synth, points, sr=sr)
    settled = audio[:, int(synth.settle_s * sr):]
    finite = np.isfinite(settled).all(axis=1)
    if not finite.all():
        p = ",".join(f"{v:g}" for v in points[np.argmin(finite)])
        raise RlimproError(f"{synth.folder.name}/synth.pd: NaN or inf audio at params {p}; guard its maths")
    peaks = 20 * np.log10(np.maximum(np.abs(settled).max(axis=1), 1e-10))
    if peaks.max() < 20 * np.log10(SILENCE):
        raise RlimproError(
            f"{synth.folder.name}/synth.pd: silent at all {len(points)} test points; "
            "connect the sound to the outlet~ and check the list reaches your objects"
        )
    return CheckReport(synth.name, tuple(p.name for p in synth.params), points, peaks)
