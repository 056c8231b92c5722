"""Tracking error against movement: the agent at several move costs and seeds, greedy with
hysteresis at several thresholds, on the same held-out tracks (issue 15, docs/training.md).

For each synth it trains ad-hoc runs ``00_synths/<synth>/runs/bench-cost<c>-seed<s>`` with
params.yaml's settings except ``env.move_cost = c`` and ``train.seed = s`` (and any
``--set env.reach=2``-style setting) (a finished run with
the same settings is reused; ``--fresh`` retrains), evaluates each on the held-out tracks, and
plays ``greedy_hysteresis`` at every threshold of :data:`CURVE`, with its gain measured in
distance and in squared distance (:data:`GAINS`; the agent is held to the lower of the two curves).
It prints
one table per synth (mean and spread over seeds) and writes ``out/bench/musicality_<synth>.png``:
nRMSE against the smoothed target over moves per second. Lower-left is better: where the
agent's curve lies below the heuristic's, RL earns its keep.

Run: ``.venv/bin/python benchmarks/musicality.py [--synths fm] [--costs 0 0.2 0.5 1] [--seeds 0]``
(each run trains for ``train.total_timesteps``, ~3 min on one core for fm).
"""

from __future__ import annotations

import argparse
import json
import time
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np

from _runs import ROOT, apply_sets, sets_label, trained
from rlimpro.evaluate import Heldout, evaluate_run, heldout, hysteresis_curve
from rlimpro.layout import Layout, eval_dir

KEYS = ("nrmse", "nrmse_smooth", "moves_per_s", "reversals_per_s", "lag_frames")
CURVE = (0.0, 0.005, 0.01, 0.02, 0.03, 0.05, 0.075) + tuple(round(0.1 + 0.025 * i, 3) for i in range(17))
"""greedy_hysteresis's first thresholds (z), refined by :func:`heuristic_curve`."""
GAINS = ("linear", "squared")
"""the heuristic's gains: the distance a move takes off, or the squared distance (what nRMSE weighs)."""
GAP = 0.5
"""moves/s: the curve is refined until neighbouring points are at most this far apart."""


def heuristic_curve(h: Heldout, gain: str) -> list[dict]:
    """greedy_hysteresis's curve (its gain in ``gain``) at :data:`CURVE`'s thresholds and more between
    any two whose moves/s differ by more than :data:`GAP`. The curve is convex, so a chord between two
    far points lies above it and would flatter an agent between them (sine's moves/s fall from 5.7 to
    2.5 between 0.25 and 0.275)."""
    curve = {p["threshold"]: p for p in hysteresis_curve(h, CURVE, gain)}
    for _ in range(6):  # each round halves the widest gaps
        ordered = sorted(curve)
        between = [(a + b) / 2 for a, b in zip(ordered, ordered[1:])
                   if abs(curve[a]["moves_per_s"] - curve[b]["moves_per_s"]) > GAP and b - a > 1e-4]
        if not between:
            break
        curve |= {p["threshold"]: p for p in hysteresis_curve(h, tuple(between), gain)}
    return [curve[t] for t in sorted(curve)]


def heuristic_at(curves: dict[str, list[dict]], moves_per_s: float) -> float:
    """greedy_hysteresis's nRMSE against the smoothed target at ``moves_per_s``: the lower of its
    curves, each linearly interpolated along its thresholds (clamped to the curve's ends)."""
    return min(float(np.interp(moves_per_s, *zip(*sorted((p["moves_per_s"], p["nrmse_smooth"]) for p in curve))))
               for curve in curves.values())


def _below(runs: list[dict], heuristic: list[float]) -> str:
    """How many agents are closer than the heuristic at their own moves/s, and each one's margin."""
    gaps = [r["agent"]["nrmse_smooth"] - h for r, h in zip(runs, heuristic)]
    return f"{sum(gap < 0 for gap in gaps)}/{len(runs)} ({', '.join(f'{gap:+.3f}' for gap in gaps)})"


def run_id(cost: float, seed: int, steps: int | None, sets: list[str]) -> str:
    """The ad-hoc run's name."""
    return f"bench-cost{cost:g}-seed{seed}" + (f"-steps{steps}" if steps else "") + sets_label(sets)


def settings(synth: str, cost: float, seed: int, steps: int | None = None,
             sets: Sequence[str] = ()) -> Callable[[dict], None]:
    """What a benchmark run changes in the validated params.yaml: ``synth``'s move cost, the seed,
    the training steps (None: params.yaml's) and any ``--set`` settings."""
    def change(params: dict) -> None:
        params["env"]["synths"].setdefault(synth, {})["move_cost"] = cost  # over a per-synth default too
        params["train"]["seed"] = seed
        params["train"]["total_timesteps"] = steps or params["train"]["total_timesteps"]
        apply_sets(params, synth, list(sets))

    return change


