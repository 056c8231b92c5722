"""The ``analyze_corpus`` stage: every recording of a corpus -> per-track features + summary.

Layout (DESIGN.md §2): ``01_corpus/<name>/audio/`` holds the recordings (any format, rate,
channel count, sub-folders allowed); the stage writes ``features/<track>.parquet`` (columns
``time`` then the 56 descriptors, one row per frame) and ``summary.json`` (per-feature
mean/std/min/max over all frames, used for normalisation). Finished tracks are skipped on
a re-run, so an interrupted analysis resumes.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from rlimpro import descriptors
from rlimpro.analysis import Framing, analyze_file, map_files
from rlimpro.atomic import atomic_path, write_json
from rlimpro.audio import AUDIO_SUFFIXES
from rlimpro.errors import RlimproError
from rlimpro.progress import track

__all__ = ["CORPUS_DIR", "corpus_dir", "track_files", "analyze_corpus", "load_track", "load_summary"]

CORPUS_DIR = "01_corpus"


def corpus_dir(name: str, root: str | Path = ".") -> Path:
    """``<root>/01_corpus/<name>``."""
    return Path(root) / CORPUS_DIR / name


def _track_name(audio_dir: Path, path: Path) -> str:
    """Track name from the path below ``audio/``: ``a/b/take 1.wav`` -> ``a__b__take 1``."""
    return "__".join(path.relative_to(audio_dir).with_suffix("").parts)


def track_files(name: str, root: str | Path = ".") -> dict[str, Path]:
    """The corpus's audio files by track name, sorted.

    :raises RlimproError: if the audio folder is missing or empty, or two files share a name.
    """
    audio_dir = corpus_dir(name, root) / "audio"
    if not audio_dir.is_dir():
        raise RlimproError(
            f"{audio_dir}: no such folder; put the recordings of corpus {name!r} in {CORPUS_DIR}/{name}/audio/"
        )
    tracks: dict[str, Path] = {}
    for path in sorted(audio_dir.rglob("*")):
        if path.is_file() and path.suffix.lower() in AUDIO_SUFFIXES and not path.name.startswith("."):
            key = _track_name(audio_dir, path)
            if key in tracks:
                raise RlimproError(f"{tracks[key].name} and {path.name}: two recordings with the same name; rename one")
            tracks[key] = path
    if not tracks:
        raise RlimproError(f"{audio_dir}: no audio files ({', '.join(AUDIO_SUFFIXES)}); add recordings there")
    return tracks


def _write_track(path: Path, out: Path, framing: Framing) -> int:
    """Analyse one recording into ``out`` (parquet, atomic); return its frame count."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    table = analyze_file(path, framing)
    times = descriptors.frame_times(len(table), framing.sr, framing.window, framing.hop)
    columns = {"time": times, **{name: table[:, i] for i, name in enumerate(descriptors.NAMES)}}
    meta = {"rlimpro.analysis": json.dumps(framing.__dict__), "rlimpro.source": path.name}
    arrow = pa.table(columns).replace_schema_metadata(meta)
    with atomic_path(out) as tmp:
        pq.write_table(arrow, tmp)
    return len(table)


def load_track(path: str | Path, columns: list[str] | None = None) -> np.ndarray:
    """Read a track's features file as float64 [n_frames, len(columns)] (default: the 56 descriptors)."""
    import pyarrow.parquet as pq

    columns = columns or descriptors.NAMES
    table = pq.read_table(path, columns=columns)
    return np.column_stack([table.column(c).to_numpy() for c in columns]).astype(np.float64)


def _summarise(features: dict[str, Path], name: str, framing: Framing) -> dict[str, Any]:
    count = 0
    total = np.zeros(len(descriptors.NAMES))
    total_sq = np.zeros(len(descriptors.NAMES))
    low = np.full(len(descriptors.NAMES), np.inf)
    high = np.full(len(descriptors.NAMES), -np.inf)
    tracks = []
    for track_name, path in features.items():
        data = load_track(path)
        count += len(data)
        total += data.sum(axis=0)
        total_sq += (data * data).sum(axis=0)
        low = np.minimum(low, data.min(axis=0))
        high = np.maximum(high, data.max(axis=0))
        tracks.append({"name": track_name, "frames": len(data), "seconds": round(len(data) * framing.hop / framing.sr, 3)})
    mean = total / count
    std = np.sqrt(np.maximum(total_sq / count - mean * mean, 0.0))
    stats = {
        feature: {"mean": float(mean[i]), "std": float(std[i]), "min": float(low[i]), "max": float(high[i])}
        for i, feature in enumerate(descriptors.NAMES)
    }
    return {"corpus": name, "analysis": framing.__dict__, "frames": count, "tracks": tracks, "features": stats}


def analyze_corpus(
    name: str,
    params: dict[str, Any],
    root: str | Path = ".",
    *,
    force: bool = False,
    warn: Callable[[str], None] = print,
) -> list[Path]:
    """Analyse every recording of corpus ``name``; write per-track features and ``summary.json``.

    :param name: folder name under ``01_corpus/``.
    :param params: params.yaml (uses ``analysis`` and ``corpus.workers``).
    :param root: the project folder.
    :param force: re-analyse tracks whose features file already exists.
    :param warn: receives one line per recording that could not be analysed.
    :return: the features files and the summary path.
    :raises RlimproError: if any recording failed (after analysing all the others).
    """
    framing = Framing.from_params(params)
    tracks = track_files(name, root)
    out_dir = corpus_dir(name, root) / "features"
    outputs = {key: out_dir / f"{key}.parquet" for key in tracks}
    for stale in out_dir.glob("*.parquet") if out_dir.is_dir() else []:
        if stale not in outputs.values():
            stale.unlink()  # the recording is gone: its features must not enter the summary
    todo = [key for key in tracks if force or not outputs[key].is_file()]
    by_path = {tracks[key]: key for key in todo}
    workers = (params.get("corpus") or {}).get("workers", 0)
    failed = []
    results = map_files(_TrackJob(framing, {tracks[k]: outputs[k] for k in todo}), [tracks[k] for k in todo], workers)
    for path, _, error in track(results, len(todo), f"analysing {name}"):
        if error:
            warn(error)
            failed.append(by_path[path])
    if failed:
        raise RlimproError(
            f"{len(failed)} of {len(tracks)} recordings in corpus {name!r} could not be analysed (listed above); "
            "fix or remove them and run again (finished tracks are kept)"
        )
    summary = corpus_dir(name, root) / "summary.json"
    write_json(summary, _summarise(outputs, name, framing))
    return [*outputs.values(), summary]


class _TrackJob:
    """Picklable job for :func:`map_files`: analyse one recording into its features file."""

    def __init__(self, framing: Framing, outputs: dict[Path, Path]) -> None:
        self.framing = framing
        self.outputs = outputs

    def __call__(self, path: Path) -> int:
        return _write_track(path, self.outputs[path], self.framing)


def load_summary(name: str, root: str | Path = ".") -> dict[str, Any]:
    """Read ``01_corpus/<name>/summary.json``.

    :raises RlimproError: if the corpus has not been analysed yet.
    """
    path = corpus_dir(name, root) / "summary.json"
    if not path.is_file():
        raise RlimproError(f"{path}: not found; run `rlimpro analyze-corpus --corpus {name}` first")
    return json.loads(path.read_text())
