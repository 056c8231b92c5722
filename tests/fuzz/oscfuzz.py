"""OSC fuzzing against a real ``rlimpro serve`` process: packets, an oracle, a client that checks.

Three parts, shared by ``tests/fuzz/test_osc_fuzz.py`` (bounded, in ``make fuzz``) and
``benchmarks/fuzz_long.py`` (≥ 100,000 packets per engine):

- :func:`encode_message` / :func:`encode_bundle`: a hand-written OSC 1.0 encoder for any type
  tag, any value (NaN, inf, denormals, float64 beyond float32) and bundles that lie about
  their element sizes, so that packets need not be valid to be built;
- :class:`Oracle`: what DESIGN.md §7 says the server must do with each message, computed with
  onnxruntime directly (same session options as the server), keeping the parameter state;
- :class:`ServedPolicy`: ``rlimpro serve`` started as a user starts it, a client socket on its
  reply port, a ping after each batch as a barrier; every reply is compared with the oracle's
  in order, and the final ``stopped:`` line must add up.

The raw fuzzer :func:`random_packet` draws one packet of a named :data:`KINDS` from a numpy
generator and returns it with the messages it carries as the oracle sees them (``None`` for a
packet that must be dropped whole).
"""

from __future__ import annotations

import math
import re
import signal
import socket
import struct
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import onnxruntime as ort

from rlimpro.live import osc
from rlimpro.live.policy import TARGET_LIMIT, Policy, session_options

__all__ = [
    "KINDS", "Client", "lenient_packets", "Message", "Oracle", "ServedPolicy", "ThreadedServer", "encode_message", "encode_bundle", "random_packet",
    "udp_drops",
]

RLIMPRO = str(Path(sys.executable).parent / "rlimpro")
#: the largest datagram loopback UDP carries
UDP_MAX = 65507


@dataclass(frozen=True)
class Message:
    """One OSC message as sent: address, type tags (no comma) and arguments."""

    address: str
    tags: str
    args: tuple = ()


# ----------------------------------------------------------------------------- encoding

def _string(raw: bytes) -> bytes:
    return raw + b"\0" * (4 - len(raw) % 4)


_PACK = {"f": ">f", "i": ">i", "d": ">d", "h": ">q", "t": ">Q", "c": ">I", "r": ">I", "m": ">I"}


def encode_message(message: Message) -> bytes:
    """Encode ``message`` per OSC 1.0 (no validation: any float, NaN payloads included).

    :param message: address, tags and one argument per data-carrying tag (T, F, N, I carry none).
    :return: the datagram.
    """
    out = [_string(message.address.encode("latin-1")), _string(b"," + message.tags.encode("latin-1"))]
    args = iter(message.args)
    for tag in message.tags:
        if tag in "TFNI":
            continue
        value = next(args)
        if tag == "s":
            out.append(_string(value.encode("latin-1")))
        elif tag == "b":
            out.append(struct.pack(">i", len(value)) + value + b"\0" * (-len(value) % 4))
        elif tag == "f":
            out.append(np.asarray(value, dtype=">f4").tobytes())
        else:
            out.append(struct.pack(_PACK[tag], value))
    return b"".join(out)


def encode_bundle(elements: list[bytes], *, timetag: bytes = b"\0" * 7 + b"\1",
                  sizes: list[int] | None = None) -> bytes:
    """A bundle of already-encoded elements (messages or bundles); ``sizes`` may lie about them."""
    sizes = sizes if sizes is not None else [len(e) for e in elements]
    return b"#bundle\0" + timetag + b"".join(struct.pack(">i", s) + e for s, e in zip(sizes, elements))


def flatten(tree: list) -> list[Message]:
    """The messages of a nested bundle tree (lists are bundles), depth first: the server's order."""
    out: list[Message] = []
    for item in tree:
        out.extend(flatten(item) if isinstance(item, list) else [item])
    return out


