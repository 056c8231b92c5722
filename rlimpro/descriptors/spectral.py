"""Spectral descriptors from one shared magnitude spectrum: MFCC, chroma, spectral shape, sines.

Every function takes ``S``, the amplitude-normalised magnitude spectrum [shape=(n_frames,
window//2 + 1)] from :func:`magnitude_spectrum` (a full-scale sine peaks at 1.0), so the
STFT is computed once per signal.
"""

from __future__ import annotations

import functools

import numpy as np
from scipy import fft

from rlimpro.descriptors.framing import HOP, SR, WINDOW, frames, hann
from rlimpro.descriptors.names import DB_FLOOR

__all__ = ["magnitude_spectrum", "magnitude_db", "mfcc", "chroma", "specshape", "sines", "mel_filterbank", "chroma_filterbank"]

MAG_FLOOR = 1e-5
N_MELS, FMIN_MEL, FMAX_MEL, N_MFCC = 40, 20.0, 20000.0, 13
CHROMA_FMIN, CHROMA_FMAX = 60.0, 5000.0
ROLLOFF = 0.95
N_SINES = 10
_DB_PER_NEPER = np.float32(20.0 / np.log(10.0))


def magnitude_spectrum(*, y: np.ndarray, window: int = WINDOW, hop: int = HOP) -> np.ndarray:
    """Periodic-Hann STFT magnitude, scaled by ``2 / sum(window)`` (a sine of amplitude A peaks at A).

    Computed in float32 (ample for descriptors, and what the C core, native/descriptors.c, uses).

    :param y: np.ndarray [shape=(n,)], mono signal.
    :return: np.ndarray [shape=(n_frames, window // 2 + 1)], float32 linear magnitude.
    """
    w = hann(window)
    scaled = (w * (2.0 / w.sum())).astype(np.float32)
    return np.abs(fft.rfft(frames(np.asarray(y, dtype=np.float32), window=window, hop=hop) * scaled, axis=1))


def magnitude_db(S: np.ndarray) -> np.ndarray:
    """20·log10 of the magnitude spectrum floored at 1e-5 (so at least -100 dB)."""
    return _DB_PER_NEPER * np.log(np.maximum(S, np.float32(MAG_FLOOR)))  # np.log is faster than log10


