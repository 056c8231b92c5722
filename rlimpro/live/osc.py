"""OSC 1.0 for the live server: a hand-written float-only codec for the hot path, python-osc for the rest.

A ``/rlimpro/target`` message with F float32 arguments has a fixed layout: the padded address,
the padded type tags ``,ff…f`` and 4·F big-endian bytes. :class:`FloatReader` recognises it by
length and prefix in a preallocated receive buffer and exposes the arguments as a numpy view
over that buffer; :class:`FloatWriter` keeps a preallocated ``/rlimpro/params`` packet whose
arguments are a writable numpy view. Neither allocates per message. Anything else (reset,
ping, bundles, other type tags) goes through :func:`parse_packet`, built on python-osc.

>>> packet = encode_floats(TARGET, [0.5, -1.0])   # what a host sends: address, ",ff", 2 × 4 bytes
>>> len(packet), decode_floats(packet, TARGET, 2).tolist()
(28, [0.5, -1.0])
>>> decode_floats(packet, TARGET, 3) is None       # any other message is not the fast path's
True
>>> parse_packet(encode_message(RESET, [1, 0.5]))  # the slow path: int32 and float32 alike
(False, [Message(address='/rlimpro/reset', tags='if', args=(1, 0.5))])
>>> parse_packet(b"garbage!")
Traceback (most recent call last):
rlimpro.live.osc.OscError: neither an OSC message nor a bundle
>>> parse_packet(packet[:-1])                      # a value cut short
Traceback (most recent call last):
rlimpro.live.osc.OscError: 27 bytes: not a multiple of 4
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import numpy as np
from pythonosc.osc_bundle import OscBundle
from pythonosc.osc_message import OscMessage
from pythonosc.osc_message_builder import OscMessageBuilder
from pythonosc.osc_packet import OscPacket
from pythonosc.parsing import osc_types

__all__ = [
    "TARGET", "PARAMS", "RESET", "PING", "PONG", "INTENT", "FEATURES", "NUMBER_TAGS", "MAX_PACKET",
    "FloatReader", "FloatWriter", "Message", "OscError",
    "osc_string", "float_prefix", "encode_floats", "decode_floats", "encode_message", "parse_packet",
]

TARGET = "/rlimpro/target"
PARAMS = "/rlimpro/params"
RESET = "/rlimpro/reset"
PING = "/rlimpro/ping"
PONG = "/rlimpro/pong"
INTENT = "/rlimpro/intent"
CALM = "/rlimpro/calm"
FEATURES = "/rlimpro/features"

#: type tags accepted as numbers on the slow path: float32, int32 (Max, liblo), float64
NUMBER_TAGS = frozenset("ifd")

#: the largest packet the server reads; longer datagrams are dropped as oversize
MAX_PACKET = 8192


class OscError(ValueError):
    """A datagram that is not valid OSC."""


def osc_string(text: str) -> bytes:
    """An OSC string: ASCII bytes, a NUL, padded with NULs to a multiple of 4."""
    raw = text.encode("ascii")
    return raw + b"\0" * (4 - len(raw) % 4)


def float_prefix(address: str, count: int) -> bytes:
    """Address and type tags of a message with ``count`` float32 arguments."""
    return osc_string(address) + osc_string("," + "f" * count)


def encode_floats(address: str, values: Iterable[float]) -> bytes:
    """Encode a message whose arguments are all float32.

    :param address: OSC address, e.g. ``/rlimpro/target``.
    :param values: the arguments.
    :return: the datagram.
    """
    array = np.asarray(list(values) if not isinstance(values, np.ndarray) else values, dtype=">f4").reshape(-1)
    return float_prefix(address, array.shape[0]) + array.tobytes()


def decode_floats(data: bytes, address: str, count: int) -> np.ndarray | None:
    """Decode a message with exactly ``count`` float32 arguments at ``address``.

    :return: the arguments as native float32, or None if ``data`` is any other message.
    """
    prefix = float_prefix(address, count)
    if len(data) != len(prefix) + 4 * count or not data.startswith(prefix):
        return None
    return np.frombuffer(data, dtype=">f4", count=count, offset=len(prefix)).astype(np.float32)


class FloatReader:
    """Recognise one fixed float message in a receive buffer without allocating.

    :param buffer: the receive buffer the socket writes into (kept, not copied).
    :param address: the message's address.
    :param count: how many float32 arguments it carries.

    >>> buffer = bytearray(MAX_PACKET)
    >>> reader = FloatReader(buffer, TARGET, 2)
    >>> packet = encode_floats(TARGET, [0.5, -1.0])
    >>> buffer[:len(packet)] = packet                 # as socket.recv_into does
    >>> reader.matches(len(packet)), reader.values.tolist()
    (True, [0.5, -1.0])
    """

    def __init__(self, buffer: bytearray, address: str, count: int) -> None:
        self.prefix = float_prefix(address, count)
        self.size = len(self.prefix) + 4 * count
        if self.size > len(buffer):
            raise ValueError(f"{address} with {count} floats does not fit a {len(buffer)}-byte buffer")
        self._buffer = buffer
        #: the arguments, big-endian, viewed in place in the buffer
        self.values = np.frombuffer(buffer, dtype=">f4", count=count, offset=len(self.prefix))

    def matches(self, nbytes: int) -> bool:
        """Whether the ``nbytes`` just received are exactly this message."""
        return nbytes == self.size and self._buffer.startswith(self.prefix)


class FloatWriter:
    """A preallocated float message: write into :attr:`values`, send :attr:`packet`.

    :param address: the message's address.
    :param count: how many float32 arguments it carries.

    >>> writer = FloatWriter(PARAMS, 2)
    >>> writer.values[:] = [0.25, 0.75]
    >>> decode_floats(bytes(writer.packet), PARAMS, 2).tolist()
    [0.25, 0.75]
    """

    def __init__(self, address: str, count: int) -> None:
        prefix = float_prefix(address, count)
        self.packet = bytearray(prefix + bytes(4 * count))
        #: the arguments, big-endian, a writable view into :attr:`packet`
        self.values = np.frombuffer(self.packet, dtype=">f4", count=count, offset=len(prefix))


@dataclass(frozen=True)
class Message:
    """One parsed OSC message: address, type tags without the comma, arguments."""

    address: str
    tags: str
    args: tuple


def _tags(dgram: bytes) -> str:
    _, index = osc_types.get_string(dgram, 0)
    if index >= len(dgram):
        return ""
    tags, _ = osc_types.get_string(dgram, index)
    return tags[1:]


def _check_sizes(data: bytes) -> None:
    """Refuse what python-osc's lenient parser would accept or hang on: a packet whose size is not
    a multiple of 4 (a value cut short), and a bundle element whose size is not positive, not a
    multiple of 4, or runs past the packet (a size of -4 loops forever)."""
    if len(data) % 4:
        raise OscError(f"{len(data)} bytes: not a multiple of 4")
    if not data.startswith(b"#bundle\0"):
        return
    index = 16
    while index < len(data):
        size = int.from_bytes(data[index:index + 4], "big", signed=True) if index + 4 <= len(data) else -1
        index += 4
        if size <= 0 or size % 4 or index + size > len(data):
            raise OscError(f"bundle element of {size} bytes does not fit the packet")
        element = data[index:index + size]
        if not element.startswith((b"/", b"#bundle\0")):
            raise OscError("bundle element is neither a message nor a bundle")
        _check_sizes(element)
        index += size


def parse_packet(data: bytes) -> tuple[bool, list[Message]]:
    """Parse any OSC packet (message or bundle, nested bundles flattened, time tags ignored).

    :param data: the datagram.
    :return: (whether it was a bundle, its messages in order).
    :raises OscError: if it is not valid OSC.
    """
    try:
        _check_sizes(data)
        is_bundle = OscBundle.dgram_is_bundle(data)
        if not is_bundle and not OscMessage.dgram_is_message(data):
            raise OscError("neither an OSC message nor a bundle")
        messages = [timed.message for timed in OscPacket(data).messages]
        return is_bundle, [Message(m.address, _tags(m.dgram), tuple(m.params)) for m in messages]
    except OscError:
        raise
    except Exception as exc:  # python-osc raises ParseError, IndexError, struct.error, UnicodeDecodeError…
        raise OscError(f"not valid OSC ({exc.__class__.__name__})") from None


def encode_message(address: str, args: Sequence[object] = ()) -> bytes:
    """Encode a message with python-osc (strings, ints, floats); for the cold path only."""
    builder = OscMessageBuilder(address=address)
    for arg in args:
        if isinstance(arg, bool) or not isinstance(arg, (int, float, str, bytes)):
            raise TypeError(f"cannot encode {arg!r} as an OSC argument")
        kind = "s" if isinstance(arg, str) else "b" if isinstance(arg, bytes) else "i" if isinstance(arg, int) else "f"
        builder.add_arg(arg, kind)
    return builder.build().dgram
