"""check-synth: shipped synths pass; each kind of broken patch gets its one-line error."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from rlimpro.checksynth import check_synth
from rlimpro.errors import RlimproError
from rlimpro.lookup import render_lookup
from rlimpro.params import load_params

from tests.synth.conftest import RLIMPRO, broken_synth

pytestmark = pytest.mark.slow
REPO = Path(__file__).resolve().parents[2]
OSC_OUT = "#X obj 20 80 osc~ 440;\n#X obj 20 110 outlet~;\n"


def test_shipped_synth_passes() -> None:
    report = check_synth(REPO / "00_synths" / "fm" / "synth.pd")
    assert report.params == ("pitch", "ratio", "index", "amplitude")
    assert len(report.points) == 17 and report.peaks.max() > -20


@pytest.mark.parametrize(
    "body, message",
    [
        ("#X obj 20 20 inlet;\n#X obj 20 50 my_missing_abstraction 3;\n" + OSC_OUT + "#X connect 2 0 3 0;\n",
         "couldn't create 'my_missing_abstraction 3'"),
        ("#X obj 20 20 inlet;\n#X obj 90 20 inlet;\n" + OSC_OUT + "#X connect 2 0 3 0;\n",
         "has 2 inlet, 0 inlet~, 0 outlet and 1 outlet~ objects"),
        ("#X obj 20 20 inlet;\n#X obj 20 80 osc~ 440;\n#X obj 20 110 outlet;\n",
         "0 outlet~ objects"),
        ("#X obj 20 20 inlet;\n#X obj 20 80 sig~ 0;\n#X obj 20 110 outlet~;\n#X connect 1 0 2 0;\n",
         "silent at all 5 test points"),
        ("#X obj 20 20 inlet;\n" + OSC_OUT + "#X connect 1 0 2 0;\n#X connect 0 0 7 0;\n",
         "connection failed"),
    ],
    ids=["missing-abstraction", "two-inlets", "control-outlet", "silent", "bad-connection"],
)
def test_broken_patches_give_a_clear_error(tmp_path: Path, body: str, message: str) -> None:
    patch = broken_synth(tmp_path, "mine", body)
    with pytest.raises(RlimproError, match=message):
        check_synth(patch, n_params=2)


def test_not_a_patch_and_no_yaml(tmp_path: Path) -> None:
    (tmp_path / "junk").mkdir()
    (tmp_path / "junk" / "synth.pd").write_text("hello")
    with pytest.raises(RlimproError, match="not a Pd patch"):
        check_synth(tmp_path / "junk")
    patch = broken_synth(tmp_path, "mine", "#X obj 20 20 inlet;\n" + OSC_OUT + "#X connect 1 0 2 0;\n")
    with pytest.raises(RlimproError, match="synth.yaml: not found.*--n-params"):
        check_synth(patch)
    assert check_synth(patch, n_params=3).params == ("p0", "p1", "p2")


def test_cli_prints_one_line_without_pd_chatter(tmp_path: Path) -> None:
    patch = broken_synth(tmp_path, "mine", "#X obj 20 20 inlet;\n#X obj 20 50 nope~;\n" + OSC_OUT)
    run = subprocess.run([RLIMPRO, "check-synth", str(patch), "--n-params", "1"], capture_output=True, text=True)
    assert run.returncode == 1
    lines = run.stderr.strip().splitlines()
    assert len(lines) == 1 and "couldn't create 'nope~'" in lines[0]
    assert "verbose" not in run.stderr + run.stdout


def test_lookup_of_a_broken_synth_fails_clearly(synth_project: Path) -> None:
    (synth_project / "00_synths" / "sine" / "synth.pd").write_text(
        "#N canvas 0 50 450 300 12;\n#X obj 20 20 inlet;\n#X obj 20 50 nope~;\n#X obj 20 80 outlet~;\n"
    )
    with pytest.raises(RlimproError, match="sine/synth.pd: couldn't create 'nope~'"):
        render_lookup("sine", load_params(synth_project), synth_project)
