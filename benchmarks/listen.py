"""The listening server's cost per hop and its latency (``rlimpro serve --listen``).

Runs ``serve_listening`` in this process on a recording played IN REAL TIME through the same
pipe a capture process writes (``--listen-file``: blocks of 256 samples every 5.8 ms, as a
256-frame audio callback would), with the reply going to a local UDP socket. Reports:

- work per hop: what the serving thread spends per hop (reading the pipe, the C analyzer, the
  decision in onnxruntime, the sends), from its wake-up to its last send, reads that completed
  no frame included; as a share of the hop period (512/44100 = 11.6 ms) of ONE core. Goal < 2 %.
- the parts, measured alone in a warm loop: the C analyzer per hop, the decision per hop.
- latency: from the write of the audio block that completed a frame (the block's "arrival") to
  that frame's /rlimpro/params send call; against one block (256 samples = 5.8 ms). Goal: within
  one block. With a sound card, PortAudio's own input latency comes on top (the device's).

Ratios and figures are printed; nothing is asserted (this VM's timings swing).

    python benchmarks/listen.py [--model 00_synths/fm/policy.onnx] [--seconds 10] [--take FILE]
"""

from __future__ import annotations

import argparse
import os
import socket
import sys
import tempfile
import threading
import time
from pathlib import Path

import numpy as np
import soundfile as sf

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from rlimpro.audio import load_audio  # noqa: E402
from rlimpro.descriptors import native  # noqa: E402
from rlimpro.descriptors.names import indices  # noqa: E402
from rlimpro.live.listen import FEED_BLOCK, serve_listening  # noqa: E402
from rlimpro.live.policy import Policy  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]


def _parts(model: Path, y: np.ndarray) -> tuple[float, float]:
    """Median µs per hop of the C analyzer alone and of one decision alone (warm loops)."""
    policy = Policy(model)
    info = policy.info
    analyzer = native.Analyzer(info.sr, sr=info.sr, window=info.window, hop=info.hop)
    columns = indices(list(info.features))
    times_a, frames = [], []
    for start in range(0, len(y) - info.hop, info.hop):
        t0 = time.perf_counter_ns()
        out = analyzer.push(y[start:start + info.hop])
        times_a.append(time.perf_counter_ns() - t0)
        frames.extend(out[:, columns])
    times_d = []
    for frame in frames:
        policy.target[:] = frame
        t0 = time.perf_counter_ns()
        policy.decide()
        times_d.append(time.perf_counter_ns() - t0)
    return float(np.median(times_a)) / 1000, float(np.median(times_d)) / 1000


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", type=Path, default=ROOT / "00_synths" / "fm" / "policy.onnx")
    parser.add_argument("--take", type=Path, default=ROOT / "01_corpus" / "demo" / "audio" / "cello.ogg")
    parser.add_argument("--seconds", type=float, default=10.0)
    args = parser.parse_args()
    if not native.available():
        sys.exit("build the C descriptor core first: make native")
    if not args.model.is_file():
        sys.exit(f"{args.model}: no policy (run make demo, or pass --model)")
    info = Policy(args.model).info
    y = load_audio(args.take, sr=info.sr)[: int(args.seconds * info.sr)]
    with tempfile.TemporaryDirectory() as tmp:
        take = Path(tmp) / "take.wav"
        sf.write(take, y, info.sr, subtype="FLOAT")
        sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        sock.bind(("127.0.0.1", 0))
        sock.settimeout(0.5)
        received = [0]

        def drain() -> None:
            try:
                while True:
                    sock.recv(1024)
                    received[0] += 1
            except TimeoutError:
                pass

        drainer = threading.Thread(target=drain, daemon=True)
        drainer.start()
        servers = []
        cpu0 = os.times()
        wall0 = time.monotonic()
        counts = serve_listening(args.model, listen_file=take, port=0, reply_port=sock.getsockname()[1],
                                 write=lambda line: None, on_ready=servers.append)
        wall = time.monotonic() - wall0
        cpu1 = os.times()
        drainer.join()
        sock.close()
    server = servers[0]
    hops = counts["hops"]
    work = np.frombuffer(server.hop_work_ns, dtype=np.int64)[:hops] / 1000.0
    sent = np.frombuffer(server.hop_sent_ns, dtype=np.int64)[:hops]
    written = np.frombuffer(server.feeder.written_ns, dtype=np.int64)
    lookahead = 6  # the analyzer's reach past a window at 44.1 kHz (true peak)
    needed = np.arange(hops) * info.hop + info.window + lookahead  # samples that complete frame k
    block = np.minimum((needed + FEED_BLOCK - 1) // FEED_BLOCK - 1, len(written) - 1)
    latency = (sent - written[block]) / 1000.0
    period_us = info.hop / info.sr * 1e6
    block_us = FEED_BLOCK / info.sr * 1e6
    analysis_us, decision_us = _parts(args.model, y)
    process_cpu = (cpu1.user - cpu0.user + cpu1.system - cpu0.system) / wall * 100
    print(f"listening server, {args.model.parent.name}/{args.model.name}: {info.n_features} features -> {info.n_params} params; "
          f"{args.take.name}, {wall:.1f} s in real time, {hops} hops, {received[0]} replies; {os.cpu_count()} CPUs, "
          f"load average {os.getloadavg()[0]:.1f}")
    print(f"work per hop (read + analysis + decision + send): median {np.median(work):7.1f} µs, p99 "
          f"{np.percentile(work, 99):7.1f} µs = {np.median(work) / period_us * 100:5.2f} % / {np.percentile(work, 99) / period_us * 100:5.2f} % "
          f"of the hop ({period_us:.0f} µs) on one core; goal < 2 %: {'yes' if np.median(work) / period_us < 0.02 else 'NO'}")
    print(f"  parts alone, warm loop: C analyzer {analysis_us:6.1f} µs/hop ({analysis_us / period_us * 100:4.2f} %), "
          f"decision {decision_us:6.1f} µs ({decision_us / period_us * 100:4.2f} %)")
    print(f"  whole process CPU while serving (feeder thread and idle warming included): {process_cpu:5.1f} % of one core")
    print(f"block arrival -> params sent: median {np.median(latency):7.1f} µs, p99 {np.percentile(latency, 99):7.1f} µs, "
          f"max {latency.max():7.1f} µs = {np.median(latency) / block_us:4.2f} / {np.percentile(latency, 99) / block_us:4.2f} "
          f"blocks ({block_us:.0f} µs); goal within one block: {'yes' if np.percentile(latency, 99) < block_us else 'NO'}")


if __name__ == "__main__":
    main()
