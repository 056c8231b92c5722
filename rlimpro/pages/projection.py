"""2-D projections of a map's points with scikit-learn (PCA, t-SNE) and umap-learn (UMAP).

Input is the shown points' 56 descriptor means, each column z-scored (constant columns
dropped). Each finished projection is saved under the map's cache folder, keyed by a hash of
its input, so an interrupted build resumes without recomputing it. UMAP's numba kernels are
compiled once per machine and then read from numba's on-disk cache (umap-learn compiles most of
them anew in every process otherwise: about 15 s).
"""

from __future__ import annotations

import hashlib
import sys
import warnings
from pathlib import Path

import numpy as np

from rlimpro.atomic import atomic_path
from rlimpro.errors import RlimproError

__all__ = ["METHODS", "MIN_POINTS", "standardise", "project", "cached_projection"]

METHODS = ("PCA", "t-SNE", "UMAP")
#: fewest points t-SNE and UMAP are run on (PCA needs 2)
MIN_POINTS = 8
SEED = 0


def standardise(values: np.ndarray) -> np.ndarray:
    """Z-score each column of ``[n, F]`` values; drop the columns that do not vary."""
    x = np.asarray(values, np.float64)
    std = x.std(axis=0)
    keep = std > 1e-9 * np.maximum(1.0, np.abs(x.mean(axis=0)))
    if not keep.any():
        return np.zeros((len(x), 1))
    return (x[:, keep] - x[:, keep].mean(axis=0)) / std[keep]


def _import(module: str) -> None:
    try:
        __import__(module)
    except ImportError as exc:
        raise RlimproError(f"{module} is not installed; pip install 'rlimpro[pages]' for the map's projections") from exc


def _cache_umap_kernels() -> None:
    """Let numba cache umap-learn's and pynndescent's compiled kernels on disk (speed only)."""
    try:
        from numba.core.registry import CPUDispatcher
    except ImportError:
        return
    for name, module in list(sys.modules.items()):
        if not name.startswith(("umap", "pynndescent")) or module is None:
            continue
        for value in list(vars(module).values()):
            if isinstance(value, CPUDispatcher) and type(value._cache).__name__ == "NullCache":
                try:
                    value.enable_caching()
                except Exception:  # noqa: BLE001 - a kernel that cannot be cached is compiled as usual
                    pass


def project(x: np.ndarray, method: str) -> np.ndarray:
    """Project standardised points ``[n, F]`` to ``[n, 2]`` (seeded, deterministic).

    :param x: standardised features, ``n >= 2`` (t-SNE and UMAP: ``n >= MIN_POINTS``).
    :param method: one of :data:`METHODS`.
    :raises RlimproError: if the method's package is missing or there are too few points.
    """
    n = len(x)
    if method == "PCA":
        _import("sklearn")
        from sklearn.decomposition import PCA

        k = min(2, n, x.shape[1])
        y = PCA(n_components=k, random_state=SEED).fit_transform(x)
        return np.pad(y, ((0, 0), (0, 2 - k)))
    if n < MIN_POINTS:
        raise RlimproError(f"{method} needs at least {MIN_POINTS} points, the map has {n}")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        if method == "t-SNE":
            _import("sklearn")
            from sklearn.manifold import TSNE

            perplexity = float(min(30.0, (n - 1) / 3.0))
            return TSNE(n_components=2, perplexity=perplexity, init="pca", random_state=SEED).fit_transform(x)
        if method == "UMAP":
            _import("umap")
            import umap

            from sklearn.neighbors import NearestNeighbors

            _cache_umap_kernels()
            k = min(15, n - 1)
            # exact neighbours from scikit-learn (what umap-learn computes itself below 4096 points, with
            # kernels it compiles anew in every process): the same graph, ~25 s less on a fresh machine
            dists, idx = NearestNeighbors(n_neighbors=k).fit(x).kneighbors(x)
            reducer = umap.UMAP(n_components=2, n_neighbors=k, init="pca", n_epochs=200, random_state=SEED,
                                precomputed_knn=(idx, dists, None))
            return reducer.fit_transform(x)
    raise ValueError(f"unknown projection {method!r}; expected one of {METHODS}")


def cached_projection(x: np.ndarray, method: str, cache: Path) -> np.ndarray:
    """:func:`project`, read from ``cache/<method>-<hash of x>.npy`` when an earlier run saved it.

    :return: ``float64 [n, 2]``.
    """
    key = hashlib.sha256(np.ascontiguousarray(x, np.float64).tobytes() + method.encode()).hexdigest()[:16]
    path = cache / f"{method.lower().replace('-', '')}-{key}.npy"
    if path.is_file():
        return np.load(path)
    y = np.asarray(project(x, method), np.float64)
    with atomic_path(path) as tmp:
        with open(tmp, "wb") as fh:
            np.save(fh, y)
    return y
