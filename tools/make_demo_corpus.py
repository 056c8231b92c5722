"""Regenerate the bundled demo corpus (01_corpus/demo/audio/) from seeded melodic phrases.

Each track is a seeded random-walk melody in a scale (varied rhythm, dynamics, rests and
register) for one General MIDI instrument, rendered by fluidsynth with Debian's FluidR3 GM
soundfont and stored as mono OGG/Vorbis. The result is committed (about 1 MB), so users
and CI never need fluidsynth; run this only to change the corpus:

    apt-get install fluidsynth fluid-soundfont-gm
    .venv/bin/python tools/make_demo_corpus.py
"""

from __future__ import annotations

import struct
import subprocess
import tempfile
from pathlib import Path

import numpy as np
import soundfile as sf

SOUNDFONT = Path("/usr/share/sounds/sf2/FluidR3_GM.sf2")
OUT = Path(__file__).resolve().parent.parent / "01_corpus" / "demo" / "audio"
SR = 44100
TICKS = 480  # per quarter note

#: track name, GM program (0-based), lowest and highest MIDI note, tempo (bpm), seed
TRACKS = [
    ("flute", 73, 67, 91, 96, 1),
    ("violin", 40, 57, 84, 72, 2),
    ("piano", 0, 45, 81, 110, 3),
    ("trumpet", 56, 55, 79, 100, 4),
    ("cello", 42, 36, 64, 66, 5),
    ("clarinet", 71, 50, 77, 88, 6),
    ("nylon_guitar", 24, 40, 72, 120, 7),
    ("synth_lead", 81, 48, 84, 104, 8),
]
SECONDS = 14.0
SCALES = {"major": [0, 2, 4, 5, 7, 9, 11], "minor": [0, 2, 3, 5, 7, 8, 10], "pentatonic": [0, 2, 4, 7, 9]}


def _varlen(value: int) -> bytes:
    out = [value & 0x7F]
    value >>= 7
    while value:
        out.append(0x80 | (value & 0x7F))
        value >>= 7
    return bytes(reversed(out))


def phrase(program: int, low: int, high: int, bpm: int, seed: int) -> bytes:
    """A seeded melody as a standard MIDI file (format 0)."""
    rng = np.random.default_rng(seed)
    scale = SCALES[list(SCALES)[seed % len(SCALES)]]
    root = int(rng.integers(0, 12))
    notes = [n for n in range(low, high + 1) if (n - root) % 12 in scale]
    events: list[tuple[int, bytes]] = [(0, bytes([0xC0, program]))]
    tick, index = 0, len(notes) // 2
    limit = int(SECONDS * bpm / 60 * TICKS)
    velocity = 80.0
    while tick < limit:
        length = int(rng.choice([TICKS // 4, TICKS // 2, TICKS, TICKS * 3 // 2, TICKS * 2], p=[.15, .35, .3, .1, .1]))
        if rng.random() < 0.12:  # a rest
            tick += length
            continue
        index = int(np.clip(index + rng.choice([-3, -2, -1, 1, 2, 3, 5, -5]), 0, len(notes) - 1))
        velocity = float(np.clip(velocity + rng.normal(0, 14), 25, 125))  # drifting dynamics
        gate = int(length * rng.uniform(0.5, 1.0))
        events.append((tick, bytes([0x90, notes[index], int(velocity)])))
        events.append((tick + gate, bytes([0x80, notes[index], 0])))
        tick += length
    events.sort(key=lambda e: (e[0], e[1][0] == 0x90))
    track, last = b"", 0
    tempo = 60_000_000 // bpm
    track += b"\x00\xff\x51\x03" + tempo.to_bytes(3, "big")
    for when, message in events:
        track += _varlen(when - last) + message
        last = when
    track += b"\x00\xff\x2f\x00"
    return b"MThd" + struct.pack(">IHHH", 6, 0, 1, TICKS) + b"MTrk" + struct.pack(">I", len(track)) + track


def main() -> None:
    OUT.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        for name, program, low, high, bpm, seed in TRACKS:
            midi = Path(tmp) / f"{name}.mid"
            wav = Path(tmp) / f"{name}.wav"
            midi.write_bytes(phrase(program, low, high, bpm, seed))
            subprocess.run(["fluidsynth", "-ni", "-q", "-g", "0.6", "-r", str(SR), "-F", str(wav), str(SOUNDFONT), str(midi)],
                           check=True, capture_output=True)
            audio, rate = sf.read(wav, dtype="float64", always_2d=True)
            mono = audio.mean(axis=1)[: int((SECONDS + 1.0) * rate)]
            mono *= 0.5 / max(np.abs(mono).max(), 1e-9)
            sf.write(OUT / f"{name}.ogg", mono, rate, format="OGG", subtype="VORBIS")
            print(f"{name}: {len(mono) / rate:.1f} s")


if __name__ == "__main__":
    main()
