"""Fixtures for the synth tests: a temp project with tiny lookup grids."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
import yaml

#: the rlimpro script of the venv running the tests
RLIMPRO = str(Path(sys.executable).parent / "rlimpro")


@pytest.fixture
def synth_project(project: Path) -> Path:
    """The project copy with 2-3 values per parameter and 4-point chunks, one worker."""
    path = project / "params.yaml"
    params = yaml.safe_load(path.read_text())
    params["synth"] = {"sine": {"subdiv": 3}, "fm": {"subdiv": 2}, "granular": {"subdiv": 2}, "subtractive": {"subdiv": 2}}
    params["render"] = {"chunk_size": 4, "workers": 1}
    path.write_text(yaml.safe_dump(params, sort_keys=False))
    return project


def broken_synth(root: Path, name: str, body: str) -> Path:
    """Write ``root/name/synth.pd`` with the given Pd records (after the canvas header)."""
    folder = root / name
    folder.mkdir(parents=True)
    (folder / "synth.pd").write_text("#N canvas 0 50 450 300 12;\n" + body)
    return folder / "synth.pd"
