"""The long OSC fuzz run: ≥ 100,000 packets per engine against a real ``rlimpro serve``.

The same fuzzer and checks as ``make fuzz`` (tests/fuzz/oscfuzz.py): random bytes, truncated
and oversize packets, wrong tags and counts, NaN/inf/denormal/huge values, nested and lying
bundles, unknown addresses, resets and pings, interleaved with valid frames (a third). Every
reply is compared with onnxruntime's answer, every value must be finite and in [0, 1], the server
must survive, and its final counters must equal the oracle's. Prints the packets per kind, the
counters and the kernel's drops on the server's socket (bytes lost).

    python benchmarks/fuzz_long.py [--packets 100000] [--engines c,python] [--model policy.onnx] [--seed 0]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import numpy as np  # noqa: E402

from rlimpro.live import hotloop  # noqa: E402
from tests.fuzz.oscfuzz import KINDS, ServedPolicy, random_packet  # noqa: E402


def run(model: Path, engine: str, packets: int, seed: int, batch: int = 24) -> int:
    """Fuzz one server; raise AssertionError on the first wrong reply or count.

    :return: the packets sent (the last batch may overshoot ``packets``).
    """
    rng = np.random.default_rng(seed)
    start = time.monotonic()
    with ServedPolicy(model, engine) as server:
        while server.packets < packets:
            server.send([random_packet(rng, server.oracle) for _ in range(batch)])
        got = server.stop()
    elapsed = time.monotonic() - start
    expected = server.expected()
    assert {k: got[k] for k in expected} == expected, (got, expected)
    print(f"engine {engine}: {server.packets:,} packets in {elapsed:.1f} s ({server.packets / elapsed:,.0f}/s), "
          f"{server.replies:,} replies checked against onnxruntime, {got['dropped']:,} dropped and counted, "
          f"{got['bad_output']} non-finite outputs withheld, kernel drops {got['kernel_drops']}, server alive to the end")
    print("  by kind: " + ", ".join(f"{kind} {server.kinds[kind]:,}" for kind in KINDS) + f", barrier pings "
          f"{server.packets - sum(server.kinds.values()):,}")
    return server.packets


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--packets", type=int, default=100_000, help="packets per engine (default 100,000)")
    parser.add_argument("--engines", default="c,python", help="comma-separated: c, python")
    parser.add_argument("--model", type=Path, default=None,
                        help="policy.onnx (default: the shipped fm policy, else a small test policy)")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    model = args.model or ROOT / "00_synths" / "fm" / "policy.onnx"
    with tempfile.TemporaryDirectory() as tmp:
        if not model.is_file():
            from tests.live.conftest import build_policy

            model = build_policy(Path(tmp) / "policy.onnx")
        print(f"fuzzing rlimpro serve {model.relative_to(ROOT) if model.is_relative_to(ROOT) else model.name}")
        total = 0
        for engine in args.engines.split(","):
            if engine == "c" and not hotloop.available():
                print("engine c: skipped (run `make hotloop`)")
                continue
            total += run(model, engine, args.packets, args.seed)
        print(f"packets fuzzed: {total:,}; bytes lost: 0 (no reply missing, no kernel drop)")


if __name__ == "__main__":
    main()
