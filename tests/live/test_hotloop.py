"""The C hot path on its own: the C session shares the policy's buffers (params, intent, recurrent
state) and hands back what it does not answer."""

from __future__ import annotations

import shutil
import socket
from array import array
from pathlib import Path

import numpy as np
import pytest
from tests.live.conftest import INITIAL, build_policy, random_targets, reference_decide

from rlimpro.errors import RlimproError
from rlimpro.live import hotloop, osc
from rlimpro.live.policy import Policy
from rlimpro.live.server import COUNTERS

pytestmark = pytest.mark.skipif(not hotloop.available(), reason="run `make hotloop`")


def test_c_session_runs_on_the_policy_buffers(policy_path: Path) -> None:
    policy, reference = Policy(policy_path), Policy(policy_path)
    loop = hotloop.HotLoop(policy)
    try:
        frame = random_targets(1)[0]
        policy.target[:] = frame
        loop.run()  # a warm-up: the output changes, the state does not
        np.testing.assert_array_equal(policy.output, reference.step(frame))
        np.testing.assert_array_equal(policy.params, INITIAL)
    finally:
        loop.close()


def _exchange(loop: hotloop.HotLoop, policy: Policy, frames: np.ndarray) -> tuple[list[np.ndarray], dict[str, int], int]:
    """Send ``frames`` then a ping over real UDP, let ``loop`` serve until the ping comes back to
    Python: (the params replies, the counters, how many packets were timed)."""
    server, client = socket.socket(socket.AF_INET, socket.SOCK_DGRAM), socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    try:
        server.bind(("127.0.0.1", 0))
        client.bind(("127.0.0.1", 0))
        client.settimeout(5)
        buffer, n_features, n_params = bytearray(osc.MAX_PACKET + 1), policy.info.n_features, policy.info.n_params
        prefix, packet = osc.float_prefix(osc.TARGET, n_features), osc.FloatWriter(osc.PARAMS, n_params).packet
        counts, times, timed = array("q", bytes(8 * len(COUNTERS))), array("q", bytes(8 * 16)), array("q", [0])
        for frame in frames:
            client.sendto(osc.encode_floats(osc.TARGET, frame), server.getsockname())
        ping = osc.encode_message(osc.PING)
        client.sendto(ping, server.getsockname())
        n = loop.serve(server, client.getsockname(), buffer, prefix, packet, counts, times, timed, 0.0)
        assert bytes(buffer[:n]) == ping  # handed back untouched
        stats = dict(zip(COUNTERS, counts.tolist()))
        replies = [osc.decode_floats(client.recv(64), osc.PARAMS, n_params) for _ in range(stats["sent"])]
        return replies, stats, timed[0]
    finally:
        server.close()
        client.close()


def test_serve_answers_targets_and_returns_anything_else(policy_path: Path) -> None:
    policy, reference = Policy(policy_path), Policy(policy_path)
    loop = hotloop.HotLoop(policy)
    try:
        frames = random_targets(3)
        replies, stats, timed = _exchange(loop, policy, frames)
        for reply, frame in zip(replies, frames, strict=True):
            np.testing.assert_array_equal(reply, reference.step(frame))
        np.testing.assert_array_equal(policy.params, reference.params)
        assert (stats["received"], stats["targets"], stats["sent"], timed) == (3, 3, 3, 3)
    finally:
        loop.close()


@pytest.mark.parametrize("defaults", [True, False], ids=["overridable", "plain"])
def test_c_session_feeds_the_intent_and_keeps_the_recurrent_state(tmp_path: Path, defaults: bool) -> None:
    """The C session reads the intent Python sets and advances the state Python holds; a warm run
    writes state_next but never the state. Inputs backed by initializers or plain: the same."""
    path = build_policy(tmp_path / "stateful.onnx", intent=0.5, state=4, defaults=defaults)
    policy, reference = Policy(path), Policy(path)
    loop = hotloop.HotLoop(policy)
    try:
        frames = random_targets(6)
        policy.target[:] = frames[0]
        loop.run()
        np.testing.assert_array_equal(policy.state, np.zeros(4))
        assert np.abs(policy.state_next).min() > 0
        replies = _exchange(loop, policy, frames[:3])[0]  # at the default intent, 0.5
        assert policy.set_knob("intent", -0.7)
        replies += _exchange(loop, policy, frames[3:])[0]
        params, state = INITIAL, np.zeros(4, np.float32)
        for i, (reply, frame) in enumerate(zip(replies, frames, strict=True)):
            intent = 0.5 if i < 3 else -0.7
            assert reference.set_knob("intent", intent)
            params, state = reference_decide(frame, params, intent, state)
            np.testing.assert_allclose(reply, params, atol=1e-6)
            np.testing.assert_array_equal(reply, reference.step(frame))  # the Python engine, bit for bit
        np.testing.assert_array_equal(policy.state, reference.state)
        np.testing.assert_allclose(policy.state, state, atol=1e-6)
    finally:
        loop.close()


