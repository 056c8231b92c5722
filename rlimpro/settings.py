"""The one schema of ``params.yaml``: every section, key, type and default.

Each section is a dataclass; its fields are the keys, their type hints the accepted types and
their defaults the values of the shipped params.yaml. :func:`validate` checks a parsed file
against it and returns it completed with the defaults; the first unknown or mistyped key is
ONE error line naming it, e.g. ``params.yaml: env.episode_stepz: unknown key (did you mean
episode_steps?)``. Code reads the validated values directly, never with fallbacks.

Two kinds of keys hold partial sections, validated key by key but not completed:
``<section>.synths.<synth>`` (per-synth overrides of ``env``, ``train``, ``evaluate``) and
``profiles.<name>.<section>`` (research profiles). Project data, not knobs, defaults to
empty: ``corpora``, ``synths``, ``synth``, ``profiles`` and the per-synth overrides.

>>> params = validate({"env": {"step_cells": 2}})   # completed with the defaults
>>> params["env"]["step_cells"], params["analysis"]
(2, {'sr': 44100, 'window': 1024, 'hop': 512})
>>> validate({"train": {"total_timesteps": "many"}})
Traceback (most recent call last):
rlimpro.errors.RlimproError: params.yaml: train.total_timesteps = 'many': expected an integer
>>> defaults()["corpora"], defaults()["synths"]   # project data defaults to empty
([], [])
"""

from __future__ import annotations

import copy
import dataclasses
import difflib
import types
import typing
from dataclasses import dataclass, field
from typing import Any, Literal

from rlimpro.descriptors.framing import HOP, SR, WINDOW
from rlimpro.errors import RlimproError

__all__ = ["ACTION_SPACES", "NEIGHBOURS", "REWARDS", "TARGET_MODES", "Params", "defaults", "validate"]

Algo = Literal["avi", "dqn", "ppo", "a2c", "sac", "td3"]
ActionSpace = Literal["discrete", "multidiscrete", "continuous"]
TargetMode = Literal["static", "dynamic", "corpus", "mixed"]
Neighbours = Literal["all", "axis", "none"]
Reward = Literal["linear", "squared", "cubic"]
TargetKind = Literal["static", "dynamic", "corpus"]

ACTION_SPACES: tuple[str, ...] = typing.get_args(ActionSpace)
TARGET_MODES: tuple[str, ...] = typing.get_args(TargetMode)
NEIGHBOURS: tuple[str, ...] = typing.get_args(Neighbours)
REWARDS: tuple[str, ...] = typing.get_args(Reward)

#: field metadata: synth name -> partial section of the enclosing class (``<section>.synths``)
OVERRIDES = {"overrides": True}
#: field metadata: the sections inside are partial (keys checked, no defaults filled in)
PARTIAL = {"partial": True}


def _default(value: Any) -> Any:
    return field(default_factory=lambda: copy.deepcopy(value))


def _overrides() -> Any:
    return field(default_factory=dict, metadata=OVERRIDES)


@dataclass
class Analysis:
    """Framing shared by offline, Pd and live analysis (docs/descriptors.md): 44.1 kHz, window 1024, hop 512."""

    sr: int = SR
    window: int = WINDOW
    hop: int = HOP


@dataclass
class CorpusSection:
    """``analyze_corpus``: analysis processes (0 = all cores)."""

    workers: int = 0


@dataclass
class SynthGrid:
    """``synth.<name>``: the lookup grid, ``subdiv`` values per parameter (required per synth)."""

    subdiv: int


@dataclass
class Render:
    """Headless Pd rendering of lookup tables: points per Pd process, parallel processes (0 = all cores)."""

    chunk_size: int = 256
    workers: int = 0


@dataclass
class Heldout:
    """Tracks held out for evaluation: the share and the permutation seed."""

    fraction: float = 0.25
    seed: int = 0


