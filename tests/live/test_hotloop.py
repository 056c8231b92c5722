"""The C hot path on its own: the C session shares the policy's buffers and hands back what it does not answer."""

from __future__ import annotations

import shutil
import socket
from array import array
from pathlib import Path

import numpy as np
import pytest
from tests.live.conftest import INITIAL, random_targets

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


def test_serve_answers_targets_and_returns_anything_else(policy_path: Path) -> None:
    policy, reference = Policy(policy_path), Policy(policy_path)
    loop = hotloop.HotLoop(policy)
    server, client = socket.socket(socket.AF_INET, socket.SOCK_DGRAM), socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    try:
        server.bind(("127.0.0.1", 0))
        client.bind(("127.0.0.1", 0))
        client.settimeout(5)
        buffer, n_features = bytearray(osc.MAX_PACKET + 1), policy.info.n_features
        prefix, packet = osc.float_prefix(osc.TARGET, n_features), osc.FloatWriter(osc.PARAMS, 2).packet
        counts, times, timed = array("q", bytes(8 * len(COUNTERS))), array("q", bytes(8 * 16)), array("q", [0])
        frames = random_targets(3)
        for frame in frames:
            client.sendto(osc.encode_floats(osc.TARGET, frame), server.getsockname())
        ping = osc.encode_message(osc.PING)
        client.sendto(ping, server.getsockname())
        n = loop.serve(server, client.getsockname(), buffer, prefix, packet, counts, times, timed, 0.0)
        assert bytes(buffer[:n]) == ping  # handed back untouched
        for frame in frames:
            np.testing.assert_array_equal(osc.decode_floats(client.recv(64), osc.PARAMS, 2), reference.step(frame))
        np.testing.assert_array_equal(policy.params, reference.params)
        stats = dict(zip(COUNTERS, counts.tolist()))
        assert (stats["received"], stats["targets"], stats["sent"], timed[0]) == (3, 3, 3, 3)
    finally:
        loop.close()
        server.close()
        client.close()


def test_a_model_the_c_api_cannot_open_is_one_line(policy_path: Path, tmp_path: Path) -> None:
    copy = shutil.copy(policy_path, tmp_path / "gone.onnx")
    policy = Policy(copy)
    Path(copy).unlink()
    with pytest.raises(RlimproError, match=r"^gone.onnx: onnxruntime's C API cannot load it \("):
        hotloop.HotLoop(policy)
