"""Junk for the Pd objects in a real batch Pd: ``[rlimpro_policy]`` and ``[rlimpro_features~]``.

A generated patch reads junk messages from a text file (one per line) and sends one per
logical millisecond while DSP runs: random lists, symbols, empty lists, wrong counts, ±inf
(``1e+39``) and NaN (``inf - inf``, made in the patch), ``set``/``reset``/``intent``/``calm``/``load``/
``select`` with junk, ``load`` of broken, missing and valid policies during DSP. ``[noise~]``
feeds ``[rlimpro_features~]``, whose lists go to ``[rlimpro_policy]`` between the junk. Every
list out of either object must be finite (the params in [0, 1]), every valid frame answered,
and Pd must reach the end of the patch and quit by itself.
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest

from rlimpro.live.play import EXTERNALS, FEATURES_EXTERNAL, POLICY_EXTERNAL
from rlimpro.pdrun import find_pd
from tests.fuzz import tally
from tests.live.conftest import FEATURES, N_PARAMS, build_policy, random_targets
from tools.make_zoo import make_zoo

pytestmark = pytest.mark.skipif(not (POLICY_EXTERNAL.is_file() and FEATURES_EXTERNAL.is_file()),
                                reason="run `make externals`")
MESSAGES = 1500
WORDS = ["x", "list", "bang", "symbol", "float", "pd", "set", "reset", "intent", "calm", "load", "info", "select", "nan", "inf",
         "-inf", "dsp", "loudness", "mfcc", "brightness"]
NUMBERS = ["0", "-0", "1", "0.5", "1e+39", "-1e+39", "1e-39", "3.4e+38", "-2e+07", "2e+07", "1e-45", "123456789"]


def junk_line(rng: np.random.Generator, valid: np.ndarray) -> tuple[str, bool]:
    """One message for the object's left inlet, and whether it is a valid target frame."""
    kind = int(rng.integers(12))
    atoms = lambda n: " ".join(rng.choice(NUMBERS + WORDS if rng.random() < 0.3 else NUMBERS, size=n))  # noqa: E731
    if kind == 0:
        return " ".join(f"{v:.6g}" for v in valid), True
    if kind == 1:
        return " ".join(rng.choice(NUMBERS, size=len(FEATURES))), False  # may still be a finite, valid frame: see below
    if kind == 2:
        return atoms(int(rng.integers(0, 8))) or "list", False
    if kind == 3:
        return f"set {atoms(int(rng.integers(0, 5)))}", False
    if kind == 4:
        return f"{rng.choice(['intent', 'calm'])} {atoms(int(rng.integers(0, 3)))}", False
    if kind == 5:
        return str(rng.choice(["load missing.onnx", "load without_metadata.onnx", "load wrong_inputs.onnx",
                               "load unsupported_op.onnx", "load not_a_model.onnx", "load policy.onnx", "load",
                               "load 1 2", "load ../../../../etc/passwd"])), False
    if kind == 6:
        return str(rng.choice(["reset", "reset 1 2", "info", "info x"])), False
    if kind == 7:
        return f"select {atoms(int(rng.integers(0, 4)))}", False
    if kind == 8:
        return f"{rng.choice(WORDS)} {atoms(int(rng.integers(0, 4)))}", False
    if kind == 9:
        return "list", False
    if kind == 10:
        return "nan-frame", False  # the patch sends inf - inf followed by valid floats
    return f"symbol {rng.choice(WORDS)}", False


def is_frame(line: str) -> bool:
    """Whether ``line`` is a list of F finite floats of norm ≤ 1e7 (what the object must answer)."""
    try:
        with np.errstate(over="ignore"):
            values = np.array([float(v) for v in line.split()], dtype=np.float32)
    except ValueError:
        return False
    finite = len(values) == len(FEATURES) and bool(np.isfinite(values).all())
    return finite and float(np.linalg.norm(values.astype(np.float64))) <= 1e7


