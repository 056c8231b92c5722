"""The `rlimpro` command as a user runs it: a real subprocess, real files."""

from __future__ import annotations

import csv
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
import typer

from rlimpro.cli import app
from rlimpro.descriptors import NAMES
from tests.conftest import sine

RLIMPRO = [sys.executable, "-m", "rlimpro"]


def run(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*RLIMPRO, *args], cwd=cwd, capture_output=True, text=True, timeout=120)


def test_analyze_writes_physically_right_csv(tmp_path):
    sf.write(tmp_path / "tone.wav", sine(1000, 0.1, seconds=2), 44100)
    result = run("analyze", "tone.wav", "-o", "x.csv", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    with open(tmp_path / "x.csv") as f:
        rows = list(csv.DictReader(f))
    assert list(rows[0]) == ["file", "time", *NAMES]
    assert rows[0]["file"] == "tone.wav"
    assert float(rows[0]["time"]) == pytest.approx(512 / 44100, abs=1e-6)
    assert len(rows) == 1 + (2 * 44100 - 1024) // 512
    assert np.median([float(r["loudness"]) for r in rows]) == pytest.approx(-23.0, abs=0.1)
    assert np.median([float(r["pitch"]) for r in rows]) == pytest.approx(1000, rel=0.005)


def test_bad_file_gives_one_line_each_and_nonzero_exit(tmp_path):
    sf.write(tmp_path / "good.wav", sine(440), 44100)
    (tmp_path / "bad.wav").write_text("not audio")
    result = run("analyze", "good.wav", "bad.wav", "missing.flac", "-o", "x.csv", cwd=tmp_path)
    assert result.returncode == 1
    assert "Traceback" not in result.stderr
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert any(line.startswith("skipped: bad.wav:") for line in lines)
    assert any("missing.flac" in line and "no such file" in line for line in lines)
    assert lines[-1].startswith("error: 2 of 3 files")
    assert (tmp_path / "x.csv").read_text().count("good.wav") > 10


def test_user_error_is_short_and_verbose_shows_the_traceback(tmp_path):
    result = run("analyze-corpus", "--corpus", "nope", cwd=tmp_path)
    assert result.returncode == 1
    assert len(result.stderr.strip().splitlines()) <= 3
    assert "params.yaml" in result.stderr and "Traceback" not in result.stderr
    verbose = run("--verbose", "analyze-corpus", "--corpus", "nope", cwd=tmp_path)
    assert "Traceback" in verbose.stderr


def test_every_command_explains_itself(tmp_path):
    top = run("--help", cwd=tmp_path)
    assert top.returncode == 0
    commands = sorted(typer.main.get_command(app).commands)
    assert {"analyze", "analyze-corpus"} <= set(commands)
    for command in commands:
        page = run(command, "--help", cwd=tmp_path)
        assert page.returncode == 0 and "Usage" in page.stdout, command
