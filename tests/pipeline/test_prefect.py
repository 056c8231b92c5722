"""The Prefect flows on a real `prefect server`, served from a subprocess, and on a real Dask cluster."""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
import yaml

pytestmark = pytest.mark.slow

REPO = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent
KEEP = ("cello.ogg", "flute.ogg")  # a two-track corpus keeps every run short


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start(args: list[str], env: dict[str, str], log: Path, cwd: Path | None = None) -> subprocess.Popen[bytes]:
    with open(log, "wb") as out:
        return subprocess.Popen(args, env=env, cwd=cwd, stdout=out, stderr=subprocess.STDOUT, start_new_session=True)


def stop(proc: subprocess.Popen[bytes]) -> None:
    if proc.poll() is None:
        os.killpg(proc.pid, signal.SIGINT)
        try:
            proc.wait(30)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()


def wait_until(check, what: str, timeout: float, proc: subprocess.Popen[bytes], log: Path) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            pytest.fail(f"{what}: process exited with {proc.returncode}:\n{log.read_text()[-3000:]}")
        try:
            if check():
                return
        except Exception:
            pass
        time.sleep(1)
    pytest.fail(f"{what}: not ready after {timeout} s:\n{log.read_text()[-3000:]}")


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, str]]:
    """A `prefect server start` on a free port with its own PREFECT_HOME; yields the env to reach it."""
    home = tmp_path_factory.mktemp("prefect_home")
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("PREFECT_")}
    env.update(
        PREFECT_HOME=str(home),
        PREFECT_SERVER_ANALYTICS_ENABLED="false",
        PREFECT_SERVER_UI_ENABLED="false",
        PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS="120",
        PREFECT_LOGGING_LEVEL="WARNING",
        DVC_NO_ANALYTICS="1",
        PYTHONPATH=str(REPO),  # the flows (pipelines/) from this checkout
    )
    log = home / "server.log"
    proc = start([str(BIN / "prefect"), "server", "start", "--host", "127.0.0.1", "--port", str(port)], env, log)
    url = f"http://127.0.0.1:{port}/api"
    try:
        wait_until(lambda: urllib.request.urlopen(f"{url}/health", timeout=5).status == 200, "prefect server", 120,
                   proc, log)
        yield {**env, "PREFECT_API_URL": url}
    finally:
        stop(proc)


@pytest.fixture
def corpus_project(project: Path) -> Path:
    """The project copy with a two-track demo corpus."""
    for path in (project / "01_corpus" / "demo" / "audio").iterdir():
        if path.name not in KEEP:
            path.unlink()
    return project


@pytest.fixture(scope="module")
def reference(server: dict[str, str], tmp_path_factory: pytest.TempPathFactory) -> dict[str, bytes]:
    """The two-track corpus's outputs as the CLI (and so `dvc repro`) writes them."""
    root = tmp_path_factory.mktemp("cli")
    shutil.copy(REPO / "params.yaml", root)
    audio = root / "01_corpus" / "demo" / "audio"
    audio.mkdir(parents=True)
    for name in KEEP:
        shutil.copy(REPO / "01_corpus" / "demo" / "audio" / name, audio)
    # one BLAS thread, as Dask workers have: the descriptors' last bits depend on the thread count
    one_thread = {**server, "OMP_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}
    done = rlimpro("analyze-corpus", "--corpus", "demo", cwd=root, env=one_thread)
    assert done.returncode == 0, done.stderr
    return corpus_outputs(root)


def rlimpro(*args: str, cwd: Path, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(BIN / "rlimpro"), *args], cwd=cwd, env=env, capture_output=True, text=True, timeout=900)


def corpus_outputs(root: Path) -> dict[str, bytes]:
    folder = root / "01_corpus" / "demo"
    files = [*sorted((folder / "features").glob("*.parquet")), folder / "summary.json"]
    return {str(p.relative_to(folder)): p.read_bytes() for p in files}


def api(env: dict[str, str], code: str) -> str:
    """Run ``code`` (Python, prints its answer) against the server in a fresh interpreter."""
    done = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=900)
    assert done.returncode == 0, done.stderr[-3000:]
    return done.stdout.strip()


RUN_CORPUS_FLOW = """
from prefect import get_client
from prefect.client.schemas.filters import FlowRunFilter, FlowRunFilterId
from prefect.deployments import run_deployment

run = run_deployment("analyze_corpus/rlimpro", parameters={"names": ["demo"]}, timeout=600, poll_interval=1)
with get_client(sync_client=True) as client:
    tasks = client.read_task_runs(flow_run_filter=FlowRunFilter(id=FlowRunFilterId(any_=[run.id])))
states = sorted(f"{t.name.split('@')[0]}:{t.state.name}" for t in tasks)
print(run.state.type.value, *states)
"""


