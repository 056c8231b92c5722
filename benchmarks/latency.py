"""Sound to decision inside Pd: samples from a loudness step in the input to the first params that react.

One batch Pd (``pd -nogui -nosound -batch``, logical time, so the numbers are exact and do not
depend on the machine) plays, from DSP start, several input signals side by side, each through
its own ``[rlimpro_features~ <the policy's features>] -> [rlimpro_policy <policy.onnx>]``:

- "quiet": silence throughout;
- one "step" signal per offset ``o``: silence, then from sample ``S = 16·512 + o`` on a loud tone
  (1 kHz cosine at 0.5 full scale, so the step's first sample is already loud).

Each features list and each params list is stored with the logical time at which it left its
object (a ``[timer]`` in samples, read when the list arrives; the DSP start is anchored by
``[bang~]``, which fires at the end of the first DSP block). Both runs are deterministic and
identical until the step, so:

- the features *see* the step at the first features list that differs from the quiet run's
  list of the same index (any column, exact float comparison);
- the params *react* at the first params list that differs from the quiet run's list of the
  same index: what the synth would get differently because of the sound. (The policy keeps
  its own params from decision to decision, so "what silence gives" is the quiet run's list
  at the same index, not one constant list.) A policy may ignore a small change, so the params
  can react later than the features see it; that is the policy's choice, not transport delay.

The delay, step -> first reacting params list, in samples, is split into
  window alignment: from the step to the end of the first analysis window that contains it
      (frame i covers [i·512, i·512 + 1024) from DSP start, so this is 512 - (S mod 512) for S >= 512);
  lookahead: the analyzer's reach past the window (the true-peak interpolator; ``info`` of
      ``[rlimpro_features~]`` prints it), before the frame can be written;
  Pd block: the rest of the DSP block in which the frame completed (the list goes out from a
      clock right after that block);
  policy: the features list -> params list inside Pd (0: same logical time);
  policy waits: params lists that did not change yet (0 if the first frame that sees the step
      already changes the decision).
The transport delay (step -> the params list decided on the first frame that sees the step,
whether or not it changed) is printed too: it is what Pd and the analyzer cost; the goal is
judged on the reaction, which also includes the policy's own choice.
Goal: step -> params <= one hop + one Pd block (512 + 64 samples) for every offset. The
offsets sweep the step across a hop (best case: the step is the last sample of a window;
worst: its first). Nothing is asserted: a missed goal is printed as MISSED.

Run: ``.venv/bin/python benchmarks/latency.py [--policy 00_synths/fm/policy.onnx] [--offsets 0 1 63 64 256 448 511]``
"""

from __future__ import annotations

import argparse
import re
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np
import soundfile as sf

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from benchmarks._pd import checked_policy  # noqa: E402
from rlimpro.live.play import EXTERNALS  # noqa: E402
from rlimpro.live.policy import Policy  # noqa: E402
from rlimpro.pdrun import find_pd  # noqa: E402

SR, HOP, WINDOW, BLOCK = 44100, 512, 1024, 64
GOAL = HOP + BLOCK
STEP_BASE = 16 * HOP          # the step lands in hop 16 (+ offset): the policy has run on silence before
LENGTH = STEP_BASE + 12 * HOP  # samples of DSP per run: the step plus 12 hops (room for a slow policy)
CAPACITY = LENGTH // HOP + 4   # lists stored per object


class _Patch:
    """A Pd patch written object by object (indices in creation order)."""

    def __init__(self) -> None:
        self.objects: list[str] = []
        self.connections: list[str] = []

    def add(self, text: str, kind: str = "obj") -> int:
        self.objects.append(f"#X {kind} 10 {10 + 20 * len(self.objects)} {text};")
        return len(self.objects) - 1

    def connect(self, a: int, outlet: int, b: int, inlet: int) -> None:
        self.connections.append(f"#X connect {a} {outlet} {b} {inlet};")

    def text(self) -> str:
        return "\n".join(["#N canvas 0 0 900 700 12;", *self.objects, *self.connections]) + "\n"


def _recorder(p: _Patch, source: int, name: str, width: int, reset: list[int]) -> None:
    """Store each list of ``source`` at index k·width of array ``name`` and its logical time at k of ``name-t``."""
    p.add(f"array define {name} {CAPACITY * width}")
    p.add(f"array define {name}-t {CAPACITY}")
    split = p.add("t l b b")                  # right to left: index, time, values
    count, plus = p.add("f"), p.add("+ 1")
    index = p.add("t f f")
    scale = p.add(f"* {width}")
    timer = p.add("timer 1 samp")
    reset.append(timer)
    set_values, set_time = p.add(f"array set {name}"), p.add(f"array set {name}-t")
    p.connect(source, 0, split, 0)
    p.connect(split, 2, count, 0)
    p.connect(count, 0, plus, 0)
    p.connect(plus, 0, count, 1)
    p.connect(count, 0, index, 0)
    p.connect(index, 1, set_time, 1)
    p.connect(index, 0, scale, 0)
    p.connect(scale, 0, set_values, 1)
    p.connect(split, 1, timer, 1)
    p.connect(timer, 0, set_time, 0)
    p.connect(split, 0, set_values, 0)


