"""Load and run a self-contained ``policy.onnx`` (docs/protocol.md) with onnxruntime only.

The model maps raw musician descriptors ``target`` [B, F] and the current synth parameters
``params`` [B, N] to the next parameters ``params_next`` [B, N]. Optional inputs: the knobs
``intent`` and ``calm`` [B, 1] (the host keeps a value of each, starting at metadata
``intent_default`` / ``calm_default``, and clips what it is asked to [-1, 1]) and a recurrent
``state`` [B, S] with the output ``state_next`` (the host keeps it: zeros at start and on
every reset, advanced only by a decision that succeeds, never by warm-ups). :class:`Policy` validates the
file once at start-up (inputs, output and metadata; one-line :class:`RlimproError` naming what
is wrong) and keeps pre-bound, preallocated buffers so that one decision is a buffer copy and
one ``run_with_iobinding`` call: the live server and the offline replay both go through
:meth:`Policy.decide`, so a replay is exactly what live playing would have done.

No torch, no pandas: this module needs the core install only.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from math import hypot
from pathlib import Path

import numpy as np
import onnxruntime as ort

from rlimpro.descriptors.names import NAMES
from rlimpro.errors import RlimproError

__all__ = ["Policy", "PolicyInfo", "REQUIRED_METADATA", "OPTIONAL_INPUTS", "TARGET_LIMIT", "OK", "BAD_TARGET",
           "BAD_OUTPUT", "KNOBS", "check_knob"]

#: metadata_props every policy carries (``initial_params`` is optional)
REQUIRED_METADATA = (
    "rlimpro_version", "synth", "n_params", "param_names", "features", "analysis",
    "algo", "action_space", "step", "corpus",
)
#: a target frame whose Euclidean norm exceeds this (or with a NaN/inf) is refused: no frame of
#: docs/descriptors.md descriptors comes near it (Hz ≤ 22050, dB and LUFS within ±200, at most 56 values)
TARGET_LIMIT = 1e7

#: inputs a policy may have beyond ``target`` and ``params``
OPTIONAL_INPUTS = ("intent", "calm", "state")
#: the knobs (1 value in [-1, 1] each, docs/protocol.md) and what their ends do
KNOBS = {"intent": "1 imitates, 0 holds its centre, -1 mirrors",
         "calm": "-1 busy (half the move costs), 0 as trained, 1 calm (1.5 times)"}

#: :meth:`Policy.decide` results
OK, BAD_TARGET, BAD_OUTPUT = 0, 1, 2

_FIX = "re-export it with `rlimpro export`"


@dataclass(frozen=True)
class PolicyInfo:
    """What a policy file says about itself (its metadata_props, parsed and checked)."""

    path: Path
    synth: str
    n_params: int
    param_names: tuple[str, ...]
    features: tuple[str, ...]
    sr: int
    window: int
    hop: int
    algo: str
    action_space: str
    step: float
    corpus: str
    initial_params: np.ndarray
    version: str
    intent_default: float | None = None
    calm_default: float | None = None
    state_size: int = 0

    @property
    def n_features(self) -> int:
        """F, the number of musician descriptors per target frame."""
        return len(self.features)

    def default(self, knob: str) -> float | None:
        """Where ``knob`` (``intent`` or ``calm``) starts, or None when the policy has no such input."""
        return self.intent_default if knob == "intent" else self.calm_default

    @property
    def dial(self) -> str:
        """Lines on the policy's knobs, for start-up messages ("" when it has none)."""
        return "\n".join(f"/rlimpro/{knob}: 1 number in [-1, 1] ({ends}; starts at {self.default(knob):g})"
                         for knob, ends in KNOBS.items() if self.default(knob) is not None)

    @property
    def frame_period(self) -> float:
        """Seconds between analysis frames (hop / sr): the rate targets arrive at live."""
        return self.hop / self.sr


def check_knob(info: PolicyInfo, knob: str, value: float | None) -> None:
    """Refuse an ``--intent`` or ``--calm`` option a policy cannot play (one line naming what to do).

    :param knob: ``intent`` or ``calm``.
    :param value: the requested value, or None (the policy's default; always fine).
    :raises RlimproError: if the policy has no such input or ``value`` is outside [-1, 1].
    """
    if value is None:
        return
    if info.default(knob) is None:
        how = ("train with env.intent: true" if knob == "intent"
               else "train with train.algo: avi and a move or reversal cost")
        raise RlimproError(f"{info.path.name}: this policy has no {knob} input; {how} and export again to play it "
                           f"with --{knob}")
    if not -1.0 <= value <= 1.0:
        raise RlimproError(f"--{knob} {value}: use a number in [-1, 1] ({KNOBS[knob]})")


def _fail(path: Path, what: str) -> RlimproError:
    return RlimproError(f"{path.name}: {what}; {_FIX}")


