"""Shared fixtures: known-answer signals and a throw-away copy of the project."""

from __future__ import annotations

import rlimpro  # noqa: F401  (first: pins BLAS to one thread before numpy loads, as the CLI does)

import shutil
from pathlib import Path

import numpy as np
import pytest

REPO = Path(__file__).resolve().parent.parent
SR = 44100


def sine(freq: float, amp: float = 0.5, seconds: float = 1.0, sr: int = SR, phase: float = 0.0) -> np.ndarray:
    """A sine wave of peak amplitude ``amp``."""
    t = np.arange(int(seconds * sr)) / sr
    return amp * np.sin(2 * np.pi * freq * t + phase)


def saw(freq: float, amp: float = 0.5, seconds: float = 1.0, sr: int = SR) -> np.ndarray:
    """A band-limited sawtooth (additive, partials below Nyquist)."""
    t = np.arange(int(seconds * sr)) / sr
    k = np.arange(1, int(sr / 2 / freq))
    return amp * (2 / np.pi) * (np.sin(2 * np.pi * freq * np.outer(t, k)) / k).sum(axis=1)


@pytest.fixture
def project(tmp_path: Path) -> Path:
    """A copy of the project's inputs (params, DAG, package sources, synths, demo audio) in tmp."""
    root = tmp_path / "project"
    root.mkdir()
    for name in ("params.yaml", "dvc.yaml", "pyproject.toml"):
        if (REPO / name).exists():
            shutil.copy(REPO / name, root / name)
    ignore = shutil.ignore_patterns("__pycache__", "*.pyc", "features", "summary.json", "lookup.parquet",
                                    "runs", "eval", "*.onnx", ".lookup_chunks", "*.o", "*.pd_linux")
    for name in ("rlimpro", "00_synths", "01_corpus", "pd_externals", "native"):
        if (REPO / name).exists():
            shutil.copytree(REPO / name, root / name, ignore=ignore)
    return root


@pytest.fixture(scope="session")
def shipped_params() -> dict:
    """The repository's params.yaml, validated (never written): for tests of the shipped DAG."""
    from rlimpro.params import load_params

    return load_params(REPO)


@pytest.fixture
def params() -> dict:
    """The schema's defaults (:func:`rlimpro.settings.defaults`), a fresh copy a test may change."""
    from rlimpro.settings import defaults

    return defaults()


@pytest.fixture(scope="session")
def toy_project(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A temp project with a 3-param, 6-subdiv synthetic 'toy' synth and a 4-track corpus."""
    from rlimpro.env.synthetic import write_synthetic_project

    return write_synthetic_project(tmp_path_factory.mktemp("proj"), synth="toy", n_params=3, subdiv=6,
                                   n_tracks=4, frames=300)
