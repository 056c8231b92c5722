"""Descriptor names, order, units and the selection grammar (docs/descriptors.md).

This module is the single source of the feature vocabulary: CSV headers, lookup-table
columns, ONNX metadata, OSC message order and Pd lists all follow :data:`NAMES`.
"""

from __future__ import annotations

from collections.abc import Iterable

from rlimpro.errors import RlimproError

__all__ = ["CATEGORIES", "NAMES", "UNITS", "DB_FLOOR", "LEVEL_FLOOR", "select", "indices"]

#: category -> column names, in table order
CATEGORIES: dict[str, list[str]] = {
    "loudness": ["loudness", "truepeak"],
    "mfcc": [f"mfcc_{i}" for i in range(13)],
    "chroma": [
        "chroma_A", "chroma_As", "chroma_B", "chroma_C", "chroma_Cs", "chroma_D",
        "chroma_Ds", "chroma_E", "chroma_F", "chroma_Fs", "chroma_G", "chroma_Gs",
    ],
    "specshape": ["centroid", "spread", "skewness", "kurtosis", "rolloff", "flatness", "crest"],
    "pitch": ["pitch", "pitch_confidence"],
    "sines": [f"sine_freq_{i}" for i in range(10)] + [f"sine_mag_{i}" for i in range(10)],
}

#: all 56 column names in table order
NAMES: list[str] = [name for names in CATEGORIES.values() for name in names]

#: unit of each column
UNITS: dict[str, str] = {
    "loudness": "LUFS", "truepeak": "dBFS",
    **{n: "dB" for n in CATEGORIES["mfcc"]},
    **{n: "ratio" for n in CATEGORIES["chroma"]},
    "centroid": "Hz", "spread": "Hz", "skewness": "", "kurtosis": "", "rolloff": "Hz",
    "flatness": "dB", "crest": "dB",
    "pitch": "Hz", "pitch_confidence": "",
    **{f"sine_freq_{i}": "Hz" for i in range(10)},
    **{f"sine_mag_{i}": "dB" for i in range(10)},
}

#: floor of every dB value computed from a magnitude (20·log10(1e-5))
DB_FLOOR = -100.0
#: floor of loudness and true peak
LEVEL_FLOOR = -150.0

_INDEX = {name: i for i, name in enumerate(NAMES)}


def select(selection: str | Iterable[str]) -> list[str]:
    """Resolve a selection of categories and/or names to column names in table order.

    :param selection: e.g. ``["specshape", "loudness"]`` or ``"centroid,loudness"``
        (a comma-separated string is accepted too). A category name selects its whole
        category, except ``loudness`` and ``pitch``, which are also column names and select
        that column only (ask for ``[loudness, truepeak]`` to get both).
    :return: the selected column names, in table order, each once.
    :raises RlimproError: naming an unknown feature and listing the valid categories.
    """
    items = selection.split(",") if isinstance(selection, str) else list(selection)
    wanted: set[str] = set()
    for raw in items:
        item = str(raw).strip()
        if item in _INDEX:  # a column name wins: "loudness" is the column, not the category
            wanted.add(item)
        elif item in CATEGORIES:
            wanted.update(CATEGORIES[item])
        else:
            raise RlimproError(
                f"unknown feature {item!r}: use a category ({', '.join(CATEGORIES)}) "
                f"or a column name such as 'centroid' or 'mfcc_3'"
            )
    if not wanted:
        raise RlimproError("empty feature selection: name at least one category or feature")
    return [name for name in NAMES if name in wanted]


def indices(selection: str | Iterable[str]) -> list[int]:
    """Column indices (into :data:`NAMES`) of a selection, in table order."""
    return [_INDEX[name] for name in select(selection)]
