"""Pd plays with the agent: the live patch (real Pd: batch, real time, JACK) and the offline duet replay."""

from __future__ import annotations

import os
import shutil
import subprocess
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from rlimpro.audio import load_audio
from rlimpro.descriptors import compute, indices
from rlimpro.live.duet import play_policy, replay
from rlimpro.live.play import FEATURES_EXTERNAL, POLICY_EXTERNAL, _patch_config, play_live, recorded_params, response_times
from rlimpro.errors import RlimproError
from rlimpro.live.policy import Policy
from tests.live.conftest import build_policy, free_udp_port, jack_ports as _jack_ports

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


def _expected_trajectory(model: Path, take: Path, intent: float | None = None, calm: float | None = None) -> np.ndarray:
    """What `rlimpro replay` decides over ``take`` (at ``intent`` and ``calm``, else the policy's
    defaults): Policy.step over the C core's frames."""
    policy, reference = Policy(model), Policy(model)
    for knob, value in (("intent", intent), ("calm", calm)):
        if value is not None:
            assert policy.set_knob(knob, value) and reference.set_knob(knob, value)
    frames = compute(load_audio(take), sr=44100, engine="c")[:, indices(list(policy.info.features))]
    trajectory = play_policy(policy, frames)[0]
    np.testing.assert_array_equal(trajectory, np.array([reference.step(f) for f in frames]))
    return trajectory


@pytest.fixture
def intent_model(sine_project: tuple[Path, Path, Path]) -> Path:
    """A test policy for sine with an intent input (default 0.5) and a recurrent state."""
    return build_policy(sine_project[0] / "sine-intent.onnx", n_features=2, features="loudness,centroid", synth="sine",
                        intent=0.5, state=4)


@pytest.fixture
def calm_model(sine_project: tuple[Path, Path, Path]) -> Path:
    """A test policy for sine with an intent input (default 0.5), a calm input (default 0, as
    exported) and a recurrent state: every move is scaled by 2**-calm, so a calmer agent moves less."""
    return build_policy(sine_project[0] / "sine-calm.onnx", n_features=2, features="loudness,centroid", synth="sine",
                        intent=0.5, calm=0.0, state=4)


def _largest_move(trajectory: np.ndarray) -> float:
    """The agent's largest turn of a knob from one decision to the next."""
    return float(np.abs(np.diff(trajectory, axis=0)).max())


def _same_trajectory(received: np.ndarray, expected: np.ndarray) -> None:
    """Pd applied every decision of the replay, frame-aligned from the first (Pd prints 6 digits);
    once the take has ended, [rlimpro_features~] goes on hearing silence, so more may follow."""
    assert len(received) >= len(expected) > 100
    np.testing.assert_allclose(received[: len(expected)], expected, atol=1e-5)


needs_externals = pytest.mark.skipif(not (POLICY_EXTERNAL.is_file() and FEATURES_EXTERNAL.is_file()),
                                     reason="run `make externals`")


@needs_externals
@pytest.mark.parametrize("rate", [44100, 48000])
def test_live_inside_in_batch_plays_the_replay_trajectory(sine_project: tuple[Path, Path, Path], rate: int) -> None:
    """--input --inside in batch Pd: [readsf~] -> [rlimpro_features~] -> [rlimpro_policy] decides
    exactly what replay decides over the same file (48 kHz: resampled first, like replay), and the
    recording holds the take (left, bit for bit) and the agent (right)."""
    root, model, take = sine_project
    if rate != 44100:
        other = root / "take48.wav"
        sf.write(other, load_audio(take, sr=rate), rate, subtype="FLOAT")
        take = other
    out = root / "duet.wav"
    counts, console = play_live("sine", model, root=root, audio=take, inside=True, batch=True, record=out,
                                verbose=True, write=lambda line: None)
    assert counts == {} and "rlimpro: the take ended" in console
    _same_trajectory(recorded_params(console), _expected_trajectory(model, take))
    assert len(response_times(console)) == len(recorded_params(console))
    duet, sr = sf.read(out, dtype="float32")
    musician = load_audio(take)
    assert sr == 44100 and duet.shape[1] == 2 and len(duet) >= len(musician)
    np.testing.assert_array_equal(duet[: len(musician), 0], musician)
    assert np.abs(duet[:, 1]).max() > 0.01


@needs_externals
def test_interaction_off_holds_the_synth(sine_project: tuple[Path, Path, Path]) -> None:
    root, model, take = sine_project
    out = root / "duet.wav"
    _, console = play_live("sine", model, root=root, audio=take, inside=True, batch=True, record=out, verbose=True,
                           config=["rlimpro-interact 0"], write=lambda line: None)
    assert "rlimpro: the take ended" in console
    assert "rlimpro-target:" not in console and "rlimpro-params:" not in console
    agent = sf.read(out, dtype="float32")[0][:, 1]
    assert np.abs(agent).max() > 0.01  # the synth plays on, at its initial params