PATCH = """#N canvas 0 50 900 600 12;
#X obj 10 10 loadbang;
#X obj 10 40 t b b b;
#X msg 200 70 read -c {junk};
#X obj 200 100 text define fuzz-junk;
#X obj 10 130 metro 1;
#X obj 10 160 f;
#X obj 50 160 + 1;
#X obj 10 190 moses {count};
#X obj 10 220 text get fuzz-junk;
#X obj 10 250 route nan-frame;
#X obj 10 280 t b;
#X msg 10 310 1e+39;
#X obj 10 340 - 1e+39;
#X obj 10 370 pack f {tail};
#X obj 200 310 list trim;
#X obj 300 430 {under_test};
#X obj 300 460 print out;
#X obj 500 460 print info;
#X obj 600 40 noise~;
#X obj 600 70 rlimpro_features~ {selection};
#X obj 100 220 print done;
#X msg 100 250 \\; pd dsp 0 \\; pd quit;
#X msg 500 10 \\; pd dsp 1;
#X connect 0 0 1 0;
#X connect 1 2 2 0;
#X connect 2 0 3 0;
#X connect 1 1 22 0;
#X connect 1 0 4 0;
#X connect 4 0 5 0;
#X connect 5 0 6 0;
#X connect 6 0 5 1;
#X connect 5 0 7 0;
#X connect 7 0 8 0;
#X connect 7 1 20 0;
#X connect 7 1 21 0;
#X connect 8 0 14 0;
#X connect 9 0 10 0;
#X connect 10 0 11 0;
#X connect 11 0 12 0;
#X connect 12 0 13 0;
#X connect 13 0 15 0;
#X connect 14 0 9 0;
#X connect 9 1 15 0;
#X connect 15 0 16 0;
#X connect 15 1 17 0;
#X connect 18 0 19 0;
{wiring}
"""

def run_pd(folder: Path, under_test: str, lines: list[str], feed: bool) -> tuple[list[list[float]], str, int]:
    """Play ``lines`` into ``[under_test]`` (``feed``: [rlimpro_features~]'s lists too); (lists out, console, exit code)."""
    junk = folder / "junk.txt"
    junk.write_text("\n".join(lines) + "\n")
    tail = " ".join(["0"] * (len(FEATURES) - 1))
    wiring = ["#X connect 19 0 15 0;"] if feed else []  # the analyser's lists into the object
    if under_test.startswith("rlimpro_features~"):
        wiring.append("#X connect 18 0 15 0;")  # the object under test hears the noise
    patch = PATCH.format(junk=junk, count=len(lines), tail=tail, under_test=under_test,
                         selection=" ".join(FEATURES), wiring="\n".join(wiring))
    (folder / "fuzz.pd").write_text(patch)
    proc = subprocess.run([find_pd(), "-nogui", "-nosound", "-noprefs", "-batch", "-path", str(EXTERNALS),
                           "-open", str(folder / "fuzz.pd")], capture_output=True, text=True, timeout=300)
    console = proc.stdout + proc.stderr
    outs = []
    for line in console.splitlines():
        if line.startswith("out:"):
            outs.append([float(v) for v in line.split()[1:]])
    return outs, console, proc.returncode


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    """The patch folder: the valid test policy and the zoo's broken ones beside it."""
    zoo = make_zoo(tmp_path / "zoo", long=False)
    build_policy(tmp_path / "policy.onnx")
    for case, name in (("onnx without metadata", "without_metadata"), ("onnx wrong inputs", "wrong_inputs"),
                       ("onnx unsupported op", "unsupported_op"), ("onnx not a model", "not_a_model")):
        shutil.copy(zoo[case], tmp_path / f"{name}.onnx")
    return tmp_path


@pytest.mark.parametrize("feed", [False, True], ids=["junk only", "junk during DSP with live lists"])
def test_policy_object_survives_junk(folder: Path, feed: bool) -> None:
    rng = np.random.default_rng(int(feed))
    frames = random_targets(MESSAGES, seed=3)
    lines = [junk_line(rng, frame) for frame in frames]
    outs, console, code = run_pd(folder, "rlimpro_policy policy.onnx", [line for line, _ in lines], feed)
    assert code == 0 and "done: " in console, console[-2000:]
    out = np.array(outs, dtype=np.float64).reshape(-1, N_PARAMS)
    assert np.isfinite(out).all() and (out >= 0).all() and (out <= 1).all()
    valid = sum(is_frame(line) for line, _ in lines)
    if feed:
        assert len(out) > valid  # the analyser's lists were answered too
    else:
        assert len(out) == valid, console[-3000:]  # every valid frame answered, nothing else
    tally.add("Pd messages fuzzed", len(lines))


def test_features_object_survives_junk(folder: Path) -> None:
    rng = np.random.default_rng(5)
    lines = [junk_line(rng, frame)[0] for frame in random_targets(MESSAGES // 2, seed=4)]
    outs, console, code = run_pd(folder, f"rlimpro_features~ {' '.join(FEATURES)}", lines, feed=False)
    assert code == 0 and "done: " in console, console[-2000:]
    assert outs, console[-2000:]  # it kept analysing (a `select` restarts its framing)
    for row in outs:
        assert len(row) >= 1 and np.isfinite(row).all(), row
    tally.add("Pd messages fuzzed", len(lines))
