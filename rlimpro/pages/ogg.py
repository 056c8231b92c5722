"""Ogg/Vorbis bytes that are the same for the same audio.

libvorbis encodes deterministically, but libogg gives every stream a random serial number, so
two encodings of one clip differ in 4 bytes of every page and in the pages' checksums. The
DAG's pages must be reproducible (the same params give the same files), so :func:`encode`
pins the serial and recomputes each page's CRC (the Ogg spec's CRC-32: polynomial
0x04C11DB7, no reflection, initial value 0, computed with the CRC field zeroed).

>>> import numpy as np
>>> tone = np.sin(np.arange(4410) * 0.05).astype(np.float32)
>>> encode(tone, 44100) == encode(tone, 44100)
True
"""

from __future__ import annotations

import io

import numpy as np
import soundfile as sf

__all__ = ["SERIAL", "encode", "pin_serial"]

#: the serial number of every stream we write ("rlim")
SERIAL = 0x726C696D


def _crc_table() -> list[int]:
    table = []
    for i in range(256):
        r = i << 24
        for _ in range(8):
            r = ((r << 1) ^ 0x04C11DB7) if r & 0x80000000 else r << 1
        table.append(r & 0xFFFFFFFF)
    return table


_TABLE = _crc_table()


def _crc(page: bytes | bytearray) -> int:
    crc = 0
    for byte in page:
        crc = ((crc << 8) & 0xFFFFFFFF) ^ _TABLE[(crc >> 24) ^ byte]
    return crc


def pin_serial(data: bytes) -> bytes:
    """``data`` (one Ogg stream) with every page's serial set to :data:`SERIAL` and its CRC redone.

    :raises ValueError: if ``data`` is not a sequence of whole Ogg pages.
    """
    out, pos = bytearray(data), 0
    while pos < len(out):
        if out[pos:pos + 4] != b"OggS" or pos + 27 > len(out):
            raise ValueError(f"not an Ogg page at byte {pos}")
        segments = out[pos + 26]
        end = pos + 27 + segments + sum(out[pos + 27:pos + 27 + segments])
        if end > len(out):
            raise ValueError(f"Ogg page at byte {pos} is cut")
        out[pos + 14:pos + 18] = SERIAL.to_bytes(4, "little")
        out[pos + 22:pos + 26] = bytes(4)
        out[pos + 22:pos + 26] = _crc(out[pos:end]).to_bytes(4, "little")
        pos = end
    return bytes(out)


def encode(audio: np.ndarray, sr: int) -> bytes:
    """``audio`` (``[T]`` or ``[T, channels]``, in [-1, 1]) as reproducible Ogg/Vorbis bytes."""
    buffer = io.BytesIO()
    sf.write(buffer, audio, sr, format="OGG", subtype="VORBIS")
    return pin_serial(buffer.getvalue())
