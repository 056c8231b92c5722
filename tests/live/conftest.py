"""Test policies built with onnx.helper that follow the DESIGN.md §6 contract.

The "smooth" policy is ``clip(params + 0.05·tanh(((target - mean) / std) @ W + b), 0, 1)``
with fixed weights, so its answer is known in numpy (:func:`reference_step`). The "nan"
policy returns ``params · log(sum(target))``: NaN whenever the target sums below zero.
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper, numpy_helper

from rlimpro.live import hotloop

FEATURES = ["loudness", "centroid", "flatness"]
N_PARAMS = 2
MEAN = np.array([-30.0, 2000.0, -20.0], dtype=np.float32)
STD = np.array([10.0, 1500.0, 8.0], dtype=np.float32)
W = np.random.default_rng(0).normal(size=(3, N_PARAMS)).astype(np.float32)
B = np.array([0.1, -0.2], dtype=np.float32)
INITIAL = np.array([0.25, 0.75], dtype=np.float32)


def metadata(**overrides: str | None) -> dict[str, str]:
    """The policy's metadata_props; a value of None removes that key."""
    meta = {
        "rlimpro_version": "0.1.0", "synth": "testsynth", "n_params": str(N_PARAMS),
        "param_names": "freq,amp", "features": ",".join(FEATURES),
        "analysis": json.dumps({"sr": 44100, "window": 1024, "hop": 512}),
        "algo": "dqn", "action_space": "discrete", "step": "0.05", "corpus": "demo",
        "initial_params": ",".join(str(v) for v in INITIAL),
    }
    meta.update(overrides)
    return {k: v for k, v in meta.items() if v is not None}


def build_policy(path: Path, *, kind: str = "smooth", n_features: int = len(FEATURES),
                 input_names: tuple[str, str] = ("target", "params"), output_name: str = "params_next",
                 **meta: str | None) -> Path:
    """Write a test policy to ``path`` and return it."""
    f = n_features
    target = helper.make_tensor_value_info(input_names[0], TensorProto.FLOAT, ["B", f])
    params = helper.make_tensor_value_info(input_names[1], TensorProto.FLOAT, ["B", N_PARAMS])
    out = helper.make_tensor_value_info(output_name, TensorProto.FLOAT, ["B", N_PARAMS])
    t, p = input_names
    if kind == "smooth":
        inits = [numpy_helper.from_array(a, n) for a, n in (
            (np.resize(MEAN, f), "mean"), (np.resize(STD, f), "std"), (np.resize(W, (f, N_PARAMS)), "W"), (B, "b"),
            (np.array(0.05, np.float32), "gain"), (np.array(0.0, np.float32), "lo"),
            (np.array(1.0, np.float32), "hi"))]
        nodes = [
            helper.make_node("Sub", [t, "mean"], ["c"]),
            helper.make_node("Div", ["c", "std"], ["z"]),
            helper.make_node("MatMul", ["z", "W"], ["h"]),
            helper.make_node("Add", ["h", "b"], ["hb"]),
            helper.make_node("Tanh", ["hb"], ["a"]),
            helper.make_node("Mul", ["a", "gain"], ["d"]),
            helper.make_node("Add", [p, "d"], ["q"]),
            helper.make_node("Clip", ["q", "lo", "hi"], [output_name]),
        ]
    elif kind == "nan":
        inits = [numpy_helper.from_array(np.array([1], np.int64), "axes")]
        nodes = [
            helper.make_node("ReduceSum", [t, "axes"], ["s"], keepdims=1),
            helper.make_node("Log", ["s"], ["l"]),
            helper.make_node("Mul", [p, "l"], [output_name]),
        ]
    else:
        raise ValueError(kind)
    graph = helper.make_graph(nodes, "test_policy", [target, params], [out], inits)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    helper.set_model_props(model, metadata(**meta))
    onnx.checker.check_model(model)
    path.parent.mkdir(parents=True, exist_ok=True)
    onnx.save(model, str(path))
    return path


