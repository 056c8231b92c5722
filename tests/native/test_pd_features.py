"""[rlimpro_features~] in a real batch Pd: frame for frame the C core's frames, the grammar, bad input."""

from __future__ import annotations

import subprocess
from pathlib import Path

import numpy as np
import pytest
from tests.native.pd_probe import FEATURES_EXTERNAL, pd_features
from tests.native.signals import stress_signals

from rlimpro.audio import load_audio
from rlimpro.descriptors import NAMES, compute, select
from rlimpro.descriptors.parity import failing
from rlimpro.live.play import EXTERNALS
from rlimpro.pdrun import find_pd

REPO = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.skipif(not FEATURES_EXTERNAL.is_file(), reason="run `make externals`")


def _same_frames(pd: np.ndarray, y: np.ndarray) -> None:
    """Pd's lists are the C core's frames (float32, bit for bit) and meet the numpy tolerances."""
    c = compute(y, engine="c")
    assert len(pd) >= len(c), f"Pd sent {len(pd)} lists for {len(c)} frames"
    np.testing.assert_array_equal(pd[: len(c)], c.astype(np.float32))
    assert failing(pd[: len(c)].astype(np.float64), compute(y, engine="numpy")) == {}


def test_list_i_is_offline_frame_i_on_a_recording(tmp_path: Path) -> None:
    y = load_audio(REPO / "01_corpus" / "demo" / "audio" / "violin.ogg")[: 44100 * 6]
    pd, console = pd_features(y, tmp_path)
    _same_frames(pd, y)


@pytest.mark.parametrize("name", ["noise", "gated sine", "chirp 30 Hz-18 kHz"])
def test_list_i_is_offline_frame_i_on_stress_signals(name: str, tmp_path: Path) -> None:
    y = stress_signals()[name]
    pd, _ = pd_features(y, tmp_path)
    _same_frames(pd, y)


def test_the_selection_grammar_gives_table_order(tmp_path: Path) -> None:
    y = stress_signals()["vibrato harmonics"][:20000]
    selection = ["specshape", "mfcc_3", "loudness"]  # asked out of order
    pd, _ = pd_features(y, tmp_path, selection=selection)
    columns = [NAMES.index(n) for n in select(selection)]
    assert pd.shape[1] == 9
    c = compute(y, engine="c")
    np.testing.assert_array_equal(pd[: len(c)], c[:, columns].astype(np.float32))


def _console(tmp_path: Path, objects: list[str], rate: int = 44100) -> str:
    """Pd's console for a patch holding ``objects`` (DSP on for a moment, then quit)."""
    patch = tmp_path / "bad.pd"
    lines = ["#N canvas 0 0 400 300 12;"] + [f"#X obj 10 {10 + 30 * i} {o};" for i, o in enumerate(objects)]
    lines += [f"#X obj 200 10 loadbang;", f"#X msg 200 40 \\; pd dsp 1;", f"#X obj 200 70 del 50;",
              f"#X msg 200 100 \\; pd quit;"]
    n = len(objects)
    lines += [f"#X connect {n} 0 {n + 1} 0;", f"#X connect {n} 0 {n + 2} 0;", f"#X connect {n + 2} 0 {n + 3} 0;"]
    patch.write_text("\n".join(lines) + "\n")
    proc = subprocess.run([find_pd(), "-nogui", "-nosound", "-noprefs", "-batch", "-r", str(rate), "-path", str(EXTERNALS),
                           "-open", str(patch)], capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stdout + proc.stderr  # Pd kept running and quit normally
    return proc.stdout + proc.stderr


def test_an_unknown_name_gives_one_line_listing_the_valid_ones(tmp_path: Path) -> None:
    console = _console(tmp_path, ["rlimpro_features~ loudness centroyd", "rlimpro_features~ 3", "rlimpro_features~ centroid"])
    errors = [line for line in console.splitlines() if "rlimpro_features~" in line and "error" in line]
    assert len(errors) == 2, console
    assert "unknown feature 'centroyd': use a category (loudness, mfcc, chroma, specshape, pitch, sines)" in errors[0]
    assert "feature names are symbols, got the number 3" in errors[1]
    assert "couldn't create" not in console


@pytest.mark.parametrize("rate", [8000, 16000])
def test_an_unsupported_rate_gives_one_clear_line(rate: int, tmp_path: Path) -> None:
    console = _console(tmp_path, ["rlimpro_features~ loudness"], rate=rate)
    errors = [line for line in console.splitlines() if "rlimpro_features~" in line]
    assert len(errors) == 1, console
    assert f"sample rate {rate} Hz is not supported" in errors[0] and "at least 22050" in errors[0]


@pytest.mark.parametrize("help_patch", ["rlimpro_features~-help.pd", "rlimpro_policy-help.pd"])
def test_help_patches_open_headless(help_patch: str) -> None:
    proc = subprocess.run([find_pd(), "-nogui", "-nosound", "-noprefs", "-batch", "-path", str(EXTERNALS),
                           "-open", str(EXTERNALS / help_patch), "-send", "pd quit"], capture_output=True, text=True, timeout=60)
    console = proc.stdout + proc.stderr
    assert "couldn't create" not in console, console
    assert proc.returncode == 0, console


def test_pd_package_is_a_folder_pd_can_load(tmp_path: Path) -> None:
    proc = subprocess.run(["make", "-s", "pd-package-only", f"PD_PACKAGE_DIR={tmp_path}"], cwd=REPO,
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    package = tmp_path / "rlimpro"
    for name in ("rlimpro_features~.pd_linux", "rlimpro_policy.pd_linux", "rlimpro_features~-help.pd",
                 "rlimpro_policy-help.pd", "rlimpro-meta.pd", "link-osc/rlimpro-link.pd", "link-inside/rlimpro-link.pd"):
        assert (package / name).is_file(), name
    for help_patch in ("rlimpro_features~-help.pd", "rlimpro_policy-help.pd"):
        run = subprocess.run([find_pd(), "-nogui", "-nosound", "-noprefs", "-batch", "-path", str(package),
                              "-open", str(package / help_patch), "-send", "pd quit"], capture_output=True, text=True, timeout=60)
        assert "couldn't create" not in run.stdout + run.stderr
