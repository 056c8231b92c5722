"""Lookup-table reader: grid arithmetic, interpolation, validation."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from rlimpro.env.table import load_table
from rlimpro.errors import RlimproError


def test_nearest_rows_equal_brute_force(toy_project: Path) -> None:
    table = load_table(toy_project / "00_synths/toy/lookup.parquet")
    grid = pd.read_parquet(toy_project / "00_synths/toy/lookup.parquet")[["p0", "p1", "p2"]].to_numpy()
    params = np.random.default_rng(3).uniform(-0.1, 1.1, size=(500, 3))
    brute = np.argmin(((np.clip(params, 0, 1)[:, None, :] - grid[None]) ** 2).sum(-1), axis=1)
    np.testing.assert_array_equal(table.nearest_rows(params), brute)


def test_grid_params_round_trip(toy_project: Path) -> None:
    table = load_table(toy_project / "00_synths/toy/lookup.parquet")
    rows = np.arange(table.n_rows)
    np.testing.assert_array_equal(table.nearest_rows(table.grid_params(rows)), rows)
    assert (table.subdiv, table.n_params, table.n_rows) == (6, 3, 216)


def test_interpolation_exact_on_grid_and_linear_between(toy_project: Path) -> None:
    table = load_table(toy_project / "00_synths/toy/lookup.parquet")
    values = table.features[:, :5]
    rows = np.array([0, 7, 100, 215])
    np.testing.assert_allclose(table.interpolate(values, table.grid_params(rows)), values[rows])
    a, b = table.grid_params(np.array([7])), table.grid_params(np.array([8]))  # neighbours along p2
    mid = table.interpolate(values, (a + b) / 2)
    np.testing.assert_allclose(mid[0], (values[7] + values[8]) / 2)


def test_rejects_missing_columns_and_ragged_grid(tmp_path: Path, toy_project: Path) -> None:
    df = pd.read_parquet(toy_project / "00_synths/toy/lookup.parquet")
    df.drop(columns=["centroid"]).to_parquet(tmp_path / "a.parquet")
    with pytest.raises(RlimproError, match="a.parquet: expected columns"):
        load_table(tmp_path / "a.parquet")
    df.iloc[:-1].to_parquet(tmp_path / "b.parquet")
    with pytest.raises(RlimproError, match="b.parquet: 215 rows"):
        load_table(tmp_path / "b.parquet")
    df.iloc[::-1].to_parquet(tmp_path / "c.parquet")
    with pytest.raises(RlimproError, match="c.parquet: rows are not in mixed-radix"):
        load_table(tmp_path / "c.parquet")
    with pytest.raises(RlimproError, match="lookup table not found"):
        load_table(tmp_path / "none.parquet")
