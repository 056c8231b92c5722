"""The greedy-with-hysteresis baseline and its threshold tuning (rlimpro.evaluate)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from rlimpro.descriptors.names import indices
from rlimpro.env.behaviour import smooth_track
from rlimpro.env.build import prepare
from rlimpro.evaluate import THRESHOLDS, hysteresis_moves, tune_hysteresis


def _setup(root: Path, params: dict, **env: object):
    params["env"].update(env)
    setup = prepare(root, "toy", params)
    core = setup.core()
    idx = indices(setup.cfg.features)
    tracks = [smooth_track(setup.norm.apply(f[:, idx]), setup.cfg.target_smoothing)[0] for f in setup.frames(heldout=False)]
    return core, tracks


@pytest.mark.parametrize("shape", ["linear", "squared"])
def test_it_moves_only_when_the_gain_beats_the_threshold(toy_project: Path, params: dict, shape: str) -> None:
    """The gain is in the env's reward: the distance a move takes off, or the squared distance."""
    core, tracks = _setup(toy_project, params, reward=shape)
    p = np.repeat(core.grid[[0]], 4, axis=0)
    y = np.repeat(core.points[[-1]], 4, axis=0)  # the far corner: every first step gains
    d = core.candidates(p, y, core.moves) ** (1 if shape == "linear" else 2)
    stay = (len(core.moves) - 1) // 2
    gain = d[:, stay] - d.min(axis=1)
    moves = hysteresis_moves(core, p, y, np.array([0.0, gain[0] / 2, gain[0], 10.0]))
    assert np.abs(moves[:2]).sum(axis=1).min() > 0  # below the gain: the greedy step
    assert not np.abs(moves[2:]).any()  # at or above it: hold


def test_tuning_follows_the_move_cost(toy_project: Path, params: dict) -> None:
    """Free moves: the best threshold is (near) 0, greedy itself; dear moves: a higher one."""
    free, tracks = _setup(toy_project, params, move_cost=0.0, reversal_cost=0.0)
    best_free, returns = tune_hysteresis(free, tracks)
    assert returns.shape == (len(THRESHOLDS),) and np.isfinite(returns).all()
    dear, tracks = _setup(toy_project, params, move_cost=2.0)
    best_dear, _ = tune_hysteresis(dear, tracks)
    assert best_free == 0.0 < 0.02 < best_dear


def test_a_squared_gain_moves_sooner_when_far(toy_project: Path, params: dict) -> None:
    """Far from the target (distances above 1/2) a step takes off more squared distance than distance:
    at the linear gain as threshold the linear heuristic holds, the squared one moves."""
    core, _ = _setup(toy_project, params)
    p, y = core.grid[[0]], core.points[[-1]]
    d = core.candidates(p, y, core.moves)[0]
    stay = (len(core.moves) - 1) // 2
    assert d[stay] + d.min() > 1.0  # the premise
    theta = np.array([d[stay] - d.min()])
    assert not hysteresis_moves(core, p, y, theta, "linear").any()
    assert hysteresis_moves(core, p, y, theta, "squared").any()
