"""The regular parameter grid of a lookup table (docs/synths.md), in one place.

``subdiv`` values per parameter (``linspace(0, 1, subdiv)``), ``subdiv**N`` points with rows in
mixed-radix order, p0 slowest, so a parameter vector maps to its row in O(1)::

    row = sum_i round(p_i * (subdiv - 1)) * subdiv ** (N - 1 - i)

The writer (:mod:`rlimpro.lookup`) and the reader (:class:`rlimpro.env.table.LookupTable`)
both use these functions. Plain numpy.

Two parameters, three values each (9 rows); the point (0.5, 1.0) is row 1·3 + 2 = 5:

>>> grid_points(2, 3)[:4]
array([[0. , 0. ],
       [0. , 0.5],
       [0. , 1. ],
       [0.5, 0. ]])
>>> row_index([0.5, 1.0], subdiv=3)
5
>>> row_index(np.array([[0.0, 0.0], [0.49, 0.51]]), subdiv=3)   # nearest grid point, a batch
array([0, 4])
>>> grid_params(np.array([5, 8]), 2, 3)
array([[0.5, 1. ],
       [1. , 1. ]])
>>> radix(3, 4)
array([16,  4,  1])
"""

from __future__ import annotations

import numpy as np

__all__ = ["radix", "grid_points", "grid_params", "row_index"]


def radix(n_params: int, subdiv: int) -> np.ndarray:
    """Row stride of each parameter, ``subdiv ** (N - 1 - i)`` (int64 ``[N]``)."""
    return subdiv ** np.arange(n_params - 1, -1, -1, dtype=np.int64)


def grid_points(n_params: int, subdiv: int) -> np.ndarray:
    """All grid points in row order (mixed radix, p0 slowest), as the lookup table stores them.

    :param n_params: N, the number of synth parameters.
    :param subdiv: values per parameter (>= 2), ``linspace(0, 1, subdiv)``.
    :return: np.ndarray [shape=(subdiv**N, N)] float64.
    """
    axes = [np.linspace(0.0, 1.0, subdiv)] * n_params
    return np.stack(np.meshgrid(*axes, indexing="ij"), axis=-1).reshape(-1, n_params)


def grid_params(rows: np.ndarray, n_params: int, subdiv: int) -> np.ndarray:
    """Parameter vectors ``[..., N]`` in [0, 1] of the given row indices (``digit / (subdiv - 1)``).

    The env's grid; it may differ from :func:`grid_points` (``linspace``) in the last bit, which
    :func:`row_index` absorbs. Both are kept as they are so tables and trained runs stay bit-identical.
    """
    rows = np.asarray(rows, dtype=np.int64)
    coords = (rows[..., None] // radix(n_params, subdiv)) % subdiv
    return coords / (subdiv - 1)


def row_index(params: np.ndarray | list[float], subdiv: int) -> int | np.ndarray:
    """Row of the grid point nearest to each parameter vector (O(1) index arithmetic).

    :param params: ``[N]`` or ``[..., N]`` values, clipped to [0, 1].
    :param subdiv: values per parameter of the table.
    :return: the row index (an int for one vector, an int64 array ``[...]`` for a batch).
    """
    p = np.clip(np.asarray(params), 0.0, 1.0)
    digits = np.rint(p * (subdiv - 1)).astype(np.int64)
    rows = digits @ radix(p.shape[-1], subdiv)
    return int(rows) if np.ndim(rows) == 0 else rows
