"""The live OSC server (docs/protocol.md): ``/rlimpro/target`` in, ``/rlimpro/params`` out.

One raw UDP socket with a blocking ``recv_into`` into a preallocated buffer (between frames,
every ``warm_ms`` the wait times out and the model runs once to stay in the caches). A target message
of exactly F floats is recognised by length and prefix (:class:`~rlimpro.live.osc.FloatReader`),
converted in place into the policy's pre-bound input, decided by onnxruntime and answered from
a preallocated packet: no allocation, no logging, no dispatch table on that path. Everything
else — reset, ping, the intent and calm knobs, targets with int32 or float64 arguments, bundles (unpacked), wrong counts or other type tags, NaN/inf/huge values,
garbage, oversize packets, unknown addresses — takes the slow path through python-osc and is
handled or dropped and counted; it never stops the server and never sends a non-finite value.

When the C hot path is built (``make hotloop``; :mod:`rlimpro.live.hotloop`), the same fast path
runs in C instead, the GIL released, and hands every other datagram back to the slow path here.
"""

from __future__ import annotations

import errno
import signal
import socket
import threading
import time
from array import array
from collections.abc import Callable
from pathlib import Path

import numpy as np

from rlimpro.errors import RlimproError
from rlimpro.live import osc
from rlimpro.live.hotloop import HotLoop
from rlimpro.live.policy import BAD_TARGET, OK, Policy

__all__ = ["COUNTERS", "DROPPED", "ENGINES", "Server", "serve"]

#: every counter the server keeps, in the order of :meth:`Server.stats`
COUNTERS = (
    "received", "targets", "sent", "resets", "pings", "bundles",
    "malformed", "oversize", "wrong_count", "wrong_type", "bad_value", "unknown_address",
    "bad_output", "socket_errors", "warmups",
)
#: the counters of dropped packets or messages
DROPPED = ("malformed", "oversize", "wrong_count", "wrong_type", "bad_value", "unknown_address")
(RECEIVED, TARGETS, SENT, RESETS, PINGS, BUNDLES, MALFORMED, OVERSIZE, WRONG_COUNT, WRONG_TYPE,
 BAD_VALUE, UNKNOWN_ADDRESS, BAD_OUTPUT, SOCKET_ERRORS, WARMUPS) = range(len(COUNTERS))

#: the values of ``serve --engine``
ENGINES = ("auto", "c", "python")
_RING = 1 << 16  # decision times kept for statistics
_KNOBS = {osc.INTENT: "intent", osc.CALM: "calm"}  # the knobs' addresses (docs/protocol.md)


def _resolve(host: str, port: int) -> tuple[str, int]:
    try:
        info = socket.getaddrinfo(host, port, socket.AF_INET, socket.SOCK_DGRAM)
    except (socket.gaierror, UnicodeError, OverflowError) as exc:
        raise RlimproError(f"cannot resolve host {host!r} ({exc}); pass an IPv4 address such as 127.0.0.1") from None
    return info[0][4][0], info[0][4][1]


