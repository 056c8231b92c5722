"""``rlimpro live``: a Pd patch that plays the synth, with the policy served over OSC or inside Pd.

The patch is the package's ``rlimpro/pd/live.pd``; Pd finds the synth's abstraction
``[synth]`` through ``-path 00_synths/<name>``, and its link to the policy, ``[rlimpro-link]``,
through ``-path rlimpro/pd/link-osc`` (OSC to the server this module starts) or
``-path rlimpro/pd/link-inside`` (``[rlimpro_policy]`` in Pd, ``--inside``). Until the Pd descriptor external exists, the
musician is a recording: it is analysed here (:mod:`rlimpro.descriptors`, the policy's
framing), its frames written one per line, and the patch streams them as ``/rlimpro/target``
at the analysis frame rate (hop/sr) while playing the recording on the left channel; the
agent's synth plays on the right. Pd's GUI opens when ``$DISPLAY`` is set (and Tcl/Tk is
there), else Pd runs ``-nogui``. Pd's console goes to a log file and is scanned for broken-patch errors.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import tempfile
import threading
from collections.abc import Callable
from pathlib import Path

import numpy as np
import soundfile as sf

from rlimpro.errors import RlimproError
from rlimpro.live.policy import Policy
from rlimpro.live.server import Server

__all__ = ["EXTERNALS", "POLICY_EXTERNAL", "default_input", "play_live"]

#: where `make externals` builds the Pd externals (Pd's -path for them)
EXTERNALS = Path(__file__).resolve().parents[2] / "pd_externals"
#: [rlimpro_policy] once built
POLICY_EXTERNAL = EXTERNALS / "rlimpro_policy.pd_linux"


def default_input(root: str | Path, corpus: str) -> Path:
    """The first recording (by name) of ``01_corpus/<corpus>/audio``.

    :raises RlimproError: if there is none.
    """
    from rlimpro.audio import AUDIO_SUFFIXES

    folder = Path(root) / "01_corpus" / corpus / "audio"
    files = sorted(p for p in folder.glob("*") if p.suffix.lower() in AUDIO_SUFFIXES) if folder.is_dir() else []
    if not files:
        raise RlimproError(f"{folder}: no recordings to play the musician from; pass --input AUDIO")
    return files[0]


def _check_free(port: int) -> None:
    """Pd listens on ``port``: fail early and clearly when something else holds it."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            raise RlimproError(f"UDP port {port} (for Pd's replies) is in use; pick another --reply-port") from None


def _frames_text(frames: np.ndarray) -> str:
    return "".join(" ".join(f"{v:.7g}" for v in row) + ";\n" for row in frames)


def play_live(synth: str, model: str | Path, *, root: str | Path = ".", audio: str | Path | None = None,
              port: int = 6666, reply_port: int = 6667, inside: bool = False, gui: bool | None = None,
              sound: bool = True, seconds: float | None = None, verbose: bool = False,
              write: Callable[[str], None] = print) -> tuple[dict[str, int], str]:
    """Run the live patch until Pd quits (or Ctrl-C), with the policy served over OSC or inside Pd.

    :param synth: synth name (folder under 00_synths/); must be the policy's synth.
    :param model: a ``policy.onnx``.
    :param root: project folder.
    :param audio: the musician recording; default the first of the policy's corpus.
    :param port: the server's UDP port; ``reply_port``: Pd's (replies go there).
    :param inside: decide inside Pd with ``[rlimpro_policy]`` (``make externals``) instead of
        serving the policy over OSC; the ports are then unused.
    :param gui: open Pd's GUI; default: when ``$DISPLAY`` is set and Tcl/Tk is installed.
    :param sound: open an audio device (False runs Pd with ``-nosound``).
    :param seconds: quit after this long (default: play until Pd is closed).
    :param verbose: Pd prints every params list it receives (to its console/log).
    :param write: where status lines go.
    :return: (the server's counters, empty when ``inside``; Pd's console text).
    """
    from rlimpro.audio import load_audio
    from rlimpro.descriptors import compute, indices
    from rlimpro.pdrun import find_pd, harness
    from rlimpro.synth import synth_dir

    root = Path(root)
    policy = Policy(model)
    info = policy.info
    if info.synth != synth:
        raise RlimproError(f"{Path(model).name}: a policy for synth {info.synth!r}, not {synth!r}; "
                           f"pass --model 00_synths/{synth}/policy.onnx")
    if inside and not POLICY_EXTERNAL.is_file():
        raise RlimproError("the Pd external [rlimpro_policy] is not built; run `make externals`, or play without --inside")
    folder = synth_dir(root, synth).resolve()
    audio = Path(audio) if audio else default_input(root, info.corpus)
    musician = load_audio(audio, sr=info.sr)
    frames = compute(musician, sr=info.sr, window=info.window, hop=info.hop)[:, indices(list(info.features))]
    if gui is None:  # Pd's GUI needs a display and Tcl/Tk (wish)
        gui = bool(os.environ.get("DISPLAY")) and shutil.which("wish") is not None
    if not inside:
        _check_free(reply_port)
    with tempfile.TemporaryDirectory(prefix="rlimpro-live-") as tmp:
        for path in (tmp, str(Path(model).resolve())):
            if any(c.isspace() for c in path):
                raise RlimproError(f"{path!r} contains spaces, which Pd cannot take; move it (or set TMPDIR)")
        frames_file, wav, log = Path(tmp) / "frames.txt", Path(tmp) / "musician.wav", Path(tmp) / "pd.log"
        frames_file.write_text(_frames_text(frames))
        sf.write(wav, musician, info.sr, subtype="PCM_16")
        config = [f"rlimpro-period {info.frame_period * 1000:.6f}", f"rlimpro-frames-file symbol {frames_file}",
                  f"rlimpro-audio symbol {wav}"]
        if verbose:
            config.append("rlimpro-verbose 1")
        if seconds:
            config.append(f"rlimpro-quit-after {seconds * 1000:.0f}")
        cmd = [find_pd(), "-noprefs", "-r", str(info.sr)] + ([] if gui else ["-nogui"]) + ([] if sound else ["-nosound"])
        cmd += ["-path", str(folder)]
        stop = f"{'close the Pd window' if gui else 'Ctrl-C'} to stop"
        what = f"playing {audio.name} ({len(frames)} frames, {info.frame_period * 1000:.1f} ms apart) into {synth} via {Path(model).name}"
        if inside:
            config = [f"rlimpro-model symbol {Path(model).resolve()}", *config, "rlimpro-start bang"]
            cmd += ["-path", str(harness("link-inside/rlimpro-link.pd").parent), "-path", str(EXTERNALS)]
            cmd += ["-open", str(harness("live.pd")), "-send", "; ".join(config)]
            write(f"{what}, decided inside Pd by [rlimpro_policy]; {stop}")
            return {}, _run_pd(cmd, log, synth)
        with Server(policy, "127.0.0.1", port, "127.0.0.1", reply_port) as server:
            config = [f"rlimpro-ports {server.address[1]} {reply_port}", *config, "rlimpro-start bang"]
            cmd += ["-path", str(harness("link-osc/rlimpro-link.pd").parent), "-open", str(harness("live.pd")), "-send", "; ".join(config)]
            thread = threading.Thread(target=server.serve_forever, daemon=True)
            thread.start()
            write(f"{what} on 127.0.0.1:{server.address[1]} ({server.engine} engine); {stop}")
            try:
                text = _run_pd(cmd, log, synth)
            finally:
                server.stop()
                thread.join(5)
            return server.stats(), text


def _run_pd(cmd: list[str], log: Path, synth: str) -> str:
    """Run Pd until it quits (Ctrl-C terminates it); its console, checked for broken-patch errors."""
    from rlimpro.pdrun import pd_errors

    with open(log, "wb") as console:
        proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=console, stderr=subprocess.STDOUT)
        try:
            proc.wait()
        except KeyboardInterrupt:
            proc.terminate()
            proc.wait(10)
    text = log.read_text(errors="replace")
    errors = pd_errors(text)
    if errors:
        raise RlimproError(f"live.pd with {synth}/synth.pd: {errors[0]}; open the patch in Pd to see why")
    return text
