"""``ppo``: SB3's PPO on any action space; its network is the actor (logits or the mean action)."""

from __future__ import annotations

from typing import Any

from rlimpro.algos.base import Algorithm, wrap


def actor(policy: Any, obs: Any) -> Any:
    """An actor-critic policy's deterministic output: the action net on the actor's latent."""
    features = policy.extract_features(obs)
    latent = policy.mlp_extractor.forward_actor(features if policy.share_features_extractor else features[0])
    return policy.action_net(latent)


class ActorCritic(Algorithm):
    """PPO and A2C: SB3 ``ActorCriticPolicy`` models."""

    def network(self, model: Any) -> Any:
        return wrap("policy", model.policy, actor)


ALGORITHM = ActorCritic("ppo", ("discrete", "multidiscrete", "continuous"), "PPO")
