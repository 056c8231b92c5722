"""Read audio files of any common format, rate and channel count as mono at the analysis rate."""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from fractions import Fraction
from pathlib import Path

import numpy as np
import soundfile as sf
from scipy import signal

from rlimpro.descriptors.framing import SR
from rlimpro.errors import RlimproError

__all__ = ["AUDIO_SUFFIXES", "load_audio", "silenced_stderr"]

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


def load_audio(path: str | os.PathLike[str], sr: int = SR) -> np.ndarray:
    """Decode ``path``, mix to mono and resample to ``sr``.

    :param path: a WAV, FLAC, OGG/Vorbis, MP3 or AIFF file (anything libsndfile reads).
    :param sr: target sample rate in Hz.
    :return: np.ndarray [shape=(n,)], float32 in [-1, 1].
    :raises RlimproError: naming the file and why it cannot be used.
    """
    path = Path(path)
    if not path.is_file():
        raise RlimproError(f"{path}: no such file; check the path")
    if path.stat().st_size == 0:
        raise RlimproError(f"{path.name}: empty file (0 bytes); re-export or remove it")
    try:
        with silenced_stderr():
            data, rate = sf.read(str(path), dtype="float32", always_2d=True)
    except (sf.LibsndfileError, RuntimeError, ValueError, TypeError) as exc:
        reason = str(exc).split(":")[-1].strip() or "unreadable"
        raise RlimproError(f"{path.name}: not readable audio ({reason}); convert it to WAV or FLAC") from exc
    if data.shape[0] == 0:
        raise RlimproError(f"{path.name}: contains no audio frames; re-export or remove it")
    mono = data.mean(axis=1)
    if not np.isfinite(mono).all():
        raise RlimproError(f"{path.name}: contains NaN or infinite samples; re-export it")
    if rate != sr:
        ratio = Fraction(sr, int(rate)).limit_denominator(1000)
        mono = signal.resample_poly(mono, ratio.numerator, ratio.denominator).astype(np.float32)
    return mono
