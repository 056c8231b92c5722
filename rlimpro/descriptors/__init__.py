"""The descriptor set of docs/descriptors.md: 56 columns in 6 categories, one shared STFT.

>>> import numpy as np
>>> from rlimpro.descriptors import compute, NAMES
>>> t = np.arange(44100) / 44100
>>> table = compute(0.1 * np.sin(2 * np.pi * 1000 * t))
>>> table.shape, NAMES[:2]
((85, 56), ['loudness', 'truepeak'])
"""

from __future__ import annotations

import numpy as np

from rlimpro.descriptors import native
from rlimpro.descriptors.framing import HOP, SR, WINDOW, frame_times, n_frames
from rlimpro.descriptors.loudness import loudness, truepeak
from rlimpro.descriptors.names import CATEGORIES, NAMES, UNITS, indices, select
from rlimpro.descriptors.pitch import pitch
from rlimpro.descriptors.spectral import chroma, magnitude_db, magnitude_spectrum, mfcc, sines, specshape
from rlimpro.errors import RlimproError

__all__ = [
    "CATEGORIES", "NAMES", "UNITS", "SR", "WINDOW", "HOP", "ENGINES",
    "compute", "frame_times", "n_frames", "select", "indices",
    "loudness", "truepeak", "magnitude_spectrum", "magnitude_db", "mfcc", "chroma", "specshape", "pitch", "sines",
]


ENGINES = ("auto", "c", "numpy")


def compute(y: np.ndarray, sr: int = SR, *, window: int = WINDOW, hop: int = HOP, engine: str = "auto") -> np.ndarray:
    """All 56 descriptors of a mono signal, frame-aligned, in table order (:data:`NAMES`).

    :param y: np.ndarray [shape=(n,)], mono signal at ``sr`` (resample before calling).
    :param sr: sample rate in Hz.
    :param window: frame length in samples (frame i covers ``[i·hop, i·hop + window)``).
    :param hop: hop in samples.
    :param engine: ``"c"`` the C core (:mod:`rlimpro.descriptors.native`, what Pd and the
        listening server run), ``"numpy"`` the reference below, ``"auto"`` C when built.
        Both give the same table within the tolerances of docs/descriptors.md.
    :return: np.ndarray [shape=(n_frames, 56)], float64, every value finite.
    :raises RlimproError: for an unknown engine, or ``"c"`` when the core is not built.
    """
    y = np.asarray(y)
    if y.ndim != 1:
        raise ValueError(f"expected a mono signal of shape (n,), got shape {y.shape}")
    if engine not in ENGINES:
        raise RlimproError(f"unknown descriptor engine {engine!r}: use one of {', '.join(ENGINES)}")
    if engine == "c" or (engine == "auto" and native.available()):
        return native.compute(y, sr, window=window, hop=hop)
    return _compute_numpy(y, sr, window=window, hop=hop)


def _compute_numpy(y: np.ndarray, sr: int, *, window: int, hop: int) -> np.ndarray:
    """The numpy reference engine of :func:`compute`."""
    y = np.nan_to_num(np.asarray(y, dtype=np.float64), nan=0.0, posinf=0.0, neginf=0.0)  # as the C core
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
