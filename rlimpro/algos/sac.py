"""``sac``: SB3's SAC on continuous moves; its network is the actor's mean, squashed by tanh."""

from __future__ import annotations

from typing import Any

from rlimpro.algos.base import Algorithm, wrap


def _mean_action(policy: Any, obs: Any) -> Any:
    import torch

    actor = policy.actor
    return torch.tanh(actor.mu(actor.latent_pi(actor.extract_features(obs, actor.features_extractor))))


class _SAC(Algorithm):
    def network(self, model: Any) -> Any:
        return wrap("policy", model.policy, _mean_action)


ALGORITHM = _SAC("sac", ("continuous",), "SAC")
