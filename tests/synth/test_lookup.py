"""The render_lookup stage: table layout, rows equal single renders, resume is exact."""

from __future__ import annotations

import signal
import subprocess
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import soundfile as sf
import yaml

from rlimpro.grid import row_index
from rlimpro.layout import CHUNKS_DIR
from rlimpro.lookup import _chunk_key, columns, lookup_settings, render_lookup, summarise
from rlimpro.params import load_params
from rlimpro.render import render_to_wav
from rlimpro.synth import load_synth

from tests.synth.conftest import RLIMPRO

pytestmark = pytest.mark.slow


def test_table_layout_and_row_equals_its_render(synth_project: Path) -> None:
    (out,) = render_lookup("sine", load_params(synth_project), synth_project)
    table = pd.read_parquet(out)
    assert list(table.columns) == columns(2)
    assert len(table) == 9 and np.isfinite(table.to_numpy()).all()
    assert not (synth_project / "00_synths" / "sine" / CHUNKS_DIR).exists()
    params = [1.0, 0.5]
    row = table.iloc[row_index(params, 3)]
    assert row[["p0", "p1"]].tolist() == params
    wav = synth_project / "point.wav"
    render_to_wav("sine", params, wav, root=synth_project)
    y, sr = sf.read(wav, dtype="float32")
    mine = summarise(y, sr=sr, window=1024, hop=512, settle_s=load_synth(out.parent).settle_s)
    np.testing.assert_allclose(mine, row.to_numpy()[2:], rtol=1e-9, atol=1e-9)


def test_resume_renders_only_missing_chunks_and_gives_the_same_table(synth_project: Path) -> None:
    folder = synth_project / "00_synths" / "sine"
    (out,) = render_lookup("sine", load_params(synth_project), synth_project)
    full = pd.read_parquet(out)
    # a run interrupted after the first chunk (4 points) left its file behind
    work = folder / CHUNKS_DIR / _chunk_key(folder, lookup_settings("sine", load_params(synth_project)))
    work.mkdir(parents=True)
    np.save(work / "chunk_00000.npy", full.iloc[:4, 2:].to_numpy())
    out.unlink()
    render_lookup("sine", load_params(synth_project), synth_project)
    pd.testing.assert_frame_equal(pd.read_parquet(out), full)
    # the finished chunk is reused, not re-rendered: a marked copy shows up in the table
    work.mkdir(parents=True)
    np.save(work / "chunk_00000.npy", full.iloc[:4, 2:].to_numpy() + 1000.0)
    render_lookup("sine", load_params(synth_project), synth_project)
    again = pd.read_parquet(out)
    np.testing.assert_array_equal(again.iloc[:4, 2:].to_numpy(), full.iloc[:4, 2:].to_numpy() + 1000.0)
    pd.testing.assert_frame_equal(again.iloc[4:], full.iloc[4:])


def test_killed_run_resumes_to_the_same_table_in_parallel(synth_project: Path) -> None:
    params_file = synth_project / "params.yaml"
    params = yaml.safe_load(params_file.read_text())
    params["render"] = {"chunk_size": 2, "workers": 1}
    params_file.write_text(yaml.safe_dump(params))
    folder = synth_project / "00_synths" / "granular"
    proc = subprocess.Popen([RLIMPRO, "render-lookup", "--synth", "granular"], cwd=synth_project,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 120
    while not list(folder.glob(f"{CHUNKS_DIR}/*/chunk_*.npy")) and proc.poll() is None and time.monotonic() < deadline:
        time.sleep(0.01)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    done = list(folder.glob(f"{CHUNKS_DIR}/*/chunk_*.npy"))
    assert 0 < len(done) < 8 and not (folder / "lookup.parquet").exists()
    params["render"]["workers"] = 2
    params_file.write_text(yaml.safe_dump(params))
    (out,) = render_lookup("granular", load_params(synth_project), synth_project)
    resumed = pd.read_parquet(out)
    out.unlink()
    params["render"]["workers"] = 1
    params_file.write_text(yaml.safe_dump(params))
    render_lookup("granular", load_params(synth_project), synth_project)
    pd.testing.assert_frame_equal(resumed, pd.read_parquet(out))
    assert len(resumed) == 16
    # granular grains are block-aligned, so its rows too equal single renders exactly
    wav = synth_project / "grains.wav"
    render_to_wav("granular", [0.0, 1.0, 1.0, 0.0], wav, root=synth_project)
    y, sr = sf.read(wav, dtype="float32")
    mine = summarise(y, sr=sr, window=1024, hop=512, settle_s=load_synth(folder).settle_s)
    np.testing.assert_array_equal(mine, resumed.iloc[row_index([0, 1, 1, 0], 2)].to_numpy()[4:])
