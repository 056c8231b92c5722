"""The ``render_lookup`` stage: a synth's sound map on a regular parameter grid (docs/architecture.md).

``subdiv`` values per parameter (``linspace(0, 1, subdiv)``), ``subdiv**N`` points in
mixed-radix order (p0 slowest), rendered by Pd in chunks (one Pd process per chunk, chunks
in parallel), analysed with :func:`rlimpro.descriptors.compute` and summarised per point by
the mean and std over the frames after ``settle_s``.

Resume: each finished chunk is saved to ``00_synths/<name>/.lookup_chunks/<key>/`` (``key``
hashes everything the numbers depend on). Running again renders only the missing chunks;
the folder is deleted once ``lookup.parquet`` is written.

The stage is split for schedulers (``pipelines/`` runs the chunks as Dask tasks):
:func:`plan_lookup` lists the chunks, :func:`render_chunk` does one, and
:func:`finish_lookup` writes the table; :func:`render_lookup` chains the three under the
synth's lock (:func:`exclusive`).
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import math
import os
import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

import numpy as np

from rlimpro.atomic import atomic_path, check_writable
from rlimpro.descriptors import NAMES, compute
from rlimpro.errors import RlimproError
from rlimpro.grid import grid_points
from rlimpro.layout import LOOKUP_FILE, POLICY_FILE, Layout
from rlimpro.progress import track
from rlimpro.parallel import map_parallel
from rlimpro.render import render_points
from rlimpro.synth import load_synth, synth_dir

__all__ = [
    "columns", "summarise", "render_lookup", "lookup_settings", "LookupSettings",
    "Chunk", "LookupPlan", "plan_lookup", "render_chunk", "finish_lookup", "exclusive",
]

#: outputs and scratch that live in a synth folder but do not change how it sounds
_NOT_SOURCES = {LOOKUP_FILE, POLICY_FILE, ".gitignore"}


def columns(n_params: int) -> list[str]:
    """Column names of a lookup table: p0..p{N-1}, the 56 means, then the 56 ``<name>_std``."""
    return [f"p{i}" for i in range(n_params)] + NAMES + [f"{n}_std" for n in NAMES]


def summarise(audio: np.ndarray, *, sr: int, window: int, hop: int, settle_s: float) -> np.ndarray:
    """Mean and std of every descriptor over the frames that start after ``settle_s``.

    :param audio: np.ndarray [shape=(n,)], one point's rendering (settle + length).
    :return: np.ndarray [shape=(112,)]: 56 means then 56 stds (table order).
    """
    frames = compute(audio, sr, window=window, hop=hop)
    first = min(int(math.ceil(settle_s * sr / hop)), len(frames) - 1)
    kept = frames[first:]
    return np.concatenate([kept.mean(axis=0), kept.std(axis=0)])


@dataclass(frozen=True)
class LookupSettings:
    """Everything a lookup table depends on, from params.yaml."""

    subdiv: int
    chunk_size: int
    workers: int
    sr: int
    window: int
    hop: int


def lookup_settings(name: str, params: dict[str, Any]) -> LookupSettings:
    """``synth.<name>.subdiv``, ``render.{chunk_size, workers}`` and ``analysis`` of the validated params.

    :raises RlimproError: naming the missing or bad key.
    """
    if name not in params["synth"]:
        raise RlimproError(f"params.yaml: add synth.{name}.subdiv (values per parameter, e.g. 7) to build its lookup")
    render, analysis = params["render"], params["analysis"]
    settings = LookupSettings(
        subdiv=params["synth"][name]["subdiv"], chunk_size=render["chunk_size"], workers=render["workers"],
        sr=analysis["sr"], window=analysis["window"], hop=analysis["hop"],
    )
    if settings.subdiv < 2 or settings.chunk_size < 1:
        raise RlimproError(f"params.yaml: synth.{name}.subdiv must be >= 2 and render.chunk_size >= 1")
    return settings


def _chunk_key(folder: Path, s: LookupSettings) -> str:
    """Hash of the synth's files, the harness, the descriptor code and the settings."""
    h = hashlib.sha256(repr((s.subdiv, s.chunk_size, s.sr, s.window, s.hop)).encode())
    package = resources.files("rlimpro")
    sources = sorted(p for p in folder.iterdir() if p.is_file() and p.name not in _NOT_SOURCES and not p.name.startswith("."))
    sources += [Path(str(package / "pd" / "render.pd"))]
    sources += sorted(Path(str(package / "descriptors")).glob("*.py"))
    for path in sources:
        h.update(path.name.encode())
        h.update(path.read_bytes())
    return h.hexdigest()[:16]


@dataclass(frozen=True)
class Chunk:
    """One work unit of a lookup build: grid rows ``[start, stop)`` of the synth in ``folder``.

    :param out: where :func:`render_chunk` saves its rows (``.npy``, atomically).
    """

    folder: Path
    start: int
    stop: int
    settings: LookupSettings
    out: Path


def render_chunk(chunk: Chunk) -> float:
    """Render, analyse and save one chunk; return the seconds of audio rendered.

    :raises RlimproError: on a broken patch or NaN audio.
    """
    synth = load_synth(chunk.folder)
    s = chunk.settings
    points = grid_points(synth.n_params, s.subdiv)[chunk.start:chunk.stop]
    audio = render_points(synth, points, sr=s.sr)
    bad = ~np.isfinite(audio).all(axis=1)
    if bad.any():
        p = ",".join(f"{v:.3g}" for v in points[np.argmax(bad)])
        raise RlimproError(f"{synth.name}/synth.pd: NaN or inf audio at params {p}; guard the patch's maths")
    rows = np.stack([summarise(y, sr=s.sr, window=s.window, hop=s.hop, settle_s=synth.settle_s) for y in audio])
    with atomic_path(chunk.out) as tmp:
        with open(tmp, "wb") as fh:
            np.save(fh, rows)
    return audio.size / s.sr


