"""Generate the bad-input zoo: one file per way an input can be wrong, for every entry point.

Nothing here is committed: the reliability tests (tests/fuzz/test_zoo.py) call
:func:`make_zoo` into a temp folder, and ``python tools/make_zoo.py DEST`` writes the same files
for a look by hand. Layout of DEST:

    audio/      empty, truncated, not audio, NaN samples; and odd but valid: 64 channels,
                8 kHz, 192 kHz, 3 hours (a sparse file: 0.9 GB long, almost nothing on disk)
    parquet/    a features file cut in half, and one that is not parquet at all
    synths/     patches that are broken, silent, NaN-producing, or have the wrong inlet
    onnx/       policies with wrong inputs, no metadata, or an op onnxruntime does not have
    params/     params.yaml variants: unknown key, unknown feature, wrong type, missing synth,
                a subdiv whose grid explodes (from the project's params.yaml)

    python tools/make_zoo.py DEST [--params params.yaml] [--no-long]
"""

from __future__ import annotations

import argparse
import copy
import struct
from pathlib import Path
from typing import Any

import numpy as np
import soundfile as sf
import yaml

__all__ = ["LONG_SECONDS", "make_zoo", "sparse_wav"]

ROOT = Path(__file__).resolve().parents[1]
SR = 44100
#: length of the long recording: 3 hours
LONG_SECONDS = 3 * 3600


def sparse_wav(path: Path, seconds: float, sr: int = SR, channels: int = 1) -> Path:
    """A 16-bit PCM WAV of ``seconds`` of silence written as a sparse file: a 44-byte header,
    then the file is extended to its full length without writing the zeros (hours cost no disk)."""
    frames = int(seconds * sr)
    data = frames * channels * 2
    if data + 36 >= 1 << 32:
        raise ValueError(f"{seconds} s does not fit a RIFF WAV (4 GiB)")
    header = (b"RIFF" + struct.pack("<I", 36 + data) + b"WAVE"
              + b"fmt " + struct.pack("<IHHIIHH", 16, 1, channels, sr, sr * channels * 2, channels * 2, 16)
              + b"data" + struct.pack("<I", data))
    with open(path, "wb") as out:
        out.write(header)
        out.truncate(len(header) + data)
    return path


def _tone(seconds: float, sr: int, channels: int = 1) -> np.ndarray:
    t = np.arange(int(seconds * sr)) / sr
    y = 0.3 * np.sin(2 * np.pi * 440 * t)
    return np.repeat(y[:, None], channels, axis=1).astype(np.float32)


def _audio(folder: Path, long: bool) -> dict[str, Path]:
    folder.mkdir(parents=True, exist_ok=True)
    files = {"empty": folder / "empty.wav", "not audio": folder / "not_audio.wav", "truncated": folder / "truncated.wav",
             "nan samples": folder / "nan.wav", "64 channels": folder / "ch64.wav", "8 kHz": folder / "sr8k.wav",
             "192 kHz": folder / "sr192k.flac"}
    files["empty"].write_bytes(b"")
    files["not audio"].write_text("this is a text file with an audio name\n" * 50)
    whole = folder / "whole.wav"
    sf.write(whole, _tone(1.0, SR), SR, subtype="PCM_16")
    data = whole.read_bytes()
    files["truncated"].write_bytes(data[:44 + 1000])  # the header promises 1 s, 500 frames follow
    whole.unlink()
    y = _tone(0.5, SR)
    y[1000:1100] = np.nan
    sf.write(files["nan samples"], y, SR, subtype="FLOAT")
    sf.write(files["64 channels"], _tone(0.5, SR, 64), SR, subtype="PCM_16")
    sf.write(files["8 kHz"], _tone(1.0, 8000), 8000, subtype="PCM_16")
    sf.write(files["192 kHz"], _tone(0.5, 192000), 192000, subtype="PCM_24")
    if long:
        files["3 hours"] = sparse_wav(folder / "three_hours.wav", LONG_SECONDS)
    return files


