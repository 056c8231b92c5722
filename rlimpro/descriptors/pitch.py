"""Fundamental frequency by YIN on the power spectrum (the YinFFT variant FluCoMa uses)."""

from __future__ import annotations

import functools

import numpy as np
from scipy import fft

from rlimpro.descriptors.framing import SR, WINDOW, hann

__all__ = ["pitch", "FMIN", "FMAX", "THRESHOLD"]

FMIN, FMAX = 20.0, 10000.0
THRESHOLD = 0.15
_SILENCE = 1e-10


@functools.lru_cache(maxsize=4)
def _window_acf(window: int) -> np.ndarray:
    """Normalised autocorrelation of the Hann window: divides out its taper (Boersma 1993)."""
    w = hann(window)
    r = fft.irfft(np.abs(fft.rfft(w, n=2 * window)) ** 2, n=2 * window)[:window]
    return (r / r[0]).astype(np.float32)


def pitch(*, S: np.ndarray, sr: int = SR, window: int = WINDOW) -> np.ndarray:
    """YIN pitch and confidence of each frame, from the shared magnitude spectrum.

    The autocorrelation r(τ) is the inverse FFT of the power spectrum; YIN's difference
    function is d(τ) = 2·(r(0) − r(τ)) after dividing out the window's own autocorrelation,
    cumulative-mean normalised; the first dip under
    0.15 (else the global minimum) is refined by parabolic interpolation. Lags reach half
    the window, so the lowest detectable pitch is ``2·sr / window`` (86 Hz at 44.1 kHz /
    1024) within the nominal 20–10000 Hz; silence and DC give 0 Hz with confidence 0.

    :param S: np.ndarray [shape=(n_frames, window // 2 + 1)], magnitude spectrum from
        :func:`rlimpro.descriptors.magnitude_spectrum`.
    :return: np.ndarray [shape=(n_frames, 2)]: pitch (Hz), confidence in [0, 1].
    """
    power = S * S
    power[:, 0] = 0.0  # DC carries no pitch
    tau_min = max(2, int(np.floor(sr / FMAX)))
    tau_max = min(window // 2 - 1, int(np.ceil(sr / FMIN)))
    acf = fft.irfft(power, n=window, axis=1)[:, : tau_max + 2] / _window_acf(window)[: tau_max + 2]
    diff = 2.0 * (acf[:, :1] - acf)
    cumulative = np.cumsum(diff[:, 1:], axis=1) / np.arange(1, tau_max + 2, dtype=np.float32)
    cmnd = np.ones_like(diff)
    cmnd[:, 1:] = diff[:, 1:] / np.maximum(cumulative, 1e-30)

    search = cmnd[:, tau_min : tau_max + 1]
    below = search < THRESHOLD
    dip_start = np.where(below.any(axis=1), np.argmax(below, axis=1), np.argmin(search, axis=1))
    rows = np.arange(len(cmnd))
    best = dip_start + tau_min
    for _ in range(tau_max):  # walk down the dip to its local minimum (a few lags at most)
        step = (best < tau_max) & (cmnd[rows, best + 1] < cmnd[rows, best])
        if not step.any():
            break
        best += step
    a, b, c = cmnd[rows, best - 1], cmnd[rows, best], cmnd[rows, best + 1]
    denom = a - 2.0 * b + c
    shift = np.clip(np.where(denom > 0, 0.5 * (a - c) / np.where(denom > 0, denom, 1.0), 0.0), -1.0, 1.0)
    f0 = np.clip(sr / (best + shift), FMIN, FMAX)
    confidence = np.clip(1.0 - (b - 0.25 * (a - c) * shift), 0.0, 1.0)
    silent = acf[:, 0] < _SILENCE
    return np.stack([np.where(silent, 0.0, f0), np.where(silent, 0.0, confidence)], axis=1)
