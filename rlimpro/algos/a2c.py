"""``a2c``: SB3's A2C on any action space; exported like PPO (the actor)."""

from __future__ import annotations

from rlimpro.algos.ppo import ActorCritic

ALGORITHM = ActorCritic("a2c", ("discrete", "multidiscrete", "continuous"), "A2C")
