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
