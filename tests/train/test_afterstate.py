"""Afterstate value iteration: the Q-network's grid arithmetic and the backup, against numpy."""

from __future__ import annotations

import base64
import json
import zipfile
from pathlib import Path

import numpy as np
import pytest
import torch

from rlimpro.algos import ALGOS
from rlimpro.algos.avi.afterstate import AfterstateDQN, LineReplayBuffer, grid_spec
from rlimpro.env import prepare
from rlimpro.env.actions import deltas
from rlimpro.env.behaviour import goal
from rlimpro.env.core import Imitation
from rlimpro.errors import RlimproError
from rlimpro.train import train


def _model(toy_project: Path, params: dict, gamma: float, **env: object) -> tuple[AfterstateDQN, Imitation]:
    params["env"].update(neighbours="all", **env)
    setup = prepare(toy_project, "toy", params)
    core = setup.core(64, seed=1)
    model = AfterstateDQN("AfterstatePolicy", setup.vec_env(4, seed=0), seed=0, device="cpu", gamma=gamma,
                          learning_starts=0, policy_kwargs={"grid": grid_spec(core, gamma), "net_arch": [16]})
    model.attach(core.points, core.weights)
    for param in model.q_net.parameters():  # a non-trivial W
        param.data.normal_(0.0, 0.3)
    core.reset()
    return model, core


def _costs(core: Imitation, params: np.ndarray, last: np.ndarray | None) -> np.ndarray:
    """The env's move penalty ``[B, K]`` of every move from ``params`` (with ``last`` moves: the reversals too)."""
    return np.stack([core.move_penalty(params, np.clip(params + m * core.cfg.step, 0.0, 1.0), last)
                     for m in deltas(core.cfg.n_params).astype(np.float64)], axis=1)


def test_q_is_reward_plus_the_landing_rows_value(toy_project: Path, params: dict) -> None:
    model, core = _model(toy_project, params, 0.5, reward="cubic", bonus=0.5)
    rng = np.random.default_rng(5)
    for _ in range(3):  # some last moves to turn back against
        core.step(rng.integers(27, size=64))
    obs = torch.as_tensor(core.observation())
    q = model.q_net(obs).detach().numpy()
    assert core.cfg.move_cost > 0 and core.reversal_cost > 0 and core.lead and core.cfg.intent  # the defaults
    assert core.last.any()  # exercise every part
    every_row = model.q_net.q_net(model.q_net.net_input(obs)).detach().numpy()  # W(x) for all rows [B, rows]
    landing = core.next_rows[core.rows]  # [B, 3**N] rows reached by each action (env's own table)
    rewards = core.reward(core.candidates(core.params, core.target, core.moves))
    cost = _costs(core, core.params, core.last)
    expected = rewards - cost + 0.5 * np.take_along_axis(every_row, landing, axis=1)
    np.testing.assert_allclose(q, expected, rtol=1e-4, atol=1e-4)


def test_zero_gamma_plays_greedy(toy_project: Path, params: dict) -> None:
    model, core = _model(toy_project, params, 0.0)
    rewards = core.reward(core.candidates(core.params, core.target, core.moves)) - _costs(core, core.params, core.last)
    actions, _ = model.predict(core.observation(), deterministic=True)
    np.testing.assert_allclose(rewards[np.arange(64), actions], rewards.max(axis=1), rtol=1e-6)


@pytest.mark.parametrize("with_lines", [False, True])
def test_backup_matches_a_brute_force_numpy_backup(toy_project: Path, params: dict, with_lines: bool) -> None:
    model, core = _model(toy_project, params, 0.7)
    q, n_rows = model.q_net, core.table.n_rows
    obs = torch.as_tensor(core.observation())
    core.step(np.zeros(64, np.int64))
    nxt = torch.as_tensor(core.observation())
    f = len(core.cfg.features)
    assert core.cfg.move_cost > 0
    lines = np.random.default_rng(1).normal(scale=6.0, size=(64, f)) if with_lines else None  # some beyond the clip
    torch.manual_seed(3)
    loss = q.backup_loss(obs, nxt, model.q_net_target, n_rows,
                         None if lines is None else torch.as_tensor(lines, dtype=torch.float32)).item()
    torch.manual_seed(3)
    rows = torch.randint(n_rows, (n_rows,)).numpy()
    with torch.no_grad():
        w_now = q.q_net(q.net_input(obs)).numpy()
        w_next = model.q_net_target.q_net(q.net_input(nxt)).numpy()
    y_next = nxt[:, f:2 * f].numpy().astype(np.float64)
    d = core.distance(core.points[None], y_next[:, None])  # [B, rows]
    landing = core.reward(np.minimum(d, core.cfg.obs_clip)) + 0.7 * w_next
    cost = _costs(core, core.grid[rows], None)  # [rows, K]: the backup leaves reversals out
    goal = (landing[:, core.next_rows[rows]] - cost).max(-1)  # best move from each sampled row
    if with_lines:  # the reward's difference between the line and the heard target, over gamma
        heard = obs[:, f:2 * f].numpy().astype(np.float64)
        clip = core.cfg.obs_clip
        assert (np.abs(lines) > clip).any()
        line32 = np.clip(lines.astype(np.float32).astype(np.float64), -clip, clip)
        near = core.points[rows][None]
        d_line, d_heard = (np.minimum(core.distance(near, z[:, None]), clip) for z in (line32, heard))
        goal += (core.reward(d_line) - core.reward(d_heard)) / 0.7
    assert loss == pytest.approx(((w_now[:, rows] - goal) ** 2).mean(), rel=1e-4)


