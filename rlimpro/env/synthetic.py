"""A synthetic project (lookup table + corpus) in the real file formats.

Used by tests and by ``benchmarks/env.py`` when no rendered table exists: a smooth but
rugged random map from N params to the 56 descriptors, and corpus tracks that wander
through that map with noise (so targets are reachable but not exactly on the grid).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from rlimpro.descriptors.names import NAMES
from rlimpro.grid import grid_points
from rlimpro.layout import Layout

__all__ = ["synthetic_map", "write_synthetic_project"]


def synthetic_map(params: np.ndarray, seed: int = 0) -> np.ndarray:
    """Descriptor values ``[B, 56]`` of params ``[B, N]``: random Fourier features per column."""
    rng = np.random.default_rng(seed)
    n = params.shape[1]
    freq = rng.normal(0.0, 2.5, size=(8, n, len(NAMES)))
    phase = rng.uniform(0, 2 * np.pi, size=(8, len(NAMES)))
    amp = rng.uniform(0.2, 1.0, size=(8, len(NAMES)))
    offset = rng.uniform(-50, 2000, size=len(NAMES))
    scale = rng.uniform(1, 500, size=len(NAMES))
    g = np.einsum("kc,bkc->bc", amp, np.sin(np.einsum("bn,knc->bkc", params, freq) + phase))
    return offset + scale * g / 3.0


def write_synthetic_project(root: str | Path, *, synth: str = "toy", corpus: str = "demo", n_params: int = 3,
                            subdiv: int = 8, n_tracks: int = 4, frames: int = 400, seed: int = 0) -> Path:
    """Write ``00_synths/<synth>/lookup.parquet`` and ``01_corpus/<corpus>/{features,summary.json}``.

    :return: ``root``.
    """
    import pandas as pd

    from rlimpro.analysis import Framing
    from rlimpro.corpus import write_features, write_summary
    from rlimpro.lookup import columns

    root, layout = Path(root), Layout(root)
    grid = grid_points(n_params, subdiv)
    values = synthetic_map(grid, seed)
    table = pd.DataFrame(np.concatenate([grid, values, np.abs(values) * 0.01], axis=1), columns=columns(n_params))
    layout.synth(synth).mkdir(parents=True, exist_ok=True)
    table.to_parquet(layout.lookup(synth), index=False)

    rng = np.random.default_rng(seed + 1)
    feat_dir = layout.features(corpus)
    feat_dir.mkdir(parents=True, exist_ok=True)
    framing = Framing()
    tracks: dict[str, Path] = {}
    for k in range(n_tracks):
        # piecewise "notes": hold a point for a while, drift slowly inside it
        p = np.empty((frames, n_params))
        cur = rng.uniform(0, 1, n_params)
        for t in range(frames):
            if rng.random() < 0.02:
                cur = rng.uniform(0, 1, n_params)
            cur = np.clip(cur + rng.normal(0, 0.01, n_params), 0, 1)
            p[t] = cur
        vals = synthetic_map(p, seed)
        vals += rng.normal(0, 1, vals.shape) * np.std(values, axis=0) * 0.05
        tracks[f"track{k}"] = write_features(feat_dir / f"track{k}.parquet", vals, framing, source="synthetic")
    write_summary(layout.summary(corpus), tracks, corpus, framing)
    return root
