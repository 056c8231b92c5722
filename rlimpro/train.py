"""Training stage: an SB3 agent on the batched imitation env (docs/training.md).

A run folder is self-describing (the ONNX exporter and the evaluation read only it)::

    00_synths/<synth>/runs/<run_id>/
        model.zip          SB3 model
        config.json        exact config: algo, action space, step, features, table path/hash, ...
        norm.json          feature normalisation (mean/std per selected feature)
        train_stats.json   wall time, steps/s, training distance curve
        tensorboard/       TensorBoard logs
        checkpoints/       only while training: an interrupted run resumes from here

The DAG's run is ``runs/main``; ad-hoc runs are ``runs/<timestamp>-<algo>``.
"""

from __future__ import annotations

import hashlib
import json
import shutil
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from rlimpro import __version__
from rlimpro.algos import algorithm
from rlimpro.atomic import atomic_path, write_json
from rlimpro.env.build import Setup, prepare
from rlimpro.env.config import EnvConfig
from rlimpro.env.core import Imitation
from rlimpro.env.targets import Normalisation
from rlimpro.errors import RlimproError
from rlimpro.layout import MAIN_RUN, Layout

__all__ = ["Run", "load_run", "run_dir_for", "train"]


@dataclass
class Run:
    """A trained run as stored on disk (what export and evaluation need).

    :param path: the run folder.
    :param config: the whole ``config.json``.
    :param env: the environment config (features, step, action space, interpolation, N, ...).
    :param norm: normalisation of the selected features.
    """

    path: Path
    config: dict[str, Any]
    env: EnvConfig
    norm: Normalisation

    @property
    def algo(self) -> str:
        """Algorithm name (``avi``, ``dqn``, ``ppo``, ...)."""
        return self.config["algo"]

    @property
    def model_path(self) -> Path:
        """``model.zip`` of the run."""
        return self.path / "model.zip"

    @property
    def table_path(self) -> str:
        """Lookup table path, relative to the project root."""
        return self.config["table"]["path"]

    @property
    def table_sha256(self) -> str:
        """Hash of the lookup table the run was trained on."""
        return self.config["table"]["sha256"]

    def load_model(self) -> Any:
        """The trained SB3 model (CPU)."""
        return algorithm(self.algo).load(self.model_path, device="cpu")


def load_run(run_dir: str | Path) -> Run:
    """Read a run folder's ``config.json`` and ``norm.json``.

    :raises RlimproError: if the folder is not a finished run.
    """
    path = Path(run_dir)
    cfg_file, norm_file = path / "config.json", path / "norm.json"
    if not cfg_file.is_file() or not norm_file.is_file():
        raise RlimproError(f"{path}: not a run folder (no config.json/norm.json); train one with `rlimpro train`")
    config = json.loads(cfg_file.read_text())
    return Run(path, config, EnvConfig.from_dict(config["env"]), Normalisation.from_dict(json.loads(norm_file.read_text())))


def run_dir_for(root: str | Path, synth: str, run_id: str | None, algo: str) -> Path:
    """``runs/main`` for the DAG, ``runs/<timestamp>-<algo>`` when ``run_id`` is ``None``."""
    name = run_id or time.strftime("%Y%m%d-%H%M%S", time.gmtime()) + f"-{algo}"
    return Layout(root).run(synth, name)


def _run_config(setup: Setup, core: Imitation, root: Path, params: dict[str, Any]) -> dict[str, Any]:
    train_sec = setup.sections["train"]
    tpath = Layout(root).lookup(setup.cfg.synth)
    algo = algorithm(train_sec["algo"], setup.cfg.action_space)
    algo.check(core)
    return {
        "rlimpro_version": __version__,
        "synth": setup.cfg.synth,
        "profile": setup.sections["profile"],
        "algo": algo.name,
        "action_space": setup.cfg.action_space,
        "step": setup.cfg.step,
        "features": setup.cfg.features,
        "n_params": setup.cfg.n_params,
        "initial_params": setup.cfg.initial_params,
        "interpolate": setup.cfg.interpolate,
        "obs_dim": core.obs_dim,
        "policy": algo.policy,
        "table": {"path": str(tpath.relative_to(root)), "sha256": setup.table.sha256,
                  "n_params": setup.table.n_params, "subdiv": setup.table.subdiv},
        "corpus": setup.cfg.corpus,
        "analysis": params["analysis"],
        "env": setup.cfg.to_dict(),
        "train": train_sec,
        "evaluate": setup.sections["evaluate"],
    }


def _config_hash(config: dict[str, Any], norm: Normalisation) -> str:
    """Key of a checkpoint: everything but the step budget (so a longer run resumes a shorter one)."""
    train_sec = {k: v for k, v in config["train"].items() if k not in ("total_timesteps", "checkpoint_every")}
    blob = json.dumps({"config": {**config, "train": train_sec}, "norm": norm.to_dict()}, sort_keys=True).encode()
    return hashlib.sha256(blob).hexdigest()


