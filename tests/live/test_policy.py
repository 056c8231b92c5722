"""Loading, validating and running policy.onnx with onnxruntime (the contract of docs/protocol.md)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from tests.live.conftest import FEATURES, INITIAL, build_policy, random_targets, reference_step

from rlimpro.errors import RlimproError
from rlimpro.live.policy import BAD_OUTPUT, BAD_TARGET, OK, Policy


def test_metadata_is_parsed(policy_path: Path) -> None:
    info = Policy(policy_path).info
    assert info.features == tuple(FEATURES)
    assert (info.n_params, info.param_names, info.synth) == (2, ("freq", "amp"), "testsynth")
    assert (info.sr, info.window, info.hop) == (44100, 1024, 512)
    assert info.frame_period == pytest.approx(512 / 44100)
    np.testing.assert_array_equal(info.initial_params, INITIAL)


def test_initial_params_default_to_half(tmp_path: Path) -> None:
    info = Policy(build_policy(tmp_path / "p.onnx", initial_params=None)).info
    np.testing.assert_array_equal(info.initial_params, [0.5, 0.5])


def test_steps_follow_the_graph_and_keep_state(policy_path: Path) -> None:
    policy = Policy(policy_path)
    expected = INITIAL.copy()
    batch_params = INITIAL[None, :].copy()
    for frame in random_targets(200):
        got = policy.step(frame)
        expected = reference_step(frame, expected)
        batch_params = policy.run_batch(frame[None, :], batch_params)
        np.testing.assert_allclose(got, expected, atol=1e-6)
        np.testing.assert_array_equal(got, batch_params[0])  # bound buffers == plain run
    assert not np.allclose(policy.params, INITIAL)


def test_reset(policy_path: Path) -> None:
    policy = Policy(policy_path)
    policy.step(random_targets(1)[0])
    assert policy.reset(np.array([2.0, -1.0]))
    np.testing.assert_array_equal(policy.params, [1.0, 0.0])
    assert not policy.reset(np.array([np.nan, 0.5]))
    assert not policy.reset(np.array([0.5]))
    np.testing.assert_array_equal(policy.params, [1.0, 0.0])
    assert policy.reset()
    np.testing.assert_array_equal(policy.params, INITIAL)


@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf, 1e12])
def test_bad_targets_are_refused(policy_path: Path, bad: float) -> None:
    policy = Policy(policy_path)
    policy.target[:] = [bad, 1000.0, -10.0]
    assert policy.decide() == BAD_TARGET
    np.testing.assert_array_equal(policy.params, INITIAL)


def test_a_frame_with_a_huge_norm_is_refused(policy_path: Path) -> None:
    policy = Policy(policy_path)
    policy.target[:] = [8e6, 8e6, -10.0]  # each value below TARGET_LIMIT, the frame's norm above it
    assert policy.decide() == BAD_TARGET
    np.testing.assert_array_equal(policy.params, INITIAL)


def test_non_finite_output_keeps_the_state(nan_policy_path: Path) -> None:
    policy = Policy(nan_policy_path)
    policy.target[:] = [-30.0, 10.0, -20.0]  # sums below zero: log gives NaN
    assert policy.decide() == BAD_OUTPUT
    np.testing.assert_array_equal(policy.params, INITIAL)
    policy.target[:] = [1.0, 1.0, 1.0]
    assert policy.decide() == OK
    np.testing.assert_allclose(policy.params, INITIAL * np.log(3.0), rtol=1e-6)


@pytest.mark.parametrize(("kwargs", "message"), [
    ({"synth": None}, "lacks synth"),
    ({"features": "loudness,nosuchthing,centroid"}, "unknown descriptor"),
    ({"features": "centroid,loudness,flatness"}, "table order"),
    ({"n_params": "3"}, "param_names has 2 names"),
    ({"analysis": "{\"sr\": 44100}"}, "analysis"),
    ({"initial_params": "0.5,2"}, "initial_params"),
    ({"n_features": 4}, "'target' has 4 columns"),
    ({"input_names": ("x", "params")}, "inputs are"),
    ({"output_name": "out"}, "outputs are"),
])
def test_bad_models_fail_with_one_line(tmp_path: Path, kwargs: dict, message: str) -> None:
    path = build_policy(tmp_path / "bad.onnx", **kwargs)
    with pytest.raises(RlimproError, match=message) as err:
        Policy(path)
    assert "bad.onnx" in str(err.value) and "\n" not in str(err.value)


def test_garbage_and_missing_files(tmp_path: Path) -> None:
    garbage = tmp_path / "garbage.onnx"
    garbage.write_bytes(b"not a model at all")
    with pytest.raises(RlimproError, match="garbage.onnx: not a loadable ONNX model"):
        Policy(garbage)
    with pytest.raises(RlimproError, match="no such policy file"):
        Policy(tmp_path / "missing.onnx")
