"""Every shipped policy along recordings it has never heard: the agents on music nobody here wrote.

The held-out evaluation (docs/training.md) plays demo-corpus takes: one instrument, melodic
phrases. This plays each ``00_synths/<synth>/policy.onnx`` as a live host does
(:func:`rlimpro.live.duet.play_policy`: frame by frame from its initial params, at its default
intent) along other recordings, and reports :mod:`rlimpro.musicality`'s measures, the nRMSE
against the raw frames and the correlation of the agent's loudness with the musician's. For
reference it plays ``greedy_hysteresis`` along the same recordings, hearing them as the agent's
run does, at the threshold that makes it as calm as the agent on the held-out tracks: how busy a
one-step heuristic of the same calmness is on that music. Without paths it plays a seeded stress
set, written once into ``out/bench/unseen/``:
``ensemble`` (every demo track at once), ``room`` (the held-out flute take in reverb and pink
noise), ``beat`` (drums and a plucked bass, 110 bpm) and ``speechy`` (pulses and noise through
moving formants, in syllables). Frames come from the numpy descriptor engine (the same numbers
on every machine; the C core agrees within docs/descriptors.md's tolerances).

Run: ``.venv/bin/python benchmarks/unseen.py [PATH ...] [--synths fm sine] [--seconds 60]``
(PATHs: audio files or folders of them; writes ``out/bench/unseen.json``).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Callable
from functools import cache
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np
import soundfile as sf
import yaml
from scipy import signal

from _runs import ROOT
from rlimpro.atomic import atomic_path, write_json
from rlimpro.audio import AUDIO_SUFFIXES, load_audio
from rlimpro.descriptors import compute, indices
from rlimpro.env.behaviour import smooth_track
from rlimpro.env.core import Imitation
from rlimpro.env.table import LookupTable, load_table
from rlimpro.env.targets import Normalisation
from rlimpro.errors import RlimproError
from rlimpro.evaluate import evaluate_run, heldout, hysteresis_policy, play, rollout
from rlimpro.export import export_run
from rlimpro.layout import Layout, eval_dir
from rlimpro.live.duet import play_policy
from rlimpro.live.policy import Policy
from rlimpro.musicality import combine, track_tally
from rlimpro.train import load_run

SR = 44100
N = 24 * SR  # samples per generated recording
OUT = ROOT / "out" / "bench"
DEMO = Layout(ROOT).audio("demo")
GOALS = {"moves_per_s": 5.0, "reversals_per_s": 1.0}


def _fit(y: np.ndarray) -> np.ndarray:
    """``y`` looped (or cut) to N samples, at unit RMS."""
    y = np.resize(y.astype(np.float64), N)
    return y / max(np.sqrt((y ** 2).mean()), 1e-9)


def _add(y: np.ndarray, at: int, x: np.ndarray) -> None:
    n = min(len(x), len(y) - at)
    y[at:at + n] += x[:n]


def _comb(x: np.ndarray, delay: int, g: float) -> np.ndarray:
    """Feedback comb ``y[n] = x[n] + g y[n - delay]``, a delay's worth of samples at a time."""
    y = x.copy()
    for k in range(delay, len(y), delay):
        n = min(delay, len(y) - k)
        y[k:k + n] += g * y[k - delay:k - delay + n]
    return y