@pytest.mark.skipif(not FEATURES_EXTERNAL.is_file(), reason="run `make externals`")
def test_live_patch_exchanges_osc_with_the_server(sine_project: tuple[Path, Path, Path]) -> None:
    """The OSC link in real time (-nosound: batch Pd never polls sockets): the server decides the
    replay's trajectory and Pd applies each decision."""
    root, model, take = sine_project
    counts, console = play_live("sine", model, root=root, audio=take, port=0, reply_port=free_udp_port(),
                                gui=False, sound=False, seconds=3.0, verbose=True, write=lambda line: None)
    assert counts["resets"] == 1 and counts["pings"] == 1 and counts["dropped"] == 0
    assert counts["targets"] > 200 and counts["sent"] == counts["targets"]
    assert "rlimpro-pong: sine 2 2" in console
    received = recorded_params(console)
    assert len(received) >= counts["sent"] - 3  # the last replies may still be in flight at quit
    _same_trajectory(received, _expected_trajectory(model, take))
    assert len(response_times(console)) > 0


@needs_externals
def test_live_patch_decides_inside_pd_in_real_time(sine_project: tuple[Path, Path, Path]) -> None:
    """--inside in real time (-nosound): [rlimpro_policy] gives the same trajectory."""
    root, model, take = sine_project
    counts, console = play_live("sine", model, root=root, audio=take, inside=True, gui=False, sound=False, seconds=3.0,
                                verbose=True, write=lambda line: None)
    assert counts == {}
    assert "rlimpro-info: synth sine" in console and "rlimpro-info: n_params 2" in console
    _same_trajectory(recorded_params(console), _expected_trajectory(model, take))


@needs_externals
def test_the_intent_slider_reaches_the_policy_inside_pd(sine_project: tuple[Path, Path, Path], intent_model: Path) -> None:
    """--intent sets live.pd's slider, which reaches [rlimpro_policy] (link-inside): the trajectory
    is replay's at that intent (and not at the policy's default), the recurrent state included."""
    root, _, take = sine_project
    _, console = play_live("sine", intent_model, root=root, audio=take, inside=True, batch=True, intent=-1.0,
                           verbose=True, write=lambda line: None)
    received = recorded_params(console)
    _same_trajectory(received, _expected_trajectory(intent_model, take, intent=-1.0))
    default = _expected_trajectory(intent_model, take)
    assert np.abs(received[: len(default)] - default).max() > 0.01


@pytest.mark.skipif(not FEATURES_EXTERNAL.is_file(), reason="run `make externals`")
def test_the_intent_slider_reaches_the_server(sine_project: tuple[Path, Path, Path], intent_model: Path) -> None:
    """The same through link-osc: /rlimpro/intent to the server, in real time (-nosound)."""
    root, _, take = sine_project
    counts, console = play_live("sine", intent_model, root=root, audio=take, port=0, reply_port=free_udp_port(),
                                gui=False, sound=False, seconds=3.0, intent=-1.0, verbose=True, write=lambda line: None)
    assert counts["dropped"] == 0 and counts["targets"] > 200 and counts["sent"] == counts["targets"]
    _same_trajectory(recorded_params(console), _expected_trajectory(intent_model, take, intent=-1.0))


def test_live_intent_needs_a_policy_with_one(sine_project: tuple[Path, Path, Path]) -> None:
    root, model, take = sine_project
    with pytest.raises(RlimproError, match="this policy has no intent input"):
        play_live("sine", model, root=root, audio=take, inside=True, batch=True, intent=0.5, write=lambda line: None)


@needs_externals
def test_the_calm_slider_reaches_the_policy_inside_pd(sine_project: tuple[Path, Path, Path], calm_model: Path) -> None:
    """--calm sets live.pd's calm slider, which reaches [rlimpro_policy] (link-inside): at 1 and
    at -1 the trajectory is replay's at that calm (not the policy's default 0), and the calmer
    agent moves less (this test policy's moves: at most 0.05 · 2**-calm)."""
    root, _, take = sine_project
    received = {}
    for calm in (1.0, -1.0):
        _, console = play_live("sine", calm_model, root=root, audio=take, inside=True, batch=True, calm=calm,
                               verbose=True, write=lambda line: None)
        received[calm] = recorded_params(console)
        _same_trajectory(received[calm], _expected_trajectory(calm_model, take, calm=calm))
    default = _expected_trajectory(calm_model, take)
    assert np.abs(received[1.0][: len(default)] - default).max() > 0.01
    n = len(default)
    assert _largest_move(received[1.0][:n]) < _largest_move(default) < _largest_move(received[-1.0][:n])