def _build(tmp: Path, model: Path, features: str, n_features: int, n_params: int,
           inputs: dict[str, Path]) -> tuple[str, dict[str, dict[str, Path]]]:
    """The patch text and, per input, the files its features/params (+ times) are written to."""
    p = _Patch()
    load = p.add("loadbang")
    order = p.add("t b b b b b")   # right to left: read inputs, reset timers, start players, dsp on, end delay
    p.connect(load, 0, order, 0)
    reader = p.add("soundfiler")
    reset: list[int] = []
    players: list[int] = []
    writes, outputs, infos = [], {}, []
    for name, wav in inputs.items():
        p.add(f"array define in-{name} {LENGTH}")
        read = p.add(f"read {wav} in-{name}", kind="msg")
        p.connect(order, 4, read, 0)
        p.connect(read, 0, reader, 0)
        player = p.add(f"tabplay~ in-{name}")
        players.append(player)
        feats = p.add(f"rlimpro_features~ {features}")
        policy = p.add(f"rlimpro_policy {model}")
        p.connect(player, 0, feats, 0)
        p.connect(feats, 0, policy, 0)
        _recorder(p, feats, f"{name}-feat", n_features, reset)
        _recorder(p, policy, f"{name}-par", n_params, reset)
        infos.append(feats)
        outputs[name] = {}
        for what in ("feat", "par"):
            for suffix in ("", "-t"):
                out = tmp / f"{name}-{what}{suffix}.wav"
                outputs[name][what + suffix] = out
                writes.append(f"write -bytes 4 {out} {name}-{what}{suffix}")
    # the DSP start anchor: logical time of the first [bang~] (the end of the first block)
    bang, first, gate = p.add("bang~"), p.add("f"), p.add("moses 1")
    plus = p.add("+ 1")
    anchor = p.add("timer 1 samp")
    reset.append(anchor)
    p.connect(bang, 0, first, 0)
    p.connect(first, 0, plus, 0)
    p.connect(plus, 0, first, 1)
    p.connect(first, 0, gate, 0)
    to_bang = p.add("t b")
    p.connect(gate, 0, to_bang, 0)
    p.connect(to_bang, 0, anchor, 1)
    p.connect(anchor, 0, p.add("print anchor"), 0)
    for timer in reset:
        p.connect(order, 3, timer, 0)
    for player in players:
        p.connect(order, 2, player, 0)
    dsp = p.add("\\; pd dsp 1", kind="msg")
    p.connect(order, 1, dsp, 0)
    end = p.add(f"delay {(LENGTH + 4 * BLOCK) * 1000 / SR:.9g}")
    p.connect(order, 0, end, 0)
    finish = p.add("t b b b")       # right to left: info, write the arrays, quit
    p.connect(end, 0, finish, 0)
    info = p.add("info", kind="msg")
    p.connect(finish, 2, info, 0)
    for feats in infos:
        p.connect(info, 0, feats, 0)
    write = p.add(" \\, ".join(writes), kind="msg")
    writer = p.add("soundfiler")
    p.connect(finish, 1, write, 0)
    p.connect(write, 0, writer, 0)
    quit_ = p.add("\\; pd quit", kind="msg")
    p.connect(finish, 0, quit_, 0)
    return p.text(), outputs


def _signal(step: int | None) -> np.ndarray:
    y = np.zeros(LENGTH, dtype=np.float32)
    if step is not None:
        t = np.arange(LENGTH - step)
        y[step:] = 0.5 * np.cos(2 * np.pi * 1000.0 * t / SR)
    return y


def _lists(files: dict[str, Path], what: str, width: int) -> tuple[np.ndarray, np.ndarray]:
    """(values [k, width], logical times [k]) of the lists stored (unused slots dropped)."""
    values = sf.read(files[what], dtype="float32")[0].reshape(-1)
    times = sf.read(files[what + "-t"], dtype="float32")[0].reshape(-1)
    k = int(np.count_nonzero(times))   # every list leaves after time 0
    return values[: k * width].reshape(k, width), times[:k].astype(np.int64)


