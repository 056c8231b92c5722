"""The bad-input zoo (tools/make_zoo.py) through the real CLI: every entry point, every bad file.

Each bad file gives a short error (at most 3 lines, no traceback) naming the file, a non-zero
exit, and leaves no file behind (no half-written artifact, no temporary file). Odd but valid
inputs (64 channels, 8 and 192 kHz, 3 hours) are analysed, the long one streamed.
"""

from __future__ import annotations

import os
import resource
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from rlimpro.descriptors import n_frames, native
from tests.fuzz import tally
from tools.make_zoo import LONG_SECONDS, make_zoo

REPO = Path(__file__).resolve().parents[2]
RLIMPRO = str(Path(sys.executable).parent / "rlimpro")

#: a command's args with {file} for the zoo file, and the text the error must contain ({name}: the file's name)
AUDIO_ERRORS = ("empty", "not audio", "truncated", "nan samples")
AUDIO_OK = ("64 channels", "8 kHz", "192 kHz")
SYNTHS = {"broken patch": "couldn't create", "not a patch": "not a Pd patch", "silent synth": "silent",
          # tabwrite~ (Pd's PD_BIGORSMALL) turns NaN into 0 before the harness sees it: a NaN synth is "silent"
          "NaN synth": "silent", "no inlet": "needs exactly one inlet", "signal inlet": "needs exactly one inlet"}
ONNX = {"onnx wrong inputs": "inputs are", "onnx without metadata": "metadata_props lacks",
        "onnx unsupported op": "not a loadable ONNX model", "onnx not a model": "not a loadable ONNX model"}
PARAMS = {"params unknown key": (["analyze-corpus", "--corpus", "demo"], "trian: unknown key"),
          "params unknown feature": (["analyze-corpus", "--corpus", "demo"], "unknown feature 'brightness'"),
          "params wrong type": (["analyze-corpus", "--corpus", "demo"], "render.chunk_size = 'many'"),
          "params not yaml": (["analyze-corpus", "--corpus", "demo"], "not valid YAML"),
          "params missing synth": (["render-lookup", "--synth", "nosuchsynth"], "nosuchsynth"),
          "params grid explodes": (["render-lookup", "--synth", "fm"], "grid points")}


