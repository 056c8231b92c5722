"""Which features can each synth follow? The oracle's held-out nRMSE per feature selection.

The oracle jumps freely to the lookup point nearest each held-out frame (params.yaml's corpus
and split, the run's normalisation recipe), so its error is what the synth's sound space
cannot reach whatever the agent does. A selection is worth training on when the oracle's
nRMSE is at most 0.7 z (issue 15); the chosen defaults are in params.yaml (``env.synths``).
No training: a few seconds per synth.

Run: ``.venv/bin/python benchmarks/followable.py [--synths sine fm granular subtractive]``
"""

from __future__ import annotations

import argparse
import copy
from pathlib import Path

import numpy as np

from rlimpro.descriptors.names import indices
from rlimpro.env.build import prepare
from rlimpro.params import load_params

ROOT = Path(__file__).resolve().parents[1]
GOAL = 0.7
CANDIDATES = (
    ["loudness", "specshape"], ["loudness", "mfcc"], ["loudness", "centroid"], ["loudness", "centroid", "flatness"],
    ["loudness", "centroid", "spread"], ["loudness", "flatness"], ["loudness", "pitch"], ["loudness", "centroid", "pitch"],
)


def oracle_nrmse(synth: str, features: list[str], params: dict) -> float:
    """The oracle's nRMSE over the held-out tracks for ``features`` (z units)."""
    params = copy.deepcopy(params)
    params["env"]["features"] = features
    params["env"]["synths"].get(synth, {}).pop("features", None)
    setup = prepare(ROOT, synth, params)
    core = setup.core()
    idx = indices(setup.cfg.features)
    errors = []
    for frames in setup.frames(heldout=True):
        targets = setup.norm.apply(frames[:, idx])
        rows = np.concatenate([core.nearest_point(targets[i:i + 512]) for i in range(0, len(targets), 512)])
        errors.append(core.points[rows] - targets)
    return float(np.sqrt((np.concatenate(errors) ** 2).mean()))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    params = load_params(ROOT)
    ap.add_argument("--synths", nargs="+", default=params["synths"])
    args = ap.parse_args()
    print(f"| synth | {' | '.join('+'.join(c) for c in CANDIDATES)} |")
    print("|---|" + "---|" * len(CANDIDATES))
    for synth in args.synths:
        cells = []
        for features in CANDIDATES:
            value = oracle_nrmse(synth, features, params)
            cells.append(f"{value:.2f}" + ("" if value <= GOAL else " ✗"))
        print(f"| {synth} | {' | '.join(cells)} |", flush=True)
    print(f"\n✗: the oracle misses {GOAL} z: that synth cannot follow those features")


if __name__ == "__main__":
    main()
