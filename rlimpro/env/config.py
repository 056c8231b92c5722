"""Resolve params.yaml (``env``, ``train``, ``evaluate``, ``profiles``) into one run config.

Profiles: ``profiles.<name>`` holds partial ``env``/``train``/``evaluate`` sections that are
deep-merged over the base sections; ``train.profile`` (default ``default`` = no overrides) or
the ``--profile`` option picks one. Per-synth overrides live in ``<section>.synths.<synth>``
and are merged last. The result is what a run stores as ``config.json``.
"""

from __future__ import annotations

import copy
from dataclasses import asdict, dataclass
from typing import Any

from rlimpro.descriptors.names import select
from rlimpro.errors import RlimproError

__all__ = ["EnvConfig", "resolve_sections", "env_config"]


@dataclass
class EnvConfig:
    """Everything that defines the environment (stored in a run's ``config.json``).

    The values come from the validated ``env``/``train`` sections (their defaults live in
    :mod:`rlimpro.settings` only), see :func:`env_config`.

    :param synth: synth name (folder under 00_synths/).
    :param n_params: N.
    :param subdiv: lookup grid values per parameter.
    :param features: selected descriptor names, table order; observation and evaluation use them.
    :param reward_weights: weight per selected feature (0 = not a reward feature), sums to 1.
    :param reward: ``linear`` (−d), ``squared`` (−d²) or ``cubic`` (8·(0.5−d)³) (:func:`~rlimpro.env.behaviour.shaped`).
    :param bonus: added to the reward when d <= ``bonus_threshold``.
    :param action_space: ``discrete``, ``multidiscrete`` or ``continuous``.
    :param step: one step of one parameter, in parameter units.
    :param reach: a move takes each parameter up to ``reach`` steps (:mod:`rlimpro.env.actions`).
    :param interpolate: multilinear interpolation of the agent's features (else nearest point).
    :param neighbours: extra observation: distances to the target of the one-step neighbours,
        ``all`` (every move, discrete order), ``axis`` (stay, then +/- each param) or ``none``.
    :param seek: extra observation: offsets (in steps) to the lookup point nearest the target.
    :param obs_clip: normalised features and distances are clipped to ±obs_clip in observations.
    :param episode_steps: steps per training episode (then truncated).
    :param target_mode: ``static``, ``dynamic``, ``corpus`` or ``mixed``.
    :param mix: probabilities of static/dynamic/corpus per episode in ``mixed`` mode.
    :param dynamic_p: probability per step that a ``dynamic`` target jumps.
    :param initial_params: where evaluation and live playing start (snapped to the grid).
    :param random_start: training episodes start from a random grid point.
    :param corpus: corpus name; ``train_tracks``/``heldout_tracks``: the split of its tracks.
    :param target_smoothing: pole of the target's one-pole smoothing (0 = off), see :mod:`rlimpro.env.behaviour`.
    :param silence_gate: loudness (LUFS) below which a frame is a pause: its timbre is not
        heard and its loudness is heard at the gate (see :mod:`rlimpro.env.behaviour`); None = off.
    :param reward_target: what the reward measures closeness to: ``heard`` (the smoothed target
        the agent aims at) or ``line`` (the musician's line, see :mod:`rlimpro.env.behaviour`).
    :param move_cost: reward cost per parameter that changes in a step, in units of what one grid
        cell typically changes (:attr:`rlimpro.env.core.Imitation.move_unit`).
    :param move_cost_per: ``parameter`` (charged per changed parameter) or ``move`` (once per step that changes any).
    :param reversal_cost: reward cost per parameter that moves in the opposite sign to its own last
        move, in the unit of ``move_cost``.
    :param intent: condition on an intent ``c`` in [-1, 1] (training draws one per episode).
    :param intent_range: the range training draws ``c`` from.
    :param intent_ends: the share of episodes whose ``c`` is drawn denser towards the range's
        ends (arcsine law, :func:`rlimpro.env.core.draw_intents`) rather than uniformly.
    """

    synth: str
    n_params: int
    subdiv: int
    features: list[str]
    reward_weights: list[float]
    reward: str
    bonus: float
    bonus_threshold: float
    action_space: str
    step: float
    interpolate: bool
    neighbours: str
    seek: bool
    obs_clip: float
    episode_steps: int
    target_mode: str
    mix: dict[str, float]
    dynamic_p: float
    initial_params: list[float]
    random_start: bool
    corpus: str
    train_tracks: list[str]
    heldout_tracks: list[str]
    heldout_split: float
    target_smoothing: float = 0.0
    silence_gate: float | None = None
    move_cost: float = 0.0
    intent: bool = False
    intent_range: tuple[float, float] = (-1.0, 1.0)
    intent_ends: float = 0.0  # runs saved before the setting drew uniformly
    reach: int = 1
    move_cost_per: str = "parameter"
    reversal_cost: float = 0.0
    reward_target: str = "heard"  # runs saved before the setting

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-able dict."""
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> EnvConfig:
        """Inverse of :meth:`to_dict`."""
        return cls(**data)


def _merge(base: dict[str, Any], over: dict[str, Any] | None) -> dict[str, Any]:
    out = copy.deepcopy(base)
    for key, value in (over or {}).items():
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = _merge(out[key], value)
        else:
            out[key] = copy.deepcopy(value)
    return out


def resolve_sections(params: dict[str, Any], synth: str, profile: str | None = None) -> dict[str, dict[str, Any]]:
    """The ``env``, ``train`` and ``evaluate`` sections after profile and per-synth overrides.

    :param params: the validated params.yaml.
    :param synth: synth name, for ``<section>.synths.<synth>`` overrides.
    :param profile: profile name; ``None`` uses ``train.profile``; ``default`` = no overrides.
    :return: ``{"env": {...}, "train": {...}, "evaluate": {...}, "profile": name}``.
    """
    sections = {name: dict(params[name]) for name in ("env", "train", "evaluate")}
    name = profile or sections["train"]["profile"]
    if name != "default":
        profiles = params["profiles"]
        if name not in profiles:
            raise RlimproError(f"params.yaml: unknown profile {name!r}; define it under profiles: (have {sorted(profiles)})")
        for sec in sections:
            sections[sec] = _merge(sections[sec], profiles[name].get(sec))  # a profile may leave a section out
    for sec in sections:
        per_synth = sections[sec].pop("synths")
        sections[sec] = _merge(sections[sec], per_synth.get(synth))  # most synths have no overrides
    return {**sections, "profile": name}


def env_config(env: dict[str, Any], train: dict[str, Any], *, synth: str, n_params: int, subdiv: int,
               tracks: tuple[list[str], list[str], float]) -> EnvConfig:
    """Build and validate an :class:`EnvConfig` from resolved sections.

    :param env: resolved ``env`` section; ``train``: resolved ``train`` section (action space).
    :param synth: synth name; ``n_params``/``subdiv``: from the lookup table.
    :param tracks: ``(train_tracks, heldout_tracks, heldout_split)`` from :func:`rlimpro.env.targets.split_tracks`.
    """
    features = select(env["features"])
    reward_sel = select(env["reward_features"]) if env["reward_features"] else features
    if not set(reward_sel) <= set(features):
        raise RlimproError(f"params.yaml: env.reward_features {reward_sel} must be among env.features {features}")
    weights_cfg = env["reward_weights"]
    raw = [float(weights_cfg.get(f, 1.0)) if f in reward_sel else 0.0 for f in features]  # unlisted features weigh 1
    if sum(raw) <= 0:
        raise RlimproError("params.yaml: env.reward_weights are all zero; give at least one feature a weight > 0")
    space = train["action_space"]
    step_cells = float(env["step_cells"])
    if step_cells <= 0:
        raise RlimproError(f"params.yaml: env.step_cells = {step_cells}; use a positive number of grid cells")
    interpolate = env["interpolate"] or space == "continuous"
    reach = int(env["reach"])
    if reach < 1 or (reach > 1 and (2 * reach + 1) ** n_params > 4096):
        raise RlimproError(f"params.yaml: env.reach = {reach} gives {2 * reach + 1}^{n_params} moves per frame; "
                           f"use a reach >= 1 with at most 4096 moves")
    initial = env["initial_params"]
    initial = [float(initial)] * n_params if not isinstance(initial, list) else [float(v) for v in initial]
    if len(initial) != n_params or not all(0.0 <= v <= 1.0 for v in initial):
        raise RlimproError(f"params.yaml: env.initial_params needs {n_params} values in [0, 1], got {initial}")
    initial = [round(v * (subdiv - 1)) / (subdiv - 1) for v in initial]  # snapped to the grid
    mix = {k: float(v) for k, v in env["mix"].items()}
    if sum(mix.values()) <= 0:
        raise RlimproError(f"params.yaml: env.mix {mix}: give static, dynamic or corpus a weight > 0")
    smoothing, move_cost = float(env["target_smoothing"]), float(env["move_cost"])
    if not 0.0 <= smoothing < 1.0:
        raise RlimproError(f"params.yaml: env.target_smoothing = {smoothing}; use a pole in [0, 1) (0 = off)")
    gate = None if env["silence_gate"] is None else float(env["silence_gate"])
    if gate is not None and ("loudness" not in features or not smoothing):
        raise RlimproError(f"params.yaml: env.silence_gate = {gate} needs loudness among env.features and "
                           f"env.target_smoothing > 0 (it holds the smoothed target); set it to null")
    reversal_cost = float(env["reversal_cost"])
    for key, cost in (("move_cost", move_cost), ("reversal_cost", reversal_cost)):
        if cost < 0:
            raise RlimproError(f"params.yaml: env.{key} = {cost}; use a cost >= 0")
    ends = float(env["intent_ends"])
    if not 0.0 <= ends <= 1.0:
        raise RlimproError(f"params.yaml: env.intent_ends = {ends}; use a share in [0, 1]")
    lo, hi = (float(v) for v in env["intent_range"]) if len(env["intent_range"]) == 2 else (1.0, -1.0)
    if not -1.0 <= lo <= hi <= 1.0:
        raise RlimproError(f"params.yaml: env.intent_range = {env['intent_range']}; use [low, high] within [-1, 1]")
    train_tracks, heldout_tracks, split = tracks
    return EnvConfig(
        synth=synth, n_params=n_params, subdiv=subdiv, features=features,
        reward_weights=[w / sum(raw) for w in raw], reward=env["reward"],
        bonus=float(env["bonus"]), bonus_threshold=float(env["bonus_threshold"]),
        action_space=space, step=step_cells / (subdiv - 1), interpolate=interpolate,
        neighbours=env["neighbours"], seek=env["seek"], obs_clip=float(env["obs_clip"]),
        episode_steps=env["episode_steps"], target_mode=env["target_mode"],
        mix=mix, dynamic_p=float(env["dynamic_p"]), initial_params=initial,
        random_start=env["random_start"], corpus=env["corpus"],
        train_tracks=train_tracks, heldout_tracks=heldout_tracks, heldout_split=split,
        target_smoothing=smoothing, move_cost=move_cost, intent=bool(env["intent"]), intent_range=(lo, hi),
        intent_ends=ends,
        reach=reach, move_cost_per=env["move_cost_per"], reversal_cost=reversal_cost, silence_gate=gate,
        reward_target=env["reward_target"],
    )
