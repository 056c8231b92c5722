"""Commands that run the DAG with Prefect: ``pipeline run`` and ``pipeline serve``."""

from __future__ import annotations

from typing import Any

import typer

from rlimpro.cli._common import console
from rlimpro.errors import RlimproError

pipeline_app = typer.Typer(
    help="Run the DAG of dvc.yaml as Prefect flows (tasks fanned out on Dask), or serve them to a Prefect server.",
    no_args_is_help=True,
)

_ADDRESS_HELP = "Dask scheduler to run tasks on (tcp://host:8786). Default: $RLIMPRO_DASK_ADDRESS, else a local cluster."


def _pipelines() -> Any:
    try:
        import pipelines.launch
    except ModuleNotFoundError as exc:
        raise RlimproError(
            f"cannot import the Prefect flows ({exc.name}); install the package with its [pipeline] extra "
            "(pip install -e '.[pipeline]') from the project folder"
        ) from exc
    return pipelines.launch


@pipeline_app.command("run")
def run(
    flow: str = typer.Argument("full", help="analyze_corpus, render_lookup, train, export, evaluate, or full (the DAG)."),
    name: list[str] = typer.Option(None, "--name", "-n", help="Corpus or synth for a stage flow (repeat; default: params.yaml)."),
    dask_address: str = typer.Option(None, "--dask-address", help=_ADDRESS_HELP),
    sequential: bool = typer.Option(False, "--sequential", help="Run tasks one at a time in this process (no Dask)."),
    workers: int = typer.Option(0, "--workers", help="Worker processes of the local Dask cluster; 0 = all cores."),
) -> None:
    """Run a flow now. Unchanged stages are skipped (cached on params and input hashes).

    Set PREFECT_API_URL to record the run on a Prefect server; without it Prefect starts a
    temporary one for the run.
    """
    results = _pipelines().run_flow(flow, ".", names=name or None, address=dask_address, sequential=sequential,
                                    workers=workers or None)
    console.print(f"flow {flow}: {len(results)} stage{'s' * (len(results) != 1)} done ({', '.join(results)})")


@pipeline_app.command("serve")
def serve(
    dask_address: str = typer.Option(None, "--dask-address", help=_ADDRESS_HELP),
    sequential: bool = typer.Option(False, "--sequential", help="Run tasks one at a time in the run's process (no Dask)."),
) -> None:
    """Register every flow as a deployment '<flow>/rlimpro' with the Prefect server at PREFECT_API_URL.

    Then runs whatever the server schedules (from the UI, `prefect deployment run full/rlimpro`
    or the API) in this project folder, until interrupted (Ctrl-C).
    """
    _pipelines().serve_flows(".", address=dask_address, sequential=sequential)


def register(app: typer.Typer) -> None:
    """Add the ``pipeline`` command group to ``app``."""
    app.add_typer(pipeline_app, name="pipeline")