def _parse_metadata(path: Path, meta: dict[str, str]) -> PolicyInfo:
    missing = [key for key in REQUIRED_METADATA if key not in meta]
    if missing:
        raise _fail(path, f"metadata_props lacks {', '.join(missing)} (not an rlimpro policy?)")
    try:
        n_params = int(meta["n_params"])
    except ValueError:
        raise _fail(path, f"metadata n_params={meta['n_params']!r} is not an integer") from None
    if n_params < 1:
        raise _fail(path, f"metadata n_params={n_params} must be at least 1")
    param_names = tuple(name.strip() for name in meta["param_names"].split(","))
    if len(param_names) != n_params:
        raise _fail(path, f"metadata param_names has {len(param_names)} names, n_params says {n_params}")
    features = tuple(name.strip() for name in meta["features"].split(","))
    unknown = [name for name in features if name not in NAMES]
    if unknown:
        raise _fail(path, f"metadata features has unknown descriptor(s) {', '.join(unknown)}")
    if list(features) != sorted(set(features), key=NAMES.index):
        raise _fail(path, "metadata features are not unique names in table order (docs/descriptors.md)")
    try:
        analysis = json.loads(meta["analysis"])
        sr, window, hop = (int(analysis[key]) for key in ("sr", "window", "hop"))
    except (ValueError, TypeError, KeyError):
        raise _fail(path, f"metadata analysis={meta['analysis']!r} is not JSON with sr, window, hop") from None
    if min(sr, window, hop) < 1:
        raise _fail(path, f"metadata analysis={meta['analysis']!r} has a non-positive value")
    try:
        step = float(meta["step"])
    except ValueError:
        raise _fail(path, f"metadata step={meta['step']!r} is not a number") from None
    initial = np.full(n_params, 0.5, dtype=np.float32)
    if meta.get("initial_params", "").strip():
        try:
            values = [float(v) for v in meta["initial_params"].split(",")]
        except ValueError:
            raise _fail(path, f"metadata initial_params={meta['initial_params']!r} is not comma-joined numbers") from None
        if len(values) != n_params or not all(0.0 <= v <= 1.0 for v in values):
            raise _fail(path, f"metadata initial_params needs {n_params} values in [0, 1], got {meta['initial_params']!r}")
        initial = np.asarray(values, dtype=np.float32)
    defaults: dict[str, float | None] = {}
    for knob in KNOBS:
        key, defaults[knob] = f"{knob}_default", None
        if key in meta:
            try:
                defaults[knob] = float(meta[key])
            except ValueError:
                defaults[knob] = float("nan")
            if not -1.0 <= defaults[knob] <= 1.0:
                raise _fail(path, f"metadata {key}={meta[key]!r} is not a number in [-1, 1]")
    state_size = 0
    if "state_size" in meta:
        text = meta["state_size"].strip()
        if not (text.isascii() and text.isdigit()) or int(text) < 1:
            raise _fail(path, f"metadata state_size={meta['state_size']!r} is not a positive integer")
        state_size = int(text)
    return PolicyInfo(
        path=path, synth=meta["synth"], n_params=n_params, param_names=param_names, features=features,
        sr=sr, window=window, hop=hop, algo=meta["algo"], action_space=meta["action_space"], step=step,
        corpus=meta["corpus"], initial_params=initial, version=meta["rlimpro_version"],
        intent_default=defaults["intent"], calm_default=defaults["calm"], state_size=state_size,
    )


def _inputs(session: ort.InferenceSession) -> dict[str, ort.NodeArg]:
    """Every input a caller may feed: the graph's inputs and its overridable initializers (an
    optional input backed by an initializer holding its default is one of these)."""
    return {arg.name: arg for arg in [*session.get_inputs(), *session.get_overridable_initializers()]}


def _check_io(path: Path, session: ort.InferenceSession, info: PolicyInfo) -> None:
    inputs = _inputs(session)
    outputs = {arg.name: arg for arg in session.get_outputs()}
    if not {"target", "params"} <= set(inputs) or not set(inputs) <= {"target", "params", *OPTIONAL_INPUTS}:
        raise _fail(path, f"inputs are {sorted(inputs)}, expected target, params (and optionally intent, calm, state)")
    wanted = ["params_next", "state_next"] if "state" in inputs else ["params_next"]
    if sorted(outputs) != wanted:
        raise _fail(path, f"outputs are {sorted(outputs)}, expected {wanted}")
    for knob in KNOBS:
        if (knob in inputs) != (info.default(knob) is not None):
            raise _fail(path, f"an input {knob!r} needs metadata {knob}_default, and only such an input has it")
    if ("state" in inputs) != (info.state_size > 0):
        raise _fail(path, "a state input needs metadata state_size, and only a state input has it")
    expected = {"target": info.n_features, "params": info.n_params, "params_next": info.n_params,
                "intent": 1, "calm": 1, "state": info.state_size, "state_next": info.state_size}
    for name, arg in (*inputs.items(), *outputs.items()):
        if arg.type != "tensor(float)":
            raise _fail(path, f"{name!r} is {arg.type}, expected tensor(float)")
        shape = arg.shape
        if len(shape) != 2:
            raise _fail(path, f"{name!r} has shape {shape}, expected [batch, {expected[name]}]")
        if shape[1] != expected[name]:
            raise _fail(path, f"{name!r} has {shape[1]} columns, metadata says {expected[name]}")
        if isinstance(shape[0], int) and shape[0] != 1 and name == "target":
            raise _fail(path, f"{name!r} has a fixed batch of {shape[0]}, expected a dynamic batch or 1")