def test_a_served_flow_run_from_the_api_writes_the_cli_artifacts_then_hits_the_cache(server, reference,
                                                                                    corpus_project, tmp_path):
    log = tmp_path / "serve.log"
    serving = start([str(BIN / "rlimpro"), "pipeline", "serve"], server, log, cwd=corpus_project)
    try:
        wait_until(lambda: api(server, "from prefect import get_client\nwith get_client(sync_client=True) as c:\n"
                                       "    print(c.read_deployment_by_name('analyze_corpus/rlimpro').id)"),
                   "pipeline serve", 120, serving, log)
        first = api(server, RUN_CORPUS_FLOW).split()
        assert first[0] == "COMPLETED", log.read_text()[-3000:]
        assert first.count("analyze_track:Completed") == len(KEEP)
        assert "analyze_corpus:Completed" in first
        assert corpus_outputs(corpus_project) == reference  # byte for byte
        stamps = {p: p.stat().st_mtime_ns for p in (corpus_project / "01_corpus" / "demo").rglob("*.*")}

        second = api(server, RUN_CORPUS_FLOW).split()
        assert second[0] == "COMPLETED"
        assert second.count("analyze_track:Cached") == len(KEEP)
        assert "analyze_corpus:Cached" in second
        assert {p: p.stat().st_mtime_ns for p in stamps} == stamps  # nothing was written again
    finally:
        stop(serving)


def test_deleted_output_of_a_cached_stage_is_made_again(server, corpus_project):
    run = ["pipeline", "run", "analyze_corpus", "--sequential"]
    assert rlimpro(*run, cwd=corpus_project, env=server).returncode == 0
    summary = corpus_project / "01_corpus" / "demo" / "summary.json"
    before = summary.read_bytes()
    summary.unlink()
    again = rlimpro(*run, cwd=corpus_project, env=server)
    assert again.returncode == 0, again.stderr
    assert summary.read_bytes() == before


def test_a_bad_recording_fails_the_flow_naming_it(server, corpus_project):
    (corpus_project / "01_corpus" / "demo" / "audio" / "broken.wav").write_text("not audio\n")
    done = rlimpro("pipeline", "run", "analyze_corpus", "--sequential", cwd=corpus_project, env=server)
    assert done.returncode == 1
    assert "broken.wav" in done.stdout + done.stderr
    assert "1 of 3 recordings in corpus 'demo' could not be analysed" in done.stderr
    assert len(list((corpus_project / "01_corpus" / "demo" / "features").glob("*.parquet"))) == len(KEEP)


@contextmanager
def external_cluster(server: dict[str, str], tmp_path: Path) -> Iterator[tuple[str, dict[str, str], object]]:
    """`dask scheduler` and two `dask worker` processes on 127.0.0.1; yields (address, env, client)."""
    from distributed import Client

    port = free_port()
    address = f"tcp://127.0.0.1:{port}"
    env = {**server, "DASK_DISTRIBUTED__WORKER__DAEMON": "False"}
    scheduler = start([str(BIN / "dask"), "scheduler", "--host", "127.0.0.1", "--port", str(port),
                       "--no-dashboard"], env, tmp_path / "scheduler.log")
    workers = start([str(BIN / "dask"), "worker", address, "--nworkers", "2", "--nthreads", "1", "--no-dashboard"],
                    env, tmp_path / "workers.log")
    try:
        with Client(address, timeout=60) as client:
            client.wait_for_workers(2, timeout=120)
            yield address, env, client
    finally:
        stop(workers)
        stop(scheduler)


def finished_tasks(client) -> dict[str, int]:
    """Dask tasks that finished on the cluster so far, by prefix (the Prefect task's name)."""
    return client.run_on_scheduler(lambda dask_scheduler: {name: p.state_counts["memory"]
                                                           for name, p in dask_scheduler.task_prefixes.items()})


def test_mapped_tasks_run_on_an_external_dask_cluster(server, reference, corpus_project, tmp_path):
    with external_cluster(server, tmp_path) as (address, env, client):
        done = rlimpro("pipeline", "run", "analyze_corpus", "--dask-address", address, cwd=corpus_project, env=env)
        assert done.returncode == 0, done.stderr[-3000:]
        counts = finished_tasks(client)
    assert counts.get("analyze_track") == len(KEEP), counts  # one Dask task per recording
    assert counts.get("finish_corpus") == 1, counts
    assert corpus_outputs(corpus_project) == reference


