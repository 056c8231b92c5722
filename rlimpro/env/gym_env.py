"""The imitation env as one ``gymnasium.Env`` and as an SB3 ``VecEnv`` of B envs.

Both are thin shells around :class:`rlimpro.env.core.Imitation` (the numpy maths), so the
single env and every sub-env of the batched one behave identically.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import gymnasium as gym
import numpy as np
from gymnasium import spaces
from stable_baselines3.common.vec_env.base_vec_env import VecEnv, VecEnvIndices, VecEnvStepReturn

from rlimpro.env.actions import make_space
from rlimpro.env.core import Imitation

__all__ = ["ImitationEnv", "ImitationVecEnv", "observation_space"]


def observation_space(core: Imitation) -> spaces.Box:
    """Bounds of :meth:`Imitation.observe`: clipped features and distances, params in [0, 1], last
    move signs and intent in [-1, 1]."""
    cfg, f, n, k = core.cfg, len(core.cfg.features), core.cfg.n_params, len(core.moves)
    c, s, i, h = cfg.obs_clip, n if cfg.seek else 0, 1 if cfg.intent else 0, f if core.lead else 0
    r = n if core.reverse else 0
    low = np.concatenate([np.full(2 * f, -c), np.zeros(n), np.zeros(k), np.full(s, -c), np.full(r, -1.0), np.full(h, -c),
                          np.full(i, -1.0)])
    high = np.concatenate([np.full(2 * f, c), np.ones(n), np.full(k, c), np.full(s, c), np.ones(r), np.full(h, c), np.ones(i)])
    low, high = low.astype(np.float32), high.astype(np.float32)
    return spaces.Box(low, high, dtype=np.float32)


class ImitationEnv(gym.Env):
    """One imitation env (a batch of one).

    :param core: an :class:`Imitation` with ``num_envs == 1``.
    """

    metadata = {"render_modes": []}

    def __init__(self, core: Imitation):
        assert core.num_envs == 1, "ImitationEnv wraps a batch of one"
        self.core = core
        self.observation_space = observation_space(core)
        self.action_space = make_space(core.cfg.action_space, core.cfg.n_params, core.cfg.reach)

    def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None) -> tuple[np.ndarray, dict]:
        super().reset(seed=seed)
        if seed is not None:
            self.core.seed(seed)
        self.core.reset()
        return self.core.observation()[0], {}

    def step(self, action: Any) -> tuple[np.ndarray, float, bool, bool, dict]:
        obs, reward, truncated, d = self.core.step(np.asarray(action)[None])
        return obs[0], float(reward[0]), False, bool(truncated[0]), {"distance": float(d[0]), "line": self.core.scored[0]}


class ImitationVecEnv(VecEnv):
    """B imitation envs stepped as numpy arrays, with SB3's auto-reset semantics.

    :param core: an :class:`Imitation` with ``num_envs`` = B.
    """

    def __init__(self, core: Imitation):
        self.core = core
        self.render_mode = None
        self._actions: np.ndarray | None = None
        cfg = core.cfg
        super().__init__(core.num_envs, observation_space(core), make_space(cfg.action_space, cfg.n_params, cfg.reach))

    def reset(self) -> np.ndarray:
        if self._seeds[0] is not None:
            self.core.seed(self._seeds[0])
        self._reset_seeds()
        self._reset_options()
        self.core.reset()
        return self.core.observation()

    def step_async(self, actions: np.ndarray) -> None:
        self._actions = np.asarray(actions)

    def step_wait(self) -> VecEnvStepReturn:
        obs, reward, truncated, d = self.core.step(self._actions)
        infos: list[dict[str, Any]] = [{"distance": float(x), "line": line} for x, line in zip(d, self.core.scored)]
        if truncated.any():
            for i in np.flatnonzero(truncated):
                infos[i]["terminal_observation"] = obs[i]
                infos[i]["TimeLimit.truncated"] = True
            self.core.reset(truncated)
            obs = self.core.observation()
        return obs, reward.astype(np.float32), truncated.copy(), infos

    def close(self) -> None:
        return None

    def _indices(self, indices: VecEnvIndices) -> Sequence[int]:
        if indices is None:
            return range(self.num_envs)
        return [indices] if isinstance(indices, int) else list(indices)

    def get_attr(self, attr_name: str, indices: VecEnvIndices = None) -> list[Any]:
        value = getattr(self, attr_name)
        return [value for _ in self._indices(indices)]

    def set_attr(self, attr_name: str, value: Any, indices: VecEnvIndices = None) -> None:
        setattr(self, attr_name, value)

    def env_method(self, method_name: str, *method_args: Any, indices: VecEnvIndices = None, **method_kwargs: Any) -> list[Any]:
        method = getattr(self, method_name)
        return [method(*method_args, **method_kwargs) for _ in self._indices(indices)]

    def env_is_wrapped(self, wrapper_class: type[gym.Wrapper], indices: VecEnvIndices = None) -> list[bool]:
        return [False for _ in self._indices(indices)]
