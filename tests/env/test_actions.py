"""Action decoding: the three spaces agree and stay inside [0, 1]."""

from __future__ import annotations

import numpy as np

from rlimpro.env.actions import decode, deltas, stay_action, toward


def test_discrete_and_multidiscrete_agree() -> None:
    n, step = 3, 0.2
    params = np.random.default_rng(0).uniform(0, 1, size=(27, n))
    actions = np.arange(27)
    digits = deltas(n) + 1
    a = decode(actions, params, space="discrete", step=step)
    b = decode(digits, params, space="multidiscrete", step=step)
    c = decode((digits - 1).astype(np.float32), params, space="continuous", step=step)
    np.testing.assert_allclose(a, b)
    np.testing.assert_allclose(a, c)
    np.testing.assert_array_equal(deltas(n)[0], [-1, -1, -1])
    np.testing.assert_array_equal(deltas(n)[5], [-1, 0, 1])  # base 3, p0 most significant


def test_stay_clip_and_toward() -> None:
    params = np.array([[0.0, 1.0, 0.5]])
    for space in ("discrete", "multidiscrete", "continuous"):
        np.testing.assert_array_equal(decode(stay_action(space, 3, 1), params, space=space, step=0.3), params)
        out = decode(toward(np.array([[-1, 1, 1]]), space), params, space=space, step=0.3)
        np.testing.assert_allclose(out, [[0.0, 1.0, 0.8]])
    np.testing.assert_allclose(decode(np.array([[5.0, -5.0, 0.5]]), params, space="continuous", step=0.3),
                               [[0.3, 0.7, 0.65]])


def test_reach_moves_each_param_up_to_reach_steps() -> None:
    n, step, reach = 2, 0.1, 2
    moves = deltas(n, reach)
    assert moves.shape == (25, 2) and moves.min() == -2 and moves.max() == 2
    np.testing.assert_array_equal(moves[(25 - 1) // 2], [0, 0])  # the middle action holds still
    np.testing.assert_array_equal(deltas(n, 1), deltas(n))
    params = np.full((25, n), 0.5)
    a = decode(np.arange(25), params, space="discrete", step=step, reach=reach)
    b = decode(moves + reach, params, space="multidiscrete", step=step, reach=reach)
    c = decode((moves / reach).astype(np.float32), params, space="continuous", step=step, reach=reach)
    np.testing.assert_allclose(a, 0.5 + moves * step)
    np.testing.assert_allclose(a, b)
    np.testing.assert_allclose(a, c)
    for space in ("discrete", "multidiscrete", "continuous"):
        np.testing.assert_array_equal(decode(stay_action(space, n, 1, reach), params[:1], space=space, step=step,
                                             reach=reach), params[:1])
        np.testing.assert_allclose(decode(toward(np.array([[2, -1]]), space, reach), params[:1], space=space,
                                          step=step, reach=reach), [[0.7, 0.4]])