class Server:
    """A bound live server; call :meth:`serve_forever` (blocking) and :meth:`stop` from elsewhere.

    :param policy: the loaded policy (its parameter state is the server's state).
    :param host: address to listen on (127.0.0.1 keeps it private to this machine).
    :param port: UDP port for incoming messages (0 picks a free one, see :attr:`address`).
    :param reply_host: where ``/rlimpro/params`` and ``/rlimpro/pong`` go.
    :param reply_port: the UDP port there.
    :param warm_ms: after this many milliseconds without a packet, run the model once
        (:meth:`Policy.warm`) and wait again, so that the next frame finds the caches warm;
        0 never does. The default, 2 ms, costs about 6 % (C engine) to 10 % (Python) of one core while idle. While
        packets come closer together than that, the server waits without a timeout.
    :param engine: ``"c"`` answers well-formed targets in the C hot path
        (:mod:`rlimpro.live.hotloop`, built by ``make hotloop``), ``"python"`` in Python,
        ``"auto"`` in C when it is built. Everything else is handled in Python either way.
    :raises RlimproError: if the port cannot be bound, a host cannot be resolved or the C
        hot path is asked for but cannot run.
    """

    def __init__(self, policy: Policy, host: str = "127.0.0.1", port: int = 6666,
                 reply_host: str = "127.0.0.1", reply_port: int = 6667, warm_ms: float = 2.0,
                 engine: str = "auto") -> None:
        if not 0 <= port <= 65535 or not 1 <= reply_port <= 65535:
            raise RlimproError(f"ports must be within 1-65535 (got --port {port}, --reply-port {reply_port})")
        if not 0 <= warm_ms < 1e6:
            raise RlimproError(f"--warm-ms must be 0 (off) or a positive number of milliseconds (got {warm_ms})")
        if engine not in ENGINES:
            raise RlimproError(f"--engine must be one of {', '.join(ENGINES)} (got {engine!r})")
        self.policy = policy
        self.reply = _resolve(reply_host, reply_port)
        self._sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        try:
            self._sock.bind(_resolve(host, port))
        except OSError as exc:
            self._sock.close()
            raise RlimproError(f"cannot listen on {host}:{port} ({exc.strerror}); pick another --port") from None
        self._idle_timeout = warm_ms / 1000 or None
        self._buffer = bytearray(osc.MAX_PACKET + 1)
        self._view = memoryview(self._buffer)
        info = policy.info
        self._reader = osc.FloatReader(self._buffer, osc.TARGET, info.n_features)
        self._writer = osc.FloatWriter(osc.PARAMS, info.n_params)
        self._pong = osc.encode_message(osc.PONG, [info.synth, info.n_params, info.n_features])
        self._counts = array("q", bytes(8 * len(COUNTERS)))
        self._times = array("q", bytes(8 * _RING))
        self._timed = array("q", [0])
        self._stopping = False
        self._warm_ms = warm_ms
        self._hot: HotLoop | None = None
        #: why ``auto`` answers in Python ("" when it does not)
        self.fallback = ""
        if engine != "python":
            try:
                self._hot = HotLoop(policy)
            except RlimproError as exc:
                if engine == "c":
                    self._sock.close()
                    raise
                self.fallback = str(exc)
        #: which engine answers well-formed targets: "c" or "python"
        self.engine = "c" if self._hot else "python"

    @property
    def address(self) -> tuple[str, int]:
        """The (host, port) actually listened on."""
        return self._sock.getsockname()

    def stats(self) -> dict[str, int]:
        """A snapshot of the counters, plus ``dropped``, their sum over :data:`DROPPED`."""
        counts = dict(zip(COUNTERS, self._counts.tolist()))
        counts["dropped"] = sum(counts[name] for name in DROPPED)
        return counts

    @property
    def n_decisions(self) -> int:
        """How many packets have been timed so far (all of them, fast or slow path)."""
        return self._timed[0]

    def recent_times_us(self, count: int) -> np.ndarray:
        """Handling times of the last ``count`` packets (at most 65536), in microseconds."""
        end = self._timed[0]
        count = min(count, end, _RING)
        idx = np.arange(end - count, end) & (_RING - 1)
        return np.frombuffer(self._times, dtype=np.int64)[idx] / 1000.0

    def serve_forever(self) -> None:
        """Receive and answer until :meth:`stop` is called (or KeyboardInterrupt)."""
        if self._hot is not None:
            self._serve_in_c()
            return
        recv_into, sendto = self._sock.recv_into, self._sock.sendto
        buffer = self._buffer
        startswith, prefix, size = buffer.startswith, self._reader.prefix, self._reader.size
        incoming = self._reader.values
        target, output, decide = self.policy.target, self.policy.output, self.policy.decide
        outgoing, packet, reply = self._writer.values, self._writer.packet, self.reply
        copyto, clock = np.copyto, time.perf_counter_ns
        counts, times, timed, mask = self._counts, self._times, self._timed, _RING - 1
        slow, warm = self._slow, self.policy.warm
        # a timed wait costs a poll per packet: while packets come closer together than warm_ms
        # ("streaming"), wait without one; the first gap after a pause switches warming back on
        settimeout, idle_timeout = self._sock.settimeout, self._idle_timeout
        settimeout(idle_timeout)
        gap_ns, streaming, last = int((idle_timeout or 0) * 1e9), False, 0
        while not self._stopping:
            try:
                n = recv_into(buffer)
                t0 = clock()
                if gap_ns and (t0 - last < gap_ns) != streaming:
                    streaming = not streaming
                    settimeout(None if streaming else idle_timeout)
                last = t0
                counts[RECEIVED] += 1
                if n == size and startswith(prefix):
                    counts[TARGETS] += 1
                    copyto(target, incoming)
                    status = decide()
                    if status == OK:
                        copyto(outgoing, output)
                        t1 = clock()  # before the send: on a shared CPU it can include the host's turn
                        sendto(packet, reply)
                        counts[SENT] += 1
                    else:
                        counts[BAD_VALUE if status == BAD_TARGET else BAD_OUTPUT] += 1
                        t1 = clock()
                else:
                    slow(n)
                    t1 = clock()
                i = timed[0]
                times[i & mask] = t1 - t0
                timed[0] = i + 1
            except TimeoutError:  # nothing arrived for warm_ms
                warm()
                counts[WARMUPS] += 1
            except OSError:
                counts[SOCKET_ERRORS] += 1

    def _serve_in_c(self) -> None:
        hot, sock, buffer, prefix, packet = self._hot, self._sock, self._buffer, self._reader.prefix, self._writer.packet
        counts, times, timed, clock = self._counts, self._times, self._timed, time.perf_counter_ns
        while not self._stopping:
            n = hot.serve(sock, self.reply, buffer, prefix, packet, counts, times, timed, self._warm_ms)
            if n < 0:  # EINTR: a signal (Ctrl-C raises KeyboardInterrupt here); else a socket error
                if -n != errno.EINTR:
                    counts[SOCKET_ERRORS] += 1
                continue
            t0 = clock()
            counts[RECEIVED] += 1
            self._slow(n)
            i = timed[0]
            times[i & (_RING - 1)] = clock() - t0
            timed[0] = i + 1

    def stop(self) -> None:
        """Make :meth:`serve_forever` return (wakes the blocking recv with an empty datagram)."""
        self._stopping = True
        host, port = self.address
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
            sock.sendto(b"", ("127.0.0.1" if host == "0.0.0.0" else host, port))

    def close(self) -> None:
        """Release the socket (and the C session)."""
        self._sock.close()
        if self._hot is not None:
            self._hot.close()

    def __enter__(self) -> Server:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # --- the slow path -------------------------------------------------------------------
    def _slow(self, n: int) -> None:
        counts = self._counts
        if n == 0 and self._stopping:  # the wake-up datagram of stop()
            counts[RECEIVED] -= 1
            return
        if n > osc.MAX_PACKET:
            counts[OVERSIZE] += 1
            return
        try:
            is_bundle, messages = osc.parse_packet(bytes(self._view[:n]))
        except osc.OscError:
            counts[MALFORMED] += 1
            return
        if is_bundle:
            counts[BUNDLES] += 1
        for message in messages:
            try:
                self._handle(message)
            except Exception:  # never let one odd message stop the server
                counts[MALFORMED] += 1

    def _floats(self, message: osc.Message, count: int) -> np.ndarray | None:
        # int32 (Max, liblo for whole numbers) and float64 are numbers too; anything else is refused
        if any(tag not in osc.NUMBER_TAGS for tag in message.tags):
            self._counts[WRONG_TYPE] += 1
        elif len(message.args) != count:
            self._counts[WRONG_COUNT] += 1
        else:
            with np.errstate(over="ignore"):  # a float64 beyond float32 becomes inf: refused as a bad value
                return np.asarray(message.args, dtype=np.float64).astype(np.float32)
        return None

    def _handle(self, message: osc.Message) -> None:
        counts, policy = self._counts, self.policy
        if message.address == osc.TARGET:
            values = self._floats(message, policy.info.n_features)
            if values is None:
                return
            counts[TARGETS] += 1
            policy.target[:] = values
            status = policy.decide()
            if status == OK:
                self._writer.values[:] = policy.output
                self._sock.sendto(self._writer.packet, self.reply)
                counts[SENT] += 1
            else:
                counts[BAD_VALUE if status == BAD_TARGET else BAD_OUTPUT] += 1
        elif message.address == osc.RESET:
            if not message.tags:
                policy.reset()
                counts[RESETS] += 1
                return
            values = self._floats(message, policy.info.n_params)
            if values is None:
                return
            if policy.reset(values):
                counts[RESETS] += 1
            else:
                counts[BAD_VALUE] += 1
        elif message.address == osc.PING:
            self._sock.sendto(self._pong, self.reply)
            counts[PINGS] += 1
        elif (knob := _KNOBS.get(message.address)) and policy.info.default(knob) is not None:
            # only policies with an `intent` / `calm` input (docs/protocol.md) take it; for others it is unknown
            values = self._floats(message, 1)
            if values is not None and not policy.set_knob(knob, float(values[0])):
                counts[BAD_VALUE] += 1
        else:
            counts[UNKNOWN_ADDRESS] += 1


