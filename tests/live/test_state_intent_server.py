"""The live server with a policy that has the knobs intent and calm and a recurrent state
(docs/protocol.md): real UDP on 127.0.0.1, real onnxruntime, both engines (the C hot path feeds
the knobs Python sets from /rlimpro/intent and /rlimpro/calm and advances the state Python holds)."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from tests.live.conftest import INITIAL, build_policy, random_targets, reference_decide, take_frames

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
        return osc.decode_floats(self.sock.recv(osc.MAX_PACKET), osc.PARAMS, self.server.policy.info.n_params)

    def sync(self) -> None:
        """Wait until the server has handled everything sent before (a ping's answer)."""
        self.sock.sendto(osc.encode_message(osc.PING), self.server.address)
        assert osc.PONG.encode() in self.sock.recv(osc.MAX_PACKET)


@pytest.fixture
def serve(stateful_path: Path, engine: str) -> Iterator:
    """serve(warm_ms, path) -> a Link to a running Server of the policy at ``path`` (the stateful
    one by default) on ``engine``."""
    started: list[tuple[Server, threading.Thread, Link]] = []

    def start(warm_ms: float = 0.0, path: Path | None = None) -> Link:
        server = Server(Policy(path or stateful_path), port=0, warm_ms=warm_ms, engine=engine)
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
                assert reference.set_knob("intent", step[1])
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


def test_the_server_keeps_calm_beside_intent_as_the_reference(serve, tmp_path: Path) -> None:
    """/rlimpro/calm over real UDP (NaN refused, 3 and -2 clipped), independently of /rlimpro/intent,
    kept by resets: the numpy formula's trajectory and exactly Policy.step's with set_knob, so the
    C engine and the Python engine play the same."""
    path = build_policy(tmp_path / "calm.onnx", intent=0.5, calm=0.0, state=S)
    link = serve(path=path)
    frames = iter(random_targets(16, seed=4))
    script = [*["frame"] * 2, (osc.CALM, 0.5), *["frame"] * 2, (osc.INTENT, -0.3), *["frame"] * 2,
              (osc.CALM, float("nan")), *["frame"] * 2, (osc.CALM, 3.0), *["frame"] * 2, ("reset", None),
              *["frame"] * 2, (osc.CALM, -2.0), (osc.INTENT, float("inf")), *["frame"] * 2, (osc.CALM, -0.75),
              *["frame"] * 2]
    reference = Policy(path)
    params, state, knobs = INITIAL, np.zeros(S, np.float32), {"intent": 0.5, "calm": 0.0}
    replies = []
    for step in script:
        if step == "frame":
            frame = next(frames)
            replies.append(link.target(frame))
            params, state = reference_decide(frame, params, knobs["intent"], state, knobs["calm"])
            np.testing.assert_allclose(replies[-1], params, atol=1e-6)
            np.testing.assert_array_equal(replies[-1], reference.step(frame))
        elif step[0] == "reset":
            link.send(osc.RESET, [])
            params, state = INITIAL, np.zeros(S, np.float32)
            assert reference.reset()
        else:
            knob = step[0].rsplit("/", 1)[1]
            link.send(step[0], [step[1]])
            assert reference.set_knob(knob, step[1]) == bool(np.isfinite(step[1]))
            if np.isfinite(step[1]):
                knobs[knob] = min(max(step[1], -1.0), 1.0)
    link.sync()
    stats = link.server.stats()
    assert (stats["targets"], stats["sent"], stats["resets"], stats["bad_value"]) == (16, 16, 1, 2)
    policy = link.server.policy
    np.testing.assert_array_equal([policy.intent[0], policy.calm[0]], np.float32([-0.3, -0.75]))
    np.testing.assert_array_equal(policy.state, reference.state)
    # the calm mattered: with the default calm throughout the replies differ
    default = Policy(path)
    script_intents = [0.5] * 4 + [-0.3] * 12
    plain = []
    for frame, intent in zip(random_targets(16, seed=4), script_intents, strict=True):
        assert default.set_knob("intent", intent)
        plain.append(default.step(frame))
    assert not np.allclose(replies, plain, atol=1e-4)


def test_calm_for_a_policy_without_it_is_an_unknown_address(serve, stateful_path: Path) -> None:
    """The stateful policy has an intent but no calm input: /rlimpro/calm is counted as an unknown
    address and changes nothing."""
    link = serve()
    frames = random_targets(4, seed=5)
    reference = Policy(stateful_path)
    np.testing.assert_array_equal(link.target(frames[0]), reference.step(frames[0]))
    link.send(osc.CALM, [1.0])
    for frame in frames[1:]:
        np.testing.assert_array_equal(link.target(frame), reference.step(frame))
    link.sync()
    stats = link.server.stats()
    assert (stats["sent"], stats["unknown_address"], stats["bad_value"]) == (4, 1, 0)
    assert link.server.policy.calm is None


def test_both_engines_play_an_exported_policy_with_calm(serve, exported_calm_policy: Path) -> None:
    """A real `rlimpro export`ed policy (fm): /rlimpro/calm over UDP gives exactly Policy.step's
    trajectory with set_knob("calm", ...), on real descriptor frames, and busier or calmer plays
    differ from the trained agent's."""
    link = serve(path=exported_calm_policy)
    reference = Policy(exported_calm_policy)
    assert reference.info.calm_default == 0.0
    frames = take_frames(list(reference.info.features))
    thirds = np.array_split(np.arange(len(frames)), 3)
    replies = []
    for calm, rows in zip([0.0, -1.0, 1.0], thirds, strict=True):
        link.send(osc.CALM, [calm])
        assert reference.set_knob("calm", calm)
        for frame in frames[rows]:
            replies.append(link.target(frame))
            np.testing.assert_array_equal(replies[-1], reference.step(frame))
    link.sync()
    assert link.server.stats()["sent"] == len(frames) and link.server.policy.calm[0] == 1.0
    trained = Policy(exported_calm_policy)
    assert not np.array_equal(np.array(replies), np.array([trained.step(frame) for frame in frames]))
