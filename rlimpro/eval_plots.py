"""The evaluation's plots: DVC plot data (CSV/JSON) and PNGs of a run's held-out tracks.

:func:`write` is all a caller needs; each figure is one small function.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from rlimpro.atomic import atomic_path, write_json, write_text

__all__ = ["COLORS", "write"]

#: plot colour of each policy
COLORS = {"agent": "C3", "random": "C7", "hold": "C5", "greedy": "C1", "greedy_hysteresis": "C8",
          "lookahead": "C4", "seek": "C2", "oracle": "C0", "target": "k"}
#: the policies drawn over the target in the trajectory plots
SHOWN = ("agent", "greedy_hysteresis", "seek", "oracle")


def write(out: Path, features: list[str], first: dict[str, Any], n: int, metrics: dict[str, Any],
          frame_label: str, fps: float) -> list[Path]:
    """Every plot of an evaluation into ``out`` (``plots/*.csv|json`` and ``*.png``).

    :param first: the first held-out track: ``targets [T, F]`` and per policy ``(feats, params)``.
    :param n: frames shown; ``metrics``: as in metrics.json; ``fps``: analysis frames per second.
    """
    import matplotlib

    matplotlib.use("Agg")
    policies = list(metrics["overall"])
    targets = first["targets"][:n]
    results = {k: (v[0][:n], v[1][:n]) for k, v in first["results"].items()}
    dist = {p: np.sqrt(((results[p][0] - targets) ** 2).mean(axis=1)) for p in policies}
    return [*_data(out / "plots", targets, results, dist, metrics),
            _trajectories(out / "trajectories.png", features, targets, results, frame_label),
            _errors(out / "error.png", dist, frame_label),
            _params(out / "params.png", results, frame_label),
            *_musical(out, metrics, fps)]


def _csv(path: Path, header: list[str], cols: list[np.ndarray]) -> Path:
    body = "\n".join(",".join(f"{v:.6g}" for v in row) for row in np.column_stack(cols))
    return write_text(path, ",".join(header) + "\n" + body + "\n")


def _data(plots: Path, targets: np.ndarray, results: dict[str, Any], dist: dict[str, np.ndarray],
          metrics: dict[str, Any]) -> list[Path]:
    """DVC's plot data: error per policy, the first feature's trajectories, the agent's params, nRMSE."""
    steps = np.arange(len(targets))
    params = results["agent"][1]
    return [
        _csv(plots / "error.csv", ["step", *dist], [steps, *dist.values()]),
        _csv(plots / "trajectory.csv", ["step", "target", *SHOWN], [steps, targets[:, 0], *[results[p][0][:, 0] for p in SHOWN]]),
        _csv(plots / "params.csv", ["step", *[f"p{i}" for i in range(params.shape[1])]], [steps, *params.T]),
        write_json(plots / "nrmse.json", [{"policy": p, "nrmse": v["nrmse"]} for p, v in metrics["overall"].items()]),
    ]


def _trajectories(path: Path, features: list[str], targets: np.ndarray, results: dict[str, Any], frame_label: str) -> Path:
    import matplotlib.pyplot as plt

    steps = np.arange(len(targets))
    rows = min(len(features), 4)
    fig, axes = plt.subplots(rows, 1, figsize=(10, 2.2 * rows), sharex=True, squeeze=False)
    for j, ax in enumerate(axes[:, 0]):
        ax.plot(steps, targets[:, j], color="k", lw=1.2, label="target")
        for p in SHOWN:
            ax.plot(steps, results[p][0][:, j], color=COLORS[p], lw=0.9, alpha=0.8, label=p)
        ax.set_ylabel(f"{features[j]} (z)")
    axes[0, 0].legend(ncol=5, fontsize=8, loc="upper right")
    axes[-1, 0].set_xlabel(frame_label)
    fig.suptitle("held-out track: descriptor trajectories")
    return _save(fig, path)


def _errors(path: Path, dist: dict[str, np.ndarray], frame_label: str, k: int = 25) -> Path:
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(10, 3))
    for p, d in dist.items():
        smooth = np.convolve(d, np.ones(k), mode="same") / np.convolve(np.ones(len(d)), np.ones(k), mode="same")
        ax.plot(np.arange(len(d)), smooth, color=COLORS[p], lw=1.2 if p == "agent" else 0.8, label=p)
    ax.set_xlabel(frame_label)
    ax.set_ylabel(f"RMS error (z), {k}-frame mean")
    ax.legend(ncol=4, fontsize=8)
    return _save(fig, path)


def _params(path: Path, results: dict[str, Any], frame_label: str) -> Path:
    import matplotlib.pyplot as plt

    params, oracle = results["agent"][1], results["oracle"][1]
    steps = np.arange(len(params))
    fig, ax = plt.subplots(figsize=(10, 3))
    for i in range(params.shape[1]):
        ax.plot(steps, params[:, i], color=f"C{i}", lw=1.0, label=f"agent p{i}")
        ax.plot(steps, oracle[:, i], color=f"C{i}", lw=0.6, ls=":", alpha=0.7)
    ax.set_ylim(-0.02, 1.02)
    ax.set_xlabel(frame_label)
    ax.set_ylabel("param (dotted: oracle)")
    ax.legend(ncol=params.shape[1], fontsize=8)
    return _save(fig, path)


def _musical(out: Path, metrics: dict[str, Any], fps: float) -> list[Path]:
    """How busy each policy plays (all held-out tracks): moves/s and reversals/s on steady frames, with its errors and lag."""
    import matplotlib.pyplot as plt

    colors, overall = COLORS, metrics["overall"]
    policies = list(overall)
    keys = ("nrmse", "nrmse_smooth", "moves_per_s", "reversals_per_s", "lag_frames")
    written = [write_json(out / "plots" / "musical.json", [{"policy": p, **{k: overall[p][k] for k in keys}} for p in policies])]
    y = np.arange(len(policies))[::-1]
    moves = [overall[p]["moves_per_s"] or 0.0 for p in policies]
    revs = [overall[p]["reversals_per_s"] or 0.0 for p in policies]
    fig, ax = plt.subplots(figsize=(10, 3.6))
    ax.barh(y + 0.2, moves, height=0.4, color=[colors[p] for p in policies], alpha=0.45, label="moves/s (all frames)")
    ax.barh(y - 0.2, revs, height=0.4, color=[colors[p] for p in policies], hatch="//", edgecolor="k", lw=0.5,
            label="reversals/s (steady frames)")
    top = max(max(moves), max(revs), 1.0)
    for yi, p, m in zip(y, policies, moves):
        lag = overall[p]["lag_frames"]
        ax.text(max(m, overall[p]["reversals_per_s"] or 0.0) + 0.01 * top, yi,
                f"nRMSE {overall[p]['nrmse']:.3f} (smoothed target {overall[p]['nrmse_smooth']:.3f}), "
                f"lag {'n/a' if lag is None else f'{lag} frames'}", va="center", fontsize=7)
    ax.set_yticks(y, policies)
    ax.set_xlim(0, top * 1.6)
    ax.set_xlabel(f"per second ({fps:.1f} frames/s)")
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
