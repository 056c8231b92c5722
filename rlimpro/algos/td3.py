"""``td3``: SB3's TD3 on continuous moves; its network is the actor."""

from __future__ import annotations

from typing import Any

from rlimpro.algos.base import Algorithm, wrap


class _TD3(Algorithm):
    def network(self, model: Any) -> Any:
        return wrap("policy", model.policy, lambda p, obs: p.actor(obs))


ALGORITHM = _TD3("td3", ("continuous",), "TD3")
