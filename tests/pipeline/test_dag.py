"""The cache keys of the Prefect tasks follow exactly what dvc.yaml says each stage depends on."""

from __future__ import annotations

import pytest
import yaml

from pipelines.dag import load_stage, output_digests, stage_key, stale_outputs
from rlimpro.errors import RlimproError


def set_param(root, key, value):
    params = yaml.safe_load((root / "params.yaml").read_text())
    node = params
    *parents, last = key.split(".")
    for part in parents:
        node = node[part]
    node[last] = value
    (root / "params.yaml").write_text(yaml.safe_dump(params))


def test_foreach_stages_resolve_with_their_item(project):
    stage = load_stage(project, "analyze_corpus@demo")
    assert "01_corpus/demo/audio" in stage.deps
    assert stage.params == ("analysis",)
    assert stage.outs == ("01_corpus/demo/features", "01_corpus/demo/summary.json")
    with pytest.raises(RlimproError, match="no stage 'nope'"):
        load_stage(project, "nope@demo")


def test_params_references_resolve_as_dvc_does(project):
    assert "01_corpus/demo/features" in load_stage(project, "train@fm").deps  # ${env.corpus}
    set_param(project, "env.corpus", "mine")
    assert "01_corpus/mine/features" in load_stage(project, "evaluate@fm").deps
    dvc = project / "dvc.yaml"
    dvc.write_text(dvc.read_text().replace("${env.corpus}", "${env.heldout}"))  # a mapping, not a value
    with pytest.raises(RlimproError, match=r"uses \$\{env.heldout\}"):
        load_stage(project, "export@fm")


def test_the_key_changes_with_listed_params_and_deps_only(project):
    key = stage_key(project, "analyze_corpus@demo")
    assert stage_key(project, "analyze_corpus@demo") == key
    set_param(project, "env.episode_steps", 7)  # not a parameter of this stage
    (project / "rlimpro" / "descriptors" / "__pycache__").mkdir(exist_ok=True)
    (project / "rlimpro" / "descriptors" / "__pycache__" / "x.pyc").write_bytes(b"byte-code")
    assert stage_key(project, "analyze_corpus@demo") == key
    set_param(project, "analysis.hop", 256)
    changed = stage_key(project, "analyze_corpus@demo")
    assert changed != key
    next(iter((project / "01_corpus" / "demo" / "audio").iterdir())).unlink()
    assert stage_key(project, "analyze_corpus@demo") not in (key, changed)


def test_missing_dependency_names_it(project):
    with pytest.raises(RlimproError, match="00_synths/sine/lookup.parquet: missing, needed by stage train@sine"):
        stage_key(project, "train@sine")


def test_stale_outputs_are_those_deleted_or_edited(tmp_path):
    (tmp_path / "out").mkdir()
    (tmp_path / "out" / "a.txt").write_text("a")
    (tmp_path / "b.json").write_text("{}")
    recorded = output_digests(tmp_path, ["out", "b.json"])
    assert stale_outputs(tmp_path, recorded) == []
    (tmp_path / "out" / "a.txt").write_text("A")
    (tmp_path / "b.json").unlink()
    assert stale_outputs(tmp_path, recorded) == ["out", "b.json"]