@pytest.mark.skipif(not FEATURES_EXTERNAL.is_file(), reason="run `make externals`")
def test_the_calm_and_intent_sliders_reach_the_server(sine_project: tuple[Path, Path, Path], calm_model: Path) -> None:
    """Both sliders through link-osc at once: /rlimpro/intent and /rlimpro/calm to the server, in
    real time (-nosound); the trajectory is replay's at that intent and that calm."""
    root, _, take = sine_project
    counts, console = play_live("sine", calm_model, root=root, audio=take, port=0, reply_port=free_udp_port(),
                                gui=False, sound=False, seconds=3.0, intent=-1.0, calm=1.0, verbose=True,
                                write=lambda line: None)
    assert counts["dropped"] == 0 and counts["targets"] > 200 and counts["sent"] == counts["targets"]
    expected = _expected_trajectory(calm_model, take, intent=-1.0, calm=1.0)
    _same_trajectory(recorded_params(console), expected)
    for other in (_expected_trajectory(calm_model, take, intent=-1.0), _expected_trajectory(calm_model, take, calm=1.0)):
        assert np.abs(other - expected).max() > 0.01  # each knob on its own changes the trajectory


@pytest.mark.skipif(not FEATURES_EXTERNAL.is_file(), reason="run `make externals`")
def test_the_calm_slider_stays_shut_for_a_policy_without_calm(sine_project: tuple[Path, Path, Path],
                                                              intent_model: Path) -> None:
    """A performer moves both sliders (after the start-up) with a policy that has an intent input
    but no calm one: the intent reaches the server, the calm never leaves the patch (it would be
    an unknown address, counted as dropped)."""
    root, _, take = sine_project
    counts, console = play_live("sine", intent_model, root=root, audio=take, port=0, reply_port=free_udp_port(),
                                gui=False, sound=False, seconds=3.0, verbose=True,
                                config=["rlimpro-intent-in -1", "rlimpro-calm-in 1"], write=lambda line: None)
    assert counts["dropped"] == 0 and counts["targets"] > 200 and counts["sent"] == counts["targets"]
    _same_trajectory(recorded_params(console), _expected_trajectory(intent_model, take, intent=-1.0))


def test_live_calm_needs_a_policy_with_one(sine_project: tuple[Path, Path, Path], calm_model: Path) -> None:
    root, model, take = sine_project
    with pytest.raises(RlimproError, match=r"sine.onnx: this policy has no calm input; .* with --calm$"):
        play_live("sine", model, root=root, audio=take, inside=True, batch=True, calm=0.5, write=lambda line: None)
    with pytest.raises(RlimproError, match=r"--calm 2.0: use a number in \[-1, 1\]"):
        play_live("sine", calm_model, root=root, audio=take, inside=True, batch=True, calm=2.0, write=lambda line: None)


def test_the_patch_config_opens_a_knob_only_for_a_policy_with_that_input(
        sine_project: tuple[Path, Path, Path], intent_model: Path, calm_model: Path) -> None:
    """rlimpro-intent-start / rlimpro-calm-start F go to live.pd (before the start) for a policy
    with that input, at --intent / --calm or else the policy's default; never for one without."""
    root, model, take = sine_project

    def knobs(path: Path, **values: float | None) -> list[str]:
        config = _patch_config(Policy(path).info, take, record=None, verbose=False, seconds=None, batch=True,
                               intent=values.get("intent"), calm=values.get("calm"), extra=())
        starts = [m for m in config if m.startswith(("rlimpro-intent-start", "rlimpro-calm-start"))]
        assert all(config.index(m) < config.index("rlimpro-start bang") for m in starts)
        return starts

    assert knobs(model) == []
    assert knobs(intent_model) == ["rlimpro-intent-start 0.5"]
    assert knobs(calm_model) == ["rlimpro-intent-start 0.5", "rlimpro-calm-start 0"]
    assert knobs(calm_model, intent=-1.0, calm=-0.25) == ["rlimpro-intent-start -1", "rlimpro-calm-start -0.25"]


# ----------------------------------------------------------------------------- --mic through JACK

PLAYER = """#N canvas 0 50 400 300 12;
#X obj 20 20 r play;
#X msg 20 45 open \\$1 \\, start;
#X obj 20 70 readsf~ 1;
#X obj 20 100 dac~ 1;
#X obj 120 100 r play-again;
#X obj 120 20 r play-file;
#X obj 120 45 symbol;
#X connect 0 0 1 0;
#X connect 1 0 2 0;
#X connect 2 0 3 0;
#X connect 2 1 6 0;
#X connect 4 0 6 0;
#X connect 5 0 6 1;
#X connect 6 0 1 0;
"""


