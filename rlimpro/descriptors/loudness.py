"""Loudness (ITU-R BS.1770 K-weighted, LUFS) and 4× oversampled true peak (dBFS), per frame."""

from __future__ import annotations

import numpy as np
from scipy import signal

from rlimpro.descriptors.framing import HOP, SR, WINDOW, block_reduce_pairs, n_frames, pad
from rlimpro.descriptors.names import LEVEL_FLOOR

__all__ = ["k_weighting", "loudness", "truepeak", "TRUEPEAK_TAPS"]

#: 4× oversampling interpolation filter (49 taps, integer group delay of 24 samples)
TRUEPEAK_TAPS: np.ndarray = signal.firwin(49, 0.25) * 4


def k_weighting(sr: int = SR) -> np.ndarray:
    """Second-order sections of the BS.1770 K-weighting filter at sample rate ``sr``.

    Stage 1 is the +4 dB high shelf (head model), stage 2 the RLB high-pass; the analog
    prototypes are bilinear-transformed for any rate (at 48 kHz they give the standard's
    published coefficients).

    :return: ``sos`` array [shape=(2, 6)] for :func:`scipy.signal.sosfilt`.
    """
    gain_db, q1, fc1 = 3.999843853973347, 0.7071752369554196, 1681.974450955533
    k = np.tan(np.pi * fc1 / sr)
    vh = 10 ** (gain_db / 20)
    vb = vh ** 0.4996667741545416
    a0 = 1 + k / q1 + k * k
    shelf = [(vh + vb * k / q1 + k * k) / a0, 2 * (k * k - vh) / a0, (vh - vb * k / q1 + k * k) / a0,
             1.0, 2 * (k * k - 1) / a0, (1 - k / q1 + k * k) / a0]
    q2, fc2 = 0.5003270373238773, 38.13547087602444
    k = np.tan(np.pi * fc2 / sr)
    a0 = 1 + k / q2 + k * k
    highpass = [1.0, -2.0, 1.0, 1.0, 2 * (k * k - 1) / a0, (1 - k / q2 + k * k) / a0]
    return np.array([shelf, highpass])


def _to_db(power_or_amp: np.ndarray, factor: float, offset: float = 0.0) -> np.ndarray:
    with np.errstate(divide="ignore"):
        level = offset + factor * np.log10(power_or_amp)
    return np.maximum(np.nan_to_num(level, nan=LEVEL_FLOOR, neginf=LEVEL_FLOOR), LEVEL_FLOOR)


def loudness(*, y: np.ndarray, sr: int = SR, window: int = WINDOW, hop: int = HOP) -> np.ndarray:
    """Momentary K-weighted loudness of each frame.

    The whole signal is K-weighted once (filter state carried across frames); each frame's
    value is ``-0.691 + 10·log10(mean square)`` of the UN-windowed filtered frame.

    :param y: np.ndarray [shape=(n,)], mono signal in [-1, 1].
    :return: np.ndarray [shape=(n_frames,)], LUFS, floored at -150.
    """
    n = n_frames(len(y), window=window, hop=hop)
    filtered = signal.sosfilt(k_weighting(sr), pad(np.asarray(y, dtype=np.float64), window=window, hop=hop))
    mean_square = block_reduce_pairs(filtered * filtered, n, window=window, hop=hop, ufunc=np.add) / window
    return _to_db(mean_square, 10.0, -0.691)


def _oversample4(x: np.ndarray, block: int = 16384) -> np.ndarray:
    """``x`` at 4× the rate with :data:`TRUEPEAK_TAPS` (zero-phase), as [4, n] phases.

    Column ``n`` holds the interpolated values at times ``n, n+¼, n+½, n+¾``; the polyphase
    filter runs as one small matrix product per cache-sized block (float32).
    """
    reach = (len(TRUEPEAK_TAPS) - 1) // 8  # 6 input samples either side
    taps = np.concatenate([TRUEPEAK_TAPS, np.zeros(4)])
    centre = 4 * reach
    phases = np.array([[taps[2 * centre - 4 * i + p] for i in range(2 * reach + 1)] for p in range(4)], dtype=np.float32)
    padded = np.concatenate([np.zeros(reach), x, np.zeros(reach)]).astype(np.float32)
    out = np.empty((4, len(x)), dtype=np.float32)
    for start in range(0, len(x), block):
        stop = min(start + block, len(x))
        shifted = np.stack([padded[start + i : stop + i] for i in range(2 * reach + 1)])  # [13, block]
        np.matmul(phases, shifted, out=out[:, start:stop])
    return out


def truepeak(*, y: np.ndarray, window: int = WINDOW, hop: int = HOP) -> np.ndarray:
    """True peak of each frame: max |y| of the signal upsampled 4× (49-tap interpolator).

    :param y: np.ndarray [shape=(n,)], mono signal.
    :return: np.ndarray [shape=(n_frames,)], dBFS, floored at -150.
    """
    n = n_frames(len(y), window=window, hop=hop)
    needed = (n - 1) * hop + window
    reach = (len(TRUEPEAK_TAPS) - 1) // 8
    # the frames' samples plus the interpolator's reach beyond the last one (zeros past the
    # end): a stream followed by silence reads exactly these, so the C core streams the same
    x = np.zeros(needed + reach)
    x[: min(len(y), needed + reach)] = np.asarray(y, dtype=np.float64)[: needed + reach]
    up = _oversample4(x)[:, :needed]
    per_sample = np.maximum(up.max(axis=0), -up.min(axis=0))  # max |value| over each sample's 4 phases
    peaks = block_reduce_pairs(per_sample, n, window=window, hop=hop, ufunc=np.maximum)
    return _to_db(peaks.astype(np.float64), 20.0)