def _report(server: Server, write: Callable[[str], None], done: threading.Event, interval: float = 1.0) -> None:
    # Ctrl-C must reach the serving thread: the C hot path returns to Python only when its wait is interrupted
    signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT})
    last = server.stats()
    last_n, last_t = server.n_decisions, time.monotonic()
    while not done.wait(interval):
        now, stats, n = time.monotonic(), server.stats(), server.n_decisions
        rate = (stats["received"] - last["received"]) / (now - last_t)
        times = server.recent_times_us(n - last_n)
        timing = (f"decision median {np.median(times):6.1f} µs  p99 {np.percentile(times, 99):6.1f} µs"
                  if times.size else "decision median      - µs  p99      - µs")
        write(f"{rate:7.1f} msg/s  {timing}  sent {stats['sent']}  dropped {stats['dropped']}"
              f"  bad output {stats['bad_output']}")
        last, last_n, last_t = stats, n, now


def serve(model: str | Path, *, host: str = "127.0.0.1", port: int = 6666, reply_host: str = "127.0.0.1",
          reply_port: int = 6667, warm_ms: float = 2.0, engine: str = "auto", stats: bool = False, write: Callable[[str], None] = print,
          on_ready: Callable[[Server], None] | None = None) -> dict[str, int]:
    """Load ``model`` and serve it until interrupted.

    :param model: a ``policy.onnx``.
    :param host: listen address; ``port``: listen port.
    :param reply_host: where replies go; ``reply_port``: their port.
    :param warm_ms: keep the model warm while idle (see :class:`Server`).
    :param engine: "auto", "c" or "python" (see :class:`Server`).
    :param stats: print one status line per second (messages/s, median/p99 decision time).
    :param write: where the start-up and status lines go.
    :param on_ready: called with the bound server before serving (e.g. to start a client).
    :return: the final counters.
    """
    policy = Policy(model)
    info = policy.info
    with Server(policy, host, port, reply_host, reply_port, warm_ms, engine) as server:
        listen = server.address
        write(f"serving {info.path.name} (synth {info.synth}) on {listen[0]}:{listen[1]}, replies to "
              f"{server.reply[0]}:{server.reply[1]}, {server.engine} engine; Ctrl-C stops")
        if server.fallback:
            write(f"(answering in Python: {server.fallback})")
        write(f"/rlimpro/target: {info.n_features} floats ({','.join(info.features)}) -> "
              f"/rlimpro/params: {info.n_params} floats ({','.join(info.param_names)})")
        if info.dial:
            write(info.dial)
        done = threading.Event()
        if stats:
            threading.Thread(target=_report, args=(server, write, done), daemon=True).start()
        if on_ready is not None:
            on_ready(server)
        try:
            server.serve_forever()
        except KeyboardInterrupt:
            pass
        finally:
            done.set()
        return server.stats()
