"""Run a flow now, or serve every flow as a deployment of a running Prefect server."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from pipelines.flows import FLOWS
from pipelines.runners import task_runner
from rlimpro.errors import RlimproError

__all__ = ["DEPLOYMENT", "run_flow", "serve_flows"]

#: every flow is served as ``<flow>/rlimpro``, e.g. ``full/rlimpro``
DEPLOYMENT = "rlimpro"


def _flow(name: str) -> Any:
    if name not in FLOWS:
        raise RlimproError(f"no flow {name!r}; choose one of {', '.join(FLOWS)}")
    return FLOWS[name]


def run_flow(name: str, root: str | Path = ".", *, names: list[str] | None = None, address: str | None = None,
             sequential: bool = False, workers: int | None = None) -> dict[str, Any]:
    """Run flow ``name`` in this process (tasks on Dask unless ``sequential``).

    :param names: corpora or synths for a stage flow (default: those params.yaml lists).
    :param address: a Dask scheduler (default: ``RLIMPRO_DASK_ADDRESS``, else a local cluster).
    :param workers: local cluster size (default: every core).
    :return: per stage, the digests of its outputs.
    """
    flow = _flow(name).with_options(task_runner=task_runner(address, sequential=sequential, workers=workers))
    kwargs: dict[str, Any] = {"root": str(Path(root).resolve())}
    if names:
        if name == "full":
            raise RlimproError("the full flow runs what params.yaml lists; edit corpora/synths there")
        kwargs["names"] = names
    return flow(**kwargs)


def serve_flows(root: str | Path = ".", *, address: str | None = None, sequential: bool = False) -> None:
    """Register every flow as ``<flow>/rlimpro`` with the Prefect server and run what it schedules.

    Blocks until interrupted. Runs triggered from the UI or API use ``root`` unless their
    parameters say otherwise, so their outputs land where ``dvc repro`` expects them.
    """
    from prefect import serve
    from prefect.types.entrypoint import EntrypointType

    runner = task_runner(address, sequential=sequential)
    deployments = [
        flow.with_options(task_runner=runner).to_deployment(
            name=DEPLOYMENT, parameters={"root": str(Path(root).resolve())},
            entrypoint_type=EntrypointType.MODULE_PATH,
        )
        for flow in FLOWS.values()
    ]
    serve(*deployments, print_starting_message=True)
