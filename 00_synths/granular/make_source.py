"""Regenerate ``source.wav``, the granular synth's source sound (deterministic, ~130 KB).

1.5 s at 44.1 kHz: three harmonic tones (A3, D4, E3) whose spectrum brightens from dark to
bright over the file while breath noise fades in, so the ``position`` parameter moves through
pitch, brightness and noisiness. Run ``python make_source.py`` in this folder.
"""

from pathlib import Path

import numpy as np
import soundfile as sf

SR = 44100
SECONDS = 1.5


def make_source() -> np.ndarray:
    """The source signal, float64 mono, peak 0.9."""
    t = np.arange(int(SR * SECONDS)) / SR
    u = t / SECONDS
    f0 = np.select([t < 0.5, t < 1.0], [220.0, 293.66], 164.81)
    f0 = np.convolve(f0, np.ones(441) / 441, mode="same")  # 10 ms glides between notes
    f0 = f0 * (1 + 0.004 * np.sin(2 * np.pi * 5.0 * t))  # gentle vibrato
    phase = 2 * np.pi * np.cumsum(f0) / SR
    tilt = 2.0 - 1.5 * u  # partial n has amplitude n^-tilt: dark -> bright
    tone = np.zeros_like(t)
    for n in range(1, 40):
        tone += np.where(n * f0 < 16000, n ** -tilt, 0.0) * np.sin(n * phase)
    noise = np.random.default_rng(2024).standard_normal(len(t))
    noise = np.convolve(noise, [0.25, 0.5, 0.25], mode="same")  # soften the top octave
    y = tone / np.abs(tone).max() + 0.5 * u**2 * noise / np.abs(noise).max()
    return 0.9 * y / np.abs(y).max()


if __name__ == "__main__":
    sf.write(Path(__file__).with_name("source.wav"), make_source(), SR, subtype="PCM_16")