@contextlib.contextmanager
def _exclusive(folder: Path) -> Iterator[None]:
    """Hold an exclusive lock on the synth folder (one lookup build per synth at a time)."""
    fd = os.open(folder, os.O_RDONLY)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError as exc:
            raise RlimproError(f"{folder.name}: another render-lookup of this synth is running; let it finish") from exc
        yield
    finally:
        os.close(fd)


@contextlib.contextmanager
def exclusive(name: str, root: str | Path = ".") -> Iterator[None]:
    """Hold synth ``name``'s build lock around :func:`plan_lookup` .. :func:`finish_lookup` (the
    chunks may render in other processes meanwhile).

    :raises RlimproError: if the synth is missing or another build of it is running.
    """
    with _exclusive(synth_dir(root, name)):
        yield


@dataclass(frozen=True)
class LookupPlan:
    """The work of one lookup build, split so a scheduler can run the chunks anywhere.

    :param name: the synth.
    :param folder: its folder (``00_synths/<name>``).
    :param n_params: its parameter count.
    :param settings: params.yaml values the table depends on (and ``workers``).
    :param chunks: every chunk, in table order.
    :param missing: the chunks without a saved file (the work units).
    :param out: where :func:`finish_lookup` writes the table.
    :param scratch: the saved chunks' folder, removed once the table is written.
    """

    name: str
    folder: Path
    n_params: int
    settings: LookupSettings
    chunks: list[Chunk]
    missing: list[Chunk]
    out: Path
    scratch: Path


#: the largest lookup grid rendered (a million points: hours of Pd per core, ~1 GB as a table)
MAX_POINTS = 1_000_000


def _largest_subdiv(n_params: int) -> int:
    """The largest subdiv whose grid stays within :data:`MAX_POINTS` for ``n_params`` parameters."""
    subdiv = 2
    while (subdiv + 1) ** n_params <= MAX_POINTS:
        subdiv += 1
    return subdiv


def plan_lookup(name: str, params: dict[str, Any], root: str | Path = ".") -> LookupPlan:
    """List the chunks of synth ``name``; delete saved chunks of any other configuration.

    Call it holding :func:`exclusive`.

    :raises RlimproError: on a missing synth or setting.
    """
    folder = synth_dir(root, name)
    synth = load_synth(folder)
    s = lookup_settings(name, params)
    n_points = s.subdiv ** synth.n_params
    if n_points > MAX_POINTS:
        raise RlimproError(
            f"params.yaml: synth.{name}.subdiv = {s.subdiv} gives {s.subdiv}^{synth.n_params} = {n_points:.3g} grid points "
            f"(at most {MAX_POINTS:,}); lower the subdiv (e.g. {_largest_subdiv(synth.n_params)})"
        )
    chunks_root = Layout(root).lookup_chunks(name)
    check_writable(folder)
    work = chunks_root / _chunk_key(folder, s)
    if chunks_root.is_dir():  # chunks of another configuration can never be reused
        for stale in chunks_root.iterdir():
            if stale != work:
                shutil.rmtree(stale, ignore_errors=True)
    work.mkdir(parents=True, exist_ok=True)
    chunks = [
        Chunk(folder, start, min(start + s.chunk_size, n_points), s, work / f"chunk_{start // s.chunk_size:05d}.npy")
        for start in range(0, n_points, s.chunk_size)
    ]
    missing = [c for c in chunks if not c.out.is_file()]
    return LookupPlan(synth.name, folder, synth.n_params, s, chunks, missing, Layout(root).lookup(name), chunks_root)


def finish_lookup(plan: LookupPlan) -> list[Path]:
    """Assemble the saved chunks into ``lookup.parquet`` (atomically), then drop the chunks.

    :return: ``[path of lookup.parquet]``.
    :raises RlimproError: if a chunk is not saved yet or the table has non-finite values.
    """
    import pandas as pd

    unsaved = [c for c in plan.chunks if not c.out.is_file()]
    if unsaved:
        raise RlimproError(f"{plan.folder.name}: {len(unsaved)} lookup chunks are not rendered yet; run again")
    rows = np.concatenate([np.load(c.out) for c in plan.chunks])
    table = np.concatenate([grid_points(plan.n_params, plan.settings.subdiv), rows], axis=1)
    if not np.isfinite(table).all():
        raise RlimproError(f"{plan.folder.name}: the lookup has non-finite values; report this with the synth attached")
    frame = pd.DataFrame(table, columns=columns(plan.n_params))
    with atomic_path(plan.out) as tmp:
        frame.to_parquet(tmp, index=False)
    shutil.rmtree(plan.scratch, ignore_errors=True)
    return [plan.out]


def render_lookup(name: str, params: dict[str, Any], root: str | Path = ".") -> list[Path]:
    """Build ``00_synths/<name>/lookup.parquet`` (resuming from finished chunks).

    :param name: the synth (a folder under ``00_synths/``).
    :param params: the validated params.yaml (``synth.<name>``, ``render``, ``analysis``).
    :param root: the project folder.
    :return: ``[path of lookup.parquet]``.
    :raises RlimproError: on a missing synth or setting, a broken patch, NaN audio, or
        another build of the same synth running.
    """
    with exclusive(name, root):
        plan = plan_lookup(name, params, root)
        jobs = map_parallel(render_chunk, plan.missing, plan.settings.workers)
        for _ in track(jobs, len(plan.missing), f"rendering {plan.name}"):
            pass
        return finish_lookup(plan)