def agent_run(synth: str, cost: float, seed: int, steps: int | None, sets: list[str], fresh: bool) -> dict:
    """Train (or reuse) and evaluate one agent; return its ``overall`` metrics."""
    run = trained(synth, run_id(cost, seed, steps, sets), settings(synth, cost, seed, steps, sets), fresh)
    metrics = eval_dir(run) / "metrics.json"
    evaluated = metrics.is_file() and metrics.stat().st_mtime >= max(
        (run / "model.zip").stat().st_mtime, Path(evaluate_run.__code__.co_filename).stat().st_mtime)
    if fresh or not evaluated:  # (re)evaluate after training and after the evaluation's code changed
        evaluate_run(run, ROOT)
    return json.loads(metrics.read_text())["overall"]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--synths", nargs="+", default=["fm"])
    ap.add_argument("--costs", nargs="+", type=float, default=[0.0, 0.2, 0.5, 1.0])
    ap.add_argument("--seeds", nargs="+", type=int, default=[0])
    ap.add_argument("--steps", type=int, default=None, help="training steps (default: params.yaml's)")
    ap.add_argument("--set", dest="sets", action="append", default=[], metavar="SECTION.KEY=VALUE",
                    help="another setting of the env or train section, e.g. env.reach=2 or "
                         "train.algos.avi.gamma=0.7 (repeatable)")
    ap.add_argument("--fresh", action="store_true", help="retrain runs that already exist")
    args = ap.parse_args()
    out = ROOT / "out" / "bench"
    out.mkdir(parents=True, exist_ok=True)
    print(f"# musicality benchmark, {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}")
    for synth in args.synths:
        agents = {c: [agent_run(synth, c, s, args.steps, args.sets, args.fresh) for s in args.seeds] for c in args.costs}
        h = heldout(Layout(ROOT).run(synth, run_id(args.costs[0], args.seeds[0], args.steps, args.sets)), ROOT)
        curves = {gain: heuristic_curve(h, gain) for gain in GAINS}
        print(f"\n## {synth} (held-out tracks; agent: mean ± spread over seeds {args.seeds})")
        print("| policy | setting | nRMSE | nRMSE smoothed | moves/s | reversals/s (steady) | lag "
              "| heuristic at its moves/s (lower curve) | seeds below it (agent − heuristic, per seed) "
              "| seeds below its distance-gain curve | seeds below its squared-gain curve |")
        print("|---|---|---|---|---|---|---|---|---|---|---|")
        for cost, runs in agents.items():
            cells = []
            for key in KEYS:
                values = np.array([r["agent"][key] if r["agent"][key] is not None else np.nan for r in runs], float)
                cells.append(f"{np.nanmean(values):.3f} ± {np.nanmax(values) - np.nanmin(values):.3f}"
                             if len(values) > 1 else f"{values[0]:.3f}")
            heuristic = [heuristic_at(curves, r["agent"]["moves_per_s"]) for r in runs]
            cells += [f"{np.mean(heuristic):.3f}", _below(runs, heuristic)]
            cells += [_below(runs, [heuristic_at({g: curves[g]}, r["agent"]["moves_per_s"]) for r in runs])
                      for g in GAINS]
            print(f"| agent | move_cost {cost:g} | " + " | ".join(cells) + " |")
        for gain, curve in curves.items():
            for point in curve:
                print(f"| greedy_hysteresis ({gain} gain) | threshold {point['threshold']:.4g} | "
                      + " | ".join(f"{point[k]:.3f}" if point[k] is not None else "n/a" for k in KEYS) + " | | |")
        if len(agents) > 1:  # a curve needs several costs
            _plot(out / f"musicality_{synth}.png", synth, agents, curves)
            print(f"\nwrote {out / f'musicality_{synth}.png'}")


def _plot(path: Path, synth: str, agents: dict[float, list[dict]], curves: dict[str, list[dict]]) -> None:
    """Two panels over moves/s: the error against the smoothed target, and the reversals."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 2, figsize=(11, 4.2))
    for ax, key, label in zip(axes, ("nrmse_smooth", "reversals_per_s"),
                              ("nRMSE against the smoothed target (z)", "reversals per second (steady frames)")):
        for (gain, curve), color in zip(curves.items(), ("C8", "C0")):
            ax.plot([p["moves_per_s"] for p in curve], [p[key] for p in curve], "o-", color=color, ms=2,
                    label=f"greedy with hysteresis, {gain} gain (thresholds)")
            for p in curve:
                if p["threshold"] in CURVE[::2]:  # a few labels: the refined points would crowd them out
                    ax.annotate(f"{p['threshold']:g}", (p["moves_per_s"], p[key]), fontsize=6, color=color,
                                xytext=(3, 3), textcoords="offset points")
        means = [(np.mean([r["agent"]["moves_per_s"] for r in runs]), np.mean([r["agent"][key] for r in runs]))
                 for runs in agents.values()]
        ax.plot(*zip(*means), "s-", color="C3", label="agent (move costs)")
        for (cost, runs), (x, y) in zip(agents.items(), means):
            ax.scatter([r["agent"]["moves_per_s"] for r in runs], [r["agent"][key] for r in runs], color="C3", s=8, alpha=0.5)
            ax.annotate(f"{cost:g}", (x, y), fontsize=7, color="C3", xytext=(3, -9), textcoords="offset points")
        ax.set_xlabel("moves per second (all frames)")
        ax.set_ylabel(label)
        ax.legend(fontsize=8)
    fig.suptitle(f"{synth}: how close, how busy, how twitchy (held-out tracks; lower-left is better)", fontsize=10)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


if __name__ == "__main__":
    main()