def reference_step(target: np.ndarray, params: np.ndarray) -> np.ndarray:
    """What the smooth policy answers, in numpy (float32 throughout)."""
    z = (np.asarray(target, np.float32) - MEAN) / STD
    return np.clip(params + np.float32(0.05) * np.tanh(z @ W + B), 0, 1).astype(np.float32)


def random_targets(n: int, seed: int = 1) -> np.ndarray:
    """Plausible raw descriptor frames: loudness, centroid, flatness."""
    rng = np.random.default_rng(seed)
    return (MEAN + STD * rng.normal(size=(n, 3))).astype(np.float32)


def free_udp_port() -> int:
    """A UDP port that was free a moment ago (for programs that cannot listen on port 0)."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture
def policy_path(tmp_path: Path) -> Path:
    """A valid smooth test policy."""
    return build_policy(tmp_path / "policy.onnx")


@pytest.fixture
def nan_policy_path(tmp_path: Path) -> Path:
    """A valid policy whose output is NaN when the target sums below zero."""
    return build_policy(tmp_path / "nan.onnx", kind="nan")


#: both server engines; the C one needs `make hotloop` (which `make test` runs first)
ENGINES = ["python", pytest.param("c", marks=pytest.mark.skipif(not hotloop.available(), reason="run `make hotloop`"))]


@pytest.fixture(params=ENGINES)
def engine(request: pytest.FixtureRequest) -> str:
    """The engine answering targets in the server under test."""
    return request.param


# ----------------------------------------------------------------------------- JACK (dummy driver)

def jack_ports(env: dict[str, str]) -> dict[str, str]:
    """{port: 'input' | 'output'} of the JACK server, from `jack_lsp -p`."""
    out = subprocess.run(["jack_lsp", "-p"], capture_output=True, text=True, env=env, timeout=10).stdout
    ports, name = {}, None
    for line in out.splitlines():
        if line.startswith(("\t", " ")) and name and "properties:" in line:
            ports[name] = "input" if "input" in line else "output"
        elif line.strip():
            name = line.strip()
    return ports


class Jack:
    """A private jackd with the dummy driver (own server name): start it, kill it, start it again."""

    def __init__(self) -> None:
        self.env = {**os.environ, "JACK_DEFAULT_SERVER": f"rlimpro-test-{os.getpid()}", "JACK_NO_AUDIO_RESERVATION": "1"}
        self.proc: subprocess.Popen | None = None

    def start(self) -> bool:
        """Start jackd and wait for its system ports; False if it did not come up."""
        # clients get 10 s (-t) before JACK drops them, so that a loaded CI machine does not stall a real-time Pd
        self.proc = subprocess.Popen(["jackd", "--no-realtime", "-t", "10000", "-d", "dummy", "-r", "44100", "-p", "256"],
                                     env=self.env, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                     stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + 15
        while not any(p.startswith("system:") for p in jack_ports(self.env)):
            if self.proc.poll() is not None or time.monotonic() > deadline:
                return False
            time.sleep(0.2)
        return True

    def stop(self) -> None:
        """Terminate jackd (kill it if it does not go within 10 s)."""
        if self.proc is None or self.proc.poll() is not None:
            return
        self.proc.terminate()
        try:
            self.proc.wait(10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()


@pytest.fixture
def jack() -> Iterator[Jack]:
    """A started :class:`Jack` (skips when JACK is not installed or does not start)."""
    if not all(shutil.which(tool) for tool in ("jackd", "jack_lsp", "jack_connect")):
        pytest.skip("JACK is not installed (apt-get install jackd2)")
    server = Jack()
    try:
        if not server.start():
            pytest.skip("jackd (dummy driver) did not start")
        yield server
    finally:
        server.stop()


@pytest.fixture
def jack_server(jack: Jack) -> dict[str, str]:
    """A JACK server with the dummy driver (no sound card needed), private to this test: the
    environment its clients need (JACK_DEFAULT_SERVER)."""
    return jack.env
