"""Read audio files of any common format, rate and channel count as mono at the analysis rate."""

from __future__ import annotations

import contextlib
import os
import re
from collections.abc import Iterator
from fractions import Fraction
from pathlib import Path

import numpy as np
import soundfile as sf
from scipy import signal

from rlimpro.descriptors.framing import SR
from rlimpro.errors import RlimproError

__all__ = ["AUDIO_SUFFIXES", "BLOCK", "load_audio", "silenced_stderr", "stream_audio"]

#: frames per block read by :func:`stream_audio` (about 1.5 s at 44.1 kHz)
BLOCK = 1 << 16

AUDIO_SUFFIXES = (".wav", ".flac", ".ogg", ".oga", ".mp3", ".aif", ".aiff")


@contextlib.contextmanager
def silenced_stderr() -> Iterator[None]:
    """Redirect file descriptor 2 to /dev/null (decoders print chatter from C)."""
    try:
        saved = os.dup(2)
    except OSError:  # no fd 2 to silence
        yield
        return
    devnull = os.open(os.devnull, os.O_WRONLY)
    try:
        os.dup2(devnull, 2)
        yield
    finally:
        os.dup2(saved, 2)
        os.close(saved)
        os.close(devnull)


def _check_file(path: Path) -> None:
    if not path.is_file():
        raise RlimproError(f"{path}: no such file; check the path")
    if path.stat().st_size == 0:
        raise RlimproError(f"{path.name}: empty file (0 bytes); re-export or remove it")


def _unreadable(path: Path, exc: Exception) -> RlimproError:
    reason = str(exc).split(":")[-1].strip() or "unreadable"
    return RlimproError(f"{path.name}: not readable audio ({reason}); convert it to WAV or FLAC")


#: libsndfile's note on a WAV whose data chunk is shorter than its header says
_SHORT_DATA = re.compile(r"^data\s*:\s*(\d+)\s*\(should be (\d+)\)", re.MULTILINE)
#: data sizes that streaming writers leave in the header when they cannot seek back: not a truncation
_UNKNOWN_SIZES = (0, 0x7FFFFFFF, 0xFFFFFFFF)


def _info(path: Path) -> sf._SoundFileInfo:
    """libsndfile's view of ``path``; a truncated WAV (cut copy, full disk) is refused here."""
    try:
        with silenced_stderr():
            info = sf.info(str(path))
    except (sf.LibsndfileError, RuntimeError, ValueError, TypeError) as exc:
        raise _unreadable(path, exc) from exc
    short = _SHORT_DATA.search(info.extra_info or "")
    if short and int(short.group(1)) not in _UNKNOWN_SIZES and int(short.group(2)) < int(short.group(1)):
        raise RlimproError(f"{path.name}: truncated (its header promises {int(short.group(1)):,} bytes of audio, "
                           f"the file holds {int(short.group(2)):,}); copy or export it again")
    return info


def _mono(path: Path, data: np.ndarray) -> np.ndarray:
    mono = data.mean(axis=1)
    if not np.isfinite(mono).all():
        raise RlimproError(f"{path.name}: contains NaN or infinite samples; re-export it")
    return mono


def stream_audio(path: str | os.PathLike[str], sr: int = SR, block: int = BLOCK) -> tuple[int, Iterator[np.ndarray]] | None:
    """Decode ``path`` block by block as mono, without holding the whole file (hours of audio).

    The blocks joined are exactly :func:`load_audio`'s signal. Only a file already at ``sr`` can
    be streamed this way; for any other rate this returns None (use :func:`load_audio`).

    :param path: any file :func:`load_audio` reads.
    :param sr: the rate wanted in Hz.
    :param block: frames per block.
    :return: (the length its header gives, in samples; an iterator of np.ndarray [shape=(n,)],
        float32), or None.
    :raises RlimproError: as :func:`load_audio` (the checks of the samples come block by block).
    """
    path = Path(path)
    _check_file(path)
    info = _info(path)
    if info.samplerate != sr:
        return None
    return info.frames, _blocks(path, block)


def _blocks(path: Path, block: int) -> Iterator[np.ndarray]:
    frames = 0
    with silenced_stderr():
        handle = sf.SoundFile(str(path))
    with handle:
        while True:
            try:
                with silenced_stderr():
                    data = handle.read(block, dtype="float32", always_2d=True)
            except (sf.LibsndfileError, RuntimeError, ValueError, TypeError) as exc:
                raise _unreadable(path, exc) from exc
            if data.shape[0] == 0:
                break
            frames += data.shape[0]
            yield _mono(path, data)
    if frames == 0:
        raise RlimproError(f"{path.name}: contains no audio frames; re-export or remove it")


def load_audio(path: str | os.PathLike[str], sr: int = SR) -> np.ndarray:
    """Decode ``path``, mix to mono and resample to ``sr``.

    :param path: a WAV, FLAC, OGG/Vorbis, MP3 or AIFF file (anything libsndfile reads).
    :param sr: target sample rate in Hz.
    :return: np.ndarray [shape=(n,)], float32 in [-1, 1].
    :raises RlimproError: naming the file and why it cannot be used.
    """
    path = Path(path)
    _check_file(path)
    _info(path)
    try:
        with silenced_stderr():
            data, rate = sf.read(str(path), dtype="float32", always_2d=True)
    except (sf.LibsndfileError, RuntimeError, ValueError, TypeError) as exc:
        raise _unreadable(path, exc) from exc
    if data.shape[0] == 0:
        raise RlimproError(f"{path.name}: contains no audio frames; re-export or remove it")
    mono = _mono(path, data)
    if rate != sr:
        ratio = Fraction(sr, int(rate)).limit_denominator(1000)
        mono = signal.resample_poly(mono, ratio.numerator, ratio.denominator).astype(np.float32)
    return mono
