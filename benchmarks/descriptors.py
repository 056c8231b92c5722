"""Descriptor analysis speed on one core: the C core vs the numpy engine vs a per-category librosa baseline.

Three ways to get the 56 descriptors of the same signal, timed in one process:

- ``compute(y, engine="c")``: the C descriptor core (``native/descriptors.c`` through
  ``rlimpro.descriptors.native``, ``make native``), the analyzer Pd and the server run;
- ``compute(y, engine="numpy")``: the numpy reference engine (one shared STFT);
- the librosa baseline: what one writes with librosa out of the box, each category calling its
  own librosa function, so each computes its own STFT.

The signal is the demo corpus (2 minutes), decoded once beforehand (decoding, and writing any
table, is not counted). Speed is x real time per core: seconds of audio per CPU second of this
process (``time.process_time``; numpy/BLAS/numba limited to one thread), best of several
repeats, the engines interleaved so that other load on the machine hits them alike. Goals:
C >= 1,000x real time; numpy >= 300x and >= 2x the librosa baseline. The C/numpy ratio says
what the port bought. Nothing is asserted: a missed goal is printed as MISSED.

    .venv/bin/python benchmarks/descriptors.py [--seconds S] [--repeats R]
"""

from __future__ import annotations

import os

for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "NUMBA_NUM_THREADS"):
    os.environ[_var] = "1"  # one core, before numpy loads

import argparse  # noqa: E402
import time  # noqa: E402
from functools import partial  # noqa: E402
from pathlib import Path  # noqa: E402

import librosa  # noqa: E402
import numpy as np  # noqa: E402
from scipy import signal  # noqa: E402

from rlimpro.audio import load_audio  # noqa: E402
from rlimpro.descriptors import compute, native  # noqa: E402
from rlimpro.descriptors.loudness import k_weighting  # noqa: E402

SR, N_FFT, HOP = 44100, 1024, 512
ROOT = Path(__file__).resolve().parent.parent
GOAL_C, GOAL_NUMPY, GOAL_VS_BASELINE = 1000.0, 300.0, 2.0


def librosa_baseline(y: np.ndarray) -> np.ndarray:
    """All six categories, each the straightforward librosa way (its own STFT)."""
    opts = dict(sr=SR, n_fft=N_FFT, hop_length=HOP, center=False)
    k = signal.sosfilt(k_weighting(SR), y)
    loud = -0.691 + 10 * np.log10(np.maximum((librosa.util.frame(k, frame_length=N_FFT, hop_length=HOP) ** 2).mean(axis=0), 1e-15))
    up = signal.resample_poly(y, 4, 1)
    peak = 20 * np.log10(np.maximum(np.abs(librosa.util.frame(up, frame_length=4 * N_FFT, hop_length=4 * HOP)).max(axis=0), 1e-8))
    mfcc = librosa.feature.mfcc(y=y, n_mfcc=13, n_mels=40, fmin=20, fmax=20000, htk=True, **opts)
    chroma = librosa.feature.chroma_stft(y=y, **opts)
    centroid = librosa.feature.spectral_centroid(y=y, **opts)
    spread = librosa.feature.spectral_bandwidth(y=y, **opts)
    rolloff = librosa.feature.spectral_rolloff(y=y, roll_percent=0.95, **opts)
    flatness = librosa.feature.spectral_flatness(y=y, n_fft=N_FFT, hop_length=HOP, center=False)
    S = np.abs(librosa.stft(y, n_fft=N_FFT, hop_length=HOP, center=False))  # skewness, kurtosis, crest
    f = librosa.fft_frequencies(sr=SR, n_fft=N_FFT)[:, None]
    p = S / np.maximum(S.sum(axis=0), 1e-12)
    c = (p * f).sum(axis=0)
    sd = np.sqrt((p * (f - c) ** 2).sum(axis=0)) + 1e-12
    skew = (p * (f - c) ** 3).sum(axis=0) / sd**3
    kurt = (p * (f - c) ** 4).sum(axis=0) / sd**4
    crest = 20 * np.log10(np.maximum(S.max(axis=0), 1e-5) / np.maximum(S.mean(axis=0), 1e-5))
    f0 = librosa.yin(y, fmin=90, fmax=10000, sr=SR, frame_length=N_FFT, hop_length=HOP, center=False)
    S = np.abs(librosa.stft(y, n_fft=N_FFT, hop_length=HOP, center=False))  # sine peaks
    peaks = np.argsort(-np.where((S[1:-1] > S[:-2]) & (S[1:-1] >= S[2:]), S[1:-1], 0), axis=0)[:10]
    n = min(len(loud), mfcc.shape[1], len(f0))
    return np.vstack([loud[:n], peak[:n], mfcc[:, :n], chroma[:, :n], centroid[:, :n], spread[:, :n], skew[:n],
                      kurt[:n], rolloff[:, :n], flatness[:, :n], crest[:n], f0[:n], peaks[:, :n]]).T


