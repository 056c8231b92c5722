"""[rlimpro_policy] with a policy that has the knobs intent and calm and a recurrent state
(docs/protocol.md), in a real (batch) Pd with real onnxruntime."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest
from tests.live.conftest import INITIAL, build_policy, random_targets, reference_decide, take_frames
from tests.live.test_pd_policy import _floats, _pd

from rlimpro.live.play import EXTERNALS, POLICY_EXTERNAL
from rlimpro.live.policy import Policy
from rlimpro.pdrun import find_pd

pytestmark = pytest.mark.skipif(not POLICY_EXTERNAL.is_file(), reason="run `make externals`")

S = 4


def _errors(console: str) -> list[str]:
    return [line for line in console.splitlines() if line.startswith("error:")]


def _reference(path: Path, frames: np.ndarray, knobs: list[tuple[float, float]], reset_at: int,
               set_at: int) -> list[np.ndarray]:
    """The numpy formula's trajectory with (intent, calm) per frame, a reset (params and state, the
    knobs kept) before frame ``reset_at`` and ``set 0.9 0.1`` (the params only) before ``set_at``;
    checked against Policy.step with set_knob on the way."""
    reference, params, state, expected = Policy(path), INITIAL, np.zeros(S, np.float32), []
    for i, (frame, (intent, calm)) in enumerate(zip(frames, knobs, strict=True)):
        if i == reset_at:
            params, state = INITIAL, np.zeros(S, np.float32)
            assert reference.reset()
        if i == set_at:  # Policy.reset would zero the state too
            params = np.array([0.9, 0.1], np.float32)
            reference.params[:] = params
        assert reference.set_knob("intent", intent) and (reference.calm is None or reference.set_knob("calm", calm))
        params, state = reference_decide(frame, params, intent, state, calm)
        np.testing.assert_allclose(reference.step(frame), params, atol=1e-6)
        expected.append(params)
    return expected


@pytest.mark.parametrize("defaults", [True, False], ids=["overridable", "plain"])
def test_pd_keeps_intent_and_state_as_the_reference(tmp_path: Path, defaults: bool) -> None:
    """Intent (clipped; a wrong message refused), reset (state to zeros, intent kept) and set
    (params only, the state kept): the numpy formula's trajectory, and Policy.step's."""
    path = build_policy(tmp_path / "stateful.onnx", intent=0.5, state=S, defaults=defaults)
    f = random_targets(8)
    messages = ["info", _floats(f[0]), _floats(f[1]), "intent 0.25", _floats(f[2]), "intent 3", "intent", "info",
                _floats(f[3]), "reset", _floats(f[4]), _floats(f[5]), "set 0.9 0.1", _floats(f[6]), _floats(f[7])]
    outs, infos, console = _pd(tmp_path, messages, "stateful.onnx")

    knobs = [(0.5, 0.0)] * 2 + [(0.25, 0.0)] + [(1.0, 0.0)] * 5
    expected = _reference(path, f, knobs, reset_at=4, set_at=6)
    assert len(outs) == len(expected), console
    np.testing.assert_allclose(np.array(outs), np.array(expected), atol=1e-5)  # Pd prints 6 digits
    assert [line for line in infos if line.startswith(("intent", "state_size"))] == \
        ["intent 0.5", "state_size 4", "intent 1", "state_size 4"], console
    assert _errors(console) == ["error: rlimpro_policy: intent needs 1 float, got 0 atoms"], console
    assert "appears in graph inputs" not in console  # onnxruntime's warning stays quiet


NAN_PATCH = """#N canvas 0 0 600 400 12;
#X obj 10 10 loadbang;
#X obj 10 40 t b b b;
#X msg 200 70 1e39;
#X obj 200 100 expr $f1 - $f1;
#X msg 200 130 {knob} \\$1;
#X msg 10 130 {messages};
#X obj 10 170 rlimpro_policy {policy};
#X obj 10 200 print out;
#X obj 200 200 print info;
#X obj 350 130 print nan;
#X msg 10 250 \\; pd quit;
#X connect 0 0 1 0;
#X connect 1 2 2 0;
#X connect 2 0 3 0;
#X connect 3 0 4 0;
#X connect 3 0 9 0;
#X connect 4 0 6 0;
#X connect 1 1 5 0;
#X connect 5 0 6 0;
#X connect 6 0 7 0;
#X connect 6 1 8 0;
#X connect 1 0 10 0;
"""


@pytest.mark.parametrize("knob", ["intent", "calm"])
def test_pd_refuses_a_nan_or_inf_knob(tmp_path: Path, knob: str) -> None:
    """NaN (inf - inf from [expr]) and inf (1e39 in float32): one line each, the knob unchanged."""
    build_policy(tmp_path / "knobs.onnx", intent=0.5, calm=0.25, state=S)
    frame = random_targets(1)[0]
    patch = tmp_path / "nan.pd"
    patch.write_text(NAN_PATCH.format(messages=f"{knob} 1e39 \\, info \\, {_floats(frame)}", policy="knobs.onnx",
                                      knob=knob))
    proc = subprocess.run([find_pd(), "-nogui", "-nosound", "-noprefs", "-batch", "-path", str(EXTERNALS),
                           "-open", str(patch)], capture_output=True, text=True, timeout=60)
    console = proc.stdout + proc.stderr
    assert any(line.startswith("nan:") and "nan" in line.split(":", 1)[1] for line in console.splitlines()), console
    assert _errors(console) == [f"error: rlimpro_policy: {knob} ignored (NaN or inf)"] * 2, console
    assert "info: calm 0.25" in console and "info: intent 0.5" in console
    outs = [[float(v) for v in line.split()[1:]] for line in console.splitlines() if line.startswith("out:")]
    expected = reference_decide(frame, INITIAL, 0.5, np.zeros(S, np.float32), 0.25)[0]
    np.testing.assert_allclose(outs, [expected], atol=1e-5)
    moved = {"intent": (1.0, 0.25), "calm": (0.5, 1.0)}[knob]  # what the refused value would have been near
    assert not np.allclose(expected, reference_decide(frame, INITIAL, moved[0], np.zeros(S, np.float32), moved[1])[0],
                           atol=1e-4)


def test_pd_load_starts_the_new_policy_afresh(tmp_path: Path) -> None:
    """load: zeros for the state and the new policy's intent_default, whatever came before."""
    build_policy(tmp_path / "a.onnx", intent=0.5, state=S)
    shutil.copy(tmp_path / "a.onnx", tmp_path / "b.onnx")
    f = random_targets(3)
    outs, infos, console = _pd(tmp_path, [_floats(f[0]), "intent -1", _floats(f[1]), "load b.onnx", "info",
                                          _floats(f[2])], "a.onnx")
    assert len(outs) == 3 and not _errors(console), console
    fresh = reference_decide(f[2], INITIAL, 0.5, np.zeros(S, np.float32))[0]
    np.testing.assert_allclose(outs[2], fresh, atol=1e-5)
    assert "intent 0.5" in infos and f"path {tmp_path / 'b.onnx'}" in infos


