import pytest

from rlimpro.descriptors import CATEGORIES, NAMES, indices, select
from rlimpro.errors import RlimproError


def test_table_has_56_columns_in_category_order():
    assert len(NAMES) == 56 == len(set(NAMES))
    assert [len(v) for v in CATEGORIES.values()] == [2, 13, 12, 7, 2, 20]
    assert NAMES[:3] == ["loudness", "truepeak", "mfcc_0"]
    assert NAMES[15] == "chroma_A" and NAMES[-1] == "sine_mag_9"


def test_selection_keeps_table_order_whatever_the_order_asked():
    assert select(["centroid", "loudness"]) == ["loudness", "centroid"]
    assert select(["specshape", "loudness"]) == ["loudness", *CATEGORIES["specshape"]]
    assert select(["truepeak", "loudness"]) == CATEGORIES["loudness"]
    assert select("mfcc_3,loudness,mfcc") == ["loudness", *CATEGORIES["mfcc"]]
    assert indices(["pitch"]) == [NAMES.index("pitch")]  # a column name wins over its category
    assert indices(["sines"]) == list(range(NAMES.index("sine_freq_0"), 56))


def test_unknown_feature_is_named_in_the_error():
    with pytest.raises(RlimproError, match="unknown feature 'brightness'.*specshape"):
        select(["loudness", "brightness"])
    with pytest.raises(RlimproError, match="empty"):
        select([])