class _Checkpoints:
    """Atomic checkpoints (model + replay buffer) under ``run/checkpoints``, keyed by config hash."""

    def __init__(self, folder: Path, key: str):
        self.folder, self.key = folder, key

    def latest(self) -> tuple[Path, Path | None, int] | None:
        state_file = self.folder / "state.json"
        if not state_file.is_file():
            return None
        state = json.loads(state_file.read_text())
        if state.get("key") != self.key or not (self.folder / "model.zip").is_file():
            return None
        buffer = self.folder / "replay_buffer.pkl"
        return self.folder / "model.zip", buffer if buffer.is_file() else None, int(state["timesteps"])

    def save(self, model: Any) -> None:
        self.folder.mkdir(parents=True, exist_ok=True)
        with atomic_path(self.folder / "model.zip") as tmp:
            model.save(tmp)
        if hasattr(model, "save_replay_buffer"):
            with atomic_path(self.folder / "replay_buffer.pkl") as tmp:
                model.save_replay_buffer(tmp)
        write_json(self.folder / "state.json", {"key": self.key, "timesteps": int(model.num_timesteps)})


def _callback(checkpoints: _Checkpoints, every: int, curve: list[dict[str, float]]) -> Any:
    from stable_baselines3.common.callbacks import BaseCallback

    class _Cb(BaseCallback):
        """Logs the mean target distance; writes checkpoints every ``every`` steps."""

        def _on_training_start(self) -> None:
            self._dist: list[float] = []
            self._next_ckpt = (self.model.num_timesteps // every + 1) * every
            self._next_log = self.model.num_timesteps + max(1000, every // 10)

        def _on_step(self) -> bool:
            self._dist.extend(info["distance"] for info in self.locals["infos"])
            if self.model.num_timesteps >= self._next_log and self._dist:
                mean = float(np.mean(self._dist))
                self.logger.record("rlimpro/distance", mean)
                curve.append({"timesteps": int(self.model.num_timesteps), "distance": mean})
                self._dist.clear()
                self._next_log = self.model.num_timesteps + max(1000, every // 10)
            if self.model.num_timesteps >= self._next_ckpt:
                checkpoints.save(self.model)
                self._next_ckpt += every
            return True

    return _Cb()


def train(synth: str, params: dict[str, Any], root: str | Path, *, run_id: str | None = MAIN_RUN,
          profile: str | None = None) -> list[Path]:
    """Train an agent for ``synth`` as params.yaml says; resume from a matching checkpoint.

    :param synth: synth name (folder under 00_synths/).
    :param params: the validated params.yaml.
    :param root: project folder.
    :param run_id: run folder name; ``"main"`` for the DAG, ``None`` for ``<timestamp>-<algo>``.
    :param profile: research profile (``None`` = ``train.profile``).
    :return: the files written.
    """
    import torch

    root = Path(root)
    setup = prepare(root, synth, params, profile)
    train_sec = setup.sections["train"]
    total, seed = train_sec["total_timesteps"], train_sec["seed"]
    env = setup.vec_env(train_sec["n_envs"], seed)
    config = _run_config(setup, env.core, root, params)
    algo = algorithm(config["algo"])
    run = run_dir_for(root, synth, run_id, algo.name)
    run.mkdir(parents=True, exist_ok=True)
    torch.set_num_threads(train_sec["torch_threads"])

    key = _config_hash(config, setup.norm)
    checkpoints = _Checkpoints(run / "checkpoints", key)
    resume = checkpoints.latest()
    tb_dir = run / "tensorboard"
    if resume is None:
        for stale in ("model.zip", "train_stats.json"):
            (run / stale).unlink(missing_ok=True)
        shutil.rmtree(tb_dir, ignore_errors=True)
        model, done = algo.make_model(env.core, env, train_sec, tb_dir), 0
    else:
        model = algo.load(resume[0], env=env, device="cpu", tensorboard_log=str(tb_dir))
        if resume[1] is not None:
            model.load_replay_buffer(resume[1])
        done = resume[2]
    write_json(run / "config.json", config)
    write_json(run / "norm.json", setup.norm.to_dict())

    curve: list[dict[str, float]] = []
    every = train_sec["checkpoint_every"]
    start = time.perf_counter()
    if total > done:
        model.learn(total_timesteps=total - done, callback=_callback(checkpoints, every, curve),
                    reset_num_timesteps=resume is None, tb_log_name="run")
    wall = time.perf_counter() - start
    with atomic_path(run / "model.zip") as tmp:
        model.save(tmp)
    stats = {"algo": algo.name, "timesteps": int(model.num_timesteps), "resumed_from": done,
             "wall_time_s": round(wall, 2), "steps_per_s": round((model.num_timesteps - done) / max(wall, 1e-9), 1),
             "curve": curve, "config_hash": key}
    write_json(run / "train_stats.json", stats)
    shutil.rmtree(run / "checkpoints", ignore_errors=True)
    return [run / "model.zip", run / "config.json", run / "norm.json", run / "train_stats.json", tb_dir]
