"""Which lookup points a map shows: the whole grid, or a regular sub-grid of it on large tables.

A table of ``subdiv**N`` rows is shown through ``k`` of its ``subdiv`` values per parameter (the
largest ``k`` with ``k**N <= max_points``, spread evenly and always including 0 and 1), so the
shown points keep the grid's corners and regular spacing. Any parameter vector snaps to the
nearest shown point by the same index arithmetic as :mod:`rlimpro.grid`.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from rlimpro import grid

__all__ = ["SubGrid", "subgrid"]


@dataclass(frozen=True)
class SubGrid:
    """The shown points of a table.

    :param n_params: N.
    :param subdiv: values per parameter of the table.
    :param levels: int64 ``[k]`` the table's value indices shown on every axis (ascending).
    :param rows: int64 ``[k**N]`` the table rows shown, in the table's order.
    """

    n_params: int
    subdiv: int
    levels: np.ndarray
    rows: np.ndarray

    @property
    def n_points(self) -> int:
        """How many points are shown."""
        return len(self.rows)

    def snap(self, params: np.ndarray) -> np.ndarray:
        """Index (into :attr:`rows`) of the shown point nearest to each parameter vector ``[..., N]``."""
        digits = np.rint(np.clip(np.asarray(params, np.float64), 0.0, 1.0) * (self.subdiv - 1))
        nearest = np.abs(digits[..., None] - self.levels).argmin(axis=-1)
        return nearest @ grid.radix(self.n_params, len(self.levels))


def subgrid(n_params: int, subdiv: int, max_points: int) -> SubGrid:
    """The largest regular sub-grid of the table with at most ``max_points`` points (at least 2 values per axis).

    :param n_params: N, the table's parameter count.
    :param subdiv: the table's values per parameter.
    :param max_points: the most points a map shows.
    """
    k = subdiv
    while k > 2 and k**n_params > max_points:
        k -= 1
    levels = np.unique(np.rint(np.linspace(0, subdiv - 1, k)).astype(np.int64))
    digits = np.stack(np.meshgrid(*[levels] * n_params, indexing="ij"), axis=-1).reshape(-1, n_params)
    return SubGrid(n_params, subdiv, levels, digits @ grid.radix(n_params, subdiv))
