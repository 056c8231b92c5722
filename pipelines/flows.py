"""Prefect flows over the DAG of dvc.yaml: one per stage, and ``full`` for all of it.

A stage flow runs one stage for the items params.yaml lists (``corpora`` or ``synths``), or
for ``names``; like ``dvc repro --single-item``, its inputs must exist. ``full`` runs the
whole DAG: corpus analysis and lookup rendering side by side, then train, export and
evaluate per synth, then its pages (map and report). Per-recording analysis and lookup
chunks run as mapped tasks on the flow's task runner (a Dask cluster by default, see
:mod:`pipelines.runners`).

A lookup build holds its synth's lock (:func:`rlimpro.lookup.exclusive`) in the flow's
process from planning to the written table, as ``rlimpro render-lookup`` does, so a CLI
build or another flow run of the same synth cannot delete or mix its chunks meanwhile.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from contextlib import ExitStack
from pathlib import Path
from typing import Any

from prefect import flow, get_run_logger, unmapped
from prefect.artifacts import create_link_artifact, create_markdown_artifact
from prefect.futures import PrefectFuture

from pipelines import tasks
from pipelines.dag import stage_key, stale_outputs
from pipelines.runners import task_runner
from rlimpro.analysis import failure_message
from rlimpro.layout import Layout
from rlimpro.lookup import LookupPlan, exclusive
from rlimpro.params import load_params

__all__ = ["FLOWS", "analyze_corpus", "render_lookup", "train", "export", "evaluate", "pages", "full",
           "metrics_markdown"]


def _root(root: str) -> str:
    return str(Path(root).resolve())


def _items(root: str, names: list[str] | None, key: str) -> list[str]:
    return list(names) if names else list(load_params(root)[key])


def _settle(future: PrefectFuture[Any], stage: Any, *args: Any) -> dict[str, Any]:
    """Wait for ``stage.submit(*args)``; if its (cached) outputs were since deleted or edited, run it again.

    ``args`` end with ``root``; the result is the outputs' digests.
    """
    recorded = future.result()
    if stale_outputs(args[-1], recorded):
        get_run_logger().info(f"{stage.name}: outputs changed since the cached run; running it again")
        recorded = stage.with_options(refresh_cache=True).submit(*args).result()
    return recorded


def _analyze(name: str, root: str) -> dict[str, Any]:
    """``analyze_corpus@<name>`` as mapped per-recording tasks, then the summary."""
    key = stage_key(root, f"analyze_corpus@{name}")
    plan = tasks.plan_corpus(name, root)
    logger = get_run_logger()
    failed = 0
    todo = list(plan.todo)
    for attempt in (tasks.analyze_track, tasks.analyze_track.with_options(refresh_cache=True)):
        futures = attempt.map(unmapped(plan), todo, unmapped(key), unmapped(root))
        redo = []
        for recording, future in zip(todo, futures):
            result = future.result(raise_on_failure=False)
            if isinstance(result, BaseException):
                logger.warning(f"skipped: {failure_message(recording, result)}")
                failed += 1
            elif stale_outputs(root, result):
                redo.append(recording)  # cached, but its features file was deleted or edited
        todo = redo
        if not todo:
            break
    args = (plan, failed, name, root)
    return _settle(tasks.finish_corpus.submit(*args), tasks.finish_corpus, *args)


_Lookup = tuple[LookupPlan, list[PrefectFuture[Any]]]


def _start_lookup(name: str, root: str, *, fresh: bool = False) -> _Lookup:
    """Plan ``render_lookup@<name>`` and submit its missing chunks as mapped tasks (hold the synth's lock)."""
    key = stage_key(root, f"render_lookup@{name}")
    plan = tasks.plan_lookup(name, root)
    render = tasks.render_chunk.with_options(refresh_cache=True) if fresh else tasks.render_chunk
    return plan, list(render.map(plan.missing, unmapped(key), unmapped(root)))


def _start_lookups(names: list[str], root: str, locks: ExitStack) -> dict[str, _Lookup]:
    """Take each synth's lock (kept until ``locks`` closes) and submit its chunks; synths run side by side."""
    started = {}
    for name in names:
        locks.enter_context(exclusive(name, root))
        started[name] = _start_lookup(name, root)
    return started


def _finish_lookup(name: str, root: str, plan: LookupPlan, chunks: list[PrefectFuture[Any]]) -> dict[str, Any]:
    """Wait for the chunks (failing on the first failed one), then write the table.

    A cached chunk's file is gone once its stage finished, so the table comes from the cached
    last step; if that is not cached after all, or its table was since deleted or edited, the
    chunks render again.
    """
    gone = [chunk for chunk in chunks if stale_outputs(root, chunk.result())]
    recorded = tasks.finish_lookup.submit(plan, name, root).result(raise_on_failure=not gone)
    if isinstance(recorded, BaseException) or stale_outputs(root, recorded):
        get_run_logger().info(f"render_lookup@{name}: outputs changed since the cached run; running it again")
        plan, chunks = _start_lookup(name, root, fresh=True)
        for chunk in chunks:
            chunk.result()
        recorded = tasks.finish_lookup.with_options(refresh_cache=True).submit(plan, name, root).result()
    return recorded


def _run_stage(stage: Any, names: list[str], root: str) -> dict[str, dict[str, Any]]:
    futures = {name: stage.submit(name, root) for name in names}
    return {name: _settle(future, stage, name, root) for name, future in futures.items()}


@flow(name="analyze_corpus", task_runner=task_runner())
def analyze_corpus(names: list[str] | None = None, root: str = ".") -> dict[str, dict[str, Any]]:
    """Stage ``analyze_corpus`` for each corpus (default: params.yaml ``corpora``), one task per recording."""
    root = _root(root)
    return {name: _analyze(name, root) for name in _items(root, names, "corpora")}


@flow(name="render_lookup", task_runner=task_runner())
def render_lookup(names: list[str] | None = None, root: str = ".") -> dict[str, dict[str, Any]]:
    """Stage ``render_lookup`` for each synth (default: params.yaml ``synths``), one task per chunk."""
    root = _root(root)
    with ExitStack() as locks:
        started = _start_lookups(_items(root, names, "synths"), root, locks)
        return {name: _finish_lookup(name, root, *lookup) for name, lookup in started.items()}


@flow(name="train", task_runner=task_runner())
def train(names: list[str] | None = None, root: str = ".") -> dict[str, dict[str, Any]]:
    """Stage ``train`` (the DAG's ``runs/main``) for each synth; needs its lookup and the corpus."""
    root = _root(root)
    return _run_stage(tasks.train, _items(root, names, "synths"), root)


@flow(name="export", task_runner=task_runner())
def export(names: list[str] | None = None, root: str = ".") -> dict[str, dict[str, Any]]:
    """Stage ``export`` (``policy.onnx``) for each synth; needs its trained run."""
    root = _root(root)
    return _run_stage(tasks.export, _items(root, names, "synths"), root)


@flow(name="evaluate", task_runner=task_runner())
def evaluate(names: list[str] | None = None, root: str = ".") -> dict[str, dict[str, Any]]:
    """Stage ``evaluate`` for each synth, then a markdown artifact of its metrics and plots."""
    root = _root(root)
    results = _run_stage(tasks.evaluate, _items(root, names, "synths"), root)
    for name in results:
        _publish(name, root)
    return results


@flow(name="pages", task_runner=task_runner())
def pages(names: list[str] | None = None, root: str = ".") -> dict[str, dict[str, Any]]:
    """Stages ``map`` and ``report`` for each synth (needs its table, policy and evaluation), then
    a link artifact to each report."""
    root = _root(root)
    results: dict[str, dict[str, Any]] = {}
    for name in _items(root, names, "synths"):
        results.update(_pages(name, root))
    return results


@flow(name="full", task_runner=task_runner())
def full(root: str = ".") -> dict[str, dict[str, Any]]:
    """The whole DAG of dvc.yaml for params.yaml's corpora and synths.

    Lookup tables render while the corpora are analysed; each synth's training starts as soon
    as its table and the corpora are done; export and evaluation follow their training; the
    pages (map, report, with a link artifact to each report) come last.
    """
    root = _root(root)
    synths = _items(root, None, "synths")
    results: dict[str, dict[str, Any]] = {}
    trained = {}
    with ExitStack() as locks:
        lookups = _start_lookups(synths, root, locks)
        for name in _items(root, None, "corpora"):
            results[f"analyze_corpus@{name}"] = _analyze(name, root)
        for name in synths:
            results[f"render_lookup@{name}"] = _finish_lookup(name, root, *lookups[name])
            trained[name] = tasks.train.submit(name, root)
    after: dict[str, PrefectFuture[Any]] = {}
    for name in synths:
        results[f"train@{name}"] = _settle(trained[name], tasks.train, name, root)
        after[f"export@{name}"] = tasks.export.submit(name, root)
        after[f"evaluate@{name}"] = tasks.evaluate.submit(name, root)
    for stage_id, future in after.items():
        stage, _, name = stage_id.partition("@")
        results[stage_id] = _settle(future, getattr(tasks, stage), name, root)
        if stage == "evaluate":
            _publish(name, root)
    for name in synths:
        results.update(_pages(name, root))
    return results


def metrics_markdown(name: str, root: str | Path) -> str:
    """Markdown of ``00_synths/<name>/eval/``: overall and per-feature nRMSE, links to the plots."""
    out = Layout(Path(root).resolve()).eval(name)
    metrics = json.loads((out / "metrics.json").read_text())
    ratios = json.loads((out / "ratios.json").read_text())
    policies = list(metrics["overall"])
    lines = [f"# Evaluation of {name} (runs/main)", "", "| policy | nRMSE | x oracle |", "|---|---:|---:|"]
    lines += [f"| {p} | {metrics['overall'][p]['nrmse']:.4f} | {ratios[p]:.2f} |" for p in policies]
    lines += ["", "| feature | " + " | ".join(policies) + " |", "|---|" + "---:|" * len(policies)]
    for feature, row in metrics["per_feature"].items():
        lines.append(f"| {feature} | " + " | ".join(f"{row[p]:.4f}" for p in policies) + " |")
    plots = sorted(out.glob("*.png"))
    if plots:
        lines += ["", "Plots: " + ", ".join(f"[{p.name}]({p.as_uri()})" for p in plots)]
    return "\n".join(lines) + "\n"


def _publish(name: str, root: str) -> None:
    create_markdown_artifact(metrics_markdown(name, root), key=f"eval-{name.lower().replace('_', '-')}",
                             description=f"Evaluation of {name}: nRMSE per policy and feature")


def _pages(name: str, root: str) -> dict[str, dict[str, Any]]:
    """``map@<name>`` and ``report@<name>``, then a link artifact to the report."""
    done = {f"map@{name}": _settle(tasks.sound_map.submit(name, root), tasks.sound_map, name, root),
            f"report@{name}": _settle(tasks.report.submit(name, root), tasks.report, name, root)}
    report = Layout(Path(root).resolve()).report(name)
    key = f"report-{name.lower().replace('_', '-')}"
    create_link_artifact(report.as_uri(), link_text=f"{name}: run report", key=key,
                         description=f"Report of {name}: training curves, evaluation, duet")
    return done


#: flow name -> flow, as ``rlimpro pipeline run FLOW`` and ``pipeline serve`` name them
FLOWS: dict[str, Callable[..., Any]] = {
    f.name: f for f in (analyze_corpus, render_lookup, train, export, evaluate, pages, full)
}
