"""The ``map@synth`` stage: a synth's sound map as one offline page with its clips beside it.

``build_map`` reads the lookup table, picks the shown points (:mod:`rlimpro.pages.subgrid`),
renders their clips with Pd (:mod:`rlimpro.pages.clips`), projects them to 2-D
(:mod:`rlimpro.pages.projection`), traces the corpus and agent paths
(:mod:`rlimpro.pages.paths`) and writes ``<page>`` plus ``<page stem>_files/`` (the clips, referenced
by relative paths written in the page). Clip chunks and projections are the units of progress
and of resume: a second run after an interruption does only what is missing.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np

from rlimpro.descriptors import NAMES
from rlimpro.errors import RlimproError
from rlimpro.layout import Layout
from rlimpro.pages.clips import clip_name, plan_clips, render_clips
from rlimpro.pages.html import write_page
from rlimpro.pages.paths import overlays
from rlimpro.pages.projection import METHODS, MIN_POINTS, cached_projection, standardise
from rlimpro.pages.settings import page_settings
from rlimpro.pages.subgrid import subgrid
from rlimpro.progress import track
from rlimpro.synth import load_synth, resolve_synth

__all__ = ["build_map", "map_stage", "files_dir"]


def files_dir(page: Path) -> Path:
    """The folder beside a page holding its clips: ``<stem>_files/``."""
    return page.with_name(f"{page.stem}_files")


def _table(path: Path, n_params: int) -> tuple[np.ndarray, np.ndarray, int]:
    """``(params [rows, N], descriptor means [rows, 56], subdiv)`` of a lookup table, checked."""
    from rlimpro.env.table import load_table

    table = load_table(path)
    if table.n_params != n_params:
        raise RlimproError(f"{path.name}: has {table.n_params} parameter columns, the synth has {n_params}; "
                           "run rlimpro render-lookup again")
    return table.grid_params(np.arange(table.n_rows)), table.features, table.subdiv


def build_map(synth_name: str, out: str | Path, *, root: str | Path = ".", params: dict[str, Any]) -> list[Path]:
    """Write the sound map of a synth to ``out`` and its clips to ``<out stem>_files/``.

    :param synth_name: a synth under ``00_synths/`` (its ``lookup.parquet`` must exist).
    :param out: the HTML page to write.
    :param root: project folder.
    :param params: validated params.yaml (``pages`` settings, ``env`` for the overlays, ``analysis.sr``).
    :return: ``[out, clips folder]``.
    :raises RlimproError: on a missing or invalid table (NaN rows, wrong columns) or a broken patch.
    """
    root, out = Path(root), Path(out)
    settings = page_settings(params)
    synth = load_synth(resolve_synth(root, synth_name))
    grid_values, means, subdiv = _table(Layout(root).lookup(synth.name), synth.n_params)
    shown = subgrid(synth.n_params, subdiv, settings.max_points)
    points = grid_values[shown.rows]
    files = files_dir(out)
    clips = files / "clips"
    cache = files / ".cache"
    sr = params["analysis"]["sr"]
    jobs = plan_clips(synth, points, clips, sr=sr, clip_s=settings.clip_s)
    x = standardise(means[shown.rows])
    methods = [m for m in METHODS if m == "PCA" or len(x) >= MIN_POINTS]
    projections: dict[str, np.ndarray] = {}

    def work() -> Iterator[None]:
        for _ in render_clips(jobs, settings.workers):
            yield
        for method in methods:
            projections[method] = cached_projection(x, method, cache)
            yield

    for _ in track(work(), len(jobs) + len(methods), f"map of {synth.name}"):
        pass
    paths, heldout, notes = overlays(root, synth.name, params, shown)
    if len(methods) < len(METHODS):
        notes.append(f"t-SNE and UMAP need at least {MIN_POINTS} points; this map has {len(x)}, so PCA only")
    names = [p.name for p in synth.params]
    default_track = next((t for t in heldout if t in paths), next(iter(paths), ""))
    data = {
        "synth": synth.name, "description": synth.description, "params": names,
        "columns": names + list(NAMES), "rows": shown.rows, "table_rows": len(grid_values),
        "points": np.concatenate([points, means[shown.rows]], axis=1),
        "projections_order": methods, "projections": {m: projections[m] for m in methods},
        "clips": [f"{files.name}/clips/{clip_name(i)}" for i in range(len(points))], "clip_s": settings.clip_s,
        "tracks": paths, "heldout": heldout, "default_track": default_track, "notes": notes,
    }
    write_page(out, "map.html", title=f"{synth.name}: sound map", data=data, scripts=["map.js"], styles=["map.css"])
    shutil.rmtree(cache, ignore_errors=True)
    return [out, files]


def map_stage(name: str, params: dict[str, Any], root: str | Path) -> list[Path]:
    """DAG stage ``map@<name>``: ``00_synths/<name>/map/index.html`` and its clips.

    :param name: the synth.
    :param params: the validated params.yaml.
    :param root: project folder.
    :return: the page and its clip folder.
    """
    return build_map(name, Layout(root).map_page(name), root=root, params=params)
