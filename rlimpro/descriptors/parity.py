"""The published tolerance between the C core and the numpy reference, per descriptor.

A frame agrees on a descriptor when ``|c − numpy| <= abs + rel·|numpy|``. Most descriptors
must agree on every frame. Rank and arg-max descriptors (rolloff, pitch, the sine peaks) can
pick a different one of two nearly equal candidates when the two engines' float32 FFTs round
differently, so they must agree on at least 99 % of frames (a lone digital click, whose
spectrum is exactly flat, makes every bin a tie: there they are not compared). Spread,
skewness and kurtosis weigh the empty top of the spectrum by f², f³ and f⁴; on a spectrum
narrower than 100 Hz of spread (a pure tone with no noise floor) they measure the FFT's
rounding noise in either engine, so they are held to their tolerance only where the spread
is at least 100 Hz, and on 99 % of those frames (quiet ones sit near that noise). Likewise the sine peaks
are compared where they stand above −60 dBFS: below, they are ripples of the noise floor
whose order depends on the last bit of the FFT. docs/descriptors.md
publishes this table; tests/native/test_analyzer.py holds both engines to it.

>>> import numpy as np
>>> a = np.zeros((4, 56)); b = a.copy(); b[0, 0] = 1.0   # loudness off by 1 LUFS on one frame
>>> failing(a, b)
{'loudness': 0.75}
>>> print(markdown_table().splitlines()[2])   # the row docs/descriptors.md publishes
| loudness | 1e-06 | 1e-06 | 100% |
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from rlimpro.descriptors.names import CATEGORIES, NAMES

#: descriptors that pick one of several candidates (a bin, a lag, a peak)
RANKED = ("rolloff", "pitch", *CATEGORIES["sines"])

__all__ = ["RANKED", "markdown_table", "Tolerance", "TOLERANCES", "agreement", "failing", "NARROW_SPREAD_HZ", "SINE_FLOOR_DB"]

#: spread (Hz) below which spread, skewness and kurtosis are not compared
NARROW_SPREAD_HZ = 100.0
#: sine peaks below this (dBFS) are compared only above it: lower ones are noise-floor ripples
SINE_FLOOR_DB = -60.0


class Tolerance(NamedTuple):
    """A frame agrees when ``|c − numpy| <= absolute + relative·|numpy|``; ``share``: of frames that must."""

    absolute: float
    relative: float = 0.0
    share: float = 1.0


TOLERANCES: dict[str, Tolerance] = {
    "loudness": Tolerance(1e-6, 1e-6), "truepeak": Tolerance(1e-4),
    **{n: Tolerance(0.02) for n in CATEGORIES["mfcc"]},
    **{n: Tolerance(5e-4) for n in CATEGORIES["chroma"]},
    "centroid": Tolerance(0.05, 1e-5), "spread": Tolerance(0.05, 1e-3),
    "skewness": Tolerance(1e-3, 1e-2, 0.99), "kurtosis": Tolerance(1e-2, 1e-2, 0.99),
    "rolloff": Tolerance(1e-6, 0.0, 0.99), "flatness": Tolerance(1e-3), "crest": Tolerance(1e-3),
    "pitch": Tolerance(0.01, 0.0, 0.99), "pitch_confidence": Tolerance(1e-4),
    **{f"sine_freq_{i}": Tolerance(0.01, 0.0, 0.99) for i in range(10)},
    **{f"sine_mag_{i}": Tolerance(1e-3, 0.0, 0.99) for i in range(10)},
}


def agreement(c: np.ndarray, reference: np.ndarray) -> dict[str, float]:
    """Share of frames on which each descriptor agrees within :data:`TOLERANCES`.

    :param c: np.ndarray [shape=(n, 56)], the C core's table.
    :param reference: np.ndarray [shape=(n, 56)], the numpy reference's table of the same signal.
    :return: descriptor name -> share in [0, 1] (1.0 when no frame is compared).
    """
    spread = reference[:, NAMES.index("spread")]
    shares = {}
    for i, name in enumerate(NAMES):
        tol = TOLERANCES[name]
        ok = np.abs(c[:, i] - reference[:, i]) <= tol.absolute + tol.relative * np.abs(reference[:, i])
        if name in ("spread", "skewness", "kurtosis"):
            ok = ok[spread >= NARROW_SPREAD_HZ]
        elif name.startswith("sine_"):
            ok = ok[reference[:, NAMES.index("sine_mag_" + name.rsplit("_", 1)[1])] >= SINE_FLOOR_DB]
        shares[name] = float(ok.mean()) if ok.size else 1.0
    return shares


def failing(c: np.ndarray, reference: np.ndarray) -> dict[str, float]:
    """The descriptors whose agreement is below their required share (name -> share)."""
    return {name: share for name, share in agreement(c, reference).items() if share < TOLERANCES[name].share}


def markdown_table() -> str:
    """The tolerance table as docs/descriptors.md publishes it (one row per group of columns)."""
    rows, seen = ["| descriptor | absolute | relative | share of frames |", "|---|---|---|---|"], set()
    for name in NAMES:
        tol = TOLERANCES[name]
        group = next((c for c, names in CATEGORIES.items() if name in names and len(names) > 2 and c != "specshape"), name)
        if group == "sines":
            group = "sine_freq_*" if name.startswith("sine_freq") else "sine_mag_*"
        if group in seen:
            continue
        seen.add(group)
        label = {"mfcc": "mfcc_*", "chroma": "chroma_*"}.get(group, group)
        rows.append(f"| {label} | {tol.absolute:g} | {tol.relative:g} | {tol.share:.0%} |")
    return "\n".join(rows)


def main(argv: list[str] | None = None) -> int:
    """``python -m rlimpro.descriptors.parity AUDIO...``: check both engines on your own recordings.

    Prints, per file, the descriptors whose agreement falls below the published share (or
    "all within tolerance"); exits 1 if any file fails.
    """
    import sys

    from rlimpro.audio import load_audio
    from rlimpro.descriptors import compute

    files = sys.argv[1:] if argv is None else argv
    if not files:
        print("usage: python -m rlimpro.descriptors.parity AUDIO...")
        return 2
    bad = 0
    for path in files:
        y = load_audio(path)
        fails = failing(compute(y, engine="c"), compute(y, engine="numpy"))
        bad += bool(fails)
        detail = ", ".join(f"{name} {share:.2%} < {TOLERANCES[name].share:.0%}" for name, share in fails.items())
        print(f"{path}: {detail or 'all 56 descriptors within tolerance'}")
    return 1 if bad else 0


if __name__ == "__main__":
    raise SystemExit(main())
