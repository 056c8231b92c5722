"""Overlays of a map: where a corpus track and the agent's replay of it go through the sound space.

- the musician's path: each frame's nearest lookup point in the env's normalised features (the
  evaluation's oracle, :meth:`rlimpro.env.core.Imitation.nearest_point`);
- the agent's path: the parameters the exported policy decides frame by frame over the same
  track, exactly as ``rlimpro replay`` and the live server do (:func:`rlimpro.live.duet.play_policy`).

Both snap to the map's shown points (:meth:`rlimpro.pages.subgrid.SubGrid.snap`) and keep one
vertex per change of point.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from rlimpro.errors import RlimproError
from rlimpro.layout import Layout
from rlimpro.pages.subgrid import SubGrid

__all__ = ["Overlays", "overlays"]

#: frames per batch of nearest-point searches
_BATCH = 256

Overlays = tuple[dict[str, dict[str, list[int]]], list[str], list[str]]


def _vertices(points: np.ndarray) -> list[int]:
    """Shown-point indices with consecutive repeats dropped."""
    points = np.asarray(points, np.int64)
    if len(points) == 0:
        return []
    keep = np.concatenate([[True], points[1:] != points[:-1]])
    return points[keep].tolist()


def _musician(root: Path, synth: str, params: dict[str, Any],
              shown: SubGrid) -> tuple[dict[str, list[int]], list[str], dict[str, np.ndarray]]:
    from rlimpro.descriptors.names import indices
    from rlimpro.env.build import prepare

    setup = prepare(root, synth, params)
    core, idx = setup.core(), indices(setup.cfg.features)
    paths = {}
    for name, frames in setup.tracks.items():
        y = setup.norm.apply(frames[:, idx])
        rows = np.concatenate([core.nearest_point(y[i:i + _BATCH]) for i in range(0, len(y), _BATCH)])
        paths[name] = _vertices(shown.snap(setup.table.grid_params(rows)))
    return paths, list(setup.cfg.heldout_tracks), setup.tracks


def _agent(model: Path, tracks: dict[str, np.ndarray], shown: SubGrid) -> dict[str, list[int]]:
    from rlimpro.descriptors.names import indices
    from rlimpro.live.duet import play_policy
    from rlimpro.live.policy import Policy

    policy = Policy(model)
    if policy.info.n_params != shown.n_params:
        raise RlimproError(f"{model.name}: made for {policy.info.n_params} params, the table has {shown.n_params}; "
                           "export the policy again")
    idx = indices(list(policy.info.features))
    return {name: _vertices(shown.snap(play_policy(policy, frames[:, idx])[0])) for name, frames in tracks.items()}


def overlays(root: str | Path, synth: str, params: dict[str, Any], shown: SubGrid) -> Overlays:
    """Paths of every corpus track (musician and agent) through the shown points.

    :param root: project folder.
    :param synth: synth name.
    :param params: validated params.yaml (``env`` says the corpus, features and split).
    :param shown: the map's points.
    :return: ``({track: {"musician": [...], "agent": [...]}}, held-out track names, notes)``; a
        note says what is missing when an overlay cannot be drawn (no corpus features, no policy).
    """
    root = Path(root)
    notes: list[str] = []
    try:
        musician, heldout, tracks = _musician(root, synth, params, shown)
    except (RlimproError, ImportError) as exc:
        return {}, [], [f"no corpus paths: {exc}"]
    paths: dict[str, dict[str, list[int]]] = {name: {"musician": path} for name, path in musician.items()}
    model = Layout(root).policy(synth)
    if not model.is_file():
        notes.append(f"no agent path: {model.relative_to(root)} not found; run `rlimpro export` (or dvc repro) first")
        return paths, heldout, notes
    try:
        agent = _agent(model, tracks, shown)
    except (RlimproError, ImportError) as exc:
        notes.append(f"no agent path: {exc}")
        return paths, heldout, notes
    for name, path in agent.items():
        paths.setdefault(name, {})["agent"] = path
    return paths, heldout, notes
