"""The live server with a policy that has an intent and a recurrent state (docs/protocol.md):
real UDP on 127.0.0.1, real onnxruntime, both engines (the C hot path feeds the intent Python
sets and advances the state Python holds)."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from tests.live.conftest import INITIAL, N_PARAMS, build_policy, random_targets, reference_decide

from rlimpro.live import osc
from rlimpro.live.policy import Policy
from rlimpro.live.server import Server

S = 4


@pytest.fixture
def stateful_path(tmp_path: Path) -> Path:
    """The smooth policy with an intent input (default 0.5) and a state of 4."""
    return build_policy(tmp_path / "stateful.onnx", intent=0.5, state=S)


class Link:
    """A served policy and a UDP client owning its reply port."""

    def __init__(self, server: Server) -> None:
        self.server = server
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.settimeout(5.0)
        server.reply = ("127.0.0.1", self.sock.getsockname()[1])

    def send(self, address: str, values: list[float] | np.ndarray) -> None:
        self.sock.sendto(osc.encode_floats(address, values), self.server.address)

    def target(self, frame: np.ndarray) -> np.ndarray:
        self.send(osc.TARGET, frame)
        return osc.decode_floats(self.sock.recv(osc.MAX_PACKET), osc.PARAMS, N_PARAMS)

    def sync(self) -> None:
        """Wait until the server has handled everything sent before (a ping's answer)."""
        self.sock.sendto(osc.encode_message(osc.PING), self.server.address)
        assert osc.PONG.encode() in self.sock.recv(osc.MAX_PACKET)


@pytest.fixture
def serve(stateful_path: Path, engine: str) -> Iterator:
    """serve(warm_ms) -> a Link to a running Server of the stateful policy on ``engine``."""
    started: list[tuple[Server, threading.Thread, Link]] = []

    def start(warm_ms: float = 0.0) -> Link:
        server = Server(Policy(stateful_path), port=0, warm_ms=warm_ms, engine=engine)
        assert server.engine == engine
        link = Link(server)
        thread = threading.Thread(target=server.serve_forever, daemon=True)
        thread.start()
        started.append((server, thread, link))
        return link

    yield start
    for server, thread, link in started:
        server.stop()
        thread.join(5)
        server.close()
        link.sock.close()


def test_the_server_keeps_intent_and_state_as_the_reference(serve, stateful_path: Path) -> None:
    """Targets, intents (NaN refused, 3 clipped to 1) and resets (the state back to zeros, the
    intent kept) give the numpy formula's trajectory and exactly Policy.step's."""
    link = serve()
    frames = iter(random_targets(15))
    script = [*["frame"] * 3, ("intent", 0.25), *["frame"] * 3, ("intent", float("nan")), *["frame"] * 2,
              ("reset", None), *["frame"] * 2, ("intent", 3.0), *["frame"] * 2, ("reset", [0.9, 0.1]), *["frame"] * 3]
    reference = Policy(stateful_path)
    params, state, intent = INITIAL, np.zeros(S, np.float32), 0.5
    for step in script:
        if step == "frame":
            frame = next(frames)
            reply = link.target(frame)
            params, state = reference_decide(frame, params, intent, state)
            np.testing.assert_allclose(reply, params, atol=1e-6)
            np.testing.assert_array_equal(reply, reference.step(frame))
        elif step[0] == "intent":
            link.send(osc.INTENT, [step[1]])
            if np.isfinite(step[1]):
                intent = min(max(step[1], -1.0), 1.0)
                assert reference.set_intent(step[1])
        else:
            link.send(osc.RESET, [] if step[1] is None else step[1])
            params = INITIAL if step[1] is None else np.array(step[1], np.float32)
            state = np.zeros(S, np.float32)
            assert reference.reset(step[1])
    link.sync()
    stats = link.server.stats()
    assert (stats["targets"], stats["sent"], stats["resets"], stats["bad_value"]) == (15, 15, 2, 1)
    policy = link.server.policy
    assert policy.intent[0] == 1.0
    np.testing.assert_array_equal(policy.state, reference.state)
    np.testing.assert_allclose(policy.state, state, atol=1e-6)


def test_warm_ups_never_advance_the_state(serve, stateful_path: Path) -> None:
    """--warm-ms: while idle the model runs (on the current target, intent and state) but the
    trajectory after a pause is the one without any warm-up."""
    link = serve(warm_ms=0.2)
    frames = random_targets(6)
    reference = Policy(stateful_path)
    for frame in frames[:3]:
        np.testing.assert_array_equal(link.target(frame), reference.step(frame))
    warmups = link.server.stats()["warmups"]
    # frames closer together than warm_ms switch warming off until a packet comes after a gap
    time.sleep(0.01)
    link.sync()
    deadline = time.monotonic() + 20
    while link.server.stats()["warmups"] < warmups + 20:  # a pause: the server warms the model
        assert time.monotonic() < deadline, "the server did not warm the model while idle"
        time.sleep(0.01)
    np.testing.assert_array_equal(link.server.policy.state, reference.state)
    for frame in frames[3:]:
        np.testing.assert_array_equal(link.target(frame), reference.step(frame))
    np.testing.assert_array_equal(link.server.policy.state, reference.state)
