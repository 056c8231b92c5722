"""Corpus targets: read a corpus's per-track features, split train / held-out, normalise.

Features of a corpus live in ``01_corpus/<corpus>/features/<track-stem>.parquet`` (columns
``time`` then the 56 descriptor names, one row per frame). The split is deterministic from
``env.heldout`` in params.yaml: with two or more tracks whole tracks are held out; a corpus of
one track is split in time (its last ``fraction`` is held out).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from rlimpro.corpus import load_track
from rlimpro.descriptors.names import NAMES, indices
from rlimpro.env.table import LookupTable
from rlimpro.errors import RlimproError
from rlimpro.layout import Layout

__all__ = ["Normalisation", "load_tracks", "split_tracks", "track_frames", "normalisation"]


def load_tracks(root: str | Path, corpus: str) -> dict[str, np.ndarray]:
    """All tracks of a corpus: stem -> ``float64 [frames, 56]`` in :data:`NAMES` order.

    :raises RlimproError: if the corpus has no analysed features or a file lacks columns.
    """
    import pyarrow.parquet as pq

    folder = Layout(root).features(corpus)
    files = sorted(folder.glob("*.parquet"))
    if not files:
        raise RlimproError(f"{folder}: no analysed tracks; run `rlimpro analyze-corpus --corpus {corpus}` first")
    tracks = {}
    for path in files:
        missing = [c for c in NAMES if c not in pq.read_schema(path).names]
        if missing:
            raise RlimproError(f"{path.name}: missing descriptor columns {missing[:3]}...; re-run analyze-corpus")
        frames = load_track(path)
        if len(frames) == 0 or not np.isfinite(frames).all():
            raise RlimproError(f"{path.name}: empty or non-finite features; re-run analyze-corpus")
        tracks[path.stem] = frames
    return tracks


def split_tracks(stems: list[str], fraction: float, seed: int) -> tuple[list[str], list[str], float]:
    """Deterministic train / held-out split.

    :param stems: track names.
    :param fraction: share held out (0 < fraction < 1).
    :param seed: permutation seed.
    :return: ``(train, heldout, time_split)``; ``time_split`` > 0 means a single track whose
        last ``time_split`` share is held out (then both lists name that track).
    """
    if not 0.0 < fraction < 1.0:
        raise RlimproError(f"params.yaml: env.heldout.fraction = {fraction}; use a value between 0 and 1")
    stems = sorted(stems)
    if len(stems) == 1:
        return stems, stems, float(fraction)
    order = np.random.default_rng(seed).permutation(len(stems))
    n_out = min(max(1, math.ceil(fraction * len(stems))), len(stems) - 1)
    heldout = sorted(stems[i] for i in order[:n_out])
    return [s for s in stems if s not in heldout], heldout, 0.0


def track_frames(tracks: dict[str, np.ndarray], names: list[str], time_split: float, heldout: bool) -> list[np.ndarray]:
    """Frames of the named tracks, honouring a single-track time split."""
    out = []
    for name in names:
        frames = tracks[name]
        if time_split > 0.0:
            cut = int(round(len(frames) * (1.0 - time_split)))
            frames = frames[cut:] if heldout else frames[:cut]
        out.append(frames)
    return out


@dataclass(frozen=True)
class Normalisation:
    """Per-feature z-scoring ``(x - mean) / std`` shared by agent and target features.

    :param features: the selected names, in order.
    :param mean: ``[F]`` means; ``std``: ``[F]`` positive standard deviations.
    """

    features: list[str]
    mean: np.ndarray
    std: np.ndarray

    def apply(self, x: np.ndarray) -> np.ndarray:
        """Normalise ``[..., F]`` values of :attr:`features`."""
        return (x - self.mean) / self.std

    def to_dict(self) -> dict:
        """JSON form (``norm.json``)."""
        return {"features": list(self.features), "mean": self.mean.tolist(), "std": self.std.tolist(),
                "method": "pooled mean/std of training corpus frames and lookup-table points, equal weight"}

    @classmethod
    def from_dict(cls, data: dict) -> Normalisation:
        """Inverse of :meth:`to_dict`."""
        return cls(list(data["features"]), np.asarray(data["mean"], np.float64), np.asarray(data["std"], np.float64))


def normalisation(features: list[str], table: LookupTable, train_frames: list[np.ndarray]) -> Normalisation:
    """Statistics pooled with equal weight from the lookup points and the training frames.

    Held-out tracks are never looked at, so evaluation stays honest.
    """
    idx = indices(features)
    parts = [table.features[:, idx]]
    if train_frames:
        parts.append(np.concatenate(train_frames)[:, idx])
    means = np.array([p.mean(axis=0) for p in parts])
    variances = np.array([p.var(axis=0) for p in parts])
    mean = means.mean(axis=0)
    var = variances.mean(axis=0) + ((means - mean) ** 2).mean(axis=0)
    std = np.sqrt(var)
    std = np.where(std > 1e-9 * np.maximum(1.0, np.abs(mean)), std, 1.0)
    return Normalisation(list(features), mean, std)