def ensemble(rng: np.random.Generator) -> np.ndarray:
    """Every demo track at once, each looped and shifted by its own offset: eight voices throughout."""
    tracks = sorted(DEMO.glob("*.ogg"))
    return sum(np.roll(_fit(load_audio(p, SR)), k * N // len(tracks)) for k, p in enumerate(tracks))


def room(rng: np.random.Generator) -> np.ndarray:
    """The flute take (held out), looped, in a comb/allpass reverb, with pink noise at -25 dB."""
    dry = _fit(load_audio(DEMO / "flute.ogg", SR))
    wet = sum(_comb(dry, int(ms * SR / 1000), 0.8) for ms in (29.7, 37.1, 41.1, 43.7))
    for d in (int(0.005 * SR), int(0.0017 * SR)):  # Schroeder allpasses (z^-d - g) / (1 - g z^-d)
        v = _comb(wet, d, 0.7)
        wet = np.concatenate([np.zeros(d), v[:-d]]) - 0.7 * v
    y = dry + 0.5 * _fit(wet)
    spec = np.fft.rfft(rng.standard_normal(N))
    pink = np.fft.irfft(spec / np.sqrt(np.maximum(np.arange(len(spec)), 1)), N)
    return _fit(y) + 10 ** (-25 / 20) * _fit(pink)


def beat(rng: np.random.Generator) -> np.ndarray:
    """Kick, snare and hats on a 16-step bar and a plucked bass line, 110 bpm."""
    t = np.arange(SR // 2) / SR
    kick = np.sin(2 * np.pi * np.cumsum(45 + 110 * np.exp(-35 * t)) / SR) * np.exp(-9 * t)
    snare = (0.6 * rng.standard_normal(len(t)) + np.sin(2 * np.pi * 190 * t)) * np.exp(-22 * t)
    hat = signal.sosfilt(signal.butter(4, 7000, "highpass", fs=SR, output="sos"), rng.standard_normal(len(t)))
    hat *= np.exp(-70 * t)
    y, step = np.zeros(N), 60 / 110 / 4
    for i in range(int(N / SR / step)):
        pos, at, vel = i % 16, int(i * step * SR), rng.uniform(0.8, 1.0)
        if pos in (0, 7, 10):
            _add(y, at, vel * kick)
        if pos in (4, 12):
            _add(y, at, 0.7 * vel * snare)
        if pos % 2 == 0:
            _add(y, at, (0.25 if pos % 4 else 0.12) * vel * hat)
        if pos in (0, 3, 6, 10, 13):  # pluck: harmonics decaying faster the higher they are
            midi = (33, 33, 36, 31)[i // 16 % 4] + {0: 0, 3: 0, 6: 12, 10: 7, 13: 10}[pos]
            f = 440 * 2 ** ((midi - 69) / 12)
            pluck = sum(np.sin(2 * np.pi * h * f * t) / h * np.exp(-(4 + 3 * h) * t) for h in range(1, 9))
            _add(y, at, 0.5 * vel * pluck)
    return y


VOWELS = np.array([(730, 1090, 2440), (270, 2290, 3010), (300, 870, 2240), (530, 1840, 2480), (570, 840, 2410)], float)


def speechy(rng: np.random.Generator) -> np.ndarray:
    """Syllables: a pulse train (or noise) through three resonators gliding between vowels, 10 ms at a time."""
    block, nb = SR // 100, N // (SR // 100)
    amp, f0, noisy, form = np.zeros(nb), np.full(nb, 140.0), np.zeros(nb), np.tile(VOWELS[0], (nb, 1))
    b = 0
    while b < nb:
        n = int(rng.integers(12, 30))  # 120-300 ms
        w = np.linspace(0, 1, n)[:, None][:nb - b]
        m = len(w)
        form[b:b + m] = (1 - w) * VOWELS[rng.integers(5)] + w * VOWELS[rng.integers(5)]
        amp[b:b + m] = np.sin(np.pi * w[:, 0]) ** 0.5
        f0[b:b + m] = rng.uniform(110, 200) * np.linspace(1.1, 0.9, m)
        noisy[b:b + m] = 1.0 if rng.random() < 0.2 else 0.0
        noisy[b:b + min(m, 4)] = max(noisy[b], float(rng.random() < 0.5))  # a consonant onset
        gap = int(rng.integers(40, 80) if rng.random() < 0.15 else rng.integers(3, 15))
        form[b + m:b + m + gap] = form[b + m - 1]
        b += m + gap
    hold = np.repeat(np.arange(nb), block)
    pulses = np.diff(np.floor(np.cumsum(f0[hold] / SR)), prepend=0.0)
    x = (pulses * (1 - noisy[hold]) + 0.1 * rng.standard_normal(N) * noisy[hold]) * np.interp(
        np.arange(N) / block, np.arange(nb), amp)
    y, state = np.zeros(N), np.zeros((3, 2))
    for k in range(nb):
        sl = slice(k * block, (k + 1) * block)
        for j, (freq, gain) in enumerate(zip(form[k], (1.0, 0.5, 0.25))):
            r = np.exp(-np.pi * (60 + 0.05 * freq) / SR)
            out, state[j] = signal.lfilter([gain * (1 - r)], [1, -2 * r * np.cos(2 * np.pi * freq / SR), r * r],
                                           x[sl], zi=state[j])
            y[sl] += out
    return y


STRESS: dict[str, Callable[[np.random.Generator], np.ndarray]] = {
    "ensemble": ensemble, "room": room, "beat": beat, "speechy": speechy}


def stress_set(folder: Path) -> list[Path]:
    """The stress recordings (wav, 44.1 kHz mono, peak -1 dBFS), each generated if missing."""
    paths = []
    for seed, (name, make) in enumerate(STRESS.items()):
        path = folder / f"{name}.wav"
        if not path.is_file():
            y = make(np.random.default_rng(seed))
            with atomic_path(path) as tmp:
                sf.write(tmp, (0.89 * y / np.abs(y).max()).astype(np.float32), SR, subtype="PCM_16", format="WAV")
        paths.append(path)
    return paths


def audio_files(paths: list[Path]) -> list[Path]:
    """Files as given; a folder as its audio files, sorted."""
    return [f for p in paths for f in (sorted(q for q in p.iterdir() if q.suffix.lower() in AUDIO_SUFFIXES)
                                       if p.is_dir() else [p])]


class Player(NamedTuple):
    """A shipped policy, its run's normalisation, its synth's table and the table's normalised features."""

    policy: Policy
    norm: Normalisation
    table: LookupTable
    points: np.ndarray


def player(synth: str, run_id: str = "main") -> Player | None:
    """The synth's policy, run and table; None (and one line why) when one is missing or they disagree.

    :param run_id: ``main`` plays the shipped ``policy.onnx``; another run is exported first (into
        ``out/bench/unseen/``, again whenever it was retrained).
    """
    layout = Layout(ROOT)
    model = layout.policy(synth) if run_id == "main" else OUT / "unseen" / f"{synth}-{run_id}.onnx"
    try:
        if run_id != "main" and (not model.is_file() or model.stat().st_mtime < (
                layout.run(synth, run_id) / "model.zip").stat().st_mtime):
            export_run(layout.run(synth, run_id), model, ROOT, check=0)
        if not model.is_file():
            print(f"{synth}: no {model.relative_to(ROOT)} (`dvc repro` builds it); skipped", file=sys.stderr)
            return None
        policy, run, table = Policy(model), load_run(layout.run(synth, run_id)), load_table(layout.lookup(synth))
    except (RlimproError, OSError) as exc:
        print(f"{synth}: {exc}; skipped", file=sys.stderr)
        return None
    features = list(policy.info.features)
    if run.norm.features != features or table.n_params != policy.info.n_params:
        print(f"{synth}: policy.onnx disagrees with runs/main or lookup.parquet (`dvc repro` rebuilds them); skipped",
              file=sys.stderr)
        return None
    return Player(policy, run.norm, table, run.norm.apply(table.columns(features)))


@cache
def frames(path: Path, seconds: float, sr: int, window: int, hop: int) -> np.ndarray:
    """All 56 descriptors of the recording's first ``seconds`` (numpy engine)."""
    return compute(load_audio(path, sr)[: int(seconds * sr)], sr, window=window, hop=hop, engine="numpy")


def selected(p: Player, path: Path, seconds: float) -> np.ndarray:
    """The policy's features of the recording's first ``seconds``, raw ``[T, F]``."""
    info = p.policy.info
    return frames(path, seconds, info.sr, info.window, info.hop)[:, indices(list(info.features))]


def play_agent(p: Player, raw: np.ndarray) -> dict[str, Any]:
    """Play the recording's frames ``raw`` (:func:`selected`) as live; return their :func:`scored` tally."""
    info = p.policy.info
    traj, refused = play_policy(p.policy, raw)
    return scored(p.norm.apply(raw), p.points[p.table.nearest_rows(traj)], info.initial_params, traj,
                  list(info.features), refused)


class Reference(NamedTuple):
    """``greedy_hysteresis`` at the threshold that makes it as calm as the agent on the held-out tracks
    (moves/s within 2 %, or as near as 12 bisections get)."""

    core: Imitation
    threshold: float
    heldout_moves_per_s: float  #: the heuristic's, at that threshold
    agent_moves_per_s: float  #: the agent's, from its evaluation


def reference(synth: str, run_id: str) -> Reference:
    """The run's :class:`Reference` (evaluating the run first if it has no metrics.json)."""
    run = Layout(ROOT).run(synth, run_id)
    metrics = eval_dir(run) / "metrics.json"
    if not metrics.is_file():
        evaluate_run(run, ROOT)
    agent = json.loads(metrics.read_text())["overall"]["agent"]["moves_per_s"]
    h = heldout(run, ROOT)
    low, high = 0.0, 1.0  # moves/s falls as the threshold rises: bisect to the agent's
    for _ in range(12):
        theta = (low + high) / 2
        moves = play(h, {"h": hysteresis_policy(theta)})[0]["h"]["moves_per_s"]
        low, high = (theta, high) if moves > agent else (low, theta)
        if abs(moves - agent) <= 0.02 * agent:
            break
    return Reference(h.core, theta, moves, agent)


def play_reference(ref: Reference, targets: np.ndarray) -> dict[str, Any]:
    """The reference heuristic along normalised frames ``targets``, hearing them as the agent's run
    does; their :func:`scored` tally."""
    cfg = ref.core.cfg
    heard, lead = smooth_track(targets, cfg.target_smoothing, ref.core.gate)
    seek = np.zeros((len(targets), cfg.n_params))  # greedy_hysteresis does not seek
    feats, traj = rollout(ref.core, hysteresis_policy(ref.threshold), heard, lead, seek)
    return scored(targets, feats, np.asarray(cfg.initial_params), traj, list(cfg.features))


def scored(targets: np.ndarray, feats: np.ndarray, start: np.ndarray, traj: np.ndarray, features: list[str],
           refused: int = 0) -> dict[str, Any]:
    """:func:`rlimpro.musicality.track_tally` of a trajectory, plus the sum of squared errors ``sq``, the
    loudness correlation ``loudness_r`` and the ``refused`` frames."""
    tally = track_tally(targets, feats, np.concatenate([start[None], traj]).astype(np.float64))
    r = None
    if "loudness" in features:
        k = features.index("loudness")
        if targets[:, k].std() > 0 and feats[:, k].std() > 0:  # else no correlation to speak of
            r = float(np.corrcoef(targets[:, k], feats[:, k])[0, 1])
    return tally | {"sq": float(((feats - targets) ** 2).sum()), "loudness_r": r, "refused": refused}


def summary(tallies: list[dict[str, Any]], fps: float) -> dict[str, Any]:
    """Frame-weighted measures (loudness r: the frame-weighted mean over the recordings that have one)."""
    rs = [(t["frames"], t["loudness_r"]) for t in tallies if t["loudness_r"] is not None]
    return {"seconds": sum(t["frames"] for t in tallies) / fps,
            "nrmse": float(np.sqrt(sum(t["sq"] for t in tallies) / sum(t["values"] for t in tallies))),
            **combine(tallies, fps),
            "loudness_r": float(np.average([r for _, r in rs], weights=[w for w, _ in rs])) if rs else None,
            "refused": sum(t["refused"] for t in tallies)}


COLUMNS = {"seconds": "s", "nrmse": "nRMSE", "nrmse_smooth": "nRMSE smoothed", "moves_per_s": "moves/s",
           "reversals_per_s": "reversals/s (steady)", "lag_frames": "lag (frames)", "loudness_r": "loudness r"}


def row(name: str, m: dict[str, Any]) -> str:
    cells = ["n/a" if m[k] is None else f"{m[k]:.1f}" if k == "seconds" else f"{m[k]:.3g}" for k in COLUMNS]
    return f"| {name} | " + " | ".join(cells) + " |"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("paths", nargs="*", type=Path, help="audio files or folders (default: the stress set)")
    ap.add_argument("--synths", nargs="+", default=yaml.safe_load((ROOT / "params.yaml").read_text())["synths"])
    ap.add_argument("--seconds", type=float, default=60.0, help="play each recording's first SECONDS")
    ap.add_argument("--run", default="main", metavar="ID",
                    help="play the run 00_synths/<synth>/runs/ID (exported on the fly) instead of the shipped policy")
    args = ap.parse_args()
    recordings = audio_files(args.paths) if args.paths else stress_set(OUT / "unseen")
    players = {s: p for s in args.synths if (p := player(s, args.run)) is not None}
    refs = {s: reference(s, args.run) for s in players}
    played: dict[str, list[tuple[Path, dict[str, Any], dict[str, Any]]]] = {s: [] for s in players}
    for path in recordings:
        try:
            for synth, p in players.items():
                raw = selected(p, path, args.seconds)
                played[synth].append((path, play_agent(p, raw), play_reference(refs[synth], p.norm.apply(raw))))
        except RlimproError as exc:
            print(f"skipped {path}: {exc}", file=sys.stderr)
            continue
        print(f"played {path}", file=sys.stderr)
    print(f"# unseen recordings, {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}, first {args.seconds:g} s of each"
          + ("" if args.run == "main" else f", runs/{args.run}"))
    report = {}
    for synth, done in ((s, d) for s, d in played.items() if d):
        info, ref = players[synth].policy.info, refs[synth]
        fps = info.sr / info.hop
        rows = {str(path): summary([t], fps) for path, t, _ in done}
        heuristic = {str(path): summary([t], fps) for path, _, t in done}
        report[synth] = {"recordings": rows, "all": summary([t for _, t, _ in done], fps),
                         "heuristic": {"threshold": ref.threshold, "recordings": heuristic,
                                       "all": summary([t for _, _, t in done], fps)}}
        header = "| recording | " + " | ".join(COLUMNS.values()) + " |\n|---|" + "---|" * len(COLUMNS)
        print(f"\n## {synth} ({', '.join(info.features)})\n\n{header}")
        print("\n".join(row(Path(path).name, m) for path, m in rows.items()))
        print(row("**all**", everything := report[synth]["all"]))
        print("\ngoals: " + ", ".join(f"{k.replace('_per_s', '/s')} ≤ {g:g}: " + (
            "n/a" if everything[k] is None else "met" if everything[k] <= g else "missed") for k, g in GOALS.items())
              + (f" ({everything['refused']} frames refused: params held, as live)" if everything["refused"] else ""))
        print(f"\ngreedy_hysteresis at threshold {ref.threshold:.3g}, as calm as the agent on the held-out tracks "
              f"({ref.heldout_moves_per_s:.2f} moves/s against {ref.agent_moves_per_s:.2f}):\n\n{header}")
        print("\n".join(row(Path(path).name, m) for path, m in heuristic.items()))
        print(row("**all**", report[synth]["heuristic"]["all"]))
    write_json(OUT / "unseen.json", {"seconds": args.seconds, "engine": "numpy", "goals": GOALS, "synths": report})
    print(f"\nwrote {OUT / 'unseen.json'}")


if __name__ == "__main__":
    main()