def encode_tree(tree: list) -> bytes:
    """A nested bundle: lists become bundles, :class:`Message` items messages."""
    return encode_bundle([encode_tree(i) if isinstance(i, list) else encode_message(i) for i in tree])


# ----------------------------------------------------------------------------- the oracle

@dataclass
class Oracle:
    """DESIGN.md §7 applied to a message stream, with onnxruntime run directly.

    :param model: the policy file the server serves.
    """

    model: Path
    counts: Counter = field(default_factory=Counter)

    def __post_init__(self) -> None:
        info = Policy(self.model).info  # the metadata only; decisions below use a session of our own
        self.n_features, self.n_params, self.initial = info.n_features, info.n_params, info.initial_params.copy()
        self.synth = info.synth
        self.session = ort.InferenceSession(str(self.model), sess_options=session_options(),
                                            providers=["CPUExecutionProvider"])
        self.params = self.initial.copy()
        # the optional inputs (docs/protocol.md): the server keeps both like the params
        self.state = np.zeros((1, info.state_size), np.float32) if info.state_size else None
        self.knobs = {osc.INTENT: ("intent", info.intent_default), osc.CALM: ("calm", info.calm_default)}
        self.knobs = {address: (name, np.full((1, 1), default, np.float32))
                      for address, (name, default) in self.knobs.items() if default is not None}

    def _numbers(self, message: Message, count: int) -> np.ndarray | None:
        if any(tag not in "ifd" for tag in message.tags):
            self.counts["wrong_type"] += 1
        elif len(message.tags) != count:
            self.counts["wrong_count"] += 1
        else:
            with np.errstate(over="ignore"):
                return np.asarray(message.args, dtype=np.float64).astype(np.float32)
        return None

    def handle(self, message: Message) -> list[tuple[str, tuple]]:
        """Apply one message; return the replies the server must send for it (address, values)."""
        if message.address == osc.TARGET:
            target = self._numbers(message, self.n_features)
            if target is None:
                return []
            self.counts["targets"] += 1
            feeds = {"target": target[None], "params": self.params[None]}
            feeds.update({name: value for name, value in self.knobs.values()})
            feeds.update({} if self.state is None else {"state": self.state})
            outputs = self.session.run(["params_next"] + (["state_next"] if self.state is not None else []), feeds)
            out = outputs[0][0].astype(np.float32)
            state = outputs[1] if self.state is not None else np.zeros((1, 0), np.float32)
            if math.hypot(*target.tolist(), *out.tolist(), *state[0].tolist()) <= TARGET_LIMIT:
                self.params = out
                self.state = state if self.state is not None else None
                self.counts["sent"] += 1
                return [(osc.PARAMS, tuple(out.tolist()))]
            self.counts["bad_value" if not math.hypot(*target.tolist()) <= TARGET_LIMIT else "bad_output"] += 1
            return []
        if message.address == osc.RESET:
            if not message.tags:
                self.params = self.initial.copy()
                self._zero_state()
                self.counts["resets"] += 1
                return []
            values = self._numbers(message, self.n_params)
            if values is not None:
                if np.isfinite(values).all():
                    self.params = np.clip(values, 0.0, 1.0).astype(np.float32)
                    self._zero_state()
                    self.counts["resets"] += 1
                else:
                    self.counts["bad_value"] += 1
            return []
        if message.address == osc.PING:
            self.counts["pings"] += 1
            return [(osc.PONG, (self.synth, self.n_params, self.n_features))]
        if message.address in self.knobs:
            value = self._numbers(message, 1)
            if value is not None:
                if np.isfinite(value[0]):
                    self.knobs[message.address][1][0, 0] = min(max(float(value[0]), -1.0), 1.0)
                else:
                    self.counts["bad_value"] += 1
            return []
        self.counts["unknown_address"] += 1  # /rlimpro/intent and /calm too, for a policy without the input
        return []

    def _zero_state(self) -> None:
        if self.state is not None:
            self.state[:] = 0.0

    def packet(self, messages: list[Message] | None, *, bundle: bool = False, kind: str = "malformed") -> list[tuple[str, tuple]]:
        """Apply one packet: ``messages=None`` is dropped whole and counted under ``kind``."""
        if messages is None:
            self.counts[kind] += 1
            return []
        self.counts["bundles"] += bundle
        return [reply for m in messages for reply in self.handle(m)]

    @property
    def dropped(self) -> int:
        """The server's ``dropped``: the sum over rlimpro.live.server.DROPPED."""
        return sum(self.counts[k] for k in ("malformed", "oversize", "wrong_count", "wrong_type", "bad_value",
                                            "unknown_address"))