@dataclass
class Env:
    """The imitation environment (see the comments in params.yaml and :mod:`rlimpro.env`)."""

    corpus: str = "demo"
    heldout: Heldout = field(default_factory=Heldout)
    features: list[str] = _default(["loudness", "specshape"])
    reward_features: list[str] | None = None
    reward_weights: dict[str, float] = _default({})
    reward: Reward = "linear"
    bonus: float = 0.0
    bonus_threshold: float = 0.1
    step_cells: float = 1
    reach: int = 1
    interpolate: bool = False
    neighbours: Neighbours = "all"
    seek: bool = False
    obs_clip: float = 10.0
    episode_steps: int = 256
    target_mode: TargetMode = "corpus"
    mix: dict[TargetKind, float] = _default({"static": 0.1, "dynamic": 0.2, "corpus": 0.7})
    dynamic_p: float = 0.02
    initial_params: float | list[float] = 0.5
    random_start: bool = True
    target_smoothing: float = 0.6
    silence_gate: float | None = None
    reward_target: Literal["heard", "line"] = "line"
    move_cost: float = 0.8
    move_cost_per: Literal["move", "parameter"] = "move"
    reversal_cost: float = 0.25
    intent: bool = True
    intent_range: list[float] = _default([-1.0, 1.0])
    intent_ends: float = 0.5
    synths: dict[str, Env] = _overrides()


@dataclass
class Algos:
    """Keyword arguments of the SB3 constructor, per algorithm (free-form: SB3 checks them)."""

    avi: dict[str, Any] = _default({"learning_rate": 0.001, "buffer_size": 50000, "learning_starts": 1000,
                                    "batch_size": 64, "gamma": 0.5, "train_freq": 1, "gradient_steps": 1,
                                    "target_update_interval": 2000, "backup_rows": 512})
    dqn: dict[str, Any] = _default({"learning_rate": 0.0001, "buffer_size": 50000, "learning_starts": 1000,
                                    "batch_size": 128, "gamma": 0.5, "train_freq": 1, "gradient_steps": 1,
                                    "target_update_interval": 500, "exploration_initial_eps": 0.2,
                                    "exploration_fraction": 0.1, "exploration_final_eps": 0.02})
    ppo: dict[str, Any] = _default({"learning_rate": 0.0003, "n_steps": 256, "batch_size": 256, "n_epochs": 5,
                                    "gamma": 0.9})
    a2c: dict[str, Any] = _default({"learning_rate": 0.0007, "n_steps": 8, "gamma": 0.9})
    sac: dict[str, Any] = _default({"learning_rate": 0.0003, "buffer_size": 100000, "learning_starts": 1000,
                                    "batch_size": 256, "gamma": 0.9})
    td3: dict[str, Any] = _default({"learning_rate": 0.0003, "buffer_size": 100000, "learning_starts": 1000,
                                    "batch_size": 256, "gamma": 0.9})


@dataclass
class Train:
    """Training: algorithm, action space, budget and network (see :mod:`rlimpro.train`)."""

    profile: str = "default"
    algo: Algo = "avi"
    action_space: ActionSpace = "discrete"
    total_timesteps: int = 48_000
    n_envs: int = 8
    seed: int = 0
    torch_threads: int = 1
    checkpoint_every: int = 20_000
    policy_kwargs: dict[str, Any] = _default({"net_arch": [128, 128]})
    algos: Algos = field(default_factory=Algos)
    synths: dict[str, Train] = _overrides()


@dataclass
class Evaluate:
    """Evaluation on the held-out tracks (see :mod:`rlimpro.evaluate`)."""

    max_frames: int = 2000
    plot_frames: int = 600
    seed: int = 0
    synths: dict[str, Evaluate] = _overrides()


@dataclass
class Export:
    """``export``: observations on which policy.onnx must equal the SB3 policy (0 = no check)."""

    check: int = 10_000


@dataclass
class Pages:
    """The sound map and run report pages (:mod:`rlimpro.pages`): what they show and cost."""

    max_points: int = 256
    clip_s: float = 0.5
    duet_s: float = 30.0
    workers: int = 0


@dataclass
class Profile:
    """``profiles.<name>``: partial sections merged over the base ones."""

    env: Env | None = None
    train: Train | None = None
    evaluate: Evaluate | None = None


