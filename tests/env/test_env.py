"""The env: checkers, reward, targets, the batched VecEnv."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from gymnasium.utils.env_checker import check_env as gym_check_env
from stable_baselines3.common.env_checker import check_env as sb3_check_env

from rlimpro.env import prepare
from rlimpro.env.actions import deltas, toward


@pytest.mark.parametrize("space,neighbours,seek", [("discrete", "all", False), ("multidiscrete", "axis", True),
                                                   ("continuous", "none", True)])
def test_checkers_pass(toy_project: Path, params: dict, space: str, neighbours: str, seek: bool) -> None:
    params["train"]["action_space"] = space
    params["env"].update(neighbours=neighbours, seek=seek, episode_steps=20)
    setup = prepare(toy_project, "toy", params)
    env = setup.env(seed=0)
    gym_check_env(env, skip_render_check=True)
    sb3_check_env(setup.env(seed=0), warn=True)
    obs, _ = env.reset(seed=1)
    assert obs.shape == (setup.core().obs_dim,) and env.observation_space.contains(obs)


def test_reward_is_largest_when_agent_equals_target(toy_project: Path, params: dict) -> None:
    for shape in ("linear", "squared", "cubic"):
        params["env"].update(reward=shape, bonus=1.0, random_start=False, reward_target="heard")
        core = prepare(toy_project, "toy", params).core(1, seed=0)
        core.reset()
        core.target[:] = core.features(core.params)  # agent == target
        moves = deltas(3)
        rewards = []
        for move in moves:
            saved_params, saved_target = core.params.copy(), core.target.copy()
            _, r, _, d = core.step(toward(move[None], "discrete"))
            rewards.append(r[0])
            core.params, core.target, core.mode[:] = saved_params, saved_target, 0  # static target
        stay = (len(moves) - 1) // 2
        assert rewards[stay] == max(rewards) and rewards[stay] > min(rewards)
        assert core.reward(np.array([0.0]))[0] == max(core.reward(np.linspace(0, 3, 31)))


def test_vec_env_auto_reset_and_seeding(toy_project: Path, params: dict) -> None:
    params["env"]["episode_steps"] = 5
    setup = prepare(toy_project, "toy", params)
    runs = []
    for _ in range(2):
        venv = setup.vec_env(16)
        venv.seed(7)
        obs = [venv.reset()]
        actions = np.random.default_rng(0).integers(27, size=(6, 16))
        for t, a in enumerate(actions):
            o, r, done, infos = venv.step(a)
            obs.append(o)
            assert o.shape == (16, setup.core().obs_dim) and r.dtype == np.float32
            assert done.all() == (t == 4) and not (done.any() and t != 4)
            if t == 4:
                assert all("terminal_observation" in i and i["TimeLimit.truncated"] for i in infos)
                assert np.isfinite(infos[0]["distance"])
        runs.append(np.stack(obs))
    np.testing.assert_array_equal(runs[0], runs[1])
    assert all(venv.observation_space.contains(o) for o in runs[0][-1])


def test_neighbour_distances_match_stepping(toy_project: Path, params: dict) -> None:
    """Observed distance of move k = distance after actually taking action k (static target)."""
    params["env"].update(target_mode="static", random_start=True, target_smoothing=0.0)  # a target that stays put
    setup = prepare(toy_project, "toy", params)
    core = setup.core(1, seed=3)
    core.reset()
    obs = core.observation()[0]
    f = len(setup.cfg.features)
    observed = obs[2 * f + 3:]
    for a in (0, 13, 26, 5):
        params_before = core.params.copy()
        _, _, _, d = core.step(np.array([a]))
        assert d[0] == pytest.approx(min(observed[a], setup.cfg.obs_clip), rel=1e-5)
        core.params = params_before


def test_heldout_tracks_never_feed_training(toy_project: Path, params: dict) -> None:
    setup = prepare(toy_project, "toy", params)
    assert setup.cfg.heldout_tracks and not set(setup.cfg.heldout_tracks) & set(setup.cfg.train_tracks)
    assert len(setup.core().frames) == sum(len(setup.tracks[t]) for t in setup.cfg.train_tracks)


def test_single_track_corpus_is_split_in_time(tmp_path: Path, params: dict) -> None:
    from rlimpro.env.synthetic import write_synthetic_project

    write_synthetic_project(tmp_path, synth="toy", n_params=2, subdiv=5, n_tracks=1, frames=100)
    setup = prepare(tmp_path, "toy", params)
    assert setup.cfg.train_tracks == setup.cfg.heldout_tracks == ["track0"]
    assert [len(f) for f in setup.frames(False)] == [75] and [len(f) for f in setup.frames(True)] == [25]


@pytest.mark.parametrize("space,neighbours", [("discrete", "all"), ("multidiscrete", "axis")])
def test_grid_fast_path_equals_pure_observe(toy_project: Path, params: dict, space: str, neighbours: str) -> None:
    """The row-state fast path gives exactly what the pure functions (mirrored by export) give."""
    params["train"]["action_space"] = space
    params["env"].update(neighbours=neighbours, seek=True)
    core = prepare(toy_project, "toy", params).core(8, seed=2)
    assert core.on_grid
    core.reset()
    rng = np.random.default_rng(1)
    for _ in range(20):
        before = core.params.copy()
        actions = rng.integers(27, size=8) if space == "discrete" else rng.integers(3, size=(8, 3))
        core.step(actions)
        np.testing.assert_allclose(core.params, core.act(actions, before))
        np.testing.assert_array_equal(core.observation(),
                                      core.observe(core.params, core.target, core.intent, core.heard, core.last))
