import numpy as np
import pytest

from rlimpro.descriptors import NAMES, compute
from tests.conftest import sine


def col(table: np.ndarray, name: str) -> np.ndarray:
    return table[:, NAMES.index(name)]


def test_440_sine_centroid_and_chroma():
    table = compute(sine(440))
    assert np.median(col(table, "centroid")) == pytest.approx(440, abs=5)
    chroma = np.median(table[:, NAMES.index("chroma_A") : NAMES.index("chroma_Gs") + 1], axis=0)
    assert NAMES[NAMES.index("chroma_A") + int(np.argmax(chroma))] == "chroma_A"
    assert chroma.sum() == pytest.approx(1.0)


def test_chroma_moves_with_the_note():
    c5 = compute(sine(523.25))  # C5
    chroma = np.median(c5[:, NAMES.index("chroma_A") : NAMES.index("chroma_Gs") + 1], axis=0)
    assert int(np.argmax(chroma)) == 3  # A, A#, B, C


def test_white_noise_is_much_flatter_than_a_sine():
    noise = np.random.default_rng(0).uniform(-0.5, 0.5, 44100)
    flat_noise = np.median(col(compute(noise), "flatness"))
    flat_sine = np.median(col(compute(sine(1000)), "flatness"))
    assert flat_noise > -3.0
    assert flat_sine < -25.0
    assert np.median(col(compute(noise), "crest")) < np.median(col(compute(sine(1000)), "crest"))


def test_rolloff_and_spread_of_a_pure_tone_stay_near_it():
    table = compute(sine(2000))
    assert np.median(col(table, "rolloff")) == pytest.approx(2000, abs=100)
    assert np.median(col(table, "spread")) < 100


def test_sines_find_the_three_partials_by_magnitude():
    partials = [(300.0, 0.4), (750.0, 0.2), (1800.0, 0.1)]
    y = sum(sine(f, a) for f, a in partials)
    table = np.median(compute(y), axis=0)
    freqs = table[NAMES.index("sine_freq_0") : NAMES.index("sine_freq_0") + 3]
    mags = table[NAMES.index("sine_mag_0") : NAMES.index("sine_mag_0") + 3]
    np.testing.assert_allclose(freqs, [f for f, _ in partials], atol=3.0)
    np.testing.assert_allclose(mags, [20 * np.log10(a) for _, a in partials], atol=0.5)


def test_silence_and_dc_give_finite_floors():
    silent = compute(np.zeros(8192))
    assert np.isfinite(silent).all()
    assert (col(silent, "centroid") == 0).all() and (col(silent, "flatness") == 0).all()
    assert (col(silent, "sine_mag_0") == -100).all() and (col(silent, "sine_freq_0") == 0).all()
    assert np.allclose(silent[:, NAMES.index("chroma_A") : NAMES.index("chroma_Gs") + 1], 1 / 12)
    assert col(silent, "mfcc_0")[0] == pytest.approx(-100 * np.sqrt(40))
    dc = compute(np.full(8192, 0.5))
    assert np.isfinite(dc).all()
    assert (col(dc, "pitch_confidence") == 0).all()


def test_mfcc_tell_timbres_apart():
    tone = np.median(compute(sine(440))[:, 2:15], axis=0)
    noise = np.median(compute(np.random.default_rng(1).uniform(-0.5, 0.5, 44100))[:, 2:15], axis=0)
    assert np.linalg.norm(tone - noise) > 50
