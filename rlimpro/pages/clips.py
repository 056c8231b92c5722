"""Short clips of a map's points, rendered by Pd with the shared harness and stored as ogg/vorbis.

Each clip is one point rendered exactly as its lookup row (a fresh synth, :func:`rlimpro.render.render_points`),
without the first ``settle_s``, ``clip_s`` long, with 10 ms fades. Points render in chunks (one
Pd process each, in parallel); every clip file is written atomically, and a chunk whose clips
all exist is skipped, so an interrupted build resumes. ``.key`` in the clip folder hashes what
the clips depend on: when it changes, the old clips are deleted.
"""

from __future__ import annotations

import hashlib
import math
import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

import numpy as np

from rlimpro.atomic import atomic_path, write_text
from rlimpro.layout import LOOKUP_FILE, POLICY_FILE
from rlimpro.pages.ogg import encode
from rlimpro.parallel import map_parallel
from rlimpro.synth import BLOCK, Synth, load_synth

__all__ = ["ClipJob", "clip_name", "plan_clips", "render_clip_job", "render_clips"]

CHUNK = 32
FADE_S = 0.01


def clip_name(i: int) -> str:
    """File name of the clip of shown point ``i``."""
    return f"{i:05d}.ogg"


@dataclass(frozen=True)
class ClipJob:
    """One Pd process worth of clips: ``points [n, N]`` into ``outs`` (same order)."""

    folder: Path
    points: np.ndarray
    outs: tuple[Path, ...]
    sr: int
    clip_s: float


def _key(synth: Synth, points: np.ndarray, sr: int, clip_s: float) -> str:
    h = hashlib.sha256(repr((sr, clip_s, synth.settle_s, synth.length_s)).encode())
    h.update(np.ascontiguousarray(points, np.float64).tobytes())
    skip = {LOOKUP_FILE, POLICY_FILE, ".gitignore"}
    sources = sorted(p for p in synth.folder.iterdir() if p.is_file() and p.name not in skip and not p.name.startswith("."))
    for path in [*sources, Path(str(resources.files("rlimpro") / "pd" / "render.pd"))]:
        h.update(path.name.encode())
        h.update(path.read_bytes())
    return h.hexdigest()[:16]


def plan_clips(synth: Synth, points: np.ndarray, folder: Path, *, sr: int, clip_s: float) -> list[ClipJob]:
    """The clip jobs still to do for ``points`` in ``folder`` (deleting clips of another configuration).

    :return: the jobs whose clips are not all there yet.
    """
    key = _key(synth, points, sr, clip_s)
    stamp = folder / ".key"
    if folder.is_dir() and (not stamp.is_file() or stamp.read_text().strip() != key):
        shutil.rmtree(folder)
    folder.mkdir(parents=True, exist_ok=True)
    write_text(stamp, key + "\n")
    jobs = []
    for start in range(0, len(points), CHUNK):
        outs = tuple(folder / clip_name(i) for i in range(start, min(start + CHUNK, len(points))))
        if not all(o.is_file() for o in outs):
            jobs.append(ClipJob(synth.folder, points[start:start + len(outs)], outs, sr, clip_s))
    return jobs


def render_clip_job(job: ClipJob) -> int:
    """Render one job's points with Pd and write each clip (ogg/vorbis, atomically); return how many."""
    from rlimpro.render import render_points

    synth = load_synth(job.folder)
    settle = int(round(synth.settle_s * job.sr))
    samples = int(math.ceil((settle + job.clip_s * job.sr) / BLOCK)) * BLOCK
    audio = render_points(synth, job.points, sr=job.sr, samples=samples)[:, settle:]
    fade = np.ones(audio.shape[1], np.float32)
    ramp = np.linspace(0.0, 1.0, max(1, int(FADE_S * job.sr)), dtype=np.float32)
    fade[: len(ramp)], fade[len(fade) - len(ramp):] = ramp, ramp[::-1]
    for y, out in zip(audio, job.outs):
        clip = np.clip(np.nan_to_num(y * fade), -1.0, 1.0)
        with atomic_path(out) as tmp:
            tmp.write_bytes(encode(clip, job.sr))
    return len(job.outs)


def render_clips(jobs: list[ClipJob], workers: int) -> Iterator[int]:
    """Run the jobs in ``workers`` processes, yielding each finished job's clip count."""
    yield from map_parallel(render_clip_job, jobs, workers)
