"""Audio input for ``rlimpro serve --listen``: a small capture process that writes samples to a pipe.

The listening server never opens the sound card itself. It starts ``python -m
rlimpro.live.capture DEVICE CHANNEL`` and reads what this process writes to its stdout: one
header line (``ok {"rate": …, "device": …}`` or ``error …``), then raw native-endian float32
mono samples at the device's rate, block after block, for as long as the stream lives.

Why a process and not a thread: when the audio server goes away (JACK killed, an interface
unplugged), PortAudio's stop, abort and terminate calls can block for good in the process that
owns the stream (seen here with JACK: ``Pa_AbortStream`` and ``Pa_Terminate`` never return after
jackd dies). A capture process can always be killed and started again, and a fresh process
rescans the devices, so the server comes back when the device does, while it keeps answering
OSC all along. The pipe is also the lock-free handoff: the PortAudio callback copies its block
into a preallocated buffer and makes one non-blocking ``write()``; the kernel queues it and
wakes the server. No lock, no Python object kept, nothing waits on the server.

sounddevice (the ``[audio]`` extra, Debian's ``libportaudio2``) is imported only here and in
:func:`list_devices`, so the core install never needs it.
"""

from __future__ import annotations

import json
import os
import sys
import time
from typing import Any

from rlimpro.errors import RlimproError

__all__ = ["BLOCK", "RATE", "import_sounddevice", "input_devices", "list_devices", "resolve_device", "main"]

#: frames per PortAudio block asked for (5.8 ms at 44.1 kHz; the hop is 512)
BLOCK = 256
#: the rate asked for first (the policies' analysis rate); otherwise the device's default rate
RATE = 44100
#: exit codes of the capture process
EXIT_BAD_DEVICE, EXIT_NO_STREAM, EXIT_STREAM_DIED = 2, 3, 4
#: the prefix of this process's own lines on stderr (PortAudio, ALSA and JACK write there too)
PREFIX = "rlimpro-capture: "


def import_sounddevice() -> Any:
    """``import sounddevice``, or one line saying what to install."""
    try:
        import sounddevice
    except ImportError:
        raise RlimproError("--listen needs sounddevice: pip install 'rlimpro[audio]' "
                           "(and Debian's libportaudio2); --listen-file works without it") from None
    except OSError:
        raise RlimproError("sounddevice cannot load PortAudio: apt-get install libportaudio2 "
                           "(macOS: brew install portaudio)") from None
    return sounddevice


def input_devices(sd: Any) -> list[tuple[int, str, int, float]]:
    """(index, name, input channels, default rate) of every device with an input."""
    return [(i, d["name"], int(d["max_input_channels"]), float(d["default_samplerate"]))
            for i, d in enumerate(sd.query_devices()) if d["max_input_channels"] > 0]


def _described(devices: list[tuple[int, str, int, float]]) -> str:
    return "; ".join(f"{i} '{name}' ({ch} in)" for i, name, ch, _ in devices) or "none (no sound card, no JACK?)"


def list_devices() -> list[str]:
    """One line per audio input: index, name, channels, default rate (``serve --list-devices``)."""
    sd = import_sounddevice()
    default = sd.default.device[0] if isinstance(sd.default.device, (list, tuple)) else sd.default.device
    lines = [f"{i:3d}{' *' if i == default else '  '} {name}  ({ch} in, {rate:.0f} Hz)"
             for i, name, ch, rate in input_devices(sd)]
    return lines or ["no audio inputs found (no sound card; start JACK or plug in an interface)"]