def sine_lookup(project: Path, env: dict[str, str], chunk_size: int) -> tuple[Path, bytes]:
    """Set the project's sine synth to 36 points (6 subdivisions) rendered in chunks of ``chunk_size``
    by one worker, render its lookup table with the CLI and delete it; returns (the table's path,
    the CLI's bytes) for a flow to write again. Shared with tests/faults/test_dask.py."""
    params = yaml.safe_load((project / "params.yaml").read_text())
    params["synth"]["sine"]["subdiv"] = 6
    params["render"] = {"chunk_size": chunk_size, "workers": 1}
    (project / "params.yaml").write_text(yaml.safe_dump(params))
    table = project / "00_synths" / "sine" / "lookup.parquet"
    done = rlimpro("render-lookup", "--synth", "sine", cwd=project, env=env)
    assert done.returncode == 0, done.stderr
    reference = table.read_bytes()
    table.unlink()
    return table, reference


def test_lookup_chunks_run_as_mapped_tasks_on_an_external_dask_cluster(server, project, tmp_path):
    table, reference = sine_lookup(project, server, chunk_size=8)  # 36 points: 5 chunks
    run = ["pipeline", "run", "render_lookup", "--name", "sine"]
    with external_cluster(server, tmp_path) as (address, env, client):
        done = rlimpro(*run, "--dask-address", address, cwd=project, env=env)
        assert done.returncode == 0, done.stderr[-3000:]
        counts = finished_tasks(client)
        assert counts.get("render_chunk") == 5, counts  # one Dask task per chunk
        assert counts.get("finish_lookup") == 1, counts
        assert table.read_bytes() == reference  # byte for byte the CLI's table
        stamp = table.stat().st_mtime_ns

        assert rlimpro(*run, "--dask-address", address, cwd=project, env=env).returncode == 0
        assert table.stat().st_mtime_ns == stamp  # every task was cached: nothing was rendered again

        table.unlink()  # a cached run's output deleted: its chunks render again
        done = rlimpro(*run, "--dask-address", address, cwd=project, env=env)
        assert done.returncode == 0, done.stderr[-3000:]
        assert table.read_bytes() == reference
    assert not (project / "00_synths" / "sine" / ".lookup_chunks").exists()


def test_the_lookup_flow_does_not_build_a_synth_the_cli_is_building(server, project):
    from rlimpro.lookup import exclusive

    with exclusive("sine", project):  # what `rlimpro render-lookup --synth sine` holds while it runs
        done = rlimpro("pipeline", "run", "render_lookup", "--name", "sine", "--sequential", cwd=project, env=server)
    assert done.returncode == 1
    assert "another render-lookup of this synth is running" in done.stdout + done.stderr
    assert not (project / "00_synths" / "sine" / "lookup.parquet").exists()


READ_ARTIFACT = """
from prefect import get_client
from prefect.client.schemas.filters import ArtifactFilter, ArtifactFilterKey
with get_client(sync_client=True) as client:
    (artifact,) = client.read_artifacts(artifact_filter=ArtifactFilter(key=ArtifactFilterKey(any_=["{key}"])))
print(artifact.data)
"""


def test_the_full_flow_runs_the_dag_and_publishes_the_evaluation(server, corpus_project):
    params = yaml.safe_load((corpus_project / "params.yaml").read_text())
    params["synths"] = ["sine"]
    params["synth"]["sine"]["subdiv"] = 5
    params["train"].update(total_timesteps=2000, checkpoint_every=2000)
    params["train"]["algos"]["avi"]["learning_starts"] = 500
    (corpus_project / "params.yaml").write_text(yaml.safe_dump(params))
    done = rlimpro("pipeline", "run", "full", "--sequential", cwd=corpus_project, env=server)
    assert done.returncode == 0, done.stderr[-3000:]
    sine = corpus_project / "00_synths" / "sine"
    for path in ("lookup.parquet", "runs/main/model.zip", "policy.onnx", "eval/metrics.json"):
        assert (sine / path).is_file(), path
    table = api(server, READ_ARTIFACT.replace("{key}", "eval-sine"))
    assert "| policy | nRMSE | x oracle |" in table
    nrmse = json.loads((sine / "eval" / "metrics.json").read_text())["overall"]["agent"]["nrmse"]
    assert f"| agent | {nrmse:.4f} |" in table
    assert (sine / "eval" / "error.png").as_uri() in table
    assert (sine / "eval" / "report.html").is_file() and (sine / "map" / "index.html").is_file()
    link = api(server, READ_ARTIFACT.replace("{key}", "report-sine"))  # the report, published as a link
    assert (sine / "eval" / "report.html").as_uri() in link
