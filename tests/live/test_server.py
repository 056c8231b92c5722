"""The live server over real UDP sockets on 127.0.0.1 with real onnxruntime."""

from __future__ import annotations

import socket
import threading
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from tests.live.conftest import INITIAL, N_PARAMS, random_targets
from pythonosc.osc_bundle_builder import IMMEDIATELY, OscBundleBuilder
from pythonosc.osc_message import OscMessage

from rlimpro.errors import RlimproError
from rlimpro.live import hotloop, osc
from rlimpro.live.policy import Policy
from rlimpro.live.server import Server


class Client:
    """A UDP client that owns the server's reply port."""

    def __init__(self, server_address: tuple[str, int]) -> None:
        self.server = server_address
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.settimeout(5.0)
        self.port = self.sock.getsockname()[1]

    def send(self, data: bytes) -> None:
        self.sock.sendto(data, self.server)

    def target(self, values: np.ndarray) -> np.ndarray:
        self.send(osc.encode_floats(osc.TARGET, values))
        return self.params()

    def params(self) -> np.ndarray:
        data = self.sock.recv(osc.MAX_PACKET)
        values = osc.decode_floats(data, osc.PARAMS, N_PARAMS)
        assert values is not None, f"expected {osc.PARAMS}, got {data!r}"
        return values

    def ping(self) -> tuple:
        self.send(osc.encode_message(osc.PING))
        message = OscMessage(self.sock.recv(osc.MAX_PACKET))
        assert message.address == osc.PONG
        return tuple(message.params)


def _run(policy_path: Path, engine: str) -> Iterator[tuple[Server, Client]]:
    server = Server(Policy(policy_path), port=0, engine=engine)
    assert server.engine == engine
    client = Client(server.address)
    server.reply = ("127.0.0.1", client.port)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server, client
    finally:
        server.stop()
        thread.join(5)
        assert not thread.is_alive()
        server.close()
        client.sock.close()


@pytest.fixture
def running(policy_path: Path, engine: str) -> Iterator[tuple[Server, Client]]:
    yield from _run(policy_path, engine)


def test_warming_while_idle_changes_nothing(policy_path: Path, engine: str) -> None:
    """Warm-up runs in the gaps between frames, off during a burst and back on after it,
    leave the replies those of the model."""
    server = Server(Policy(policy_path), port=0, warm_ms=0.5, engine=engine)
    client = Client(server.address)
    server.reply = ("127.0.0.1", client.port)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    reference = Policy(policy_path)
    frames = iter(random_targets(240))
    runs_after = []
    try:
        for gap_s, count in ((0.01, 20), (0.0, 200), (0.01, 20)):
            for _ in range(count):
                threading.Event().wait(gap_s)
                frame = next(frames)
                np.testing.assert_array_equal(client.target(frame), reference.step(frame))
            runs_after.append(server.stats()["warmups"])
    finally:
        server.stop()
        thread.join(5)
        server.close()
        client.sock.close()
    assert runs_after[0] >= 20, "the server never warmed the model between frames"
    assert runs_after[2] - runs_after[1] >= 19, "warming did not resume after a burst"
    assert server.stats()["socket_errors"] == 0


def test_replies_equal_the_model_output(running: tuple[Server, Client], policy_path: Path) -> None:
    server, client = running
    reference = Policy(policy_path)
    for frame in random_targets(500):
        np.testing.assert_array_equal(client.target(frame), reference.step(frame))
    stats = server.stats()
    assert (stats["targets"], stats["sent"], stats["dropped"]) == (500, 500, 0)


