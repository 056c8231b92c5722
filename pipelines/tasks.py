"""Prefect tasks: each calls one stage function of the library, exactly as the CLI does.

Every task caches on its stage's inputs (see :mod:`pipelines.dag`) and returns the digests
of the outputs it left, so the flow can tell a cached result whose files were since deleted
or edited. Failures other than :class:`~rlimpro.errors.RlimproError` (a user mistake, the
same on every try) are retried.
"""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any

from prefect import Task, task
from prefect.client.schemas.objects import TaskRun
from prefect.context import TaskRunContext
from prefect.states import State

from pipelines.dag import load_stage, output_digests, stage_key
from rlimpro import corpus, lookup
from rlimpro.errors import RlimproError
from rlimpro.layout import MAIN_RUN
from rlimpro.params import load_params

__all__ = ["plan_corpus", "analyze_track", "finish_corpus", "plan_lookup", "render_chunk", "finish_lookup", "train",
           "export", "evaluate", "sound_map", "report"]

Digests = dict[str, "str | None"]


def _transient(task: Task[Any, Any], task_run: TaskRun, state: State[Any]) -> bool:
    """Retry anything but a user error (bad input fails the same way every time)."""
    return not isinstance(state.data, RlimproError)


_RETRY: dict[str, Any] = {"retries": 2, "retry_delay_seconds": 3, "retry_condition_fn": _transient}


class _StageKey:
    """``cache_key_fn`` of a whole stage: :func:`~pipelines.dag.stage_key` of ``<stage>@<name>``."""

    def __init__(self, stage: str) -> None:
        self.stage = stage

    def __call__(self, context: TaskRunContext, parameters: dict[str, Any]) -> str:
        return stage_key(parameters["root"], f"{self.stage}@{parameters['name']}")


class _UnitKey:
    """``cache_key_fn`` of one work unit: its stage's key (computed once by the flow) and the unit."""

    def __init__(self, unit: str, attribute: str | None = None) -> None:
        self.unit, self.attribute = unit, attribute  # the parameter naming the unit (or its attribute that does)

    def __call__(self, context: TaskRunContext, parameters: dict[str, Any]) -> str:
        unit = parameters[self.unit]
        unit = getattr(unit, self.attribute) if self.attribute else unit
        return hashlib.sha256(f"{parameters['key']}\0{unit}".encode()).hexdigest()


def _outputs(root: str, stage: str, name: str) -> Digests:
    return output_digests(root, load_stage(root, f"{stage}@{name}").outs)


def _stage_task(stage: str) -> Any:
    return task(name=stage, task_run_name=f"{stage}@{{name}}", cache_key_fn=_StageKey(stage), persist_result=True,
                **_RETRY)


@task(name="plan_corpus", task_run_name="plan_corpus@{name}")
def plan_corpus(name: str, root: str) -> corpus.CorpusPlan:
    """List every recording of corpus ``name`` as a work unit (the units' cache skips unchanged ones)."""
    return corpus.plan_corpus(name, load_params(root), root, force=True)


@task(name="analyze_track", task_run_name="analyze_track@{recording.name}", cache_key_fn=_UnitKey("recording"),
      persist_result=True, **_RETRY)
def analyze_track(plan: corpus.CorpusPlan, recording: Path, key: str, root: str) -> Digests:
    """One unit of ``analyze_corpus``: one recording -> its features file.

    :param key: the stage's cache key, computed once by the flow.
    """
    out = corpus.analyze_track(plan, recording)
    return output_digests(root, [str(out.relative_to(root))])


@_stage_task("analyze_corpus")
def finish_corpus(plan: corpus.CorpusPlan, failed: int, name: str, root: str) -> Digests:
    """Last step of ``analyze_corpus@<name>``: ``summary.json``; fails if any unit failed."""
    corpus.finish_corpus(plan, failed)
    return _outputs(root, "analyze_corpus", name)


@task(name="plan_lookup", task_run_name="plan_lookup@{name}")
def plan_lookup(name: str, root: str) -> lookup.LookupPlan:
    """List the chunks of synth ``name``; the missing ones are the work units (run it holding
    :func:`rlimpro.lookup.exclusive`)."""
    return lookup.plan_lookup(name, load_params(root), root)


@task(name="render_chunk", task_run_name="render_chunk@{chunk.folder.name}:{chunk.start}",
      cache_key_fn=_UnitKey("chunk", "out"), persist_result=True, **_RETRY)
def render_chunk(chunk: lookup.Chunk, key: str, root: str) -> Digests:
    """One unit of ``render_lookup``: render, analyse and save one chunk of the table.

    :param key: the stage's cache key, computed once by the flow.
    :return: the digest of the chunk's file, which :func:`finish_lookup` deletes once the table
        is written (so a cached chunk's file may be gone: its stage finished).
    """
    lookup.render_chunk(chunk)
    return output_digests(root, [str(chunk.out.relative_to(root))])


@_stage_task("render_lookup")
def finish_lookup(plan: lookup.LookupPlan, name: str, root: str) -> Digests:
    """Last step of ``render_lookup@<name>``: the table from the saved chunks."""
    lookup.finish_lookup(plan)
    return _outputs(root, "render_lookup", name)


@_stage_task("train")
def train(name: str, root: str) -> Digests:
    """Stage ``train@<name>``: the DAG's run ``runs/main``."""
    from rlimpro.train import train as stage

    stage(name, load_params(root), root, run_id=MAIN_RUN)
    return _outputs(root, "train", name)


@_stage_task("export")
def export(name: str, root: str) -> Digests:
    """Stage ``export@<name>``: ``policy.onnx``."""
    from rlimpro.export import export as stage

    stage(name, load_params(root), root)
    return _outputs(root, "export", name)


@_stage_task("evaluate")
def evaluate(name: str, root: str) -> Digests:
    """Stage ``evaluate@<name>``: metrics and plots of ``runs/main``."""
    from rlimpro.evaluate import evaluate as stage

    stage(name, load_params(root), root)
    return _outputs(root, "evaluate", name)


@_stage_task("map")
def sound_map(name: str, root: str) -> Digests:
    """Stage ``map@<name>``: the sound map page and its clips."""
    from rlimpro.pages.soundmap import map_stage

    map_stage(name, load_params(root), root)
    return _outputs(root, "map", name)


@_stage_task("report")
def report(name: str, root: str) -> Digests:
    """Stage ``report@<name>``: the run's report page."""
    from rlimpro.pages.report import report_stage

    report_stage(name, load_params(root), root)
    return _outputs(root, "report", name)
