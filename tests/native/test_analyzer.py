"""The C descriptor core against the numpy reference: framing, streaming, published tolerances."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from tests.native.signals import SR, pure_signals, stress_signals

from rlimpro.audio import load_audio
from rlimpro.descriptors import NAMES, compute, n_frames, native
from rlimpro.descriptors.parity import RANKED, TOLERANCES, failing
from rlimpro.errors import RlimproError

REPO = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.skipif(not native.available(), reason="run `make native`")


def test_the_generated_names_header_is_up_to_date() -> None:
    stale = subprocess.run([sys.executable, "tools/gen_native_header.py", "--check"], cwd=REPO)
    assert stale.returncode == 0, "native/descriptor_names.h is stale: run python tools/gen_native_header.py"


@pytest.mark.parametrize("name", sorted(stress_signals()))
def test_stress_signals_agree_within_the_published_tolerances(name: str) -> None:
    y = stress_signals()[name]
    c, reference = compute(y, engine="c"), compute(y, engine="numpy")
    assert c.shape == reference.shape == (n_frames(len(y)), len(NAMES))
    assert np.isfinite(c).all()
    exempt = set(RANKED) if name == "clicks" else set()  # an exactly flat spectrum: every bin ties
    assert set(failing(c, reference)) <= exempt


def test_recordings_agree_within_the_published_tolerances() -> None:
    for path in sorted((REPO / "01_corpus" / "demo" / "audio").glob("*.ogg")):
        y = load_audio(path)
        assert failing(compute(y, engine="c"), compute(y, engine="numpy")) == {}, path.name


def test_known_answers() -> None:
    signals = pure_signals()
    silence = compute(signals["silence"], engine="c")
    assert (silence[:, :2] == -150).all()
    assert (silence[:, NAMES.index("centroid")] == 0).all()
    np.testing.assert_allclose(silence[:, NAMES.index("chroma_A")], 1 / 12)
    tone = compute(signals["sine 1 kHz"], engine="c")
    np.testing.assert_allclose(tone[:, NAMES.index("sine_freq_0")], 1000, atol=2)
    np.testing.assert_allclose(tone[:, NAMES.index("sine_mag_0")], 20 * np.log10(0.5), atol=0.1)
    np.testing.assert_allclose(tone[:, NAMES.index("pitch")], 1000, rtol=1e-3)
    np.testing.assert_allclose(tone[:, NAMES.index("truepeak")], 20 * np.log10(0.5), atol=0.05)
    short = compute(signals["700 samples"], engine="c")
    assert short.shape == (1, 56) and short[0, 1] > -7
    for name, y in signals.items():
        c, reference = compute(y, engine="c"), compute(y, engine="numpy")
        assert failing(c, reference) == {}, name


def test_any_block_sizes_give_the_frames_of_one_call() -> None:
    y = stress_signals()["vibrato harmonics"]
    whole = native.compute(y)
    rng = np.random.default_rng(7)
    analyzer = native.Analyzer()
    parts, start = [], 0
    while start < len(y):
        size = int(rng.choice([1, 3, 64, 511, 512, 513, 1024, 4096, 20000]))
        parts.append(analyzer.push(y[start:start + size]))
        start += size
    parts.append(analyzer.push(np.zeros(1024 + analyzer.latency, np.float32)))
    streamed = np.concatenate(parts)[: len(whole)]
    np.testing.assert_array_equal(streamed, whole)


def test_reset_restarts_the_framing() -> None:
    y = stress_signals()["noise"][:5000]
    analyzer = native.Analyzer()
    first = analyzer.push(y)
    analyzer.push(np.ones(777, np.float32))
    analyzer.reset()
    np.testing.assert_array_equal(analyzer.push(y), first)


def test_non_finite_samples_count_as_zero() -> None:
    y = stress_signals()["noise"][:8000].copy()
    dirty = y.copy()
    dirty[100], dirty[2000], dirty[5000] = np.nan, np.inf, -np.inf
    clean = y.copy()
    clean[[100, 2000, 5000]] = 0
    np.testing.assert_array_equal(compute(dirty, engine="c"), compute(clean, engine="c"))
    np.testing.assert_array_equal(compute(dirty, engine="numpy"), compute(clean, engine="numpy"))


def test_48k_input_is_resampled_to_the_44k1_frames() -> None:
    from scipy import signal

    y = stress_signals()["vibrato harmonics"]
    y48 = signal.resample_poly(y, 160, 147).astype(np.float32)
    analyzer = native.Analyzer(48000)
    assert analyzer.resampling
    frames = np.concatenate([analyzer.push(y48), analyzer.push(np.zeros(2048, np.float32))])
    reference = compute(y, engine="c")
    n = len(reference)
    assert len(frames) >= n
    loud, centroid = NAMES.index("loudness"), NAMES.index("centroid")
    assert np.abs(frames[:n, loud] - reference[:, loud]).max() < 0.1  # dB
    assert np.median(np.abs(frames[:n, centroid] - reference[:, centroid]) / reference[:, centroid]) < 0.01


@pytest.mark.parametrize("rate", [8000, 16000, 22049])
def test_rates_below_22050_are_refused_with_one_line(rate: int) -> None:
    with pytest.raises(RlimproError, match=rf"sample rate {rate} Hz is not supported.*at least 22050"):
        native.Analyzer(rate)


def test_an_unknown_engine_is_refused() -> None:
    with pytest.raises(RlimproError, match="unknown descriptor engine 'fast'"):
        compute(np.zeros(2000), engine="fast")


def test_every_descriptor_has_a_tolerance() -> None:
    assert list(TOLERANCES) == NAMES


def test_the_docs_publish_these_tolerances() -> None:
    from rlimpro.descriptors.parity import markdown_table

    assert markdown_table() in (REPO / "docs" / "descriptors.md").read_text()


def test_users_can_check_their_own_recordings(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    import soundfile as sf

    from rlimpro.descriptors.parity import main

    sf.write(tmp_path / "take.wav", stress_signals()["vibrato harmonics"], SR)
    assert main([str(tmp_path / "take.wav")]) == 0
    assert "take.wav: all 56 descriptors within tolerance" in capsys.readouterr().out
