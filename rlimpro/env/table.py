"""Reader side of the lookup table (docs/architecture.md): grid arithmetic and interpolation.

The table is a regular grid of ``subdiv`` values per parameter (linspace 0..1) with rows in
mixed-radix order, p0 slowest, so a parameter vector maps to its row in O(1)::

    row = sum_i round(p_i * (subdiv - 1)) * subdiv ** (N - 1 - i)

Everything here is plain numpy on arrays of shape ``[B, N]`` so the env, the evaluation and
the ONNX exporter share one definition.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from rlimpro import grid
from rlimpro.descriptors.names import NAMES, indices
from rlimpro.errors import RlimproError

__all__ = ["LookupTable", "load_table", "file_sha256"]


@dataclass(frozen=True)
class LookupTable:
    """A rendered synth's descriptor means on a regular parameter grid.

    :param features: ``float64 [subdiv**N, 56]`` descriptor means in :data:`NAMES` order.
    :param n_params: N, the number of synth parameters.
    :param subdiv: grid values per parameter (linspace 0..1).
    :param path: where the table was read from (for messages and provenance).
    :param sha256: hash of the parquet file (provenance stored with each run).
    """

    features: np.ndarray
    n_params: int
    subdiv: int
    path: str = ""
    sha256: str = ""

    @property
    def n_rows(self) -> int:
        """Number of grid points, ``subdiv ** n_params``."""
        return self.features.shape[0]

    @property
    def radix(self) -> np.ndarray:
        """Row stride of each parameter, ``subdiv ** (N - 1 - i)`` (int64 ``[N]``)."""
        return grid.radix(self.n_params, self.subdiv)

    def columns(self, names: list[str]) -> np.ndarray:
        """Feature columns ``names`` as a contiguous ``float64 [rows, len(names)]`` array."""
        return np.ascontiguousarray(self.features[:, indices(names)])

    def grid_params(self, rows: np.ndarray) -> np.ndarray:
        """Parameter vectors ``[..., N]`` in [0, 1] of the given row indices."""
        return grid.grid_params(rows, self.n_params, self.subdiv)

    def nearest_rows(self, params: np.ndarray) -> np.ndarray:
        """Row of the nearest grid point to each parameter vector (O(1) index arithmetic).

        :param params: ``[..., N]`` values, clipped to [0, 1].
        :return: int64 rows ``[...]``.
        """
        return grid.row_index(params, self.subdiv)

    def corners(self, params: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Rows and weights of the 2**N grid corners around each parameter vector.

        :param params: ``[B, N]`` values, clipped to [0, 1].
        :return: ``(rows int64 [B, 2**N], weights float64 [B, 2**N])``; weights sum to 1.
        """
        n, s = self.n_params, self.subdiv
        x = np.clip(np.asarray(params, dtype=np.float64), 0.0, 1.0) * (s - 1)
        base = np.minimum(np.floor(x), s - 2).astype(np.int64)
        frac = x - base
        bits = _corner_bits(n)  # [2**N, N]
        rows = (base[:, None, :] + bits[None]) @ self.radix
        weights = np.prod(np.where(bits[None] == 1, frac[:, None, :], 1.0 - frac[:, None, :]), axis=2)
        return rows, weights

    def interpolate(self, values: np.ndarray, params: np.ndarray) -> np.ndarray:
        """Multilinear interpolation of per-row ``values [rows, F]`` at ``params [B, N]``."""
        rows, weights = self.corners(params)
        return np.einsum("bc,bcf->bf", weights, values[rows])


def _corner_bits(n: int) -> np.ndarray:
    """``[2**n, n]`` 0/1 offsets of a grid cell's corners, first parameter slowest."""
    idx = np.arange(2**n)
    return (idx[:, None] >> np.arange(n - 1, -1, -1)) & 1


def file_sha256(path: str | Path) -> str:
    """SHA-256 hex digest of a file."""
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def load_table(path: str | Path) -> LookupTable:
    """Read and validate ``lookup.parquet``.

    :param path: the table file.
    :return: the table, with its grid size inferred from the ``p*`` columns.
    :raises RlimproError: if the file is missing, lacks columns, is not a full regular grid in
        mixed-radix row order, or holds non-finite values.
    """
    import pandas as pd

    path = Path(path)
    if not path.is_file():
        raise RlimproError(f"{path}: lookup table not found; run `rlimpro render-lookup` (or dvc repro) first")
    try:
        df = pd.read_parquet(path)
    except Exception as exc:  # pyarrow raises many types on corrupt files
        raise RlimproError(f"{path.name}: not a readable parquet file ({exc.__class__.__name__}); re-render it") from exc
    pcols = [c for c in df.columns if c[:1] == "p" and c[1:].isdigit()]
    n = len(pcols)
    missing = [c for c in NAMES if c not in df.columns]
    if n == 0 or pcols != [f"p{i}" for i in range(n)] or missing:
        raise RlimproError(
            f"{path.name}: expected columns p0..p{{N-1}} and the 56 descriptor names; "
            f"got {n} p-columns and {len(missing)} missing descriptors (e.g. {missing[:3]}); re-render it"
        )
    rows = len(df)
    subdiv = int(round(rows ** (1.0 / n)))
    if subdiv < 2 or subdiv**n != rows:
        raise RlimproError(f"{path.name}: {rows} rows is not subdiv**{n} for any subdiv >= 2; re-render it")
    params = df[pcols].to_numpy(np.float64)
    features = df[NAMES].to_numpy(np.float64)
    table = LookupTable(features=np.ascontiguousarray(features), n_params=n, subdiv=subdiv,
                        path=str(path), sha256=file_sha256(path))
    expected = table.grid_params(np.arange(rows))
    if not np.allclose(params, expected, atol=0.5 / (subdiv - 1)):
        raise RlimproError(f"{path.name}: rows are not in mixed-radix grid order (p0 slowest); re-render it")
    if not np.isfinite(features).all():
        raise RlimproError(f"{path.name}: holds non-finite descriptor values; re-render it")
    return table