def best_times(fns: dict, y: np.ndarray, repeats: int = 5) -> dict[str, float]:
    """Best CPU time of each function, interleaved so machine load hits them alike."""
    for fn in fns.values():
        fn(y[: SR * 2])  # warm-up (librosa compiles with numba on first use; the C library loads)
    best = {name: float("inf") for name in fns}
    for _ in range(repeats):
        for name, fn in fns.items():
            start = time.process_time()
            fn(y)
            best[name] = min(best[name], time.process_time() - start)
    return best


def _verdict(ok: bool) -> str:
    return "met" if ok else "MISSED"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=None, help="analyse only the first S seconds of the corpus")
    parser.add_argument("--repeats", type=int, default=5, help="timed runs per engine (the best counts)")
    args = parser.parse_args()
    if not native.available():
        raise SystemExit("the C descriptor core is not built: run `make native`")
    files = sorted((ROOT / "01_corpus" / "demo" / "audio").glob("*.ogg"))
    y = np.concatenate([load_audio(f) for f in files]).astype(np.float64)  # decoded once, not timed
    if args.seconds:
        y = y[: int(args.seconds * SR)]
    seconds, frames = len(y) / SR, 1 + (len(y) - N_FFT) // HOP
    fns = {"c": partial(compute, engine="c"), "numpy": partial(compute, engine="numpy"), "librosa": librosa_baseline}
    times = best_times(fns, y, args.repeats)
    speed = {name: seconds / t for name, t in times.items()}
    print(f"audio: {seconds:.1f} s (demo corpus, {frames} frames), one core, best CPU time of {args.repeats} "
          f"interleaved runs, load {os.getloadavg()[0]:.1f}")
    print(f"{'engine':<44}{'x real time':>12}{'ms':>9}{'µs/frame':>10}")
    rows = [("c", 'compute(engine="c")  C core, 56 columns'), ("numpy", 'compute(engine="numpy")  numpy, 56 columns'),
            ("librosa", "librosa per-category baseline")]
    for name, label in rows:
        print(f"{label:<44}{speed[name]:12.0f}{times[name] * 1000:9.0f}{times[name] / frames * 1e6:10.1f}")
    print(f"ratio C / numpy: {times['numpy'] / times['c']:.2f}x   numpy / librosa: {times['librosa'] / times['numpy']:.2f}x   "
          f"C / librosa: {times['librosa'] / times['c']:.2f}x")
    print(f"goals: C >= {GOAL_C:.0f}x real time: {_verdict(speed['c'] >= GOAL_C)} ({speed['c']:.0f}x); "
          f"numpy >= {GOAL_NUMPY:.0f}x: {_verdict(speed['numpy'] >= GOAL_NUMPY)} ({speed['numpy']:.0f}x); "
          f"numpy >= {GOAL_VS_BASELINE:.0f}x librosa: {_verdict(times['librosa'] / times['numpy'] >= GOAL_VS_BASELINE)} "
          f"({times['librosa'] / times['numpy']:.2f}x)")


if __name__ == "__main__":
    main()