def _first_difference(a: np.ndarray, b: np.ndarray) -> int | None:
    n = min(len(a), len(b))
    differs = np.flatnonzero(np.any(a[:n] != b[:n], axis=1))
    return int(differs[0]) if len(differs) else None


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--policy", type=Path, default=ROOT / "00_synths" / "fm" / "policy.onnx")
    parser.add_argument("--offsets", type=int, nargs="+", default=[0, 1, 63, 64, 65, 128, 256, 384, 447, 448, 506, 511],
                        help="positions of the step within its hop (0..511)")
    args = parser.parse_args()
    if any(not 0 <= o < HOP for o in args.offsets):
        raise SystemExit(f"offsets are positions within a hop: 0..{HOP - 1}")
    model = checked_policy(args.policy)
    info = Policy(model).info
    features = " ".join(info.features)
    steps = {f"step{o}": STEP_BASE + o for o in args.offsets}
    with tempfile.TemporaryDirectory(prefix="rlimpro-bench-latency-") as tmp_name:
        tmp = Path(tmp_name)
        inputs = {}
        for name, step in {"quiet": None, **steps}.items():
            inputs[name] = tmp / f"in-{name}.wav"
            sf.write(inputs[name], _signal(step), SR, subtype="FLOAT")
        patch_text, outputs = _build(tmp, model, features, info.n_features, info.n_params, inputs)
        patch = tmp / "latency.pd"
        patch.write_text(patch_text)
        proc = subprocess.run([find_pd(), "-nogui", "-nosound", "-noprefs", "-batch", "-r", str(SR),
                               "-blocksize", str(BLOCK), "-path", str(EXTERNALS), "-open", str(patch)],
                              capture_output=True, text=True, timeout=600)
        console = proc.stdout + proc.stderr
        anchor = re.findall(r"^anchor: ([0-9.e+-]+)$", console, re.M)
        reach = re.findall(r"list goes out (\d+) samples after its frame's last sample", console)
        written = all(f.exists() for files in outputs.values() for f in files.values())
        if "couldn't create" in console or not anchor or not reach or not written:
            raise SystemExit(f"Pd did not run the latency patch (are the externals built? `make externals`):\n{console[:3000]}")
        start = round(float(anchor[0])) - BLOCK   # logical time of DSP start (samples since the timers' reset)
        lookahead = int(reach[0])
        runs = {name: {what: _lists(files, what, width) for what, width in (("feat", info.n_features), ("par", info.n_params))}
                for name, files in outputs.items()}
    quiet = runs["quiet"]
    frame0 = quiet["feat"][1][0] - start
    expected0 = -(-(WINDOW + lookahead) // BLOCK) * BLOCK
    print(f"policy {info.synth} ({model.name}: {info.n_features} features [{features}] -> {info.n_params} params); "
          f"Pd at {SR} Hz, block {BLOCK}; hop {HOP}, window {WINDOW}; analyzer lookahead {lookahead} samples (from `info`)")
    print(f"check: frame 0 of the quiet run left at sample {frame0} after DSP start (expected {expected0}: "
          f"window + lookahead rounded up to the block); {len(quiet['feat'][1])} lists per run")
    print("step at sample S = 8192 + offset: 1 kHz cosine at 0.5 after silence; delays in samples after S")
    header = (f"{'offset':>6}{'S':>7}{'frame':>7}{'features':>10}{'= align':>9}{'+ look':>8}{'+ block':>9}"
              f"{'params':>8}{'policy':>8}{'waits':>7}{'ms':>7}")
    print(header)
    worst, best, missing, transport = -1, None, [], -1
    for offset in args.offsets:
        name, step = f"step{offset}", STEP_BASE + offset
        run = runs[name]
        seen = _first_difference(run["feat"][0], quiet["feat"][0])
        reacted = _first_difference(run["par"][0], quiet["par"][0])
        if seen is None:
            missing.append(offset)
            print(f"{offset:6d}{step:7d}  the features never saw the step")
            continue
        seen_at = int(run["feat"][1][seen]) - start - step
        window_end = seen * HOP + WINDOW            # exclusive: the frame's window is [seen·512, window_end)
        align = window_end - step
        block = seen_at - align - lookahead
        if reacted is None:
            missing.append(offset)
            print(f"{offset:6d}{step:7d}{seen:7d}{seen_at:10d}{align:9d}{lookahead:8d}{block:9d}{'never':>8}")
            continue
        params_at = int(run["par"][1][reacted]) - start - step
        policy_delay = int(run["par"][1][seen]) - int(run["feat"][1][seen]) if seen < len(run["par"][1]) else -1
        waits = reacted - seen
        transport = max(transport, seen_at + max(policy_delay, 0))
        worst = max(worst, params_at)
        best = params_at if best is None else min(best, params_at)
        print(f"{offset:6d}{step:7d}{seen:7d}{seen_at:10d}{align:9d}{lookahead:8d}{block:9d}"
              f"{params_at:8d}{policy_delay:8d}{waits:7d}{params_at / SR * 1000:7.2f}")
    print("columns: frame = first features list that differs from the quiet run; features = when it left [rlimpro_features~];"
          " align/look/block = its split; params = when the first params list that differs left [rlimpro_policy];"
          " policy = params list time - features list time for that frame; waits = unchanged decisions in between")
    if best is not None:
        print(f"step -> params: best {best} samples ({best / SR * 1000:.2f} ms), worst {worst} samples "
              f"({worst / SR * 1000:.2f} ms) over offsets {args.offsets}")
    if transport >= 0:
        print(f"transport (step -> the decision taken on the first frame that sees it, changed or not): "
              f"worst {transport} samples: {'within' if transport <= GOAL else 'OVER'} {GOAL}")
    verdict = "met" if not missing and worst <= GOAL else "MISSED"
    detail = f"worst {worst}" + (f"; no reaction for offsets {missing}" if missing else "")
    print(f"goal: step -> params <= one hop + one Pd block ({GOAL} samples, {GOAL / SR * 1000:.1f} ms): {verdict} ({detail})")


if __name__ == "__main__":
    main()
