"""What the pages cost: ``rlimpro map`` and ``rlimpro report`` per shipped synth, as ``dvc repro`` runs them.

Each command runs in its own process (imports included, as a DVC stage does) on the shipped
lookup tables, runs, evaluations and policies, writing into a temporary folder. A second
``map`` run shows the cost with every clip kept (the resume path). The budget is 90 s for the
pages of all four synths on 2 cores (``make demo`` stays within 18 minutes); the ratio printed
is the measured total over that budget (< 1 is within it). The first ``map`` on a fresh venv
also compiles umap-learn's kernels once (numba's on-disk cache keeps them): run twice to see both.

Run: ``.venv/bin/python benchmarks/pages.py``.
"""

from __future__ import annotations

import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
BUDGET_S = 90.0


def _timed(*args: str) -> float:
    start = time.perf_counter()
    done = subprocess.run([sys.executable, "-m", "rlimpro", *args], cwd=REPO, capture_output=True, text=True)
    if done.returncode:
        raise SystemExit(f"rlimpro {' '.join(args)} failed: {done.stderr.strip()}")
    return time.perf_counter() - start


def main() -> None:
    from rlimpro.params import load_params

    synths = [s for s in load_params(REPO)["synths"] if (REPO / "00_synths" / s / "lookup.parquet").is_file()]
    total = 0.0
    with tempfile.TemporaryDirectory(prefix="rlimpro-pages-") as tmp:
        print(f"{'synth':<12} {'map (s)':>8} {'map again':>10} {'report (s)':>11}")
        for synth in synths:
            page = str(Path(tmp) / synth / "map" / "index.html")
            first = _timed("map", "--synth", synth, "-o", page)
            again = _timed("map", "--synth", synth, "-o", page)
            report = _timed("report", "--synth", synth, "-o", str(Path(tmp) / synth / "report.html"))
            total += first + report
            print(f"{synth:<12} {first:8.1f} {again:10.1f} {report:11.1f}")
    print(f"pages of {len(synths)} synths: {total:.1f} s; ratio to the {BUDGET_S:.0f} s budget: {total / BUDGET_S:.2f}")


if __name__ == "__main__":
    main()
