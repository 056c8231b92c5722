"""[rlimpro_policy]: the policy inside a real (batch) Pd, no Python on the way."""

from __future__ import annotations

import ctypes.util
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from tests.live.conftest import build_policy, random_targets

from rlimpro.errors import RlimproError
from rlimpro.live.play import EXTERNALS, POLICY_EXTERNAL
from rlimpro.live.policy import Policy
from rlimpro.pdrun import find_pd

pytestmark = pytest.mark.skipif(not POLICY_EXTERNAL.is_file(), reason="run `make externals`")


def _pd(tmp_path: Path, messages: list[str], creation: str, externals: Path = EXTERNALS,
        env: dict[str, str] | None = None) -> tuple[list[list[float]], list[str], str]:
    """Send ``messages`` (in order) to ``[rlimpro_policy creation]``; (lists out, info lines, console)."""
    patch = tmp_path / "test.pd"
    body = " \\, ".join(messages)
    patch.write_text(
        "#N canvas 0 0 600 400 12;\n"
        "#X obj 10 10 loadbang;\n"
        "#X obj 10 40 t b b;\n"
        f"#X msg 10 70 {body};\n"
        f"#X obj 10 100 rlimpro_policy {creation};\n"
        "#X obj 10 130 print out;\n"
        "#X obj 200 130 print info;\n"
        "#X msg 10 200 \\; pd quit;\n"
        "#X connect 0 0 1 0;\n#X connect 1 1 2 0;\n#X connect 1 0 6 0;\n#X connect 2 0 3 0;\n"
        "#X connect 3 0 4 0;\n#X connect 3 1 5 0;\n"
    )
    proc = subprocess.run([find_pd(), "-nogui", "-nosound", "-noprefs", "-batch", "-path", str(externals),
                           "-open", str(patch)], capture_output=True, text=True, timeout=60, env=env)
    console = proc.stdout + proc.stderr
    outs = [[float(v) for v in line.split()[1:]] for line in console.splitlines() if line.startswith("out:")]
    infos = [line[len("info: "):] for line in console.splitlines() if line.startswith("info:")]
    return outs, infos, console


def _floats(values: np.ndarray) -> str:
    return " ".join(f"{v:.9g}" for v in values)


def test_decisions_and_messages_match_the_server_policy(policy_path: Path, tmp_path: Path) -> None:
    patch_dir = tmp_path / "patch"
    patch_dir.mkdir()
    shutil.copy(policy_path, patch_dir / "policy.onnx")
    frames = random_targets(3)
    messages = ["info", _floats(frames[0]), _floats(frames[1]), "1 2", "list 1 x 3", "1e39 0 0", "2e7 0 0", "set 0.9 1.7",
                _floats(frames[2]), "reset",
                _floats(frames[0]), "load missing.onnx", _floats(frames[1])]
    outs, infos, console = _pd(patch_dir, messages, "policy.onnx")  # relative to the patch

    reference = Policy(policy_path)
    expected = [reference.step(frames[0]), reference.step(frames[1])]
    reference.reset(np.array([0.9, 1.7]))
    expected.append(reference.step(frames[2]))
    reference.reset()
    expected += [reference.step(frames[0]), reference.step(frames[1])]
    assert len(outs) == len(expected), console
    np.testing.assert_allclose(np.array(outs), np.array(expected), atol=1e-5)  # Pd prints 6 digits

    assert infos[:3] == ["synth testsynth", "n_params 2", "features loudness centroid flatness"], console
    assert console.count("error: rlimpro_policy: target refused (NaN, inf or absurdly large)") == 2, console  # inf, 2e7
    assert re.search(r"error: rlimpro_policy: a target needs 3 floats \(loudness,centroid,flatness\), got 2 atoms", console)
    assert "a target needs 3 floats (loudness,centroid,flatness), got 3 atoms" in console  # a symbol among them
    assert re.search(r"error: rlimpro_policy: missing.onnx: no such policy file; export one with "
                     r"`rlimpro export` \(keeping the loaded policy\)", console)


def test_a_broken_policy_is_one_error_and_no_output(tmp_path: Path) -> None:
    (tmp_path / "broken.onnx").write_bytes(b"\0" * 64)
    outs, _, console = _pd(tmp_path, ["1 2 3"], "broken.onnx")
    assert outs == []
    assert "error: rlimpro_policy: broken.onnx: " in console
    assert "error: rlimpro_policy: no policy loaded; send it `load path/policy.onnx`" in console


