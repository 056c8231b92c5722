"""Training curves of a run, read from its TensorBoard event files (tensorboard's EventAccumulator).

Every scalar tag of every event file under ``<run>/tensorboard/`` (a resumed run has several)
becomes one curve of ``(step, value)`` points, sorted by step.
"""

from __future__ import annotations

from pathlib import Path

__all__ = ["scalar_curves"]


def scalar_curves(run: Path) -> tuple[dict[str, list[tuple[int, float]]], str | None]:
    """``({tag: [(step, value), ...]}, note)``; the note says why there are no curves, else ``None``.

    :param run: a run folder (``runs/main``).
    """
    logs = run / "tensorboard"
    files = sorted(logs.rglob("events.out.tfevents.*")) if logs.is_dir() else []
    if not files:
        return {}, f"no training curves: no TensorBoard event files in {run.name}/tensorboard/"
    try:
        from tensorboard.backend.event_processing.event_accumulator import EventAccumulator
    except ImportError:
        return {}, "no training curves: tensorboard is not installed (pip install 'rlimpro[train]')"
    curves: dict[str, dict[int, float]] = {}
    for path in files:
        events = EventAccumulator(str(path), size_guidance={"scalars": 0})
        events.Reload()
        for tag in events.Tags().get("scalars", []):
            points = curves.setdefault(tag, {})
            for event in events.Scalars(tag):
                points[int(event.step)] = float(event.value)
    return {tag: sorted(points.items()) for tag, points in sorted(curves.items())}, None
