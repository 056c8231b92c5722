"""Real Pd renders of the shipped synths: sound everywhere, parameters do what they say."""

from __future__ import annotations

import subprocess
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from rlimpro.descriptors import NAMES
from rlimpro.lookup import summarise
from rlimpro.render import render_points
from rlimpro.synth import load_synth

from tests.synth.conftest import RLIMPRO

pytestmark = pytest.mark.slow
REPO = Path(__file__).resolve().parents[2]
SR = 44100


def features(synth_name: str, points: list[list[float]]) -> dict[str, np.ndarray]:
    """Mean descriptors after settling, per point, by column name."""
    synth = load_synth(REPO / "00_synths" / synth_name)
    audio = render_points(synth, np.array(points), sr=SR)
    rows = np.stack([summarise(y, sr=SR, window=1024, hop=512, settle_s=synth.settle_s) for y in audio])
    return {name: rows[:, i] for i, name in enumerate(NAMES)}


@pytest.mark.parametrize("name", ["sine", "fm", "granular", "subtractive"])
def test_renders_finite_sound_at_the_corners(name: str) -> None:
    synth = load_synth(REPO / "00_synths" / name)
    points = np.array([[0.0] * synth.n_params, [1.0] * synth.n_params, [0.5] * synth.n_params])
    audio = render_points(synth, points, sr=SR)
    assert audio.shape == (3, synth.point_samples(SR))
    assert np.isfinite(audio).all()
    settled = audio[:, int(synth.settle_s * SR):]
    assert (np.abs(settled).max(axis=1) > 1e-3).all()
    assert np.abs(audio).max() < 1.0


@pytest.mark.parametrize("name, pitch, amp", [("sine", 0, 1), ("fm", 0, 3)])
def test_pitch_moves_centroid_and_pitch_amplitude_moves_loudness(name: str, pitch: int, amp: int) -> None:
    n = 2 if name == "sine" else 4
    base = [0.5] * n
    low, high, quiet = list(base), list(base), list(base)
    low[pitch], high[pitch], quiet[amp] = 0.2, 0.8, 0.0
    f = features(name, [low, high, base, quiet])
    assert f["centroid"][1] > 2 * f["centroid"][0]
    assert f["pitch"][1] > 2 * f["pitch"][0]
    assert f["loudness"][2] > f["loudness"][3] + 10


def test_subtractive_cutoff_brightens_and_granular_pitch_transposes() -> None:
    f = features("subtractive", [[0.3, 0.2, 0.3, 0.8], [0.3, 0.8, 0.3, 0.8], [0.3, 0.5, 0.3, 0.0]])
    assert f["centroid"][1] > 2 * f["centroid"][0]
    assert f["loudness"][0] > f["loudness"][2] + 10
    g = features("granular", [[0.8, 0.3, 0.6, 0.2], [0.8, 0.3, 0.6, 0.8]])
    assert g["centroid"][1] > 1.5 * g["centroid"][0]


def test_render_command_writes_a_wav_and_a_sweep(synth_project: Path) -> None:
    out = synth_project / "one.wav"
    run = subprocess.run([RLIMPRO, "render", "--synth", "sine", "--params", "0.2,0.5", "-o", str(out)],
                         cwd=synth_project, capture_output=True, text=True)
    assert run.returncode == 0, run.stderr
    y, sr = sf.read(out)
    assert sr == SR and len(y) == load_synth(REPO / "00_synths" / "sine").point_samples(SR)
    sweep = synth_project / "sweep.wav"
    run = subprocess.run([RLIMPRO, "render", "-s", "fm", "-p", "0,0.5,0.2,1", "--sweep", "1,0.5,0.2,1",
                          "--seconds", "1", "-o", str(sweep)], cwd=synth_project, capture_output=True, text=True)
    assert run.returncode == 0, run.stderr
    y, _ = sf.read(sweep)
    assert abs(len(y) - SR) < 0.06 * SR
    first, last = y[: SR // 5], y[-SR // 5:]
    crossings = [np.count_nonzero(np.diff(np.sign(part))) for part in (first, last)]
    assert crossings[1] > 8 * crossings[0]  # the pitch went up 5 octaves


def test_render_rejects_a_wrong_param_count_in_one_line(synth_project: Path) -> None:
    run = subprocess.run([RLIMPRO, "render", "--synth", "fm", "--params", "0.2,0.5", "-o", "x.wav"],
                         cwd=synth_project, capture_output=True, text=True)
    assert run.returncode == 1
    assert "expected 4 values" in run.stderr and "Traceback" not in run.stderr
    assert len(run.stderr.strip().splitlines()) <= 3


@pytest.mark.parametrize("name", ["subtractive", "granular"])
def test_a_point_sounds_the_same_alone_or_late_in_a_chunk(name: str) -> None:
    synth = load_synth(REPO / "00_synths" / name)
    point = [0.7, 0.6, 0.5, 0.8]
    chunk = render_points(synth, np.array([[0.1, 0.9, 0.2, 0.3], [1.0, 0.0, 1.0, 0.5], point]), sr=SR)
    alone = render_points(synth, np.array([point]), sr=SR)
    np.testing.assert_array_equal(chunk[2], alone[0])
    assert not np.array_equal(chunk[1], alone[0])
