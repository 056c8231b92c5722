"""``dqn``: SB3's DQN on the discrete moves; its network is the Q-network."""

from __future__ import annotations

from typing import Any

from rlimpro.algos.base import Algorithm, wrap


class QLearning(Algorithm):
    """DQN and its subclasses (``avi``): the network is the policy's Q-network."""

    def network(self, model: Any) -> Any:
        return wrap("policy", model.policy, lambda p, obs: p.q_net(obs))


ALGORITHM = QLearning("dqn", ("discrete",), "DQN")
