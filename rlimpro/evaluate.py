"""Evaluation stage: the agent against baselines on held-out corpus tracks (DESIGN.md §5).

Every policy starts at the run's initial params and plays each held-out track frame by
frame with the agent's own action set (continuous agents: the baselines use the 3**N unit
moves, a subset of theirs). Error of a frame = agent features at the params chosen after
seeing the frame, minus the frame (the env's reward convention). nRMSE of a feature is the
RMSE in normalised units (the run's ``norm.json`` std = 1); ``overall`` is the RMS over the
selected features. Beside ``nrmse``, each policy's ``overall`` entry has the musical measures of
:mod:`rlimpro.musicality`: ``nrmse_smooth`` (against the target smoothed over 9 frames),
``moves_per_s``, ``reversals_per_s`` (on steady frames) and ``lag_frames`` (positive = late),
combined frame-weighted over the held-out tracks.

Baselines: ``random``; ``hold`` (never moves); ``greedy`` (best next step for the current
target); ``lookahead`` (one step toward the best point within 2 steps); ``seek`` (one step
toward the oracle's point); ``oracle`` (nearest lookup point to each frame, free jumps: a
lower bound no step-limited policy reaches on moving targets).
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from rlimpro import musicality
from rlimpro.atomic import atomic_path, write_json, write_text
from rlimpro.descriptors.framing import HOP, SR
from rlimpro.descriptors.names import indices
from rlimpro.env.actions import deltas, make_space, stay_action, toward
from rlimpro.env.config import resolve_sections
from rlimpro.env.core import Imitation
from rlimpro.env.table import load_table
from rlimpro.env.targets import load_tracks, track_frames
from rlimpro.errors import RlimproError
from rlimpro.layout import Layout, eval_dir
from rlimpro.train import Run, load_run

__all__ = ["POLICIES", "BASELINES", "evaluate", "evaluate_run", "rollout"]

BASELINES = ("random", "hold", "greedy", "lookahead", "seek")
POLICIES = ("agent", *BASELINES, "oracle")

#: a policy maps (core, params [1, N], target [1, F], oracle row params [1, N]) to actions
Policy = Callable[[Imitation, np.ndarray, np.ndarray, np.ndarray], np.ndarray]


def _tie_break(d: np.ndarray, moves: np.ndarray) -> np.ndarray:
    """Prefer fewer moved parameters among (near-)equal distances."""
    return d + 1e-9 * np.abs(moves).sum(axis=1)


def _baselines(core: Imitation, rng: np.random.Generator) -> dict[str, Policy]:
    cfg = core.cfg
    space, n = cfg.action_space, cfg.n_params
    unit = deltas(n).astype(np.float64)
    two = (np.stack(np.meshgrid(*[np.arange(-2, 3)] * n, indexing="ij"), -1).reshape(-1, n)).astype(np.float64)
    action_space = make_space(space, n)
    action_space.seed(int(rng.integers(2**31)))

    def random(core: Imitation, p: np.ndarray, y: np.ndarray, o: np.ndarray) -> np.ndarray:
        return np.asarray(action_space.sample())[None]

    def hold(core: Imitation, p: np.ndarray, y: np.ndarray, o: np.ndarray) -> np.ndarray:
        return stay_action(space, n, 1)

    def greedy(core: Imitation, p: np.ndarray, y: np.ndarray, o: np.ndarray) -> np.ndarray:
        best = np.argmin(_tie_break(core.candidates(p, y, unit)[0], unit))
        return toward(unit[best][None], space)

    def lookahead(core: Imitation, p: np.ndarray, y: np.ndarray, o: np.ndarray) -> np.ndarray:
        best = np.argmin(_tie_break(core.candidates(p, y, two)[0], two))
        return toward(np.sign(two[best])[None], space)

    def seek(core: Imitation, p: np.ndarray, y: np.ndarray, o: np.ndarray) -> np.ndarray:
        diff = (o - p) / cfg.step
        if space == "continuous":
            return np.clip(diff, -1.0, 1.0).astype(np.float32)
        return toward(np.where(np.abs(diff) >= 0.5, np.sign(diff), 0.0), space)

    return {"random": random, "hold": hold, "greedy": greedy, "lookahead": lookahead, "seek": seek}


def oracle_rows(core: Imitation, targets: np.ndarray, chunk: int = 256) -> np.ndarray:
    """Nearest lookup row (weighted distance over the reward features) of each target ``[T, F]``."""
    return np.concatenate([core.nearest_point(targets[i:i + chunk]) for i in range(0, len(targets), chunk)])


def rollout(core: Imitation, policy: Policy, targets: np.ndarray, oracle_params: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Play one track: return agent features ``[T, F]`` (normalised) and params ``[T, N]``."""
    params = np.asarray(core.cfg.initial_params, np.float64)[None]
    feats = np.empty_like(targets)
    traj = np.empty((len(targets), core.cfg.n_params))
    for t in range(len(targets)):
        y = targets[t:t + 1]
        params = core.act(policy(core, params, y, oracle_params[t:t + 1]), params)
        feats[t] = core.features(params)[0]
        traj[t] = params[0]
    return feats, traj


