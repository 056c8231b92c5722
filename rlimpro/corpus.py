"""The ``analyze_corpus`` stage: every recording of a corpus -> per-track features + summary.

Layout (docs/descriptors.md): ``01_corpus/<name>/audio/`` holds the recordings (any format, rate,
channel count, sub-folders allowed); the stage writes ``features/<track>.parquet`` (columns
``time`` then the 56 descriptors, one row per frame) and ``summary.json`` (per-feature
mean/std/min/max over all frames, for a look at the corpus; training normalises with the
training tracks and the lookup table, :func:`rlimpro.env.targets.normalisation`). Finished tracks are skipped on
a re-run, so an interrupted analysis resumes.

The stage is split for schedulers (``pipelines/`` runs the units as Dask tasks):
:func:`plan_corpus` lists the work units, :func:`analyze_track` does one, and
:func:`finish_corpus` writes the summary; :func:`analyze_corpus` chains the three.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Any

import numpy as np

from rlimpro import descriptors
from rlimpro.analysis import Framing, analyze_file, map_files
from rlimpro.atomic import atomic_path, check_writable, write_json
from rlimpro.audio import AUDIO_SUFFIXES
from rlimpro.errors import RlimproError
from rlimpro.layout import CORPUS_DIR, Layout
from rlimpro.progress import track

__all__ = [
    "CorpusPlan", "recordings", "plan_corpus", "analyze_track", "finish_corpus", "analyze_corpus", "load_track",
    "write_features", "write_summary",
]


def _track_name(audio_dir: Path, path: Path) -> str:
    """Track name from the path below ``audio/``: ``a/b/take 1.wav`` -> ``a__b__take 1``."""
    return "__".join(path.relative_to(audio_dir).with_suffix("").parts)


def recordings(name: str, root: str | Path = ".") -> dict[str, Path]:
    """The recordings of corpus ``name`` by track name, sorted by path: the one rule for what a
    corpus holds (audio files anywhere below ``audio/``, sub-folders allowed, hidden files not).

    :raises RlimproError: if the audio folder is missing or empty, or two files share a name.
    """
    audio_dir = Layout(root).audio(name)
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


def write_features(out: Path, table: np.ndarray, framing: Framing, source: str) -> Path:
    """Write one track's features file (parquet, atomic): ``time`` then the 56 descriptors.

    :param table: np.ndarray [shape=(n_frames, 56)] in :data:`NAMES` order.
    :param source: the recording's file name, stored in the file's metadata.
    """
    import pyarrow as pa
    import pyarrow.parquet as pq

    times = descriptors.frame_times(len(table), framing.sr, framing.window, framing.hop)
    columns = {"time": times, **{name: table[:, i] for i, name in enumerate(descriptors.NAMES)}}
    meta = {"rlimpro.analysis": json.dumps(framing.__dict__), "rlimpro.source": source}
    arrow = pa.table(columns).replace_schema_metadata(meta)
    with atomic_path(out) as tmp:
        pq.write_table(arrow, tmp)
    return out


def _write_track(path: Path, out: Path, framing: Framing) -> int:
    """Analyse one recording into ``out`` (parquet, atomic); return its frame count."""
    table = analyze_file(path, framing)
    write_features(out, table, framing, path.name)
    return len(table)


def load_track(path: str | Path, columns: list[str] | None = None) -> np.ndarray:
    """Read a track's features file as float64 [n_frames, len(columns)] (default: the 56 descriptors)."""
    import pyarrow.parquet as pq

    columns = columns or descriptors.NAMES
    try:
        table = pq.read_table(path, columns=columns)
    except (OSError, ValueError, KeyError) as exc:  # pyarrow's ArrowInvalid is a ValueError, ArrowIOError an OSError
        reason = (str(exc).strip().splitlines() or [exc.__class__.__name__])[0].replace(f"'{path}'", "")[:120].rstrip(" ,:")
        raise RlimproError(f"{Path(path).name}: not a readable features file ({reason}); delete it and run "
                           "`rlimpro analyze-corpus` again") from None
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


