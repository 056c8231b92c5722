"""The intent dial: one conditioned policy against policies trained for a single intent each.

For c in {-1, -0.5, 0, 0.5, 1} it trains (or reuses) ``00_synths/<synth>/runs/bench-intent<c>``,
params.yaml's settings with ``env.intent_range: [c, c]``, and plays it and the DAG's conditioned
run (``runs/main``, trained over the whole range) on the held-out tracks at intent c. Both are
measured against the transformed target ``c * y`` (nRMSE, z units). Goal: the conditioned
policy within 5 % of the single-intent one at every c.

Run: ``.venv/bin/python benchmarks/intent.py [--synth fm] [--intents -1 -0.5 0 0.5 1]``
(one training per intent, ~3 min each for fm on one core).
"""

from __future__ import annotations

import argparse
import time

from _runs import ROOT, apply_sets, sets_label, trained
from rlimpro.evaluate import agent_policy, heldout, play
from rlimpro.layout import Layout
from rlimpro.train import load_run

GOAL = 1.05


def nrmse_at(run_dir, intent: float) -> dict:
    """The agent's held-out measures at ``intent``, against ``intent * y``."""
    h = heldout(run_dir, ROOT, intent=intent)
    overall, _, _ = play(h, {"agent": agent_policy(h.run, intent)})
    return overall["agent"]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--synth", default="fm")
    ap.add_argument("--intents", nargs="+", type=float, default=[-1.0, -0.5, 0.0, 0.5, 1.0])
    ap.add_argument("--steps", type=int, default=None,
                    help="compare a conditioned run trained this many steps instead of the DAG's runs/main; "
                         "the single-intent runs keep params.yaml's budget")
    ap.add_argument("--set", dest="sets", action="append", default=[], metavar="SECTION.KEY=VALUE",
                    help="train the conditioned run with another setting too, e.g. env.reversal_cost=0.5 (repeatable)")
    ap.add_argument("--fresh", action="store_true", help="retrain the single-intent runs")
    args = ap.parse_args()
    main_run = Layout(ROOT).run(args.synth)
    if args.steps or args.sets:
        def conditioned(params: dict) -> None:
            params["train"]["total_timesteps"] = args.steps or params["train"]["total_timesteps"]
            apply_sets(params, args.synth, args.sets)

        label = (f"-steps{args.steps}" if args.steps else "") + sets_label(args.sets)
        main_run = trained(args.synth, f"bench-intent-all{label}", conditioned, args.fresh)
    print(f"# intent dial, {args.synth}, {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}")
    print("| intent c | conditioned nRMSE | single-intent nRMSE | ratio | within 5 % |")
    print("|---|---|---|---|---|")
    singles = {}
    for c in args.intents:  # train first: runs/main may still be training elsewhere (dvc repro)
        def change(params: dict, c: float = c) -> None:
            params["env"]["intent"], params["env"]["intent_range"] = True, [c, c]

        singles[c] = trained(args.synth, f"bench-intent{c:g}", change, args.fresh)
    if not load_run(main_run).env.intent:
        raise SystemExit(f"{main_run}: not trained with env.intent: true; run `dvc repro` first")
    for c, single in singles.items():
        a, b = nrmse_at(main_run, c)["nrmse"], nrmse_at(single, c)["nrmse"]
        print(f"| {c:g} | {a:.3f} | {b:.3f} | {a / b:.3f} | {'yes' if a <= GOAL * b else 'NO'} |", flush=True)


if __name__ == "__main__":
    main()
