"""``rlimpro kit --synth S -o DIR``: everything a performer's laptop needs to play synth S.

The kit folder holds:

- ``policy.onnx`` (the agent, self-contained: docs/protocol.md);
- ``synth/``: the synth's patch and the files beside it that it may use (never the lookup
  table, runs, evaluation or map: those are build products, not needed to play);
- ``pd/listen-receive.pd``: the receive-only Pd patch (vanilla Pd, no externals);
- ``max/rlimpro-live.maxpat`` and ``max/rlimpro-fm~.maxpat``: the Max patches;
- ``rlimpro-<version>-py3-none-any.whl``: the core package, built with ``python -m build
  --wheel`` from this checkout, carrying the C descriptor core (``_analyzer.so``) with Debian's
  kissfft library beside it (``$ORIGIN`` rpath set with patchelf; BSD-3 licence included), so
  the laptop needs no Debian package for it; and the server's C hot path when built;
- ``README.md`` with the commands that play.

A fresh venv with only that wheel runs ``rlimpro serve policy.onnx --listen-file take.wav``
(no torch, pandas or DVC); with ``[audio]`` it adds ``--listen``.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path

from rlimpro.errors import RlimproError
from rlimpro.layout import Layout

__all__ = ["KISSFFT", "build_kit", "build_wheel"]

PACKAGE = Path(__file__).resolve().parent
SOURCE = PACKAGE.parent
#: Debian's kissfft library the descriptor core links against (libkissfft-float131)
KISSFFT = "libkissfft-float.so.131"
_KISSFFT_COPYRIGHT = Path("/usr/share/doc/libkissfft-float131/copyright")
#: build products of a synth folder that a kit leaves out
_NOT_PLAYED = {"lookup.parquet", "runs", "eval", "map", ".lookup_chunks", "policy.onnx", "__pycache__"}


def _find_kissfft(analyzer: Path) -> Path | None:
    """The kissfft library the built analyzer resolves to (ldd), else the usual Debian path."""
    try:
        out = subprocess.run(["ldd", str(analyzer)], capture_output=True, text=True, timeout=30).stdout
    except (OSError, subprocess.SubprocessError):
        out = ""
    for line in out.splitlines():
        if KISSFFT in line and "=>" in line:
            path = Path(line.split("=>")[1].split("(")[0].strip())
            if path.is_file():
                return path.resolve()
    fallback = Path("/usr/lib/x86_64-linux-gnu") / KISSFFT
    return fallback.resolve() if fallback.exists() else None


def build_wheel(out: Path, write: Callable[[str], None] = print) -> tuple[Path, bool]:
    """Build the core wheel into ``out`` from a clean copy of this checkout.

    :return: (the wheel, whether kissfft is bundled beside the analyzer).
    :raises RlimproError: if this is not a source checkout or the build fails.
    """
    if not (SOURCE / "pyproject.toml").is_file():
        raise RlimproError("rlimpro kit builds the wheel from a source checkout (pyproject.toml beside rlimpro/); "
                           "run it in the project folder")
    try:
        import build  # noqa: F401
    except ImportError:
        raise RlimproError("rlimpro kit needs the `build` package: pip install 'rlimpro[dev]' (or pip install build)") from None
    analyzer = PACKAGE / "descriptors" / "_analyzer.so"
    if not analyzer.is_file():
        raise RlimproError("the C descriptor core is not built (rlimpro/descriptors/_analyzer.so): run `make native` "
                           "first; the kit's server listens with it")
    bundled = False
    with tempfile.TemporaryDirectory(prefix="rlimpro-wheel-") as tmp:
        src = Path(tmp) / "src"
        ignore = shutil.ignore_patterns("__pycache__", "*.pyc", "*.egg-info")
        src.mkdir()
        for name in ("pyproject.toml", "README.md", "LICENSE"):
            if (SOURCE / name).is_file():
                shutil.copy2(SOURCE / name, src / name)
        shutil.copytree(PACKAGE, src / "rlimpro", ignore=ignore)
        if (SOURCE / "pipelines").is_dir():
            shutil.copytree(SOURCE / "pipelines", src / "pipelines", ignore=ignore)
        copied = src / "rlimpro" / "descriptors" / "_analyzer.so"
        kissfft = _find_kissfft(analyzer)
        if kissfft is not None and shutil.which("patchelf"):
            shutil.copy2(kissfft, copied.parent / KISSFFT)
            subprocess.run(["patchelf", "--set-rpath", "$ORIGIN", str(copied)], check=True, timeout=60)
            if _KISSFFT_COPYRIGHT.is_file():
                shutil.copy2(_KISSFFT_COPYRIGHT, copied.parent / "LICENSE.kissfft")
            bundled = True
        else:
            write(f"note: {'patchelf is missing (apt-get install patchelf)' if kissfft else KISSFFT + ' not found'}: "
                  "the wheel needs Debian's libkissfft-float131 on the laptop")
        dist = Path(tmp) / "dist"
        # an isolated build fetches setuptools from PyPI; the one installed here does the same job offline
        isolation = ["--no-isolation"] if _has_setuptools() else []
        result = subprocess.run([sys.executable, "-m", "build", "--wheel", *isolation, "--outdir", str(dist), str(src)],
                                capture_output=True, text=True, timeout=900)
        wheels = sorted(dist.glob("rlimpro-*.whl"))
        if result.returncode != 0 or not wheels:
            last = (result.stderr or result.stdout).strip().splitlines()[-1:] or ["no output"]
            raise RlimproError(f"building the wheel failed ({last[0][:200]}); run `python -m build --wheel` to see why")
        out.mkdir(parents=True, exist_ok=True)
        for old in out.glob("rlimpro-*.whl"):
            old.unlink()
        wheel = out / wheels[0].name
        shutil.copy2(wheels[0], wheel)
    return wheel, bundled


def _has_setuptools() -> bool:
    try:
        import setuptools  # noqa: F401
    except ImportError:
        return False
    return True


_README = """# rlimpro kit: {synth}

