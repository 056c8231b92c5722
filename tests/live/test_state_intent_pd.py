"""[rlimpro_policy] with a policy that has an intent and a recurrent state (docs/protocol.md),
in a real (batch) Pd with real onnxruntime."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest
from tests.live.conftest import INITIAL, build_policy, random_targets, reference_decide
from tests.live.test_pd_policy import _floats, _pd

from rlimpro.live.play import EXTERNALS, POLICY_EXTERNAL
from rlimpro.live.policy import Policy
from rlimpro.pdrun import find_pd

pytestmark = pytest.mark.skipif(not POLICY_EXTERNAL.is_file(), reason="run `make externals`")

S = 4


def _errors(console: str) -> list[str]:
    return [line for line in console.splitlines() if line.startswith("error:")]


@pytest.mark.parametrize("defaults", [True, False], ids=["overridable", "plain"])
def test_pd_keeps_intent_and_state_as_the_reference(tmp_path: Path, defaults: bool) -> None:
    """Intent (clipped; a wrong message refused), reset (state to zeros, intent kept) and set
    (params only, the state kept): the numpy formula's trajectory, and Policy.step's."""
    path = build_policy(tmp_path / "stateful.onnx", intent=0.5, state=S, defaults=defaults)
    f = random_targets(8)
    messages = ["info", _floats(f[0]), _floats(f[1]), "intent 0.25", _floats(f[2]), "intent 3", "intent", "info",
                _floats(f[3]), "reset", _floats(f[4]), _floats(f[5]), "set 0.9 0.1", _floats(f[6]), _floats(f[7])]
    outs, infos, console = _pd(tmp_path, messages, "stateful.onnx")

    reference, params, state, expected = Policy(path), INITIAL, np.zeros(S, np.float32), []
    for i, frame in enumerate(f):
        intent = 0.5 if i < 2 else 0.25 if i < 3 else 1.0
        if i == 4:  # reset
            params, state = INITIAL, np.zeros(S, np.float32)
            assert reference.reset()
        if i == 6:  # set 0.9 0.1: the params only (Policy.reset would zero the state too)
            params = np.array([0.9, 0.1], np.float32)
            reference.params[:] = params
        assert reference.set_intent(intent)
        params, state = reference_decide(frame, params, intent, state)
        np.testing.assert_allclose(reference.step(frame), params, atol=1e-6)
        expected.append(params)
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
#X msg 200 130 intent \\$1;
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


def test_pd_refuses_a_nan_or_inf_intent(tmp_path: Path) -> None:
    """NaN (inf - inf from [expr]) and inf (1e39 in float32): one line each, the intent unchanged."""
    build_policy(tmp_path / "stateful.onnx", intent=0.5, state=S)
    frame = random_targets(1)[0]
    patch = tmp_path / "nan.pd"
    patch.write_text(NAN_PATCH.format(messages=f"intent 1e39 \\, info \\, {_floats(frame)}", policy="stateful.onnx"))
    proc = subprocess.run([find_pd(), "-nogui", "-nosound", "-noprefs", "-batch", "-path", str(EXTERNALS),
                           "-open", str(patch)], capture_output=True, text=True, timeout=60)
    console = proc.stdout + proc.stderr
    assert any(line.startswith("nan:") and "nan" in line.split(":", 1)[1] for line in console.splitlines()), console
    assert _errors(console) == ["error: rlimpro_policy: intent ignored (NaN or inf)"] * 2, console
    assert "info: intent 0.5" in console
    outs = [[float(v) for v in line.split()[1:]] for line in console.splitlines() if line.startswith("out:")]
    np.testing.assert_allclose(outs, [reference_decide(frame, INITIAL, 0.5, np.zeros(S, np.float32))[0]], atol=1e-5)


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
