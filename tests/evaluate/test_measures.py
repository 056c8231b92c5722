"""Known answers of the musical measures (rlimpro.musicality)."""

from __future__ import annotations

import numpy as np
import pytest

from rlimpro.musicality import (combine, cross_covariance, moved, peak_lag, reversals, smooth, steady_frames,
                                target_change, track_tally)

FPS = 44100 / 512


def _walk(signs: list[int], n: int = 1, start: float = 0.5, step: float = 0.1) -> np.ndarray:
    """Params ``[T + 1, n]`` from the start, moving every parameter by ``step * sign`` each frame."""
    return start + step * np.concatenate([[0], np.cumsum(signs)])[:, None] * np.ones(n)


def test_a_trajectory_that_never_moves_has_no_moves_or_reversals() -> None:
    params = np.full((101, 3), 0.25)
    assert not moved(params).any() and not reversals(params).any()
    tally = track_tally(np.random.default_rng(0).normal(size=(100, 2)), np.zeros((100, 2)), params)
    measures = combine([tally], FPS)
    assert measures["moves_per_s"] == 0 and measures["reversals_per_s"] == 0


def test_alternating_moves_reverse_every_frame_after_the_first() -> None:
    params = _walk([1, -1] * 10)
    assert moved(params).all()
    assert reversals(params).tolist() == [0] + [1] * 19


def test_a_hold_between_opposite_moves_still_reverses_and_moves_count_per_frame() -> None:
    params = _walk([1, 0, 0, -1, -1, 0, 1])
    assert moved(params).tolist() == [True, False, False, True, True, False, True]
    assert reversals(params).tolist() == [0, 0, 0, 1, 0, 0, 1]
    # two parameters reversing in the same frame: two reversals, one moving frame
    both = _walk([1, -1], n=2)
    assert reversals(both).tolist() == [0, 2] and moved(both).sum() == 2


def test_moves_per_second_counts_frames_with_any_change() -> None:
    params = np.zeros((5, 2))
    params[2:, 0] = 0.1          # p0 moves at frame 1
    params[4:, 1] = 0.1          # p1 moves at frame 3
    assert moved(params).tolist() == [False, True, False, True]
    tally = track_tally(np.zeros((4, 1)), np.zeros((4, 1)), params)
    assert combine([tally], FPS)["moves_per_s"] == pytest.approx(2 / 4 * FPS)


def test_steady_frames_are_below_the_median_change() -> None:
    # changes from the previous frame: -, 1, 3, 0, 2, 0.5 -> median of [1, 3, 0, 2, 0.5] is 1
    y = np.cumsum([0, 1, 3, 0, 2, 0.5])[:, None] * np.ones(2)
    assert target_change(y)[1:] == pytest.approx([1, 3, 0, 2, 0.5])
    assert steady_frames(y).tolist() == [False, False, False, True, False, True]


def test_reversals_per_second_count_only_steady_frames() -> None:
    y = np.cumsum([0, 1, 3, 0, 2, 0.5])[:, None]           # steady frames: 3 and 5
    params = _walk([1, -1, 1, -1, 1, -1])                   # reversals at frames 1..5
    tally = track_tally(y, np.zeros_like(y), params)
    assert tally["steady"] == 2 and tally["steady_reversals"] == 2
    assert combine([tally], FPS)["reversals_per_s"] == pytest.approx(FPS)  # one per steady frame


def test_smoothing_a_constant_is_itself_and_a_ramp_stays_a_ramp_inside() -> None:
    c = np.full((30, 3), 1.7)
    assert smooth(c) == pytest.approx(c)
    ramp = np.arange(30.0)
    assert smooth(ramp)[4:-4] == pytest.approx(ramp[4:-4])
    assert smooth(ramp)[0] == pytest.approx(np.mean(ramp[:5]))  # the edge: the frames there are
    with pytest.raises(ValueError):
        smooth(ramp, 4)


@pytest.mark.parametrize("delay", [-7, -1, 0, 3, 12, 20])
def test_a_delayed_copy_lags_by_the_delay(delay: int) -> None:
    rng = np.random.default_rng(1)
    y = smooth(rng.normal(size=(400 + 2 * 20, 2)), 5)
    target = y[20:-20]
    late = y[20 - delay:len(y) - 20 - delay]                # late[t] = target[t - delay]
    assert peak_lag(cross_covariance(late, target)) == delay
    assert combine([track_tally(target, late, np.zeros((len(target) + 1, 1)))], FPS)["lag_frames"] == delay


def test_lag_is_undefined_for_a_constant_player() -> None:
    target = np.random.default_rng(2).normal(size=(200, 2))
    assert peak_lag(cross_covariance(np.full_like(target, 0.3), target)) is None


def test_tracks_combine_frame_weighted() -> None:
    still = track_tally(np.zeros((300, 1)), np.zeros((300, 1)), np.zeros((301, 1)))
    busy = track_tally(np.zeros((100, 1)), np.ones((100, 1)), _walk([1] * 100))
    measures = combine([still, busy], FPS)
    assert measures["moves_per_s"] == pytest.approx(100 / 400 * FPS)
    assert measures["nrmse_smooth"] == pytest.approx(np.sqrt(100 / 400))


def test_nrmse_against_the_smoothed_target() -> None:
    y = np.zeros((50, 2))
    y[::2] = 1.0                                            # flickers between 0 and 1
    tally = track_tally(y, np.full_like(y, 0.5), np.zeros((51, 1)))
    # inside, the 9-frame mean is 4/9 or 5/9: error 1/18 everywhere but the edges
    assert combine([tally], FPS)["nrmse_smooth"] < 0.1
