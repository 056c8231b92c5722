"""Action spaces and the pure-numpy action decoder (action -> new params).

Three spaces, one meaning: each parameter moves by at most ``step`` per env step.

- ``discrete``: ``Discrete(3**N)``; action ``a`` has base-3 digits ``d_i`` (p0 most
  significant) and moves parameter i by ``(d_i - 1) * step``; ``(3**N - 1) // 2`` holds still.
- ``multidiscrete``: ``MultiDiscrete([3] * N)``; the digits themselves.
- ``continuous``: ``Box(-1, 1, (N,))``; parameter i moves by ``clip(a_i, -1, 1) * step``.

New params are always clipped to [0, 1]. The ONNX exporter mirrors :func:`decode`.
"""

from __future__ import annotations

import numpy as np
from gymnasium import spaces

from rlimpro.settings import ACTION_SPACES

__all__ = ["SPACES", "deltas", "decode", "make_space", "stay_action", "toward", "unit_moves"]

#: the action spaces (named once, in the params.yaml schema)
SPACES = ACTION_SPACES


def deltas(n_params: int) -> np.ndarray:
    """All ``3**N`` unit moves, ``int64 [3**N, N]`` in {-1, 0, 1}, row ``a`` = discrete action ``a``."""
    a = np.arange(3**n_params)
    return (a[:, None] // 3 ** np.arange(n_params - 1, -1, -1)) % 3 - 1


def make_space(space: str, n_params: int) -> spaces.Space:
    """The gymnasium action space for ``space`` with ``n_params`` parameters."""
    if space == "discrete":
        return spaces.Discrete(3**n_params)
    if space == "multidiscrete":
        return spaces.MultiDiscrete([3] * n_params)
    if space == "continuous":
        return spaces.Box(-1.0, 1.0, (n_params,), dtype=np.float32)
    raise ValueError(f"unknown action space {space!r}; use one of {SPACES}")


def unit_moves(actions: np.ndarray, space: str, n_params: int) -> np.ndarray:
    """Per-parameter moves in units of ``step``, ``float64 [B, N]`` in [-1, 1].

    :param actions: ``[B]`` ints (discrete), ``[B, N]`` digits 0..2 (multidiscrete) or
        ``[B, N]`` floats (continuous).
    """
    if space == "discrete":
        a = np.asarray(actions, dtype=np.int64).reshape(-1)
        return ((a[:, None] // 3 ** np.arange(n_params - 1, -1, -1)) % 3 - 1).astype(np.float64)
    a = np.asarray(actions, dtype=np.float64).reshape(-1, n_params)
    if space == "multidiscrete":
        return a - 1.0
    return np.clip(a, -1.0, 1.0)


def decode(actions: np.ndarray, params: np.ndarray, *, space: str, step: float) -> np.ndarray:
    """New parameters after applying ``actions`` to ``params``.

    :param actions: a batch of actions of the given ``space`` (see :func:`unit_moves`).
    :param params: ``[B, N]`` current parameters in [0, 1].
    :param space: ``discrete``, ``multidiscrete`` or ``continuous``.
    :param step: largest move of one parameter per step, in parameter units.
    :return: ``float64 [B, N]`` new parameters, clipped to [0, 1].
    """
    params = np.asarray(params, dtype=np.float64)
    return np.clip(params + unit_moves(actions, space, params.shape[-1]) * step, 0.0, 1.0)


def stay_action(space: str, n_params: int, batch: int) -> np.ndarray:
    """Actions that keep every parameter still, for a batch of ``batch`` envs."""
    if space == "discrete":
        return np.full(batch, (3**n_params - 1) // 2, dtype=np.int64)
    if space == "multidiscrete":
        return np.ones((batch, n_params), dtype=np.int64)
    return np.zeros((batch, n_params), dtype=np.float32)


def toward(moves: np.ndarray, space: str) -> np.ndarray:
    """Encode unit moves ``[B, N]`` in {-1, 0, 1} as actions of ``space``."""
    moves = np.asarray(moves, dtype=np.int64)
    n = moves.shape[-1]
    if space == "discrete":
        return (moves + 1) @ (3 ** np.arange(n - 1, -1, -1))
    if space == "multidiscrete":
        return moves + 1
    return moves.astype(np.float32)
