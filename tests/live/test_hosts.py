"""Hosts beside `serve --listen`: the receive-only Pd patch (real-time Pd against a real server) and
the Max patches (Max does not run on Linux: their JSON, objects, connections, ports and addresses)."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from rlimpro.audio import load_audio
from rlimpro.descriptors import compute, indices, native
from rlimpro.live import osc
from rlimpro.live.duet import play_policy
from rlimpro.live.play import recorded_params
from rlimpro.live.policy import Policy
from rlimpro.live.server import Server
from tests.live.conftest import build_policy, free_udp_port

REPO = Path(__file__).resolve().parents[2]
MAX = REPO / "max"
RECEIVE = REPO / "rlimpro" / "pd" / "listen-receive.pd"
SERVE_DEFAULTS = Server.__init__.__defaults__  # host, port, reply_host, reply_port, ...


# ----------------------------------------------------------------------------- Pd, no externals

@pytest.mark.slow
@pytest.mark.skipif(not shutil.which("pd") or not native.available(), reason="needs Pd and `make native`")
def test_pd_receive_patch_plays_what_serve_listen_file_sends(tmp_path: Path) -> None:
    """A real-time Pd with listen-receive.pd and the sine synth; `serve --listen-file` (real time)
    sends params every hop; Pd applies exactly the replay trajectory."""
    model = build_policy(tmp_path / "sine.onnx", n_features=2, features="loudness,centroid", synth="sine")
    t = np.arange(int(2.0 * 44100)) / 44100
    take = tmp_path / "take.wav"
    sf.write(take, (0.3 * np.sin(2 * np.pi * (200 + 300 * t) * t) * (t > 0.4)).astype(np.float32), 44100, subtype="FLOAT")
    port = free_udp_port()
    log = tmp_path / "pd.log"
    with log.open("w") as out:
        pd = subprocess.Popen(["pd", "-nogui", "-nosound", "-noprefs", "-path", str(REPO / "00_synths" / "sine"),
                               "-open", str(RECEIVE), "-send", f"rlimpro-listen-port {port}; rlimpro-verbose 1"],
                              stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
        try:
            time.sleep(1.5)  # Pd up and listening (it answers nothing, so wait)
            served = subprocess.run([sys.executable, "-m", "rlimpro", "serve", str(model), "--listen-file", str(take),
                                     "--port", "0", "--reply-port", str(port)], capture_output=True, text=True, timeout=60)
            assert served.returncode == 0, served.stderr
            time.sleep(0.5)
        finally:
            pd.terminate()
            pd.wait(10)
    console = log.read_text()
    assert "error" not in console.lower() or "couldn't create" not in console, console
    policy = Policy(model)
    frames = compute(load_audio(take), engine="c")[:, indices(list(policy.info.features))]
    expected = play_policy(policy, frames)[0]
    received = recorded_params(console)
    assert len(received) == len(expected) > 150
    np.testing.assert_allclose(received, expected, atol=1e-5)  # Pd prints 6 significant digits


# ----------------------------------------------------------------------------- Max (JSON only)

def _patch(name: str) -> tuple[dict[str, dict], list[tuple[str, int, str, int]]]:
    data = json.loads((MAX / name).read_text())
    patcher = data["patcher"]
    assert {"boxes", "lines", "rect", "appversion"} <= set(patcher)
    boxes = {b["box"]["id"]: b["box"] for b in patcher["boxes"]}
    for box in boxes.values():
        assert {"id", "maxclass", "numinlets", "numoutlets", "patching_rect"} <= set(box)
        assert len(box.get("outlettype", [])) == box["numoutlets"]
    lines = [(ln["patchline"]["source"][0], ln["patchline"]["source"][1],
              ln["patchline"]["destination"][0], ln["patchline"]["destination"][1]) for ln in patcher["lines"]]
    for src, out, dst, inl in lines:  # every cord joins existing boxes at existing outlets and inlets
        assert out < boxes[src]["numoutlets"] and inl < boxes[dst]["numinlets"], (src, out, dst, inl)
    return boxes, lines


def _by_text(boxes: dict[str, dict], text: str) -> str:
    found = [i for i, b in boxes.items() if b.get("text") == text or (b["maxclass"] == text and "text" not in b)]
    assert len(found) == 1, (text, found)
    return found[0]


def test_max_live_patch_routes_params_to_the_synth_and_sends_reset_and_ping() -> None:
    host, port, reply_host, reply_port = SERVE_DEFAULTS[:4]
    boxes, lines = _patch("rlimpro-live.maxpat")
    receive = _by_text(boxes, f"udpreceive {reply_port}")
    route = next(i for i, b in boxes.items() if b.get("text", "").startswith("route "))
    addresses = boxes[route]["text"].split()[1:]
    assert addresses[0] == osc.PARAMS and osc.PONG in addresses
    synth, send = _by_text(boxes, "rlimpro-fm~"), _by_text(boxes, f"udpsend {host} {port}")
    reset, ping = _by_text(boxes, osc.RESET), _by_text(boxes, osc.PING)
    assert boxes[reset]["maxclass"] == boxes[ping]["maxclass"] == "message"
    assert (receive, 0, route, 0) in lines and (route, 0, synth, 0) in lines
    assert (reset, 0, send, 0) in lines and (ping, 0, send, 0) in lines
    dac = _by_text(boxes, "dac~ 1 2")  # the synth reaches both outputs (through a gain)
    gain = next(dst for src, _, dst, _ in lines if src == synth)
    assert (gain, 0, dac, 0) in lines and (gain, 0, dac, 1) in lines
    assert (REPO / "max" / "rlimpro-fm~.maxpat").is_file()  # the abstraction Max finds beside the patch


def _max_message(text: str, value: float) -> bytes:
    """What [udpsend] sends when a message box ``text`` gets ``value``: $1 replaced, the first atom
    the OSC address, the others its arguments (a float atom stays a float: ``f``)."""
    address, *atoms = text.split()
    return osc.encode_message(address, [value if atom == "$1" else float(atom) for atom in atoms])


def _max_dial(address: str) -> tuple[dict[str, dict], list[tuple[str, int, str, int]], str, str]:
    """(boxes, lines, the knob's number box, its message box ``address $1``) of rlimpro-live.maxpat:
    a float number box in [-1, 1] whose every value goes out of the patch's [udpsend] as ``address f``."""
    host, port = SERVE_DEFAULTS[:2]
    boxes, lines = _patch("rlimpro-live.maxpat")
    send = _by_text(boxes, f"udpsend {host} {port}")
    message = _by_text(boxes, f"{address} $1")
    assert boxes[message]["maxclass"] == "message" and (message, 0, send, 0) in lines
    dials = [src for src, out, dst, inl in lines if dst == message and boxes[src]["maxclass"] == "flonum"]
    assert len(dials) == 1 and (dials[0], 0, message, 0) in lines, dials
    dial = dials[0]
    assert (boxes[dial]["minimum"], boxes[dial]["maximum"]) == (-1.0, 1.0)
    assert boxes[dial].get("format", 6) == 6  # a float number box: its output is a float atom
    for value in (-1.0, -0.25, 0.0, 1.0):
        assert osc.parse_packet(_max_message(boxes[message]["text"], value)) == (
            False, [osc.Message(address, "f", (value,))])
    return boxes, lines, dial, message


def test_max_live_patch_sends_the_intent_dial() -> None:
    boxes, lines, dial, _ = _max_dial(osc.INTENT)
    start = _by_text(boxes, "loadmess set 1")  # shows 1 (imitate, the policy's default) without sending
    assert (start, 0, dial, 0) in lines
    assert any(b["maxclass"] == "comment" and b["text"] == "intent: -1 mirror · 0 hold · 1 imitate"
               for b in boxes.values())


def test_max_live_patch_sends_the_calm_dial() -> None:
    """The calm number box beside the intent one: /rlimpro/calm f, showing 0 (as trained, every
    exported policy's calm_default) at load, with its comment; it is not the intent's box."""
    boxes, lines, dial, _ = _max_dial(osc.CALM)
    assert dial != _max_dial(osc.INTENT)[2]
    assert not any(dst == dial for _, _, dst, _ in lines)  # nothing sets it at load: a float box shows 0
    assert any(b["maxclass"] == "comment" and b["text"] == "calm: -1 busy · 0 as trained · 1 calm"
               for b in boxes.values())


def _pd_expressions() -> list[str]:
    text = (REPO / "00_synths" / "fm" / "synth.pd").read_text()
    expr = re.search(r"#X obj \d+ \d+ expr (.*?);\n", text, re.S).group(1)
    return [e.strip().replace("\\,", ",").replace("\\$", "$") for e in expr.split("\\;")]


def _evaluate(expression: str, values: dict[str, float]) -> float:
    code = expression.replace("\\,", ",")
    for name, value in values.items():
        code = code.replace(name, repr(value))
    return eval(code, {"__builtins__": {}}, {"pow": pow, "min": min, "max": max})  # noqa: S307 - our own files


def test_max_fm_synth_maps_params_like_the_pd_synth() -> None:
    """Every expr of rlimpro-fm~.maxpat, fed from [unpack]'s outlets as wired, computes what
    00_synths/fm/synth.pd computes (carrier, modulator frequency, deviation, amplitude)."""
    boxes, lines = _patch("rlimpro-fm~.maxpat")
    unpack = _by_text(boxes, "unpack 0. 0. 0. 0.")
    clip = _by_text(boxes, "clip 0. 1.")
    inlet = next(i for i, b in boxes.items() if b["maxclass"] == "inlet")
    outlet = next(i for i, b in boxes.items() if b["maxclass"] == "outlet")
    assert (inlet, 0, clip, 0) in lines and (clip, 0, unpack, 0) in lines
    pd = _pd_expressions()
    assert len(pd) == 4
    exprs = [i for i, b in boxes.items() if b.get("text", "").startswith("expr ")]
    rng = np.random.default_rng(0)
    for params in rng.uniform(0, 1, size=(20, 4)):
        pd_values = [_evaluate(e, {f"$f{k + 1}": float(params[k]) for k in range(4)}) for e in pd]
        max_values = []
        for e in exprs:
            wiring = {f"$f{inl + 1}": float(params[out]) for src, out, dst, inl in lines if src == unpack and dst == e}
            max_values.append(_evaluate(boxes[e]["text"][5:], wiring))
        assert sorted(np.round(max_values, 9)) == sorted(np.round(pd_values, 9))
    # the same signal graph: two oscillators, 20 ms ramps, the amplitude multiplies the carrier into the outlet
    assert sum(b.get("text") == "cycle~" for b in boxes.values()) == 2
    assert sum(b.get("text") == "$1 20" for b in boxes.values()) == 4
    assert any(dst == outlet for _, _, dst, _ in lines)
