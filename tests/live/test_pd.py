"""Pd plays with the server: the live patch (real Pd, real time) and the offline duet replay."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from rlimpro.audio import load_audio
from rlimpro.descriptors import compute, indices
from rlimpro.live.duet import play_policy, replay
from rlimpro.live.play import POLICY_EXTERNAL, play_live
from rlimpro.live.policy import Policy
from tests.live.conftest import build_policy, free_udp_port

REPO = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.slow


@pytest.fixture
def sine_project(tmp_path: Path) -> tuple[Path, Path, Path]:
    """(root with 00_synths/sine, a test policy for sine, a 2.5 s musician take)."""
    shutil.copytree(REPO / "00_synths" / "sine", tmp_path / "00_synths" / "sine",
                    ignore=shutil.ignore_patterns("lookup.parquet", "runs", "eval", "*.onnx"))
    model = build_policy(tmp_path / "sine.onnx", n_features=2, features="loudness,centroid", synth="sine")
    t = np.arange(int(2.5 * 44100)) / 44100
    take = tmp_path / "take.wav"
    sf.write(take, 0.3 * np.sin(2 * np.pi * (200 + 300 * t) * t) * (t < 2.0), 44100, subtype="FLOAT")
    return tmp_path, model, take


def _expected_trajectory(model: Path, take: Path) -> np.ndarray:
    policy = Policy(model)
    frames = compute(load_audio(take), sr=44100)[:, indices(list(policy.info.features))]
    return play_policy(policy, frames)[0]


def test_live_patch_exchanges_osc_with_the_server(sine_project: tuple[Path, Path, Path]) -> None:
    root, model, take = sine_project
    counts, console = play_live("sine", model, root=root, audio=take, port=0, reply_port=free_udp_port(),
                                gui=False, sound=False, seconds=1.5, verbose=True, write=lambda line: None)
    assert counts["resets"] == 1 and counts["pings"] == 1 and counts["dropped"] == 0
    assert counts["targets"] > 50 and counts["sent"] == counts["targets"]
    assert "rlimpro-pong: sine 2 2" in console
    received = np.array([[float(v) for v in line.split(":")[1].split()]
                         for line in console.splitlines() if line.startswith("rlimpro-params:")])
    expected = _expected_trajectory(model, take)
    # Pd streamed the frames in order from the first and applied every answer (Pd prints 6 digits)
    assert len(received) >= counts["sent"] - 3  # the last replies may still be in flight at quit
    np.testing.assert_allclose(received[:100], expected[: min(100, len(received))], atol=1e-5)


@pytest.mark.skipif(not POLICY_EXTERNAL.is_file(), reason="run `make externals`")
def test_live_patch_decides_inside_pd(sine_project: tuple[Path, Path, Path]) -> None:
    """--inside: the same patch with [rlimpro_policy] in place of the OSC link gives the same trajectory."""
    root, model, take = sine_project
    counts, console = play_live("sine", model, root=root, audio=take, inside=True, gui=False, sound=False, seconds=1.5,
                                verbose=True, write=lambda line: None)
    assert counts == {}
    assert "rlimpro-info: synth sine" in console and "rlimpro-info: n_params 2" in console
    received = np.array([[float(v) for v in line.split(":")[1].split()]
                         for line in console.splitlines() if line.startswith("rlimpro-params:")])
    assert len(received) > 50
    expected = _expected_trajectory(model, take)
    np.testing.assert_allclose(received[:100], expected[: min(100, len(received))], atol=1e-5)


def test_replay_writes_the_duet(sine_project: tuple[Path, Path, Path]) -> None:
    root, model, take = sine_project
    out = root / "out" / "duet.wav"
    paths = replay(model, take, out, root=root)
    assert paths == [out, out.with_suffix(".png")] and out.with_suffix(".png").stat().st_size > 1000
    duet, sr = sf.read(out, dtype="float32")
    musician = load_audio(take)
    assert sr == 44100 and duet.shape == (len(musician), 2)
    np.testing.assert_array_equal(duet[:, 0], musician)
    hop, lead = 512, 2  # the first decision sounds once the first 1024-sample frame is heard
    assert np.abs(duet[: lead * hop, 1]).max() > 0  # initial params already sound
    assert np.abs(duet[lead * hop:, 1]).max() > 0.01


def test_replay_trajectory_is_the_live_one(sine_project: tuple[Path, Path, Path]) -> None:
    """play_policy goes through Policy.decide exactly like the server; compare with step()."""
    root, model, take = sine_project
    frames = compute(load_audio(take), sr=44100)[:, indices(["loudness", "centroid"])]
    trajectory, refused = play_policy(Policy(model), frames)
    reference = Policy(model)
    assert refused == 0
    np.testing.assert_array_equal(trajectory, np.array([reference.step(f) for f in frames]))
