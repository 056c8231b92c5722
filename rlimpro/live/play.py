"""``rlimpro live``: a Pd patch that listens to a musician and plays the agent's synth.

The patch is the package's ``rlimpro/pd/live.pd``. The musician is a microphone (``[adc~ 1]``,
``--mic``) or a recording played by ``[readsf~]`` (``--input``, default the first recording of
the policy's corpus); either way Pd itself hears it through ``[rlimpro_features~]`` (``make
externals``), whose selection this module sets to the policy's features. The descriptor lists
go to ``[rlimpro-link]``: ``rlimpro/pd/link-osc`` (OSC to the server this module starts) or
``rlimpro/pd/link-inside`` (``[rlimpro_policy]`` in Pd, ``--inside``); the params that come back
drive ``[synth]``, found through ``-path 00_synths/<name>``. Musician left, agent right. For a
policy with an ``intent`` input (docs/protocol.md) the patch's intent slider starts at ``--intent``
(else the policy's ``intent_default``) and reaches the agent either way round; likewise its calm
slider (``--calm``, ``calm_default``) for a policy with a ``calm`` input.

Pd's GUI opens when ``$DISPLAY`` is set (and Tcl/Tk is there), else Pd runs ``-nogui``. Pd's
console goes to a log file, never to the user: it is scanned for broken-patch errors, and while
Pd runs, for an audio device that failed to open (one clear line suggesting ``--no-audio`` or
``--jack``).
"""

from __future__ import annotations

import ctypes
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np
import soundfile as sf

from rlimpro.descriptors.framing import HOP, SR, WINDOW
from rlimpro.errors import RlimproError
from rlimpro.layout import Layout
from rlimpro.live.policy import Policy, PolicyInfo, check_knob
from rlimpro.live.server import Server

__all__ = ["EXTERNALS", "FEATURES_EXTERNAL", "POLICY_EXTERNAL", "audio_failure", "default_input", "play_live",
           "recorded_params", "response_times"]

#: where `make externals` builds the Pd externals (Pd's -path for them)
EXTERNALS = Path(__file__).resolve().parents[2] / "pd_externals"
#: [rlimpro_policy] once built
POLICY_EXTERNAL = EXTERNALS / "rlimpro_policy.pd_linux"
#: [rlimpro_features~] once built
FEATURES_EXTERNAL = EXTERNALS / "rlimpro_features~.pd_linux"
#: Pd console lines that mean the audio device did not open (ALSA, OSS, JACK, portaudio, the watchdog)
_AUDIO_FAILURES = ("alsa input error", "alsa output error", "audio i/o stuck", "couldn't connect to server",
                   "jack server is not running", "couldn't open audio", "audio device not found",
                   "error opening audio", "portaudio: ", "/dev/dsp")


def default_input(root: str | Path, corpus: str) -> Path:
    """The first recording of the corpus (:func:`rlimpro.corpus.recordings`: sub-folders included).

    :raises RlimproError: if there is none.
    """
    from rlimpro.corpus import recordings

    try:
        return next(iter(recordings(corpus, root).values()))
    except RlimproError as exc:
        raise RlimproError(f"{exc}; or pass --input AUDIO or --mic") from None


def audio_failure(console: str) -> str | None:
    """The first Pd console line saying the audio device failed to open, or None."""
    for line in console.splitlines():
        low = line.lower()
        if any(m in low for m in _AUDIO_FAILURES):
            return line.strip().removeprefix("error:").strip()
    return None


def recorded_params(console: str, name: str = "rlimpro-params") -> np.ndarray:
    """The lists Pd printed as ``name: ...`` (verbose), one row each (e.g. the params it applied)."""
    rows = [[float(v) for v in line.split(":", 1)[1].split()] for line in console.splitlines()
            if line.startswith(f"{name}:")]
    return np.array(rows, dtype=np.float64)


def response_times(console: str) -> np.ndarray:
    """The agent's response times (ms) Pd printed (verbose or the patch's print button)."""
    return recorded_params(console, "rlimpro-response-ms").reshape(-1)


