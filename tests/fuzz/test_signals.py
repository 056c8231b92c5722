"""Hostile signals into the C descriptor core and ``[rlimpro_features~]``: every output finite.

NaN, ±inf, denormals, float32's largest values, clipping, DC, clicks and silence, pushed in
every block size from 1 to 64 samples and in odd and large blocks beyond, at the analysis rate
and at host rates the core resamples; then the same file played through ``[rlimpro_features~]``
in a real batch Pd.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from rlimpro.descriptors import native
from rlimpro.live.play import FEATURES_EXTERNAL
from tests.fuzz import tally
from tests.native.pd_probe import pd_features

SR = 44100
BLOCKS = [*range(1, 65), 100, 127, 511, 512, 513, 1023, 1024, 1025, 4096, 8191, 44100]


def hostile(seconds: float = 0.5, sr: int = SR) -> dict[str, np.ndarray]:
    """Named float32 signals no microphone should send, but a broken driver or patch can."""
    n = int(seconds * sr)
    rng = np.random.default_rng(11)
    t = np.arange(n) / sr
    tone = (0.5 * np.sin(2 * np.pi * 440 * t)).astype(np.float32)
    sprinkled = tone.copy()
    sprinkled[rng.integers(0, n, 40)] = np.array([np.nan, np.inf, -np.inf, 3.4e38], np.float32)[rng.integers(0, 4, 40)]
    clicks = np.zeros(n, np.float32)
    clicks[:: sr // 20] = 1.0
    signals = {
        "silence": np.zeros(n, np.float32),
        "all NaN": np.full(n, np.nan, np.float32),
        "all +inf": np.full(n, np.inf, np.float32),
        "NaN and inf sprinkled in a tone": sprinkled,
        "denormals": np.full(n, 1e-42, np.float32) * np.sign(rng.standard_normal(n)).astype(np.float32),
        "float32 max, alternating": (np.float32(3.4e38) * np.sign(np.sin(2 * np.pi * 1000 * t))).astype(np.float32),
        "1e30 noise": (1e30 * rng.standard_normal(n)).astype(np.float32),
        "clipped square": np.clip(10 * np.sign(np.sin(2 * np.pi * 220 * t)), -1, 1).astype(np.float32),
        "DC +1": np.ones(n, np.float32),
        "DC -1": -np.ones(n, np.float32),
        "clicks": clicks,
        "full-scale white noise": np.clip(rng.standard_normal(n), -1, 1).astype(np.float32),
    }
    return signals


def pushed(y: np.ndarray, block: int, host_sr: int = SR) -> np.ndarray:
    """The frames of ``y`` pushed ``block`` samples at a time."""
    analyzer = native.Analyzer(host_sr)
    try:
        frames = [analyzer.push(y[i:i + block]) for i in range(0, len(y), block)]
    finally:
        analyzer.close()
    return np.concatenate(frames)


@pytest.mark.skipif(not native.available(), reason="run `make native`")
@pytest.mark.parametrize("name", list(hostile()))
def test_c_core_is_finite_in_every_block_size(name: str) -> None:
    y = hostile(0.2)[name]
    whole = pushed(y, len(y))
    assert np.isfinite(whole).all(), name
    for block in BLOCKS:
        frames = pushed(y, block)
        np.testing.assert_array_equal(frames, whole, err_msg=f"{name}, blocks of {block}")  # streaming = one call
    tally.add("signal blocks fuzzed", sum(-(-len(y) // b) for b in BLOCKS))


@pytest.mark.skipif(not native.available(), reason="run `make native`")
@pytest.mark.parametrize("host_sr", [22050, 48000, 96000, 192000])
def test_resampling_core_is_finite_in_every_block_size(host_sr: int) -> None:
    """The resampler path of rd_push, with blocks that end anywhere in its history buffer."""
    count = 0
    for name, y in hostile(0.3, host_sr).items():
        whole = pushed(y, len(y), host_sr)
        assert len(whole) > 0 and np.isfinite(whole).all(), name
        for block in (1, 7, 64, 333, 4096, 5000):
            np.testing.assert_array_equal(pushed(y, block, host_sr), whole, err_msg=f"{name} at {host_sr}, {block}")
            count += -(-len(y) // block)
    tally.add("signal blocks fuzzed", count)


@pytest.mark.skipif(not FEATURES_EXTERNAL.is_file(), reason="run `make externals`")
def test_features_object_is_finite_on_hostile_signals(tmp_path: Path) -> None:
    """All the signals one after the other through [rlimpro_features~] (all 56 descriptors)."""
    y = np.concatenate(list(hostile(0.25).values()))
    lists, console = pd_features(y, tmp_path)
    assert len(lists) >= len(y) // 512 - 2, console
    assert np.isfinite(lists).all(), console
    tally.add("signal blocks fuzzed", len(y) // 64)
