"""A read-only or full output folder: one clear line, a non-zero exit, earlier artifacts intact.

Both need a mount (a tmpfs: remounted read-only, or a few kilobytes small); where the container
refuses ``mount`` the tests skip and say why.
"""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.faults.faults import RLIMPRO, leftovers, run_ok, snapshot
from tests.fuzz import tally

pytestmark = pytest.mark.slow


def _mount(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(["mount", *args], capture_output=True, text=True, timeout=30)


@pytest.fixture
def features_mount(project: Path) -> Iterator[Path]:
    """The demo corpus's features folder as a tmpfs mount point, analysed once (the earlier artifacts)."""
    folder = project / "01_corpus" / "demo" / "features"
    folder.mkdir(parents=True)
    mounted = _mount("-t", "tmpfs", "-o", "size=16m", "tmpfs", str(folder))
    if mounted.returncode != 0:
        pytest.skip(f"the container refuses a tmpfs mount ({mounted.stderr.strip() or mounted.returncode}): "
                    "no read-only or full folder to test with")
    try:
        run_ok(["analyze-corpus", "--corpus", "demo"], project)
        audio = project / "01_corpus" / "demo" / "audio"
        shutil.copy(audio / "flute.ogg", audio / "flute_again.ogg")  # new work for the next run
        yield folder
    finally:
        subprocess.run(["umount", str(folder)], capture_output=True, timeout=30)


def _refused(project: Path, says: str) -> None:
    before = snapshot(project / "01_corpus")
    run = subprocess.run([RLIMPRO, "analyze-corpus", "--corpus", "demo"], cwd=project, capture_output=True, text=True,
                         timeout=300)
    said = (run.stdout + run.stderr).strip()
    assert run.returncode == 1 and "Traceback" not in said and len(said.splitlines()) <= 3, said
    assert "features" in said and says in said, said
    assert snapshot(project / "01_corpus") == before  # earlier features and summary.json untouched
    assert leftovers(project) == []
    tally.add("faults injected")


def test_read_only_output_folder(project: Path, features_mount: Path) -> None:
    remounted = _mount("-o", "remount,ro", str(features_mount))
    if remounted.returncode != 0:
        pytest.skip(f"cannot remount the tmpfs read-only ({remounted.stderr.strip()})")
    _refused(project, "Read-only file system")


def test_full_output_folder(project: Path, features_mount: Path) -> None:
    filler = features_mount / "filler.bin"
    with open(filler, "wb") as out:  # fill the 16 MB mount to its last few kilobytes
        try:
            while True:
                out.write(b"\0" * 65536)
                out.flush()
        except OSError:
            pass
    before_unlink = filler.stat().st_size
    with open(filler, "r+b") as out:
        out.truncate(before_unlink - 8192)  # room for a probe, not for a track's features
    run = subprocess.run([RLIMPRO, "analyze-corpus", "--corpus", "demo"], cwd=project, capture_output=True, text=True,
                         timeout=300)
    said = (run.stdout + run.stderr).strip()
    filler.unlink()
    assert run.returncode == 1 and "Traceback" not in said, said
    assert "No space left on device" in said and "flute_again" in said, said
    assert sorted(p.name for p in features_mount.iterdir()) == sorted(
        f"{p.stem}.parquet" for p in (project / "01_corpus" / "demo" / "audio").glob("*.ogg") if p.stem != "flute_again")
    assert leftovers(project) == []
    tally.add("faults injected")
