"""Descriptor analysis speed on one core: rlimpro (one shared STFT) vs a per-category librosa baseline.

The baseline is what one writes with librosa out of the box: each category calls its own
librosa function, so each computes its own STFT. Both run on the same audio (the demo
corpus, 2 minutes) in the same process, best of several repeats. Goal: >= 300x real time
and >= 2x the baseline.

    .venv/bin/python benchmarks/descriptors.py
"""

from __future__ import annotations

import os

for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "NUMBA_NUM_THREADS"):
    os.environ[_var] = "1"  # one core, before numpy loads

import time  # noqa: E402
from pathlib import Path  # noqa: E402

import librosa  # noqa: E402
import numpy as np  # noqa: E402
from scipy import signal  # noqa: E402

from rlimpro.audio import load_audio  # noqa: E402
from rlimpro.descriptors import compute  # noqa: E402
from rlimpro.descriptors.loudness import k_weighting  # noqa: E402

SR, N_FFT, HOP = 44100, 1024, 512
ROOT = Path(__file__).resolve().parent.parent


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
    """Best wall time of each function, interleaved so machine load hits both alike."""
    for fn in fns.values():
        fn(y[: SR * 2])  # warm-up (librosa compiles with numba on first use)
    best = {name: float("inf") for name in fns}
    for _ in range(repeats):
        for name, fn in fns.items():
            start = time.perf_counter()
            fn(y)
            best[name] = min(best[name], time.perf_counter() - start)
    return best


def main() -> None:
    files = sorted((ROOT / "01_corpus" / "demo" / "audio").glob("*.ogg"))
    y = np.concatenate([load_audio(f) for f in files]).astype(np.float64)
    seconds = len(y) / SR
    times = best_times({"ours": compute, "baseline": librosa_baseline}, y)
    ours, base = times["ours"], times["baseline"]
    print(f"audio: {seconds:.1f} s (demo corpus), one core, best of 5 interleaved runs, load {os.getloadavg()[0]:.1f}")
    print(f"rlimpro.descriptors.compute (56 columns): {seconds / ours:8.0f}x real time ({ours * 1000:.0f} ms)")
    print(f"librosa per-category baseline:            {seconds / base:8.0f}x real time ({base * 1000:.0f} ms)")
    print(f"ratio rlimpro / baseline: {base / ours:.2f}x   (goals: >= 300x real time, >= 2x baseline)")


if __name__ == "__main__":
    main()
