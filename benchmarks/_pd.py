"""Shared set-up of the benchmarks that run the Pd externals (not a benchmark itself)."""

from __future__ import annotations

from pathlib import Path

from rlimpro.live.play import FEATURES_EXTERNAL, POLICY_EXTERNAL

ROOT = Path(__file__).resolve().parents[1]


def checked_policy(policy: Path) -> Path:
    """``policy`` resolved, after checking that it and both Pd externals exist (else exit with what to run)."""
    for external in (FEATURES_EXTERNAL, POLICY_EXTERNAL):
        if not external.is_file():
            raise SystemExit(f"{external.relative_to(ROOT)} is not built: run `make externals`")
    if not policy.is_file():
        raise SystemExit(f"{policy}: no policy; run `dvc repro` (or `make demo`) first, or pass --policy")
    return policy.resolve()
