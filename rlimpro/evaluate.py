"""Evaluation stage: the agent against baselines on held-out corpus tracks (docs/training.md).

Every policy starts at the run's initial params and plays each held-out track frame by
frame with the agent's own action set (continuous agents: the baselines use the (2·reach+1)**N
moves, a subset of theirs). Error of a frame = agent features at the params chosen after
seeing the frame, minus the frame (the env's reward convention). nRMSE of a feature is the
RMSE in normalised units (the run's ``norm.json`` std = 1); ``overall`` is the RMS over the
selected features. Beside ``nrmse``, each policy's ``overall`` entry has the musical measures of
:mod:`rlimpro.musicality`: ``nrmse_smooth`` (against the target smoothed over 9 frames),
``moves_per_s``, ``reversals_per_s`` (on steady frames) and ``lag_frames`` (positive = late),
combined frame-weighted over the held-out tracks.

The agent and every step-limited baseline hear the track as the agent does live: through the
run's target smoothing (:mod:`rlimpro.env.behaviour`), at intent 1; the agent also gets the
unsmoothed frame and its own last moves, as every live host feeds them (:class:`Frame`). Errors
are measured against the raw frames (``nrmse``) and their 9-frame mean (``nrmse_smooth``).

Baselines: ``random``; ``hold`` (never moves); ``greedy`` (best next step for the current
target); ``greedy_hysteresis`` (greedy that moves only when its gain in the env's reward, e.g. the
distance it takes off, beats a threshold, tuned on the training tracks for the env's own return:
reward minus move cost);
``lookahead`` (one step toward the best point within 2 steps); ``seek`` (one step toward the
point nearest the heard target); ``oracle`` (nearest lookup point to each raw frame, free
jumps: a lower bound no step-limited policy reaches on moving targets).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from rlimpro import eval_plots, musicality
from rlimpro.atomic import write_json
from rlimpro.descriptors.framing import HOP, SR
from rlimpro.descriptors.names import indices
from rlimpro.env.actions import deltas, make_space, stay_action, toward
from rlimpro.env.behaviour import goal, group_delay, last_moves, shaped, smooth_track
from rlimpro.env.config import resolve_sections
from rlimpro.env.core import Imitation
from rlimpro.env.table import load_table
from rlimpro.env.targets import load_tracks, track_frames
from rlimpro.errors import RlimproError
from rlimpro.layout import Layout, eval_dir
from rlimpro.train import Run, load_run

__all__ = ["POLICIES", "BASELINES", "THRESHOLDS", "Frame", "Heldout", "agent_policy", "evaluate", "evaluate_run", "heldout",
           "hysteresis_curve", "hysteresis_policy", "play", "rollout", "tune_hysteresis"]

BASELINES = ("random", "hold", "greedy", "greedy_hysteresis", "lookahead", "seek")
#: thresholds (z units of distance) the hysteresis baseline is tuned over
THRESHOLDS = (0.0, 0.005, 0.01, 0.02, 0.03, 0.05, 0.075, 0.1, 0.15, 0.2, 0.3, 0.5)
POLICIES = ("agent", *BASELINES, "oracle")


@dataclass
class Frame:
    """What a policy decides from at one frame of a track, as a live host has it (arrays ``[1, ...]``).

    :param params: where the synth stands ``[1, N]``.
    :param target: the heard target ``[1, F]``: the normalised frame smoothed, times the intent.
    :param lead: the frame times the intent, before smoothing ``[1, F]`` (in a pause below the
        silence gate, the held smoothed timbre: :func:`rlimpro.env.behaviour.listen`).
    :param last: each parameter's last move sign ``[1, N]`` (:func:`rlimpro.env.behaviour.last_moves`).
    :param oracle: the params of the lookup point nearest the heard target ``[1, N]`` (for ``seek``).
    """

    params: np.ndarray
    target: np.ndarray
    lead: np.ndarray
    last: np.ndarray
    oracle: np.ndarray


#: a policy maps (core, frame) to actions
Policy = Callable[[Imitation, Frame], np.ndarray]


def _tie_break(d: np.ndarray, moves: np.ndarray) -> np.ndarray:
    """Prefer fewer moved parameters among (near-)equal distances."""
    return d + 1e-9 * np.abs(moves).sum(axis=1)


def hysteresis_moves(core: Imitation, params: np.ndarray, targets: np.ndarray, thresholds: np.ndarray,
                     gain: str | None = None) -> np.ndarray:
    """Greedy-with-hysteresis unit moves ``[B, N]``: the best next step, taken only where its gain
    beats the threshold.

    :param params: ``[B, N]``; ``targets``: ``[B, F]``; ``thresholds``: ``[B]``.
    :param gain: the reward shape the gain is measured in (:func:`rlimpro.env.behaviour.shaped`:
        ``linear``, the distance it takes off, in z; ``squared``, the squared distance); None: the env's own.
    """
    unit = deltas(core.cfg.n_params, core.cfg.reach).astype(np.float64)
    r = shaped(core.candidates(params, targets, unit), gain or core.cfg.reward)
    best = np.argmin(_tie_break(-r, unit), axis=1)
    stay = (len(unit) - 1) // 2
    return np.where((r[np.arange(len(r)), best] - r[:, stay] > thresholds)[:, None], unit[best], 0.0)


def tune_hysteresis(core: Imitation, tracks: list[np.ndarray], thresholds: tuple[float, ...] = THRESHOLDS) -> tuple[float, np.ndarray]:
    """The threshold with the best mean env return (reward minus move cost) on ``tracks``.

    Every threshold plays every track at once (one batch row each).

    :param tracks: heard (smoothed) normalised targets ``[T, F]`` per track.
    :return: ``(best threshold, mean return per threshold)``.
    """
    cfg, th = core.cfg, np.asarray(thresholds, np.float64)
    total, frames = np.zeros(len(th)), 0
    for targets in tracks:
        params = np.repeat(np.asarray(cfg.initial_params, np.float64)[None], len(th), axis=0)
        last = np.zeros_like(params)
        for y in targets:
            y = np.broadcast_to(y, (len(th), len(y)))
            moves = hysteresis_moves(core, params, y, th)
            new = np.clip(params + moves * cfg.step, 0.0, 1.0)
            total += core.reward(core.distance(core.features(new), y)) - core.move_penalty(params, new, last)
            params, last = new, last_moves(last, params, new)
        frames += len(targets)
    mean = total / max(frames, 1)
    return float(th[int(np.argmax(mean))]), mean


def hysteresis_policy(threshold: float, gain: str | None = None) -> Policy:
    """``greedy_hysteresis`` at ``threshold`` (of the ``gain`` of :func:`hysteresis_moves`) as a :data:`Policy`."""
    theta = np.array([threshold])

    def greedy_hysteresis(core: Imitation, f: Frame) -> np.ndarray:
        return toward(hysteresis_moves(core, f.params, f.target, theta, gain), core.cfg.action_space, core.cfg.reach)

    return greedy_hysteresis


def _baselines(core: Imitation, rng: np.random.Generator, threshold: float) -> dict[str, Policy]:
    cfg = core.cfg
    space, n, r = cfg.action_space, cfg.n_params, cfg.reach
    unit = deltas(n, r).astype(np.float64)
    two = deltas(n, 2 * r).astype(np.float64)  # where two moves can lead
    action_space = make_space(space, n, r)
    action_space.seed(int(rng.integers(2**31)))

    def random(core: Imitation, f: Frame) -> np.ndarray:
        return np.asarray(action_space.sample())[None]

    def hold(core: Imitation, f: Frame) -> np.ndarray:
        return stay_action(space, n, 1, r)

    def greedy(core: Imitation, f: Frame) -> np.ndarray:
        best = np.argmin(_tie_break(core.candidates(f.params, f.target, unit)[0], unit))
        return toward(unit[best][None], space, r)

    def lookahead(core: Imitation, f: Frame) -> np.ndarray:
        best = np.argmin(_tie_break(core.candidates(f.params, f.target, two)[0], two))
        return toward(np.clip(two[best], -r, r)[None], space, r)  # the first of the two moves

    def seek(core: Imitation, f: Frame) -> np.ndarray:
        diff = (f.oracle - f.params) / cfg.step
        if space == "continuous":
            return np.clip(diff / r, -1.0, 1.0).astype(np.float32)
        return toward(np.clip(np.sign(diff) * np.floor(np.abs(diff) + 0.5), -r, r), space, r)

    return {"random": random, "hold": hold, "greedy": greedy, "greedy_hysteresis": hysteresis_policy(threshold),
            "lookahead": lookahead, "seek": seek}


def oracle_rows(core: Imitation, targets: np.ndarray, chunk: int = 256) -> np.ndarray:
    """Nearest lookup row (weighted distance over the reward features) of each target ``[T, F]``."""
    return np.concatenate([core.nearest_point(targets[i:i + chunk]) for i in range(0, len(targets), chunk)])


def rollout(core: Imitation, policy: Policy, heard: np.ndarray, lead: np.ndarray,
            oracle_params: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Play one track from the run's initial params, as a live host would.

    :param heard: the normalised frames after the run's target smoothing, times the intent ``[T, F]``.
    :param lead: the unsmoothed frames as the agent observes them, times the intent ``[T, F]``
        (:func:`rlimpro.env.behaviour.smooth_track`).
    :param oracle_params: the params of the lookup point nearest each heard frame ``[T, N]``.
    :return: agent features ``[T, F]`` (normalised) and params ``[T, N]``.
    """
    params = np.asarray(core.cfg.initial_params, np.float64)[None]
    last = np.zeros_like(params)
    feats = np.empty_like(heard)
    traj = np.empty((len(heard), core.cfg.n_params))
    for t in range(len(heard)):
        frame = Frame(params, heard[t:t + 1], lead[t:t + 1], last, oracle_params[t:t + 1])
        new = core.act(policy(core, frame), params)
        params, last = new, last_moves(last, params, new)
        feats[t] = core.features(params)[0]
        traj[t] = params[0]
    return feats, traj


