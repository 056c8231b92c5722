"""Wall time of the demo DAG: bare stage functions, Prefect sequential, Prefect + Dask, `dvc repro`.

Each way runs from scratch in its own copy of the project (nothing cached), against one
`prefect server` started here (its start-up is not timed):

- bare: the stage functions called one after another in this process (the floor);
- Prefect sequential: the `full` flow, one task at a time (``--sequential``); with the bare
  run it gives Prefect's overhead;
- Prefect + Dask: the `full` flow on a local Dask cluster with a worker per core; the
  speed-up is against Prefect sequential;
- dvc repro: the same DAG through the CLI, the stages' own pools on all cores.

Prefect runs with ``corpus.workers`` and ``render.workers`` at 1 (Dask, not the stages' own
pools, spreads the work), as does the bare run; ``dvc repro`` keeps params.yaml's pools on
all cores. Each Prefect way is then run again with nothing to do (its fixed cost). BLAS runs
one thread per process in every way, as Dask sets it in its workers: with several threads per
process, the parallel ways oversubscribe the cores and run 2-3x slower here. By default the DAG is
the demo corpus with a smaller lookup and a short training (``--full``: params.yaml as
shipped, which takes long on 2 cores).

    .venv/bin/python benchmarks/pipeline.py [--full]
"""

from __future__ import annotations

import os

for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ[_var] = "1"  # as in Dask workers, for every way (before numpy loads): see the docstring

import argparse  # noqa: E402
import shutil  # noqa: E402
import signal  # noqa: E402
import socket  # noqa: E402
import subprocess  # noqa: E402
import sys  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402
import urllib.request  # noqa: E402
from collections.abc import Callable  # noqa: E402
from pathlib import Path  # noqa: E402
from typing import Any  # noqa: E402

import yaml  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent
#: the default, smaller DAG: two synths, a 6^4 fm grid, a short training
SMALL = {"synths": ["sine", "fm"], "synth.fm.subdiv": 6, "render.chunk_size": 64,
         "train.total_timesteps": 5000, "train.checkpoint_every": 5000}
SEQUENTIAL = {"corpus.workers": 1, "render.workers": 1}
_OUTPUTS = shutil.ignore_patterns("__pycache__", "*.pyc", "features", "summary.json", "lookup.parquet", "runs", "eval",
                                  "*.onnx", ".lookup_chunks")


def copy_project(dest: Path, overrides: dict[str, Any]) -> Path:
    """The project's inputs in ``dest`` with params.yaml keys (dotted) overridden."""
    dest.mkdir(parents=True)
    for name in ("dvc.yaml", ".dvcignore"):
        shutil.copy(ROOT / name, dest / name)
    for name in ("rlimpro", "00_synths", "01_corpus"):
        shutil.copytree(ROOT / name, dest / name, ignore=_OUTPUTS)
    params = yaml.safe_load((ROOT / "params.yaml").read_text())
    for key, value in overrides.items():
        *parents, last = key.split(".")
        node = params
        for part in parents:
            node = node.setdefault(part, {})
        node[last] = value
    (dest / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))
    return dest


