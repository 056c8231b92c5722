"""The run report in a real browser: the duet plays with a synced playhead, the tables and curves, what is missing."""

from __future__ import annotations

import pytest
import soundfile as sf

from tests.pages.conftest import CURVES, POLICIES, SYNTH, make_project

pytestmark = pytest.mark.slow


def _report(root):
    return root / "00_synths" / SYNTH / "eval" / "report.html"


def test_the_report_plays_the_duet_under_a_synced_playhead(toy_pages, browser):
    page, errors = browser.open(_report(toy_pages))
    page.wait_for_function("document.getElementById('player').readyState >= 1")
    take = sf.info(next((toy_pages / "01_corpus" / "demo" / "audio").glob("*.wav")))
    assert page.evaluate("document.getElementById('player').duration") == pytest.approx(take.duration, abs=0.05)
    assert page.evaluate("document.getElementById('player').currentSrc").startswith("data:audio/ogg;base64,")
    # three features (musician vs agent) and the parameters, each under a playhead
    assert page.locator("#duet .chart").count() == 4 and page.locator("#duet .playhead").count() == 4
    start = page.evaluate("window.rlimproReport.cursor()")
    chart = page.locator("#duet .chart svg").first.bounding_box()
    page.mouse.click(chart["x"] + 0.75 * chart["width"], chart["y"] + chart["height"] / 2)
    page.wait_for_function("document.getElementById('player').currentTime > 1.0")
    page.wait_for_function(f"window.rlimproReport.cursor() !== '{start}'")
    assert float(page.evaluate("window.rlimproReport.cursor()")) > float(start)
    page.evaluate("document.getElementById('player').play()")
    page.wait_for_function("!document.getElementById('player').paused")
    assert errors == []


def test_the_report_shows_every_metric_and_curve(toy_pages, browser):
    page, errors = browser.open(_report(toy_pages))
    header = page.locator("#metrics tr").first.locator("th").all_inner_texts()
    assert header == ["policy", "nrmse", "moves_per_s", "lag_frames", "future_measure", "× oracle"]
    rows = page.locator("#metrics tr").all()[1:]
    assert [r.locator("td").first.inner_text() for r in rows] == POLICIES
    assert rows[2].locator("td").all_inner_texts()[3] == "–"  # hold has no lag
    assert page.locator("#curves .chart").count() == len(CURVES)
    assert sorted(page.locator("#curves svg").evaluate_all("s => s.map(e => e.getAttribute('aria-label'))")) == \
        sorted(f"{tag} (by step)" for tag in CURVES)
    assert "avi" in page.locator("#run").inner_text() and page.locator("#notes").inner_text() == ""
    assert errors == []


def test_a_missing_run_folder_gives_a_page_that_says_what_is_missing(tmp_path, browser):
    from rlimpro.pages.report import build_report
    from rlimpro.params import load_params

    root = make_project(tmp_path / "project", run=False)
    (root / "00_synths" / SYNTH / "policy.onnx").unlink()
    (out,) = build_report(SYNTH, root / "report.html", root=root, params=load_params(root))
    page, errors = browser.open(out)
    notes = page.locator("#notes").inner_text()
    assert "no run: 00_synths/toy/runs/main/config.json not found" in notes and "rlimpro train --synth toy" in notes
    assert "no evaluation" in notes and "no duet: 00_synths/toy/policy.onnx not found" in notes
    assert page.locator("#player").count() == 0 and page.locator("#metrics").count() == 0
    assert errors == []
