"""The analyze_corpus stage on real files: formats, bad input, resume, summary."""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from rlimpro.corpus import analyze_corpus, load_track, recordings
from rlimpro.descriptors import NAMES
from rlimpro.errors import RlimproError
from rlimpro.settings import defaults
from tests.conftest import sine

PARAMS = {**defaults(), "corpus": {"workers": 2}}


def make_corpus(root: Path) -> Path:
    audio = root / "01_corpus" / "mini" / "audio"
    (audio / "takes").mkdir(parents=True)
    tone = sine(440, 0.3, seconds=1.0, sr=48000)
    sf.write(audio / "stereo48k.wav", np.stack([tone, tone], axis=1), 48000)
    sf.write(audio / "takes" / "low.flac", sine(220, 0.3, seconds=0.8), 44100)
    sf.write(audio / "vorbis.ogg", sine(880, 0.3, seconds=0.8, sr=22050), 22050, format="OGG", subtype="VORBIS")
    sf.write(audio / "lame.mp3", sine(660, 0.3, seconds=0.8), 44100, format="MP3", subtype="MPEG_LAYER_III")
    return audio


def test_every_format_rate_and_layout_is_analysed(tmp_path):
    make_corpus(tmp_path)
    paths = analyze_corpus("mini", PARAMS, tmp_path)
    features = tmp_path / "01_corpus" / "mini" / "features"
    assert sorted(p.name for p in features.iterdir()) == [
        "lame.parquet", "stereo48k.parquet", "takes__low.parquet", "vorbis.parquet"]
    assert paths[-1].name == "summary.json"
    stereo = load_track(features / "stereo48k.parquet", ["centroid", "pitch"])
    assert len(stereo) == 1 + (44100 - 1024) // 512  # resampled to 44.1 kHz
    assert np.median(stereo[:, 1]) == pytest.approx(440, rel=0.01)
    assert np.median(load_track(features / "vorbis.parquet", ["pitch"])) == pytest.approx(880, rel=0.01)
    assert np.median(load_track(features / "lame.parquet", ["pitch"])) == pytest.approx(660, rel=0.01)
    summary = json.loads(paths[-1].read_text())
    assert list(summary["features"]) == NAMES
    assert summary["frames"] == sum(t["frames"] for t in summary["tracks"])
    stats = summary["features"]["pitch"]
    assert 220 * 0.99 < stats["min"] <= stats["mean"] <= stats["max"] < 880 * 1.01
    assert not list(features.glob("*.tmp*"))


def test_recordings_are_every_audio_file_below_audio(tmp_path):
    audio = make_corpus(tmp_path)
    (audio / ".hidden.wav").write_bytes(b"")
    (audio / "notes.txt").write_text("not a recording\n")
    tracks = recordings("mini", tmp_path)
    assert list(tracks) == ["lame", "stereo48k", "takes__low", "vorbis"]  # sorted by path, sub-folders included
    assert tracks["takes__low"] == audio / "takes" / "low.flac"


def test_bad_files_are_named_and_the_others_still_analysed(tmp_path):
    audio = make_corpus(tmp_path)
    (audio / "empty.wav").write_bytes(b"")
    (audio / "notes.wav").write_text("this is not audio\n")
    good = (audio / "stereo48k.wav").read_bytes()
    (audio / "truncated.wav").write_bytes(good[:40])
    warnings: list[str] = []
    with pytest.raises(RlimproError, match="3 of 7 recordings .* could not be analysed"):
        analyze_corpus("mini", PARAMS, tmp_path, warn=warnings.append)
    assert sorted(w.split(":")[0] for w in warnings) == ["empty.wav", "notes.wav", "truncated.wav"]
    assert all("\n" not in w for w in warnings)
    features = tmp_path / "01_corpus" / "mini" / "features"
    assert len(list(features.glob("*.parquet"))) == 4
    assert not (tmp_path / "01_corpus" / "mini" / "summary.json").exists()


def test_a_rerun_resumes_and_gives_identical_files(tmp_path):
    make_corpus(tmp_path)
    analyze_corpus("mini", PARAMS, tmp_path)
    features = tmp_path / "01_corpus" / "mini" / "features"
    first = {p.name: p.read_bytes() for p in features.iterdir()}
    stamps = {p.name: p.stat().st_mtime_ns for p in features.iterdir()}
    (features / "vorbis.parquet").unlink()  # as if interrupted before this track
    analyze_corpus("mini", PARAMS, tmp_path)
    assert {p.name: p.read_bytes() for p in features.iterdir()} == first
    for name, stamp in stamps.items():
        if name != "vorbis.parquet":
            assert (features / name).stat().st_mtime_ns == stamp  # finished tracks were skipped


def test_a_removed_recording_leaves_the_summary(tmp_path):
    audio = make_corpus(tmp_path)
    analyze_corpus("mini", PARAMS, tmp_path)
    (audio / "lame.mp3").unlink()
    paths = analyze_corpus("mini", PARAMS, tmp_path)
    assert [t["name"] for t in json.loads(paths[-1].read_text())["tracks"]] == ["stereo48k", "takes__low", "vorbis"]


def test_missing_or_empty_corpus_says_where_to_put_audio(tmp_path):
    with pytest.raises(RlimproError, match="01_corpus/nope/audio"):
        analyze_corpus("nope", PARAMS, tmp_path)
    (tmp_path / "01_corpus" / "hollow" / "audio").mkdir(parents=True)
    with pytest.raises(RlimproError, match="no audio files"):
        analyze_corpus("hollow", PARAMS, tmp_path)


def test_analysis_is_identical_with_one_or_many_workers(tmp_path):
    make_corpus(tmp_path)
    one = tmp_path / "one"
    shutil.copytree(tmp_path / "01_corpus", one / "01_corpus")
    analyze_corpus("mini", {**PARAMS, "corpus": {"workers": 1}}, one)
    analyze_corpus("mini", PARAMS, tmp_path)
    for path in (tmp_path / "01_corpus" / "mini" / "features").iterdir():
        assert path.read_bytes() == (one / "01_corpus" / "mini" / "features" / path.name).read_bytes()
    assert os.path.getsize(tmp_path / "01_corpus" / "mini" / "summary.json") > 0