def session_options() -> ort.SessionOptions:
    """onnxruntime options for live use: one thread each, no spinning (docs/benchmarks.md, live latency).

    :return: options for :class:`onnxruntime.InferenceSession`.
    """
    options = ort.SessionOptions()
    options.intra_op_num_threads = 1
    options.inter_op_num_threads = 1
    options.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    options.add_session_config_entry("session.intra_op.allow_spinning", "0")
    options.add_session_config_entry("session.inter_op.allow_spinning", "0")
    options.log_severity_level = 3
    return options


def _bound_runner(session: ort.InferenceSession, binding: ort.IOBinding) -> Callable[[], None]:
    """A no-argument call running ``binding`` once.

    The public ``InferenceSession.run_with_iobinding`` adds ~45 µs of Python checks per call
    (WebGPU graph-capture bookkeeping, onnxruntime 1.32); the binding's C object has the same
    method without them. Fall back to the public method if those internals ever move.
    """
    options = ort.RunOptions()  # created once: a fresh RunOptions per call costs ~70 µs
    c_session, c_binding = getattr(session, "_sess", None), getattr(binding, "_iobinding", None)
    if c_binding is not None and hasattr(c_session, "run_with_iobinding"):
        return partial(c_session.run_with_iobinding, c_binding, options)
    return partial(session.run_with_iobinding, binding, options)


