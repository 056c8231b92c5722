"""A DQN policy whose Q-values start as the greedy one-step values read off the observation.

With ``neighbours: all`` the observation holds the distance ``d_a`` to the target after each
of the 3**N discrete moves, so the reward of every action is known before acting. The
Q-network adds a learned residual to that myopic prior::

    Q(s, a) = reward(d_a) / (1 - gamma) + MLP(s)[a]

The residual's last layer starts at zero, so the untrained agent plays like ``greedy`` and
DQN learns only what looking further ahead is worth. The prior is part of the network's
``forward`` (the ONNX export traces it like any other layer).
"""

from __future__ import annotations

from typing import Any

import torch as th
from stable_baselines3.dqn.policies import DQNPolicy, QNetwork
from torch import nn

__all__ = ["PriorDQNPolicy", "PriorQNetwork", "prior_spec"]


def prior_spec(cfg: Any, gamma: float) -> dict[str, Any]:
    """The prior's constants from an :class:`~rlimpro.env.config.EnvConfig` (stored with the model)."""
    start = 2 * len(cfg.features) + cfg.n_params
    return {"start": start, "n_actions": 3**cfg.n_params, "gamma": float(gamma), "reward": cfg.reward,
            "bonus": float(cfg.bonus), "bonus_threshold": float(cfg.bonus_threshold)}


class PriorQNetwork(QNetwork):
    """:class:`QNetwork` plus the myopic prior; ``prior`` as made by :func:`prior_spec`."""

    def __init__(self, *args: Any, prior: dict[str, Any], **kwargs: Any):
        super().__init__(*args, **kwargs)
        self.prior = dict(prior)
        last = self.q_net[-1]
        assert isinstance(last, nn.Linear)
        nn.init.zeros_(last.weight)
        nn.init.zeros_(last.bias)

    def forward(self, obs: th.Tensor) -> th.Tensor:
        p = self.prior
        d = obs[:, p["start"]:p["start"] + p["n_actions"]]
        r = -d if p["reward"] == "linear" else 8.0 * (0.5 - d) ** 3
        if p["bonus"]:
            r = r + p["bonus"] * (d <= p["bonus_threshold"]).to(r.dtype)
        return super().forward(obs) + r / (1.0 - p["gamma"])

    def _get_constructor_parameters(self) -> dict[str, Any]:
        return {**super()._get_constructor_parameters(), "prior": self.prior}


class PriorDQNPolicy(DQNPolicy):
    """:class:`DQNPolicy` building :class:`PriorQNetwork` s (pass ``prior`` in ``policy_kwargs``)."""

    def __init__(self, *args: Any, prior: dict[str, Any], **kwargs: Any):
        self.prior = dict(prior)
        super().__init__(*args, **kwargs)

    def make_q_net(self) -> PriorQNetwork:
        net_args = self._update_features_extractor(self.net_args, features_extractor=None)
        return PriorQNetwork(**net_args, prior=self.prior).to(self.device)

    def _get_constructor_parameters(self) -> dict[str, Any]:
        return {**super()._get_constructor_parameters(), "prior": self.prior}