def test_onnxruntime_is_found_through_virtual_env_without_a_built_in_path(policy_path: Path, tmp_path: Path) -> None:
    """As docs/live.md says: the built-in path first, then $VIRTUAL_ENV's wheel, then the system's loader."""
    build = tmp_path / "build"
    build.mkdir()
    shutil.copy(EXTERNALS / "rlimpro_policy.c", build)
    # only this object: the Makefile's other classes have sources not copied here
    subprocess.run(["make", "-s", "-C", str(build), "-f", str(EXTERNALS / "Makefile"), "ORT_LIBRARY=",
                    "rlimpro_policy.pd_linux"], check=True, capture_output=True, timeout=120)
    frame = random_targets(1)[0]
    env = {k: v for k, v in os.environ.items() if k != "VIRTUAL_ENV"}
    venv = str(Path(sys.executable).parents[1])
    outs, _, console = _pd(tmp_path, [_floats(frame)], str(policy_path), build, {**env, "VIRTUAL_ENV": venv})
    np.testing.assert_allclose(outs, [Policy(policy_path).step(frame)], atol=1e-5, err_msg=console)
    if ctypes.util.find_library("onnxruntime") is None:  # else the system's loader would find that one
        outs, _, console = _pd(tmp_path, [_floats(frame)], str(policy_path), build, env)
        assert outs == [] and "cannot find onnxruntime (not at the path built in, not under $VIRTUAL_ENV" in console


#: policy files breaking one rule of the policy file contract (docs/protocol.md) each (build_policy arguments; None removes a metadata key)
BAD_POLICIES = {
    "missing metadata key": {"synth": None},
    "n_params not an integer": {"n_params": "x"},
    "param_names count": {"param_names": "freq"},
    "unknown feature": {"features": "loudness,nosuchthing,flatness"},
    "features out of table order": {"features": "centroid,loudness,flatness"},
    "analysis not JSON": {"analysis": "not json"},
    "initial_params out of [0, 1]": {"initial_params": "0.5,2"},
    "initial_params count": {"initial_params": "0.5"},
    "input names": {"input_names": ("x", "params")},
    "output name": {"output_name": "out"},
    "column count": {"n_features": 4},
    # the optional inputs (intent, calm, state) and their metadata
    "unknown extra input": {"extra_inputs": ("tempo",)},
    "unknown extra plain input": {"extra_inputs": ("tempo",), "defaults": False},
    "state without state_next": {"state": 4, "state_next": None},
    "state_next named otherwise": {"state": 4, "state_next": "memory"},
    "state columns": {"state": 4, "state_columns": 3},
    "intent without intent_default": {"intent": 0.5, "intent_default": None},
    "intent_default without intent": {"intent_default": "0.5"},
    "intent_default out of [-1, 1]": {"intent": 0.5, "intent_default": "1.5"},
    "intent_default not a number": {"intent": 0.5, "intent_default": "nan"},
    "calm without calm_default": {"calm": 0.0, "calm_default": None},
    "calm without calm_default, plain": {"calm": 0.0, "calm_default": None, "defaults": False},
    "calm_default without calm": {"calm_default": "0.0"},
    "calm_default without calm, intent with": {"intent": 0.5, "calm_default": "0.0"},
    "calm_default out of [-1, 1]": {"calm": 0.0, "calm_default": "-1.5"},
    "calm_default not a number": {"calm": 0.0, "calm_default": "inf"},
    "calm_default not a number (text)": {"calm": 0.0, "calm_default": "calm"},
    "state without state_size": {"state": 4, "state_size": None},
    "state_size without state": {"state_size": "4"},
    "state_size not a positive integer": {"state": 4, "state_size": "+4"},
    "state_size zero": {"state": 4, "state_size": "0"},
}


@pytest.mark.parametrize("overrides", BAD_POLICIES.values(), ids=BAD_POLICIES.keys())
def test_a_bad_policy_is_refused_as_the_server_refuses_it(tmp_path: Path, overrides: dict) -> None:
    """The rules of native/policy_file.h are those of rlimpro.live.policy, down to the message."""
    build_policy(tmp_path / "bad.onnx", **overrides)
    with pytest.raises(RlimproError) as refused:
        Policy(tmp_path / "bad.onnx")
    outs, infos, console = _pd(tmp_path, [], "bad.onnx")
    errors = [line for line in console.splitlines() if line.startswith("error:")]
    assert errors == [f"error: rlimpro_policy: {refused.value}"], console
    assert str(refused.value).endswith("; re-export it with `rlimpro export`")
    assert outs == [] and infos == []