def test_ping_reset_and_bundles(running: tuple[Server, Client], policy_path: Path) -> None:
    server, client = running
    assert client.ping() == ("testsynth", 2, 3)
    frames = random_targets(3)
    first = client.target(frames[0])
    client.send(osc.encode_floats(osc.RESET, [0.9, 1.7]))  # clipped to [0, 1]
    reference = Policy(policy_path)
    reference.reset(np.array([0.9, 1.0]))
    np.testing.assert_array_equal(client.target(frames[1]), reference.step(frames[1]))
    client.send(osc.encode_message(osc.RESET))  # no floats: back to initial_params
    np.testing.assert_array_equal(client.target(frames[0]), first)
    bundle = OscBundleBuilder(IMMEDIATELY)  # unpacked: one reply per target, in order
    for frame in frames[1:]:
        bundle.add_content(OscMessage(osc.encode_floats(osc.TARGET, frame)))
    client.send(bundle.build().dgram)
    np.testing.assert_array_equal(client.params(), _after(policy_path, frames[[0, 1]]))
    np.testing.assert_array_equal(client.params(), _after(policy_path, frames[[0, 1, 2]]))
    stats = server.stats()
    assert (stats["bundles"], stats["resets"], stats["pings"], stats["dropped"]) == (1, 2, 1, 0)


def _after(policy_path: Path, frames: np.ndarray) -> np.ndarray:
    policy = Policy(policy_path)
    for frame in frames:
        policy.step(frame)
    return policy.params.copy()


MALFORMED = {
    "malformed": [b"", b"garbage", bytes(range(200)), b"/rlimpro/target\0,fff\0\0\0\0\0"],
    "oversize": [osc.encode_floats(osc.TARGET, np.zeros(4000))],
    "wrong_count": [osc.encode_floats(osc.TARGET, [1.0, 2.0]), osc.encode_floats(osc.TARGET, np.ones(4)),
                    osc.encode_floats(osc.RESET, [0.5])],
    "wrong_type": [osc.encode_message(osc.TARGET, [b"\x01", 2.0, 3.0]), osc.encode_message(osc.TARGET, ["a", 1.0, 2.0]),
                   osc.encode_message(osc.RESET, ["x", 1])],
    "bad_value": [osc.encode_floats(osc.TARGET, [np.nan, 1.0, 2.0]), osc.encode_floats(osc.TARGET, [np.inf, 1.0, 2.0]),
                  osc.encode_floats(osc.TARGET, [1e30, 1.0, 2.0]), osc.encode_floats(osc.RESET, [np.nan, 0.5])],
    "unknown_address": [osc.encode_floats("/rlimpro/targetx", [1.0, 2.0, 3.0]), osc.encode_message("/other")],
}


def test_malformed_packets_are_dropped_and_counted(running: tuple[Server, Client], policy_path: Path) -> None:
    server, client = running
    for packets in MALFORMED.values():
        for packet in packets:
            client.send(packet)
    assert client.ping() == ("testsynth", 2, 3)  # alive, and no reply was sent before the pong
    stats = server.stats()
    for name, packets in MALFORMED.items():
        assert stats[name] == len(packets), name
    np.testing.assert_array_equal(server.policy.params, INITIAL)
    frame = random_targets(1)[0]
    np.testing.assert_array_equal(client.target(frame), Policy(policy_path).step(frame))


def test_non_finite_output_is_never_sent(nan_policy_path: Path, engine: str) -> None:
    for server, client in _run(nan_policy_path, engine):
        client.send(osc.encode_floats(osc.TARGET, [-30.0, 10.0, -20.0]))
        assert client.ping()[0] == "testsynth"  # the pong is the next datagram: no NaN params
        assert server.stats()["bad_output"] == 1
        np.testing.assert_allclose(client.target(np.array([1.0, 1.0, 1.0])), INITIAL * np.log(3.0), rtol=1e-6)


def test_busy_port_is_a_user_error(policy_path: Path) -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.bind(("127.0.0.1", 0))
        with pytest.raises(RlimproError, match="pick another --port"):
            Server(Policy(policy_path), port=sock.getsockname()[1])


def test_engine_c_without_the_build_is_a_user_error(policy_path: Path, tmp_path: Path,
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(hotloop, "LIBRARY", tmp_path / "_hotloop.so")  # as before `make hotloop`
    with pytest.raises(RlimproError, match="run `make hotloop` or serve with --engine python"):
        Server(Policy(policy_path), port=0, engine="c")
    with Server(Policy(policy_path), port=0, engine="auto") as server:
        assert server.engine == "python" and "make hotloop" in server.fallback
    with pytest.raises(RlimproError, match="--engine must be one of auto, c, python"):
        Server(Policy(policy_path), port=0, engine="fast")
