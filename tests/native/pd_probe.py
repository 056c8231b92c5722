"""Run a sound file through [rlimpro_features~] in a real batch Pd (tests/native/features_probe.pd)."""

from __future__ import annotations

import subprocess
from pathlib import Path

import numpy as np
import soundfile as sf

from rlimpro.descriptors import NAMES, select
from rlimpro.live.play import EXTERNALS, FEATURES_EXTERNAL
from rlimpro.pdrun import find_pd

PROBE = Path(__file__).with_name("features_probe.pd")


def pd_features(y: np.ndarray, tmp: Path, *, rate: int = 44100, selection: list[str] | None = None,
                frames: int | None = None) -> tuple[np.ndarray, str]:
    """The lists ``[rlimpro_features~]`` sends for ``y`` played at ``rate`` (float32, exact).

    :return: ([frames, F] lists in order, Pd's console); F = the selection's size (56 by default).
    """
    width = len(select(selection)) if selection else len(NAMES)
    frames = frames or len(y) // 400 + 8
    wav, out = tmp / "probe-in.wav", tmp / "probe-out.wav"
    sf.write(wav, np.asarray(y, dtype=np.float32), rate, subtype="FLOAT")
    send = [f"probe-width {width}", f"probe-size {width * frames}", f"probe-out symbol {out}"]
    if selection:
        send.append("probe-select " + " ".join(selection))
    send.append(f"probe-file symbol {wav}")
    proc = subprocess.run([find_pd(), "-nogui", "-nosound", "-noprefs", "-batch", "-r", str(rate), "-path", str(EXTERNALS),
                           "-open", str(PROBE), "-send", "; ".join(send)], capture_output=True, text=True, timeout=120)
    console = proc.stdout + proc.stderr
    data, _ = sf.read(out, dtype="float32") if out.is_file() else (np.zeros(0, np.float32), rate)
    return data.reshape(-1, width), console
