"""Framing shared by every descriptor: frame i covers samples [i·hop, i·hop + window)."""

from __future__ import annotations

import numpy as np

__all__ = ["SR", "WINDOW", "HOP", "n_frames", "frames", "frame_times", "hann", "block_reduce_pairs"]

SR = 44100
WINDOW = 1024
HOP = 512


def n_frames(n_samples: int, *, window: int = WINDOW, hop: int = HOP) -> int:
    """Number of frames of a signal: ``1 + (n - window) // hop``, at least 1 (zero-padded)."""
    return max(1, 1 + (n_samples - window) // hop)


def pad(y: np.ndarray, *, window: int = WINDOW, hop: int = HOP) -> np.ndarray:
    """Zero-pad ``y`` so that it holds exactly its frames (only a short file grows)."""
    needed = (n_frames(len(y), window=window, hop=hop) - 1) * hop + window
    if len(y) >= needed:
        return y[:needed]
    return np.concatenate([y, np.zeros(needed - len(y), dtype=y.dtype)])


def frames(y: np.ndarray, *, window: int = WINDOW, hop: int = HOP) -> np.ndarray:
    """A read-only strided view ``[n_frames, window]`` of the (padded) signal."""
    y = pad(y, window=window, hop=hop)
    return np.lib.stride_tricks.sliding_window_view(y, window)[::hop]


def frame_times(n: int, sr: int = SR, window: int = WINDOW, hop: int = HOP) -> np.ndarray:
    """Centre time in seconds of each of ``n`` frames: ``(i·hop + window/2) / sr``."""
    return (np.arange(n) * hop + window / 2) / sr


def hann(window: int = WINDOW) -> np.ndarray:
    """Periodic Hann window of length ``window``."""
    return 0.5 - 0.5 * np.cos(2 * np.pi * np.arange(window) / window)


def block_reduce_pairs(values: np.ndarray, n: int, *, window: int, hop: int, ufunc: np.ufunc) -> np.ndarray:
    """Reduce ``values`` (one per sample, or per oversampled sample) over each frame.

    Uses hop-sized blocks when the window is a multiple of the hop, so each sample is visited
    once. ``values`` must have ``(n - 1) · hop + window`` entries (times any oversampling
    factor, applied to ``window`` and ``hop`` by the caller).
    """
    if window % hop == 0:
        per = window // hop
        blocks = ufunc.reduce(values[: (n - 1 + per) * hop].reshape(-1, hop), axis=1)
        out = blocks[:n].copy()
        for k in range(1, per):
            out = ufunc(out, blocks[k : k + n])
        return out
    view = np.lib.stride_tricks.sliding_window_view(values, window)[::hop][:n]
    return ufunc.reduce(view, axis=1)
