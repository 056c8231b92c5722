"""Training: run folder contents, reproducibility, resume, and a tiny agent that tracks."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest

from rlimpro.evaluate import evaluate
from rlimpro.train import _Checkpoints, load_run, train


def _tiny(params: dict, steps: int) -> dict:
    params["train"].update(total_timesteps=steps, n_envs=4, checkpoint_every=10_000)
    params["train"]["algos"]["avi"].update(learning_starts=200, buffer_size=5000)
    params["env"]["episode_steps"] = 64
    return params


def _copy(toy_project: Path, dest: Path) -> Path:
    shutil.copytree(toy_project, dest)
    return dest


@pytest.mark.slow
def test_seeded_run_is_reproducible(toy_project: Path, params: dict, tmp_path: Path) -> None:
    _tiny(params, 1500)
    outputs = []
    for name in ("a", "b"):
        root = _copy(toy_project, tmp_path / name)
        train("toy", params, root)
        run = load_run(root / "00_synths/toy/runs/main")
        obs = np.random.default_rng(0).uniform(-1, 1, size=(32, run.config["obs_dim"])).astype(np.float32)
        q = run.load_model().q_net(__import__("torch").as_tensor(obs)).detach().numpy()
        outputs.append(q)
    np.testing.assert_array_equal(outputs[0], outputs[1])


@pytest.mark.slow
def test_run_folder_and_resume(toy_project: Path, params: dict, tmp_path: Path) -> None:
    _tiny(params, 1000)
    root = _copy(toy_project, tmp_path / "p")
    paths = train("toy", params, root)
    run_dir = root / "00_synths/toy/runs/main"
    assert {p.name for p in paths} == {"model.zip", "config.json", "norm.json", "train_stats.json", "tensorboard"}
    assert not (run_dir / "checkpoints").exists() and any((run_dir / "tensorboard").rglob("events.*"))
    run = load_run(run_dir)
    assert run.algo == "avi" and run.env.action_space == "discrete" and run.config["n_params"] == 3
    assert run.norm.features == run.env.features and run.table_path == "00_synths/toy/lookup.parquet"
    assert len(run.table_sha256) == 64 and run.config["step"] == pytest.approx(1 / 5)

    # an interrupted run leaves a checkpoint keyed by its config; the next call resumes from it
    stats = json.loads((run_dir / "train_stats.json").read_text())
    _Checkpoints(run_dir / "checkpoints", stats["config_hash"]).save(run.load_model())
    params["train"]["total_timesteps"] = 1500  # a longer budget resumes the same config
    train("toy", params, root)
    stats = json.loads((run_dir / "train_stats.json").read_text())
    assert stats["resumed_from"] == 1000 and stats["timesteps"] == 1500


@pytest.mark.slow
def test_tiny_agent_beats_random_and_hold(toy_project: Path, params: dict, tmp_path: Path) -> None:
    _tiny(params, 15_000)
    # the toy corpus jumps about at random: at the shipped (calm) costs holding still is nearly as good
    params["env"].update(move_cost=0.3, reversal_cost=0.1)
    root = _copy(toy_project, tmp_path / "p")
    train("toy", params, root)
    written = evaluate("toy", params, root)
    metrics = json.loads(written[0].read_text())
    overall = {k: v["nrmse"] for k, v in metrics["overall"].items()}
    assert set(overall) == {"agent", "random", "hold", "greedy", "greedy_hysteresis", "lookahead", "seek", "oracle"}
    assert metrics["settings"]["move_cost"] == params["env"]["move_cost"] and metrics["settings"]["hysteresis_threshold"] >= 0
    assert set(metrics["per_feature"]) == set(load_run(root / "00_synths/toy/runs/main").env.features)
    assert overall["agent"] < overall["random"] and overall["agent"] < overall["hold"], overall
    assert overall["oracle"] <= min(overall.values())
    for name, entry in metrics["overall"].items():  # the musical measures beside nrmse
        assert list(entry) == ["nrmse", "nrmse_smooth", "moves_per_s", "reversals_per_s", "lag_frames"], name
    assert metrics["overall"]["hold"]["moves_per_s"] == 0 and metrics["overall"]["hold"]["lag_frames"] is None
    assert metrics["overall"]["agent"]["moves_per_s"] <= 44100 / 512
    assert all(p.exists() for p in written) and (root / "00_synths/toy/eval/trajectories.png").stat().st_size > 1000
    assert (root / "00_synths/toy/eval/musical.png").stat().st_size > 1000


def test_cli_reports_a_missing_run_in_one_line(toy_project: Path, tmp_path: Path) -> None:
    import subprocess
    import sys

    root = _copy(toy_project, tmp_path / "p")
    shutil.copy(Path(__file__).resolve().parents[2] / "params.yaml", root / "params.yaml")
    result = subprocess.run([sys.executable, "-m", "rlimpro", "evaluate", "--synth", "toy"], cwd=root,
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 1
    lines = result.stderr.strip().splitlines()
    assert len(lines) <= 3 and "not a run folder" in lines[0] and "Traceback" not in result.stderr
