"""OSC fuzzing of a real ``rlimpro serve`` (each engine): it never dies, never sends a non-finite
or out-of-range value, answers every valid frame with the model's answer (onnxruntime run
directly), and its counters account for every drop.

``RLIMPRO_FUZZ_PACKETS`` sets the raw packets per engine (default 3,000: a few seconds each);
``benchmarks/fuzz_long.py`` sends 100,000 and more.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from rlimpro.live import osc
from tests.fuzz import tally
from tests.fuzz.oscfuzz import (Client, Message, ServedPolicy, ThreadedServer, encode_message, encode_tree, flatten,
                                lenient_packets, random_packet)
from tests.live.conftest import ENGINES, FEATURES, build_policy

REPO = Path(__file__).resolve().parents[2]
PACKETS = int(os.environ.get("RLIMPRO_FUZZ_PACKETS", "3000"))
BATCH = 24


def fuzz(client: Client, packets: int, seed: int) -> None:
    """Send ``packets`` raw fuzzed packets in batches, each checked up to its barrier ping."""
    rng = np.random.default_rng(seed)
    while client.packets < packets:
        client.send([random_packet(rng, client.oracle) for _ in range(BATCH)])


@pytest.fixture(scope="module")
def models(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """The smooth test policy, and the shipped fm policy when it exists (copied: read-only use)."""
    tmp = tmp_path_factory.mktemp("models")
    found = {"test": build_policy(tmp / "policy.onnx")}
    shipped = REPO / "00_synths" / "fm" / "policy.onnx"
    if shipped.is_file():
        found["fm"] = Path(shutil.copy(shipped, tmp / "fm.onnx"))
    return found


@pytest.mark.parametrize("engine", ENGINES)
def test_raw_fuzz_against_rlimpro_serve(models: dict[str, Path], engine: str) -> None:
    """Random bytes, truncated, oversize, wrong tags and counts, NaN/inf/denormal/huge values,
    nested and lying bundles, unknown addresses, resets and pings, interleaved with valid frames."""
    for seed, (name, model) in enumerate(models.items()):
        with ServedPolicy(model, engine) as server:
            fuzz(server, PACKETS if name == "test" else PACKETS // 3, seed)
            got = server.stop()
        assert got == {**server.expected(), "stats_lines": got.get("stats_lines")}, name
        assert server.replies > PACKETS // 20 and len(server.kinds) >= 14, server.kinds
        tally.add("packets fuzzed", server.packets)


@pytest.mark.parametrize("engine", ENGINES)
def test_every_drop_has_its_counter(models: dict[str, Path], engine: str) -> None:
    """The same stream into the server class in a thread: every counter of Server.stats() as expected."""
    client = ThreadedServer(models["test"], engine)
    try:
        fuzz(client, PACKETS // 3, seed=7)
    finally:
        got = client.stop()
    expected = client.expected()
    assert {k: got[k] for k in expected} == expected
    assert got["received"] == client.packets and got["dropped"] > 0
    tally.add("packets fuzzed", client.packets)


# ----------------------------------------------------------------------------- hypothesis

NUMBERS = st.one_of(
    st.floats(width=32, allow_nan=True, allow_infinity=True, allow_subnormal=True),
    st.floats(-1e4, 1e4, width=32),
    st.sampled_from([0.0, -0.0, 1e-45, -1e-40, 3.4e38, 1e7, 1e8]),
)
TAGGED = st.one_of(
    st.tuples(st.just("f"), NUMBERS),
    st.tuples(st.just("i"), st.integers(-2**31, 2**31 - 1)),
    st.tuples(st.just("d"), st.one_of(NUMBERS, st.floats(allow_nan=True, allow_infinity=True))),
    st.tuples(st.just("s"), st.text(st.characters(min_codepoint=1, max_codepoint=127), max_size=12)),
    st.tuples(st.just("b"), st.binary(max_size=12)),
    st.tuples(st.just("h"), st.integers(-2**63, 2**63 - 1)),
    st.tuples(st.sampled_from("TFN"), st.none()),
)
ADDRESSES = st.one_of(st.sampled_from([osc.TARGET] * 4 + [osc.RESET, osc.PING, osc.INTENT, osc.CALM, osc.PARAMS, "/rlimpro"]),
                      st.text(st.characters(min_codepoint=33, max_codepoint=126), max_size=20).map(lambda s: "/" + s))


@st.composite
def messages(draw: st.DrawFn) -> Message:
    """A message at a likely or random address, with any count of arguments of any OSC type."""
    address = draw(ADDRESSES)
    count = draw(st.one_of(st.just(len(FEATURES)), st.just(2), st.integers(0, 8)))
    args = draw(st.lists(TAGGED, min_size=count, max_size=count))
    return Message(address, "".join(t for t, _ in args), tuple(v for t, v in args if t not in "TFN"))


TREES = st.recursive(messages(), lambda inner: st.lists(inner, min_size=0, max_size=4), max_leaves=8)


@pytest.fixture(scope="module", params=ENGINES)
def served(request: pytest.FixtureRequest, models: dict[str, Path]) -> Iterator[ServedPolicy]:
    """One real server per engine for all hypothesis examples (the oracle follows its state)."""
    with ServedPolicy(models["test"], request.param) as server:
        yield server
        got = server.stop()
    assert got == {**server.expected(), "stats_lines": got["stats_lines"]}
    tally.add("packets fuzzed", server.packets)


@settings(max_examples=int(os.environ.get("RLIMPRO_FUZZ_EXAMPLES", "300")), deadline=None, derandomize=True,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(tree=TREES)
def test_hypothesis_messages_and_bundles(served: ServedPolicy, tree: Message | list) -> None:
    """Any message or nested bundle of them: answered exactly as DESIGN.md §7 says, or dropped."""
    if isinstance(tree, list):
        packet = (("bundle", encode_tree(tree), flatten(tree), True, "") if len(encode_tree(tree)) <= osc.MAX_PACKET
                  else ("bundle", encode_tree(tree), None, False, "oversize"))
    else:
        packet = ("message", encode_message(tree), [tree], False, "")
    served.send([packet])


# ----------------------------------------------------------------------------- sizes python-osc would accept

LENIENT = lenient_packets(len(FEATURES))


@pytest.mark.parametrize("case", LENIENT)
def test_invalid_osc_sizes_are_dropped_and_counted(models: dict[str, Path], case: str) -> None:
    """OSC 1.0: a packet is a multiple of 4 bytes and a bundle element is as long as it says.
    Each lie is one drop: never an answer, never a hang."""
    with ServedPolicy(models["test"], "python") as server:
        server.sock.settimeout(3)
        tally.add("packets fuzzed")
        server.send([(case, LENIENT[case], None, False, "malformed")])
        got = server.stop()
        assert got == {**server.expected(), "stats_lines": got["stats_lines"]}
        assert "WARNING" not in server.output()[1], "garbage is counted, not logged (a host could flood the console)"