def test_the_replay_buffer_keeps_each_transitions_line(toy_project: Path, params: dict) -> None:
    """Trained with ``reward_target: line``, the buffer hands the backup the line of the very
    transitions it samples: the env's ``info["line"]``, here checked against the observations'
    own frames (the line of a frame the agent heard is the line at its corpus position)."""
    params["env"].update(neighbours="all", reward_target="line", target_mode="corpus")
    setup = prepare(toy_project, "toy", params)
    venv = setup.vec_env(4, seed=0)
    model = ALGOS["avi"].make_model(setup.core(4, seed=0), venv, {**params["train"], "seed": 0,
                                                                   "policy_kwargs": {"net_arch": [16]}}, toy_project)
    buffer = model.replay_buffer
    assert isinstance(buffer, LineReplayBuffer)
    obs, core = venv.reset(), venv.core
    f = len(core.cfg.features)
    positions = {}
    for _ in range(40):
        pos, intent = core.pos.copy(), core.intent.copy()  # of the frames obs heard
        nxt, reward, done, infos = venv.step(np.full(4, 13))
        buffer.add(obs, nxt, np.full((4, 1), 13), reward, done, infos)
        for i in range(4):
            positions[obs[i].tobytes()] = goal(core.lines[pos[i]], intent[i])
        obs = nxt
    samples, lines = buffer.sample(32)
    for o, l in zip(samples.observations.numpy(), lines.numpy()):
        np.testing.assert_allclose(l, positions[o.tobytes()], rtol=1e-6)
    assert lines.shape == (32, f)


def test_avi_survives_save_and_load_and_needs_grid_moves(toy_project: Path, params: dict, tmp_path: Path) -> None:
    model, core = _model(toy_project, params, 0.5)
    model.save(tmp_path / "m.zip")
    loaded = AfterstateDQN.load(tmp_path / "m.zip", device="cpu")
    obs = torch.as_tensor(core.observation())
    np.testing.assert_array_equal(loaded.q_net(obs).detach().numpy(), model.q_net(obs).detach().numpy())
    np.testing.assert_array_equal(loaded.q_net.points.numpy(), core.points.astype(np.float32))
    params["train"]["algo"] = "avi"
    params["env"]["interpolate"] = True
    with pytest.raises(RlimproError, match="avi needs env.neighbours: all"):
        train("toy", params, toy_project)  # refused before anything is written


def test_a_run_saved_before_the_model_moved_still_loads(toy_project: Path, params: dict, tmp_path: Path) -> None:
    """Runs saved when the model lived in ``rlimpro.afterstate`` pickled their policy class there."""
    model, core = _model(toy_project, params, 0.5)
    model.save(tmp_path / "m.zip")
    old = tmp_path / "old.zip"
    with zipfile.ZipFile(tmp_path / "m.zip") as src, zipfile.ZipFile(old, "w") as dst:
        for item in src.infolist():
            blob = src.read(item)
            if item.filename == "data":
                data = json.loads(blob)
                stale = b"\x80\x02crlimpro.afterstate\nAfterstatePolicy\nq\x00."  # a pickle of the old class path
                data["policy_class"][":serialized:"] = base64.b64encode(stale).decode()
                blob = json.dumps(data).encode()
            dst.writestr(item, blob)
    with pytest.raises(ModuleNotFoundError):
        AfterstateDQN.load(old, device="cpu")  # SB3 on its own cannot
    loaded = ALGOS["avi"].load(old, device="cpu")
    obs = torch.as_tensor(core.observation())
    np.testing.assert_array_equal(loaded.q_net(obs).detach().numpy(), model.q_net(obs).detach().numpy())
