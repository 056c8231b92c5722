"""The float-only OSC codec agrees with python-osc; the fallback parser handles the rest."""

from __future__ import annotations

import numpy as np
import pytest
from pythonosc.osc_bundle_builder import IMMEDIATELY, OscBundleBuilder
from pythonosc.osc_message import OscMessage
from pythonosc.osc_message_builder import OscMessageBuilder

from rlimpro.live import osc


def _python_osc(address: str, values: list[float]) -> bytes:
    builder = OscMessageBuilder(address=address)
    for v in values:
        builder.add_arg(v, "f")
    return builder.build().dgram


@pytest.mark.parametrize("count", [0, 1, 2, 3, 7, 56])
def test_encode_matches_python_osc(count: int) -> None:
    values = list(np.random.default_rng(count).normal(size=count).astype(np.float32))
    assert osc.encode_floats(osc.TARGET, values) == _python_osc(osc.TARGET, [float(v) for v in values])
    decoded = OscMessage(osc.encode_floats(osc.PARAMS, values))
    np.testing.assert_array_equal(np.float32(decoded.params), values)


def test_reader_matches_only_its_message() -> None:
    buffer = bytearray(osc.MAX_PACKET + 1)
    reader = osc.FloatReader(buffer, osc.TARGET, 3)
    packet = _python_osc(osc.TARGET, [1.5, -2.0, 440.0])
    buffer[: len(packet)] = packet
    assert reader.matches(len(packet))
    np.testing.assert_array_equal(reader.values, [1.5, -2.0, 440.0])
    for other in (_python_osc(osc.TARGET, [1.0, 2.0]), _python_osc(osc.RESET, [1.0, 2.0, 3.0])):
        buffer[: len(other)] = other
        assert not reader.matches(len(other))


def test_writer_packet_is_valid_osc() -> None:
    writer = osc.FloatWriter(osc.PARAMS, 2)
    writer.values[:] = np.array([0.25, 0.75], dtype=np.float32)
    message = OscMessage(bytes(writer.packet))
    assert message.address == osc.PARAMS and message.params == [0.25, 0.75]
    np.testing.assert_array_equal(osc.decode_floats(bytes(writer.packet), osc.PARAMS, 2), [0.25, 0.75])
    assert osc.decode_floats(bytes(writer.packet), osc.PARAMS, 3) is None


def test_parse_packet_messages_and_bundles() -> None:
    is_bundle, messages = osc.parse_packet(osc.encode_message(osc.PONG, ["fm", 4, 8]))
    assert not is_bundle and messages == [osc.Message(osc.PONG, "sii", ("fm", 4, 8))]
    inner = OscBundleBuilder(IMMEDIATELY)
    inner.add_content(OscMessageBuilder(osc.PING).build())
    outer = OscBundleBuilder(IMMEDIATELY)
    outer.add_content(OscMessage(_python_osc(osc.RESET, [0.5])))
    outer.add_content(inner.build())
    is_bundle, messages = osc.parse_packet(outer.build().dgram)
    assert is_bundle
    assert [(m.address, m.tags) for m in messages] == [(osc.RESET, "f"), (osc.PING, "")]


@pytest.mark.parametrize("garbage", [b"", b"hello", b"/rlimpro/target\0,ff\0", b"#bundle\0\0\0", bytes(range(256))])
def test_garbage_raises_osc_error(garbage: bytes) -> None:
    with pytest.raises(osc.OscError):
        osc.parse_packet(garbage)