def _agent_policy(run: Run) -> Policy:
    model = run.load_model()

    def agent(core: Imitation, p: np.ndarray, y: np.ndarray, o: np.ndarray) -> np.ndarray:
        action, _ = model.predict(core.observe(p, y), deterministic=True)
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


def evaluate_run(run_dir: str | Path, root: str | Path, params: dict[str, Any] | None = None) -> list[Path]:
    """Evaluate a run on its held-out tracks; write into :func:`rlimpro.layout.eval_dir` of the run.

    :param run_dir: a run folder.
    :param root: project folder.
    :param params: the validated params.yaml, whose ``evaluate`` section (``max_frames``,
        ``plot_frames``, ``seed``, as it applies to the run's synth) replaces the one stored
        with the run; ``None`` keeps the stored one.
    :return: files written (``metrics.json``, ``ratios.json``, plot CSV/JSON and PNGs).
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
    max_frames, seed = opts["max_frames"], opts["seed"]
    tracks = load_tracks(root, cfg.corpus)
    missing = [t for t in cfg.heldout_tracks if t not in tracks]
    if missing:
        raise RlimproError(f"{Layout().corpus(cfg.corpus)}: held-out tracks {missing} are gone; retrain the run")
    core = Imitation(cfg, table, run.norm, [], 1, seed)
    idx = indices(cfg.features)
    rng = np.random.default_rng(seed)
    policies: dict[str, Policy] = {"agent": _agent_policy(run), **_baselines(core, rng)}

    errors = {p: [] for p in POLICIES}
    tallies: dict[str, list[dict[str, Any]]] = {p: [] for p in POLICIES}
    start = np.asarray(cfg.initial_params, np.float64)[None]
    first: dict[str, Any] = {}
    for k, frames in enumerate(track_frames(tracks, cfg.heldout_tracks, cfg.heldout_split, heldout=True)):
        targets = run.norm.apply(frames[:max_frames, idx])
        rows = oracle_rows(core, targets)
        oracle_params = table.grid_params(rows)
        results = {name: rollout(core, pol, targets, oracle_params) for name, pol in policies.items()}
        results["oracle"] = (core.points[rows], oracle_params)
        for name, (feats, traj) in results.items():
            errors[name].append(feats - targets)
            tallies[name].append(musicality.track_tally(targets, feats, np.concatenate([start, traj])))
        if k == 0:
            first = {"targets": targets, "results": results}

    sq = {p: np.concatenate(e) ** 2 for p, e in errors.items()}
    framing = run.config.get("analysis", {})
    fps = framing.get("sr", SR) / framing.get("hop", HOP)
    metrics = {
        "overall": {p: {"nrmse": float(np.sqrt(sq[p].mean())), **musicality.combine(tallies[p], fps)} for p in POLICIES},
        "per_feature": {f: {p: float(np.sqrt(sq[p][:, j].mean())) for p in POLICIES} for j, f in enumerate(cfg.features)},
    }
    oracle = max(metrics["overall"]["oracle"]["nrmse"], 1e-12)
    ratios = {p: metrics["overall"][p]["nrmse"] / oracle for p in POLICIES}
    out = eval_dir(run.path)
    written = [write_json(out / "metrics.json", metrics), write_json(out / "ratios.json", ratios)]
    written += _plots(out, cfg.features, first, opts["plot_frames"], metrics)
    return written


def _plots(out: Path, features: list[str], first: dict[str, Any], n: int, metrics: dict[str, Any]) -> list[Path]:
    """DVC plot data (CSV/JSON) and PNGs for the first held-out track."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    targets, results = first["targets"][:n], {k: (v[0][:n], v[1][:n]) for k, v in first["results"].items()}
    steps = np.arange(len(targets))
    dist = {p: np.sqrt(((results[p][0] - targets) ** 2).mean(axis=1)) for p in POLICIES}
    plots = out / "plots"
    written = []

    def csv(path: Path, header: list[str], cols: list[np.ndarray]) -> Path:
        body = "\n".join(",".join(f"{v:.6g}" for v in row) for row in np.column_stack(cols))
        return write_text(path, ",".join(header) + "\n" + body + "\n")

    written.append(csv(plots / "error.csv", ["step", *POLICIES], [steps, *[dist[p] for p in POLICIES]]))
    shown = ("agent", "greedy", "seek", "oracle")
    written.append(csv(plots / "trajectory.csv", ["step", "target", *shown],
                       [steps, targets[:, 0], *[results[p][0][:, 0] for p in shown]]))
    params = results["agent"][1]
    written.append(csv(plots / "params.csv", ["step", *[f"p{i}" for i in range(params.shape[1])]],
                       [steps, *params.T]))
    written.append(write_json(plots / "nrmse.json",
                              [{"policy": p, "nrmse": metrics["overall"][p]["nrmse"]} for p in POLICIES]))

    colors = {"agent": "C3", "random": "C7", "hold": "C5", "greedy": "C1", "lookahead": "C4", "seek": "C2",
              "oracle": "C0", "target": "k"}
    rows = min(len(features), 4)
    fig, axes = plt.subplots(rows, 1, figsize=(10, 2.2 * rows), sharex=True, squeeze=False)
    for j, ax in enumerate(axes[:, 0]):
        ax.plot(steps, targets[:, j], color="k", lw=1.2, label="target")
        for p in shown:
            ax.plot(steps, results[p][0][:, j], color=colors[p], lw=0.9, alpha=0.8, label=p)
        ax.set_ylabel(f"{features[j]} (z)")
    axes[0, 0].legend(ncol=5, fontsize=8, loc="upper right")
    axes[-1, 0].set_xlabel("frame (hop 512 @ 44.1 kHz)")
    fig.suptitle("held-out track: descriptor trajectories")
    written.append(_save(fig, out / "trajectories.png"))

    fig, ax = plt.subplots(figsize=(10, 3))
    k = 25
    for p in POLICIES:
        smooth = np.convolve(dist[p], np.ones(k), mode="same") / np.convolve(np.ones(len(steps)), np.ones(k), mode="same")
        ax.plot(steps, smooth, color=colors[p], lw=1.2 if p == "agent" else 0.8, label=p)
    ax.set_xlabel("frame")
    ax.set_ylabel("RMS error (z), 25-frame mean")
    ax.legend(ncol=7, fontsize=8)
    written.append(_save(fig, out / "error.png"))

    fig, ax = plt.subplots(figsize=(10, 3))
    for i in range(params.shape[1]):
        ax.plot(steps, params[:, i], color=f"C{i}", lw=1.0, label=f"agent p{i}")
        ax.plot(steps, results["oracle"][1][:, i], color=f"C{i}", lw=0.6, ls=":", alpha=0.7)
    ax.set_ylim(-0.02, 1.02)
    ax.set_xlabel("frame")
    ax.set_ylabel("param (dotted: oracle)")
    ax.legend(ncol=params.shape[1], fontsize=8)
    written.append(_save(fig, out / "params.png"))
    written += _musical_plot(out, metrics, colors)
    return written


