"""The pages' ogg/vorbis files are reproducible: the same audio gives the same bytes."""

from __future__ import annotations

import io

import numpy as np
import pytest
import soundfile as sf

from rlimpro.pages.ogg import SERIAL, encode, pin_serial


def _raw(audio: np.ndarray, sr: int) -> bytes:
    buffer = io.BytesIO()
    sf.write(buffer, audio, sr, format="OGG", subtype="VORBIS")
    return buffer.getvalue()


def test_the_same_audio_gives_the_same_bytes_and_decodes() -> None:
    rng = np.random.default_rng(0)
    stereo = np.clip(rng.normal(0, 0.2, (44100, 2)), -1, 1).astype(np.float32)
    raw = [_raw(stereo, 44100) for _ in range(2)]
    assert raw[0] != raw[1]  # what libogg does on its own: a random serial per stream
    pinned = encode(stereo, 44100)
    assert pinned == encode(stereo, 44100) == pin_serial(raw[0]) == pin_serial(raw[1])
    assert pinned.count(b"OggS") > 2 and pinned[14:18] == SERIAL.to_bytes(4, "little")
    back, sr = sf.read(io.BytesIO(pinned), dtype="float32", always_2d=True)  # libogg checks every CRC
    ref, _ = sf.read(io.BytesIO(raw[0]), dtype="float32", always_2d=True)
    assert sr == 44100 and back.shape == stereo.shape
    np.testing.assert_array_equal(back, ref)


@pytest.mark.parametrize("data", [b"RIFF0000WAVE", b"OggS" + bytes(30)])
def test_what_is_not_whole_ogg_pages_is_refused(data: bytes) -> None:
    with pytest.raises(ValueError, match="Ogg page"):
        pin_serial(data)
