"""Assemble an environment from a project folder and params.yaml, or from a stored run."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from rlimpro.env.config import EnvConfig, env_config, resolve_sections
from rlimpro.env.core import Imitation
from rlimpro.env.gym_env import ImitationEnv, ImitationVecEnv
from rlimpro.env.table import LookupTable, load_table
from rlimpro.env.targets import Normalisation, load_tracks, normalisation, split_tracks, track_frames
from rlimpro.errors import RlimproError
from rlimpro.layout import Layout

__all__ = ["Setup", "prepare"]


@dataclass
class Setup:
    """Everything an env needs: config, table, normalisation and the corpus tracks.

    :param sections: the resolved ``env``/``train``/``evaluate`` sections (and ``profile``).
    """

    cfg: EnvConfig
    table: LookupTable
    norm: Normalisation
    tracks: dict[str, np.ndarray]
    sections: dict[str, Any]

    def frames(self, heldout: bool) -> list[np.ndarray]:
        """Raw ``[T, 56]`` frames of the training (or held-out) tracks."""
        names = self.cfg.heldout_tracks if heldout else self.cfg.train_tracks
        return track_frames(self.tracks, names, self.cfg.heldout_split, heldout)

    def core(self, num_envs: int = 1, seed: int | None = None) -> Imitation:
        """A fresh batched env core on the training tracks."""
        return Imitation(self.cfg, self.table, self.norm, self.frames(False), num_envs, seed)

    def env(self, seed: int | None = None) -> ImitationEnv:
        """A single gymnasium env."""
        return ImitationEnv(self.core(1, seed))

    def vec_env(self, num_envs: int, seed: int | None = None) -> ImitationVecEnv:
        """An SB3 VecEnv of ``num_envs`` envs stepped as arrays."""
        return ImitationVecEnv(self.core(num_envs, seed))


def prepare(root: str | Path, synth: str, params: dict[str, Any], profile: str | None = None) -> Setup:
    """Read the table and corpus named by params.yaml and resolve the env config.

    :param root: project folder.
    :param synth: synth name.
    :param params: the validated params.yaml.
    :param profile: research profile (``None`` = ``train.profile``).
    """
    sections = resolve_sections(params, synth, profile)
    env = sections["env"]
    table = load_table(Layout(root).lookup(synth))
    corpus = env["corpus"]
    tracks = load_tracks(root, corpus)
    split = split_tracks(list(tracks), float(env["heldout"]["fraction"]), env["heldout"]["seed"])
    cfg = env_config(env, sections["train"], synth=synth, n_params=table.n_params, subdiv=table.subdiv, tracks=split)
    train_frames = track_frames(tracks, cfg.train_tracks, cfg.heldout_split, heldout=False)
    if not train_frames or sum(len(f) for f in train_frames) < 2:
        raise RlimproError(f"{Layout().corpus(corpus)}: too few training frames after the held-out split; add tracks")
    norm = normalisation(cfg.features, table, train_frames)
    return Setup(cfg, table, norm, tracks, sections)
