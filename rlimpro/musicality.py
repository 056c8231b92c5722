"""Musical measures of a played trajectory (docs/training.md).

Small pure numpy functions over one held-out track, and their frame-weighted combination
across tracks. Conventions (those of :func:`rlimpro.evaluate.rollout`): ``targets`` and
``feats`` are ``[T, F]`` in z units of the run's normalisation, ``feats[t]`` is what the
policy plays after seeing ``targets[t]``; ``params`` is ``[T + 1, N]``: the start point, then
the params played at each of the T frames, so frame t's move is ``params[t + 1] - params[t]``.

- **moves/s**: frames in which any parameter changes, per second over all frames.
- **reversals/s on steady frames**: a reversal is a parameter moving in the opposite sign to
  its own previous nonzero move (each parameter that reverses counts once); steady frames are
  those whose target RMS change from the previous frame is below the track's median; the
  reversals on steady frames per second of steady frames.
- **lag** (frames, positive = the policy is late): the peak within ``±max_lag`` of the
  cross-covariance of the policy's features with the target's, averaged over the features
  (z units, so each feature weighs the same and a feature the policy leaves constant adds
  nothing); across tracks the curves are averaged frame-weighted before taking the peak.
- **nRMSE against the smoothed target**: as nRMSE, against a centred 9-frame (~100 ms) mean.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import numpy as np

__all__ = ["MAX_LAG", "SMOOTH_FRAMES", "moved", "reversals", "target_change", "steady_frames", "smooth",
           "cross_covariance", "peak_lag", "track_tally", "combine"]

#: lag search window (frames either side)
MAX_LAG = 20
#: centred mean of the smoothed target (9 frames x 512 / 44100 Hz = 104 ms)
SMOOTH_FRAMES = 9
#: a parameter change smaller than this is no move (float noise)
_TOL = 1e-9


def _moves(params: np.ndarray) -> np.ndarray:
    """Per-frame, per-parameter move sign ``[T, N]`` (-1, 0, +1) of ``params [T + 1, N]``."""
    d = np.diff(np.asarray(params, np.float64), axis=0)
    return np.where(np.abs(d) > _TOL, np.sign(d), 0.0).astype(np.int8)


def moved(params: np.ndarray) -> np.ndarray:
    """Frames in which any parameter changes.

    :param params: ``[T + 1, N]``: the start point, then the params of each frame.
    :return: bool ``[T]``.
    """
    return (_moves(params) != 0).any(axis=1)


def reversals(params: np.ndarray) -> np.ndarray:
    """Reversals per frame: parameters moving in the opposite sign to their own previous nonzero move.

    A parameter's first move is no reversal; holds between two moves do not reset it
    (``+, 0, -`` reverses at the ``-``).

    :param params: ``[T + 1, N]``: the start point, then the params of each frame.
    :return: int ``[T]``: how many parameters reverse at each frame.
    """
    s = _moves(params)
    last = np.zeros(s.shape[1], np.int8)
    out = np.zeros(len(s), np.int64)
    for t, row in enumerate(s):
        out[t] = int(np.count_nonzero(row * last < 0))
        last = np.where(row != 0, row, last)
    return out


def target_change(targets: np.ndarray) -> np.ndarray:
    """RMS change (over the features) of each target frame from the previous one; ``nan`` at frame 0.

    :param targets: ``[T, F]``.
    :return: ``[T]``.
    """
    y = np.asarray(targets, np.float64)
    change = np.full(len(y), np.nan)
    change[1:] = np.sqrt((np.diff(y, axis=0) ** 2).mean(axis=1))
    return change


def steady_frames(targets: np.ndarray) -> np.ndarray:
    """Frames whose :func:`target_change` is strictly below the track's median change (frame 0: never).

    :param targets: ``[T, F]``.
    :return: bool ``[T]``.
    """
    change = target_change(targets)
    if len(change) < 2:
        return np.zeros(len(change), bool)
    with np.errstate(invalid="ignore"):
        return change < np.median(change[1:])


def smooth(x: np.ndarray, width: int = SMOOTH_FRAMES) -> np.ndarray:
    """Centred moving mean over ``width`` frames (odd), along axis 0; at the edges, the mean of the frames there are.

    :param x: ``[T]`` or ``[T, F]``.
    :return: the same shape; a constant stays itself.
    """
    if width % 2 != 1:
        raise ValueError(f"smoothing width must be odd, got {width}")
    x = np.asarray(x, np.float64)
    flat = x.reshape(len(x), -1)
    h = width // 2
    c = np.concatenate([np.zeros((1, flat.shape[1])), np.cumsum(flat, axis=0)])
    hi = np.minimum(np.arange(len(x)) + h + 1, len(x))
    lo = np.maximum(np.arange(len(x)) - h, 0)
    return ((c[hi] - c[lo]) / (hi - lo)[:, None]).reshape(x.shape)


def cross_covariance(feats: np.ndarray, targets: np.ndarray, max_lag: int = MAX_LAG) -> np.ndarray:
    """Cross-covariance of ``feats`` with ``targets`` at lags ``-max_lag..max_lag``, averaged over the features.

    ``c[k + max_lag] = mean_f mean_t (a_f[t] - mean a_f) (y_f[t - k] - mean y_f)`` over the frames
    where both exist (means over the whole track): a policy that plays the target ``d`` frames
    late peaks at ``k = d``.

    :param feats: ``[T, F]`` (z units).
    :param targets: ``[T, F]`` (z units).
    :return: ``[2 * max_lag + 1]``; lags longer than the track give 0.
    """
    a = np.asarray(feats, np.float64).reshape(len(feats), -1)
    y = np.asarray(targets, np.float64).reshape(len(targets), -1)
    a, y = a - a.mean(axis=0), y - y.mean(axis=0)
    n = len(a)
    out = np.zeros(2 * max_lag + 1)
    for k in range(-max_lag, max_lag + 1):
        if abs(k) >= n:
            continue
        prod = a[k:] * y[:n - k] if k >= 0 else a[:n + k] * y[-k:]
        out[k + max_lag] = prod.mean()
    return out


def peak_lag(curve: np.ndarray, floor: float = 1e-9) -> int | None:
    """Lag (frames) of the peak of a :func:`cross_covariance` curve; ``None`` when no lag correlates (peak <= ``floor``).

    Ties go to the lag nearest 0.
    """
    curve = np.asarray(curve, np.float64)
    if not len(curve) or curve.max() <= floor:
        return None
    max_lag = len(curve) // 2
    lags = np.arange(-max_lag, max_lag + 1)
    best = np.flatnonzero(curve >= curve.max() - 1e-12 * abs(curve.max()))
    return int(lags[best[np.argmin(np.abs(lags[best]))]])


def track_tally(targets: np.ndarray, feats: np.ndarray, params: np.ndarray, max_lag: int = MAX_LAG,
                width: int = SMOOTH_FRAMES) -> dict[str, Any]:
    """Sums over one track that :func:`combine` turns into the measures.

    :param targets: ``[T, F]`` (z units).
    :param feats: ``[T, F]`` the policy's features (z units).
    :param params: ``[T + 1, N]``: the start point, then the params of each frame.
    :return: ``frames``, ``moves``, ``steady``, ``steady_reversals``, ``sq_smooth`` (sum of squared
        errors against the smoothed target), ``values`` (T * F) and ``xcov`` (the cross-covariance curve).
    """
    steady = steady_frames(targets)
    err = np.asarray(feats, np.float64) - smooth(targets, width)
    return {
        "frames": len(targets),
        "moves": int(moved(params).sum()),
        "steady": int(steady.sum()),
        "steady_reversals": int(reversals(params)[steady].sum()),
        "sq_smooth": float((err ** 2).sum()),
        "values": err.size,
        "xcov": cross_covariance(feats, targets, max_lag),
    }


def combine(tallies: Iterable[dict[str, Any]], fps: float) -> dict[str, float | int | None]:
    """Frame-weighted measures over tracks from their :func:`track_tally`.

    :param fps: frames per second (sr / hop).
    :return: ``nrmse_smooth``, ``moves_per_s``, ``reversals_per_s`` (on steady frames; ``None`` without
        steady frames) and ``lag_frames`` (``None`` when nothing correlates, e.g. ``hold``).
    """
    tallies = list(tallies)
    frames = sum(t["frames"] for t in tallies)
    steady = sum(t["steady"] for t in tallies)
    values = sum(t["values"] for t in tallies)
    xcov = sum(t["frames"] * t["xcov"] for t in tallies) / frames if frames else np.zeros(0)
    return {
        "nrmse_smooth": float(np.sqrt(sum(t["sq_smooth"] for t in tallies) / values)) if values else None,
        "moves_per_s": sum(t["moves"] for t in tallies) * fps / frames if frames else None,
        "reversals_per_s": sum(t["steady_reversals"] for t in tallies) * fps / steady if steady else None,
        "lag_frames": peak_lag(xcov),
    }
