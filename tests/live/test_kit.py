"""`rlimpro kit`: the folder a performer's laptop needs, and its wheel in a fresh venv (as a new user would)."""

from __future__ import annotations

import socket
import subprocess
import sys
import time
import venv
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from rlimpro.audio import load_audio
from rlimpro.descriptors import compute, indices, native
from rlimpro.kit import KISSFFT, build_kit
from rlimpro.live import osc
from rlimpro.live.duet import play_policy
from rlimpro.live.policy import Policy

REPO = Path(__file__).resolve().parents[2]
FM = REPO / "00_synths" / "fm" / "policy.onnx"
pytestmark = [pytest.mark.slow,
              pytest.mark.skipif(not FM.is_file(), reason="no 00_synths/fm/policy.onnx (run `make demo`)"),
              pytest.mark.skipif(not native.available(), reason="run `make native`")]


@pytest.fixture(scope="module")
def kit(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("kit") / "fm-kit"
    subprocess.run([sys.executable, "-m", "rlimpro", "kit", "--synth", "fm", "-o", str(out)], cwd=REPO, check=True,
                   capture_output=True, timeout=900)
    return out


def test_kit_holds_what_a_laptop_needs(kit: Path) -> None:
    names = sorted(str(p.relative_to(kit)) for p in kit.rglob("*") if p.is_file())
    wheel = [n for n in names if n.startswith("rlimpro-") and n.endswith(".whl")]
    assert len(wheel) == 1
    assert set(names) == {"README.md", "policy.onnx", "synth/synth.pd", "synth/synth.yaml", "pd/listen-receive.pd",
                          "max/rlimpro-live.maxpat", "max/rlimpro-fm~.maxpat", wheel[0]}
    assert (kit / "policy.onnx").read_bytes() == FM.read_bytes()
    readme = (kit / "README.md").read_text()
    assert "rlimpro serve policy.onnx --listen" in readme and "pd -path synth -open pd/listen-receive.pd" in readme
    listing = subprocess.run([sys.executable, "-m", "zipfile", "-l", str(kit / wheel[0])], capture_output=True, text=True).stdout
    for member in ("rlimpro/descriptors/_analyzer.so", f"rlimpro/descriptors/{KISSFFT}", "rlimpro/descriptors/LICENSE.kissfft",
                   "rlimpro/pd/listen-receive.pd", "rlimpro/live/listen.py"):
        assert member in listing, member


def test_fresh_venv_with_the_wheel_serves_a_recording_like_replay(kit: Path, tmp_path: Path) -> None:
    """python3 -m venv, pip install the kit's wheel (core only, from PyPI), then from the kit folder:
    rlimpro serve policy.onnx --listen-file take.wav --fast gives replay's trajectory, with no torch,
    pandas or DVC installed, and the analyzer loads the kissfft bundled beside it."""
    env_dir = tmp_path / "venv"
    venv.EnvBuilder(with_pip=True).create(env_dir)
    python = env_dir / "bin" / "python"
    wheel = next(kit.glob("rlimpro-*.whl"))
    install = subprocess.run([str(python), "-m", "pip", "install", "-q", "--disable-pip-version-check", str(wheel)],
                             capture_output=True, text=True, timeout=900)
    if install.returncode != 0 and ("Could not find a version" in install.stderr or "NewConnectionError" in install.stderr):
        pytest.skip(f"PyPI not reachable: {install.stderr.strip().splitlines()[-1]}")
    assert install.returncode == 0, install.stderr
    for extra in ("torch", "pandas", "dvc", "sounddevice", "librosa"):
        probe = subprocess.run([str(python), "-c", f"import {extra}"], capture_output=True, cwd=tmp_path)
        assert probe.returncode != 0, f"{extra} is installed in the core venv"
    analyzer = subprocess.run([str(python), "-c", "import rlimpro.descriptors.native as n; print(n.LIBRARY)"],
                              capture_output=True, text=True, check=True, cwd=tmp_path).stdout.strip()  # not this checkout
    assert str(env_dir) in analyzer
    ldd = subprocess.run(["ldd", analyzer], capture_output=True, text=True).stdout
    assert f"{Path(analyzer).parent}/{KISSFFT}" in ldd, ldd  # the bundled copy, not Debian's
    t = np.arange(int(2.0 * 44100)) / 44100
    sf.write(kit / "take.wav", (0.3 * np.sin(2 * np.pi * (200 + 300 * t) * t) * (t > 0.3)).astype(np.float32), 44100)
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 1 << 22)
    sock.bind(("127.0.0.1", 0))
    sock.settimeout(0.5)
    served = subprocess.run([str(env_dir / "bin" / "rlimpro"), "serve", "policy.onnx", "--listen-file", "take.wav", "--fast",
                             "--port", "0", "--reply-port", str(sock.getsockname()[1])],
                            cwd=kit, capture_output=True, text=True, timeout=120)
    assert served.returncode == 0, served.stderr
    packets = []
    try:
        while True:
            packets.append(sock.recv(osc.MAX_PACKET))
    except TimeoutError:
        pass
    sock.close()
    params = np.array([osc.decode_floats(p, osc.PARAMS, 4) for p in packets])
    policy = Policy(FM)
    frames = compute(load_audio(kit / "take.wav"), engine="c")[:, indices(list(policy.info.features))]
    np.testing.assert_array_equal(params, play_policy(policy, frames)[0])
    assert "stopped: 171 hops" in served.stdout
