"""Live round trip on loopback: send /rlimpro/target, receive /rlimpro/params (docs/protocol.md).

Servers, each in its own process, measured in the same run by the same client, in turns (a
block of round trips to each server in rotation, so that other load and speed changes of the
(virtual) CPU hit all of them alike):

- ``rlimpro serve``: our server as users start it (targets answered by the C hot path when
  built — raw socket, float-only codec, pre-bound onnxruntime C session, the model warmed while
  idle — else in Python);
- ``rlimpro serve --engine python``: the same server answering in Python (when the C hot path
  is built; otherwise the row above is this one);
- ``python-osc + SB3``: the usual way — ThreadingOSCUDPServer + Dispatcher, the env's numpy
  observation, ``model.predict(deterministic=True)``, the numpy decoder, SimpleUDPClient;
- ``python-osc + onnxruntime``: the reference baseline, built the way python-osc's README shows —
  the same python-osc plumbing around ``InferenceSession.run`` on the same policy.onnx;
- ``floor``: a raw UDP socket answering with a fixed packet (no model): what the OS alone
  costs, in particular the wake-ups of two sleeping processes when paced.

Each is driven flat out (next target as soon as the reply arrives) and paced at the analysis
frame rate (hop/sr ≈ 11.6 ms), under each CPU placement:

- ``one-cpu``: the client and every server process pinned to the same single CPU (``--cpu``,
  default the highest one this process may use): each reply hands the CPU straight over;
- ``free``: the OS places client and server (each wake-up may cross CPUs).

Policy: the first synth with ``runs/main`` and ``policy.onnx``, else a synthetic 4-parameter
project trained for a few seconds in a temp folder.

    python benchmarks/live.py [--flat 20000] [--paced 20000] [--placement one-cpu] [--cpu N] [--project DIR]

The defaults: 20,000 round trips per server flat out and 20,000 at the frame rate. Paced,
that is 20,000 × 11.6 ms ≈ 4 minutes per server, about 20 minutes in all
(twice that with ``--placement both``); ``--paced 2000`` gives a quicker, noisier p99.

Goals (per placement and mode): ours ≤ 100 µs median, ≤ 150 µs p99, and ≥ 3× better at p99
than the reference baseline (python-osc + onnxruntime); the ratio to the SB3
baseline is printed too.
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
OURS, SB3, REFERENCE = "rlimpro serve", "python-osc + SB3 predict", "python-osc + onnxruntime"
OURS_PYTHON = "rlimpro serve --engine python"
FLOOR = "floor: raw UDP echo, no model"


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
            state["params"] = decode(action, state["params"], space=run.env.action_space, step=run.env.step, reach=run.env.reach)
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


#: recorded round trips per turn of one server, after SETTLE unrecorded ones: the other
#: servers' turns left the caches cold and the server idle far longer than one frame, which
#: live use never does (measured here: paced turns of 25 frames doubled our p99, turns of 500
#: did not change the medians)
TURN, SETTLE, WARM_UP = {"flat out": 500, "paced": 500}, {"flat out": 20, "paced": 5}, 200


def measure(commands: dict[str, list[str]], ports: dict[str, int], frames: np.ndarray, sock: socket.socket,
            flat: int, paced: int, period: float) -> dict[str, dict[str, np.ndarray]]:
    """Start every server, wait until each answers, warm each up, then time ``flat`` and ``paced``
    round trips per server in turns (one block per server in rotation), so that all servers
    see the same machine: other load and speed changes of the (virtual) CPU hit them alike."""
    procs = {name: subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, cwd=REPO)
             for name, cmd in commands.items()}
    packets = [osc.encode_floats(TARGET, f) for f in frames]
    sent = 0

    def turn(name: str, count: int, pace: float) -> np.ndarray:
        nonlocal sent
        addr, times = ("127.0.0.1", ports[name]), np.empty(count, dtype=np.int64)
        start = time.perf_counter()
        for i in range(count):
            if pace:
                wait = start + i * pace - time.perf_counter()
                if wait > 0:
                    time.sleep(wait)
            packet = packets[sent % len(packets)]
            sent += 1
            t0 = time.perf_counter_ns()
            sock.sendto(packet, addr)
            sock.recv(osc.MAX_PACKET)
            times[i] = time.perf_counter_ns() - t0
        return times

    try:
        for name, proc in procs.items():
            _wait_for(proc, commands[name], ("127.0.0.1", ports[name]), sock, packets[0])
        sock.settimeout(2.0)
        for name in procs:
            turn(name, WARM_UP, 0.0)
        results: dict[str, dict[str, np.ndarray]] = {name: {} for name in procs}
        for mode, count in (("flat out", flat), ("paced", paced)):
            times: dict[str, list[np.ndarray]] = {name: [] for name in procs}
            for done in range(0, count, TURN[mode]):
                for name in procs:
                    n = min(TURN[mode], count - done)
                    pace = period if mode == "paced" else 0.0
                    times[name].append(turn(name, SETTLE[mode] + n, pace)[SETTLE[mode]:])
            for name in procs:
                results[name][mode] = np.concatenate(times[name]) / 1000.0
        return results
    finally:
        for proc in procs.values():
            proc.terminate()
        for proc in procs.values():
            proc.wait(10)


def _wait_for(proc: subprocess.Popen, cmd: list[str], addr: tuple[str, int], sock: socket.socket,
              probe: bytes) -> None:
    """Probe a starting server until it answers, then drain late replies to the probes."""
    deadline = time.monotonic() + 120
    while True:
        if proc.poll() is not None or time.monotonic() > deadline:
            raise SystemExit(f"server did not start: {' '.join(cmd)}")
        sock.sendto(probe, addr)
        try:
            sock.settimeout(0.5)
            sock.recv(osc.MAX_PACKET)
            break
        except TimeoutError:
            continue
    time.sleep(0.3)
    while True:
        try:
            sock.settimeout(0.05)
            sock.recv(osc.MAX_PACKET)
        except TimeoutError:
            break


def policy_and_run(project: Path, work: Path) -> tuple[Path, Path, Path, str]:
    """(project root, run folder, policy.onnx, description)."""
    from rlimpro.layout import Layout
    from rlimpro.params import load_params

    for synth in load_params(project)["synths"]:
        run, model = Layout(project).run(synth), Layout(project).policy(synth)
        if (run / "model.zip").is_file() and model.is_file():
            return project, run, model, f"synth {synth} (runs/main)"
    from rlimpro.env.synthetic import write_synthetic_project
    from rlimpro.export import export_run
    from rlimpro.train import train

    write_synthetic_project(work, synth="toy", n_params=4, subdiv=6, n_tracks=2, frames=300)
    params = copy.deepcopy(load_params(REPO))
    params["train"].update(total_timesteps=3000, n_envs=4)
    train("toy", params, work)
    run = Layout(work).run("toy")
    model, _ = export_run(run, work / "policy.onnx", work, check=2000)
    return work, run, model, "synthetic 4-param synth (no DAG run yet; trained 3000 steps)"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--flat", type=int, default=20_000, help="round trips flat out per server")
    parser.add_argument("--paced", type=int, default=20_000, help="round trips at the frame rate per server "
                                                                  "(20,000: about 4 minutes per server)")
    parser.add_argument("--project", type=Path, default=REPO, help="project whose first runs/main + policy.onnx to use")
    parser.add_argument("--placement", choices=["free", "one-cpu", "both"], default="one-cpu",
                        help="free: the OS places client and servers; one-cpu: all pinned to --cpu; both: one table each")
    parser.add_argument("--cpu", type=int, help="the CPU of the one-cpu placement (default: the highest one allowed)")
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

    from rlimpro.live import hotloop
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
        allowed = os.sched_getaffinity(0)
        cpu = max(allowed) if args.cpu is None else args.cpu
        if cpu not in allowed:
            raise SystemExit(f"--cpu {cpu} is not among the CPUs this process may use: {sorted(allowed)}")
        placements = {"one-cpu": {cpu}, "free": allowed}
        for placement in ("one-cpu", "free") if args.placement == "both" else (args.placement,):
            os.sched_setaffinity(0, placements[placement])  # the servers started below inherit it
            names = (OURS, OURS_PYTHON, SB3, REFERENCE, FLOOR) if hotloop.available() else (OURS, SB3, REFERENCE, FLOOR)
            ports = {name: free_port() for name in names}
            ours = [str(exe), "serve", str(model), "--reply-port", str(reply)]
            commands = {
                OURS: [*ours, "--port", str(ports[OURS])],
                **({OURS_PYTHON: [*ours, "--port", str(ports[OURS_PYTHON]), "--engine", "python"]}
                   if OURS_PYTHON in names else {}),
                SB3: _baseline_cmd("sb3", root, run, model, ports[SB3], reply),
                REFERENCE: _baseline_cmd("onnx", root, run, model, ports[REFERENCE], reply),
                FLOOR: _baseline_cmd("echo", root, run, model, ports[FLOOR], reply),
            }
            minutes = len(commands) * (args.paced * info.frame_period + args.flat * 5e-4) / 60
            print(f"placement {placement}: {len(commands)} servers, about {minutes:.0f} minutes", flush=True)
            servers = measure(commands, ports, frames, sock, args.flat, args.paced, info.frame_period)
            _report(servers, what, info, args, f"{placement} (CPU {_cpus(placements[placement])})")
        os.sched_setaffinity(0, allowed)


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


def _cpus(cpus: set[int]) -> str:
    return ",".join(str(c) for c in sorted(cpus))


def _report(servers: dict[str, dict[str, np.ndarray]], what: str, info: object, args: argparse.Namespace,
            placement: str) -> None:
    ours = servers[OURS]
    print(f"\nlive round trip on 127.0.0.1, {what}: {info.n_features} features -> {info.n_params} params "
          f"({info.algo}, {info.action_space}); {os.cpu_count()} CPUs; placement {placement}; "
          f"load average {os.getloadavg()[0]:.1f} (other work makes figures noisy)")
    print(f"{args.flat} round trips flat out, {args.paced} paced at hop/sr = {info.frame_period * 1000:.1f} ms "
          f"per server, in turns of {TURN['flat out']} / {TURN['paced']} (after {WARM_UP} warm-up each; "
          f"{SETTLE['flat out']} / {SETTLE['paced']} unrecorded at the start of each turn)")
    print(f"{'server':<34}{'mode':<10}{'median µs':>11}{'p99 µs':>10}{'ratio med':>11}{'ratio p99':>11}")
    for name, results in servers.items():
        for mode, times in results.items():
            med, p99 = np.median(times), np.percentile(times, 99)
            ref = ours[mode]
            r_med, r_p99 = med / np.median(ref), p99 / np.percentile(ref, 99)
            print(f"{name:<34}{mode:<10}{med:11.1f}{p99:10.1f}{r_med:10.2f}x{r_p99:10.2f}x")
    for mode in ours:
        med, p99 = np.median(ours[mode]), np.percentile(ours[mode], 99)
        ratios = [(label, np.percentile(servers[name][mode], 99) / p99)
                  for label, name in (("python-osc + onnxruntime (reference)", REFERENCE), ("SB3", SB3))]
        print(f"goals ({placement.split()[0]}, {mode}): median {med:.1f} µs <= 100 {'yes' if med <= 100 else 'NO'}; "
              f"p99 {p99:.1f} µs <= 150 {'yes' if p99 <= 150 else 'NO'}; baseline p99 / ours: "
              + "; ".join(f"{label} {r:.2f}x >= 3 {'yes' if r >= 3 else 'NO'}" for label, r in ratios))


if __name__ == "__main__":
    main()
