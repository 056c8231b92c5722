"""A real `dvc repro` of the corpus stage in a throw-away git repository."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow


def dvc(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "DVC_NO_ANALYTICS": "1", "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}"}
    return subprocess.run([sys.executable, "-m", "dvc", *args], cwd=cwd, env=env, capture_output=True, text=True, timeout=600)


def test_repro_analyses_the_demo_corpus_then_does_nothing(project):
    subprocess.run(["git", "init", "-q"], cwd=project, check=True)
    assert dvc("init", "-q", cwd=project).returncode == 0
    first = dvc("repro", "analyze_corpus", cwd=project)
    assert first.returncode == 0, first.stderr
    features = project / "01_corpus" / "demo" / "features"
    tracks = sorted(p.stem for p in (project / "01_corpus" / "demo" / "audio").iterdir())
    assert sorted(p.stem for p in features.glob("*.parquet")) == tracks
    assert (project / "01_corpus" / "demo" / "summary.json").is_file()
    second = dvc("repro", "analyze_corpus", cwd=project)
    assert second.returncode == 0
    assert "didn't change, skipping" in second.stdout
    assert "Running stage" not in second.stdout
