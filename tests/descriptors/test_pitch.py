import numpy as np
import pytest

from rlimpro.descriptors import NAMES, compute
from tests.conftest import saw, sine


@pytest.mark.parametrize("freq", [110.0, 220.0, 440.0, 1000.0, 3000.0])
def test_pitch_of_a_saw(freq):
    table = compute(saw(freq))
    assert np.median(table[:, NAMES.index("pitch")]) == pytest.approx(freq, rel=0.01)
    assert np.median(table[:, NAMES.index("pitch_confidence")]) > 0.8


def test_noise_has_low_confidence_and_silence_none():
    noise = compute(np.random.default_rng(0).uniform(-0.5, 0.5, 44100))
    assert np.median(noise[:, NAMES.index("pitch_confidence")]) < 0.5
    silent = compute(np.zeros(4096))
    assert (silent[:, NAMES.index("pitch")] == 0).all()
    assert (silent[:, NAMES.index("pitch_confidence")] == 0).all()


def test_pitch_of_a_sine_with_its_octave():
    y = sine(220, 0.3) + sine(440, 0.1)
    assert np.median(compute(y)[:, NAMES.index("pitch")]) == pytest.approx(220, rel=0.01)
