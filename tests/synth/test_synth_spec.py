"""synth.yaml loading, parameter parsing and the grid arithmetic (no Pd needed)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from rlimpro.checksynth import count_ports, probe_points
from rlimpro.descriptors import NAMES
from rlimpro.errors import RlimproError
from rlimpro.grid import grid_points, row_index
from rlimpro.lookup import columns
from rlimpro.params import load_params
from rlimpro.synth import load_synth, parse_params, resolve_synth

REPO = Path(__file__).resolve().parents[2]
SHIPPED = {"sine": 2, "fm": 4, "granular": 4, "subtractive": 4}


@pytest.mark.parametrize("name", sorted(SHIPPED))
def test_shipped_synths_load(name: str) -> None:
    synth = load_synth(REPO / "00_synths" / name)
    assert synth.name == name
    assert synth.n_params == SHIPPED[name]
    assert synth.point_samples(44100) % 64 == 0
    ports = count_ports((REPO / "00_synths" / name / "synth.pd").read_text())
    assert ports == {"inlet": 1, "inlet~": 0, "outlet": 0, "outlet~": 1}


def test_bad_yaml_names_the_file_and_key(tmp_path: Path) -> None:
    (tmp_path / "mine").mkdir()
    (tmp_path / "mine" / "synth.yaml").write_text("name: mine\ndescription: x\nparams: []\nrender: {}\n")
    with pytest.raises(RlimproError, match=r"mine/synth.yaml: 'params' must be a non-empty list"):
        load_synth(tmp_path / "mine")
    (tmp_path / "mine" / "synth.yaml").write_text("name: mine\nparams: [{name: a, description: b}]\n")
    with pytest.raises(RlimproError, match="missing key.*description.*render"):
        load_synth(tmp_path / "mine")


def test_parse_params() -> None:
    assert parse_params("0.2, 0.5", 2) == [0.2, 0.5]
    with pytest.raises(RlimproError, match="expected 2 values"):
        parse_params("0.2", 2)
    with pytest.raises(RlimproError, match=r"in \[0, 1\]"):
        parse_params("0.2,1.5", 2)
    with pytest.raises(RlimproError, match="comma-separated numbers"):
        parse_params("a,b", 2)


def test_resolve_synth_by_name_or_path(tmp_path: Path) -> None:
    assert resolve_synth(REPO, "fm") == REPO / "00_synths" / "fm"
    assert resolve_synth(REPO, str(REPO / "00_synths" / "fm" / "synth.pd")) == REPO / "00_synths" / "fm"
    with pytest.raises(RlimproError, match="known synths: .*fm"):
        resolve_synth(REPO, "nosuch")


def test_grid_order_is_mixed_radix_p0_slowest() -> None:
    grid = grid_points(3, 4)
    assert grid.shape == (64, 3)
    assert grid[1].tolist() == [0, 0, 1 / 3]
    assert grid[4].tolist() == [0, 1 / 3, 0]
    assert grid[16].tolist() == [1 / 3, 0, 0]
    assert (row_index(grid, 4) == np.arange(64)).all()
    assert row_index([1.0, 0.0, 1 / 3 + 0.01], 4) == 49
    assert row_index(np.float32(grid[37]), 4) == 37


def test_columns() -> None:
    cols = columns(2)
    assert cols[:3] == ["p0", "p1", "loudness"]
    assert cols[2:58] == NAMES
    assert cols[58] == "loudness_std" and len(cols) == 2 + 2 * 56


def test_count_ports_ignores_subpatches() -> None:
    text = (
        "#N canvas 0 0 450 300 12;\n#X obj 10 10 inlet;\n#N canvas 0 0 450 300 sub 0;\n#X obj 1 1 inlet;\n"
        "#X obj 1 1 outlet;\n#X restore 10 40 pd sub;\n#X obj 10 70 outlet~;\n#X obj 90 70 outlet~;\n"
    )
    assert count_ports(text) == {"inlet": 1, "inlet~": 0, "outlet": 0, "outlet~": 2}


def test_probe_points_cover_the_corners() -> None:
    assert probe_points(2).tolist() == [[0.5, 0.5], [0, 0], [0, 1], [1, 0], [1, 1]]
    many = probe_points(6)
    assert len(many) == 3 + 12 and many.min() == 0 and many.max() == 1


def test_one_lookup_build_per_synth_at_a_time(synth_project: Path) -> None:
    from rlimpro.lookup import _exclusive, render_lookup

    with _exclusive(synth_project / "00_synths" / "sine"):
        with pytest.raises(RlimproError, match="another render-lookup of this synth is running"):
            render_lookup("sine", load_params(synth_project), synth_project)


def _in_daemon(queue) -> None:  # runs in a daemonic child, like a Dask worker
    from rlimpro.parallel import map_parallel

    queue.put(sorted(map_parallel(abs, [-1, -2, -3], 2)))


@pytest.mark.slow
def test_map_parallel_in_processes_and_inside_a_daemon() -> None:
    import multiprocessing

    from rlimpro.parallel import map_parallel

    assert sorted(map_parallel(abs, [-1, -2, -3], 2)) == [1, 2, 3]
    ctx = multiprocessing.get_context("spawn")
    queue = ctx.Queue()
    child = ctx.Process(target=_in_daemon, args=(queue,), daemon=True)
    child.start()
    assert queue.get(timeout=120) == [1, 2, 3]
    child.join()