@needs_externals
def test_live_mic_through_jack_reacts_to_the_input(sine_project: tuple[Path, Path, Path], jack_server: dict[str, str],
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    """--mic --jack in real time: a second Pd plays a take (silence, then a loud tone, looped) into
    the live patch's input through JACK; the patch hears the step, and the agent's params follow
    what it heard (silence drives param 1 up, the tone drives it down for this test policy)."""
    root, model, _ = sine_project
    for key in ("JACK_DEFAULT_SERVER", "JACK_NO_AUDIO_RESERVATION"):
        monkeypatch.setenv(key, jack_server[key])
    t = np.arange(44100) / 44100
    take = root / "step.wav"
    sf.write(take, np.concatenate([np.zeros(44100), 0.3 * np.sin(2 * np.pi * 440 * t)]).astype(np.float32), 44100,
             subtype="FLOAT")
    player_patch = root / "player.pd"
    player_patch.write_text(PLAYER)
    before = set(_jack_ports(jack_server))
    result: dict[str, object] = {}

    def run() -> None:
        try:
            result["console"] = play_live("sine", model, root=root, mic=True, jack=True, inside=True, gui=False,
                                          seconds=7.0, verbose=True, write=lambda line: None)[1]
        except Exception as exc:  # noqa: BLE001 - re-raised in the test's thread
            result["error"] = exc

    live = threading.Thread(target=run)
    live.start()
    player = subprocess.Popen(["pd", "-nogui", "-noprefs", "-jack", "-nojackconnect", "-inchannels", "0",
                               "-outchannels", "1", "-open", str(player_patch),
                               "-send", f"pd dsp 1; play-file symbol {take}; play-again bang"],
                              env=jack_server, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                              stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 20
        while True:  # two new clients: the live patch (an input port) and the player (outputs only)
            ports = {p: d for p, d in _jack_ports(jack_server).items() if p not in before}
            clients = {p.split(":")[0] for p in ports}
            inputs = [p for p, d in ports.items() if d == "input"]
            outputs = [p for p, d in ports.items() if d == "output" and p.split(":")[0] not in {i.split(":")[0] for i in inputs}]
            if len(clients) == 2 and inputs and outputs:
                break
            assert time.monotonic() < deadline and "error" not in result, f"JACK ports: {ports} {result}"
            time.sleep(0.2)
        try:
            subprocess.run(["jack_connect", sorted(outputs)[0], sorted(inputs)[0]], env=jack_server, check=True,
                           timeout=10)
        except subprocess.TimeoutExpired:  # seen once in CI while a training held both cores
            pytest.skip("jackd did not answer jack_connect within 10 s: the machine is too loaded for a real-time test")
        live.join(60)
    finally:
        player.terminate()
        player.wait(10)
    assert not live.is_alive()
    if "error" in result:
        raise result["error"]  # type: ignore[misc]
    console = str(result["console"])
    targets, params = recorded_params(console, "rlimpro-target"), recorded_params(console)
    assert len(params) == len(targets) > 300  # one decision per heard frame, ~86 per second
    loudness = targets[:, 0]
    loud, quiet = loudness > -20, loudness < -100
    assert loud.sum() > 40 and quiet.sum() > 40  # the patch heard the take's silence and its tone
    reference = Policy(model)
    np.testing.assert_allclose(params, np.array([reference.step(f) for f in targets]), atol=1e-4)
    step = np.diff(params[:, 1], prepend=np.float32(Policy(model).info.initial_params[1]))
    assert (step[loud] <= 0).all() and (step[quiet] >= 0).all()  # (0 once clipped at 0 or 1)
    assert step[loud].min() < -0.01 and step[quiet].max() > 0.01  # it turned around with the input
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


def test_replay_at_an_intent_plays_that_intent(sine_project: tuple[Path, Path, Path], intent_model: Path) -> None:
    """`rlimpro replay --intent C` renders what the policy decides at C; it refuses an intent a
    policy cannot take, with one line."""
    root, model, take = sine_project
    mirrored = replay(intent_model, take, root / "m.wav", root=root, plot=False, intent=-1.0)[0]
    default = replay(intent_model, take, root / "d.wav", root=root, plot=False)[0]
    agent = {p: sf.read(p, dtype="float32")[0][:, 1] for p in (mirrored, default)}
    assert not np.array_equal(agent[mirrored], agent[default])
    expected = _expected_trajectory(intent_model, take, intent=-1.0)
    assert not np.array_equal(expected, _expected_trajectory(intent_model, take))
    with pytest.raises(RlimproError, match="this policy has no intent input"):
        replay(model, take, root / "x.wav", root=root, plot=False, intent=0.5)
    with pytest.raises(RlimproError, match=r"--intent 2.0: use a number in \[-1, 1\]"):
        replay(intent_model, take, root / "x.wav", root=root, plot=False, intent=2.0)
    assert not (root / "x.wav").exists()
