"""The movement knob (``calm``, docs/protocol.md) of every shipped policy, measured: how close and how
busy the same ``policy.onnx`` plays at calm -1 (half the move costs) to 1 (1.5 times), on the held-out
tracks and on the stress set of ``benchmarks/unseen.py`` (music nobody here wrote).

Each policy is played as a live host plays it (:func:`rlimpro.live.duet.play_policy`, frame by frame
from its initial params) at each calm value. On the held-out tracks it also prints greedy with
hysteresis at the same moves/s (the lower of its two curves, ``benchmarks/musicality.py``); the plot
also shows the agents ``benchmarks/musicality.py`` trained at other move costs (seed 0), where they
exist: the knob scales the costs the agent weighs, but its values were learned at the trained ones.

Run: ``.venv/bin/python benchmarks/calm.py [--synths fm] [--calm -1 -0.5 0 0.5 1]``
(writes ``out/bench/calm.json`` and ``out/bench/calm_<synth>.png``).
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np
import yaml

from _runs import ROOT, trained_with
from musicality import CURVE, GAINS, heuristic_at, heuristic_curve, settings
from rlimpro.atomic import write_json
from rlimpro.evaluate import heldout
from rlimpro.export import CALM_SPAN
from rlimpro.layout import Layout, eval_dir
from rlimpro.params import load_params
from unseen import OUT, play_agent, player, selected, stress_set, summary

KEYS = ("nrmse_smooth", "moves_per_s", "reversals_per_s", "lag_frames")


def trained_agents(synth: str) -> dict[float, dict]:
    """``benchmarks/musicality.py``'s seed-0 agents of ``synth`` by move cost, where they were trained
    with params.yaml's settings but the cost (nothing else changed) and evaluated since."""
    out = {}
    for run in sorted(Layout(ROOT).synth(synth).glob("runs/bench-cost*-seed0")):
        cost = float(run.name[len("bench-cost"):-len("-seed0")])
        metrics = eval_dir(run) / "metrics.json"
        params = load_params(ROOT)
        settings(synth, cost, 0)(params)
        if metrics.is_file() and (run / "model.zip").is_file() and trained_with(run, synth, params):
            out[cost] = json.loads(metrics.read_text())["overall"]["agent"]
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--synths", nargs="+", default=yaml.safe_load((ROOT / "params.yaml").read_text())["synths"])
    ap.add_argument("--calm", nargs="+", type=float, default=[-1.0, -0.5, 0.0, 0.5, 1.0])
    ap.add_argument("--seconds", type=float, default=60.0, help="play each stress recording's first SECONDS")
    args = ap.parse_args()
    recordings = stress_set(OUT / "unseen")
    print(f"# the calm knob, {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}")
    report = {}
    for synth in args.synths:
        p = player(synth)
        if p is None or p.policy.calm is None:
            print(f"\n{synth}: no policy with a calm input; skipped")
            continue
        h = heldout(Layout(ROOT).run(synth), ROOT)
        curves = {gain: heuristic_curve(h, gain) for gain in GAINS}
        fps = p.policy.info.sr / p.policy.info.hop
        heard = [targets * p.norm.std + p.norm.mean for targets, _, _ in h.tracks]  # raw frames (intent 1)
        stress = [selected(p, path, args.seconds) for path in recordings]
        cost = h.core.cfg.move_cost
        rows = {}
        for calm in args.calm:
            p.policy.set_knob("calm", calm)
            held = summary([play_agent(p, raw.astype(np.float32)) for raw in heard], fps)
            unseen = summary([play_agent(p, raw) for raw in stress], fps)
            rows[calm] = {"heldout": held, "stress": unseen, "heuristic": heuristic_at(curves, held["moves_per_s"])}
        p.policy.set_knob("calm", 0.0)
        trained = trained_agents(synth)
        report[synth] = {"move_cost": cost, "calm": rows, "trained": trained}
        print(f"\n## {synth} (move cost {cost:g}; held-out tracks, then the stress set)\n")
        print("| calm | cost × | nRMSE smoothed | moves/s | reversals/s | lag | heuristic at its moves/s "
              "| stress: nRMSE smoothed | moves/s | reversals/s |")
        print("|---|---|---|---|---|---|---|---|---|---|")
        for calm, r in rows.items():
            m, s = r["heldout"], r["stress"]
            cells = [f"{m[k]:.3f}" if m[k] is not None else "n/a" for k in KEYS]
            print(f"| {calm:g} | {1 + CALM_SPAN * calm:.2f} | " + " | ".join(cells) + f" | {r['heuristic']:.3f} | "
                  + " | ".join(f"{s[k]:.3f}" for k in KEYS[:3]) + " |")
        if trained:
            print("\nagents trained at other move costs (seed 0; nRMSE smoothed @ moves/s): " + ", ".join(
                f"{c:g}: {m['nrmse_smooth']:.3f} @ {m['moves_per_s']:.2f}" for c, m in sorted(trained.items())))
        _plot(OUT / f"calm_{synth}.png", synth, rows, curves, trained)
    write_json(OUT / "calm.json", {"seconds": args.seconds, "synths": report})
    print(f"\nwrote {OUT / 'calm.json'}")


def _plot(path: Path, synth: str, rows: dict[float, dict], curves: dict[str, list[dict]],
          trained: dict[float, dict]) -> None:
    """Held-out nRMSE against moves/s: the knob's points, the agents trained at those costs, the heuristic."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6.5, 4.2))
    for (gain, curve), color in zip(curves.items(), ("C8", "C0")):
        ax.plot([q["moves_per_s"] for q in curve], [q["nrmse_smooth"] for q in curve], "o-", color=color, ms=2,
                label=f"greedy with hysteresis, {gain} gain")
        for q in curve:
            if q["threshold"] in CURVE[::4]:
                ax.annotate(f"{q['threshold']:g}", (q["moves_per_s"], q["nrmse_smooth"]), fontsize=6, color=color,
                            xytext=(3, 3), textcoords="offset points")
    knob = [(r["heldout"]["moves_per_s"], r["heldout"]["nrmse_smooth"]) for r in rows.values()]
    ax.plot(*zip(*knob), "s-", color="C3", label="shipped agent, calm knob")
    for calm, (x, y) in zip(rows, knob):
        ax.annotate(f"{calm:g}", (x, y), fontsize=7, color="C3", xytext=(3, -9), textcoords="offset points")
    for cost, m in trained.items():
        ax.plot(m["moves_per_s"], m["nrmse_smooth"], "^", color="C2", label="agents trained at other costs (seed 0)"
                if cost == min(trained) else None)
        ax.annotate(f"{cost:g}", (m["moves_per_s"], m["nrmse_smooth"]), fontsize=6, color="C2", xytext=(3, 3),
                    textcoords="offset points")
    ax.set_xlim(0, max(x for x, _ in knob) * 1.5 + 1)
    ax.set_xlabel("moves per second (all frames)")
    ax.set_ylabel("nRMSE against the smoothed target (z)")
    ax.set_title(f"{synth}: the calm knob on the held-out tracks (lower-left is better)", fontsize=10)
    ax.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


if __name__ == "__main__":
    main()
