"""The listening server (``rlimpro serve POLICY --listen`` / ``--listen-file``): audio in, params out.

Audio reaches the server as raw float32 samples through a pipe: from the capture process
(:mod:`rlimpro.live.capture`, a sound card or JACK through PortAudio) or from a thread reading a
recording (``--listen-file``, in real time or, with ``--fast``, as fast as the pipe takes it).
From there on both take the same code: ONE serving thread polls the OSC socket and the audio
pipe, pushes what arrived into the streaming C analyzer (``native/descriptors.c``, resampling
host rates other than the policy's), and for every completed frame decides once and sends one
``/rlimpro/params`` (the held params when a frame or output is refused), plus
``/rlimpro/features`` with ``--send-features``.

Audio and OSC drive the SAME parameter state, in that one thread, so no lock is needed and no
decision can interleave with another: while audio is live, ``/rlimpro/target`` messages are
still answered (each is one more decision from the current state, then the next hop goes on
from there), ``/rlimpro/reset`` resets the state the next hop starts from, ``/rlimpro/ping`` is
answered. OSC is answered in Python here (the C hot path owns its own wait on the socket).

Analysis and decision run in that serving thread, not in the audio callback: the callback lives
in another process (see :mod:`rlimpro.live.capture` for why) and only copies and writes; the
kernel's pipe is the lock-free handoff and wakes the server. A late server then never makes the
audio stream glitch; it only delays its own answer (measured by ``benchmarks/listen.py``).

If the audio input goes away (JACK killed, interface unplugged) the server says so once, keeps
answering OSC, starts a new capture process every second and says when the input is back.
"""

from __future__ import annotations

import json
import os
import select
import signal
import subprocess
import sys
import tempfile
import threading
import time
from array import array
from collections.abc import Callable
from pathlib import Path

import numpy as np

from rlimpro.errors import RlimproError
from rlimpro.live import osc
from rlimpro.live.capture import EXIT_BAD_DEVICE, PREFIX
from rlimpro.live.policy import BAD_TARGET, OK, Policy
from rlimpro.live.server import (BAD_OUTPUT, BAD_VALUE, RECEIVED, SENT, TARGETS, WARMUPS, _RING, Server)

__all__ = ["ListeningServer", "FileFeeder", "Capture", "serve_listening", "FEED_BLOCK"]

#: samples per write of the file feeder (as a 256-frame audio callback would)
FEED_BLOCK = 256
_RAW = 1 << 16  # bytes read from the audio pipe at most per wake-up


class FileFeeder:
    """Write a recording into a pipe as an audio input would: mono, the policy's rate, block by block.

    The recording is decoded exactly as ``rlimpro replay`` decodes it (:func:`rlimpro.audio.load_audio`:
    mixed to mono, resampled to the policy's rate), then followed by zeros long enough to complete
    its last frame; the server stops after the recording's own frames
    (:func:`~rlimpro.descriptors.framing.n_frames`), so the trajectory is the replay's.

    :param path: the recording.
    :param sr: the policy's analysis rate; ``window``, ``hop``: its framing.
    :param realtime: pace the blocks at the audio rate (else as fast as the server reads).
    """

    def __init__(self, path: str | Path, sr: int, window: int, hop: int, realtime: bool = True) -> None:
        from rlimpro.audio import load_audio
        from rlimpro.descriptors.framing import n_frames

        self.samples = load_audio(path, sr=sr)
        self.frames = n_frames(len(self.samples), window=window, hop=hop)
        self.sr, self.realtime, self.label = sr, realtime, Path(path).name
        tail = (self.frames - 1) * hop + window + hop + window - len(self.samples)  # > the analyzer's latency
        self._signal = np.concatenate([self.samples, np.zeros(max(tail, hop), np.float32)]).astype(np.float32)
        self._read, self._write = os.pipe()
        #: monotonic_ns at which each block was written (for benchmarks/listen.py)
        self.written_ns = array("q")
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="rlimpro-file-feeder", daemon=True)

    @property
    def fd(self) -> int:
        """The pipe's read end (the server owns and closes it)."""
        return self._read

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()

    def _run(self) -> None:
        data, period = memoryview(self._signal).cast("B"), FEED_BLOCK / self.sr
        start = time.monotonic()
        try:
            for k, offset in enumerate(range(0, len(self._signal), FEED_BLOCK)):
                if self._stop.is_set():
                    break
                if self.realtime:
                    delay = start + k * period - time.monotonic()
                    if delay > 0:
                        time.sleep(delay)
                block = data[4 * offset: 4 * (offset + FEED_BLOCK)]
                self.written_ns.append(time.monotonic_ns())
                while block:
                    block = block[os.write(self._write, block):]
        except OSError:  # the server closed its end
            pass
        finally:
            os.close(self._write)