@pytest.mark.parametrize("intent", [None, 0.5], ids=["calm", "intent+calm"])
@pytest.mark.parametrize("defaults", [True, False], ids=["overridable", "plain"])
def test_c_session_feeds_the_calm_beside_the_intent(tmp_path: Path, defaults: bool, intent: float | None) -> None:
    """The C session reads the calm Python sets (Policy.set_knob), independently of the intent:
    the numpy formula's trajectory and, bit for bit, the Python engine's."""
    path = build_policy(tmp_path / "calm.onnx", intent=intent, calm=0.25, state=4, defaults=defaults)
    policy, reference = Policy(path), Policy(path)
    loop = hotloop.HotLoop(policy)
    try:
        frames = random_targets(8, seed=3)
        # (intent, calm) for each pair of frames: the defaults, calmer, busier, then the intent moved alone
        knobs = [(intent, 0.25), (intent, 1.0), (intent, -1.0), (None if intent is None else -0.6, -1.0)]
        replies: list[np.ndarray] = []
        expected: list[np.ndarray] = []
        params, state = INITIAL, np.zeros(4, np.float32)
        for (knob_intent, calm), pair in zip(knobs, frames.reshape(4, 2, -1), strict=True):
            for host in (policy, reference):
                assert host.set_knob("calm", calm)
                assert knob_intent is None or host.set_knob("intent", knob_intent)
            replies += _exchange(loop, policy, pair)[0]  # the C engine
            for frame in pair:
                expected.append(reference.step(frame))  # the Python engine
                wanted = 1.0 if knob_intent is None else knob_intent  # 1: a policy without intent
                params, state = reference_decide(frame, params, wanted, state, calm)
                np.testing.assert_allclose(replies[len(expected) - 1], params, atol=1e-6)
        np.testing.assert_array_equal(np.array(replies), np.array(expected))  # bit for bit
        np.testing.assert_array_equal(policy.state, reference.state)
        # the calm mattered: at the default calm throughout the trajectory is another one
        assert not np.allclose(replies, _trajectory_at_calm(path, frames, 0.25), atol=1e-4)
    finally:
        loop.close()


def _trajectory_at_calm(path: Path, frames: np.ndarray, calm: float) -> list[np.ndarray]:
    policy = Policy(path)
    assert policy.set_knob("calm", calm)
    return [policy.step(frame) for frame in frames]


def test_a_non_finite_state_next_is_refused_like_a_non_finite_output(tmp_path: Path) -> None:
    """nan_state: finite params, but a NaN state_next when the target sums below zero."""
    policy = Policy(build_policy(tmp_path / "nan_state.onnx", kind="nan_state", state=3))
    loop = hotloop.HotLoop(policy)
    try:
        good = random_targets(2)
        bad = np.array([-5000.0, 0.0, 0.0], np.float32)
        replies, stats, _ = _exchange(loop, policy, np.stack([good[0], bad, good[1]]))
        assert (stats["sent"], stats["bad_output"]) == (2, 1)
        np.testing.assert_allclose(policy.params, INITIAL + 0.02, atol=1e-6)  # the refused decision did not move them
        np.testing.assert_allclose(policy.state, np.full(3, np.log(good[1].sum())), rtol=1e-6)
    finally:
        loop.close()


def test_a_model_the_c_api_cannot_open_is_one_line(policy_path: Path, tmp_path: Path) -> None:
    copy = shutil.copy(policy_path, tmp_path / "gone.onnx")
    policy = Policy(copy)
    Path(copy).unlink()
    with pytest.raises(RlimproError, match=r"^gone.onnx: onnxruntime's C API cannot load it \("):
        hotloop.HotLoop(policy)
