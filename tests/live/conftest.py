"""Test policies built with onnx.helper that follow the policy file contract (docs/protocol.md).

The "smooth" policy is ``clip(params + 0.05·tanh(((target - mean) / std) @ W + b), 0, 1)``
with fixed weights, so its answer is known in numpy (:func:`reference_step`). The "nan"
policy returns ``params · log(sum(target))``: NaN whenever the target sums below zero. The
"nan_state" policy (with ``state=S``) moves every param up by 0.01 (clipped) and returns
``state_next = state · 0 + log(sum(target))``: finite params, but a NaN state below zero.

With the optional inputs of docs/protocol.md (``build_policy(intent=..., calm=..., state=S)``)
the smooth policy becomes, with z = intent · (target - mean) / std and g = 0.05 · 2**-calm (as
an exported policy weighs its move costs more at a higher calm, a calmer knob moves it less)::

    state_next  = 0.5 · state + 0.5 · tanh(z @ V)                       (if state)
    params_next = clip(params + g · tanh(z @ W + b [+ state_next @ U]), 0, 1)

known in numpy too (:func:`reference_decide`): its trajectory depends on the intent, the calm and
on the whole history of targets.
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
#: the recurrent weights of a policy with a state of S: V [F, S] and U [S, N] (see the module docstring)
_RECURRENT = np.random.default_rng(2).normal(size=(16, 16)).astype(np.float32)


def recurrent_weights(n_features: int, state: int) -> tuple[np.ndarray, np.ndarray]:
    """V [F, S] and U [S, N] of a policy with ``state`` recurrent values (S ≤ 16)."""
    return _RECURRENT[:n_features, :state].copy(), _RECURRENT[8:8 + state, :N_PARAMS].copy()


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
                 intent: float | None = None, calm: float | None = None, state: int = 0,
                 state_next: str | None = "state_next",
                 state_columns: int | None = None, extra_inputs: tuple[str, ...] = (), defaults: bool = True,
                 **meta: str | None) -> Path:
    """Write a test policy to ``path`` and return it.

    :param intent: give the smooth policy an ``intent`` input [B, 1] with this default (metadata
        ``intent_default``, unless ``meta`` overrides it; None removes the key).
    :param calm: give it a ``calm`` input [B, 1] with this default (metadata ``calm_default``,
        likewise): its step gain becomes 0.05 · 2**-calm.
    :param state: give it a recurrent ``state`` input [B, S] of this size (metadata ``state_size``).
    :param state_next: the name of the state's output (None: no such output).
    :param state_columns: declare ``state`` (and its output) with this many columns instead of S.
    :param extra_inputs: more float [B, 1] inputs of these names (unused by the graph).
    :param defaults: back intent, calm, state and the extra inputs with a graph initializer holding
        their default (as `rlimpro export` does: onnxruntime then lists them as overridable
        initializers, not inputs); False: plain graph inputs a caller must feed.
    """
    f = n_features
    target = helper.make_tensor_value_info(input_names[0], TensorProto.FLOAT, ["B", f])
    params = helper.make_tensor_value_info(input_names[1], TensorProto.FLOAT, ["B", N_PARAMS])
    out = helper.make_tensor_value_info(output_name, TensorProto.FLOAT, ["B", N_PARAMS])
    t, p = input_names
    inputs, outputs, inits, nodes = [target, params], [out], [], []
    columns = state if state_columns is None else state_columns
    optional = [("intent", 1, np.full((1, 1), intent, np.float32))] if intent is not None else []
    optional += [("calm", 1, np.full((1, 1), calm, np.float32))] if calm is not None else []
    optional += [("state", columns, np.zeros((1, columns), np.float32))] if state else []
    optional += [(name, 1, np.zeros((1, 1), np.float32)) for name in extra_inputs]
    for name, width, default in optional:
        inputs.append(helper.make_tensor_value_info(name, TensorProto.FLOAT, ["B", width]))
        if defaults:
            inits.append(numpy_helper.from_array(default, name))
    if state and state_next is not None:
        outputs.append(helper.make_tensor_value_info(state_next, TensorProto.FLOAT, ["B", columns]))
    if intent is not None:
        meta = {"intent_default": str(intent), **meta}
    if calm is not None:
        meta = {"calm_default": str(calm), **meta}
    if state:
        meta = {"state_size": str(state), **meta}
    if kind == "smooth":
        inits += [numpy_helper.from_array(a, n) for a, n in (
            (np.resize(MEAN, f), "mean"), (np.resize(STD, f), "std"), (np.resize(W, (f, N_PARAMS)), "W"), (B, "b"),
            (np.array(0.05, np.float32), "gain"), (np.array(0.0, np.float32), "lo"),
            (np.array(1.0, np.float32), "hi"), (np.array(2.0, np.float32), "two"))]
        z = "zi" if intent is not None else "z"
        nodes += [
            helper.make_node("Sub", [t, "mean"], ["c"]),
            helper.make_node("Div", ["c", "std"], ["z"]),
            *([helper.make_node("Mul", ["z", "intent"], ["zi"])] if intent is not None else []),
            helper.make_node("MatMul", [z, "W"], ["h"]),
            helper.make_node("Add", ["h", "b"], ["hb"]),
        ]
        if state:
            v, u = recurrent_weights(f, columns)
            m = state_next or "m"
            inits += [numpy_helper.from_array(v, "V"), numpy_helper.from_array(u, "U"),
                      numpy_helper.from_array(np.array(0.5, np.float32), "half")]
            nodes += [
                helper.make_node("MatMul", [z, "V"], ["zv"]),
                helper.make_node("Tanh", ["zv"], ["tv"]),
                helper.make_node("Mul", ["state", "half"], ["s1"]),
                helper.make_node("Mul", ["tv", "half"], ["s2"]),
                helper.make_node("Add", ["s1", "s2"], [m]),
                helper.make_node("MatMul", [m, "U"], ["mu"]),
                helper.make_node("Add", ["hb", "mu"], ["hm"]),
            ]
        if calm is not None:  # gain · 2**-calm, [B, 1]
            nodes += [
                helper.make_node("Neg", ["calm"], ["nc"]),
                helper.make_node("Pow", ["two", "nc"], ["pc"]),
                helper.make_node("Mul", ["pc", "gain"], ["gc"]),
            ]
        nodes += [
            helper.make_node("Tanh", ["hm" if state else "hb"], ["a"]),
            helper.make_node("Mul", ["a", "gc" if calm is not None else "gain"], ["d"]),
            helper.make_node("Add", [p, "d"], ["q"]),
            helper.make_node("Clip", ["q", "lo", "hi"], [output_name]),
        ]
    elif kind == "nan":
        inits += [numpy_helper.from_array(np.array([1], np.int64), "axes")]
        nodes += [
            helper.make_node("ReduceSum", [t, "axes"], ["s"], keepdims=1),
            helper.make_node("Log", ["s"], ["l"]),
            helper.make_node("Mul", [p, "l"], [output_name]),
        ]
    elif kind == "nan_state" and state and state_next:
        inits += [numpy_helper.from_array(a, n) for a, n in (
            (np.array([1], np.int64), "axes"), (np.array(0.01, np.float32), "up"), (np.array(0.0, np.float32), "lo"),
            (np.array(1.0, np.float32), "hi"))]
        nodes += [
            helper.make_node("ReduceSum", [t, "axes"], ["s"], keepdims=1),
            helper.make_node("Log", ["s"], ["l"]),
            helper.make_node("Mul", ["state", "lo"], ["zero"]),
            helper.make_node("Add", ["zero", "l"], [state_next]),
            helper.make_node("Add", [p, "up"], ["q"]),
            helper.make_node("Clip", ["q", "lo", "hi"], [output_name]),
        ]
    else:
        raise ValueError(kind)
    graph = helper.make_graph(nodes, "test_policy", inputs, outputs, inits)
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


def reference_decide(target: np.ndarray, params: np.ndarray, intent: float = 1.0,
                     state: np.ndarray | None = None, calm: float = 0.0) -> tuple[np.ndarray, np.ndarray | None]:
    """What the smooth policy with its optional inputs answers, in numpy (float32 throughout):
    (params_next, state_next, None without a state). ``calm`` 0 is a policy without that input."""
    z = (np.asarray(target, np.float32) - MEAN) / STD * np.float32(intent)
    h = z @ W + B
    state_next = None
    if state is not None:
        v, u = recurrent_weights(len(z), len(state))
        state_next = (np.float32(0.5) * state + np.float32(0.5) * np.tanh(z @ v)).astype(np.float32)
        h = h + state_next @ u
    gain = np.float32(0.05) * np.float32(2.0) ** np.float32(-calm)
    return np.clip(params + gain * np.tanh(h), 0, 1).astype(np.float32), state_next


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


# ----------------------------------------------------------------------------- a real exported policy with calm

REPO = Path(__file__).resolve().parents[2]


def _has_calm(path: Path) -> bool:
    return any(p.key == "calm_default" for p in onnx.load(str(path), load_external_data=False).metadata_props)


@pytest.fixture(scope="session")
def exported_calm_policy(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A real `rlimpro export`ed policy with the ``calm`` knob (the fm synth: an ``avi`` run with
    move and reversal costs, an intent and a recurrent state): 00_synths/fm/policy.onnx once it
    carries one, else exported here from 00_synths/fm/runs/main (no parity check; skips when
    neither is there)."""
    shipped = REPO / "00_synths" / "fm" / "policy.onnx"
    if shipped.is_file() and _has_calm(shipped):
        return shipped
    run = REPO / "00_synths" / "fm" / "runs" / "main"
    if not (run / "model.zip").is_file():
        pytest.skip("no fm policy with a calm input and no 00_synths/fm/runs/main to export one (run `make demo`)")
    from rlimpro.export import export_run

    out, _ = export_run(run, tmp_path_factory.mktemp("exported") / "fm_calm.onnx", REPO, check=0)
    assert _has_calm(out)
    return out


def take_frames(features: list[str], seconds: float = 3.0, take: str = "flute") -> np.ndarray:
    """Raw descriptor frames (the policy's ``features``) of the first ``seconds`` of a demo corpus
    take, as the C core analyses them."""
    from rlimpro.audio import load_audio
    from rlimpro.descriptors import compute, indices

    audio = load_audio(REPO / "01_corpus" / "demo" / "audio" / f"{take}.ogg")[:int(seconds * 44100)]
    return compute(audio, sr=44100, engine="c")[:, indices(features)].astype(np.float32)