def test_pd_intent_on_a_policy_without_one_is_one_line(policy_path: Path, tmp_path: Path) -> None:
    outs, infos, console = _pd(tmp_path, ["info", "intent 0.5", "reset"], str(policy_path))
    assert _errors(console) == ["error: rlimpro_policy: this policy has no intent input"], console
    assert "intent none" in infos and "state_size 0" in infos


def test_pd_refuses_a_non_finite_state_next(tmp_path: Path) -> None:
    """nan_state: finite params, but a NaN state_next when the target sums below zero: refused
    like a non-finite output (one line, nothing out, the params not moved)."""
    build_policy(tmp_path / "nan_state.onnx", kind="nan_state", state=3)
    good = random_targets(2)
    outs, _, console = _pd(tmp_path, [_floats(good[0]), "-5000 0 0", _floats(good[1])], "nan_state.onnx")
    assert _errors(console) == ["error: rlimpro_policy: the model gave no finite output; params kept"], console
    np.testing.assert_allclose(outs, [INITIAL + 0.01, INITIAL + 0.02], atol=1e-6)


@pytest.mark.parametrize("defaults", [True, False], ids=["overridable", "plain"])
def test_pd_keeps_calm_beside_intent_as_the_reference(tmp_path: Path, defaults: bool) -> None:
    """calm f (clipped; a wrong message refused), independently of intent f, kept by reset and set:
    the numpy formula's trajectory and Policy.step's with set_knob("calm", f)."""
    path = build_policy(tmp_path / "calm.onnx", intent=0.5, calm=0.25, state=S, defaults=defaults)
    f = random_targets(8, seed=6)
    messages = ["info", _floats(f[0]), _floats(f[1]), "calm 0.75", _floats(f[2]), "intent -0.5", _floats(f[3]),
                "calm 3", "calm", "calm 1 2", "info", _floats(f[4]), "reset", _floats(f[5]), "calm -2", _floats(f[6]),
                "set 0.9 0.1", _floats(f[7])]
    outs, infos, console = _pd(tmp_path, messages, "calm.onnx")

    knobs = [(0.5, 0.25)] * 2 + [(0.5, 0.75), (-0.5, 0.75), (-0.5, 1.0), (-0.5, 1.0), (-0.5, -1.0), (-0.5, -1.0)]
    expected = _reference(path, f, knobs, reset_at=5, set_at=7)
    assert len(outs) == len(expected), console
    np.testing.assert_allclose(np.array(outs), np.array(expected), atol=1e-5)  # Pd prints 6 digits
    assert [line for line in infos if line.startswith(("intent", "calm"))] == \
        ["intent 0.5", "calm 0.25", "intent -0.5", "calm 1"], console
    assert _errors(console) == ["error: rlimpro_policy: calm needs 1 float, got 0 atoms",
                                "error: rlimpro_policy: calm needs 1 float, got 2 atoms"], console
    # the calm mattered: at the default calm throughout Pd would have played another trajectory
    default, plain = Policy(path), []
    for frame, (intent, _) in zip(f[:5], knobs[:5], strict=True):
        assert default.set_knob("intent", intent)
        plain.append(default.step(frame))
    assert not np.allclose(np.array(outs[:5]), np.array(plain), atol=1e-4)


