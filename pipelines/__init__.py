"""Prefect flows that run rlimpro's DAG (dvc.yaml) on a Prefect server, fanned out on Dask.

The flows hold no logic of their own: every task calls the stage function the CLI calls.
Run them with ``rlimpro pipeline run [FLOW]``; register them with a Prefect server with
``rlimpro pipeline serve``.
"""
