"""Target smoothing, intent, move and reversal cost: one definition (rlimpro.env.behaviour), held equal in
the env (numpy), the afterstate Q-network (torch) and the exported graph (ONNX)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from gymnasium import spaces

from rlimpro.algos.avi.afterstate import AfterstateQNetwork, grid_spec
from rlimpro.descriptors.names import indices
from rlimpro.env.actions import deltas
from rlimpro.env.behaviour import (charged, goal, group_delay, last_moves, line, listen, moved_params,
                                   reversed_params, smooth, smooth_track)
from rlimpro.env.build import prepare
from rlimpro.env.core import draw_intents
from rlimpro.env.gym_env import observation_space
from rlimpro.errors import RlimproError
from rlimpro.settings import defaults


def _core(root: Path, params: dict, **env: object):
    params["env"].update(env)
    return prepare(root, "toy", params).core(num_envs=4, seed=3)


def test_smoothing_is_a_one_pole_rounded_to_float32() -> None:
    y = np.random.default_rng(0).normal(size=(50, 3))
    out, lead = smooth_track(y, 0.7)
    np.testing.assert_array_equal(lead, y)  # no gate: the agent's lead is the frame itself
    state = np.zeros(3)
    for t in range(50):
        state = (0.7 * state + 0.3 * y[t]).astype(np.float32).astype(np.float64)
        np.testing.assert_array_equal(out[t], state)
    assert out.dtype == np.float64 and np.array_equal(out, out.astype(np.float32))
    np.testing.assert_array_equal(smooth_track(y, 0.0)[0], y)  # off: the frames themselves
    # a step settles with the stated group delay: the mean lag of the impulse response
    impulse = smooth_track(np.r_[[1.0], np.zeros(400)][:, None], 0.6)[0][:, 0]
    assert np.isclose((np.arange(401) * impulse).sum() / impulse.sum(), group_delay(0.6), atol=1e-4)


def test_env_targets_are_the_smoothed_frames_times_the_intent(toy_project: Path, params: dict) -> None:
    core = _core(toy_project, params, target_smoothing=0.5, intent=True, target_mode="corpus")
    core.reset()
    assert (np.abs(core.intent) <= 1).all() and len(np.unique(core.intent)) == 4  # one intent per env
    state = smooth(np.zeros_like(core.frame), core.frame, 0.5)
    np.testing.assert_array_equal(core.target, goal(state, core.intent))
    stay = np.full(4, (3**3 - 1) // 2)
    for _ in range(20):
        obs, *_ = core.step(stay)
        state = smooth(state, core.frame, 0.5)
        np.testing.assert_array_equal(core.target, goal(state, core.intent))
        np.testing.assert_array_equal(obs[:, -1:], core.intent.astype(np.float32))  # the intent is observed
        assert observation_space(core).contains(obs[0])
    assert not np.array_equal(core.target, core.frame)


def test_the_line_is_the_evaluations_smoothed_target_of_the_frames_as_heard() -> None:
    y = np.random.default_rng(2).normal(size=(40, 3))
    plain = line(y, 0.6)
    np.testing.assert_allclose(plain[20], y[16:25].mean(axis=0))  # centred over 9 frames
    np.testing.assert_allclose(plain[0], y[:5].mean(axis=0))  # at the edge, the frames there are
    y[10:20, 1] = -7.0  # a pause under a gate at -2 z on column 1: its timbre is heard held, its loudness at the gate
    gated = line(y, 0.6, (1, -2.0))
    held = smooth_track(y[:10], 0.6)[0][9]
    for t in (14, 15):  # windows inside the pause
        assert gated[t, 1] == pytest.approx(-2.0)
        np.testing.assert_allclose(gated[t, [0, 2]], held[[0, 2]])
    np.testing.assert_allclose(gated[30:], line(y, 0.6)[30:])  # after the pause, as without a gate


@pytest.mark.parametrize("reward_target", ["heard", "line"])
def test_the_reward_follows_the_heard_target_or_the_musicians_line(toy_project: Path, params: dict,
                                                                    reward_target: str) -> None:
    """A step's reward and its ``info["line"]`` use the heard target (``heard``) or the intent times
    the centred line of the corpus track at the frame the agent heard (``line``)."""
    params["env"].update(target_smoothing=0.6, target_mode="corpus", reward_target=reward_target, random_start=True)
    setup = prepare(toy_project, "toy", params)
    venv = setup.vec_env(4, seed=0)
    core = venv.core
    venv.reset()
    stay = np.full(4, (3**3 - 1) // 2)
    if reward_target == "line":  # the line of each training track, end to end like the frames
        idx = indices(setup.cfg.features)
        tracks = [core.norm.apply(t[:, idx]) for t in setup.frames(False)]
        np.testing.assert_array_equal(core.lines, np.concatenate([line(t, 0.6) for t in tracks]))
    for _ in range(12):
        target, pos, intent, rows = core.target.copy(), core.pos.copy(), core.intent.copy(), core.rows.copy()
        _, reward, _, infos = venv.step(stay)
        lines = np.stack([info["line"] for info in infos])
        if reward_target == "heard":
            np.testing.assert_array_equal(lines, target)
        else:
            np.testing.assert_array_equal(lines, goal(core.lines[pos], intent))
            assert not np.allclose(lines, target)
        np.testing.assert_allclose(reward, core.reward(core.distance(core.points[rows], lines)), rtol=1e-6)  # stayed


def test_a_pause_below_the_silence_gate_is_heard_quiet_and_without_timbre() -> None:
    """Below the gate loudness is heard at the gate, and the other features' smoothing state holds
    with the held state as their lead; above it, as without a gate."""
    y = np.random.default_rng(4).normal(size=(60, 3))
    y[:, 1] = np.abs(y[:, 1])  # loudness is column 1; the gate at -2 z
    y[20:35, 1] = -7.0
    gate = (1, -2.0)
    out, lead = smooth_track(y, 0.6, gate)
    plain, _ = smooth_track(y[:20], 0.6)
    np.testing.assert_array_equal(out[:20], plain)
    timbre = [0, 2]
    np.testing.assert_array_equal(out[20:35, timbre], np.repeat(out[19:20, timbre], 15, axis=0))  # held
    np.testing.assert_array_equal(lead[20:35, timbre], out[20:35, timbre])
    np.testing.assert_array_equal(lead[20:35, 1], -2.0)  # the pause's loudness: the gate's
    np.testing.assert_array_equal(out[20:35, 1], smooth_track(np.r_[y[:20, 1], [-2.0] * 15][:, None], 0.6)[0][20:, 0])
    np.testing.assert_array_equal(lead[35:], y[35:])
    state, heard = listen(out[34], y[35], 0.6, gate)
    np.testing.assert_array_equal(state, out[35])


def test_the_env_hears_pauses_quiet_and_without_timbre(toy_project: Path, params: dict) -> None:
    core = _core(toy_project, params, target_smoothing=0.5, target_mode="corpus", silence_gate=-1e9)
    quiet = _core(toy_project, defaults(), target_smoothing=0.5, target_mode="corpus", silence_gate=1e9)
    k, z = quiet.gate
    assert (core.frame[:, k] >= core.gate[1]).all() and (quiet.frame[:, k] < z).all()
    quiet.reset()
    stay = np.full(4, (3**3 - 1) // 2)
    for _ in range(5):
        quiet.step(stay)
        timbre = np.arange(quiet.state.shape[1]) != k
        assert not quiet.state[:, timbre].any() and not quiet.heard[:, timbre].any()  # the zero state, held
        np.testing.assert_array_equal(quiet.heard[:, k], goal(np.full((4, 1), z), quiet.intent)[:, 0])  # loud as the gate


@pytest.mark.parametrize(("per", "charges"), [("parameter", 2), ("move", 1)])
def test_move_cost_is_paid_per_moved_parameter_or_per_move(toy_project: Path, params: dict, per: str,
                                                           charges: int) -> None:
    cheap = _core(toy_project, params, move_cost=0.0, target_mode="static")
    dear = _core(toy_project, defaults(), move_cost=0.25, move_cost_per=per, target_mode="static")
    for core in (cheap, dear):
        core.reset()
        core.rows[:] = core.table.nearest_rows(np.array([[0.0, 0.4, 1.0]]))  # two params at a bound
    up_all = np.full(4, 3**3 - 1)  # +1 on every param: p0 and p1 move, p2 is pinned at 1
    _, r_cheap, _, _ = cheap.step(up_all)
    _, r_dear, _, _ = dear.step(up_all)
    assert 0 < dear.move_unit == cheap.move_unit and dear.move_cost == 0.25 * dear.move_unit
    np.testing.assert_allclose(r_cheap - r_dear, charges * dear.move_cost)


@pytest.mark.parametrize(("per", "reach"), [("parameter", 1), ("move", 1), ("parameter", 2), ("move", 2)])
def test_moved_count_is_the_same_in_numpy_and_torch(toy_project: Path, params: dict, per: str, reach: int) -> None:
    core = _core(toy_project, params, move_cost=0.1, move_cost_per=per, reach=reach)
    k = (2 * reach + 1) ** 3
    net = AfterstateQNetwork(observation_space(core), spaces.Discrete(k), torch.nn.Identity(),
                             core.obs_dim, grid=grid_spec(core, 0.5))
    rng = np.random.default_rng(1)
    p = np.where(rng.random((64, 3)) < 0.3, rng.integers(0, 2, (64, 3)), rng.random((64, 3))).astype(np.float32)
    expected = charged(moved_params(p, deltas(3, reach)), per)
    got = net.moved(torch.as_tensor(p) < 1.0, torch.as_tensor(p) > 0.0).numpy()
    np.testing.assert_array_equal(got, expected)
    assert got.shape == (64, k) and got.max() == (1 if per == "move" else 3)


def test_reversal_cost_is_paid_per_parameter_turning_back(toy_project: Path, params: dict) -> None:
    """Up, hold, down: the down step turns p0 and p1 back (p2 was pinned on the way up: its first
    move is no reversal), so it pays two reversals;
    the observation carries each parameter's last move sign, zeroed by a reset."""
    plain = _core(toy_project, params, move_cost=0.0, reversal_cost=0.0, target_mode="static")
    turning = _core(toy_project, defaults(), move_cost=0.0, reversal_cost=0.5, target_mode="static")
    up, stay, down = np.full(4, 3**3 - 1), np.full(4, (3**3 - 1) // 2), np.zeros(4, np.int64)
    n, f = 3, len(turning.cfg.features)
    for core in (plain, turning):
        core.reset()
        core.rows[:] = core.table.nearest_rows(np.array([[0.4, 0.4, 1.0]]))
    rewards = []
    for action in (up, stay, down):
        _, r_plain, _, _ = plain.step(action)
        obs, r_turning, _, _ = turning.step(action)
        rewards.append(r_plain - r_turning)
    np.testing.assert_allclose(rewards, [[0.0] * 4, [0.0] * 4, [2 * turning.reversal_cost] * 4])
    assert turning.reversal_cost == 0.5 * turning.move_unit > 0
    last = obs[:, obs.shape[1] - f - 1 - n:obs.shape[1] - f - 1]  # before the lead and the intent
    np.testing.assert_array_equal(last, [[-1.0, -1.0, -1.0]] * 4)  # p2 moved first on the way down
    assert plain.obs_dim + n == turning.obs_dim and observation_space(turning).contains(obs[0])
    turning.reset()
    assert not turning.last.any()


@pytest.mark.parametrize("per", ["parameter", "move"])
def test_reversal_count_is_the_same_in_numpy_and_torch(toy_project: Path, params: dict, per: str) -> None:
    core = _core(toy_project, params, move_cost=0.1, move_cost_per=per, reversal_cost=0.3)
    net = AfterstateQNetwork(observation_space(core), spaces.Discrete(27), torch.nn.Identity(),
                             core.obs_dim, grid=grid_spec(core, 0.5))
    rng = np.random.default_rng(2)
    p = np.where(rng.random((64, 3)) < 0.3, rng.integers(0, 2, (64, 3)), rng.random((64, 3)))
    last = rng.integers(-1, 2, (64, 3)).astype(np.float64)
    moves = deltas(3, 1)
    expected = reversed_params(p, moves, last)
    got = net.reversed(torch.as_tensor(p) < 1.0, torch.as_tensor(p) > 0.0, torch.as_tensor(last)).numpy()
    np.testing.assert_array_equal(got, expected)
    assert got.max() == 3
    # the env's penalty of every move, from the same place and memory, is the network's cost
    cost = net.cost(torch.as_tensor(p, dtype=torch.float32), torch.as_tensor(last, dtype=torch.float32)).numpy()
    for k, m in enumerate(moves):
        after = np.clip(p + m * core.cfg.step, 0.0, 1.0)
        np.testing.assert_allclose(cost[:, k], core.move_penalty(p, after, last), rtol=1e-6)
        np.testing.assert_array_equal(last_moves(last, p, after), np.where(after != p, np.sign(after - p), last))


@pytest.mark.parametrize(("key", "value", "match"), [
    ("target_smoothing", 1.0, "target_smoothing = 1.0; use a pole in"),
    ("target_smoothing", -0.1, "target_smoothing = -0.1"),
    ("move_cost", -1.0, "move_cost = -1.0; use a cost >= 0"),
    ("reversal_cost", -0.5, "reversal_cost = -0.5; use a cost >= 0"),
])
def test_bad_settings_are_refused(toy_project: Path, params: dict, key: str, value: float, match: str) -> None:
    with pytest.raises(RlimproError, match=match):
        _core(toy_project, params, **{key: value})


@pytest.mark.parametrize("env", [{"target_smoothing": 0.0}, {"features": ["centroid", "flatness"]}],
                         ids=["no-smoothing", "no-loudness"])
def test_a_silence_gate_needs_loudness_and_smoothing(toy_project: Path, params: dict, env: dict) -> None:
    with pytest.raises(RlimproError, match="silence_gate = -60.0 needs loudness among env.features and"):
        _core(toy_project, params, silence_gate=-60.0, **env)


def test_intents_are_drawn_uniformly_or_denser_towards_the_ends() -> None:
    """``env.intent_ends`` = 0 draws as numpy's uniform (so older runs reproduce); 1 the arcsine law."""
    uniform = draw_intents(np.random.default_rng(0), (-1.0, 1.0), 0.0, 20_000)
    np.testing.assert_array_equal(uniform, np.random.default_rng(0).uniform(-1.0, 1.0, 20_000).astype(np.float32))
    arcsine = draw_intents(np.random.default_rng(0), (-1.0, 1.0), 1.0, 20_000)
    assert arcsine.dtype == np.float32 and -1.0 <= arcsine.min() and arcsine.max() <= 1.0
    near_ends = np.mean(np.abs(arcsine) > 0.9)  # 1 - 2 asin(0.9) / pi = 0.287; uniformly 0.1
    assert 0.27 < near_ends < 0.31 and abs(np.mean(np.abs(uniform) > 0.9) - 0.1) < 0.01
    half = draw_intents(np.random.default_rng(0), (-1.0, 1.0), 0.5, 20_000)
    assert 0.18 < np.mean(np.abs(half) > 0.9) < 0.21  # half of each
    assert (draw_intents(np.random.default_rng(1), (0.5, 0.5), 0.5, 5) == 0.5).all()
