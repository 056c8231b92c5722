"""Soak: the live server for ~10 minutes at 4x the frame rate, and ``serve --listen-file`` in real time.

Two real processes run side by side:

- ``rlimpro serve POLICY --stats``: a client sends ``/rlimpro/target`` frames (from a seeded
  random walk) at 4x the analysis frame rate (hop/sr/4 ≈ 2.9 ms apart) and times each round trip;
- ``rlimpro serve POLICY --listen-file TAKE``: a generated recording as long as the run, heard in
  real time (one ``/rlimpro/params`` per hop).

Every interval it prints, for each: resident memory (RSS, MiB), and for the OSC server the
round trips in the interval with their median and p99 (µs) and any reply lost; at the end the
growth of RSS from the first interval to the last. Memory and p99 should stay flat.

    python benchmarks/soak.py [--minutes 10] [--interval 30] [--model 00_synths/fm/policy.onnx] [--engine auto]
"""

from __future__ import annotations

import argparse
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import soundfile as sf

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from rlimpro.live import osc  # noqa: E402
from rlimpro.live.policy import Policy  # noqa: E402
from tests.fuzz.oscfuzz import RLIMPRO, free_udp_port  # noqa: E402


def rss_mib(pid: int) -> float:
    """Resident memory of process ``pid`` in MiB (VmRSS)."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def write_take(path: Path, seconds: float, sr: int = 44100) -> Path:
    """A recording of ``seconds``: gliding tones, noise bursts and silences, written block by block."""
    rng = np.random.default_rng(0)
    with sf.SoundFile(path, "w", sr, 1, subtype="PCM_16") as out:
        for start in range(0, int(seconds), 10):
            t = np.arange(int(min(10, seconds - start) * sr)) / sr
            f = 110 * 2 ** (3 * rng.random())
            y = 0.3 * np.sin(2 * np.pi * f * (1 + 0.05 * t) * t) * (t % 5 < 4) + 0.02 * rng.standard_normal(t.size) * (t % 5 > 3)
            out.write(y.astype(np.float32))
    return path


def start(args: list[str]) -> subprocess.Popen:
    """``rlimpro ARGS`` in the background, Ctrl-C-able even if this script's own SIGINT is ignored."""
    return subprocess.Popen([RLIMPRO, *args], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))


def wait_ready(sock: socket.socket, port: int) -> None:
    """Ping ``port`` until the server answers, then drain."""
    sock.settimeout(0.2)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        sock.sendto(osc.encode_message(osc.PING), ("127.0.0.1", port))
        try:
            sock.recv(osc.MAX_PACKET)
            break
        except TimeoutError:
            continue
    else:
        raise SystemExit("the server did not start")
    try:
        while True:
            sock.recv(osc.MAX_PACKET)
    except TimeoutError:
        pass


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--minutes", type=float, default=10.0)
    parser.add_argument("--interval", type=float, default=30.0, help="seconds between report lines")
    parser.add_argument("--model", type=Path, default=ROOT / "00_synths" / "fm" / "policy.onnx")
    parser.add_argument("--engine", default="auto")
    args = parser.parse_args()
    if not args.model.is_file():
        raise SystemExit(f"{args.model}: no policy; run `make demo` first or pass --model")
    info = Policy(args.model).info
    period = info.frame_period / 4
    seconds = args.minutes * 60
    rng = np.random.default_rng(1)
    with tempfile.TemporaryDirectory() as tmp:
        take = write_take(Path(tmp) / "take.wav", seconds + 5)
        client = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        client.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 1 << 22)
        client.bind(("127.0.0.1", 0))
        hearer = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        hearer.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 1 << 22)
        hearer.bind(("127.0.0.1", 0))
        port, listen_port = free_udp_port(), free_udp_port()
        server = start(["serve", str(args.model), "--port", str(port), "--reply-port", str(client.getsockname()[1]),
                        "--engine", args.engine, "--stats"])
        wait_ready(client, port)
        listener = start(["serve", str(args.model), "--listen-file", str(take), "--port", str(listen_port),
                          "--reply-port", str(hearer.getsockname()[1])])
        hearer.setblocking(False)
        client.settimeout(0.5)
        print(f"soak: {args.model.name} (synth {info.synth}), {args.minutes:g} min; OSC targets every {period * 1e3:.2f} ms "
              f"(4x the frame rate) to `serve --engine {args.engine}`; `serve --listen-file` on a {seconds / 60:.1f}-min take "
              f"in real time", flush=True)
        print(f"{'time s':>7} {'serve RSS MiB':>14} {'round trips':>12} {'median µs':>10} {'p99 µs':>9} {'lost':>5} "
              f"{'listen RSS MiB':>15} {'hops heard':>11}", flush=True)
        t0 = time.monotonic()
        next_send, next_report = t0, t0 + args.interval
        frame = np.zeros(info.n_features, np.float32)
        times, lost, hops, rows = [], 0, 0, []
        while time.monotonic() - t0 < seconds:
            frame += rng.normal(size=info.n_features).astype(np.float32)
            frame *= np.float32(0.99)
            sent = time.perf_counter_ns()
            client.sendto(osc.encode_floats(osc.TARGET, frame * 100), ("127.0.0.1", port))
            try:
                client.recv(osc.MAX_PACKET)
                times.append((time.perf_counter_ns() - sent) / 1000)
            except TimeoutError:
                lost += 1
            while True:
                try:
                    hearer.recv(osc.MAX_PACKET)
                    hops += 1
                except BlockingIOError:
                    break
            now = time.monotonic()
            if now >= next_report:
                row = (now - t0, rss_mib(server.pid), len(times), float(np.median(times)), float(np.percentile(times, 99)),
                       lost, rss_mib(listener.pid) if listener.poll() is None else float("nan"), hops)
                rows.append(row)
                print(f"{row[0]:7.0f} {row[1]:14.1f} {row[2]:12d} {row[3]:10.1f} {row[4]:9.1f} {row[5]:5d} {row[6]:15.1f} "
                      f"{row[7]:11d}", flush=True)
                times, lost = [], 0
                next_report += args.interval
            next_send += period
            time.sleep(max(0.0, next_send - time.monotonic()))
        for proc in (server, listener):
            if proc.poll() is None:
                proc.send_signal(signal.SIGINT)
            try:
                proc.wait(10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        if rows:
            first, last = rows[0], rows[-1]
            print(f"serve: RSS {first[1]:.1f} -> {last[1]:.1f} MiB ({last[1] - first[1]:+.1f}), p99 {first[4]:.0f} -> "
                  f"{last[4]:.0f} µs; listen-file: RSS {first[6]:.1f} -> {last[6]:.1f} MiB ({last[6] - first[6]:+.1f}), "
                  f"{hops} hops heard ({seconds / info.frame_period:.0f} expected in {seconds:.0f} s)")


if __name__ == "__main__":
    main()
