"""The descriptor set of DESIGN.md §2: 56 columns in 6 categories, one shared STFT.

>>> import numpy as np
>>> from rlimpro.descriptors import compute, NAMES
>>> t = np.arange(44100) / 44100
>>> table = compute(0.1 * np.sin(2 * np.pi * 1000 * t))
>>> table.shape, NAMES[:2]
((85, 56), ['loudness', 'truepeak'])
"""

from __future__ import annotations

import numpy as np

from rlimpro.descriptors.framing import HOP, SR, WINDOW, frame_times, n_frames
from rlimpro.descriptors.loudness import loudness, truepeak
from rlimpro.descriptors.names import CATEGORIES, NAMES, UNITS, indices, select
from rlimpro.descriptors.pitch import pitch
from rlimpro.descriptors.spectral import chroma, magnitude_db, magnitude_spectrum, mfcc, sines, specshape

__all__ = [
    "CATEGORIES", "NAMES", "UNITS", "SR", "WINDOW", "HOP",
    "compute", "frame_times", "n_frames", "select", "indices",
    "loudness", "truepeak", "magnitude_spectrum", "magnitude_db", "mfcc", "chroma", "specshape", "pitch", "sines",
]


def compute(y: np.ndarray, sr: int = SR, *, window: int = WINDOW, hop: int = HOP) -> np.ndarray:
    """All 56 descriptors of a mono signal, frame-aligned, in table order (:data:`NAMES`).

    :param y: np.ndarray [shape=(n,)], mono signal at ``sr`` (resample before calling).
    :param sr: sample rate in Hz.
    :param window: frame length in samples (frame i covers ``[i·hop, i·hop + window)``).
    :param hop: hop in samples.
    :return: np.ndarray [shape=(n_frames, 56)], float64, every value finite.
    """
    y = np.nan_to_num(np.asarray(y, dtype=np.float64))
    if y.ndim != 1:
        raise ValueError(f"expected a mono signal of shape (n,), got shape {y.shape}")
    S = magnitude_spectrum(y=y, window=window, hop=hop)
    S_db = magnitude_db(S)
    return np.column_stack([
        loudness(y=y, sr=sr, window=window, hop=hop),
        truepeak(y=y, window=window, hop=hop),
        mfcc(S=S, sr=sr, window=window),
        chroma(S=S, sr=sr, window=window),
        specshape(S=S, S_db=S_db, sr=sr, window=window),
        pitch(S=S, sr=sr, window=window),
        sines(S=S, S_db=S_db, sr=sr, window=window),
    ])
