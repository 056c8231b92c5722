"""The algorithms, one module each (as stable-baselines3 keeps one folder per algorithm).

Each module defines ``ALGORITHM``, an :class:`~rlimpro.algos.base.Algorithm`: the action
spaces it supports, its model factory (training) and its export hook (the network that goes
into ``policy.onnx``). ``avi`` (:mod:`rlimpro.algos.avi`) is the default. To add one, see
docs/add-algorithm.md.

>>> sorted(ALGOS)
['a2c', 'avi', 'dqn', 'ppo', 'sac', 'td3']
>>> ALGOS["avi"].spaces
('discrete',)
"""

from __future__ import annotations

from rlimpro.algos import a2c, avi, dqn, ppo, sac, td3
from rlimpro.algos.base import Algorithm
from rlimpro.errors import RlimproError

__all__ = ["ALGOS", "Algorithm", "algorithm"]

#: name -> algorithm, in the order of params.yaml's ``train.algos``
ALGOS: dict[str, Algorithm] = {m.ALGORITHM.name: m.ALGORITHM for m in (avi, dqn, ppo, a2c, sac, td3)}


def algorithm(name: str, space: str | None = None) -> Algorithm:
    """The algorithm called ``name``; with ``space``, one that supports that action space.

    :raises RlimproError: naming what is supported, for an unknown name or space.
    """
    algo = ALGOS.get(name)
    if algo is None or (space is not None and space not in algo.spaces):
        allowed = ", ".join(f"{a.name}: {'/'.join(a.spaces)}" for a in ALGOS.values())
        what = f"train.algo {name!r}" + (f" with action_space {space!r}" if space is not None else "")
        raise RlimproError(f"params.yaml: {what} is not supported ({allowed})")
    return algo