class Policy:
    """A loaded policy with its parameter state and pre-bound input/output buffers.

    :param path: a ``policy.onnx`` following docs/protocol.md.
    :raises RlimproError: one line naming what is wrong with the file.

    The buffers :attr:`target`, :attr:`params` and :attr:`output` (1-D float32 views) are bound
    to the session once; write a frame into :attr:`target` and call :meth:`decide`.
    """

    def __init__(self, path: str | Path) -> None:
        path = Path(path)
        if not path.is_file():
            raise RlimproError(f"{path}: no such policy file; export one with `rlimpro export RUN -o {path.name}`")
        try:
            session = ort.InferenceSession(str(path), sess_options=session_options(), providers=["CPUExecutionProvider"])
        except Exception as exc:  # onnxruntime raises its own exception types for bad files
            first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
            raise RlimproError(f"{path.name}: not a loadable ONNX model ({first[:160]})") from None
        self.info = _parse_metadata(path, dict(session.get_modelmeta().custom_metadata_map))
        _check_io(path, session, self.info)
        self._session = session
        n, f, s = self.info.n_params, self.info.n_features, self.info.state_size
        # target, output and state_next side by side in one buffer: decide() checks them with one call
        self._io = np.zeros((1, f + n + s), dtype=np.float32)
        self._target2d, self._output2d, state_next2d = self._io[:, :f], self._io[:, f:f + n], self._io[:, f + n:]
        self._params2d = self.info.initial_params.reshape(1, n).copy()
        self.target = self._target2d[0]
        self.params = self._params2d[0]
        self.output = self._output2d[0]
        self._io_view, self._target_view = memoryview(self._io[0]), memoryview(self.target)
        self._params_view, self._output_view = memoryview(self.params), memoryview(self.output)
        self._binding = binding = session.io_binding()
        binding.bind_ortvalue_input("target", ort.OrtValue.ortvalue_from_numpy(self._target2d))
        binding.bind_ortvalue_input("params", ort.OrtValue.ortvalue_from_numpy(self._params2d))
        binding.bind_ortvalue_output("params_next", ort.OrtValue.ortvalue_from_numpy(self._output2d))
        #: the intent and the calm fed to the model (1 value each), or None when the policy has no such input
        self.intent: np.ndarray | None = self._knob("intent")
        self.calm: np.ndarray | None = self._knob("calm")
        #: the recurrent state fed to the model and the one it returns (S values each), or None
        self.state: np.ndarray | None = None
        self.state_next: np.ndarray | None = None
        self._state_view = self._state_next_view = None
        if s:
            state2d = np.zeros((1, s), dtype=np.float32)
            binding.bind_ortvalue_input("state", ort.OrtValue.ortvalue_from_numpy(state2d))
            binding.bind_ortvalue_output("state_next", ort.OrtValue.ortvalue_from_numpy(state_next2d))
            self.state, self.state_next = state2d[0], state_next2d[0]
            self._state_view, self._state_next_view = memoryview(self.state), memoryview(self.state_next)
        self._run = _bound_runner(session, binding)
        # warm up so that the first live decision is not slower than the rest
        self.decide()
        self.reset()

    def _knob(self, name: str) -> np.ndarray | None:
        """A bound 1-value buffer for the knob ``name`` at its default, or None if the policy has no such input."""
        if self.info.default(name) is None:
            return None
        value2d = np.full((1, 1), self.info.default(name), dtype=np.float32)
        self._binding.bind_ortvalue_input(name, ort.OrtValue.ortvalue_from_numpy(value2d))
        return value2d[0]

    def reset(self, values: np.ndarray | None = None) -> bool:
        """Set the parameter state: ``None`` restores ``initial_params``; else N values, clipped
        to [0, 1]. Either way the recurrent state goes back to zeros (the knobs stay).

        :param values: N new parameter values, or None.
        :return: False (nothing changed) if ``values`` has the wrong length or a non-finite value.
        """
        if values is None:
            self.params[:] = self.info.initial_params
        else:
            values = np.asarray(values, dtype=np.float32).reshape(-1)
            if values.shape[0] != self.info.n_params or not np.isfinite(values).all():
                return False
            np.clip(values, 0.0, 1.0, out=self.params)
        if self.state is not None:
            self.state[:] = 0.0
        return True

    def set_knob(self, knob: str, value: float) -> bool:
        """Set the ``intent`` or ``calm`` the next decisions use: clipped to [-1, 1].

        :return: False (unchanged) if the policy has no such input or ``value`` is NaN/inf.
        """
        buffer = self.intent if knob == "intent" else self.calm
        if buffer is None or not np.isfinite(value):
            return False
        buffer[0] = min(max(float(value), -1.0), 1.0)
        return True

    def decide(self) -> int:
        """One decision from the frame in :attr:`target` and the state in :attr:`params`.

        Refuses a target with a NaN, inf or a norm above :data:`TARGET_LIMIT`; refuses a
        non-finite (or absurd) model output. Either way the state stays as it was. On success
        the new parameters are in :attr:`output` and :attr:`params`.

        The model runs first, then ONE ``math.hypot`` over target and output (adjacent in one
        buffer) checks both, and a memoryview copy updates the state: between packets the
        caches are cold, and four numpy reductions plus a numpy copy cost ~14 µs there.

        :return: :data:`OK`, :data:`BAD_TARGET` or :data:`BAD_OUTPUT`.
        """
        self._run()
        if not hypot(*self._io_view) <= TARGET_LIMIT:  # NaN compares False; inf and huge exceed
            return BAD_TARGET if not hypot(*self._target_view) <= TARGET_LIMIT else BAD_OUTPUT
        self._params_view[:] = self._output_view
        if self._state_view is not None:
            self._state_view[:] = self._state_next_view
        return OK

    def warm(self) -> None:
        """Run the model once on the buffers as they are, changing no state (params, recurrent state).

        Between frames (11.6 ms apart) the machine evicts onnxruntime's code and data from the
        caches, and a cold decision takes several times longer than a warm one; the server
        calls this while it waits so that the next real frame finds them warm.
        """
        self._run()

    def step(self, target: np.ndarray) -> np.ndarray:
        """Copy one frame of F raw descriptors in and decide (a convenience for tests and checks).

        :param target: F float values in the order of ``info.features``.
        :return: a copy of the parameters after the decision (unchanged if it was refused).
        :raises RlimproError: if ``target`` does not have F values.
        """
        target = np.asarray(target, dtype=np.float32).reshape(-1)
        if target.shape[0] != self.info.n_features:
            raise RlimproError(f"{self.info.path.name}: a target frame needs {self.info.n_features} values, got {target.shape[0]}")
        self.target[:] = target
        self.decide()
        return self.params.copy()

    def run_batch(self, target: np.ndarray, params: np.ndarray, **optional: np.ndarray) -> np.ndarray:
        """Evaluate the graph on a batch, statelessly (for checks, not for live use).

        :param target: [B, F] raw descriptors.
        :param params: [B, N] current parameters.
        :param optional: ``intent`` [B, 1], ``calm`` [B, 1] and/or ``state`` [B, S]; the graph's defaults otherwise.
        :return: [B, N] next parameters.
        """
        feeds = {name: np.ascontiguousarray(value, dtype=np.float32)
                 for name, value in {"target": target, "params": params, **optional}.items()}
        return self._session.run(["params_next"], feeds)[0]
