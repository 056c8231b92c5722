"""The ``report@synth`` stage: one page per run, training, evaluation and a duet to listen to.

The page (self-contained: the duet is inlined as an ogg ``data:`` URI) shows the run's settings
(``config.json``, ``train_stats.json``), its training curves (:mod:`rlimpro.pages.curves`), the
evaluation against the baselines (every per-policy key of ``metrics.json``, the ratios of
``ratios.json``, links to the evaluation's plots), and the duet of a held-out take with its
descriptor and parameter trajectories under a playhead that follows the player
(:mod:`rlimpro.pages.duetdata`). Whatever is missing (no run, no evaluation, no policy) is named
on the page with the command that makes it.
"""

from __future__ import annotations

import base64
import json
import os
from pathlib import Path
from typing import Any

import numpy as np

from rlimpro.errors import RlimproError
from rlimpro.layout import CORPUS_DIR, Layout, eval_dir
from rlimpro.pages.curves import scalar_curves
from rlimpro.pages.html import write_page
from rlimpro.pages.settings import page_settings
from rlimpro.synth import load_synth, resolve_synth

__all__ = ["build_report", "report_stage", "default_take"]

#: the most points per plotted trajectory (longer duets are decimated for the page)
MAX_POINTS = 1500


def _json(path: Path) -> Any:
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError):
        return None


def default_take(run_config: dict[str, Any] | None, root: Path) -> Path | None:
    """The recording of the run's first held-out track (``None`` when it cannot be found)."""
    from rlimpro.corpus import recordings

    if not run_config:
        return None
    env = run_config.get("env", {})
    heldout, corpus = env.get("heldout_tracks") or [], env.get("corpus") or run_config.get("corpus")
    if not heldout or not corpus:
        return None
    try:
        return recordings(corpus, root).get(heldout[0])
    except RlimproError:
        return None


def _run_section(run: Path, root: Path, notes: list[str]) -> dict[str, Any] | None:
    config = _json(run / "config.json")
    if not run.is_dir() or config is None:
        notes.append(f"no run: {_rel(run, root)}/config.json not found; train it with "
                     f"`rlimpro train --synth {run.parent.parent.name}` (or dvc repro)")
        return None
    stats = _json(run / "train_stats.json") or {}
    if not stats:
        notes.append(f"no training summary: {_rel(run, root)}/train_stats.json not found (training unfinished?)")
    keys = ("algo", "action_space", "features", "n_params", "corpus", "profile")
    summary = {k: config.get(k) for k in keys if k in config}
    summary.update({k: stats[k] for k in ("timesteps", "wall_time_s", "steps_per_s") if k in stats})
    summary["heldout_tracks"] = config.get("env", {}).get("heldout_tracks")
    return {"path": _rel(run, root), "summary": summary, "config": config}


def _rel(path: Path, root: Path) -> str:
    try:
        return path.resolve().relative_to(root.resolve()).as_posix()
    except ValueError:
        return path.as_posix()


def _decimate(*arrays: np.ndarray) -> list[np.ndarray]:
    step = max(1, -(-len(arrays[0]) // MAX_POINTS))
    return [a[::step] for a in arrays]


def _duet_section(model: Path, take: Path | None, root: Path, seconds: float, notes: list[str]) -> dict[str, Any] | None:
    if not model.is_file():
        notes.append(f"no duet: {_rel(model, root)} not found; export the policy with `rlimpro export` (or dvc repro)")
        return None
    if take is None or not take.is_file():
        notes.append(f"no duet: no take to replay (the run's held-out recording under {CORPUS_DIR}/ is missing); "
                     "pass --take AUDIO")
        return None
    from rlimpro.pages.duetdata import duet_data

    duet = duet_data(model, take, root=root, max_seconds=seconds)
    time, musician, agent, params = _decimate(duet.time, duet.musician, duet.agent, duet.params)
    return {
        "src": "data:audio/ogg;base64," + base64.b64encode(duet.ogg).decode("ascii"),
        "take": duet.take, "seconds": duet.seconds, "time": time, "features": duet.features,
        "musician": musician.T, "agent": agent.T, "param_names": duet.param_names, "params": params.T,
    }


def build_report(synth_name: str, out: str | Path, *, root: str | Path = ".", params: dict[str, Any],
                 run: str | Path | None = None, take: str | Path | None = None) -> list[Path]:
    """Write the report page of a run.

    :param synth_name: a synth under ``00_synths/``.
    :param out: the HTML page to write.
    :param root: project folder.
    :param params: validated params.yaml (``pages.duet_s``).
    :param run: the run folder (default the DAG's ``runs/main``).
    :param take: the musician's recording for the duet (default the run's first held-out track).
    :return: ``[out]``.
    :raises RlimproError: if the synth does not exist or the duet cannot be replayed.
    """
    root, out = Path(root), Path(out)
    settings = page_settings(params)
    synth = load_synth(resolve_synth(root, synth_name))
    run_dir = Path(run) if run is not None else Layout(root).run(synth.name)
    notes: list[str] = []
    run_info = _run_section(run_dir, root, notes)
    curves, why = scalar_curves(run_dir) if run_info else ({}, None)
    if why:
        notes.append(why)
    evaluation = eval_dir(run_dir)
    metrics, ratios = _json(evaluation / "metrics.json"), _json(evaluation / "ratios.json")
    if metrics is None:
        notes.append(f"no evaluation: {_rel(evaluation, root)}/metrics.json not found; run "
                     f"`rlimpro evaluate --synth {synth.name}` (or dvc repro)")
    plots = [os.path.relpath(p, out.parent.resolve()) for p in sorted(evaluation.resolve().glob("*.png"))]
    chosen = Path(take) if take is not None else default_take(run_info and run_info["config"], root)
    duet = _duet_section(Layout(root).policy(synth.name), chosen, root, settings.duet_s, notes)
    if run_info:
        run_info.pop("config")
    data = {"synth": synth.name, "description": synth.description, "run": run_info, "curves": curves,
            "metrics": metrics, "ratios": ratios, "plots": plots, "duet": duet, "notes": notes}
    write_page(out, "report.html", title=f"{synth.name}: run report", data=data, scripts=["charts.js", "report.js"],
               styles=["report.css"])
    return [out]


def report_stage(name: str, params: dict[str, Any], root: str | Path) -> list[Path]:
    """DAG stage ``report@<name>``: ``00_synths/<name>/eval/report.html`` of ``runs/main``.

    :param name: the synth.
    :param params: the validated params.yaml.
    :param root: project folder.
    :return: ``[report.html]``.
    """
    return build_report(name, Layout(root).report(name), root=root, params=params)