def test_pd_load_starts_at_the_new_policy_calm_default(tmp_path: Path) -> None:
    """load: the new policy's calm_default (not the calm set before, nor the old default)."""
    build_policy(tmp_path / "a.onnx", intent=0.5, calm=0.5, state=S)
    build_policy(tmp_path / "b.onnx", intent=0.5, calm=-0.5, state=S)
    f = random_targets(3)
    outs, infos, console = _pd(tmp_path, [_floats(f[0]), "calm 1", _floats(f[1]), "load b.onnx", "info",
                                          _floats(f[2])], "a.onnx")
    assert len(outs) == 3 and not _errors(console), console
    zeros = np.zeros(S, np.float32)
    np.testing.assert_allclose(outs[0], reference_decide(f[0], INITIAL, 0.5, zeros, 0.5)[0], atol=1e-5)
    np.testing.assert_allclose(outs[2], reference_decide(f[2], INITIAL, 0.5, zeros, -0.5)[0], atol=1e-5)
    assert "calm -0.5" in infos and f"path {tmp_path / 'b.onnx'}" in infos


def test_pd_calm_on_a_policy_without_one_is_one_line(tmp_path: Path) -> None:
    """A policy with an intent but no calm input: `calm f` is one error, `info` says none, the
    intent still works."""
    path = build_policy(tmp_path / "stateful.onnx", intent=0.5, state=S)
    frame = random_targets(1)[0]
    outs, infos, console = _pd(tmp_path, ["info", "calm 0.5", "intent -1", _floats(frame)], str(path))
    assert _errors(console) == ["error: rlimpro_policy: this policy has no calm input"], console
    assert "calm none" in infos and "intent 0.5" in infos
    np.testing.assert_allclose(outs, [reference_decide(frame, INITIAL, -1.0, np.zeros(S, np.float32))[0]], atol=1e-5)


def test_pd_plays_an_exported_policy_with_calm(exported_calm_policy: Path, tmp_path: Path) -> None:
    """A real `rlimpro export`ed policy (fm) on real descriptor frames: `calm f` in Pd gives
    Policy.step's trajectory with set_knob("calm", f), and the busier and calmer thirds are not
    the trained agent's."""
    reference = Policy(exported_calm_policy)
    frames = take_frames(list(reference.info.features))
    thirds = np.array_split(np.arange(len(frames)), 3)
    messages, expected = ["info"], []
    for calm, rows in zip([0.0, -1.0, 1.0], thirds, strict=True):
        messages.append(f"calm {calm:g}")
        assert reference.set_knob("calm", calm)
        for frame in frames[rows]:
            messages.append(_floats(frame))
            expected.append(reference.step(frame))
    outs, infos, console = _pd(tmp_path, messages, str(exported_calm_policy))
    assert not _errors(console), console
    assert "calm 0" in infos and "intent 1" in infos, console
    assert len(outs) == len(expected), console
    np.testing.assert_allclose(np.array(outs), np.array(expected), atol=1e-5)  # Pd prints 6 digits
    trained = Policy(exported_calm_policy)
    assert not np.allclose(np.array(outs), np.array([trained.step(frame) for frame in frames]), atol=1e-4)