def _parquet(folder: Path) -> dict[str, Path]:
    import pyarrow as pa
    import pyarrow.parquet as pq

    folder.mkdir(parents=True, exist_ok=True)
    whole = folder / "whole.parquet"
    pq.write_table(pa.table({"time": np.arange(100.0), "loudness": np.zeros(100)}), whole)
    data = whole.read_bytes()
    whole.unlink()
    cut, junk = folder / "cut.parquet", folder / "junk.parquet"
    cut.write_bytes(data[: len(data) // 2])
    junk.write_bytes(b"PAR1" + bytes(range(256)) * 4 + b"PAR1")
    return {"parquet cut in half": cut, "parquet junk": junk}


_HEADER = "#N canvas 0 50 450 300 12;\n"
_PATCHES = {
    "broken patch": "#X obj 20 20 inlet;\n#X obj 20 50 no_such_object~ 1 2;\n#X obj 20 80 outlet~;\n#X connect 0 0 1 0;\n"
                    "#X connect 1 0 2 0;\n",
    "not a patch": None,
    "silent synth": "#X obj 20 20 inlet;\n#X obj 20 50 sig~ 0;\n#X obj 20 80 outlet~;\n#X connect 1 0 2 0;\n",
    "NaN synth": "#X obj 20 20 inlet;\n#X obj 20 50 sig~ 1e+39;\n#X obj 20 80 -~ 1e+39;\n#X obj 20 110 outlet~;\n"
                 "#X connect 1 0 2 0;\n#X connect 2 0 3 0;\n",
    "no inlet": "#X obj 20 50 osc~ 440;\n#X obj 20 80 outlet~;\n#X connect 0 0 1 0;\n",
    "signal inlet": "#X obj 20 20 inlet~;\n#X obj 20 50 osc~ 440;\n#X obj 20 80 outlet~;\n#X connect 1 0 2 0;\n",
}


def _synths(folder: Path) -> dict[str, Path]:
    out = {}
    for i, (name, body) in enumerate(_PATCHES.items()):
        synth = folder / f"zoo{i}"
        synth.mkdir(parents=True, exist_ok=True)
        (synth / "synth.pd").write_text("this is not a Pd patch\n" if body is None else _HEADER + body)
        spec = {"name": synth.name, "description": name,
                "params": [{"name": "a", "description": "0-1"}, {"name": "b", "description": "0-1"}],
                "render": {"settle_s": 0.05, "length_s": 0.2}}
        (synth / "synth.yaml").write_text(yaml.safe_dump(spec, sort_keys=False))
        out[name] = synth / "synth.pd"
    return out


def _base_policy() -> Any:
    """A minimal valid policy (DESIGN.md §6): 2 features in, 2 params, params_next = clip(params)."""
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    inputs = [helper.make_tensor_value_info("target", TensorProto.FLOAT, ["B", 2]),
              helper.make_tensor_value_info("params", TensorProto.FLOAT, ["B", 2])]
    output = helper.make_tensor_value_info("params_next", TensorProto.FLOAT, ["B", 2])
    inits = [numpy_helper.from_array(np.array(v, np.float32), n) for v, n in ((0.0, "lo"), (1.0, "hi"))]
    nodes = [helper.make_node("Clip", ["params", "lo", "hi"], ["params_next"])]
    model = helper.make_model(helper.make_graph(nodes, "zoo", inputs, [output], inits),
                              opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    helper.set_model_props(model, {
        "rlimpro_version": "0.1.0", "synth": "zoo", "n_params": "2", "param_names": "a,b",
        "features": "loudness,centroid", "analysis": '{"sr": 44100, "window": 1024, "hop": 512}',
        "algo": "avi", "action_space": "discrete", "step": "0.05", "corpus": "demo"})
    onnx.checker.check_model(model)
    return model


def _onnx(folder: Path) -> dict[str, Path]:
    import onnx
    from onnx import helper

    folder.mkdir(parents=True, exist_ok=True)
    base = _base_policy()
    wrong_inputs = copy.deepcopy(base)
    wrong_inputs.graph.input[0].name = "features"
    for node in wrong_inputs.graph.node:
        node.input[:] = ["features" if name == "target" else name for name in node.input]
    no_metadata = copy.deepcopy(base)
    del no_metadata.metadata_props[:]
    unsupported = copy.deepcopy(base)
    unsupported.graph.node.insert(0, helper.make_node("NoSuchOp", ["params"], ["odd"], domain="org.example.zoo"))
    unsupported.opset_import.append(helper.make_opsetid("org.example.zoo", 1))
    files = {"onnx wrong inputs": wrong_inputs, "onnx without metadata": no_metadata, "onnx unsupported op": unsupported}
    out = {}
    for name, model in files.items():
        path = folder / (name.replace(" ", "_") + ".onnx")
        onnx.save(model, str(path))
        out[name] = path
    out["onnx not a model"] = folder / "not_a_model.onnx"
    out["onnx not a model"].write_bytes(b"\x08\x07" + b"\xff" * 100)
    return out


def _params(folder: Path, params_file: Path) -> dict[str, Path]:
    folder.mkdir(parents=True, exist_ok=True)
    base = yaml.safe_load(params_file.read_text())
    variants: dict[str, Any] = {}
    variants["params unknown key"] = {**base, "trian": {"steps": 10}}
    variants["params unknown feature"] = copy.deepcopy(base)
    variants["params unknown feature"].setdefault("env", {})["features"] = ["loudness", "brightness"]
    variants["params wrong type"] = copy.deepcopy(base)
    variants["params wrong type"].setdefault("render", {})["chunk_size"] = "many"
    variants["params missing synth"] = {**base, "synths": [*base["synths"], "nosuchsynth"]}
    variants["params grid explodes"] = copy.deepcopy(base)
    variants["params grid explodes"]["synth"] = {name: {"subdiv": 100000} for name in base["synth"]}
    out = {}
    for name, data in variants.items():
        path = folder / (name.replace(" ", "_") + ".yaml")
        path.write_text(yaml.safe_dump(data, sort_keys=False))
        out[name] = path
    out["params not yaml"] = folder / "params_not_yaml.yaml"
    out["params not yaml"].write_text("synths: [fm\n  env: {{{\n")
    return out


def make_zoo(dest: str | Path, *, params: str | Path = ROOT / "params.yaml", long: bool = True) -> dict[str, Path]:
    """Write the zoo under ``dest``.

    :param dest: the folder (created).
    :param params: the params.yaml the variants start from.
    :param long: also write the 3-hour recording (sparse; skip it where sparse files are not supported).
    :return: case name -> file.
    """
    dest = Path(dest)
    return {**_audio(dest / "audio", long), **_parquet(dest / "parquet"), **_synths(dest / "synths"),
            **_onnx(dest / "onnx"), **_params(dest / "params", Path(params))}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("dest", type=Path)
    parser.add_argument("--params", type=Path, default=ROOT / "params.yaml")
    parser.add_argument("--no-long", action="store_true", help="leave out the 3-hour recording")
    args = parser.parse_args()
    for name, path in make_zoo(args.dest, params=args.params, long=not args.no_long).items():
        print(f"{name:28s} {path}")


if __name__ == "__main__":
    main()
