"""Resolve params.yaml (``env``, ``train``, ``evaluate``, ``profiles``) into one run config.

Profiles: ``profiles.<name>`` holds partial ``env``/``train``/``evaluate`` sections that are
deep-merged over the base sections; ``train.profile`` (default ``default`` = no overrides) or
the ``--profile`` option picks one. Per-synth overrides live in ``<section>.synths.<synth>``
and are merged last. The result is what a run stores as ``config.json``.
"""

from __future__ import annotations

import copy
from dataclasses import asdict, dataclass, field
from typing import Any

from rlimpro.descriptors.names import select
from rlimpro.env.actions import SPACES
from rlimpro.errors import RlimproError

__all__ = ["EnvConfig", "resolve_sections", "env_config"]

TARGET_MODES = ("static", "dynamic", "corpus", "mixed")
NEIGHBOURS = ("none", "axis", "all")
REWARDS = ("linear", "cubic")


@dataclass
class EnvConfig:
    """Everything that defines the environment (stored in a run's ``config.json``).

    :param synth: synth name (folder under 00_synths/).
    :param n_params: N.
    :param subdiv: lookup grid values per parameter.
    :param features: selected descriptor names, table order; observation and evaluation use them.
    :param reward_weights: weight per selected feature (0 = not a reward feature), sums to 1.
    :param reward: ``linear`` (−d) or ``cubic`` (8·(0.5−d)³).
    :param bonus: added to the reward when d <= ``bonus_threshold``.
    :param action_space: ``discrete``, ``multidiscrete`` or ``continuous``.
    :param step: largest move per parameter per step, in parameter units.
    :param interpolate: multilinear interpolation of the agent's features (else nearest point).
    :param neighbours: extra observation: distances to the target of the one-step neighbours,
        ``all`` (3**N moves, discrete order), ``axis`` (stay, then +/- each param) or ``none``.
    :param seek: extra observation: offsets (in steps) to the lookup point nearest the target.
    :param obs_clip: normalised features and distances are clipped to ±obs_clip in observations.
    :param episode_steps: steps per training episode (then truncated).
    :param target_mode: ``static``, ``dynamic``, ``corpus`` or ``mixed``.
    :param mix: probabilities of static/dynamic/corpus per episode in ``mixed`` mode.
    :param dynamic_p: probability per step that a ``dynamic`` target jumps.
    :param initial_params: where evaluation and live playing start (snapped to the grid).
    :param random_start: training episodes start from a random grid point.
    :param corpus: corpus name; ``train_tracks``/``heldout_tracks``: the split of its tracks.
    """

    synth: str
    n_params: int
    subdiv: int
    features: list[str]
    reward_weights: list[float]
    reward: str = "linear"
    bonus: float = 0.0
    bonus_threshold: float = 0.1
    action_space: str = "discrete"
    step: float = 0.1
    interpolate: bool = False
    neighbours: str = "all"
    seek: bool = False
    obs_clip: float = 10.0
    episode_steps: int = 256
    target_mode: str = "mixed"
    mix: dict[str, float] = field(default_factory=lambda: {"static": 0.2, "dynamic": 0.3, "corpus": 0.5})
    dynamic_p: float = 0.01
    initial_params: list[float] = field(default_factory=list)
    random_start: bool = True
    corpus: str = "demo"
    train_tracks: list[str] = field(default_factory=list)
    heldout_tracks: list[str] = field(default_factory=list)
    heldout_split: float = 0.0

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-able dict."""
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> EnvConfig:
        """Inverse of :meth:`to_dict`."""
        return cls(**data)


def _merge(base: dict[str, Any], over: dict[str, Any]) -> dict[str, Any]:
    out = copy.deepcopy(base)
    for key, value in (over or {}).items():
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = _merge(out[key], value)
        else:
            out[key] = copy.deepcopy(value)
    return out


def resolve_sections(params: dict[str, Any], synth: str, profile: str | None = None) -> dict[str, dict[str, Any]]:
    """The ``env``, ``train`` and ``evaluate`` sections after profile and per-synth overrides.

    :param params: parsed params.yaml.
    :param synth: synth name, for ``<section>.synths.<synth>`` overrides.
    :param profile: profile name; ``None`` uses ``train.profile``; ``default`` = no overrides.
    :return: ``{"env": {...}, "train": {...}, "evaluate": {...}, "profile": name}``.
    """
    sections = {name: dict(params.get(name) or {}) for name in ("env", "train", "evaluate")}
    name = profile or sections["train"].get("profile") or "default"
    if name != "default":
        profiles = params.get("profiles") or {}
        if name not in profiles:
            raise RlimproError(f"params.yaml: unknown profile {name!r}; define it under profiles: (have {sorted(profiles)})")
        for sec in sections:
            sections[sec] = _merge(sections[sec], (profiles[name] or {}).get(sec, {}))
    for sec in sections:
        per_synth = sections[sec].pop("synths", None) or {}
        sections[sec] = _merge(sections[sec], per_synth.get(synth, {}))
    return {**sections, "profile": name}


def _choice(value: Any, allowed: tuple[str, ...], key: str) -> str:
    if value not in allowed:
        raise RlimproError(f"params.yaml: env/train.{key} = {value!r}; use one of {', '.join(allowed)}")
    return str(value)


def env_config(env: dict[str, Any], train: dict[str, Any], *, synth: str, n_params: int, subdiv: int,
               tracks: tuple[list[str], list[str], float]) -> EnvConfig:
    """Build and validate an :class:`EnvConfig` from resolved sections.

    :param env: resolved ``env`` section; ``train``: resolved ``train`` section (action space).
    :param synth: synth name; ``n_params``/``subdiv``: from the lookup table.
    :param tracks: ``(train_tracks, heldout_tracks, heldout_split)`` from :func:`rlimpro.env.targets.split_tracks`.
    """
    features = select(env.get("features") or ["loudness", "specshape"])
    reward_sel = select(env["reward_features"]) if env.get("reward_features") else features
    if not set(reward_sel) <= set(features):
        raise RlimproError(f"params.yaml: env.reward_features {reward_sel} must be among env.features {features}")
    weights_cfg = env.get("reward_weights") or {}
    raw = [float(weights_cfg.get(f, 1.0)) if f in reward_sel else 0.0 for f in features]
    if sum(raw) <= 0:
        raise RlimproError("params.yaml: env.reward_weights are all zero; give at least one feature a weight > 0")
    space = _choice(train.get("action_space", "discrete"), SPACES, "action_space")
    step_cells = float(env.get("step_cells", 1))
    if step_cells <= 0:
        raise RlimproError(f"params.yaml: env.step_cells = {step_cells}; use a positive number of grid cells")
    interpolate = bool(env.get("interpolate", False)) or space == "continuous"
    initial = env.get("initial_params", 0.5)
    initial = [float(initial)] * n_params if not isinstance(initial, list) else [float(v) for v in initial]
    if len(initial) != n_params or not all(0.0 <= v <= 1.0 for v in initial):
        raise RlimproError(f"params.yaml: env.initial_params needs {n_params} values in [0, 1], got {initial}")
    initial = [round(v * (subdiv - 1)) / (subdiv - 1) for v in initial]  # snapped to the grid
    mix = {k: float(v) for k, v in (env.get("mix") or {"static": 0.2, "dynamic": 0.3, "corpus": 0.5}).items()}
    if set(mix) - {"static", "dynamic", "corpus"} or sum(mix.values()) <= 0:
        raise RlimproError(f"params.yaml: env.mix {mix}: use weights for static, dynamic, corpus")
    train_tracks, heldout_tracks, split = tracks
    return EnvConfig(
        synth=synth, n_params=n_params, subdiv=subdiv, features=features,
        reward_weights=[w / sum(raw) for w in raw],
        reward=_choice(env.get("reward", "linear"), REWARDS, "reward"),
        bonus=float(env.get("bonus", 0.0)), bonus_threshold=float(env.get("bonus_threshold", 0.1)),
        action_space=space, step=step_cells / (subdiv - 1), interpolate=interpolate,
        neighbours=_choice(env.get("neighbours", "all"), NEIGHBOURS, "neighbours"),
        seek=bool(env.get("seek", False)), obs_clip=float(env.get("obs_clip", 10.0)), episode_steps=int(env.get("episode_steps", 256)),
        target_mode=_choice(env.get("target_mode", "mixed"), TARGET_MODES, "target_mode"),
        mix=mix, dynamic_p=float(env.get("dynamic_p", 0.01)), initial_params=initial,
        random_start=bool(env.get("random_start", True)), corpus=str(env.get("corpus", "demo")),
        train_tracks=train_tracks, heldout_tracks=heldout_tracks, heldout_split=split,
    )
