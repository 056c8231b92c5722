"""Rendering speed of the Pd harness, and lookup build time vs grid size.

1. For each shipped synth: × real time per core of our harness (many points in ONE
   ``pd -batch`` process) vs the baseline measured in the same run: one Pd process per point
   (the original approach), same patch and points. Speed = seconds of audio per CPU second
   of Pd (user + sys of the child), so other load on the machine does not distort it.
2. End-to-end ``render_lookup`` (render + analysis + parquet) of ``sine`` for growing
   ``subdiv`` (64-point chunks, so every size runs in parallel worker processes): wall time
   should be a constant (process start-up) plus a fixed cost per point (linear growth).

Run: ``.venv/bin/python benchmarks/render.py [--quick]``.
"""

from __future__ import annotations

import argparse
import resource
import shutil
import tempfile
import time
from pathlib import Path

import numpy as np

from rlimpro.lookup import render_lookup
from rlimpro.params import load_params
from rlimpro.render import render_points
from rlimpro.synth import load_synth

REPO = Path(__file__).resolve().parent.parent
SR = 44100
GOAL = 500.0


def _child_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def _timed(fn) -> tuple[float, float]:
    """(child CPU seconds, wall seconds) of ``fn()``."""
    cpu, wall = _child_cpu(), time.perf_counter()
    fn()
    return _child_cpu() - cpu, time.perf_counter() - wall


def harness_speed(name: str, n_points: int, n_baseline: int) -> tuple[float, float]:
    """× real time per core: (ours, one process per point)."""
    synth = load_synth(REPO / "00_synths" / name)
    points = np.random.default_rng(0).random((n_points, synth.n_params))
    seconds = synth.point_samples(SR) / SR
    render_points(synth, points[:2], sr=SR)  # warm the page cache
    cpu, _ = _timed(lambda: render_points(synth, points, sr=SR))
    ours = n_points * seconds / cpu
    cpu, _ = _timed(lambda: [render_points(synth, p[None, :], sr=SR) for p in points[:n_baseline]])
    baseline = n_baseline * seconds / cpu
    return ours, baseline


def lookup_scaling(subdivs: list[int]) -> list[tuple[int, float]]:
    """(points, wall seconds) of a full sine lookup build per subdiv, in a temp project."""
    results = []
    with tempfile.TemporaryDirectory(prefix="rlimpro-bench-") as tmp:
        root = Path(tmp)
        shutil.copytree(REPO / "00_synths" / "sine", root / "00_synths" / "sine",
                        ignore=shutil.ignore_patterns("lookup.parquet", ".lookup_chunks"))
        params = load_params(REPO)
        for subdiv in subdivs:
            params["synth"] = {"sine": {"subdiv": subdiv}}
            params["render"]["chunk_size"] = 64  # always >= 2 parallel chunks
            start = time.perf_counter()
            render_lookup("sine", params, root)
            results.append((subdiv**2, time.perf_counter() - start))
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer points (a smoke run)")
    args = parser.parse_args()
    n_points, n_baseline = (64, 8) if args.quick else (256, 24)
    print(f"render speed, x real time per core ({n_points} points in one Pd vs {n_baseline} Pd processes of 1 point)")
    print(f"{'synth':12s} {'ours':>8s} {'baseline':>9s} {'ratio':>7s}  goal >= {GOAL:.0f}x (sine, fm, subtractive)")
    for name in ("sine", "fm", "subtractive", "granular"):
        ours, baseline = harness_speed(name, n_points, n_baseline)
        flag = "" if name == "granular" else ("  ok" if ours >= GOAL else "  MISSED")
        print(f"{name:12s} {ours:8.0f} {baseline:9.0f} {ours / baseline:6.1f}x{flag}")
    subdivs = [12, 18, 24] if args.quick else [12, 18, 24, 32]
    print("\nlookup build (render + analysis + parquet), sine, 64-point chunks on all cores")
    rows = lookup_scaling(subdivs)
    n = np.array([r[0] for r in rows], dtype=float)
    t = np.array([r[1] for r in rows])
    slope, intercept = np.polyfit(n, t, 1)
    r2 = 1 - ((t - (slope * n + intercept)) ** 2).sum() / ((t - t.mean()) ** 2).sum()
    for points, seconds in rows:
        print(f"{points:6d} points {seconds:7.2f} s  {1000 * seconds / points:6.1f} ms/point")
    print(f"linear fit: {intercept:.2f} s + {1000 * slope:.1f} ms/point, R^2 = {r2:.4f}")


if __name__ == "__main__":
    main()