# ----------------------------------------------------------------------------- the raw fuzzer

#: what :func:`random_packet` draws, each kind as likely as the next except valid frames (a third)
KINDS = ("valid", "valid i/d tags", "random bytes", "truncated", "oversize", "wrong tags", "wrong count",
         "non-finite", "denormal", "huge", "unknown address", "nested bundle", "lying bundle", "reset", "ping")


def _frame(rng: np.random.Generator, n: int) -> np.ndarray:
    return (rng.normal(size=n) * rng.choice([1.0, 100.0, 3000.0], size=n)).astype(np.float32)


def random_packet(rng: np.random.Generator, oracle: Oracle) -> tuple[str, bytes, list[Message] | None, bool, str]:
    """One fuzzed packet.

    :return: (kind, datagram, the messages it carries or None if it must be dropped whole,
        whether it is a bundle, the counter a whole-packet drop goes to).
    """
    f, n = oracle.n_features, oracle.n_params
    kind = "valid" if rng.random() < 1 / 3 else KINDS[1 + rng.integers(len(KINDS) - 1)]
    target = lambda values, tags=None: Message(osc.TARGET, tags or "f" * len(values), tuple(float(v) for v in values))  # noqa: E731
    if kind == "valid":
        m = target(_frame(rng, f))
        return kind, encode_message(m), [m], False, ""
    if kind == "valid i/d tags":
        tags = "".join(rng.choice(list("ifd"), size=f))
        values = tuple(int(rng.integers(-2**31, 2**31)) if t == "i" else float(v) for t, v in zip(tags, _frame(rng, f)))
        m = Message(osc.TARGET, tags, values)
        return kind, encode_message(m), [m], False, ""
    if kind == "random bytes":
        data = rng.bytes(int(rng.integers(0, 600)))  # never valid OSC: "/" then NUL-padded text and a tag string
        return kind, b"\xff" + data[1:] if data[:1] == b"/" else data, None, False, "malformed"
    if kind == "truncated":
        data = encode_message(target(_frame(rng, f)))
        cut = int(rng.integers(0, len(data) - 4))  # a cut inside the last float: see LENIENT
        messages = [Message(osc.TARGET, "")] if cut == len(osc.osc_string(osc.TARGET)) else None  # address only
        return kind, data[:cut], messages, False, "malformed"
    if kind == "oversize":
        size = int(rng.integers(osc.MAX_PACKET + 1, 20000))
        data = encode_message(Message(osc.TARGET, "f" * ((size - 32) // 4), tuple(_frame(rng, (size - 32) // 4).tolist())))
        return kind, data, None, False, "oversize"
    if kind == "wrong tags":
        tags = list("f" * f)
        tags[int(rng.integers(f))] = str(rng.choice(list("sbhTFN")))
        args = tuple({"s": "x", "b": b"\1\2\3", "h": 7}.get(t, 1.5) for t in tags if t not in "TFN")
        m = Message(osc.TARGET, "".join(tags), args)
        return kind, encode_message(m), [m], False, ""
    if kind == "wrong count":
        count = int(rng.choice([c for c in range(0, f + 4) if c != f]))
        m = Message(rng.choice([osc.TARGET, osc.RESET]) if count != n else osc.TARGET, "f" * count,
                    tuple(_frame(rng, count).tolist()))
        return kind, encode_message(m), [m], False, ""
    if kind in ("non-finite", "denormal", "huge"):
        frame = _frame(rng, f)
        pick = rng.integers(f)
        frame[pick] = {"non-finite": rng.choice([np.nan, np.inf, -np.inf]),
                       "denormal": np.float32(rng.choice([1e-40, -1e-42, 1e-45])),
                       "huge": rng.choice([1e8, -3e38, 1e30])}[kind]
        if kind == "denormal":
            frame[rng.random(f) < 0.5] = np.float32(1e-41)
        m = target(frame)
        return kind, encode_message(m), [m], False, ""
    if kind == "unknown address":
        address = str(rng.choice(["/rlimpro/targets", "/rlimpro", "/rlimpro/params", "/rlimpro/intent", "/rlimpro/calm",
                                  "/", "/x/y/z", osc.TARGET.upper()]))
        m = Message(address, "f" * f, tuple(_frame(rng, f).tolist()))
        return kind, encode_message(m), [m], False, ""
    if kind == "nested bundle":
        inner = [target(_frame(rng, f)), Message("/nope", "i", (1,))]
        tree = [target(_frame(rng, f)), [inner, target(_frame(rng, f))], Message(osc.PING, "")]
        return kind, encode_tree(tree), flatten(tree), True, ""
    if kind == "lying bundle":
        elements = [encode_message(target(_frame(rng, f))) for _ in range(2)]
        sizes = [len(e) for e in elements]
        sizes[0] = [sizes[0] - 8, sizes[0] - 12, -1, -8][int(rng.integers(4))]  # other lies: see LENIENT
        return kind, encode_bundle(elements, sizes=sizes), None, True, "malformed"
    if kind == "reset":
        choice = int(rng.integers(3))
        values = [] if choice == 0 else rng.uniform(-0.5, 1.5, n).tolist()
        if choice == 2:
            values[int(rng.integers(n))] = float("nan")
        m = Message(osc.RESET, "f" * len(values), tuple(values))
        return kind, encode_message(m), [m], False, ""
    m = Message(osc.PING, "")
    return kind, encode_message(m), [m], False, ""


def lenient_packets(f: int) -> dict[str, bytes]:
    """Invalid packets the server does not drop today (python-osc's lenient parser, under
    rlimpro.live.osc.parse_packet), each breaking a rule of OSC 1.0: sizes are multiples of 4,
    and a bundle element's size is that of the message or bundle it holds.

    :param f: the policy's feature count (the target messages carry that many floats).
    """
    frame = encode_message(Message(osc.TARGET, "f" * f, tuple(float(v) for v in range(1, f + 1))))
    ping = encode_message(Message(osc.PING, ""))
    return {
        "target cut inside its last float": frame[:-3],
        "bundle element size -4 (points back at itself)": encode_bundle([frame], sizes=[-4]),
        "bundle element size not a multiple of 4": encode_bundle([frame, ping], sizes=[len(frame) + 3, len(ping)]),
        "bundle element size beyond the datagram": encode_bundle([frame, ping], sizes=[len(frame), 100]),
        "bundle element size -8 (dropped, but logged on stderr)": encode_bundle([frame], sizes=[-8]),
    }


# ----------------------------------------------------------------------------- the server under test

def udp_drops(port: int) -> int:
    """Datagrams the kernel dropped for the UDP socket bound to 127.0.0.1:``port`` (its receive
    buffer was full), from /proc/net/udp; -1 if no such socket is listed."""
    local = f"0100007F:{port:04X}"
    for line in Path("/proc/net/udp").read_text().splitlines()[1:]:
        fields = line.split()
        if fields[1] == local:
            return int(fields[-1])
    return -1


def free_udp_port() -> int:
    """A UDP port that was free a moment ago."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


_STOPPED = re.compile(r"stopped: (\d+) targets, (\d+) replies, (\d+) dropped, (\d+) non-finite outputs withheld")


class Client:
    """The checking client of a server under test: sends batches, compares replies with the oracle.

    :param model: the policy file the server serves.
    """

    def __init__(self, model: Path) -> None:
        self.oracle = Oracle(Path(model))
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 1 << 22)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.settimeout(10)
        self.reply_port = self.sock.getsockname()[1]
        self.address = ("127.0.0.1", 0)
        self.kinds: Counter = Counter()
        self.packets = 0
        self.replies = 0

    def alive(self) -> bool:
        """Whether the server still runs."""
        raise NotImplementedError

    def send(self, batch: list[tuple[str, bytes, list[Message] | None, bool, str]]) -> None:
        """Send a batch of packets and a ping; check every reply up to its pong against the oracle.

        :raises AssertionError: on a dead server, a missing or extra reply, a different value,
            a non-finite or out-of-range parameter.
        """
        expected: list[tuple[str, tuple]] = []
        for kind, data, messages, bundle, drop_as in batch:
            self.sock.sendto(data, self.address)
            self.kinds[kind] += 1
            self.packets += 1
            expected += self.oracle.packet(messages, bundle=bundle, kind=drop_as or "malformed")
        ping = Message(osc.PING, "")
        self.sock.sendto(encode_message(ping), self.address)
        self.packets += 1
        expected += self.oracle.packet([ping])
        for address, values in expected:
            try:
                data = self.sock.recv(osc.MAX_PACKET)
            except TimeoutError:
                raise AssertionError(f"no reply ({address} expected); server alive: {self.alive()}") from None
            got = _decode(data, self.oracle.n_params)
            assert got[0] == address, f"expected {address}, got {data!r}"
            if address == osc.PARAMS:
                array = np.asarray(got[1], dtype=np.float32)
                assert np.isfinite(array).all() and (array >= 0).all() and (array <= 1).all(), array
                np.testing.assert_array_equal(array, np.asarray(values, np.float32))
                self.replies += 1
            else:
                assert got[1] == values, got
        assert self.alive(), "the server died"


class ServedPolicy(Client):
    """``rlimpro serve MODEL --engine ENGINE --stats`` in its own process, as a user starts it.

    :param model: the policy file.
    :param engine: ``"c"`` or ``"python"``.
    """

    def __init__(self, model: Path, engine: str) -> None:
        super().__init__(model)
        self.engine = engine
        self.port = free_udp_port()
        self.address = ("127.0.0.1", self.port)
        # files, not pipes: a pipe nobody reads during the run would block a server that writes a lot
        self._out, self._err = tempfile.TemporaryFile("w+"), tempfile.TemporaryFile("w+")
        # Ctrl-C as in a terminal, even when this process was started in the background (SIGINT ignored, inherited)
        self.proc = subprocess.Popen([RLIMPRO, "serve", str(model), "--port", str(self.port), "--reply-port",
                                      str(self.reply_port), "--engine", engine, "--stats"],
                                     stdout=self._out, stderr=self._err, text=True,
                                     preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
        self._wait_until_ready()

    def alive(self) -> bool:
        return self.proc.poll() is None

    def __enter__(self) -> ServedPolicy:
        return self

    def __exit__(self, *exc: object) -> None:
        """Kill the server if a failed check left it running (a passing test has stopped it)."""
        if self.alive():
            self.proc.kill()
            self.proc.wait(30)
        self.sock.close()
        self._out.close()
        self._err.close()

    def output(self) -> tuple[str, str]:
        """What the server printed so far: (stdout, stderr)."""
        texts = []
        for handle in (self._out, self._err):
            handle.seek(0)
            texts.append(handle.read())
        return texts[0], texts[1]

    def _wait_until_ready(self) -> None:
        """Ping until a pong comes back, then swallow late pongs (start-up pings are not the oracle's)."""
        self.sock.settimeout(0.3)
        deadline = time.monotonic() + 60
        answered = False
        while True:
            if not answered:
                if not self.alive() or time.monotonic() > deadline:
                    raise AssertionError(f"rlimpro serve did not start: {self.output()}")
                self.sock.sendto(osc.encode_message(osc.PING), self.address)
            try:
                self.sock.recv(osc.MAX_PACKET)
                answered = True
            except TimeoutError:
                if answered:
                    break
        self.sock.settimeout(10)

    def stop(self) -> dict[str, int]:
        """Ctrl-C the server and check it exits with 0 and no traceback.

        :return: its ``stopped:`` line's counters, the kernel's drops on its socket
            (``kernel_drops``) and how many ``--stats`` lines it printed.
        """
        drops = udp_drops(self.port)
        self.proc.send_signal(signal.SIGINT)
        try:
            self.proc.wait(30)
        except subprocess.TimeoutExpired:
            raise AssertionError(f"rlimpro serve --engine {self.engine} did not stop within 30 s of Ctrl-C; "
                                 f"threads waiting in: {_wchans(self.proc.pid)}; last output: "
                                 f"{self.output()[0].splitlines()[-2:]}") from None
        out, err = self.output()
        self.sock.close()
        assert self.proc.returncode == 0, err
        assert "Traceback" not in err, err
        match = _STOPPED.search(out)
        assert match, out
        targets, sent, dropped, bad_output = map(int, match.groups())
        return {"targets": targets, "sent": sent, "dropped": dropped, "bad_output": bad_output, "kernel_drops": drops,
                "stats_lines": sum("msg/s" in line for line in out.splitlines())}

    def expected(self) -> dict[str, int]:
        """What :meth:`stop` must return for the packets sent so far (kernel drops: none)."""
        counts = self.oracle.counts
        return {"targets": counts["targets"], "sent": counts["sent"], "dropped": self.oracle.dropped,
                "bad_output": counts["bad_output"], "kernel_drops": 0}


class ThreadedServer(Client):
    """The same server class in this process (a thread), for its full per-counter breakdown.

    :param model: the policy file.
    :param engine: ``"c"`` or ``"python"``.
    """

    def __init__(self, model: Path, engine: str) -> None:
        from rlimpro.live.server import Server

        super().__init__(model)
        self.server = Server(Policy(model), port=0, reply_port=self.reply_port, engine=engine)
        assert self.server.engine == engine
        self.address = self.server.address
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def alive(self) -> bool:
        return self.thread.is_alive()

    def stop(self) -> dict[str, int]:
        """Stop the thread; return :meth:`Server.stats` plus the kernel's drops on its socket."""
        drops = udp_drops(self.address[1])
        self.server.stop()
        self.thread.join(10)
        assert not self.thread.is_alive()
        stats = self.server.stats()
        self.server.close()
        self.sock.close()
        return {**stats, "kernel_drops": drops}

    def expected(self) -> dict[str, int]:
        """The per-counter stats the server must report (timing-dependent ``warmups`` left out)."""
        counts = self.oracle.counts
        names = ("targets", "sent", "resets", "pings", "bundles", "malformed", "oversize", "wrong_count", "wrong_type",
                 "bad_value", "unknown_address", "bad_output", "socket_errors")
        return {**{name: counts[name] for name in names}, "received": self.packets, "dropped": self.oracle.dropped,
                "kernel_drops": 0}


def _wchans(pid: int) -> list[str]:
    """Where each thread of process ``pid`` waits in the kernel (a diagnostic for a hung server)."""
    found = []
    for task in sorted(Path(f"/proc/{pid}/task").glob("*")):
        try:
            found.append(f"{task.name}:{(task / 'wchan').read_text()}:{(task / 'stat').read_text().split()[2]}")
        except OSError:
            pass
    return found


def _decode(data: bytes, n_params: int) -> tuple[str, tuple]:
    values = osc.decode_floats(data, osc.PARAMS, n_params)
    if values is not None:
        return osc.PARAMS, tuple(values.tolist())
    _, messages = osc.parse_packet(data)
    return messages[0].address, messages[0].args
