"""Action spaces and the pure-numpy action decoder (action -> new params).

Three spaces, one meaning: each parameter moves by at most ``reach`` steps of ``step`` per env
step (``reach`` = 1 unless params.yaml's ``env.reach`` says more; ``b = 2 * reach + 1``).

- ``discrete``: ``Discrete(b**N)``; action ``a`` has base-b digits ``d_i`` (p0 most
  significant) and moves parameter i by ``(d_i - reach) * step``; ``(b**N - 1) // 2`` holds still.
- ``multidiscrete``: ``MultiDiscrete([b] * N)``; the digits themselves.
- ``continuous``: ``Box(-1, 1, (N,))``; parameter i moves by ``clip(a_i, -1, 1) * reach * step``.

New params are always clipped to [0, 1]. The ONNX exporter mirrors :func:`decode`.
"""

from __future__ import annotations

import numpy as np
from gymnasium import spaces

from rlimpro.settings import ACTION_SPACES

__all__ = ["SPACES", "deltas", "decode", "make_space", "stay_action", "toward", "unit_moves"]

#: the action spaces (named once, in the params.yaml schema)
SPACES = ACTION_SPACES


def _digits(a: np.ndarray, n_params: int, reach: int) -> np.ndarray:
    """Moves ``int64 [B, N]`` in [-reach, reach] of discrete actions ``a [B]`` (base-b digits)."""
    b = 2 * reach + 1
    return (a[:, None] // b ** np.arange(n_params - 1, -1, -1)) % b - reach


def deltas(n_params: int, reach: int = 1) -> np.ndarray:
    """All ``b**N`` moves in steps, ``int64 [b**N, N]`` in [-reach, reach], row ``a`` = discrete action ``a``.

    >>> deltas(2)[[0, 4, 5]].tolist()
    [[-1, -1], [0, 0], [0, 1]]
    """
    return _digits(np.arange((2 * reach + 1) ** n_params), n_params, reach)


def make_space(space: str, n_params: int, reach: int = 1) -> spaces.Space:
    """The gymnasium action space for ``space`` with ``n_params`` parameters."""
    if space == "discrete":
        return spaces.Discrete((2 * reach + 1) ** n_params)
    if space == "multidiscrete":
        return spaces.MultiDiscrete([2 * reach + 1] * n_params)
    if space == "continuous":
        return spaces.Box(-1.0, 1.0, (n_params,), dtype=np.float32)
    raise ValueError(f"unknown action space {space!r}; use one of {SPACES}")


def unit_moves(actions: np.ndarray, space: str, n_params: int, reach: int = 1) -> np.ndarray:
    """Per-parameter moves in units of ``step``, ``float64 [B, N]`` in [-reach, reach].

    :param actions: ``[B]`` ints (discrete), ``[B, N]`` digits 0..2·reach (multidiscrete) or
        ``[B, N]`` floats (continuous).
    """
    if space == "discrete":
        return _digits(np.asarray(actions, dtype=np.int64).reshape(-1), n_params, reach).astype(np.float64)
    a = np.asarray(actions, dtype=np.float64).reshape(-1, n_params)
    if space == "multidiscrete":
        return a - float(reach)
    return np.clip(a, -1.0, 1.0) * reach


def decode(actions: np.ndarray, params: np.ndarray, *, space: str, step: float, reach: int = 1) -> np.ndarray:
    """New parameters after applying ``actions`` to ``params``.

    :param actions: a batch of actions of the given ``space`` (see :func:`unit_moves`).
    :param params: ``[B, N]`` current parameters in [0, 1].
    :param space: ``discrete``, ``multidiscrete`` or ``continuous``.
    :param step: one step of one parameter, in parameter units.
    :param reach: most steps per parameter per move.
    :return: ``float64 [B, N]`` new parameters, clipped to [0, 1].
    """
    params = np.asarray(params, dtype=np.float64)
    return np.clip(params + unit_moves(actions, space, params.shape[-1], reach) * step, 0.0, 1.0)


def stay_action(space: str, n_params: int, batch: int, reach: int = 1) -> np.ndarray:
    """Actions that keep every parameter still, for a batch of ``batch`` envs."""
    if space == "discrete":
        return np.full(batch, ((2 * reach + 1) ** n_params - 1) // 2, dtype=np.int64)
    if space == "multidiscrete":
        return np.full((batch, n_params), reach, dtype=np.int64)
    return np.zeros((batch, n_params), dtype=np.float32)


def toward(moves: np.ndarray, space: str, reach: int = 1) -> np.ndarray:
    """Encode moves in steps ``[B, N]`` (integers in [-reach, reach]) as actions of ``space``."""
    moves = np.asarray(moves, dtype=np.int64)
    n, b = moves.shape[-1], 2 * reach + 1
    if space == "discrete":
        return (moves + reach) @ (b ** np.arange(n - 1, -1, -1))
    if space == "multidiscrete":
        return moves + reach
    return (moves / reach).astype(np.float32)
