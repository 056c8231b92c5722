"""The map's parts without a browser: which points it shows, and projections that resume from their cache."""

from __future__ import annotations

import numpy as np
import pytest

from rlimpro import grid
from rlimpro.pages.projection import cached_projection, project, standardise
from rlimpro.pages.subgrid import subgrid


@pytest.mark.parametrize(("n_params", "subdiv", "shown"), [(4, 8, 256), (4, 7, 256), (2, 20, 256), (1, 7, 7), (3, 6, 216)])
def test_the_shown_points_are_the_largest_regular_subgrid(n_params, subdiv, shown):
    sub = subgrid(n_params, subdiv, 256)
    assert sub.n_points == shown == len(np.unique(sub.rows))
    assert sub.levels[0] == 0 and sub.levels[-1] == subdiv - 1
    params = grid.grid_points(n_params, subdiv)[sub.rows]
    assert np.array_equal(grid.row_index(params, subdiv), sub.rows)
    assert np.array_equal(sub.snap(params), np.arange(shown))  # every shown point snaps to itself


def test_any_point_snaps_to_the_nearest_shown_one():
    sub = subgrid(2, 8, 16)  # levels 0, 2, 5, 7 of 0..7
    assert sub.levels.tolist() == [0, 2, 5, 7]
    # (3/7, 6/7): digit 3 is nearest level 2 (index 1), digit 6 is nearest 5 or 7 (index 2 first)
    assert sub.snap(np.array([3 / 7, 6 / 7])) == 1 * 4 + 2
    assert sub.snap(np.array([[0.0, 1.0], [1.0, 0.0]])).tolist() == [3, 12]


def test_standardise_drops_constant_columns():
    x = np.array([[1.0, 5.0, 2.0], [3.0, 5.0, 4.0], [5.0, 5.0, 9.0]])
    z = standardise(x)
    assert z.shape == (3, 2) and np.allclose(z.mean(axis=0), 0) and np.allclose(z.std(axis=0), 1)


def test_a_saved_projection_is_read_back_instead_of_computed(tmp_path):
    x = standardise(np.random.default_rng(0).normal(size=(40, 5)))
    first = cached_projection(x, "PCA", tmp_path)
    assert np.allclose(first, project(x, "PCA"))
    (saved,) = tmp_path.glob("pca-*.npy")
    np.save(saved, np.full((40, 2), 7.0))  # as if an interrupted run had left it
    assert np.all(cached_projection(x, "PCA", tmp_path) == 7.0)
    assert np.allclose(cached_projection(x + 1.0, "PCA", tmp_path), first)  # other input, other file


def test_t_sne_and_umap_refuse_too_few_points():
    from rlimpro.errors import RlimproError

    with pytest.raises(RlimproError, match="t-SNE needs at least 8 points"):
        project(np.zeros((5, 3)), "t-SNE")