@dataclass
class Params:
    """The whole params.yaml, in the order of the shipped file."""

    analysis: Analysis = field(default_factory=Analysis)
    corpora: list[str] = _default([])
    synths: list[str] = _default([])
    corpus: CorpusSection = field(default_factory=CorpusSection)
    synth: dict[str, SynthGrid] = _default({})
    render: Render = field(default_factory=Render)
    env: Env = field(default_factory=Env)
    train: Train = field(default_factory=Train)
    evaluate: Evaluate = field(default_factory=Evaluate)
    export: Export = field(default_factory=Export)
    pages: Pages = field(default_factory=Pages)
    profiles: dict[str, Profile] = field(default_factory=dict, metadata=PARTIAL)


def defaults() -> dict[str, Any]:
    """The schema's defaults as a params.yaml dict (for tests and new projects)."""
    return _plain(Params())


def validate(data: Any, file: str = "params.yaml") -> dict[str, Any]:
    """Check a parsed params.yaml against :class:`Params`; return it completed with the defaults.

    :param data: the parsed file.
    :param file: the file's name, for messages.
    :return: a new dict: every section and key, values as given (or the defaults).
    :raises RlimproError: one line naming the first unknown or mistyped key.
    """
    try:
        out = _section(Params, data, "", partial=False)
    except _Invalid as exc:
        raise RlimproError(f"{file}: {exc}") from None
    known = {"default", *out["profiles"]}
    if out["train"]["profile"] not in known:
        raise RlimproError(f"{file}: train.profile = {out['train']['profile']!r}: unknown profile; "
                           f"use one of {', '.join(sorted(known))}")
    _check_features(out, file)
    return out


def _check_features(params: dict[str, Any], file: str) -> None:
    """Every feature selection (``env``, its per-synth overrides and profiles) names known descriptors."""
    from rlimpro.descriptors.names import select

    envs = {"env": params["env"], **{f"env.synths.{k}": v for k, v in params["env"]["synths"].items()},
            **{f"profiles.{k}.env": v["env"] for k, v in params["profiles"].items() if v.get("env")}}
    for where, env in envs.items():
        for key in ("features", "reward_features"):
            if env.get(key):
                try:
                    select(env[key])
                except RlimproError as exc:
                    raise RlimproError(f"{file}: {where}.{key}: {exc}") from None


class _Invalid(Exception):
    """A schema violation; the message starts with the dotted key."""


def _plain(obj: Any) -> Any:
    """A dataclass instance as nested plain dicts, fields in order."""
    if dataclasses.is_dataclass(obj):
        return {f.name: _plain(getattr(obj, f.name)) for f in dataclasses.fields(obj)}
    return copy.deepcopy(obj)


def _section(cls: type, data: Any, where: str, *, partial: bool, overrides: bool = True) -> dict[str, Any]:
    """Validate a mapping against dataclass ``cls`` (``partial``: no defaults filled in;
    ``overrides``: ``synths`` overrides allowed)."""
    if not isinstance(data, dict):
        raise _Invalid(f"{where or 'the file'}{_shown(data)}: expected a mapping of keys")
    fields = {f.name: f for f in dataclasses.fields(cls) if overrides or not f.metadata.get("overrides")}
    for key in data:
        if key not in fields:
            close = difflib.get_close_matches(str(key), list(fields), n=1)
            hint = f"did you mean {close[0]}?" if close else f"known keys: {', '.join(fields)}"
            raise _Invalid(f"{_join(where, key)}: unknown key ({hint})")
    hints, out = typing.get_type_hints(cls), {}
    for name, f in fields.items():
        here = _join(where, name)
        if f.metadata.get("overrides") and name in data:
            out[name] = _overrides_of(cls, data[name], here)
        elif name in data:
            out[name] = _value(hints[name], data[name], here, partial or bool(f.metadata.get("partial")))
        elif not partial:
            out[name] = _missing(f, here)
    return out


def _overrides_of(cls: type, value: Any, where: str) -> dict[str, Any]:
    """``<section>.synths``: synth name -> partial section (without nested ``synths``)."""
    if not isinstance(value, dict):
        raise _Invalid(f"{where}{_shown(value)}: expected a mapping of synth name -> overrides")
    return {_key(str, k, where): _section(cls, v, _join(where, k), partial=True, overrides=False)
            for k, v in value.items()}


def _missing(f: dataclasses.Field[Any], where: str) -> Any:
    if f.default is not dataclasses.MISSING:
        return _plain(f.default)
    if f.default_factory is not dataclasses.MISSING:
        return _plain(f.default_factory())
    raise _Invalid(f"{where}: missing; add it")