def resolve_device(sd: Any, device: str | None, channel: int) -> tuple[int | None, str, int]:
    """Pick the input device: an index, a name (exact, else a unique case-insensitive part), or the default.

    :return: (index or None for the default, its name, its input channels).
    :raises RlimproError: one line listing the inputs if nothing (or more than one) matches.
    """
    devices = input_devices(sd)
    if device is None or device == "":
        try:
            info = sd.query_devices(kind="input")
        except Exception:  # noqa: BLE001 - PortAudio raises PortAudioError or ValueError
            raise RlimproError(f"no default audio input; pass --device, one of: {_described(devices)}") from None
        found = [(i, n, c, r) for i, n, c, r in devices if n == info["name"]]
        chosen = found[0] if found else (None, info["name"], int(info["max_input_channels"]), 0.0)
    elif device.strip().isdigit():
        found = [d for d in devices if d[0] == int(device)]
        if not found:
            raise RlimproError(f"--device {device}: no audio input with that index; inputs: {_described(devices)}")
        chosen = found[0]
    else:
        exact = [d for d in devices if d[1] == device]
        part = [d for d in devices if device.lower() in d[1].lower()]
        found = exact or part
        if len(found) != 1:
            what = "no audio input matches" if not found else "several audio inputs match"
            raise RlimproError(f"--device {device!r}: {what}; inputs: {_described(devices)}")
        chosen = found[0]
    index, name, channels, _ = chosen
    if not 1 <= channel <= channels:
        raise RlimproError(f"--channel {channel}: '{name}' has input channels 1-{channels}")
    return index, name, channels


def _say(line: str) -> None:
    os.write(2, (PREFIX + line + "\n").encode())


def main(argv: list[str] | None = None) -> int:
    """The capture process: ``python -m rlimpro.live.capture DEVICE CHANNEL`` (DEVICE "" = default)."""
    import numpy as np

    args = sys.argv[1:] if argv is None else argv
    device, channel = args[0], int(args[1])
    out = sys.stdout.buffer.fileno()

    def header(line: str) -> None:
        os.write(out, (line.replace("\n", " ") + "\n").encode())

    try:
        sd = import_sounddevice()
        index, name, _ = resolve_device(sd, device, channel)
    except RlimproError as exc:
        header(f"error {exc}")
        return EXIT_BAD_DEVICE
    try:
        rate = RATE
        try:
            sd.check_input_settings(device=index, channels=channel, samplerate=RATE)
        except Exception:  # noqa: BLE001 - the device does not take 44.1 kHz: its own rate, resampled later
            rate = int(sd.query_devices(index, kind="input")["default_samplerate"] if index is not None
                       else sd.query_devices(kind="input")["default_samplerate"])
        column = channel - 1
        scratch = np.zeros(1 << 16, dtype=np.float32)  # preallocated: the callback copies its column here
        view = memoryview(scratch).cast("B")
        state = {"frames": 0, "dropped": 0, "ready": False}  # nothing is written before the header

        def callback(indata: np.ndarray, frames: int, _time: Any, _status: Any) -> None:
            state["frames"] += frames
            if not state["ready"]:
                return
            n = min(frames, len(scratch))
            np.copyto(scratch[:n], indata[:n, column])
            try:
                os.write(out, view[: 4 * n])
            except BlockingIOError:  # the server is behind by a whole pipe (~0.4 s): drop this block
                state["dropped"] += 1
            except OSError:  # the server has gone
                os._exit(0)

        stream = sd.InputStream(device=index, channels=channel, samplerate=rate, blocksize=BLOCK, dtype="float32",
                                latency="low", callback=callback)
        stream.start()
    except Exception as exc:  # noqa: BLE001 - PortAudio errors: say so in one line
        header(f"error cannot open audio input {device or 'default'!r}: {str(exc).splitlines()[0] if str(exc) else exc}")
        return EXIT_NO_STREAM
    os.set_blocking(out, True)
    header("ok " + json.dumps({"rate": rate, "device": name, "channel": channel}))
    os.set_blocking(out, False)
    state["ready"] = True
    last, seen = time.monotonic(), 0
    while True:  # watch the stream: exit (without touching PortAudio again) once it is gone
        time.sleep(0.2)
        now = time.monotonic()
        if state["frames"] != seen:
            seen, last = state["frames"], now
        if not stream.active or now - last > 1.5:
            _say(f"audio input '{name}' stopped ({'stream inactive' if not stream.active else 'no audio for 1.5 s'})")
            os._exit(EXIT_STREAM_DIED)  # no close/abort: they can hang once the audio server is gone


if __name__ == "__main__":
    sys.exit(main())
