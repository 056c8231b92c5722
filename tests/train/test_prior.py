"""The Q-prior policy: untrained, it plays exactly the greedy one-step move."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
from stable_baselines3 import DQN

from rlimpro.env import prepare
from rlimpro.env.actions import deltas
from rlimpro.env.prior import PriorDQNPolicy, prior_spec


def test_untrained_prior_agent_is_greedy(toy_project: Path, params: dict, tmp_path: Path) -> None:
    params["env"].update(neighbours="all", reward="cubic", bonus=0.5)
    setup = prepare(toy_project, "toy", params)
    venv = setup.vec_env(4, seed=0)
    model = DQN(PriorDQNPolicy, venv, seed=0, device="cpu", gamma=0.5,
                policy_kwargs={"prior": prior_spec(setup.cfg, 0.5), "net_arch": [32]})
    model.save(tmp_path / "m.zip")
    model = DQN.load(tmp_path / "m.zip", device="cpu")  # the prior survives save/load
    core = setup.core(64, seed=1)
    core.reset()
    moves = deltas(3).astype(np.float64)
    rewards = core.reward(core.candidates(core.params, core.target, moves))
    actions, _ = model.predict(core.observation(), deterministic=True)
    np.testing.assert_allclose(rewards[np.arange(64), actions], rewards.max(axis=1), rtol=1e-6)  # ties: any best
    q = model.q_net(torch.as_tensor(core.observation())).detach().numpy()
    np.testing.assert_allclose(q, rewards / 0.5, rtol=1e-4, atol=1e-4)
