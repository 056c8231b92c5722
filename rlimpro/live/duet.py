"""Offline duet replay: what the agent would have played live against a recording.

The recording is analysed with :mod:`rlimpro.descriptors` at the policy's framing; the
policy decides frame by frame through :meth:`Policy.decide`, the same call the live server
makes; the synth is rendered with Pd along the parameter trajectory by the shared render
harness (:func:`rlimpro.render.render_points`, one instance, a new list every hop). As live,
a frame's decision only sounds once the frame has been heard: params decided after frame i
(samples ``[i·hop, i·hop + window)``) play from sample ``i·hop + window`` on; before that the
synth plays ``initial_params``. The result is a stereo file, musician left and agent right,
plus a plot of the musician's descriptors (the targets) against the agent's (analysed from
its rendered audio).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import soundfile as sf

from rlimpro.atomic import atomic_path
from rlimpro.errors import RlimproError
from rlimpro.live.policy import OK, Policy, check_knob

__all__ = ["Duet", "play_policy", "replay"]


@dataclass(frozen=True)
class Duet:
    """A replayed duet.

    :param musician: mono musician audio at ``sr``.
    :param agent: mono agent audio at ``sr``, same length.
    :param targets: ``[T, F]`` the musician's selected descriptors, frame by frame.
    :param trajectory: ``[T, N]`` parameters decided after each frame.
    :param refused: frames whose target or model output was refused (params held).
    """

    musician: np.ndarray
    agent: np.ndarray
    targets: np.ndarray
    trajectory: np.ndarray
    refused: int


def play_policy(policy: Policy, targets: np.ndarray) -> tuple[np.ndarray, int]:
    """Run ``policy`` over target frames exactly as the live server does, from ``initial_params``.

    :param policy: a loaded policy (its state is reset first).
    :param targets: ``[T, F]`` raw descriptors in the order of ``policy.info.features``.
    :return: (``float32 [T, N]`` params after each frame, number of refused frames).
    """
    policy.reset()
    out = np.empty((len(targets), policy.info.n_params), dtype=np.float32)
    refused = 0
    for i, frame in enumerate(np.asarray(targets, dtype=np.float32)):
        policy.target[:] = frame
        refused += policy.decide() != OK
        out[i] = policy.params
    return out, refused


def replay(model: str | Path, audio: str | Path, out: str | Path, *, root: str | Path = ".",
           plot: bool = True, intent: float | None = None, calm: float | None = None) -> list[Path]:
    """Write the duet of the recording ``audio`` and the agent of ``model``.

    :param model: a ``policy.onnx``.
    :param audio: the musician's recording (any format :func:`rlimpro.audio.load_audio` reads).
    :param out: the stereo WAV to write (musician left, agent right); the plot goes beside it
        as ``<out stem>.png``.
    :param root: project folder holding ``00_synths/<synth>/`` of the policy's synth.
    :param plot: also write the plot.
    :param intent: the intent in [-1, 1] to play at (policies with an intent input); None keeps
        the policy's default.
    :param calm: the movement knob in [-1, 1] to play at (policies with a calm input); None keeps
        the policy's default (0, as trained).
    :return: the files written.
    """
    from rlimpro.audio import load_audio
    from rlimpro.descriptors import compute, indices
    from rlimpro.render import render_points
    from rlimpro.synth import load_synth, synth_dir

    policy = Policy(model)
    info = policy.info
    for knob, value in (("intent", intent), ("calm", calm)):
        check_knob(info, knob, value)
        if value is not None:
            policy.set_knob(knob, value)
    synth = load_synth(synth_dir(root, info.synth))
    if synth.n_params != info.n_params:
        raise RlimproError(f"{Path(model).name}: made for {info.n_params} params, but {info.synth}/synth.yaml "
                           f"has {synth.n_params}; export the policy again")
    if info.hop % 64:
        raise RlimproError(f"{Path(model).name}: hop {info.hop} is not a multiple of Pd's block (64)")
    musician = load_audio(audio, sr=info.sr)
    idx = indices(list(info.features))
    targets = compute(musician, sr=info.sr, window=info.window, hop=info.hop)[:, idx].astype(np.float32)
    trajectory, refused = play_policy(policy, targets)
    lead = -(-info.window // info.hop)  # hops until the first frame has been heard
    points = np.concatenate([np.repeat(info.initial_params[None], lead, axis=0), trajectory])
    rendered = render_points(synth, points, sr=info.sr, samples=info.hop, fresh=False).reshape(-1)
    agent = np.zeros_like(musician)
    agent[: min(len(agent), len(rendered))] = rendered[: len(agent)]
    duet = Duet(musician, agent, targets, trajectory, int(refused))
    out = Path(out)
    with atomic_path(out) as tmp:
        sf.write(tmp, np.stack([duet.musician, duet.agent], axis=1).astype(np.float32), info.sr,
                 subtype="FLOAT", format="WAV")
    written = [out]
    if plot:
        agent_desc = compute(agent, sr=info.sr, window=info.window, hop=info.hop)[:, idx]
        written.append(_plot(out.with_suffix(".png"), duet, agent_desc, policy, Path(audio).name))
    return written


def _plot(path: Path, duet: Duet, agent_desc: np.ndarray, policy: Policy, title: str) -> Path:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    info = policy.info
    t = (np.arange(len(duet.targets)) * info.hop + info.window / 2) / info.sr
    rows = len(info.features) + 1
    fig, axes = plt.subplots(rows, 1, figsize=(11, 1.6 * rows + 1), sharex=True, squeeze=False)
    for ax, name, k in zip(axes[:, 0], info.features, range(len(info.features))):
        ax.plot(t, duet.targets[:, k], lw=0.8, label="musician (target)")
        ax.plot(t[: len(agent_desc)], agent_desc[: len(t), k], lw=0.8, label="agent")
        ax.set_ylabel(name, fontsize=8)
    axes[0, 0].legend(loc="upper right", fontsize=8)
    ax = axes[-1, 0]
    for j, name in enumerate(info.param_names):
        ax.plot(t, duet.trajectory[:, j], lw=0.8, label=name)
    ax.set_ylim(-0.05, 1.05)
    ax.set_ylabel("params", fontsize=8)
    ax.legend(loc="upper right", fontsize=8, ncol=min(4, info.n_params))
    ax.set_xlabel("time (s)")
    fig.suptitle(f"{title}: musician vs agent ({info.synth}, {info.algo})")
    fig.tight_layout()
    with atomic_path(path) as tmp:
        fig.savefig(tmp, dpi=90, format="png")
    plt.close(fig)
    return path
