"""params.yaml has one schema (rlimpro.settings): the shipped file agrees with it, and every
unknown or mistyped key anywhere is one error line naming it (also through the CLI)."""

from __future__ import annotations

import copy
import subprocess
import sys
import typing
from pathlib import Path
from typing import Any

import pytest
import yaml

from rlimpro.errors import RlimproError
from rlimpro.params import load_params
from rlimpro.algos import ALGOS
from rlimpro.settings import ACTION_SPACES, Algo, Algos, defaults, validate

REPO = Path(__file__).resolve().parents[2]
#: project data, not knobs: the schema's default is empty, the shipped file fills them in
PROJECT_DATA = {("corpora",), ("synths",), ("synth",), ("profiles",), ("env", "synths")}


@pytest.fixture(scope="module")
def shipped() -> dict[str, Any]:
    """The shipped params.yaml as parsed (not validated)."""
    return yaml.safe_load((REPO / "params.yaml").read_text())


def _leaves(data: dict[str, Any], prefix: tuple[str, ...] = ()) -> dict[tuple[str, ...], Any]:
    """Dotted keys -> values, stopping at project data and at free-form SB3 kwargs."""
    out = {}
    for key, value in data.items():
        path = (*prefix, key)
        if isinstance(value, dict) and path not in PROJECT_DATA and path[:2] != ("train", "algos") and value:
            out.update(_leaves(value, path))
        else:
            out[path] = value
    return out


def test_the_shipped_file_validates_unchanged(shipped: dict[str, Any]) -> None:
    valid = validate(copy.deepcopy(shipped))
    # validation only adds the empty per-synth overrides the file leaves out
    added = {sec: valid[sec].pop("synths") for sec in ("train", "evaluate")}
    assert added == {"train": {}, "evaluate": {}}
    assert valid == shipped and list(valid) == list(shipped)
    assert list(valid["env"]) == list(shipped["env"]) and list(valid["train"]) == list(shipped["train"])


def test_schema_defaults_are_the_shipped_values(shipped: dict[str, Any]) -> None:
    knobs, shipped_knobs = _leaves(defaults()), _leaves(shipped)
    assert set(shipped_knobs) - set(knobs) <= PROJECT_DATA, "every shipped knob has a default in the schema"
    differ = {k for k in shipped_knobs if k not in PROJECT_DATA and knobs[k] != shipped_knobs[k]}
    assert not differ, f"schema defaults differ from params.yaml: {sorted(differ)}"
    assert all(defaults()[key[0]] in ({}, []) for key in PROJECT_DATA if len(key) == 1)
    assert defaults()["env"]["synths"] == {}


def test_defaults_validate_to_themselves() -> None:
    assert validate(defaults()) == defaults()
    assert validate({}) == defaults()  # an empty file means every default


def test_one_algorithm_list() -> None:
    assert list(ALGOS) == list(typing.get_args(Algo)) == [f.name for f in __import__("dataclasses").fields(Algos)]
    assert all(a.spaces and set(a.spaces) <= set(ACTION_SPACES) for a in ALGOS.values())


def _set(data: dict[str, Any], dotted: str, value: Any) -> dict[str, Any]:
    *parents, last = dotted.split(".")
    node = data
    for part in parents:
        node = node.setdefault(part, {})
    node[last] = value
    return data