def _check_free(port: int) -> None:
    """Pd listens on ``port``: fail early and clearly when something else holds it."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            raise RlimproError(f"UDP port {port} (for Pd's replies) is in use; pick another --reply-port") from None


def _no_spaces(*paths: str | Path) -> None:
    for path in paths:
        if any(c.isspace() for c in str(path)):
            raise RlimproError(f"{str(path)!r} contains spaces, which Pd cannot take; move it (or set TMPDIR)")


def _pd_input(audio: Path, sr: int, tmp: Path) -> Path:
    """A file [readsf~] plays as the musician: ``audio`` itself when it is a mono WAV/AIFF at
    ``sr`` (Pd plays files at its own rate, without converting), else a float WAV written from
    :func:`rlimpro.audio.load_audio` (mixed to mono, resampled to ``sr``)."""
    from rlimpro.audio import load_audio

    try:
        info = sf.info(str(audio))
        usable = (info.format in ("WAV", "AIFF") and info.channels == 1 and info.samplerate == sr
                  and info.frames > 0 and not any(c.isspace() for c in str(audio.resolve())))
    except (sf.LibsndfileError, RuntimeError, ValueError, TypeError):
        usable = False
    if usable:
        return audio.resolve()
    wav = tmp / "musician.wav"
    sf.write(wav, load_audio(audio, sr=sr), sr, subtype="FLOAT")
    return wav


def play_live(synth: str, model: str | Path, *, root: str | Path = ".", audio: str | Path | None = None,
              mic: bool = False, port: int = 6666, reply_port: int = 6667, inside: bool = False,
              gui: bool | None = None, sound: bool = True, jack: bool = False, batch: bool = False,
              record: str | Path | None = None, seconds: float | None = None, verbose: bool = False,
              intent: float | None = None, calm: float | None = None, config: Sequence[str] = (),
              write: Callable[[str], None] = print) -> tuple[dict[str, int], str]:
    """Run the live patch until Pd quits (or Ctrl-C), with the policy served over OSC or inside Pd.

    :param synth: synth name (folder under 00_synths/); must be the policy's synth.
    :param model: a ``policy.onnx``.
    :param root: project folder.
    :param audio: the musician recording (``[readsf~]``); default the first of the policy's corpus.
    :param mic: the musician is Pd's audio input 1 (``[adc~ 1]``) instead of a recording.
    :param port: the server's UDP port; ``reply_port``: Pd's (replies go there).
    :param inside: decide inside Pd with ``[rlimpro_policy]`` (``make externals``) instead of
        serving the policy over OSC; the ports are then unused.
    :param gui: open Pd's GUI; default: when ``$DISPLAY`` is set and Tcl/Tk is installed.
    :param sound: open an audio device (False runs Pd with ``-nosound``; DSP still runs, so the
        recording is still heard by the analysis and answered).
    :param jack: audio through a running JACK server (Pd ``-jack``; client ``rlimpro``).
    :param batch: run Pd ``-batch`` (no audio, as fast as the CPU allows) and stop once the
        recording has been heard; needs ``inside`` (batch Pd never polls sockets) and a recording.
    :param record: write both sides (musician left, agent right, before the volumes) to this
        stereo WAV from the start until Pd quits.
    :param seconds: quit after this long (default: play until Pd is closed, or with ``batch``
        until the end of the recording).
    :param verbose: Pd prints every target, params list and response time (to its console/log).
    :param intent: where the patch's intent slider starts, in [-1, 1] (a policy with an intent
        input; None: its ``intent_default``). Only for such a policy does the slider reach the agent.
    :param calm: where the patch's calm slider starts, in [-1, 1]: the move costs the agent weighs
        times 1 + calm/2 (a policy with a calm input; None: its ``calm_default``). Likewise gated.
    :param config: more messages for the patch, sent after the set-up and before the start
        (e.g. ``"rlimpro-interact 0"``: start with the interaction off).
    :param write: where status lines go.
    :return: (the server's counters, empty when ``inside``; Pd's console text).
    """
    from rlimpro.pdrun import harness
    from rlimpro.synth import synth_dir

    root = Path(root)
    policy = _checked_policy(synth, model, root, mic=mic, audio=audio, inside=inside, batch=batch, intent=intent,
                             calm=calm)
    info = policy.info
    folder = synth_dir(root, synth).resolve()
    if not mic:
        audio = Path(audio) if audio else default_input(root, info.corpus)
    if gui is None:  # Pd's GUI needs a display and Tcl/Tk (wish)
        gui = bool(os.environ.get("DISPLAY")) and shutil.which("wish") is not None
    gui = gui and not batch
    sound = sound and not batch
    if not inside:
        _check_free(reply_port)
    record = Path(record).resolve() if record else None
    if record is not None and not record.parent.is_dir():
        raise RlimproError(f"{record.parent}: no such folder for --record")
    with tempfile.TemporaryDirectory(prefix="rlimpro-live-") as tmp:
        _no_spaces(tmp, Path(model).resolve(), record or "")
        log = Path(tmp) / "pd.log"
        source = "the microphone (Pd's input 1)" if mic else audio.name
        musician = None if mic else _pd_input(audio, info.sr, Path(tmp))
        config = _patch_config(info, musician, record=record, verbose=verbose, seconds=seconds, batch=batch,
                               intent=intent, calm=calm, extra=config)
        cmd = _pd_command(info, folder, mic=mic, gui=gui, sound=sound, jack=jack, batch=batch)
        stop = "" if batch or seconds else f"; {'close the Pd window' if gui else 'Ctrl-C'} to stop"
        what = f"{source} heard by [rlimpro_features~] ({len(info.features)} features every " \
               f"{info.frame_period * 1000:.1f} ms) and answered by {synth} via {Path(model).name}"
        saved = f"; recording to {record}" if record else ""
        if inside:
            config.insert(0, f"rlimpro-model symbol {Path(model).resolve()}")
            cmd += ["-path", str(harness("link-inside/rlimpro-link.pd").parent)]
            cmd += ["-open", str(harness("live.pd")), "-send", "; ".join(config)]
            write(f"{what}, decided inside Pd by [rlimpro_policy]{saved}{stop}")
            return {}, _run_pd(cmd, log, synth, jack=jack, record=record, seconds=seconds)
        with Server(policy, "127.0.0.1", port, "127.0.0.1", reply_port) as server:
            config.insert(0, f"rlimpro-ports {server.address[1]} {reply_port}")
            cmd += ["-path", str(harness("link-osc/rlimpro-link.pd").parent), "-open", str(harness("live.pd")),
                    "-send", "; ".join(config)]
            thread = threading.Thread(target=server.serve_forever, daemon=True)
            thread.start()
            write(f"{what} on 127.0.0.1:{server.address[1]} ({server.engine} engine){saved}{stop}")
            try:
                text = _run_pd(cmd, log, synth, jack=jack, record=record, seconds=seconds)
            finally:
                server.stop()
                thread.join(5)
            return server.stats(), text


def _checked_policy(synth: str, model: str | Path, root: Path, *, mic: bool, audio: str | Path | None, inside: bool,
                    batch: bool, intent: float | None, calm: float | None) -> Policy:
    """The policy, once the options and the built externals agree with it (one-line errors)."""
    if mic and audio is not None:
        raise RlimproError("--mic and --input both name the musician; pass one of them")
    if batch and (mic or not inside):
        raise RlimproError("batch runs need --inside (batch Pd never polls sockets) and a recording, not --mic")
    policy = Policy(model)
    info = policy.info
    if info.synth != synth:
        raise RlimproError(f"{Path(model).name}: a policy for synth {info.synth!r}, not {synth!r}; "
                           f"pass --model {Layout(root).policy(synth)}")
    if not FEATURES_EXTERNAL.is_file():
        raise RlimproError("the Pd external [rlimpro_features~] is not built; run `make externals`")
    if inside and not POLICY_EXTERNAL.is_file():
        raise RlimproError("the Pd external [rlimpro_policy] is not built; run `make externals`, or play without --inside")
    check_knob(info, "intent", intent)
    check_knob(info, "calm", calm)
    if (info.sr, info.window, info.hop) != (SR, WINDOW, HOP):
        raise RlimproError(f"{Path(model).name}: analysed at sr {info.sr}, window {info.window}, hop {info.hop}; "
                           f"[rlimpro_features~] frames at {SR} Hz, {WINDOW}, {HOP}")
    return policy


def _patch_config(info: PolicyInfo, musician: Path | None, *, record: Path | None, verbose: bool,
                  seconds: float | None, batch: bool, intent: float | None, calm: float | None,
                  extra: Sequence[str]) -> list[str]:
    """The messages that set live.pd up (musician None: the microphone), in order, ending with the start."""
    config = [f"rlimpro-features select {' '.join(info.features)}",
              "rlimpro-initial-params " + " ".join(f"{v:.9g}" for v in info.initial_params)]
    record_file = record or Path.cwd() / "rlimpro-live.wav"
    if not any(c.isspace() for c in str(record_file)):  # else the patch's record button has no file
        config.append(f"rlimpro-record-file symbol {record_file}")
    config.append("rlimpro-mic 1" if musician is None else f"rlimpro-input symbol {musician}")
    for knob, value in (("intent", intent), ("calm", calm)):  # opens the slider's way to the agent and sets it
        if info.default(knob) is not None:
            config.append(f"rlimpro-{knob}-start {info.default(knob) if value is None else value:.9g}")
    if verbose:
        config.append("rlimpro-verbose 1")
    if seconds:
        config.append(f"rlimpro-quit-after {seconds * 1000:.0f}")
    elif batch:
        config.append("rlimpro-quit-at-end 1")
    return config + ["rlimpro-interact 1", *extra, "rlimpro-start bang"] + (["rlimpro-record-start bang"] if record else [])


def _pd_command(info: PolicyInfo, folder: Path, *, mic: bool, gui: bool, sound: bool, jack: bool, batch: bool) -> list[str]:
    """Pd's command line up to the link abstraction's path: rate, audio flags, the synth and externals paths."""
    from rlimpro.pdrun import find_pd

    cmd = [find_pd(), "-noprefs", "-r", str(info.sr)]
    if batch:
        cmd += ["-batch", "-nogui", "-nosound"]
    else:
        cmd += ([] if gui else ["-nogui"]) + ([] if sound else ["-nosound"])
        if sound:
            cmd += ["-inchannels", "1" if mic else "0", "-outchannels", "2"]
            cmd += ["-jack", "-jackname", "rlimpro"] if jack else []
    return cmd + ["-path", str(folder), "-path", str(EXTERNALS)]


#: libc's prctl on Linux (see :func:`_die_with_parent`), else None
_PRCTL = ctypes.CDLL(None, use_errno=True).prctl if sys.platform.startswith("linux") else None


def _die_with_parent() -> None:
    """``preexec_fn`` for Pd: on Linux the kernel sends it SIGTERM when ``rlimpro live`` dies, however
    it dies (a SIGKILL, a harness's timeout), so that no Pd is left holding the audio device and the
    link's UDP ports. Elsewhere nothing (Ctrl-C still stops Pd). It runs between fork and exec, so
    it only calls what was looked up at import."""
    if _PRCTL is not None:
        _PRCTL(1, int(signal.SIGTERM), 0, 0, 0)  # PR_SET_PDEATHSIG


def _run_pd(cmd: list[str], log: Path, synth: str, *, jack: bool = False, record: Path | None = None,
            seconds: float | None = None) -> str:
    """Run Pd until it quits (Ctrl-C terminates it); its console, checked for an audio device
    that did not open (Pd is stopped at once) and for broken-patch errors. With ``seconds``, Pd
    is stopped if it is still running well after its own quit timer should have fired (a Pd
    whose audio stalled, e.g. dropped by JACK, never reaches it)."""
    from rlimpro.pdrun import pd_errors

    failed, stalled = None, False
    deadline = time.monotonic() + seconds * 1.5 + 15 if seconds else None
    with open(log, "wb") as console, open(log, "rb") as follow:
        proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=console, stderr=subprocess.STDOUT,
                                preexec_fn=_die_with_parent)
        pending = b""
        try:
            while proc.poll() is None:
                time.sleep(0.1)
                pending += follow.read()  # only what Pd wrote since the last look (verbose logs grow fast)
                complete, _, pending = pending.rpartition(b"\n")
                failed = audio_failure(complete.decode(errors="replace"))
                stalled = deadline is not None and time.monotonic() > deadline
                if failed or stalled:
                    proc.terminate()
                    proc.wait(10)
        except KeyboardInterrupt:
            proc.terminate()
            proc.wait(10)
    text = log.read_text(errors="replace")
    if stalled:
        raise RlimproError(f"Pd was still running {seconds * 1.5 + 15:.0f} s after starting (--seconds {seconds:g}): "
                           f"its audio stalled{' (did JACK drop the client?)' if jack else ''}; stopped it")
    failed = failed or audio_failure(text)
    if failed:
        hint = ("is a JACK server running (e.g. `jackd -d alsa`)? Or play with --no-audio" if jack else
                "play with --no-audio (no sound, the listening and the decisions still run) or --jack (through a JACK server)")
        raise RlimproError(f"Pd could not open the audio device ({failed}); {hint}")
    if record is not None:
        _finish_wav(record)
    errors = pd_errors(text)
    if errors:
        raise RlimproError(f"live.pd with {synth}/synth.pd: {errors[0]}; open the patch in Pd to see why")
    return text


def _finish_wav(path: Path) -> None:
    """Fix the sizes in the header of a WAV that [writesf~] did not close (Pd killed, Ctrl-C)."""
    if not path.is_file() or path.stat().st_size < 44:
        return
    with open(path, "r+b") as f:
        head = f.read(4096)
        if head[:4] != b"RIFF" or head[8:12] != b"WAVE":
            return
        pos = 12
        while pos + 8 <= len(head):
            tag, size = head[pos:pos + 4], int.from_bytes(head[pos + 4:pos + 8], "little")
            if tag == b"data":
                total = path.stat().st_size
                data = total - pos - 8
                if size != data:
                    f.seek(pos + 4)
                    f.write(int(data).to_bytes(4, "little"))
                    f.seek(4)
                    f.write(int(total - 8).to_bytes(4, "little"))
                return
            pos += 8 + size + (size & 1)