def agent_policy(run: Run, intent: float = 1.0) -> Policy:
    """The run's trained agent as a :data:`Policy`, at ``intent`` (runs conditioned on one)."""
    model = run.load_model()

    def agent(core: Imitation, f: Frame) -> np.ndarray:
        action, _ = model.predict(core.observe(f.params, f.target, intent, f.lead, f.last), deterministic=True)
        return action

    return agent


def evaluate(synth: str, params: dict[str, Any], root: str | Path) -> list[Path]:
    """DAG stage ``evaluate@synth``: evaluate the synth's run ``runs/main`` into ``<synth>/eval/``.

    :param synth: synth name.
    :param params: the validated params.yaml (its ``evaluate`` section, with the synth's overrides).
    :param root: project folder.
    :return: files written (``metrics.json``, ``ratios.json``, plot CSV/JSON and PNGs).
    """
    return evaluate_run(Layout(root).run(synth), root, params)


@dataclass
class Heldout:
    """What a run is judged on: its env core and the tracks as the agent hears them.

    :param run: the run.
    :param core: an env core of the run (batch of one).
    :param tracks: per held-out track, ``(targets, heard, lead)``: the normalised frames ``[T, F]`` times
        the intent, the frames after the run's target smoothing times the intent (what every
        step-limited policy plays to), and the agent's lead (the unsmoothed frames; in pauses
        below the silence gate, the held timbre) times the intent.
    :param intent: the intent ``c`` (1 = imitate; the errors are against ``c * y``).
    :param train: the heard training tracks (the hysteresis threshold is tuned on them).
    :param opts: the ``evaluate`` section that applies; ``fps``: analysis frames per second.
    """

    run: Run
    core: Imitation
    tracks: list[tuple[np.ndarray, np.ndarray]]
    train: list[np.ndarray]
    opts: dict[str, Any]
    fps: float
    intent: float = 1.0


