"""Render synth parameter points headless with the one shared harness ``rlimpro/pd/render.pd``.

One Pd process renders a whole chunk of points into one long buffer: point k occupies samples
``[k·L, (k+1)·L)`` where ``L = synth.point_samples(sr)`` (whole 64-sample blocks). With
``fresh=True`` the synth is instantiated anew (and loadbanged) for every point, so a point
sounds bit for bit the same whether it is rendered alone (``rlimpro render``) or late in a
chunk of the lookup table, provided the synth does not depend on Pd's absolute clock
(``[vline~]`` does, at the 1e-3 level: shipped synths use ``[line~]``; ``[noise~]`` and
``[random]`` need a ``seed`` at loadbang). Chunks run in parallel processes.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import numpy as np
import soundfile as sf

from rlimpro.atomic import atomic_path
from rlimpro.descriptors.framing import SR
from rlimpro.errors import RlimproError
from rlimpro.pdrun import harness, run_pd
from rlimpro.synth import BLOCK, Synth

__all__ = ["render_points", "render_to_wav", "sweep_points", "write_wav"]


def _job_text(points: np.ndarray) -> str:
    return "".join(" ".join(f"{v:.9g}" for v in row) + ";\n" for row in points)


def render_points(
    synth: Synth,
    points: np.ndarray,
    *,
    sr: int = SR,
    samples: int | None = None,
    fresh: bool = True,
) -> np.ndarray:
    """Render parameter points in ONE headless Pd process.

    :param synth: the synth to load (its folder goes on Pd's search path).
    :param points: np.ndarray [shape=(n, N)], values in [0, 1].
    :param sr: sample rate in Hz.
    :param samples: samples per point; default ``synth.point_samples(sr)`` (settle + length).
        Must be a multiple of Pd's block (64).
    :param fresh: a new synth instance per point (lookup, ``render``); ``False`` keeps one
        instance and only sends each new list (sweeps).
    :return: np.ndarray [shape=(n, samples)] float32, one row per point.
    :raises RlimproError: if the patch is broken, Pd fails, or the output is missing.
    """
    points = np.atleast_2d(np.asarray(points, dtype=np.float64))
    n = len(points)
    if points.shape[1] != synth.n_params:
        raise RlimproError(
            f"{synth.name}: expected {synth.n_params} parameter values per point, got {points.shape[1]}"
        )
    length = samples or synth.point_samples(sr)
    if length % BLOCK:
        raise ValueError(f"samples per point must be a multiple of {BLOCK}, got {length}")
    with tempfile.TemporaryDirectory(prefix="rlimpro-pd-") as tmp:
        if any(c.isspace() for c in tmp):
            raise RlimproError(f"temporary folder {tmp!r} contains spaces, which Pd cannot take; set TMPDIR")
        job, out = Path(tmp) / "job.txt", Path(tmp) / "out.wav"
        job.write_text(_job_text(points))
        seconds = n * length / sr
        run_pd(
            harness("render.pd"),
            paths=[synth.folder.resolve()],
            send=f"rlimpro-run {job} {out} {length} {n} {int(fresh)}",
            sr=sr,
            timeout=60.0 + seconds,  # a usable synth renders faster than real time
            what=f"{synth.folder.name}/synth.pd",
        )
        if not out.is_file():
            raise RlimproError(f"{synth.folder.name}/synth.pd: Pd wrote no audio; run rlimpro check-synth on it")
        audio, _ = sf.read(out, dtype="float32", always_2d=True)
    audio = audio[:, 0]
    if len(audio) != n * length:
        raise RlimproError(
            f"{synth.folder.name}/synth.pd: Pd rendered {len(audio)} samples, expected {n * length}; "
            "run rlimpro check-synth on it"
        )
    return audio.reshape(n, length)


def sweep_points(start: list[float], end: list[float], seconds: float, step_s: float, sr: int) -> tuple[np.ndarray, int]:
    """Points of a straight sweep from ``start`` to ``end`` and the samples per step.

    :return: (np.ndarray [shape=(steps, N)], samples per step, a multiple of 64).
    """
    step = max(BLOCK, int(round(step_s * sr / BLOCK)) * BLOCK)
    steps = max(2, int(round(seconds * sr / step)))
    t = np.linspace(0.0, 1.0, steps)[:, None]
    return (1 - t) * np.asarray(start)[None, :] + t * np.asarray(end)[None, :], step


def write_wav(path: str | os.PathLike[str], audio: np.ndarray, sr: int) -> Path:
    """Write mono float32 audio to a WAV file atomically (32-bit float, no clipping)."""
    with atomic_path(path) as tmp:
        sf.write(tmp, np.asarray(audio, dtype=np.float32).ravel(), sr, subtype="FLOAT", format="WAV")
    return Path(path)


def render_to_wav(
    synth_name: str,
    params: list[float],
    output: str | os.PathLike[str],
    *,
    root: str | Path = ".",
    sweep_to: list[float] | None = None,
    seconds: float | None = None,
    sr: int = SR,
) -> list[Path]:
    """Render one parameter point (or a sweep) of a synth to a WAV file, to listen to it.

    A single point is rendered exactly as its lookup row (fresh instance, settle then
    length), so analysing the file reproduces the row; ``seconds`` lengthens the part after
    settling. A sweep moves one instance in a straight line from ``params`` to ``sweep_to``
    over ``seconds`` (default 4), a new list every 50 ms.

    :param synth_name: a synth under ``00_synths/`` or a path to a synth folder.
    :param params: the N values in [0, 1].
    :param output: the WAV to write (32-bit float).
    :return: ``[output]``.
    """
    from rlimpro.synth import load_synth, resolve_synth

    synth = load_synth(resolve_synth(root, synth_name))
    if sweep_to is None:
        samples = None
        if seconds is not None:
            samples = int(np.ceil((synth.settle_s + seconds) * sr / BLOCK)) * BLOCK
        audio = render_points(synth, np.asarray([params]), sr=sr, samples=samples)
    else:
        points, step = sweep_points(params, sweep_to, seconds or 4.0, 0.05, sr)
        audio = render_points(synth, points, sr=sr, samples=step, fresh=False)
    return [write_wav(output, audio, sr)]
