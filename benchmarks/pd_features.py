"""Listening inside Pd: the cost of ``[rlimpro_features~]`` and ``[rlimpro_policy]`` per hop, as a share of one core.

Each configuration is one batch Pd (``pd -nogui -nosound -batch``: DSP runs as fast as it can)
that turns DSP on, runs ``--seconds`` of logical time (a ``[delay]``) and reads ``[cputime]``
and ``[realtime]`` over exactly that stretch, so Pd's start-up and the patch loading are not
counted:

(a) baseline: ``[noise~]`` alone (Pd's scheduler and DSP tick, the source);
(b) ``[noise~] -> [rlimpro_features~ <the policy's features>]``, each list counted;
(c) ``[noise~] -> [rlimpro_features~ ...] -> [rlimpro_policy <policy.onnx>]``, each decision counted;
(d) ``[noise~] -> [rlimpro_features~]`` with all 56 descriptors (the widest list).

Cost per hop = (CPU time of the configuration - CPU time of (a)) / hops, where a hop is
512 samples at 44.1 kHz (11.6 ms of real time); the share of one core is that cost over
11.6 ms. Goal: features + policy (c - a) <= 1 % of one core. CPU time (Pd's user + sys,
``[cputime]``, which ticks in 10 ms steps on Linux: keep ``--seconds`` large) rather than wall
time, so other load on the machine does not count; wall-clock shares are printed alongside.
Each configuration runs ``--repeats`` times, interleaved, and the median counts. The input is
white noise: the analyzer's work hardly depends on the signal (it computes all 56 descriptors
whatever the selection), and the policy's not at all.
Needs ``make externals`` and a policy (``dvc repro``); nothing is asserted.

Run: ``.venv/bin/python benchmarks/pd_features.py [--seconds 600] [--policy 00_synths/fm/policy.onnx]``
"""

from __future__ import annotations

import argparse
import re
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from benchmarks._pd import checked_policy  # noqa: E402
from rlimpro.live.play import EXTERNALS  # noqa: E402
from rlimpro.live.policy import Policy  # noqa: E402
from rlimpro.pdrun import find_pd  # noqa: E402

SR, HOP = 44100, 512
HOP_SECONDS = HOP / SR
GOAL_SHARE = 1.0  # % of one core for features + policy


def _patch(seconds: float, chain: list[str]) -> str:
    """DSP on, ``seconds`` of logical time timed by [cputime] and [realtime], then quit.

    ``chain``: objects after ``[noise~]``, each feeding the next; the last one's outputs are counted.
    """
    lines = ["#N canvas 0 0 800 600 12;",
             "#X obj 10 10 loadbang;",              # 0
             "#X obj 10 40 t b b b;",               # 1: right to left: dsp on, reset timers, start the delay
             "#X msg 200 40 \\; pd dsp 1;",         # 2
             "#X obj 10 100 cputime;",              # 3
             "#X obj 100 100 realtime;",            # 4
             f"#X obj 10 70 delay {seconds * 1000:.9g};",  # 5
             "#X obj 10 130 t b b b;",              # 6: right to left: read timers, read count, quit
             "#X obj 10 160 print cpu;",            # 7
             "#X obj 100 160 print real;",          # 8
             "#X msg 10 190 \\; pd quit;",          # 9
             "#X obj 300 10 noise~;",               # 10
             "#X obj 300 300 t b;",                 # 11: counter of the last object's lists
             "#X obj 300 330 f;",                   # 12
             "#X obj 350 330 + 1;",                 # 13
             "#X obj 300 360 f;",                   # 14: snapshot
             "#X obj 300 390 print count;"]         # 15
    connects = ["0 0 1 0", "1 2 2 0", "1 1 3 0", "1 1 4 0", "1 0 5 0", "5 0 6 0", "6 2 3 1", "6 2 4 1",
                "3 0 7 0", "4 0 8 0", "6 1 14 0", "6 0 9 0", "11 0 12 0", "12 0 13 0", "13 0 12 1", "13 0 14 1",
                "14 0 15 0"]
    previous = 10
    for i, obj in enumerate(chain):
        index = len(lines) - 1
        lines.append(f"#X obj 300 {40 + 30 * i} {obj};")
        connects.append(f"{previous} 0 {index} 0")
        previous = index
    if chain:
        connects.append(f"{previous} 0 11 0")
    return "\n".join(lines + [f"#X connect {c};" for c in connects]) + "\n"


