"""``rlimpro serve`` and ``rlimpro live`` as a user runs them: real processes, real UDP, real Pd."""

from __future__ import annotations

import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
from pythonosc.osc_message import OscMessage

from rlimpro.live import osc
from rlimpro.live.play import FEATURES_EXTERNAL, POLICY_EXTERNAL
from tests.live.conftest import free_udp_port, random_targets
from tests.live.test_pd import calm_model, sine_project  # noqa: F401 - the fixtures

RLIMPRO = str(Path(sys.executable).parent / "rlimpro")


def _first_pong(proc: subprocess.Popen, client: socket.socket, port: int) -> OscMessage:
    """Ping the starting server on ``port`` until it answers (``client`` times out in short steps)."""
    deadline = time.monotonic() + 60
    while True:
        assert proc.poll() is None and time.monotonic() < deadline
        client.sendto(osc.encode_message(osc.PING), ("127.0.0.1", port))
        try:
            return OscMessage(client.recv(osc.MAX_PACKET))
        except TimeoutError:
            continue


def test_serve_answers_and_stops_on_ctrl_c(policy_path: Path, engine: str) -> None:
    port = free_udp_port()
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as client:
        client.bind(("127.0.0.1", 0))
        client.settimeout(0.3)
        proc = subprocess.Popen([RLIMPRO, "serve", str(policy_path), "--port", str(port),
                                 "--reply-port", str(client.getsockname()[1]), "--stats", "--engine", engine],
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        try:
            pong = _first_pong(proc, client, port)
            assert (pong.address, pong.params) == (osc.PONG, ["testsynth", 2, 3])
            client.settimeout(5)
            for frame in random_targets(20):
                client.sendto(osc.encode_floats(osc.TARGET, frame), ("127.0.0.1", port))
                assert osc.decode_floats(client.recv(osc.MAX_PACKET), osc.PARAMS, 2) is not None
            client.sendto(b"garbage", ("127.0.0.1", port))
            time.sleep(1.2)  # one --stats line
        finally:
            proc.send_signal(signal.SIGINT)
            out, err = proc.communicate(timeout=10)
    assert proc.returncode == 0, err
    assert f"{engine} engine" in out and "msg/s" in out and "decision median" in out
    assert "stopped: 20 targets, 20 replies, 1 dropped" in out


def test_ctrl_c_during_a_burst_stops_the_server_at_once(policy_path: Path, engine: str) -> None:
    """A Ctrl-C that lands while the server is answering a burst (outside its wait) still stops it,
    with no further datagram to wake it (the C hot path once slept on until one came)."""
    for _ in range(5):
        port = free_udp_port()
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as client:
            client.bind(("127.0.0.1", 0))
            client.settimeout(0.3)
            proc = subprocess.Popen([RLIMPRO, "serve", str(policy_path), "--port", str(port), "--reply-port",
                                     str(client.getsockname()[1]), "--engine", engine],
                                    stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
            try:
                _first_pong(proc, client, port)
                for frame in random_targets(300):
                    client.sendto(osc.encode_floats(osc.TARGET, frame), ("127.0.0.1", port))
            finally:
                proc.send_signal(signal.SIGINT)
            try:
                out, err = proc.communicate(timeout=10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.communicate()
                raise AssertionError(f"rlimpro serve --engine {engine} slept through a Ctrl-C sent during a burst") from None
        assert proc.returncode == 0, err
        assert "stopped:" in out


def test_serve_bad_model_is_one_line(tmp_path: Path) -> None:
    bad = tmp_path / "bad.onnx"
    bad.write_bytes(b"\x00" * 10)
    proc = subprocess.run([RLIMPRO, "serve", str(bad)], capture_output=True, text=True, timeout=60)
    assert proc.returncode == 1
    assert proc.stderr.strip().startswith("error: bad.onnx: not a loadable ONNX model")
    assert len(proc.stderr.strip().splitlines()) <= 3 and "Traceback" not in proc.stderr


def test_serve_has_only_the_documented_port_options() -> None:
    proc = subprocess.run([RLIMPRO, "serve", "--help"], capture_output=True, text=True, timeout=60,
                          env={"COLUMNS": "200", "PATH": "/usr/bin:/bin"})
    options = {word.strip(",") for word in proc.stdout.split() if word.startswith("--")}
    assert {o for o in options if "port" in o} == {"--port", "--reply-port"}
    assert {"--host", "--reply-host", "--stats"} <= options


def test_serve_path_needs_only_the_core_install(policy_path: Path) -> None:
    """Loading the CLI, the policy and the server imports none of the training/analysis extras."""
    code = (
        "import sys; import rlimpro.cli; from rlimpro.live.server import Server; from rlimpro.live.policy import Policy; "
        f"Server(Policy({str(policy_path)!r}), port=0).close(); "
        "print(','.join(m for m in ('torch', 'pandas', 'stable_baselines3', 'gymnasium', 'onnx', 'librosa', "
        "'matplotlib', 'pyarrow') if m in sys.modules))"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == ""


# ----------------------------------------------------------------------------- rlimpro live

def _no_sound_card() -> bool:
    cards = Path("/proc/asound/cards")
    return not cards.is_file() or "no soundcards" in cards.read_text()


def test_live_mic_and_input_together_is_an_error(tmp_path: Path) -> None:
    proc = subprocess.run([RLIMPRO, "live", "--synth", "sine", "--mic", "--input", "take.wav"], cwd=tmp_path,
                          capture_output=True, text=True, timeout=60)
    assert proc.returncode == 1
    assert proc.stderr.strip() == "error: --mic and --input both name the musician; pass one of them"


@pytest.mark.slow
@pytest.mark.skipif(not (_no_sound_card() and FEATURES_EXTERNAL.is_file()),
                    reason="needs a machine without a sound card, and `make externals`")
def test_live_without_a_sound_card_says_how_to_play(sine_project: tuple[Path, Path, Path]) -> None:
    """Pd's audio open failure (its console, never shown) becomes one line naming --no-audio and --jack."""
    root, model, take = sine_project
    start = time.monotonic()
    proc = subprocess.run([RLIMPRO, "live", "--synth", "sine", "--model", str(model), "--input", str(take),
                           "--nogui", "--seconds", "20"], cwd=root, capture_output=True, text=True, timeout=60)
    assert proc.returncode == 1 and time.monotonic() - start < 15  # stopped at once, not after --seconds
    error = proc.stderr.strip()
    assert error.startswith("error: Pd could not open the audio device (") and "\n" not in error
    assert "--no-audio" in error and "--jack" in error and "Traceback" not in proc.stderr


@pytest.mark.slow
@pytest.mark.skipif(not (FEATURES_EXTERNAL.is_file() and POLICY_EXTERNAL.is_file()), reason="run `make externals`")
def test_live_batch_records_the_duet(sine_project: tuple[Path, Path, Path]) -> None:
    """--input --inside --batch --record: the take as fast as Pd goes, both sides in a stereo WAV."""
    root, model, take = sine_project
    proc = subprocess.run([RLIMPRO, "live", "--synth", "sine", "--model", str(model), "--input", str(take), "--inside",
                           "--batch", "--record", "duet.wav"], cwd=root, capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    assert "decided inside Pd by [rlimpro_policy]" in proc.stdout and "stopped; recorded duet.wav" in proc.stdout
    duet, sr = sf.read(root / "duet.wav", dtype="float32")
    assert sr == 44100 and duet.shape[1] == 2 and len(duet) >= sf.info(str(take)).frames
    assert np.abs(duet[:, 0]).max() > 0.1 and np.abs(duet[:, 1]).max() > 0.01


@pytest.mark.slow
@pytest.mark.skipif(not (FEATURES_EXTERNAL.is_file() and POLICY_EXTERNAL.is_file()), reason="run `make externals`")
def test_live_calm_a_policy_cannot_take_is_one_line(sine_project: tuple[Path, Path, Path], calm_model: Path) -> None:
    """--calm on a policy without a calm input, or outside [-1, 1]: one line, before Pd starts."""
    root, model, take = sine_project
    for policy, calm, error in (
            (model, "0.5", "error: sine.onnx: this policy has no calm input; train with train.algo: avi and a move "
                           "or reversal cost and export again to play it with --calm"),
            (calm_model, "2", "error: --calm 2.0: use a number in [-1, 1] (-1 busy (half the move costs), 0 as "
                              "trained, 1 calm (1.5 times))")):
        proc = subprocess.run([RLIMPRO, "live", "--synth", "sine", "--model", str(policy), "--input", str(take),
                               "--inside", "--batch", "--calm", calm], cwd=root, capture_output=True, text=True,
                              timeout=60)
        assert proc.returncode == 1 and proc.stderr.strip() == error, proc.stderr


@pytest.mark.slow
@pytest.mark.skipif(not (FEATURES_EXTERNAL.is_file() and POLICY_EXTERNAL.is_file()), reason="run `make externals`")
def test_live_calm_reaches_the_agent(sine_project: tuple[Path, Path, Path], calm_model: Path) -> None:
    """`rlimpro live --calm 1` reaches the agent: the same take, another agent side than at the
    policy's default (0)."""
    root, _, take = sine_project
    agent = {}
    for name, extra in (("default", []), ("calm", ["--calm", "1"])):
        proc = subprocess.run([RLIMPRO, "live", "--synth", "sine", "--model", str(calm_model), "--input", str(take),
                               "--inside", "--batch", "--record", f"{name}.wav", *extra], cwd=root,
                              capture_output=True, text=True, timeout=60)
        assert proc.returncode == 0, proc.stderr
        duet = sf.read(root / f"{name}.wav", dtype="float32")[0]
        agent[name] = duet[:, 1]
        np.testing.assert_array_equal(duet[: sf.info(str(take)).frames, 0], sf.read(take, dtype="float32")[0])
    n = min(len(a) for a in agent.values())
    assert np.abs(agent["calm"][:n] - agent["default"][:n]).max() > 0.01


def _children(pid: int) -> list[int]:
    """The pids whose parent is ``pid`` (from /proc)."""
    out = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[1]) == pid:
            out.append(int(stat.parent.name))
    return out


def _alive(pid: int) -> bool:
    """Whether ``pid`` runs (a zombie waiting for its reaper does not)."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="the parent-death signal is Linux's")
def test_a_killed_live_takes_its_pd_with_it(sine_project: tuple[Path, Path, Path]) -> None:
    """SIGKILL to `rlimpro live` (no handler runs) still stops its Pd: no Pd is left holding the
    link's UDP ports (as a harness's timeout used to leave one)."""
    root, model, take = sine_project
    proc = subprocess.Popen([RLIMPRO, "live", "--synth", "sine", "--model", str(model), "--input", str(take),
                             "--no-audio", "--nogui", "--seconds", "30"], cwd=root, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    try:
        deadline, pd = time.monotonic() + 30, []
        while not pd and time.monotonic() < deadline and proc.poll() is None:
            time.sleep(0.2)
            pd = [c for c in _children(proc.pid) if "pd" in Path(f"/proc/{c}/comm").read_text(errors="replace")]
        assert pd, "rlimpro live started no Pd"
    finally:
        proc.kill()
        proc.wait(10)
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and any(_alive(p) for p in pd):
        time.sleep(0.1)
    assert not [p for p in pd if _alive(p)], f"Pd {pd} outlived rlimpro live"