def write_summary(path: Path, features: dict[str, Path], name: str, framing: Framing) -> Path:
    """Write corpus ``name``'s ``summary.json`` (atomic) from its features files (track -> path)."""
    return write_json(path, _summarise(features, name, framing))


@dataclass(frozen=True)
class CorpusPlan:
    """The work of one ``analyze_corpus`` run, split so a scheduler can run the units anywhere.

    :param name: the corpus.
    :param framing: analysis settings.
    :param outputs: every recording of the corpus -> its features file (track order).
    :param todo: the recordings to analyse now (the work units).
    :param workers: processes :func:`analyze_corpus` uses (params.yaml ``corpus.workers``).
    :param summary: where :func:`finish_corpus` writes ``summary.json``.
    """

    name: str
    framing: Framing
    outputs: dict[Path, Path]
    todo: list[Path]
    workers: int
    summary: Path


def _finished(out: Path) -> bool:
    """Whether ``out`` is a complete features file (a damaged one is analysed again, not trusted)."""
    import pyarrow.parquet as pq

    if not out.is_file():
        return False
    try:
        names = pq.read_schema(out).names
    except (OSError, ValueError):
        return False
    return names == ["time", *descriptors.NAMES]


def plan_corpus(name: str, params: dict[str, Any], root: str | Path = ".", *, force: bool = False) -> CorpusPlan:
    """List the work units of corpus ``name``; delete features whose recording is gone.

    :param force: every recording is a unit, not only those without a features file.
    :raises RlimproError: if the audio folder is missing or empty, or two files share a name.
    """
    tracks = recordings(name, root)
    out_dir = check_writable(Layout(root).features(name))
    outputs = {path: out_dir / f"{key}.parquet" for key, path in tracks.items()}
    for stale in out_dir.glob("*.parquet") if out_dir.is_dir() else []:
        if stale not in outputs.values():
            stale.unlink()  # the recording is gone: its features must not enter the summary
    todo = [path for path, out in outputs.items() if force or not _finished(out)]
    workers = params["corpus"]["workers"]
    return CorpusPlan(name, Framing.from_params(params), outputs, todo, workers, Layout(root).summary(name))


def analyze_track(plan: CorpusPlan, recording: Path) -> Path:
    """Do one unit: analyse ``recording`` into its features file (atomically).

    :return: the features file.
    :raises Exception: whatever decoding or analysis raised (:class:`RlimproError` for unreadable audio).
    """
    out = plan.outputs[recording]
    _write_track(recording, out, plan.framing)
    return out


def finish_corpus(plan: CorpusPlan, failed: int = 0) -> list[Path]:
    """Write ``summary.json`` once every unit is done.

    :param failed: how many units failed (their messages were shown already).
    :return: the features files and the summary path.
    :raises RlimproError: if any unit failed (the finished features are kept).
    """
    if failed:
        raise RlimproError(
            f"{failed} of {len(plan.outputs)} recordings in corpus {plan.name!r} could not be analysed (listed above); "
            "fix or remove them and run again (finished tracks are kept)"
        )
    features = {out.stem: out for out in plan.outputs.values()}
    write_summary(plan.summary, features, plan.name, plan.framing)
    return [*plan.outputs.values(), plan.summary]


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
    :param params: the validated params.yaml (uses ``analysis`` and ``corpus.workers``).
    :param root: the project folder.
    :param force: re-analyse tracks whose features file already exists.
    :param warn: receives one line per recording that could not be analysed.
    :return: the features files and the summary path.
    :raises RlimproError: if any recording failed (after analysing all the others).
    """
    plan = plan_corpus(name, params, root, force=force)
    failed = 0
    results = map_files(partial(analyze_track, plan), plan.todo, plan.workers)
    for _, _, error in track(results, len(plan.todo), f"analysing {name}"):
        if error:
            warn(error)
            failed += 1
    return finish_corpus(plan, failed)
