"""Analyse audio files into descriptor tables, in parallel, one line per bad file."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Any

import numpy as np

from rlimpro import descriptors
from rlimpro.audio import load_audio, stream_audio
from rlimpro.errors import RlimproError
from rlimpro.parallel import map_parallel

__all__ = ["Framing", "analyze_file", "failure_message", "map_files", "write_csv", "analyze_to_csv"]


@dataclass(frozen=True)
class Framing:
    """Analysis settings (params.yaml ``analysis``): sample rate, window and hop in samples, and
    the descriptor engine (``auto``: the C core when built, as live; or ``c``, ``numpy``)."""

    sr: int = descriptors.SR
    window: int = descriptors.WINDOW
    hop: int = descriptors.HOP
    engine: str = "auto"

    @classmethod
    def from_params(cls, params: dict[str, Any]) -> Framing:
        """Build from the ``analysis`` section of the validated params.yaml."""
        section = params["analysis"]
        return cls(sr=section["sr"], window=section["window"], hop=section["hop"])


def analyze_file(path: str | os.PathLike[str], framing: Framing = Framing()) -> np.ndarray:
    """Descriptors of one audio file: [n_frames, 56] (see :func:`rlimpro.descriptors.compute`).

    With the C core, a file at the analysis rate is streamed (:func:`rlimpro.audio.stream_audio`):
    hours of audio need memory for the table only, and the frames are those of one offline call.
    """
    if framing.engine == "c" or (framing.engine == "auto" and descriptors.native.available()):
        stream = stream_audio(path, framing.sr)
        if stream is not None:
            return _stream_c(*stream, framing)
    y = load_audio(path, framing.sr)
    return descriptors.compute(y, framing.sr, window=framing.window, hop=framing.hop, engine=framing.engine)


def _stream_c(length: int, blocks: Iterator[np.ndarray], framing: Framing) -> np.ndarray:
    """:func:`rlimpro.descriptors.native.compute` over a signal given in blocks (same frames).

    :param length: the expected length in samples: the table is allocated once for it (and
        grown if the file holds more).
    """
    analyzer = descriptors.native.Analyzer(framing.sr, sr=framing.sr, window=framing.window, hop=framing.hop)
    table = np.empty((descriptors.n_frames(max(length, 1), window=framing.window, hop=framing.hop), 56))
    written = total = 0

    def keep(frames: np.ndarray) -> None:
        nonlocal table, written
        if written + len(frames) > len(table):
            grown = max(written + len(frames), 2 * len(table))
            table = np.concatenate([table[:written], np.empty((grown - written, 56))])
        table[written:written + len(frames)] = frames
        written += len(frames)

    try:
        for block in blocks:
            keep(analyzer.push(block))
            total += len(block)
        n = descriptors.n_frames(total, window=framing.window, hop=framing.hop)
        end = (n - 1) * framing.hop + framing.window + analyzer.latency
        keep(analyzer.push(np.zeros(max(0, end - total), dtype=np.float32)))
    finally:
        analyzer.close()
    return table[:n]


def failure_message(path: Path, exc: BaseException) -> str:
    """One line saying why ``path`` could not be analysed (an :class:`RlimproError` already names it)."""
    if isinstance(exc, RlimproError):
        return str(exc)
    return f"{path.name}: {exc.__class__.__name__}: {exc}"


def _guarded(job: Callable[[Path], Any], path: Path) -> tuple[Path, Any, str | None]:
    try:
        return path, job(path), None
    except Exception as exc:  # a decoder or maths failure must not stop the other files
        return path, None, failure_message(path, exc)


def map_files(
    job: Callable[[Path], Any], paths: Sequence[Path], workers: int | None = None
) -> Iterator[tuple[Path, Any, str | None]]:
    """Run ``job(path)`` for each path in worker processes (:func:`rlimpro.parallel.map_parallel`),
    yielding ``(path, result, error)``.

    Results arrive in completion order; ``error`` is a one-line message (result ``None``) when
    the job raised. ``job`` must be a picklable top-level function or partial.
    """
    return map_parallel(partial(_guarded, job), paths, workers)


def write_csv(path: str | os.PathLike[str], rows: Sequence[tuple[str, np.ndarray]], framing: Framing) -> Path:
    """Write ``file,time,<56 names>`` rows for each (file label, descriptor table), atomically."""
    from rlimpro.atomic import atomic_path

    with atomic_path(path) as tmp, open(tmp, "w") as out:
        out.write(",".join(["file", "time", *descriptors.NAMES]) + "\n")
        for label, table in rows:
            times = descriptors.frame_times(len(table), framing.sr, framing.window, framing.hop)
            quoted = '"' + label.replace('"', '""') + '"' if ("," in label or '"' in label) else label
            for t, row in zip(times, table):
                out.write(quoted + "," + f"{t:.6f}," + ",".join(f"{v:.7g}" for v in row) + "\n")
    return Path(path)


def analyze_to_csv(
    paths: Sequence[str],
    out: str | os.PathLike[str],
    framing: Framing = Framing(),
    workers: int | None = None,
    warn: Callable[[str], None] = print,
) -> Path:
    """Analyse ``paths`` (labelled as given) into one CSV; bad files are reported and skipped.

    :param warn: called with a one-line message for each file that could not be analysed.
    :raises RlimproError: after writing the good files, if any file failed (with a count).
    """
    from rlimpro.progress import track

    tables: dict[Path, np.ndarray] = {}
    failed = 0
    results = map_files(partial(analyze_file, framing=framing), [Path(p) for p in paths], workers)
    for path, table, error in track(results, len(paths), "analysing"):
        if error:
            warn(error)
            failed += 1
        else:
            tables[path] = table
    if tables:
        write_csv(out, [(p, tables[Path(p)]) for p in paths if Path(p) in tables], framing)
    if failed:
        raise RlimproError(
            f"{failed} of {len(paths)} files could not be analysed (listed above); "
            + (f"the others are in {Path(out).name}" if tables else "nothing was written")
        )
    return Path(out)
