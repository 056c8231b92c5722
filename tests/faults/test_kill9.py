"""kill -9 in the middle of corpus analysis, lookup rendering, training and export: the re-run
resumes, and the artifacts are byte-identical to an uninterrupted run's, with no temporary file,
lock or scratch folder left behind."""

from __future__ import annotations

import shutil
import time
from pathlib import Path

import pytest
import yaml

from tests.faults.faults import kill_when, leftovers, run_ok, snapshot

pytestmark = pytest.mark.slow


def _set(project: Path, **sections: dict) -> Path:
    """Merge ``sections`` into the project's params.yaml."""
    path = project / "params.yaml"
    params = yaml.safe_load(path.read_text())
    for name, values in sections.items():
        params[name] = {**params.get(name, {}), **values} if isinstance(values, dict) else values
    path.write_text(yaml.safe_dump(params, sort_keys=False))
    return project


def _twin(project: Path) -> Path:
    """A second copy of ``project`` beside it (the uninterrupted run)."""
    return Path(shutil.copytree(project, project.parent / "uninterrupted"))


def test_corpus_analysis_killed(project: Path) -> None:
    _set(project, corpus={"workers": 1})
    clean = _twin(project)
    features = project / "01_corpus" / "demo" / "features"
    kill_when(["analyze-corpus", "--corpus", "demo"], project, lambda: any(features.glob("*.parquet")))
    done_before = len(list(features.glob("*.parquet")))
    out = run_ok(["analyze-corpus", "--corpus", "demo"], project)
    run_ok(["analyze-corpus", "--corpus", "demo"], clean)
    assert 0 < done_before < 8, "killed before or after the analysis"
    assert "8 tracks" in out
    corpus = Path("01_corpus") / "demo"
    assert snapshot(project / corpus) == snapshot(clean / corpus)
    assert leftovers(project) == []


def test_lookup_rendering_killed(project: Path) -> None:
    _set(project, synth={"sine": {"subdiv": 3}}, render={"chunk_size": 2, "workers": 1})
    clean = _twin(project)
    chunks = project / "00_synths" / "sine" / ".lookup_chunks"
    kill_when(["render-lookup", "--synth", "sine"], project, lambda: any(chunks.rglob("chunk_*.npy")))
    run_ok(["render-lookup", "--synth", "sine"], project)
    run_ok(["render-lookup", "--synth", "sine"], clean)
    table = Path("00_synths") / "sine" / "lookup.parquet"
    assert (project / table).read_bytes() == (clean / table).read_bytes()
    assert leftovers(project) == []


def _toy(root: Path) -> Path:
    """A synthetic project (rlimpro.env.synthetic) set up for a tiny, checkpointed training."""
    from rlimpro.env.synthetic import write_synthetic_project
    from rlimpro.settings import defaults

    write_synthetic_project(root, synth="toy", n_params=3, subdiv=6, n_tracks=4, frames=300)
    params = defaults()
    params.update(corpora=["demo"], synths=["toy"], synth={"toy": {"subdiv": 6}})
    params["train"].update(total_timesteps=1000, n_envs=4, checkpoint_every=250)
    params["train"]["algos"]["avi"].update(learning_starts=200, buffer_size=5000)
    params["env"]["episode_steps"] = 64
    params["export"]["check"] = 200
    (root / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))
    return root


def _export(root: Path) -> bytes:
    run_ok(["export", "00_synths/toy/runs/main", "-o", "policy.onnx"], root)
    return (root / "policy.onnx").read_bytes()


@pytest.fixture(scope="module")
def trained(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, bytes]:
    """An uninterrupted seeded run of the toy project, and its exported policy's bytes."""
    root = _toy(tmp_path_factory.mktemp("uninterrupted"))
    run_ok(["train", "--synth", "toy"], root)
    return root, _export(root)


@pytest.fixture
def toy(tmp_path: Path) -> Path:
    return _toy(tmp_path / "toy")


def test_training_killed_after_a_checkpoint(toy: Path, trained: tuple[Path, bytes]) -> None:
    """The re-run resumes from the checkpoint (model and replay buffer) to the uninterrupted policy."""
    checkpoints = toy / "00_synths" / "toy" / "runs" / "main" / "checkpoints"
    kill_when(["train", "--synth", "toy"], toy, lambda: any(checkpoints.rglob("*.zip")))
    run_ok(["train", "--synth", "toy"], toy)
    assert leftovers(toy) == []
    assert _export(toy) == trained[1]


def test_export_killed(trained: tuple[Path, bytes], tmp_path: Path) -> None:
    root = Path(shutil.copytree(trained[0], tmp_path / "copy"))
    (root / "policy.onnx").unlink()
    start = time.monotonic()
    reference = _export(root)
    took = time.monotonic() - start
    assert reference == trained[1]
    (root / "policy.onnx").unlink()
    begun = time.monotonic()
    # mid-write (the atomic writer's temporary file is there), or else halfway through: a loaded
    # machine makes the export's time vary too much for a fixed share of it to land before the end
    kill_when(["export", "00_synths/toy/runs/main", "-o", "policy.onnx"], root,
              lambda: any(root.glob(".policy.onnx.*")) or time.monotonic() - begun > 0.5 * took)
    assert not (root / "policy.onnx").exists() or (root / "policy.onnx").read_bytes() == reference
    assert _export(root) == reference
    assert leftovers(root) == []