class Capture:
    """The capture process for one audio input (see :mod:`rlimpro.live.capture`).

    :param device: a device index or (part of) its name; None: the default input.
    :param channel: the input channel to hear, from 1.
    """

    def __init__(self, device: str | None, channel: int) -> None:
        self.device, self.channel = device or "", channel
        self.proc: subprocess.Popen | None = None
        self._log = None

    def open(self, timeout: float = 20.0) -> tuple[int, dict] | str:
        """Start the process; return (the pipe's read end, its header) or the one-line reason it failed."""
        self._log = tempfile.TemporaryFile()
        env = {**os.environ, "PYTHONUNBUFFERED": "1"}
        self.proc = subprocess.Popen([sys.executable, "-m", "rlimpro.live.capture", self.device, str(self.channel)],
                                     stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=self._log, env=env,
                                     start_new_session=True)  # Ctrl-C reaches the server, which ends it
        fd = self.proc.stdout.fileno()
        line, deadline = b"", time.monotonic() + timeout
        while not line.endswith(b"\n"):
            ready, _, _ = select.select([fd], [], [], max(0.0, deadline - time.monotonic()))
            chunk = os.read(fd, 1) if ready else b""
            if not chunk:
                self.kill()
                return f"the audio input did not open ({'no answer in %.0f s' % timeout if not ready else self.reason()})"
            line += chunk
        text = line.decode(errors="replace").strip()
        if not text.startswith("ok "):
            self.proc.wait(5)
            self.proc.stdout.close()
            return text.removeprefix("error ").strip()
        return os.dup(fd), json.loads(text[3:])

    @property
    def bad_device(self) -> bool:
        """Whether the last failure was the device's name, index or channel (not a missing stream)."""
        return self.proc is not None and self.proc.returncode == EXIT_BAD_DEVICE

    def reason(self) -> str:
        """The capture process's last own line on stderr, or its exit status."""
        lines = []
        if self._log is not None:
            self._log.seek(0)
            lines = [line.decode(errors="replace")[len(PREFIX):].strip() for line in self._log.read().splitlines()
                     if line.startswith(PREFIX.encode())]
        code = self.proc.poll() if self.proc else None
        return lines[-1] if lines else f"capture process ended (exit status {code})"

    def wait(self) -> None:
        """Wait until the capture process ends (the stream died, or :meth:`kill`)."""
        if self.proc is not None:
            self.proc.wait()
            self.proc.stdout.close()

    def kill(self) -> None:
        """End the capture process now (SIGKILL: PortAudio may be stuck after its audio server died)."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()


class ListeningServer(Server):
    """A :class:`~rlimpro.live.server.Server` that also hears audio and decides every hop.

    :param policy: the loaded policy; ``host``, ``port``, ``reply_host``, ``reply_port``,
        ``warm_ms`` as for :class:`Server` (OSC is answered in Python).
    :param send_features: also send ``/rlimpro/features`` (the F descriptors heard) every hop.
    :param max_frames: stop after this many frames (a recording's own; None: never).
    """

    def __init__(self, policy: Policy, host: str = "127.0.0.1", port: int = 6666, reply_host: str = "127.0.0.1",
                 reply_port: int = 6667, warm_ms: float = 2.0, send_features: bool = False,
                 max_frames: int | None = None) -> None:
        super().__init__(policy, host, port, reply_host, reply_port, warm_ms, engine="python")
        from rlimpro.descriptors import native
        from rlimpro.descriptors.names import indices

        if not native.available():
            raise RlimproError("listening needs the C descriptor core (_analyzer.so): run `make native`, "
                               "or install the kit's wheel")
        info = policy.info
        self._native = native
        self._columns = np.asarray(indices(list(info.features)), dtype=np.intp)
        self._features = osc.FloatWriter(osc.FEATURES, info.n_features) if send_features else None
        self._params = osc.FloatWriter(osc.PARAMS, info.n_params)
        self.max_frames = max_frames
        #: frames heard (= hops decided and answered)
        self.hops = 0
        #: hops whose target or output was refused (the held params were sent)
        self.refused = 0
        self._raw = bytearray(_RAW)
        self._raw_view = memoryview(self._raw)
        self._pending = 0
        self._carry_ns = 0
        self._audio_fd = -1
        self._analyzer = None
        self._incoming: tuple[int, float] | None = None
        self._ctl_read, self._ctl_write = os.pipe()
        os.set_blocking(self._ctl_write, False)
        self._poll = select.poll()
        self._poll.register(self._sock.fileno(), select.POLLIN)
        self._poll.register(self._ctl_read, select.POLLIN)
        #: per hop: work in ns (from the wake-up to the hop's last send), and when it was sent
        self.hop_work_ns = array("q", bytes(8 * _RING))
        self.hop_sent_ns = array("q", bytes(8 * _RING))
        self.source_ended = threading.Event()
        self.hop_period = info.hop / info.sr

    def attach(self, fd: int, rate: float) -> None:
        """Hand a new audio pipe (float32 mono at ``rate``) to the serving thread (from any thread)."""
        self._incoming = (fd, rate)
        try:
            os.write(self._ctl_write, b"a")
        except BlockingIOError:
            pass

    def stop(self) -> None:
        self._stopping = True
        try:
            os.write(self._ctl_write, b"s")
        except BlockingIOError:
            pass

    def close(self) -> None:
        self._detach()
        for fd in (self._ctl_read, self._ctl_write):
            os.close(fd)
        super().close()

    def recent_hop_work_us(self, count: int) -> np.ndarray:
        """Work of the last ``count`` hops (analysis, decision, sends), in microseconds."""
        count = min(count, self.hops, _RING)
        idx = np.arange(self.hops - count, self.hops) & (_RING - 1)
        return np.frombuffer(self.hop_work_ns, dtype=np.int64)[idx] / 1000.0

    # --- the serving thread ---------------------------------------------------------------
    def serve_forever(self) -> None:
        poll, sock_fd, ctl = self._poll.poll, self._sock.fileno(), self._ctl_read
        idle_ms = self._warm_ms or None  # poll's timeout in ms (None: wait without one)
        counts, warm = self._counts, self.policy.warm
        while not self._stopping:
            events = poll(idle_ms)
            if not events:  # nothing for warm_ms: keep the model in the caches (as Server does)
                warm()
                counts[WARMUPS] += 1
                continue
            for fd, _ in events:
                if fd == sock_fd:
                    self._receive()
                elif fd == ctl:
                    os.read(ctl, 64)
                    if self._incoming is not None:
                        self._detach()
                        fd_new, rate = self._incoming
                        self._incoming = None
                        self._audio_fd = fd_new
                        info = self.policy.info
                        self._analyzer = self._native.Analyzer(rate, sr=info.sr, window=info.window, hop=info.hop)
                        self._pending = 0
                        self._poll.register(fd_new, select.POLLIN)
                elif fd == self._audio_fd:
                    self._hear()

    def _receive(self) -> None:
        counts, policy = self._counts, self.policy
        try:
            n = self._sock.recv_into(self._buffer)
        except OSError:
            return
        t0 = time.perf_counter_ns()
        counts[RECEIVED] += 1
        if n == self._reader.size and self._buffer.startswith(self._reader.prefix):  # float32 fast path
            counts[TARGETS] += 1
            np.copyto(policy.target, self._reader.values)
            status = policy.decide()
            if status == OK:
                np.copyto(self._writer.values, policy.output)
                self._sock.sendto(self._writer.packet, self.reply)
                counts[SENT] += 1
            else:
                counts[BAD_VALUE if status == BAD_TARGET else BAD_OUTPUT] += 1
        else:
            self._slow(n)
        i = self._timed[0]
        self._times[i & (_RING - 1)] = time.perf_counter_ns() - t0
        self._timed[0] = i + 1

    def _detach(self) -> None:
        if self._audio_fd >= 0:
            self._poll.unregister(self._audio_fd)
            os.close(self._audio_fd)
            self._audio_fd = -1
        if self._analyzer is not None:
            self._analyzer.close()
            self._analyzer = None

    def _hear(self) -> None:
        t0 = time.perf_counter_ns()
        try:
            n = os.readv(self._audio_fd, [self._raw_view[self._pending:]])
        except OSError:
            n = 0
        if n == 0:  # the source ended (end of the recording, or the capture process died)
            self._detach()
            self.source_ended.set()
            if self.max_frames is not None:
                self._stopping = True
            return
        total = self._pending + n
        usable = total - total % 4
        frames = self._analyzer.push(np.frombuffer(self._raw, dtype=np.float32, count=usable // 4))
        self._pending = total - usable
        if self._pending:
            self._raw[: self._pending] = self._raw[usable:total]
        policy, counts, columns = self.policy, self._counts, self._columns
        target, params_out, sendto, reply = policy.target, self._params.values, self._sock.sendto, self.reply
        work, sent, mask, first = self.hop_work_ns, self.hop_sent_ns, _RING - 1, self.hops
        for frame in frames:
            if self.max_frames is not None and self.hops >= self.max_frames:
                break
            target[:] = frame[columns]
            status = policy.decide()
            if status != OK:
                self.refused += 1
                counts[BAD_OUTPUT] += status != BAD_TARGET
            params_out[:] = policy.params  # one reply per hop: the new params, or the held ones
            sendto(self._params.packet, reply)
            counts[SENT] += 1
            if self._features is not None:
                self._features.values[:] = target
                sendto(self._features.packet, reply)
            sent[self.hops & mask] = time.monotonic_ns()
            self.hops += 1
        spent = time.perf_counter_ns() - t0 + self._carry_ns
        if self.hops > first:  # this read (and earlier reads that completed no frame), the analysis and
            share = spent // (self.hops - first)  # every hop's decision and sends, shared by its hops
            for k in range(first, self.hops):
                work[k & mask] = share
            self._carry_ns = 0
        else:
            self._carry_ns = spent
        if self.max_frames is not None and self.hops >= self.max_frames:
            self._stopping = True


def _report(server: ListeningServer, write: Callable[[str], None], done: threading.Event, status: dict) -> None:
    signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT})
    last_hops, last_rx, last_t = server.hops, server.stats()["received"], time.monotonic()
    while not done.wait(1.0):
        now, hops, stats = time.monotonic(), server.hops, server.stats()
        work = server.recent_hop_work_us(hops - last_hops)
        share = (f"work/hop median {np.median(work):6.1f} µs = {np.median(work) / 1e4 / server.hop_period:5.2f} % of the hop, "
                 f"p99 {np.percentile(work, 99):6.1f} µs" if work.size else "work/hop      - µs")
        write(f"{(hops - last_hops) / (now - last_t):6.1f} hops/s  {share}  audio {status['audio']}  "
              f"osc {(stats['received'] - last_rx) / (now - last_t):6.1f} msg/s  dropped {stats['dropped']}")
        last_hops, last_rx, last_t = hops, stats["received"], now


def serve_listening(model: str | Path, *, device: str | None = None, channel: int = 1, listen_file: str | Path | None = None,
                    fast: bool = False, send_features: bool = False, host: str = "127.0.0.1", port: int = 6666,
                    reply_host: str = "127.0.0.1", reply_port: int = 6667, warm_ms: float = 2.0, stats: bool = False,
                    write: Callable[[str], None] = print,
                    on_ready: Callable[[ListeningServer], None] | None = None) -> dict[str, int]:
    """Serve ``model`` on the audio it hears: an input device, or ``listen_file`` (then stop at its end).

    :return: the final counters, plus ``hops`` and ``refused``.
    """
    if channel < 1:
        raise RlimproError(f"--channel {channel}: channels count from 1")
    policy = Policy(model)
    info = policy.info
    feeder: FileFeeder | None = None
    capture: Capture | None = None
    status = {"audio": "starting"}
    if listen_file is not None:
        feeder = FileFeeder(listen_file, info.sr, info.window, info.hop, realtime=not fast)
        first: tuple[int, dict] | str = (feeder.fd, {"rate": info.sr, "device": feeder.label})
    else:
        capture = Capture(device, channel)
        first = capture.open()
        if isinstance(first, str):  # at start-up a missing or wrong device is the user's to fix
            raise RlimproError(first if capture.bad_device else f"{first}; --list-devices shows the inputs")
    fd, header = first
    server = ListeningServer(policy, host, port, reply_host, reply_port, warm_ms, send_features,
                             max_frames=feeder.frames if feeder else None)
    with server:
        where = server.address
        heard = (f"{header['device']} ({'as fast as possible' if fast else 'in real time'})" if feeder else
                 f"'{header['device']}' channel {header['channel']} at {header['rate']} Hz"
                 + (" (resampled to %d Hz by the C analyzer)" % info.sr if header["rate"] != info.sr else ""))
        write(f"listening to {heard}; serving {info.path.name} (synth {info.synth}) on {where[0]}:{where[1]}, "
              f"replies to {server.reply[0]}:{server.reply[1]}; Ctrl-C stops")
        write(f"every hop ({info.hop / info.sr * 1000:.1f} ms): /rlimpro/params {info.n_params} floats "
              f"({','.join(info.param_names)})" + (f" and /rlimpro/features {info.n_features} floats "
                                                   f"({','.join(info.features)})" if send_features else "")
              + "; OSC targets, reset and ping are answered too")
        if info.dial:
            write(info.dial)
        server.attach(fd, float(header["rate"]))
        status["audio"] = "on"
        done = threading.Event()
        if capture is not None:
            threading.Thread(target=_supervise, args=(server, capture, write, done, status), daemon=True).start()
        if stats:
            threading.Thread(target=_report, args=(server, write, done, status), daemon=True).start()
        server.feeder = feeder  # type: ignore[attr-defined]  (its write times, for benchmarks/listen.py)
        if on_ready is not None:
            on_ready(server)
        if feeder is not None:
            feeder.start()
        try:
            server.serve_forever()
        except KeyboardInterrupt:
            pass
        finally:
            done.set()
            if feeder is not None:
                feeder.stop()
            if capture is not None:
                capture.kill()
        counts = server.stats()
        counts.update(hops=server.hops, refused=server.refused)
        return counts


def _supervise(server: ListeningServer, capture: Capture, write: Callable[[str], None], done: threading.Event,
               status: dict) -> None:
    """Watch the capture process; when it dies say so, and reopen it every second until it is back."""
    signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT})
    while not done.is_set():
        capture.wait()
        if done.is_set():
            return
        status["audio"] = "lost"
        write(f"audio input lost: {capture.reason()}; still answering OSC, trying to reopen it every second")
        while not done.wait(1.0):
            opened = capture.open(timeout=10.0)
            if not isinstance(opened, str):
                fd, header = opened
                server.attach(fd, float(header["rate"]))
                status["audio"] = "on"
                write(f"audio input back: '{header['device']}' channel {header['channel']} at {header['rate']} Hz")
                break
