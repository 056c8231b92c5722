"""The listening server (`serve --listen`, `--listen-file`): real files, real PortAudio through JACK's
dummy driver, real liblo clients (oscsend/oscdump), real sockets. No mocks."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
from pythonosc.osc_message import OscMessage

from rlimpro.audio import load_audio
from rlimpro.descriptors import compute, indices, native
from rlimpro.live import osc
from rlimpro.live.duet import play_policy
from rlimpro.live.listen import serve_listening
from rlimpro.live.policy import Policy
from tests.live.conftest import FEATURES, INITIAL, N_PARAMS, Jack, free_udp_port, jack_ports

REPO = Path(__file__).resolve().parents[2]
RLIMPRO = [sys.executable, "-m", "rlimpro"]
pytestmark = pytest.mark.skipif(not native.available(), reason="run `make native` (the C descriptor core)")


class Receiver:
    """A UDP socket on the reply port that keeps every datagram in a thread."""

    def __init__(self) -> None:
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 1 << 22)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.settimeout(0.2)
        self.port = self.sock.getsockname()[1]
        self.packets: list[bytes] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                self.packets.append(self.sock.recv(osc.MAX_PACKET))
            except TimeoutError:
                pass

    def floats(self, address: str, count: int) -> np.ndarray:
        rows = [osc.decode_floats(p, address, count) for p in list(self.packets) if p.startswith(address.encode())]
        return np.array(rows, dtype=np.float32).reshape(-1, count)

    def close(self) -> None:
        self._stop.set()
        self._thread.join()
        self.sock.close()


@pytest.fixture
def receiver() -> Receiver:
    r = Receiver()
    yield r
    r.close()


def _take(path: Path, seconds: float = 3.0, sr: int = 44100) -> Path:
    """Silence, a gliding tone, noise: every descriptor moves."""
    t = np.arange(int(seconds * sr)) / sr
    y = 0.3 * np.sin(2 * np.pi * (200 + 300 * t) * t) * (t > 0.5) + 0.05 * np.random.default_rng(0).normal(size=t.size) * (t > 2.0)
    sf.write(path, y.astype(np.float32), sr, subtype="FLOAT")
    return path


def _replayed(model: Path, take: Path) -> np.ndarray:
    """`rlimpro replay`'s trajectory: the C core's offline frames through Policy.decide."""
    policy = Policy(model)
    frames = compute(load_audio(take, sr=policy.info.sr), sr=policy.info.sr, engine="c")[:, indices(list(policy.info.features))]
    return play_policy(policy, frames)[0]


@pytest.mark.parametrize("fast", [True, pytest.param(False, marks=pytest.mark.slow)])
def test_listen_file_gives_the_replay_trajectory(policy_path: Path, tmp_path: Path, receiver: Receiver, fast: bool) -> None:
    take = _take(tmp_path / "take.wav", 3.0 if fast else 1.5)
    start = time.monotonic()
    counts = serve_listening(policy_path, listen_file=take, fast=fast, send_features=True, port=0,
                             reply_port=receiver.port, write=lambda line: None)
    elapsed = time.monotonic() - start
    time.sleep(0.3)
    expected = _replayed(policy_path, take)
    params, features = receiver.floats(osc.PARAMS, N_PARAMS), receiver.floats(osc.FEATURES, len(FEATURES))
    assert counts["hops"] == len(expected) == len(params) == len(features) > 100
    np.testing.assert_array_equal(params, expected)  # bit for bit: same analyzer, same graph, same state
    offline = compute(load_audio(take), engine="c")[:, indices(FEATURES)].astype(np.float32)
    np.testing.assert_array_equal(features, offline)
    if not fast:
        assert elapsed >= 1.4  # it took the recording's own time


def test_listen_file_of_a_48k_recording_is_replayed_too(policy_path: Path, tmp_path: Path, receiver: Receiver) -> None:
    """A 48 kHz, stereo file is decoded exactly as replay decodes it (mono mix, resampled)."""
    take = tmp_path / "take48.wav"
    t = np.arange(48000 * 2) / 48000
    sf.write(take, np.stack([0.2 * np.sin(2 * np.pi * 330 * t), 0.1 * np.sin(2 * np.pi * 990 * t)], 1).astype(np.float32), 48000)
    serve_listening(policy_path, listen_file=take, fast=True, port=0, reply_port=receiver.port, write=lambda line: None)
    time.sleep(0.3)
    np.testing.assert_array_equal(receiver.floats(osc.PARAMS, N_PARAMS), _replayed(policy_path, take))


@pytest.mark.slow
def test_shipped_policy_from_the_cli(tmp_path: Path, receiver: Receiver) -> None:
    """`rlimpro serve 00_synths/fm/policy.onnx --listen-file take --fast` (the shipped fm policy when built)."""
    model = REPO / "00_synths" / "fm" / "policy.onnx"
    if not model.is_file():
        pytest.skip("no 00_synths/fm/policy.onnx (run `make demo`)")
    take = _take(tmp_path / "take.wav", 2.0)
    out = subprocess.run([*RLIMPRO, "serve", str(model), "--listen-file", str(take), "--fast", "--port", "0",
                          "--reply-port", str(receiver.port), "--stats"], capture_output=True, text=True, cwd=REPO, timeout=120)
    assert out.returncode == 0, out.stderr
    assert "listening to take.wav (as fast as possible)" in out.stdout and "stopped: 171 hops" in out.stdout  # 1 + (88200 - 1024) // 512
    time.sleep(0.3)
    np.testing.assert_array_equal(receiver.floats(osc.PARAMS, 4), _replayed(model, take))


# ----------------------------------------------------------------------------- liblo clients

def _lines(proc: subprocess.Popen, into: list[str]) -> threading.Thread:
    def run() -> None:
        for line in proc.stdout:
            into.append(line.rstrip("\n"))
    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    return thread


def _wait_for(lines: list[str], text: str, timeout: float = 20.0) -> str:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = [line for line in list(lines) if text in line]
        if found:
            return found[0]
        time.sleep(0.05)
    raise AssertionError(f"no line with {text!r} in {timeout} s: {lines[-20:]}")


needs_liblo = pytest.mark.skipif(not (shutil.which("oscsend") and shutil.which("oscdump")),
                                 reason="apt-get install liblo-tools (oscsend, oscdump)")


@needs_liblo
@pytest.mark.slow
@pytest.mark.parametrize("listening", [False, True], ids=["serve", "serve-listen-file"])
def test_liblo_clients_with_f_i_and_d_arguments(policy_path: Path, tmp_path: Path, listening: bool) -> None:
    """oscsend sends targets and resets as float32, int32 and float64, and a ping; oscdump hears the
    replies. While a recording is heard (--listen-file, real time), OSC is answered on the same state."""
    port, reply = free_udp_port(), free_udp_port()
    dump = subprocess.Popen(["stdbuf", "-oL", "oscdump", str(reply)], stdout=subprocess.PIPE, text=True,
                            stderr=subprocess.DEVNULL)
    dumped: list[str] = []
    _lines(dump, dumped)
    args = [*RLIMPRO, "serve", str(policy_path), "--port", str(port), "--reply-port", str(reply)]
    if listening:
        silence = tmp_path / "silence.wav"
        sf.write(silence, np.zeros(44100 * 30, np.float32), 44100)
        args += ["--listen-file", str(silence)]
    server = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, cwd=REPO)
    said: list[str] = []
    _lines(server, said)
    try:
        _wait_for(said, "listening to" if listening else "serving")

        def send(address: str, types: str = "", *values: object) -> None:
            subprocess.run(["oscsend", "127.0.0.1", str(port), address, types, *map(str, values)], check=True, timeout=10)

        def replies(address: str) -> list[str]:
            return [line for line in list(dumped) if line.split(" ")[0] == address or f" {address} " in line]

        send("/rlimpro/ping")
        pong = _wait_for(dumped, "/rlimpro/pong")
        assert pong.split()[-3:] == ['"testsynth"', "2", "3"]
        before = len(replies("/rlimpro/params"))
        # the same frame three ways: ints (Max sends whole numbers as i), float32, float64
        for types, values in (("iii", (-30, 2000, -20)), ("fff", (-30.0, 2000.0, -20.0)), ("ddd", (-30.0, 2000.0, -20.0))):
            send("/rlimpro/reset", "ii", 0, 1)  # int32 reset: params (0, 1)
            send("/rlimpro/target", types, *values)
            deadline = time.monotonic() + 10
            while len([r for r in replies("/rlimpro/params")]) <= before and time.monotonic() < deadline:
                time.sleep(0.02)
            before = len(replies("/rlimpro/params"))
        if not listening:  # exactly the three answers, each from (0, 1)
            expected = Policy(policy_path)
            expected.reset(np.array([0.0, 1.0], np.float32))
            step = expected.step(np.array([-30.0, 2000.0, -20.0], np.float32))
            answers = replies("/rlimpro/params")
            assert len(answers) == 3
            for line in answers:
                np.testing.assert_allclose([float(v) for v in line.split()[-2:]], step, atol=1e-6)  # oscdump prints %f
        send("/rlimpro/reset", "dd", 0.25, 0.75)
        send("/rlimpro/reset")
        send("/rlimpro/ping")
        deadline = time.monotonic() + 10
        while len(replies("/rlimpro/pong")) < 2 and time.monotonic() < deadline:
            time.sleep(0.02)
        assert len(replies("/rlimpro/pong")) == 2
        if listening:  # one per hop of the recording, beside the OSC answers
            time.sleep(0.6)
            assert len(replies("/rlimpro/params")) > 40
    finally:
        server.send_signal(2)
        server.wait(20)
        dump.terminate()
        dump.wait(10)
    final = "\n".join(said)
    assert " 0 dropped" in final, final  # ping, resets (i, d, none) and targets (i, f, d): all accepted


# ----------------------------------------------------------------------------- audio through JACK (PortAudio)

def _needs_sounddevice() -> None:
    try:
        import sounddevice  # noqa: F401
    except (ImportError, OSError):
        pytest.skip("sounddevice / libportaudio2 not installed (the [audio] extra)")


PLAYER = """#N canvas 0 50 400 300 12;
#X obj 20 20 r play-file;
#X obj 20 70 symbol;
#X msg 20 95 open \\$1 \\, start;
#X obj 20 120 readsf~ 1;
#X obj 20 150 dac~ 1;
#X obj 120 20 loadbang;
#X obj 120 45 delay 3000;
#X connect 0 0 1 1;
#X connect 1 0 2 0;
#X connect 2 0 3 0;
#X connect 3 0 4 0;
#X connect 5 0 6 0;
#X connect 6 0 1 0;
"""


@pytest.mark.slow
def test_unknown_device_is_one_line_listing_the_inputs(policy_path: Path, jack: Jack) -> None:
    _needs_sounddevice()
    out = subprocess.run([*RLIMPRO, "serve", str(policy_path), "--listen", "--device", "no such card", "--port", "0"],
                         capture_output=True, text=True, env=jack.env, timeout=60)
    assert out.returncode == 1
    lines = [line for line in out.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, out.stderr
    assert "--device 'no such card': no audio input matches; inputs: 0 'system' (2 in)" in lines[0]
    listed = subprocess.run([*RLIMPRO, "serve", "--list-devices"], capture_output=True, text=True, env=jack.env, timeout=60)
    assert listed.returncode == 0 and "system  (2 in, 44100 Hz)" in listed.stdout


def _start_listening(policy_path: Path, jack: Jack, reply: int, port: int) -> tuple[subprocess.Popen, list[str]]:
    server = subprocess.Popen([*RLIMPRO, "serve", str(policy_path), "--listen", "--device", "system", "--send-features",
                               "--port", str(port), "--reply-port", str(reply)], stdout=subprocess.PIPE,
                              stderr=subprocess.STDOUT, text=True, env=jack.env, cwd=REPO)
    said: list[str] = []
    _lines(server, said)
    _wait_for(said, "listening to 'system' channel 1 at 44100 Hz", timeout=30)
    return server, said


@pytest.mark.slow
def test_listen_hears_a_real_portaudio_stream_through_jack(policy_path: Path, tmp_path: Path, jack: Jack,
                                                          receiver: Receiver) -> None:
    """A Pd plays a take (silence then a loud tone) into the server's PortAudio input port; the server
    sends features and params every hop, and the params are the policy's decisions on what it heard."""
    _needs_sounddevice()
    if not shutil.which("pd"):
        pytest.skip("Pd is not installed")
    t = np.arange(44100) / 44100
    take = tmp_path / "step.wav"
    sf.write(take, np.concatenate([np.zeros(44100), 0.3 * np.sin(2 * np.pi * 440 * t), np.zeros(22050)]).astype(np.float32),
             44100, subtype="FLOAT")
    patch = tmp_path / "player.pd"
    patch.write_text(PLAYER)
    server, said = _start_listening(policy_path, jack, receiver.port, free_udp_port())
    before = set(jack_ports(jack.env))
    # the player starts the take 3 s after it opens: time to connect its output to the server's input
    player = subprocess.Popen(["pd", "-nogui", "-noprefs", "-jack", "-nojackconnect", "-inchannels", "0", "-outchannels", "1",
                               "-open", str(patch), "-send", f"pd dsp 1; play-file symbol {take}"], env=jack.env,
                              stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    opened = time.monotonic()
    try:
        while True:
            ports = jack_ports(jack.env)
            outputs = [p for p, d in ports.items() if p not in before and d == "output"]
            inputs = [p for p, d in ports.items() if p.startswith("PortAudio") and d == "input"]
            if outputs and inputs:
                break
            assert time.monotonic() < opened + 20, ports
            time.sleep(0.05)
        subprocess.run(["jack_connect", outputs[0], inputs[0]], env=jack.env, check=True, timeout=10)
        if time.monotonic() - opened > 2.5:
            pytest.skip("the machine is too loaded to connect the player before its take starts")
        time.sleep(max(0.0, opened + 3.0 + 2.5 + 1.0 - time.monotonic()))  # the take (2.5 s) has been heard
    finally:
        player.terminate()
        player.wait(10)
        server.send_signal(2)
        server.wait(20)
    time.sleep(0.2)
    params, features = receiver.floats(osc.PARAMS, N_PARAMS), receiver.floats(osc.FEATURES, len(FEATURES))
    assert len(params) == len(features) > 300  # one of each per hop (~86 per second)
    loudness = features[:, 0]
    assert (loudness > -20).sum() > 40 and (loudness < -100).sum() > 40, loudness  # heard the silence and the tone
    reference = Policy(policy_path)  # the params are the policy's decisions on the frames heard, in order
    np.testing.assert_array_equal(params, np.array([reference.step(f) for f in features]))
    assert "stopped:" in "\n".join(said)


@pytest.mark.slow
def test_jack_dies_and_comes_back(policy_path: Path, jack: Jack, receiver: Receiver) -> None:
    """Kill jackd mid-run: one message, OSC still answered, and the stream reopens once jackd is back."""
    _needs_sounddevice()
    port = free_udp_port()
    server, said = _start_listening(policy_path, jack, receiver.port, port)
    try:
        time.sleep(1.0)
        assert len(receiver.floats(osc.PARAMS, N_PARAMS)) > 40  # hearing (JACK's dummy capture: silence)
        jack.stop()
        _wait_for(said, "audio input lost", timeout=15)
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:  # OSC still answered without audio
            time.sleep(0.3)
            n = len(receiver.packets)
            sock.sendto(osc.encode_message(osc.PING), ("127.0.0.1", port))
            sock.sendto(osc.encode_floats(osc.TARGET, [-30.0, 2000.0, -20.0]), ("127.0.0.1", port))
            deadline = time.monotonic() + 5
            while len(receiver.packets) < n + 2 and time.monotonic() < deadline:
                time.sleep(0.02)
            new = receiver.packets[n:]
            assert OscMessage(new[0]).address == osc.PONG and new[1].startswith(osc.PARAMS.encode()), new
        assert jack.start()
        _wait_for(said, "audio input back: 'system' channel 1 at 44100 Hz", timeout=30)
        n = len(receiver.floats(osc.PARAMS, N_PARAMS))
        time.sleep(1.0)
        assert len(receiver.floats(osc.PARAMS, N_PARAMS)) > n + 40  # hearing again
    finally:
        server.send_signal(2)
        server.wait(20)
    assert sum("audio input lost" in line for line in said) == 1