def start_server(home: Path) -> tuple[subprocess.Popen[bytes], str]:
    """`prefect server start` on a free port with its own PREFECT_HOME; returns it and its API URL."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    env = {k: v for k, v in os.environ.items() if not k.startswith("PREFECT_")}
    env.update(PREFECT_HOME=str(home), PREFECT_SERVER_ANALYTICS_ENABLED="false", PREFECT_SERVER_UI_ENABLED="false")
    proc = subprocess.Popen([str(BIN / "prefect"), "server", "start", "--host", "127.0.0.1", "--port", str(port)],
                            env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    url = f"http://127.0.0.1:{port}/api"
    for _ in range(120):
        try:
            if urllib.request.urlopen(f"{url}/health", timeout=5).status == 200:
                return proc, url
        except OSError:
            time.sleep(1)
    os.killpg(proc.pid, signal.SIGKILL)
    raise SystemExit("prefect server did not start in 120 s")


def bare(root: Path) -> None:
    """The DAG's stage functions in dvc.yaml's order, in this process."""
    from rlimpro.corpus import analyze_corpus
    from rlimpro.evaluate import evaluate
    from rlimpro.export import export
    from rlimpro.lookup import render_lookup
    from rlimpro.params import load_params
    from rlimpro.train import train

    params = load_params(root)
    for corpus in params["corpora"]:
        analyze_corpus(corpus, params, root)
    for synth in params["synths"]:
        render_lookup(synth, params, root)
    for synth in params["synths"]:
        train(synth, params, root)
        export(synth, params, root)
        evaluate(synth, params, root)


def dvc_repro(root: Path) -> None:
    env = {**os.environ, "DVC_NO_ANALYTICS": "1", "PATH": f"{BIN}{os.pathsep}{os.environ['PATH']}"}
    for args in (["git", "init", "-q"], [str(BIN / "dvc"), "init", "-q"], [str(BIN / "dvc"), "repro", "-q"]):
        subprocess.run(args, cwd=root, env=env, check=True, stdout=subprocess.DEVNULL)


def timed(label: str, run: Callable[[Path], Any], fresh: Callable[[], Path], repeat: int) -> tuple[float, Path]:
    """Best wall time of ``run`` over ``repeat`` runs, each on a fresh project copy; and the last copy."""
    times = []
    for _ in range(repeat):
        root = fresh()
        start = time.perf_counter()
        run(root)
        times.append(time.perf_counter() - start)
    runs = f"  (runs: {', '.join(f'{t:.1f}' for t in times)})" if repeat > 1 else ""
    print(f"  {label:<50} {min(times):8.1f} s{runs}", flush=True)
    return min(times), root


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--full", action="store_true", help="the DAG of params.yaml as shipped (long)")
    parser.add_argument("--repeat", type=int, default=1, help="runs per way; the best counts (default 1)")
    args = parser.parse_args()
    shape = {} if args.full else SMALL
    cores = os.cpu_count() or 1
    with tempfile.TemporaryDirectory(prefix="rlimpro-bench-") as tmp_dir:
        tmp = Path(tmp_dir)
        server, url = start_server(tmp / "prefect")
        os.environ.update(PREFECT_API_URL=url, PREFECT_HOME=str(tmp / "prefect"), PREFECT_LOGGING_LEVEL="WARNING",
                          DASK_LOGGING__DISTRIBUTED="error")
        from pipelines.launch import run_flow  # after the settings above: prefect reads them on import

        try:
            params = yaml.safe_load(copy_project(tmp / "shape", shape).joinpath("params.yaml").read_text())
            n_tracks = len(list((ROOT / "01_corpus" / "demo" / "audio").iterdir()))
            grids = ", ".join(f"{s} {params['synth'][s]['subdiv']}^N" for s in params["synths"])
            print(f"demo DAG: corpora {params['corpora']} ({n_tracks} tracks), synths {grids}, "
                  f"{params['train']['total_timesteps']} training steps each; {cores} cores")
            seq = {**shape, **SEQUENTIAL}
            copies = iter(range(1_000_000))
            bare(copy_project(tmp / "warm", seq))  # imports, first calls, Pd's first start: untimed

            def fresh(overrides: dict[str, Any]) -> Callable[[], Path]:
                return lambda: copy_project(tmp / f"run{next(copies)}", overrides)

            t_bare, _ = timed("bare stage functions, sequential", bare, fresh(seq), args.repeat)
            t_seq, done = timed("Prefect, sequential", lambda r: run_flow("full", r, sequential=True), fresh(seq),
                                args.repeat)
            c_seq, _ = timed("  again, every stage cached", lambda r: run_flow("full", r, sequential=True),
                             lambda: done, 1)
            t_dask, done = timed(f"Prefect + Dask, {cores} workers", lambda r: run_flow("full", r), fresh(seq),
                                 args.repeat)
            c_dask, _ = timed("  again, every stage cached", lambda r: run_flow("full", r), lambda: done, 1)
            t_dvc, _ = timed("dvc repro (stage pools on all cores)", dvc_repro, fresh(shape), args.repeat)
        finally:
            os.killpg(server.pid, signal.SIGINT)
            server.wait(30)
    print(f"Prefect overhead over bare stage functions: {t_seq - t_bare:+.1f} s ({t_seq / t_bare:.2f}x); "
          f"a run with nothing to do: {c_seq:.1f} s sequential, {c_dask:.1f} s on Dask (cluster start included)")
    print(f"speed-up of Prefect + Dask over Prefect sequential: {t_seq / t_dask:.2f}x")
    print(f"speed-up of Prefect + Dask over dvc repro: {t_dvc / t_dask:.2f}x")


if __name__ == "__main__":
    main()
