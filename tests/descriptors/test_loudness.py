import numpy as np
import pytest

from rlimpro.descriptors import loudness, truepeak
from rlimpro.descriptors.loudness import k_weighting
from tests.conftest import sine


def test_k_weighting_matches_the_published_48k_coefficients():
    # ITU-R BS.1770-4, tables 1 and 2
    sos = k_weighting(48000)
    np.testing.assert_allclose(sos[0, :3], [1.53512485958697, -2.69169618940638, 1.19839281085285], atol=1e-9)
    np.testing.assert_allclose(sos[0, 4:], [-1.69065929318241, 0.73248077421585], atol=1e-9)
    np.testing.assert_allclose(sos[1, 4:], [-1.99004745483398, 0.99007225036621], atol=1e-9)


def test_1khz_sine_at_minus_20_dbfs_reads_minus_23_lufs():
    lufs = loudness(y=sine(1000, amp=0.1, seconds=2))
    assert np.median(lufs) == pytest.approx(-23.0, abs=0.1)


def test_loudness_follows_level_in_decibels():
    quiet = np.median(loudness(y=sine(1000, amp=0.01)))
    loud = np.median(loudness(y=sine(1000, amp=0.1)))
    assert loud - quiet == pytest.approx(20.0, abs=0.05)


def test_true_peak_finds_the_peak_between_samples():
    # a sine at sr/4 with 45° phase: every sample is at ±0.707·A, the true peak is A
    y = sine(44100 / 4, amp=0.5, phase=np.pi / 4)
    sample_peak_db = 20 * np.log10(np.abs(y).max())
    tp = np.median(truepeak(y=y))
    assert sample_peak_db == pytest.approx(-9.03, abs=0.05)
    assert tp == pytest.approx(20 * np.log10(0.5), abs=0.3)


def test_silence_gives_the_floor():
    assert set(loudness(y=np.zeros(4096))) == {-150.0}
    assert set(truepeak(y=np.zeros(4096))) == {-150.0}