Play the trained agent for the `{synth}` synth on this laptop. Everything is here:
`policy.onnx` (the agent), `synth/` (the Pd synth), `pd/listen-receive.pd` (Pd, no externals),
`max/` (Max patches), `{wheel}` (the Python package, core install).

## Install (once)

```bash
python3 -m venv venv
venv/bin/pip install './{wheel}[audio]'    # [audio] adds microphone input (sounddevice + PortAudio)
```

No torch, pandas or DVC. {kissfft}Linux also needs PortAudio for `--listen`
(Debian/Ubuntu: `sudo apt-get install libportaudio2`; macOS: `brew install portaudio`).

## Play

```bash
venv/bin/rlimpro serve policy.onnx --listen          # hears your default input, sends /rlimpro/params every hop
pd -path synth -open pd/listen-receive.pd           # Pd plays them on the synth (or open max/rlimpro-live.maxpat in Max)
```

`--list-devices` lists the inputs, `--device NAME|INDEX` and `--channel N` pick one, `--stats` prints
the work per hop, `--send-features` also sends what the server hears (`/rlimpro/features`).
Without a microphone, a recording plays the musician:

```bash
venv/bin/rlimpro serve policy.onnx --listen-file take.wav          # in real time (add --fast: as fast as possible)
```

OSC: params go to 127.0.0.1:6667, the server listens on 6666 for `/rlimpro/reset` and
`/rlimpro/ping` (and `/rlimpro/target` from hosts that analyse themselves). {max_note}{dial}
"""


def build_kit(synth: str, out: str | Path, *, root: str | Path = ".", wheel: bool = True,
              write: Callable[[str], None] = print) -> list[Path]:
    """Write the performer's kit for ``synth`` into ``out``.

    :param synth: the folder ``00_synths/<synth>/`` under ``root``, with its ``policy.onnx``.
    :param out: the kit folder (created; files of an earlier kit are replaced).
    :param wheel: also build the core wheel (slow-ish: a few seconds).
    :return: the files written.
    :raises RlimproError: if the synth or its policy is missing.
    """
    from rlimpro.live.policy import Policy

    layout = Layout(root)
    folder, policy_file = layout.synth(synth), layout.policy(synth)
    if not (folder / "synth.pd").is_file():
        raise RlimproError(f"{folder}: no synth.pd; pass --synth with a folder of 00_synths/")
    if not policy_file.is_file():
        raise RlimproError(f"{policy_file}: no policy yet; run `dvc repro export@{synth}` (or `make demo`)")
    info = Policy(policy_file).info  # refuses a broken file before anything is written
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    written = [out / "policy.onnx"]
    shutil.copy2(policy_file, written[0])
    synth_out = out / "synth"
    if synth_out.exists():
        shutil.rmtree(synth_out)
    shutil.copytree(folder, synth_out, ignore=lambda d, names: [n for n in names if n in _NOT_PLAYED or n.endswith(".parquet") or n.startswith(".")])
    written += sorted(p for p in synth_out.rglob("*") if p.is_file())
    (out / "pd").mkdir(exist_ok=True)
    shutil.copy2(PACKAGE / "pd" / "listen-receive.pd", out / "pd" / "listen-receive.pd")
    written.append(out / "pd" / "listen-receive.pd")
    max_dir = SOURCE / "max"
    if max_dir.is_dir():
        (out / "max").mkdir(exist_ok=True)
        for patch in sorted(max_dir.glob("*.maxpat")):
            shutil.copy2(patch, out / "max" / patch.name)
            written.append(out / "max" / patch.name)
    kissfft_note = ""
    wheel_name = "rlimpro-<version>-py3-none-any.whl"
    if wheel:
        built, bundled = build_wheel(out, write)
        written.append(built)
        wheel_name = built.name
        kissfft_note = ("The descriptor core and its FFT library (kissfft, BSD-3) are inside the wheel. " if bundled else
                        "The descriptor core needs kissfft: `sudo apt-get install libkissfft-float131`. ")
    max_note = ("The Max patches play the `fm` example synth (`max/rlimpro-fm~.maxpat`)."
                if synth == "fm" else
                f"The Max patches play the `fm` example synth; `{synth}` has {info.n_params} params "
                f"({', '.join(info.param_names)}): replace `rlimpro-fm~` with your own Max synth taking that list.")
    readme = out / "README.md"
    dial = ("\n\nThe dials:\n\n" + "\n".join(f"- `{line}`" for line in info.dial.splitlines())
            + "\n\ne.g. `oscsend localhost 6666 /rlimpro/intent f -1`." if info.dial else "")
    readme.write_text(_README.format(synth=synth, wheel=wheel_name, kissfft=kissfft_note, max_note=max_note, dial=dial))
    written.append(readme)
    return written