@pytest.fixture(scope="module")
def zoo(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    return make_zoo(tmp_path_factory.mktemp("zoo"))


def files_under(folder: Path) -> set[Path]:
    """Every file below ``folder`` (hidden and temporary ones included)."""
    return {p for p in folder.rglob("*") if p.is_file()}


def refused(args: list[str], cwd: Path, watch: Path, name: str, says: str) -> None:
    """Run ``rlimpro ARGS``: exit 1, ≤ 3 lines naming ``name`` and saying ``says``, no traceback, no new file in ``watch``."""
    before = files_under(watch)
    run = subprocess.run([RLIMPRO, *args], cwd=cwd, capture_output=True, text=True, timeout=300)
    said = (run.stdout + run.stderr).strip()
    assert run.returncode == 1, said
    assert "Traceback" not in said and len(said.splitlines()) <= 3, said
    assert name in said and says in said, said
    assert files_under(watch) == before, f"left behind: {files_under(watch) - before}"
    tally.add("bad files tried")


@pytest.mark.parametrize("case", AUDIO_ERRORS)
def test_bad_audio_to_analyze(zoo: dict[str, Path], tmp_path: Path, case: str) -> None:
    audio = zoo[case]
    refused(["analyze", str(audio), "-o", str(tmp_path / "out.csv")], tmp_path, tmp_path, audio.name, "")


@pytest.mark.parametrize("case", AUDIO_ERRORS)
def test_bad_audio_to_listen_file(zoo: dict[str, Path], tmp_path: Path, case: str) -> None:
    from tests.live.conftest import build_policy

    audio, policy = zoo[case], build_policy(tmp_path / "policy.onnx")
    refused(["serve", str(policy), "--listen-file", str(audio), "--fast", "--port", "0"], tmp_path, tmp_path,
            audio.name, "")


@pytest.mark.parametrize("case", AUDIO_OK)
def test_odd_but_valid_audio_is_analysed(zoo: dict[str, Path], tmp_path: Path, case: str) -> None:
    out = tmp_path / "out.csv"
    run = subprocess.run([RLIMPRO, "analyze", str(zoo[case]), "-o", str(out)], capture_output=True, text=True, timeout=300)
    assert run.returncode == 0, run.stderr
    table = np.loadtxt(out, delimiter=",", skiprows=1, usecols=range(1, 58))
    assert len(table) > 10 and np.isfinite(table).all()
    tally.add("bad files tried")


@pytest.mark.slow
@pytest.mark.skipif(not native.available(), reason="run `make native`: the long file is streamed through the C core")
@pytest.mark.skipif(not os.environ.get("RLIMPRO_FUZZ_LONG"), reason="about 2 minutes: set RLIMPRO_FUZZ_LONG=1")
def test_three_hours_are_streamed(zoo: dict[str, Path], project: Path) -> None:
    """A 3-hour recording (0.9 GB of 16-bit PCM; 1.9 GB as float32 if loaded whole) is analysed
    with memory for the table only."""
    audio = project / "01_corpus" / "long" / "audio"
    audio.mkdir(parents=True)
    shutil.copy(zoo["3 hours"], audio / "take.wav")  # copied as written: sparse where the file system allows
    run = subprocess.run([RLIMPRO, "analyze-corpus", "--corpus", "long"], cwd=project, capture_output=True, text=True,
                         timeout=600)
    assert run.returncode == 0, run.stderr
    peak_gb = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 2**20
    assert peak_gb < 3.0, f"peak memory {peak_gb:.2f} GB: the recording was loaded whole (4.1 GB)"
    from rlimpro.corpus import load_track

    table = load_track(project / "01_corpus" / "long" / "features" / "take.parquet", ["loudness"])
    assert len(table) == n_frames(LONG_SECONDS * 44100) and (table == -150).all()  # silence: the floor
    tally.add("bad files tried")


@pytest.mark.parametrize("case", SYNTHS)
def test_bad_synth_patches(zoo: dict[str, Path], case: str) -> None:
    patch = zoo[case]
    refused(["check-synth", str(patch)], patch.parent, patch.parent.parent, f"{patch.parent.name}/synth.pd", SYNTHS[case])


@pytest.mark.parametrize("case", ONNX)
def test_bad_policies_to_serve(zoo: dict[str, Path], tmp_path: Path, case: str) -> None:
    refused(["serve", str(zoo[case]), "--port", "0"], tmp_path, zoo[case].parent, zoo[case].name, ONNX[case])


@pytest.mark.parametrize("case", PARAMS)
def test_bad_params_yaml(zoo: dict[str, Path], project: Path, case: str) -> None:
    args, says = PARAMS[case]
    shutil.copy(zoo[case], project / "params.yaml")
    refused(args, project, project, "params.yaml" if case != "params missing synth" else "nosuchsynth", says)


@pytest.mark.parametrize("case", ["parquet cut in half", "parquet junk"])
def test_damaged_features_are_analysed_again(zoo: dict[str, Path], project: Path, case: str) -> None:
    """A damaged features file is not trusted on a re-run: it is analysed again, identical."""
    features = project / "01_corpus" / "demo" / "features"
    run = lambda: subprocess.run([RLIMPRO, "analyze-corpus", "--corpus", "demo"], cwd=project,  # noqa: E731
                                 capture_output=True, text=True, timeout=600)
    assert run().returncode == 0
    good = (features / "flute.parquet").read_bytes()
    shutil.copy(zoo[case], features / "flute.parquet")
    second = run()
    assert second.returncode == 0, second.stderr
    assert (features / "flute.parquet").read_bytes() == good
    tally.add("bad files tried")


def test_damaged_features_read_by_training_are_one_line(zoo: dict[str, Path], project: Path) -> None:
    from rlimpro.corpus import load_track
    from rlimpro.errors import RlimproError

    with pytest.raises(RlimproError, match=r"^cut.parquet: not a readable features file .*; delete it and run"):
        load_track(zoo["parquet cut in half"])
    tally.add("bad files tried")


@pytest.mark.parametrize("case", ["parquet cut in half", "parquet junk"])
def test_damaged_lookup_to_train(zoo: dict[str, Path], project: Path, case: str) -> None:
    shutil.copy(zoo[case], project / "00_synths" / "sine" / "lookup.parquet")
    refused(["train", "--synth", "sine"], project, project / "00_synths", "lookup.parquet", "re-render")
