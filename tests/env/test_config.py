"""params.yaml resolution: profiles, per-synth overrides, validation."""

from __future__ import annotations

from pathlib import Path

import pytest

from rlimpro.env import prepare
from rlimpro.env.config import resolve_sections
from rlimpro.errors import RlimproError
from rlimpro.settings import validate


def test_profiles_and_per_synth_overrides(params: dict) -> None:
    params["env"]["synths"] = {"sine": {"features": ["loudness", "centroid"]}}
    params["profiles"] = {"full": {"train": {"total_timesteps": 1_000_000}, "env": {"episode_steps": 1000}}}
    params = validate(params)
    base = resolve_sections(params, "sine")
    assert base["profile"] == "default" and base["env"]["features"] == ["loudness", "centroid"]
    assert "synths" not in base["env"] and "synths" not in base["train"]
    assert resolve_sections(params, "fm")["env"]["features"] == ["loudness", "specshape"]
    full = resolve_sections(params, "fm", "full")
    assert full["train"]["total_timesteps"] == 1_000_000 and full["env"]["episode_steps"] == 1000
    assert full["train"]["algos"] == params["train"]["algos"]  # deep merge keeps untouched keys
    params["train"]["profile"] = "full"
    assert resolve_sections(params, "fm")["profile"] == "full"
    with pytest.raises(RlimproError, match="unknown profile 'nope'"):
        resolve_sections(params, "fm", "nope")


def test_bad_settings_name_the_key(toy_project: Path, params: dict) -> None:
    params["train"].update(algo="dqn", action_space="sideways")
    with pytest.raises(RlimproError, match="train.action_space = 'sideways': expected one of discrete"):
        validate(params)
    params["train"]["action_space"] = "discrete"
    params["env"]["reward_features"] = ["mfcc"]
    with pytest.raises(RlimproError, match="reward_features"):
        prepare(toy_project, "toy", validate(params))