def _musical_plot(out: Path, metrics: dict[str, Any], colors: dict[str, str]) -> list[Path]:
    """How busy each policy plays (all held-out tracks): moves/s and reversals/s on steady frames, with its errors and lag."""
    import matplotlib.pyplot as plt

    overall = metrics["overall"]
    keys = ("nrmse", "nrmse_smooth", "moves_per_s", "reversals_per_s", "lag_frames")
    written = [write_json(out / "plots" / "musical.json", [{"policy": p, **{k: overall[p][k] for k in keys}} for p in POLICIES])]
    y = np.arange(len(POLICIES))[::-1]
    moves = [overall[p]["moves_per_s"] or 0.0 for p in POLICIES]
    revs = [overall[p]["reversals_per_s"] or 0.0 for p in POLICIES]
    fig, ax = plt.subplots(figsize=(10, 3.6))
    ax.barh(y + 0.2, moves, height=0.4, color=[colors[p] for p in POLICIES], alpha=0.45, label="moves/s (all frames)")
    ax.barh(y - 0.2, revs, height=0.4, color=[colors[p] for p in POLICIES], hatch="//", edgecolor="k", lw=0.5,
            label="reversals/s (steady frames)")
    top = max(max(moves), max(revs), 1.0)
    for yi, p, m in zip(y, POLICIES, moves):
        lag = overall[p]["lag_frames"]
        ax.text(max(m, overall[p]["reversals_per_s"] or 0.0) + 0.01 * top, yi,
                f"nRMSE {overall[p]['nrmse']:.3f} (smoothed target {overall[p]['nrmse_smooth']:.3f}), "
                f"lag {'n/a' if lag is None else f'{lag} frames'}", va="center", fontsize=7)
    ax.set_yticks(y, POLICIES)
    ax.set_xlim(0, top * 1.6)
    ax.set_xlabel(f"per second ({SR}/{HOP} frames/s)")
    ax.legend(fontsize=8, loc="lower right")
    ax.set_title("how busy each policy plays on the held-out tracks", fontsize=10)
    written.append(_save(fig, out / "musical.png"))
    return written


def _save(fig: Any, path: Path) -> Path:
    import matplotlib.pyplot as plt

    fig.tight_layout()
    with atomic_path(path) as tmp:
        fig.savefig(tmp, dpi=100, format="png")
    plt.close(fig)
    return path