BAD = [
    ("env.episode_stepz", 300, "params.yaml: env.episode_stepz: unknown key (did you mean episode_steps?)"),
    ("train.total_timesteps", "abc", "params.yaml: train.total_timesteps = 'abc': expected an integer"),
    ("env.target_mode", "corpse", "params.yaml: env.target_mode = 'corpse': expected one of static, dynamic, corpus, mixed"),
    ("env.seek", "yes", "params.yaml: env.seek = 'yes': expected true or false"),
    ("env.bonus", True, "params.yaml: env.bonus = True: expected a number"),
    ("env.initial_params", "mid", "params.yaml: env.initial_params = 'mid': expected a number or a list of numbers"),
    ("env.initial_params", [0.5, "x"], "params.yaml: env.initial_params[1] = 'x': expected a number"),
    ("env.features", "mfcc", "params.yaml: env.features = 'mfcc': expected a list of strings"),
    ("env.mix.statik", 0.5, "params.yaml: env.mix.statik: unknown key (did you mean static?)"),
    ("env.heldout.fraction", "half", "params.yaml: env.heldout.fraction = 'half': expected a number"),
    ("env.synths.sine.featurez", ["loudness"], "params.yaml: env.synths.sine.featurez: unknown key (did you mean features?)"),
    ("train.synths.fm.n_envs", "8", "params.yaml: train.synths.fm.n_envs = '8': expected an integer"),
    ("evaluate.synths.fm", 3, "params.yaml: evaluate.synths.fm = 3: expected a mapping of keys"),
    ("profiles.full.train.n_env", 16, "params.yaml: profiles.full.train.n_env: unknown key (did you mean n_envs?)"),
    ("profiles.full.trian", {}, "params.yaml: profiles.full.trian: unknown key (did you mean train?)"),
    ("profiles.full.env.heldout.seed", "a", "params.yaml: profiles.full.env.heldout.seed = 'a': expected an integer"),
    ("synth.fm.subdiv", "8", "params.yaml: synth.fm.subdiv = '8': expected an integer"),
    ("synth.fm.subdivs", 8, "params.yaml: synth.fm.subdivs: unknown key (did you mean subdiv?)"),
    ("synth.new", {}, "params.yaml: synth.new.subdiv: missing; add it"),
    ("train.algos.ddqn", {}, "params.yaml: train.algos.ddqn: unknown key (did you mean dqn?)"),
    ("train.algos.avi", 0.5, "params.yaml: train.algos.avi = 0.5: expected a mapping"),
    ("train.profile", "fulll", "params.yaml: train.profile = 'fulll': unknown profile; use one of default, full"),
    ("analysis.hopp", 512, "params.yaml: analysis.hopp: unknown key (did you mean hop?)"),
    ("corpora", "demo", "params.yaml: corpora = 'demo': expected a list of strings"),
    ("rendr", {}, "params.yaml: rendr: unknown key (did you mean render?)"),
]


@pytest.mark.parametrize(("key", "value", "message"), BAD, ids=[b[0] + "-" + repr(b[1]) for b in BAD])
def test_an_unknown_or_mistyped_key_is_one_line_naming_it(shipped: dict[str, Any], key: str, value: Any,
                                                          message: str) -> None:
    with pytest.raises(RlimproError) as err:
        validate(_set(copy.deepcopy(shipped), key, value))
    assert str(err.value) == message


def test_overrides_are_partial_and_cannot_nest(shipped: dict[str, Any]) -> None:
    params = validate(_set(copy.deepcopy(shipped), "env.synths.fm.heldout", {"seed": 3}))
    assert params["env"]["synths"]["fm"] == {"heldout": {"seed": 3}}  # no defaults filled into overrides
    assert params["profiles"]["full"] == shipped["profiles"]["full"]
    with pytest.raises(RlimproError, match=r"^params.yaml: env.synths.fm.synths: unknown key"):
        validate(_set(copy.deepcopy(shipped), "env.synths.fm.synths", {}))


def test_load_params_validates_and_completes(tmp_path: Path) -> None:
    (tmp_path / "params.yaml").write_text("train: {total_timesteps: 1000}\n")
    params = load_params(tmp_path)
    assert params["train"]["total_timesteps"] == 1000 and params["train"]["n_envs"] == defaults()["train"]["n_envs"]
    (tmp_path / "params.yaml").write_text("env:\n  episode_stepz: 10\n")
    with pytest.raises(RlimproError, match=r"^params.yaml: env.episode_stepz: unknown key"):
        load_params(tmp_path)


@pytest.mark.parametrize("command", [["train", "--synth", "fm"], ["analyze-corpus", "--corpus", "demo"],
                                     ["render-lookup", "--synth", "fm"], ["export", "run", "-o", "x.onnx"]])
def test_the_cli_shows_the_one_line(tmp_path: Path, shipped: dict[str, Any], command: list[str]) -> None:
    (tmp_path / "params.yaml").write_text(yaml.safe_dump(_set(copy.deepcopy(shipped), "env.episode_stepz", 300)))
    result = subprocess.run([sys.executable, "-m", "rlimpro", *command], cwd=tmp_path, capture_output=True,
                            text=True, timeout=120)
    lines = result.stderr.strip().splitlines()
    assert result.returncode != 0 and 1 <= len(lines) <= 3 and "Traceback" not in result.stderr
    assert lines[0] == "error: params.yaml: env.episode_stepz: unknown key (did you mean episode_steps?)"
