"""Live round trip on loopback: send /rlimpro/target, receive /rlimpro/params (DESIGN.md §7).

Servers, each in its own process, measured in the same run by the same client:

- ``rlimpro serve``: our server (raw socket, float-only codec, pre-bound onnxruntime);
- ``python-osc + SB3``: the usual way — ThreadingOSCUDPServer + Dispatcher, the env's numpy
  observation, ``model.predict(deterministic=True)``, the numpy decoder, SimpleUDPClient;
- ``python-osc + onnxruntime``: DESIGN.md §7's reference — the same python-osc plumbing
  around ``InferenceSession.run`` on the same policy.onnx;
- ``floor``: a raw UDP socket answering with a fixed packet (no model): what the OS alone
  costs, in particular the wake-ups of two sleeping processes when paced.

Each is driven flat out (next target as soon as the reply arrives) and paced at the analysis
frame rate (hop/sr ≈ 11.6 ms). Policy: the first synth with ``runs/main`` and ``policy.onnx``,
else a synthetic 4-parameter project trained for a few seconds in a temp folder.

    python benchmarks/live.py [--flat 20000] [--paced 2000] [--project DIR]

Goals: ours ≤ 100 µs median, ≤ 150 µs p99, ≥ 3× the SB3 baseline at p99.
"""

from __future__ import annotations

import argparse
import copy
import os
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from rlimpro.live import osc  # noqa: E402

TARGET, PARAMS = osc.TARGET, osc.PARAMS


