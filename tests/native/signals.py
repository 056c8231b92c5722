"""Known-answer and stress signals for the C core: not tuned to any corpus."""

from __future__ import annotations

import numpy as np

SR = 44100


def stress_signals(seed: int = 1) -> dict[str, np.ndarray]:
    """Named mono float32 signals at 44.1 kHz: tones, noise, transients, steps, edge cases.

    Each tonal signal carries a −90 dBFS noise floor, as any recording does; the pure tones
    without one are :func:`pure_signals`.
    """
    rng = np.random.default_rng(seed)
    t = np.arange(SR * 2) / SR
    floor = 10 ** (-90 / 20) * rng.standard_normal(len(t))
    f = 200 * 2 ** (2 * np.sin(2 * np.pi * 0.5 * t))
    steps = (np.arange(len(t)) // 11025) % 2
    clicks = np.zeros(len(t))
    clicks[::4410] = 0.9
    signals = {
        "noise": 0.3 * rng.standard_normal(len(t)),
        "quiet noise": 1e-4 * rng.standard_normal(len(t)),
        "vibrato harmonics": sum(0.3 / k * np.sin(2 * np.pi * k * np.cumsum(f) / SR) for k in range(1, 8)) + floor,
        "chirp 30 Hz-18 kHz": 0.5 * np.sin(2 * np.pi * np.cumsum(np.geomspace(30, 18000, len(t))) / SR) + floor,
        "clicks": clicks + floor,
        "clipped square": np.clip(3 * np.sign(np.sin(2 * np.pi * 330 * t)), -1, 1),
        "gated sine": steps * 0.5 * np.sin(2 * np.pi * 440 * t) + floor,
        "low sine + floor": 0.3 * np.sin(2 * np.pi * 55 * t) + floor,
    }
    return {name: y.astype(np.float32) for name, y in signals.items()}


def pure_signals() -> dict[str, np.ndarray]:
    """Edge cases with exact answers: silence, DC, a pure sine, a file shorter than a window."""
    t = np.arange(SR) / SR
    return {
        "silence": np.zeros(SR, np.float32),
        "dc": np.full(SR, 0.25, np.float32),
        "sine 1 kHz": (0.5 * np.sin(2 * np.pi * 1000 * t)).astype(np.float32),
        "700 samples": (0.5 * np.sin(2 * np.pi * 700 * np.arange(700) / SR)).astype(np.float32),
    }
