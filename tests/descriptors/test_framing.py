import numpy as np

from rlimpro.descriptors import NAMES, compute, frame_times, n_frames


def test_frame_count_follows_the_no_centring_rule():
    assert n_frames(1024) == 1
    assert n_frames(1535) == 1
    assert n_frames(1536) == 2
    assert n_frames(44100) == 1 + (44100 - 1024) // 512
    assert compute(np.zeros(44100)).shape == (85, 56)


def test_a_file_shorter_than_one_window_gives_one_zero_padded_frame():
    short = compute(np.full(100, 0.5))
    assert short.shape == (1, 56)
    assert np.isfinite(short).all()
    assert short[0, 1] > -7  # its samples are in the frame: true peak near 0.5 (-6 dBFS)


def test_frame_time_is_the_window_centre():
    np.testing.assert_allclose(frame_times(3), [512 / 44100, 1024 / 44100, 1536 / 44100])


def test_frames_see_only_their_own_samples():
    y = np.zeros(44100)
    y[10 * 512 : 10 * 512 + 1024] = np.sin(np.arange(1024))  # exactly frame 10
    table = compute(y)
    loud, centroid = table[:, 0], table[:, NAMES.index("centroid")]
    assert loud[10] > -20 and loud[10] == loud.max()
    assert centroid[9] > 0 and centroid[11] > 0  # frames 9 and 11 overlap the burst by half
    assert centroid[8] == 0 and centroid[12] == 0  # frames 8 and 12 do not touch it
    assert loud[12] < loud[10] - 20  # only the K-weighting filter's decaying tail remains