def heldout(run_dir: str | Path, root: str | Path, params: dict[str, Any] | None = None, intent: float = 1.0) -> Heldout:
    """Load a finished run and its held-out and training tracks (see :func:`evaluate_run` for ``params``).

    :param intent: play at this intent: targets become ``intent * y`` (see :mod:`rlimpro.env.behaviour`).

    :raises RlimproError: on an unfinished run, a changed lookup table or missing tracks.
    """
    root = Path(root)
    run = load_run(run_dir)
    if not run.model_path.is_file():
        raise RlimproError(f"{run.path}: no model.zip (training unfinished); run `rlimpro train` again to resume")
    cfg = run.env
    table = load_table(root / run.table_path)
    if table.sha256 != run.table_sha256:
        raise RlimproError(f"{run.table_path}: changed since run {run.path.name} was trained; retrain it")
    opts = run.config["evaluate"] if params is None else resolve_sections(params, cfg.synth)["evaluate"]
    tracks = load_tracks(root, cfg.corpus)
    missing = [t for t in cfg.heldout_tracks if t not in tracks]
    if missing:
        raise RlimproError(f"{Layout().corpus(cfg.corpus)}: held-out tracks {missing} are gone; retrain the run")
    idx = indices(cfg.features)

    core = Imitation(cfg, table, run.norm, [], 1, opts["seed"])

    def heard(frames: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        targets = run.norm.apply(frames[:opts["max_frames"], idx])
        smoothed, lead = smooth_track(targets, cfg.target_smoothing, core.gate)
        return goal(targets, intent), goal(smoothed, intent), goal(lead, intent)

    framing = run.config.get("analysis", {})
    return Heldout(
        run=run, core=core,
        tracks=[heard(f) for f in track_frames(tracks, cfg.heldout_tracks, cfg.heldout_split, heldout=True)],
        train=[heard(f)[1] for f in track_frames(tracks, cfg.train_tracks, cfg.heldout_split, heldout=False)],
        opts=opts, fps=framing.get("sr", SR) / framing.get("hop", HOP), intent=intent,
    )


def play(h: Heldout, policies: dict[str, Policy], oracle: bool = False) -> tuple[dict[str, Any], dict[str, Any], dict[str, Any]]:
    """Every policy over every held-out track.

    :param oracle: also the ``oracle`` (nearest point to each raw frame).
    :return: ``(overall, per_feature, first)``: per policy its nRMSE and musical measures; per
        feature, per policy its nRMSE; the first track's targets and results (for the plots).
    """
    core, table = h.core, h.core.table
    names = [*policies, *(["oracle"] if oracle else [])]
    errors: dict[str, list[np.ndarray]] = {p: [] for p in names}
    tallies: dict[str, list[dict[str, Any]]] = {p: [] for p in names}
    start = np.asarray(core.cfg.initial_params, np.float64)[None]
    first: dict[str, Any] = {}
    for k, (targets, heard, lead) in enumerate(h.tracks):
        seek_params = table.grid_params(oracle_rows(core, heard))
        results = {name: rollout(core, pol, heard, lead, seek_params) for name, pol in policies.items()}
        if oracle:
            rows = oracle_rows(core, targets)
            results["oracle"] = (core.points[rows], table.grid_params(rows))
        for name, (feats, traj) in results.items():
            errors[name].append(feats - targets)
            tallies[name].append(musicality.track_tally(targets, feats, np.concatenate([start, traj])))
        if k == 0:
            first = {"targets": targets, "results": results}
    sq = {p: np.concatenate(e) ** 2 for p, e in errors.items()}
    overall = {p: {"nrmse": float(np.sqrt(sq[p].mean())), **musicality.combine(tallies[p], h.fps)} for p in names}
    per_feature = {f: {p: float(np.sqrt(sq[p][:, j].mean())) for p in names} for j, f in enumerate(core.cfg.features)}
    return overall, per_feature, first


def hysteresis_curve(h: Heldout, thresholds: tuple[float, ...] = THRESHOLDS, gain: str | None = None) -> list[dict[str, Any]]:
    """``greedy_hysteresis`` on the held-out tracks at each threshold (of ``gain``, see
    :func:`hysteresis_moves`): its nRMSE and musical measures."""
    curve = []
    for theta in thresholds:
        overall, _, _ = play(h, {"greedy_hysteresis": hysteresis_policy(theta, gain)})
        curve.append({"threshold": theta, **overall["greedy_hysteresis"]})
    return curve


def evaluate_run(run_dir: str | Path, root: str | Path, params: dict[str, Any] | None = None) -> list[Path]:
    """Evaluate a run on its held-out tracks; write into :func:`rlimpro.layout.eval_dir` of the run.

    :param run_dir: a run folder.
    :param root: project folder.
    :param params: the validated params.yaml, whose ``evaluate`` section (``max_frames``,
        ``plot_frames``, ``seed``, as it applies to the run's synth) replaces the one stored
        with the run; ``None`` keeps the stored one.
    :return: files written (``metrics.json``, ``ratios.json``, plot CSV/JSON and PNGs).
    """
    h = heldout(run_dir, root, params)
    cfg, run = h.core.cfg, h.run
    threshold, _ = tune_hysteresis(h.core, h.train)
    policies = {"agent": agent_policy(run, h.intent), **_baselines(h.core, np.random.default_rng(h.opts["seed"]), threshold)}
    overall, per_feature, first = play(h, policies, oracle=True)
    metrics = {
        "overall": {p: overall[p] for p in POLICIES},
        "settings": {"target_smoothing": cfg.target_smoothing, "group_delay_frames": group_delay(cfg.target_smoothing),
                     "move_cost": cfg.move_cost, "move_cost_z": h.core.move_cost, "hysteresis_threshold": threshold},
        "per_feature": {f: {p: v[p] for p in POLICIES} for f, v in per_feature.items()},
    }
    oracle = max(metrics["overall"]["oracle"]["nrmse"], 1e-12)
    ratios = {p: metrics["overall"][p]["nrmse"] / oracle for p in POLICIES}
    out = eval_dir(run.path)
    written = [write_json(out / "metrics.json", metrics), write_json(out / "ratios.json", ratios)]
    framing = run.config.get("analysis", {})
    frame_label = f"frame (hop {framing.get('hop', HOP)} at {framing.get('sr', SR)} Hz)"
    return written + eval_plots.write(out, cfg.features, first, h.opts["plot_frames"], metrics, frame_label, h.fps)
