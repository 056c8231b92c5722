"""A duet for the report: ``rlimpro replay`` of a take, and the arrays its page plots.

The duet is rendered by :func:`rlimpro.live.duet.replay` (the same policy decisions, Pd
rendering and stereo file as the command). The page's trajectories come from that file: the
musician's descriptors from its left channel (the policy's targets), the agent's from its
right, and the parameters from :func:`rlimpro.live.duet.play_policy` over the same targets.
"""

from __future__ import annotations

import tempfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import soundfile as sf

from rlimpro.pages.ogg import encode

__all__ = ["DuetData", "duet_data"]


@dataclass(frozen=True)
class DuetData:
    """What the report shows of a duet.

    :param ogg: the stereo duet (musician left, agent right) as ogg/vorbis bytes.
    :param take: the musician's file name.
    :param seconds: its duration.
    :param time: ``[T]`` frame times in seconds.
    :param features: the policy's feature names ``[F]``.
    :param musician: ``[T, F]`` the musician's descriptors; ``agent``: ``[T, F]`` the agent's.
    :param param_names: ``[N]``; ``params``: ``[T, N]`` the agent's parameters after each frame.
    """

    ogg: bytes
    take: str
    seconds: float
    time: np.ndarray
    features: list[str]
    musician: np.ndarray
    agent: np.ndarray
    param_names: list[str]
    params: np.ndarray


def duet_data(model: Path, take: Path, *, root: Path, max_seconds: float) -> DuetData:
    """Replay ``take`` (its first ``max_seconds``) against the policy ``model`` and analyse the duet.

    :raises RlimproError: from the replay (unreadable take, policy not matching the synth, Pd).
    """
    from rlimpro.audio import load_audio
    from rlimpro.descriptors import compute, indices
    from rlimpro.live.duet import play_policy, replay
    from rlimpro.live.policy import Policy

    policy = Policy(model)
    info = policy.info
    with tempfile.TemporaryDirectory(prefix="rlimpro-duet-") as tmp:
        source = take
        musician = load_audio(take, sr=info.sr)
        if len(musician) > max_seconds * info.sr:
            source = Path(tmp) / f"{take.stem}.wav"
            sf.write(source, musician[: int(max_seconds * info.sr)], info.sr, subtype="FLOAT")
        duet_wav = Path(tmp) / "duet.wav"
        replay(model, source, duet_wav, root=root, plot=False)
        stereo, sr = sf.read(duet_wav, dtype="float32", always_2d=True)
    idx = indices(list(info.features))
    left = compute(stereo[:, 0], sr=sr, window=info.window, hop=info.hop)[:, idx]
    right = compute(stereo[:, 1], sr=sr, window=info.window, hop=info.hop)[:, idx]
    params, _ = play_policy(policy, left.astype(np.float32))
    time = (np.arange(len(left)) * info.hop + info.window / 2) / sr
    return DuetData(encode(np.clip(stereo, -1.0, 1.0), sr), take.name, len(stereo) / sr, time, list(info.features), left, right,
                    list(info.param_names), params)