# --- the baseline servers (run in child processes) ----------------------------------------
def echo_server(port: int, reply_port: int) -> None:
    """The floor: a raw UDP socket that answers every datagram with a fixed params packet, no model."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.bind(("127.0.0.1", port))
    buffer, reply = bytearray(osc.MAX_PACKET), osc.encode_floats(PARAMS, [0.5] * 4)
    while True:
        sock.recv_into(buffer)
        sock.sendto(reply, ("127.0.0.1", reply_port))


def baseline_server(kind: str, root: Path, run_dir: Path, model: Path, port: int, reply_port: int) -> None:
    """python-osc ThreadingOSCUDPServer + Dispatcher + (SB3 predict | onnxruntime run)."""
    from pythonosc.dispatcher import Dispatcher
    from pythonosc.osc_server import ThreadingOSCUDPServer
    from pythonosc.udp_client import SimpleUDPClient

    client = SimpleUDPClient("127.0.0.1", reply_port)
    if kind == "sb3":
        from rlimpro.env.actions import decode
        from rlimpro.env.core import Imitation
        from rlimpro.env.table import load_table
        from rlimpro.train import load_run

        run = load_run(run_dir)
        core = Imitation(run.env, load_table(root / run.table_path), run.norm)
        agent = run.load_model()
        state = {"params": np.asarray(run.env.initial_params, np.float64)[None]}

        def decide(*args: float) -> list[float]:
            target = run.norm.apply(np.asarray(args, np.float64))[None]
            obs = core.observe(state["params"], target)
            action, _ = agent.predict(obs, deterministic=True)
            state["params"] = decode(action, state["params"], space=run.env.action_space, step=run.env.step)
            return state["params"][0].tolist()
    else:
        import onnxruntime as ort

        session = ort.InferenceSession(str(model))
        meta = session.get_modelmeta().custom_metadata_map
        state = {"params": np.asarray([float(v) for v in meta["initial_params"].split(",")], np.float32)[None]}

        def decide(*args: float) -> list[float]:
            feeds = {"target": np.asarray([args], np.float32), "params": state["params"]}
            state["params"] = session.run(None, feeds)[0]
            return state["params"][0].tolist()

    def handler(address: str, *args: float) -> None:
        client.send_message(PARAMS, decide(*args))

    dispatcher = Dispatcher()
    dispatcher.map(TARGET, handler)
    ThreadingOSCUDPServer(("127.0.0.1", port), dispatcher).serve_forever()


# --- the client --------------------------------------------------------------------------------
def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def measure(cmd: list[str], frames: np.ndarray, port: int, sock: socket.socket, flat: int, paced: int,
            period: float) -> dict[str, np.ndarray]:
    """Start a server, wait until it answers, then time ``flat`` and ``paced`` round trips."""
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, cwd=REPO)
    packets = [osc.encode_floats(TARGET, f) for f in frames]
    addr = ("127.0.0.1", port)
    try:
        deadline = time.monotonic() + 120
        while True:  # wait for the server: first reply
            if proc.poll() is not None or time.monotonic() > deadline:
                raise SystemExit(f"server did not start: {' '.join(cmd)}")
            sock.sendto(packets[0], addr)
            try:
                sock.settimeout(0.5)
                sock.recv(osc.MAX_PACKET)
                break
            except TimeoutError:
                continue
        sock.settimeout(2.0)
        time.sleep(0.3)
        while True:  # drain late replies of the start-up probes
            try:
                sock.settimeout(0.05)
                sock.recv(osc.MAX_PACKET)
            except TimeoutError:
                break
        sock.settimeout(2.0)
        results = {}
        for mode, count in (("flat out", flat), ("paced", paced)):
            times = np.empty(count + 200, dtype=np.int64)
            start = time.perf_counter()
            for i in range(count + 200):  # the first 200 warm up
                if mode == "paced":
                    wait = start + i * period - time.perf_counter()
                    if wait > 0:
                        time.sleep(wait)
                packet = packets[i % len(packets)]
                t0 = time.perf_counter_ns()
                sock.sendto(packet, addr)
                sock.recv(osc.MAX_PACKET)
                times[i] = time.perf_counter_ns() - t0
            results[mode] = times[200:] / 1000.0
        return results
    finally:
        proc.terminate()
        proc.wait(10)


def policy_and_run(project: Path, work: Path) -> tuple[Path, Path, Path, str]:
    """(project root, run folder, policy.onnx, description)."""
    from rlimpro.params import load_params

    for synth in load_params(project).get("synths", []):
        run, model = project / "00_synths" / synth / "runs" / "main", project / "00_synths" / synth / "policy.onnx"
        if (run / "model.zip").is_file() and model.is_file():
            return project, run, model, f"synth {synth} (runs/main of {project})"
    from rlimpro.env.synthetic import write_synthetic_project
    from rlimpro.export import export_run
    from rlimpro.train import train

    write_synthetic_project(work, synth="toy", n_params=4, subdiv=6, n_tracks=2, frames=300)
    params = copy.deepcopy(load_params(REPO))
    params["train"].update(total_timesteps=3000, n_envs=4)
    train("toy", params, work)
    run = work / "00_synths" / "toy" / "runs" / "main"
    model, _ = export_run(run, work / "policy.onnx", work, check=2000)
    return work, run, model, "synthetic 4-param synth (no DAG run yet; trained 3000 steps)"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--flat", type=int, default=20_000, help="round trips flat out per server")
    parser.add_argument("--paced", type=int, default=2_000, help="round trips at the frame rate per server")
    parser.add_argument("--project", type=Path, default=REPO, help="project whose first runs/main + policy.onnx to use")
    parser.add_argument("--baseline", choices=["sb3", "onnx", "echo"], help=argparse.SUPPRESS)
    parser.add_argument("--root", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--run", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--model", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--port", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--reply-port", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.baseline == "echo":
        echo_server(args.port, args.reply_port)
        return
    if args.baseline:
        baseline_server(args.baseline, args.root, args.run, args.model, args.port, args.reply_port)
        return

    from rlimpro.live.policy import Policy

    with tempfile.TemporaryDirectory(prefix="rlimpro-bench-live-") as tmp:
        root, run, model, what = policy_and_run(args.project.resolve(), Path(tmp))
        info = Policy(model).info
        rng = np.random.default_rng(0)
        frames = _frames(root, run, info.features, rng)
        sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        sock.bind(("127.0.0.1", 0))
        reply = sock.getsockname()[1]
        exe = Path(sys.executable).parent / "rlimpro"
        servers = {}
        for name, make in (
            ("rlimpro serve", lambda p: [str(exe), "serve", str(model), "--port", str(p), "--reply-port", str(reply)]),
            ("python-osc + SB3 predict", lambda p: _baseline_cmd("sb3", root, run, model, p, reply)),
            ("python-osc + onnxruntime", lambda p: _baseline_cmd("onnx", root, run, model, p, reply)),
            ("floor: raw UDP echo, no model", lambda p: _baseline_cmd("echo", root, run, model, p, reply)),
        ):
            port = free_port()
            servers[name] = measure(make(port), frames, port, sock, args.flat, args.paced, info.frame_period)
        _report(servers, what, info, args)


def _baseline_cmd(kind: str, root: Path, run: Path, model: Path, port: int, reply: int) -> list[str]:
    return [sys.executable, str(Path(__file__).resolve()), "--baseline", kind, "--root", str(root), "--run", str(run),
            "--model", str(model), "--port", str(port), "--reply-port", str(reply)]


def _frames(root: Path, run: Path, features: tuple[str, ...], rng: np.random.Generator) -> np.ndarray:
    from rlimpro.descriptors.names import NAMES
    from rlimpro.env.targets import load_tracks
    from rlimpro.train import load_run

    corpus = load_run(run).env.corpus
    tracks = load_tracks(root, corpus)
    idx = [NAMES.index(f) for f in features]
    frames = np.concatenate([t[:, idx] for t in tracks.values()]).astype(np.float32)
    return frames[rng.permutation(len(frames))[:5000]]


def _report(servers: dict[str, dict[str, np.ndarray]], what: str, info: object, args: argparse.Namespace) -> None:
    ours = servers["rlimpro serve"]
    print(f"live round trip on 127.0.0.1, {what}: {info.n_features} features -> {info.n_params} params "
          f"({info.algo}, {info.action_space}); {os.cpu_count()} CPUs")
    print(f"{args.flat} round trips flat out, {args.paced} paced at hop/sr = {info.frame_period * 1000:.1f} ms "
          f"(after 200 warm-up each)")
    print(f"{'server':<32}{'mode':<10}{'median µs':>11}{'p99 µs':>10}{'ratio med':>11}{'ratio p99':>11}")
    for name, results in servers.items():
        for mode, times in results.items():
            med, p99 = np.median(times), np.percentile(times, 99)
            ref = ours[mode]
            r_med, r_p99 = med / np.median(ref), p99 / np.percentile(ref, 99)
            print(f"{name:<32}{mode:<10}{med:11.1f}{p99:10.1f}{r_med:10.2f}x{r_p99:10.2f}x")
    for mode in ours:
        med, p99 = np.median(ours[mode]), np.percentile(ours[mode], 99)
        base = np.percentile(servers["python-osc + SB3 predict"][mode], 99)
        print(f"goals ({mode}): median {med:.0f} µs <= 100 {'yes' if med <= 100 else 'NO'}; "
              f"p99 {p99:.0f} µs <= 150 {'yes' if p99 <= 150 else 'NO'}; "
              f"SB3 baseline p99 / ours {base / p99:.1f}x >= 3 {'yes' if base / p99 >= 3 else 'NO'}")


if __name__ == "__main__":
    main()