def _bin_freqs(sr: int, window: int) -> np.ndarray:
    return np.arange(window // 2 + 1) * sr / window


@functools.lru_cache(maxsize=8)
def mel_filterbank(sr: int = SR, window: int = WINDOW) -> np.ndarray:
    """40 triangular HTK-mel bands between 20 and 20000 Hz (peak weight 1).

    :return: np.ndarray [shape=(40, window // 2 + 1)].
    """
    def hz_to_mel(f: np.ndarray | float) -> np.ndarray:
        return 2595.0 * np.log10(1.0 + np.asarray(f) / 700.0)

    edges_mel = np.linspace(hz_to_mel(FMIN_MEL), hz_to_mel(min(FMAX_MEL, sr / 2)), N_MELS + 2)
    edges = 700.0 * (10 ** (edges_mel / 2595.0) - 1.0)
    f = _bin_freqs(sr, window)
    lower, centre, upper = edges[:-2, None], edges[1:-1, None], edges[2:, None]
    rising = (f - lower) / (centre - lower)
    falling = (upper - f) / (upper - centre)
    return np.maximum(0.0, np.minimum(rising, falling))


def mfcc(*, S: np.ndarray, sr: int = SR, window: int = WINDOW) -> np.ndarray:
    """13 MFCCs (c0 included): orthonormal DCT-II of 20·log10(max(mel band, 1e-5)).

    :param S: magnitude spectrum from :func:`magnitude_spectrum`.
    :return: np.ndarray [shape=(n_frames, 13)], dB units.
    """
    bands = S @ mel_filterbank(sr, window).T
    db = magnitude_db(bands)
    return fft.dct(db, type=2, norm="ortho", axis=1)[:, :N_MFCC]


@functools.lru_cache(maxsize=8)
def chroma_filterbank(sr: int = SR, window: int = WINDOW) -> np.ndarray:
    """Soft assignment of 60–5000 Hz bins to 12 pitch classes, A first (A4 = 440 Hz).

    Each bin's weight is a Gaussian (σ = 0.5 semitone) of its circular distance to each class,
    normalised to sum 1 per bin.

    :return: np.ndarray [shape=(12, window // 2 + 1)].
    """
    f = _bin_freqs(sr, window)
    used = (f >= CHROMA_FMIN) & (f <= CHROMA_FMAX)
    semis = 12.0 * np.log2(np.where(used, f, 440.0) / 440.0)
    dist = (semis[None, :] - np.arange(12)[:, None] + 6.0) % 12.0 - 6.0
    weights = np.exp(-0.5 * (dist / 0.5) ** 2)
    weights /= weights.sum(axis=0, keepdims=True)
    return weights * used


def chroma(*, S: np.ndarray, sr: int = SR, window: int = WINDOW) -> np.ndarray:
    """Energy per pitch class (A, A#, …, G#), normalised to sum 1; 1/12 each in silence.

    :param S: magnitude spectrum from :func:`magnitude_spectrum`.
    :return: np.ndarray [shape=(n_frames, 12)].
    """
    energy = (S * S) @ chroma_filterbank(sr, window).T
    total = energy.sum(axis=1, keepdims=True)
    silent = total <= MAG_FLOOR**2
    return np.where(silent, 1.0 / 12.0, energy / np.where(silent, 1.0, total))


def specshape(*, S: np.ndarray, S_db: np.ndarray | None = None, sr: int = SR, window: int = WINDOW) -> np.ndarray:
    """Spectral shape of the linear magnitude spectrum, FluCoMa's seven values.

    Columns: centroid, spread (std), skewness, kurtosis, rolloff (95 % of cumulative
    magnitude) in Hz or unitless; flatness = 20·log10(geometric / arithmetic mean) and
    crest = 20·log10(max / mean) in dB on magnitudes floored at 1e-5. Silence gives 0s.

    :param S: magnitude spectrum from :func:`magnitude_spectrum`.
    :param S_db: its :func:`magnitude_db`, if already computed.
    :return: np.ndarray [shape=(n_frames, 7)].
    """
    if S_db is None:
        S_db = magnitude_db(S)
    f_khz = _bin_freqs(sr, window) / 1000.0  # kHz keeps the raw moments well scaled
    raw = np.asarray(S, dtype=np.float64) @ np.stack([f_khz**k for k in range(5)], axis=1)
    total = raw[:, 0]
    live = total > MAG_FLOOR
    m1, m2, m3, m4 = (raw[:, k] / np.where(live, total, 1.0) for k in range(1, 5))
    var = np.maximum(m2 - m1**2, 0.0)
    spread = np.sqrt(var)
    peaked = live & (spread > 1e-9)
    safe = np.where(peaked, spread, 1.0)
    skewness = np.where(peaked, (m3 - 3 * m1 * m2 + 2 * m1**3) / safe**3, 0.0)
    kurtosis = np.where(peaked, (m4 - 4 * m1 * m3 + 6 * m1**2 * m2 - 3 * m1**4) / safe**4, 0.0)
    cumulative = np.cumsum(S, axis=1)
    rolloff = _bin_freqs(sr, window)[np.argmax(cumulative >= ROLLOFF * cumulative[:, -1:], axis=1)]
    mean_db = 20.0 * np.log10(np.maximum(S, MAG_FLOOR).mean(axis=1))
    flatness = S_db.mean(axis=1) - mean_db
    crest = S_db.max(axis=1) - mean_db
    shape = np.stack([1000.0 * m1, 1000.0 * spread, skewness, kurtosis, rolloff, flatness, crest], axis=1)
    shape[~live] = 0.0
    return shape


def sines(*, S: np.ndarray, S_db: np.ndarray | None = None, sr: int = SR, window: int = WINDOW) -> np.ndarray:
    """The 10 strongest spectral peaks, parabolically interpolated on the dB spectrum.

    A peak is a bin above both neighbours (and above the 1e-5 floor). Missing peaks read
    0 Hz at -100 dB.

    :param S: magnitude spectrum from :func:`magnitude_spectrum`.
    :param S_db: its :func:`magnitude_db`, if already computed.
    :return: np.ndarray [shape=(n_frames, 20)]: 10 frequencies (Hz) by decreasing
        magnitude, then their 10 magnitudes (dB, 0 dB = full-scale sine).
    """
    db = magnitude_db(S) if S_db is None else S_db
    inner = db[:, 1:-1]
    is_peak = (inner > db[:, :-2]) & (inner >= db[:, 2:]) & (S[:, 1:-1] > MAG_FLOOR)
    score = np.where(is_peak, inner, -np.inf)
    rows = np.arange(len(score))
    top = np.empty((len(score), N_SINES), dtype=np.intp)
    found = np.empty((len(score), N_SINES), dtype=bool)
    for k in range(N_SINES):  # repeated argmax: sorted by magnitude, far cheaper than argpartition
        top[:, k] = np.argmax(score, axis=1)
        found[:, k] = np.isfinite(score[rows, top[:, k]])
        score[rows, top[:, k]] = -np.inf
    bins = top + 1
    a = np.take_along_axis(db, bins - 1, axis=1)
    b = np.take_along_axis(db, bins, axis=1)
    c = np.take_along_axis(db, bins + 1, axis=1)
    denom = a - 2.0 * b + c
    offset = np.where(denom < 0, 0.5 * (a - c) / np.where(denom < 0, denom, 1.0), 0.0)
    freqs = np.where(found, (bins + offset) * sr / window, 0.0)
    mags = np.where(found, b - 0.25 * (a - c) * offset, DB_FLOOR)
    return np.concatenate([freqs, mags], axis=1)