def _value(hint: Any, value: Any, where: str, partial: bool = False) -> Any:
    """Validate one value against a type hint (``partial``: sections inside get no defaults)."""
    origin, args = typing.get_origin(hint), typing.get_args(hint)
    if origin in (typing.Union, types.UnionType):
        if value is None and type(None) in args:
            return None
        fits = [a for a in args if a is not type(None) and _kind(a) == _kind(value)]
        for option in fits[:-1]:
            try:
                return _value(option, value, where, partial)
            except _Invalid:
                pass
        try:
            if fits:
                return _value(fits[-1], value, where, partial)
        except _Invalid:
            if _kind(value) != "scalar":
                raise  # a list or mapping of the right shape: the error is inside it
        raise _Invalid(f"{where}{_shown(value)}: expected {_describe(hint)}")
    if dataclasses.is_dataclass(hint):
        return _section(hint, value, where, partial=partial)
    if origin is Literal:
        if value not in args:
            raise _Invalid(f"{where}{_shown(value)}: expected one of {', '.join(map(str, args))}")
        return value
    if origin is list:
        if not isinstance(value, list):
            raise _Invalid(f"{where}{_shown(value)}: expected {_describe(hint)}")
        return [_value(args[0], v, f"{where}[{i}]", partial) for i, v in enumerate(value)]
    if origin is dict:
        if not isinstance(value, dict):
            raise _Invalid(f"{where}{_shown(value)}: expected {_describe(hint)}")
        return {_key(args[0], k, where): _value(args[1], v, _join(where, k), partial) for k, v in value.items()}
    return _scalar(hint, value, where)


def _kind(hint_or_value: Any) -> str:
    """``list``, ``mapping`` or ``scalar``: the YAML shape of a type hint or of a value."""
    if isinstance(hint_or_value, list) or typing.get_origin(hint_or_value) is list:
        return "list"
    if (isinstance(hint_or_value, dict) or typing.get_origin(hint_or_value) is dict
            or (isinstance(hint_or_value, type) and dataclasses.is_dataclass(hint_or_value))):
        return "mapping"
    return "scalar"


def _key(hint: Any, key: Any, where: str) -> Any:
    if typing.get_origin(hint) is Literal and key not in typing.get_args(hint):
        close = difflib.get_close_matches(str(key), [str(a) for a in typing.get_args(hint)], n=1)
        hint_text = f"did you mean {close[0]}?" if close else f"use {', '.join(typing.get_args(hint))}"
        raise _Invalid(f"{_join(where, key)}: unknown key ({hint_text})")
    if not isinstance(key, str):
        raise _Invalid(f"{where}: key {key!r}: expected a name")
    return key


def _scalar(hint: Any, value: Any, where: str) -> Any:
    if hint is Any:
        return copy.deepcopy(value)
    ok = {
        int: isinstance(value, int) and not isinstance(value, bool),
        float: isinstance(value, int | float) and not isinstance(value, bool),
        bool: isinstance(value, bool),
        str: isinstance(value, str),
    }
    if hint not in ok:
        raise TypeError(f"settings: unsupported type {hint!r} at {where}")
    if not ok[hint]:
        raise _Invalid(f"{where}{_shown(value)}: expected {_NAMES[hint]}")
    return value


_NAMES = {int: "an integer", float: "a number", bool: "true or false", str: "a string"}


def _describe(hint: Any) -> str:
    """``an integer``, ``a list of strings``, ``a number or a list of numbers``, ..."""
    origin, args = typing.get_origin(hint), typing.get_args(hint)
    if origin in (typing.Union, types.UnionType):
        return " or ".join(_describe(a) for a in args if a is not type(None))
    if origin is list:
        return f"a list of {_describe(args[0]).removeprefix('an ').removeprefix('a ')}s"
    if origin is dict or dataclasses.is_dataclass(hint):
        return "a mapping"
    return _NAMES.get(hint, "a value")


def _join(where: str, key: Any) -> str:
    return f"{where}.{key}" if where else str(key)


def _shown(value: Any) -> str:
    text = repr(value)
    return f" = {text if len(text) <= 40 else text[:37] + '...'}"
