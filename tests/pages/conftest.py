"""A small synthetic project for the page tests, and a real headless browser to open the pages in.

The project ``toy`` is a 2-parameter synth (the shipped sine patch under another name, so clips
are real Pd renders) over a synthetic 6x6 lookup table and a 4-track synthetic corpus, with a
contract-following test policy (``tests/live/conftest.py``), a hand-made run folder (TensorBoard
events written by tensorboard's own writer, train_stats.json, config.json) and evaluation
files. The browser is Debian's chromium driven by playwright (``executable_path``).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import soundfile as sf
import yaml

REPO = Path(__file__).resolve().parents[2]
CHROMIUM = Path("/usr/bin/chromium")
SYNTH = "toy"
SUBDIV = 6


def rlimpro(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    """Run the ``rlimpro`` command in ``cwd`` (output captured)."""
    env = {**os.environ, "COLUMNS": "200"}
    return subprocess.run([sys.executable, "-m", "rlimpro", *args], cwd=cwd, capture_output=True, text=True, env=env,
                          timeout=600)


def write_params(root: Path, synth: str, subdiv: int) -> None:
    from rlimpro.settings import defaults

    params = defaults()
    params.update(corpora=["demo"], synths=[synth], synth={synth: {"subdiv": subdiv}})
    (root / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))


def heldout(root: Path) -> str:
    """The first held-out track of the project (as the env splits it)."""
    from rlimpro.env.targets import split_tracks
    from rlimpro.settings import defaults

    stems = sorted(p.stem for p in (root / "01_corpus" / "demo" / "features").glob("*.parquet"))
    h = defaults()["env"]["heldout"]
    return split_tracks(stems, h["fraction"], h["seed"])[1][0]


def write_events(folder: Path, curves: dict[str, list[tuple[int, float]]]) -> None:
    """TensorBoard scalar events, written by tensorboard's event file writer."""
    from tensorboard.compat.proto import event_pb2, summary_pb2
    from tensorboard.summary.writer.event_file_writer import EventFileWriter

    writer = EventFileWriter(str(folder))
    for tag, points in curves.items():
        for step, value in points:
            value_pb = summary_pb2.Summary.Value(tag=tag, simple_value=value)
            writer.add_event(event_pb2.Event(step=step, wall_time=time.time(), summary=summary_pb2.Summary(value=[value_pb])))
    writer.close()


CURVES = {"rlimpro/distance": [(1000, 1.2), (2000, 0.7), (3000, 0.5)], "train/loss": [(1000, 0.3), (2000, 0.1), (3000, 0.05)]}
POLICIES = ["agent", "random", "hold", "greedy", "oracle"]


def write_run(root: Path, synth: str) -> None:
    """A finished run's files: config, training stats, TensorBoard events, evaluation."""
    run = root / "00_synths" / synth / "runs" / "main"
    (run / "tensorboard" / "run_1").mkdir(parents=True)
    config = {"synth": synth, "algo": "avi", "action_space": "discrete", "features": ["loudness", "centroid", "flatness"],
              "n_params": 2, "corpus": "demo", "env": {"corpus": "demo", "heldout_tracks": [heldout(root)]}}
    (run / "config.json").write_text(json.dumps(config))
    (run / "train_stats.json").write_text(json.dumps({"timesteps": 3000, "wall_time_s": 12.5, "steps_per_s": 240.0}))
    write_events(run / "tensorboard" / "run_1", CURVES)
    out = root / "00_synths" / synth / "eval"
    out.mkdir(parents=True)
    overall = {p: {"nrmse": 0.2 + 0.1 * k, "moves_per_s": 10.0 * k, "lag_frames": None if p == "hold" else k,
                   "future_measure": 1.5 * k} for k, p in enumerate(POLICIES)}
    metrics = {"overall": overall, "per_feature": {"loudness": {p: 0.1 * (k + 1) for k, p in enumerate(POLICIES)}}}
    (out / "metrics.json").write_text(json.dumps(metrics))
    (out / "ratios.json").write_text(json.dumps({p: 1.0 + k for k, p in enumerate(POLICIES)}))


def make_project(root: Path, *, synth: str = SYNTH, subdiv: int = SUBDIV, run: bool = True) -> Path:
    """The toy project in ``root`` (see the module docstring)."""
    from rlimpro.env.synthetic import write_synthetic_project

    sys.path.insert(0, str(REPO))
    from tests.live.conftest import build_policy

    write_synthetic_project(root, synth=synth, n_params=2, subdiv=subdiv, n_tracks=4, frames=240)
    folder = root / "00_synths" / synth
    shutil.copy(REPO / "00_synths" / "sine" / "synth.pd", folder / "synth.pd")
    spec = yaml.safe_load((REPO / "00_synths" / "sine" / "synth.yaml").read_text())
    spec["name"] = synth
    (folder / "synth.yaml").write_text(yaml.safe_dump(spec))
    write_params(root, synth, subdiv)
    audio = root / "01_corpus" / "demo" / "audio"
    audio.mkdir(parents=True)
    t = np.arange(int(2.0 * 44100)) / 44100
    sf.write(audio / f"{heldout(root)}.wav", 0.3 * np.sin(2 * np.pi * 440 * t * (1 + t / 4)), 44100)
    build_policy(folder / "policy.onnx", synth=synth)
    if run:
        write_run(root, synth)
    return root


@pytest.fixture(scope="session")
def toy(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The toy project (built once per session; tests that change it copy it first)."""
    return make_project(tmp_path_factory.mktemp("pages") / "project")


@pytest.fixture(scope="session")
def toy_pages(toy: Path) -> Path:
    """The toy project after ``rlimpro map`` and ``rlimpro report`` (the DAG stages, no -o)."""
    for command in ("map", "report"):
        done = rlimpro(command, "--synth", SYNTH, cwd=toy)
        assert done.returncode == 0, done.stderr
    return toy


class Browser:
    """Pages opened in one headless chromium, each watched for console errors."""

    def __init__(self, browser: Any) -> None:
        self.browser = browser

    def open(self, path: Path) -> tuple[Any, list[str]]:
        """Open a page from disk; return it and the (live) list of console errors and page errors."""
        page = self.browser.new_page(viewport={"width": 1200, "height": 900})
        errors: list[str] = []
        page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
        page.on("pageerror", lambda e: errors.append(str(e)))
        page.on("requestfailed", lambda r: errors.append(f"failed to load {r.url}"))
        page.goto(path.resolve().as_uri())
        return page, errors


@pytest.fixture(scope="session")
def browser() -> Iterator[Browser]:
    """Debian's chromium (``make system``), headless, driven by playwright."""
    if not CHROMIUM.is_file():
        pytest.fail("chromium not installed: run `make system` (Debian package chromium)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        chromium = p.chromium.launch(executable_path=str(CHROMIUM), headless=True,
                                     args=["--no-sandbox", "--autoplay-policy=no-user-gesture-required"])
        yield Browser(chromium)
        chromium.close()
