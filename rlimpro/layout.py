"""Where every input and artifact of a project lives (docs/architecture.md): the one place that says so.

::

    <root>/00_synths/<synth>/synth.pd, synth.yaml      a synth (inputs)
                             lookup.parquet            render_lookup (chunks in .lookup_chunks/ meanwhile)
                             runs/main/                train (the DAG's run; ad-hoc runs beside it)
                             eval/                     evaluate of runs/main (other runs: <run>/eval/)
                             policy.onnx               export
                             map/index.html            map (the sound map page, its clips in map/index_files/)
                             eval/report.html          report (training curves, evaluation, duet)
    <root>/01_corpus/<corpus>/audio/                   recordings (inputs; sub-folders allowed)
                              features/<track>.parquet analyze_corpus
                              summary.json             analyze_corpus

>>> project = Layout("proj")
>>> project.lookup("fm").as_posix(), project.policy("fm").as_posix()
('proj/00_synths/fm/lookup.parquet', 'proj/00_synths/fm/policy.onnx')
>>> project.features("demo").as_posix()
'proj/01_corpus/demo/features'
>>> eval_dir(project.run("fm")).as_posix(), eval_dir(project.run("fm", "20260101-120000-ppo")).as_posix()
('proj/00_synths/fm/eval', 'proj/00_synths/fm/runs/20260101-120000-ppo/eval')
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

__all__ = ["CHUNKS_DIR", "CORPUS_DIR", "LOOKUP_FILE", "MAIN_RUN", "POLICY_FILE", "SYNTHS_DIR", "Layout", "eval_dir"]

SYNTHS_DIR = "00_synths"
CORPUS_DIR = "01_corpus"
LOOKUP_FILE = "lookup.parquet"
CHUNKS_DIR = ".lookup_chunks"
POLICY_FILE = "policy.onnx"
#: the DAG's run of each synth
MAIN_RUN = "main"


@dataclass(frozen=True)
class Layout:
    """The paths of the project in ``root``.

    :param root: the project folder (holding params.yaml, 00_synths/, 01_corpus/).
    """

    root: Path

    def __init__(self, root: str | Path = ".") -> None:
        object.__setattr__(self, "root", Path(root))

    @property
    def synths(self) -> Path:
        """``00_synths/``: one folder per synth."""
        return self.root / SYNTHS_DIR

    def synth(self, synth: str) -> Path:
        """``00_synths/<synth>/``: the synth's patch and spec, and its outputs."""
        return self.synths / synth

    def lookup(self, synth: str) -> Path:
        """``00_synths/<synth>/lookup.parquet``."""
        return self.synth(synth) / LOOKUP_FILE

    def lookup_chunks(self, synth: str) -> Path:
        """``00_synths/<synth>/.lookup_chunks/``: finished chunks of an unfinished lookup build."""
        return self.synth(synth) / CHUNKS_DIR

    def runs(self, synth: str) -> Path:
        """``00_synths/<synth>/runs/``."""
        return self.synth(synth) / "runs"

    def run(self, synth: str, run_id: str = MAIN_RUN) -> Path:
        """``00_synths/<synth>/runs/<run_id>/`` (default the DAG's ``runs/main``)."""
        return self.runs(synth) / run_id

    def eval(self, synth: str) -> Path:
        """``00_synths/<synth>/eval/``: the evaluation of the DAG's run."""
        return self.synth(synth) / "eval"

    def policy(self, synth: str) -> Path:
        """``00_synths/<synth>/policy.onnx``: the DAG's export."""
        return self.synth(synth) / POLICY_FILE

    def map_page(self, synth: str) -> Path:
        """``00_synths/<synth>/map/index.html``: the synth's sound map (its clips beside it in ``map/``)."""
        return self.synth(synth) / "map" / "index.html"

    def report(self, synth: str) -> Path:
        """``00_synths/<synth>/eval/report.html``: the page of the DAG's run (training, evaluation, duet)."""
        return self.eval(synth) / "report.html"

    def corpus(self, corpus: str) -> Path:
        """``01_corpus/<corpus>/``."""
        return self.root / CORPUS_DIR / corpus

    def audio(self, corpus: str) -> Path:
        """``01_corpus/<corpus>/audio/``: the recordings."""
        return self.corpus(corpus) / "audio"

    def features(self, corpus: str) -> Path:
        """``01_corpus/<corpus>/features/``: one ``<track>.parquet`` per recording."""
        return self.corpus(corpus) / "features"

    def summary(self, corpus: str) -> Path:
        """``01_corpus/<corpus>/summary.json``."""
        return self.corpus(corpus) / "summary.json"


def eval_dir(run: Path) -> Path:
    """Where the evaluation of a run folder goes: ``<synth>/eval/`` for the DAG's ``runs/main``,
    else ``<run>/eval/``."""
    if run.name == MAIN_RUN and run.parent.name == "runs":
        return run.parent.parent / "eval"
    return run / "eval"
