"""The measure that matters: fed [rlimpro_features~]'s frames, every shipped policy decides as on
the numpy reference frames it was evaluated on (>= 99.5 % of held-out frames; >= 95 % with Pd at 48 kHz)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from scipy import signal
from tests.native.pd_probe import FEATURES_EXTERNAL, pd_features

from rlimpro.audio import load_audio
from rlimpro.corpus import recordings
from rlimpro.descriptors import compute, indices
from rlimpro.env.targets import split_tracks
from rlimpro.layout import Layout
from rlimpro.live.policy import Policy

REPO = Path(__file__).resolve().parents[2]
SYNTHS = ("sine", "fm", "granular", "subtractive")
pytestmark = [pytest.mark.slow, pytest.mark.skipif(not FEATURES_EXTERNAL.is_file(), reason="run `make externals`")]


def heldout_recordings(shipped_params: dict) -> list[Path]:
    """The recordings the DAG holds out of training (env.corpus, env.heldout)."""
    env = shipped_params["env"]
    files = recordings(env["corpus"], REPO)
    _, heldout, _ = split_tracks(list(files), env["heldout"]["fraction"], env["heldout"]["seed"])
    return [files[name] for name in heldout]


def decision_agreement(policy: Policy, reference: np.ndarray, other: np.ndarray) -> float:
    """Share of frames on which ``other`` gives the decision that ``reference`` gives, from the
    state the policy is in on the reference trajectory (params and, if it has one, its smoothed
    target), so one differing frame is one frame."""
    states = np.empty((len(reference), policy.info.n_params), np.float32)
    smoothed = np.empty((len(reference), policy.info.state_size), np.float32)
    policy.reset()
    for t, frame in enumerate(reference):
        states[t] = policy.params
        if policy.state is not None:
            smoothed[t] = policy.state
        policy.step(frame)
    extra = {"state": smoothed} if policy.state is not None else {}
    a = policy.run_batch(reference.astype(np.float32), states, **extra)
    b = policy.run_batch(other.astype(np.float32), states, **extra)
    return float(np.all(np.abs(a - b) <= 1e-6, axis=1).mean())


def _agreements(synth: str, shipped_params: dict, tmp_path: Path, rate: int) -> list[float]:
    """Per held-out recording: the decision agreement of Pd at ``rate`` with the 44.1 kHz numpy frames.

    At another rate the recording is played as a ``rate`` interface would deliver it.
    """
    path = Layout(REPO).policy(synth)
    if not path.is_file():
        pytest.skip(f"{path.relative_to(REPO)} not built (dvc repro)")
    policy = Policy(path)
    features = list(policy.info.features)
    shares = []
    for recording in heldout_recordings(shipped_params):
        y = load_audio(recording)
        reference = compute(y, engine="numpy")[:, indices(features)]
        played = y if rate == 44100 else signal.resample_poly(y, rate, 44100).astype(np.float32)
        pd, _ = pd_features(played, tmp_path, rate=rate, selection=features, frames=len(reference) + 16)
        shares.append(decision_agreement(policy, reference, pd[: len(reference)]))
        print(f"{synth} {recording.name}: {shares[-1]:.2%} of {len(reference)} frames decide alike "
              f"(Pd {rate / 1000:g} kHz vs numpy 44.1 kHz)")
    return shares


@pytest.mark.parametrize("synth", SYNTHS)
def test_pd_frames_give_the_decisions_of_the_reference_frames(synth: str, shipped_params: dict, tmp_path: Path) -> None:
    assert min(_agreements(synth, shipped_params, tmp_path, 44100)) >= 0.995


@pytest.mark.parametrize("synth", SYNTHS)
def test_pd_at_48k_decides_like_the_44k1_analysis(synth: str, shipped_params: dict, tmp_path: Path) -> None:
    assert min(_agreements(synth, shipped_params, tmp_path, 48000)) >= 0.95
