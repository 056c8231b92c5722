"""Commands that analyse audio: ``analyze`` (ad-hoc files) and ``analyze-corpus`` (a DAG stage)."""

from __future__ import annotations

from pathlib import Path

import typer
from rich.markup import escape

from rlimpro.cli._common import console, err_console


def analyze(
    audio: list[str] = typer.Argument(..., help="Audio files (wav, flac, ogg, mp3, aiff; any rate, any channels)."),
    output: Path = typer.Option(..., "-o", "--output", help="CSV to write: file, time, then the 56 descriptors."),
    workers: int = typer.Option(0, help="Processes to use; 0 = all cores."),
    engine: str = typer.Option("auto", "--engine", help="c: the C core (what Pd and the listening server run; "
                                                       "`make native`), numpy: the readable reference, auto: c when built."),
) -> None:
    """Analyse audio files into one CSV of descriptors, one row per frame (see docs/descriptors.md)."""
    import dataclasses

    from rlimpro.analysis import Framing, analyze_to_csv
    from rlimpro.descriptors import ENGINES, native
    from rlimpro.errors import RlimproError
    from rlimpro.params import PARAMS_FILE, load_params

    if engine not in ENGINES:
        raise RlimproError(f"--engine {engine}: use one of {', '.join(ENGINES)}")
    if engine == "c" and not native.available():
        raise RlimproError("--engine c: the C descriptor core is not built; run `make native` or use --engine numpy")
    framing = Framing.from_params(load_params()) if Path(PARAMS_FILE).is_file() else Framing()
    framing = dataclasses.replace(framing, engine=engine)
    out = analyze_to_csv(audio, output, framing, workers, warn=_warn)
    console.print(f"wrote {out} ({len(audio)} file{'s' * (len(audio) != 1)})")


def analyze_corpus(
    corpus: str = typer.Option(..., "--corpus", "-c", help="Corpus name: the folder 01_corpus/NAME/audio/."),
    force: bool = typer.Option(False, "--force", help="Re-analyse tracks that already have features."),
) -> None:
    """Analyse every recording of a corpus into features/<track>.parquet and summary.json.

    Works for any folder under 01_corpus/ (params.yaml's `corpora` only says which ones
    `dvc repro` uses). Finished tracks are kept, so an interrupted run resumes.
    """
    from rlimpro.corpus import analyze_corpus as stage
    from rlimpro.params import load_params

    paths = stage(corpus, load_params(), force=force, warn=_warn)
    console.print(f"corpus {corpus}: {len(paths) - 1} tracks analysed -> {paths[-1]}")


def _warn(message: str) -> None:
    err_console.print(f"[yellow]skipped:[/yellow] {escape(message)}", highlight=False, soft_wrap=True)


def register(app: typer.Typer) -> None:
    """Add the analysis commands to ``app``."""
    app.command("analyze")(analyze)
    app.command("analyze-corpus")(analyze_corpus)