def run(seconds: float, chain: list[str]) -> tuple[float, float, int]:
    """(CPU ms, wall ms, lists counted) of one batch Pd running ``chain`` for ``seconds`` of logical time."""
    with tempfile.TemporaryDirectory(prefix="rlimpro-bench-pdf-") as tmp:
        patch = Path(tmp) / "bench.pd"
        patch.write_text(_patch(seconds, chain))
        proc = subprocess.run([find_pd(), "-nogui", "-nosound", "-noprefs", "-batch", "-r", str(SR),
                               "-path", str(EXTERNALS), "-open", str(patch)],
                              capture_output=True, text=True, timeout=3600)
    console = proc.stdout + proc.stderr
    found = {label: re.findall(rf"^{label}: ([0-9.e+-]+)$", console, re.M) for label in ("cpu", "real", "count")}
    if "couldn't create" in console or not found["cpu"] or not found["real"]:
        raise SystemExit(f"Pd did not run the chain {chain} (are the externals built? `make externals`):\n{console[-2000:]}")
    count = int(float(found["count"][0])) if found["count"] else 0
    return float(found["cpu"][0]), float(found["real"][0]), count


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=600.0, help="logical seconds of DSP per run")
    parser.add_argument("--repeats", type=int, default=5, help="runs per configuration (the median counts)")
    parser.add_argument("--policy", type=Path, default=ROOT / "00_synths" / "fm" / "policy.onnx")
    args = parser.parse_args()
    model = checked_policy(args.policy)
    info = Policy(model).info
    features = " ".join(info.features)
    configs = {
        "a": ("(a) [noise~] alone (baseline)", []),
        "b": (f"(b) + [rlimpro_features~] policy's {info.n_features}", [f"rlimpro_features~ {features}"]),
        "c": ("(c) + [rlimpro_policy] (b -> policy)", [f"rlimpro_features~ {features}", f"rlimpro_policy {model}"]),
        "d": ("(d) + [rlimpro_features~] all 56", ["rlimpro_features~"]),
    }
    hops = int(round(args.seconds * SR)) // HOP
    results: dict[str, list[tuple[float, float, int]]] = {key: [] for key in configs}
    for _ in range(args.repeats):
        for key, (_, chain) in configs.items():
            results[key].append(run(args.seconds, chain))
    cpu = {key: float(np.median([r[0] for r in rs])) for key, rs in results.items()}
    wall = {key: float(np.median([r[1] for r in rs])) for key, rs in results.items()}
    for key in ("b", "c", "d"):
        counts = {r[2] for r in results[key]}
        if not counts or min(counts) < hops - 2:
            raise SystemExit(f"config {key}: {sorted(counts)} lists out of ~{hops} hops: the chain did not run")
    print(f"policy {info.synth} ({model.name}: {info.n_features} features [{features}] -> {info.n_params} params); "
          f"{args.seconds:g} s of noise per run = {hops} hops of {HOP} samples ({HOP_SECONDS * 1000:.1f} ms) at {SR} Hz; "
          f"median of {args.repeats} batch-Pd runs per row")
    print(f"{'configuration':<46}{'CPU ms':>9}{'wall ms':>9}{'µs/hop':>9}{'% core':>8}{'wall µs/hop':>13}{'% wall':>8}")
    for key, (label, _) in configs.items():
        extra_cpu = (cpu[key] - cpu["a"]) * 1000 / hops
        extra_wall = (wall[key] - wall["a"]) * 1000 / hops
        cells = ("", "", "", "") if key == "a" else (
            f"{extra_cpu:9.1f}", f"{extra_cpu / (HOP_SECONDS * 1e6) * 100:7.3f}%",
            f"{extra_wall:13.1f}", f"{extra_wall / (HOP_SECONDS * 1e6) * 100:7.3f}%")
        print(f"{label:<46}{cpu[key]:9.0f}{wall[key]:9.0f}" + (f"{cells[0]:>9}{cells[1]:>8}{cells[2]:>13}{cells[3]:>8}"))
    policy_us = (cpu["c"] - cpu["b"]) * 1000 / hops
    total_us = (cpu["c"] - cpu["a"]) * 1000 / hops
    share = total_us / (HOP_SECONDS * 1e6) * 100
    print(f"per hop: features {(cpu['b'] - cpu['a']) * 1000 / hops:.1f} µs + policy {policy_us:.1f} µs = {total_us:.1f} µs "
          f"CPU = {share:.3f} % of one core at {SR} Hz")
    verdict = "met" if share <= GOAL_SHARE else "MISSED"
    print(f"goal: features + policy <= {GOAL_SHARE:g} % of one core: {verdict} ({share:.3f} %)")


if __name__ == "__main__":
    main()
