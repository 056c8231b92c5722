"""Decisions inside Pd: [rlimpro_policy] vs the Python server's own decision, same policy, same run.

(a) ``[rlimpro_policy]`` in a batch Pd: N lists through the external in an ``[until]`` loop,
    timed with ``[realtime]``, minus the same loop into a ``[list]`` (Pd's own message cost);
(b) baseline: ``Policy.decide()`` in Python, the call ``rlimpro serve --engine python`` makes per
    target (pre-bound onnxruntime, no OSC), N times in a loop.
Both are warm loops (no network, no idle gaps): they compare the cost of one decision, not a
round trip (that is ``benchmarks/live.py``). Each is measured REPEATS times; the median counts.
Policy: ``00_synths/<synth>/policy.onnx`` for every shipped synth that has one (needs
``make externals`` and ``dvc repro``).

Run: ``.venv/bin/python benchmarks/pd_policy.py [--n 20000]``
"""

from __future__ import annotations

import argparse
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from rlimpro.live.play import EXTERNALS, POLICY_EXTERNAL  # noqa: E402
from rlimpro.live.policy import Policy  # noqa: E402
from rlimpro.pdrun import find_pd  # noqa: E402

REPEATS = 5


def _patch(model: Path, frame: np.ndarray, n: int) -> str:
    """A patch timing n decisions, then n lists into [list], REPEATS times each, then quitting."""
    values = " ".join(f"{v:.9g}" for v in frame)
    lines = ["#N canvas 0 0 800 600 12;", "#X obj 10 10 loadbang;",
             f"#X obj 10 40 t {' '.join(['b'] * (2 * REPEATS + 1))};", "#X msg 10 500 \\; pd quit;"]
    connects = ["#X connect 0 0 1 0;", "#X connect 1 0 2 0;"]
    for i, target in enumerate(["rlimpro_policy " + str(model), "list"] * REPEATS):
        base = len(lines) - 1  # object index (the canvas line is none): t b b b, realtime, msg n, until, msg frame, target, print
        label = "policy" if target != "list" else "floor"
        lines += ["#X obj 10 70 t b b b;", "#X obj 10 100 realtime;", f"#X msg 10 130 {n};", "#X obj 10 160 until;",
                  f"#X msg 10 190 {values};", f"#X obj 10 220 {target};", f"#X obj 10 250 print {label};"]
        t, rt, count, until, msg, obj, out = range(base, base + 7)
        connects += [f"#X connect 1 {2 * REPEATS - i} {t} 0;", f"#X connect {t} 2 {rt} 0;", f"#X connect {t} 1 {count} 0;",
                     f"#X connect {count} 0 {until} 0;", f"#X connect {until} 0 {msg} 0;", f"#X connect {msg} 0 {obj} 0;",
                     f"#X connect {t} 0 {rt} 1;", f"#X connect {rt} 0 {out} 0;"]
    return "\n".join(lines + connects) + "\n"


def in_pd(model: Path, frame: np.ndarray, n: int) -> tuple[float, float]:
    """(µs per decision in [rlimpro_policy] minus Pd's message cost, that message cost), medians."""
    with tempfile.TemporaryDirectory(prefix="rlimpro-bench-pd-") as tmp:
        patch = Path(tmp) / "bench.pd"
        patch.write_text(_patch(model.resolve(), frame, n))
        proc = subprocess.run([find_pd(), "-nogui", "-nosound", "-noprefs", "-batch", "-path", str(EXTERNALS),
                               "-open", str(patch)], capture_output=True, text=True, timeout=600)
    console = proc.stdout + proc.stderr
    times = {label: [float(v) * 1000 / n for v in re.findall(rf"^{label}: ([0-9.e+-]+)$", console, re.M)]
             for label in ("policy", "floor")}
    if len(times["policy"]) != REPEATS or len(times["floor"]) != REPEATS:
        raise SystemExit(f"Pd did not time the loops (is [rlimpro_policy] built? `make externals`):\n{console[-2000:]}")
    floor = float(np.median(times["floor"]))
    return float(np.median(times["policy"])) - floor, floor


def in_python(model: Path, frame: np.ndarray, n: int) -> float:
    """µs per ``Policy.decide()`` (median of REPEATS loops)."""
    policy = Policy(model)
    policy.target[:] = frame
    decide, clock, means = policy.decide, time.perf_counter, []
    for _ in range(REPEATS):
        start = clock()
        for _ in range(n):
            decide()
        means.append((clock() - start) / n * 1e6)
    return float(np.median(means))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=20_000, help="decisions per timed loop")
    args = parser.parse_args()
    if not POLICY_EXTERNAL.is_file():
        raise SystemExit("pd_externals/rlimpro_policy.pd_linux is not built: run `make externals`")
    models = sorted(ROOT.glob("00_synths/*/policy.onnx"))
    if not models:
        raise SystemExit("no 00_synths/*/policy.onnx: run `dvc repro` (or `make demo`) first")
    print(f"one decision, warm loop of {args.n}, median of {REPEATS} loops; (a) [rlimpro_policy] in batch Pd "
          f"(Pd's own message cost subtracted), (b) Policy.decide() in Python (what `serve --engine python` calls)")
    print(f"{'synth':<13}{'(a) Pd µs':>11}{'Pd msg µs':>11}{'(b) Python µs':>15}{'(b)/(a)':>10}")
    for model in models:
        info = Policy(model).info  # a fixed finite frame: the timing does not depend on the values
        frame = np.where(np.array([name in ("loudness", "truepeak") for name in info.features]), -23.0, 1000.0)
        pd_us, floor = in_pd(model, frame.astype(np.float32), args.n)
        py_us = in_python(model, frame.astype(np.float32), args.n)
        print(f"{info.synth:<13}{pd_us:11.1f}{floor:11.2f}{py_us:15.1f}{py_us / pd_us:9.2f}x")


if __name__ == "__main__":
    main()
