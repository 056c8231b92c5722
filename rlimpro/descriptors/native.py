"""The C descriptor core (``native/descriptors.c``, built by ``make native``), loaded with ctypes.

The same analyzer runs inside Pd (``[rlimpro_features~]``) and in the listening server, so
analysing with it offline gives the DAG exactly the numbers the agent hears live. The numpy
code in :mod:`rlimpro.descriptors` stays the readable reference and the test oracle.

>>> import numpy as np
>>> from rlimpro.descriptors import native
>>> if native.available():
...     a = native.Analyzer()
...     first = a.push(np.zeros(1000, np.float32))    # not a whole frame yet
...     second = a.push(np.zeros(100, np.float32))    # frame 0 is done (1024 + 6 samples)
...     print(first.shape, second.shape, second[0, 0])
... else:
...     print((0, 56), (1, 56), -150.0)
(0, 56) (1, 56) -150.0
"""

from __future__ import annotations

import ctypes
from pathlib import Path

import numpy as np

from rlimpro.descriptors.framing import HOP, SR, WINDOW, n_frames
from rlimpro.descriptors.names import NAMES
from rlimpro.errors import RlimproError

__all__ = ["LIBRARY", "Analyzer", "available", "compute"]

#: the built library (absent until ``make native``)
LIBRARY = Path(__file__).with_name("_analyzer.so")
_N = len(NAMES)
_lib: ctypes.CDLL | None = None


def available() -> bool:
    """Whether the C core is built."""
    return LIBRARY.is_file()


def _load() -> ctypes.CDLL:
    global _lib
    if _lib is None:
        if not available():
            raise RlimproError(f"the C descriptor core is not built ({LIBRARY.name}); run `make native` or use engine='numpy'")
        lib = ctypes.CDLL(str(LIBRARY))
        ptr = ctypes.c_void_p
        lib.rd_create.restype = ptr
        lib.rd_create.argtypes = [ctypes.c_double, ctypes.c_int, ctypes.c_int, ctypes.c_int, ctypes.c_char_p, ctypes.c_size_t]
        lib.rd_destroy.restype, lib.rd_destroy.argtypes = None, [ptr]
        lib.rd_reset.restype, lib.rd_reset.argtypes = None, [ptr]
        lib.rd_push.restype = ctypes.c_int
        lib.rd_push.argtypes = [ptr, ptr, ctypes.c_int, ptr, ctypes.c_int]
        lib.rd_max_frames.restype, lib.rd_max_frames.argtypes = ctypes.c_int, [ptr, ctypes.c_int]
        lib.rd_latency.restype, lib.rd_latency.argtypes = ctypes.c_int, [ptr]
        lib.rd_resampling.restype, lib.rd_resampling.argtypes = ctypes.c_int, [ptr]
        _lib = lib
    return _lib


class Analyzer:
    """A streaming analyzer: push blocks of any size, get the frames they complete.

    :param host_sr: rate of the pushed samples in Hz; resampled to ``sr`` when different
        (at least 22050 Hz then).
    :param sr: analysis rate in Hz (the policies' 44100).
    :param window: frame length; ``hop``: frame step (analysis samples).
    :raises RlimproError: if the core is not built or a value is unsupported.
    """

    def __init__(self, host_sr: float = SR, *, sr: int = SR, window: int = WINDOW, hop: int = HOP) -> None:
        self._lib = _load()
        error = ctypes.create_string_buffer(512)
        handle = self._lib.rd_create(float(host_sr), int(sr), int(window), int(hop), error, len(error))
        if not handle:
            raise RlimproError(error.value.decode(errors="replace"))
        self._handle = ctypes.c_void_p(handle)

    @property
    def latency(self) -> int:
        """Host samples from the end of a frame's window until it is written."""
        return self._lib.rd_latency(self._handle)

    @property
    def resampling(self) -> bool:
        """Whether the host rate is resampled to the analysis rate."""
        return bool(self._lib.rd_resampling(self._handle))

    def push(self, block: np.ndarray) -> np.ndarray:
        """Analyse the next samples of the stream.

        :param block: np.ndarray [shape=(n,)], mono samples at ``host_sr``.
        :return: np.ndarray [shape=(k, 56)], float64: the k frames this block completed.
        """
        samples = np.ascontiguousarray(block, dtype=np.float32).reshape(-1)
        room = self._lib.rd_max_frames(self._handle, len(samples))
        out = np.empty((room, _N), dtype=np.float64)
        written = 0
        for start in range(0, len(samples), 1 << 30):  # int-sized pushes
            chunk = samples[start:start + (1 << 30)]
            written += self._lib.rd_push(self._handle, chunk.ctypes.data, len(chunk),
                                         out[written:].ctypes.data, room - written)
        return out[:written]

    def reset(self) -> None:
        """Forget all input: the next sample pushed starts frame 0."""
        self._lib.rd_reset(self._handle)

    def close(self) -> None:
        """Free the analyzer."""
        if self._handle:
            self._lib.rd_destroy(self._handle)
            self._handle = ctypes.c_void_p()

    def __del__(self) -> None:
        if getattr(self, "_handle", None):
            self.close()


def compute(y: np.ndarray, sr: int = SR, *, window: int = WINDOW, hop: int = HOP) -> np.ndarray:
    """All 56 descriptors of a mono signal with the C core: the frames of :func:`rlimpro.descriptors.compute`.

    The signal is pushed, then followed by zeros until its last frame (and the true peak's
    reach beyond it) is complete, exactly as a live stream followed by silence.

    :param y: np.ndarray [shape=(n,)], mono signal at ``sr``.
    :return: np.ndarray [shape=(n_frames, 56)], float64.
    """
    y = np.asarray(y)
    n = n_frames(len(y), window=window, hop=hop)
    analyzer = Analyzer(sr, sr=sr, window=window, hop=hop)
    try:
        head = analyzer.push(y)
        end = (n - 1) * hop + window + analyzer.latency
        tail = analyzer.push(np.zeros(max(0, end - len(y)), dtype=np.float32))
    finally:
        analyzer.close()
    return np.concatenate([head, tail])[:n]
