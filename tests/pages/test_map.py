"""The sound map in a real browser: points, clicks that play clips, projections, overlays, bad input."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import soundfile as sf

from tests.pages.conftest import SUBDIV, SYNTH, make_project, rlimpro, write_params

pytestmark = pytest.mark.slow


def _map(root: Path) -> Path:
    return root / "00_synths" / SYNTH / "map" / "index.html"


def _data(page: Path) -> dict:
    text = page.read_text()
    start = text.index('<script id="data" type="application/json">') + len('<script id="data" type="application/json">')
    return json.loads(text[start:text.index("</script>", start)])


def _ink(page) -> int:
    """Pixels of the plot canvas that are not its white background."""
    return page.evaluate("""() => {
        const c = document.getElementById('plot'), d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
        let n = 0; for (let i = 0; i < d.length; i += 4) if (d[i] < 250 || d[i + 1] < 250 || d[i + 2] < 250) n++;
        return n; }""")


def test_the_map_shows_every_row_and_a_click_plays_that_points_clip(toy_pages, browser):
    page, errors = browser.open(_map(toy_pages))
    assert page.get_attribute("#plot", "data-points") == str(SUBDIV**2) == str(len(pd.read_parquet(
        toy_pages / "00_synths" / SYNTH / "lookup.parquet")))
    assert _ink(page) > 500, "the plot is empty"
    data = _data(_map(toy_pages))
    for i in (0, SUBDIV**2 - 1, 17):
        x, y = page.evaluate(f"window.rlimproMap.screen({i})")
        box = page.locator("#plot").bounding_box()
        page.mouse.move(box["x"] + x, box["y"] + y)
        assert page.locator("#info h3").first.inner_text().startswith(f"point {i + 1} ")
        assert "pitch" in page.locator("#info").inner_text() and "centroid" in page.locator("#info").inner_text()
        page.mouse.click(box["x"] + x, box["y"] + y)
        page.wait_for_function("!document.getElementById('player').paused && document.getElementById('player').currentTime > 0")
        src = page.evaluate("document.getElementById('player').currentSrc")
        assert src.endswith(data["clips"][i]) and page.evaluate("window.rlimproMap.state().playing") == i
        clip, sr = sf.read(_map(toy_pages).parent / data["clips"][i])
        assert sr == 44100 and abs(len(clip) / sr - 0.5) < 0.01 and np.isfinite(clip).all()
        assert np.abs(clip).max() > 1e-3  # not silent: -40 dB at amplitude 0
    assert errors == []


def test_switching_the_projection_redraws(toy_pages, browser):
    page, errors = browser.open(_map(toy_pages))
    assert [o.inner_text() for o in page.locator("#projection option").all()] == ["PCA", "t-SNE", "UMAP"]
    before = page.evaluate("document.getElementById('plot').toDataURL()")
    draws = page.evaluate("window.rlimproMap.state().draws")
    for name in ("t-SNE", "UMAP"):
        page.select_option("#projection", name)
        assert page.get_attribute("#plot", "data-projection") == name
        after = page.evaluate("document.getElementById('plot').toDataURL()")
        assert after != before and _ink(page) > 500
        before = after
    assert page.evaluate("window.rlimproMap.state().draws") == draws + 2
    page.select_option("#colour", label="centroid")
    assert page.evaluate("document.getElementById('plot').toDataURL()") != before
    assert errors == []


def test_the_overlays_follow_the_corpus_and_the_agent(toy_pages):
    from rlimpro.descriptors.names import indices
    from rlimpro.env.build import prepare
    from rlimpro.params import load_params

    data = _data(_map(toy_pages))
    setup = prepare(toy_pages, SYNTH, load_params(toy_pages))
    assert set(data["tracks"]) == set(setup.tracks) and data["default_track"] in setup.cfg.heldout_tracks
    points = setup.norm.apply(setup.table.columns(setup.cfg.features))
    for name, frames in setup.tracks.items():
        y = setup.norm.apply(frames[:, indices(setup.cfg.features)])
        nearest = np.argmin(((y[:, None, :] - points[None]) ** 2).sum(axis=2), axis=1)  # every row is shown (6x6)
        expected = nearest[np.concatenate([[True], nearest[1:] != nearest[:-1]])].tolist()
        assert data["tracks"][name]["musician"] == expected
        agent = data["tracks"][name]["agent"]
        assert len(agent) >= 2 and all(0 <= i < SUBDIV**2 for i in agent)
        assert all(a != b for a, b in zip(agent, agent[1:]))
    assert data["notes"] == []


def test_an_interrupted_map_resumes_and_new_settings_render_again(toy, tmp_path):
    from rlimpro.pages.soundmap import build_map
    from rlimpro.params import load_params

    params = {**load_params(toy), "pages": {"workers": 1}}
    out = tmp_path / "maps" / "toy.html"
    build_map(SYNTH, out, root=toy, params=params)
    clips = sorted((tmp_path / "maps" / "toy_files" / "clips").glob("*.ogg"))
    assert len(clips) == SUBDIV**2 and not (tmp_path / "maps" / "toy_files" / ".cache").exists()
    kept, lost = clips[0], clips[-1]
    stamp = kept.stat().st_mtime_ns
    lost.unlink()
    out.unlink()
    build_map(SYNTH, out, root=toy, params=params)
    assert out.is_file() and lost.is_file() and kept.stat().st_mtime_ns == stamp
    build_map(SYNTH, out, root=toy, params={**params, "pages": {"clip_s": 0.25, "workers": 1}})
    assert abs(sf.info(kept).duration - 0.25) < 0.01 and abs(sf.info(lost).duration - 0.25) < 0.01


def test_nan_rows_are_one_clear_error(toy, tmp_path):
    from rlimpro.errors import RlimproError
    from rlimpro.pages.soundmap import build_map
    from rlimpro.params import load_params

    root = tmp_path / "project"
    shutil.copytree(toy, root)
    table = root / "00_synths" / SYNTH / "lookup.parquet"
    frame = pd.read_parquet(table)
    frame.loc[[3, 7], "centroid"] = np.nan
    frame.to_parquet(table, index=False)
    with pytest.raises(RlimproError, match=r"lookup\.parquet") as caught:
        build_map(SYNTH, root / "x.html", root=root, params=load_params(root))
    assert "\n" not in str(caught.value) and not (root / "x.html").exists()


def test_a_missing_table_is_one_clear_error(tmp_path):
    root = make_project(tmp_path / "project", run=False)
    (root / "00_synths" / SYNTH / "lookup.parquet").unlink()
    done = rlimpro("map", "--synth", SYNTH, "-o", "x.html", cwd=root)
    lines = done.stderr.strip().splitlines()
    assert done.returncode == 1 and 1 <= len(lines) <= 3 and "Traceback" not in done.stderr, done.stderr
    assert "lookup.parquet" in lines[0] and "render-lookup" in done.stderr


ONE_PARAM_PATCH = """#N canvas 0 50 450 300 12;
#X obj 20 20 inlet;
#X obj 20 50 * 1000;
#X obj 20 80 + 100;
#X obj 20 110 osc~;
#X obj 20 140 *~ 0.2;
#X obj 20 170 outlet~;
#X connect 0 0 1 0;
#X connect 1 0 2 0;
#X connect 2 0 3 0;
#X connect 3 0 4 0;
#X connect 4 0 5 0;
"""


def test_a_one_parameter_synth_gets_a_pca_map_that_says_why(tmp_path, browser):
    from rlimpro.env.synthetic import write_synthetic_project

    root = write_synthetic_project(tmp_path / "project", synth="one", n_params=1, subdiv=7, n_tracks=2, frames=100)
    folder = root / "00_synths" / "one"
    (folder / "synth.pd").write_text(ONE_PARAM_PATCH)
    (folder / "synth.yaml").write_text("name: one\ndescription: one sine\n"
                                       "params:\n  - {name: pitch, description: 100-1100 Hz}\n"
                                       "render: {settle_s: 0.05, length_s: 0.3}\n")
    write_params(root, "one", 7)
    done = rlimpro("map", "--synth", "one", "-o", "one.html", cwd=root)
    assert done.returncode == 0, done.stderr
    page, errors = browser.open(root / "one.html")
    assert page.get_attribute("#plot", "data-points") == "7" and _ink(page) > 100
    assert [o.inner_text() for o in page.locator("#projection option").all()] == ["PCA"]
    notes = page.locator("#notes").inner_text()
    assert "t-SNE and UMAP need at least 8 points" in notes and "no agent path" in notes
    x, y = page.evaluate("window.rlimproMap.screen(6)")
    box = page.locator("#plot").bounding_box()
    page.mouse.click(box["x"] + x, box["y"] + y)
    # paused turns false at play(), before the source is selected: wait until it really plays
    page.wait_for_function("!document.getElementById('player').paused && document.getElementById('player').currentTime > 0")
    assert page.evaluate("document.getElementById('player').currentSrc").endswith("one_files/clips/00006.ogg")
    assert errors == []
