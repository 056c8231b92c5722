"""The live server's optional C hot path (``hotloop.c``, built by ``make hotloop``), loaded with ctypes.

:class:`HotLoop` opens the same ``policy.onnx`` in onnxruntime's C API (the library inside the
onnxruntime wheel, so no second install), bound to the :class:`~rlimpro.live.policy.Policy`'s own
buffers: Python and C share one parameter state, and for a policy with the optional ``intent``,
``calm`` and ``state`` inputs (docs/protocol.md) one value of each knob and one recurrent state
(set on the Python side: the server's ``/rlimpro/intent`` and ``/rlimpro/calm`` take its slow path).
:meth:`HotLoop.serve` answers well-formed targets in C with the GIL released and returns every
other datagram to the Python server.
When the library is not built, :func:`available` says so and the server runs in Python.
"""

from __future__ import annotations

import ctypes
import socket
from array import array
from pathlib import Path

import numpy as np
import onnxruntime

from rlimpro.errors import RlimproError
from rlimpro.live.policy import Policy

__all__ = ["LIBRARY", "HotLoop", "available", "onnxruntime_library"]

#: the built library (absent until ``make hotloop``)
LIBRARY = Path(__file__).with_name("_hotloop.so")


def available() -> bool:
    """Whether the C hot path is built."""
    return LIBRARY.is_file()


def onnxruntime_library() -> Path:
    """The onnxruntime shared library inside the installed wheel.

    :raises RlimproError: if the wheel has none.
    """
    found = sorted((Path(onnxruntime.__file__).parent / "capi").glob("libonnxruntime.so*"))
    if not found:
        raise RlimproError("the onnxruntime wheel has no capi/libonnxruntime.so; serve with --engine python")
    return found[-1]


class _Address(ctypes.Structure):
    _fields_ = [("family", ctypes.c_uint16), ("port", ctypes.c_uint16), ("addr", ctypes.c_uint8 * 4),
                ("zero", ctypes.c_uint8 * 8)]


def _pointer(buffer: bytearray | array | np.ndarray | None) -> ctypes.c_void_p:
    if buffer is None:  # an optional input the policy does not have: NULL
        return ctypes.c_void_p()
    if isinstance(buffer, np.ndarray):
        return ctypes.c_void_p(buffer.ctypes.data)
    return ctypes.c_void_p(ctypes.addressof(ctypes.c_char.from_buffer(buffer)))


def _load() -> ctypes.CDLL:
    lib = ctypes.CDLL(str(LIBRARY))  # a CDLL call releases the GIL
    ptr, i64 = ctypes.c_void_p, ctypes.c_int64
    lib.hl_open.restype = ptr
    lib.hl_open.argtypes = [ctypes.c_char_p, ctypes.c_char_p, ptr, ptr, ptr, ptr, ptr, ptr, ptr, ctypes.c_int,
                            ctypes.c_int, ctypes.c_int, ctypes.c_char_p, ctypes.c_size_t]
    lib.hl_close.restype, lib.hl_close.argtypes = None, [ptr]
    lib.hl_run.restype, lib.hl_run.argtypes = ctypes.c_int, [ptr]
    lib.hl_serve.restype = ctypes.c_long
    lib.hl_serve.argtypes = [ptr, ctypes.c_int, ptr, ptr, ctypes.c_long, ctypes.c_char_p, ctypes.c_long, ptr,
                             ctypes.c_long, ptr, ptr, i64, ptr, ctypes.c_int]
    return lib


class HotLoop:
    """The C hot path for one policy and one server socket.

    :param policy: the loaded policy; its :attr:`~Policy.target`, :attr:`~Policy.params` and
        :attr:`~Policy.output` buffers, and its :attr:`~Policy.intent`, :attr:`~Policy.calm`,
        :attr:`~Policy.state` and :attr:`~Policy.state_next` buffers when it has them (None when
        not), are bound to the C session.
    :raises RlimproError: if the library is not built or onnxruntime's C API cannot load the model.
    """

    def __init__(self, policy: Policy) -> None:
        if not available():
            raise RlimproError(f"the C hot path is not built ({LIBRARY.name}); run `make hotloop` or serve with --engine python")
        self._lib = _load()
        self._policy = policy  # keeps the bound buffers alive
        error = ctypes.create_string_buffer(512)
        info, state = policy.info, policy.state
        handle = self._lib.hl_open(str(onnxruntime_library()).encode(), str(info.path).encode(),
                                   _pointer(policy.target), _pointer(policy.params), _pointer(policy.output),
                                   _pointer(policy.intent), _pointer(policy.calm), _pointer(state), _pointer(policy.state_next),
                                   info.n_features, info.n_params, 0 if state is None else state.size, error, len(error))
        if not handle:
            raise RlimproError(f"{info.path.name}: onnxruntime's C API cannot load it ({error.value.decode(errors='replace')[:160]})")
        self._handle = ctypes.c_void_p(handle)

    def run(self) -> None:
        """Run the model once on the bound buffers (no state change, recurrent state included): warms the C session."""
        self._lib.hl_run(self._handle)

    def serve(self, sock: socket.socket, reply: tuple[str, int], buffer: bytearray, prefix: bytes, packet: bytearray,
              counts: array, times: array, timed: array, warm_ms: float) -> int:
        """Answer well-formed targets in C until another datagram arrives.

        :param sock: the server's bound UDP socket.
        :param reply: (IPv4 address, port) replies go to.
        :param buffer: the receive buffer; the returned datagram is left in it.
        :param prefix: a target message's address and type tags.
        :param packet: the preallocated ``/rlimpro/params`` packet (floats at its end).
        :param counts: the server's int64 counters; ``times``: its ring of handling times in ns
            (a power-of-two length); ``timed``: one int64, how many were timed.
        :param warm_ms: run the model after this long without a packet (0: never).
        :return: the size of the datagram left in ``buffer``, or -errno if recv failed.
        """
        address = _Address(socket.AF_INET, socket.htons(reply[1]), (ctypes.c_uint8 * 4)(*socket.inet_aton(reply[0])))
        return self._lib.hl_serve(
            self._handle, sock.fileno(), ctypes.byref(address), _pointer(buffer), len(buffer), prefix, len(prefix),
            _pointer(packet), len(packet), _pointer(counts), _pointer(times), len(times), _pointer(timed),
            int(warm_ms * 1000))

    def close(self) -> None:
        """Release the C session."""
        if self._handle:
            self._lib.hl_close(self._handle)
            self._handle = ctypes.c_void_p()
