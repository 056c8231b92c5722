"""Env speed: naive prototype-style env vs our single env vs our batched env (same table, same run).

(a) naive: written the way the research prototype did it: pandas rows, the agent's features
    from a full-table argmin over the parameter columns each step, pandas normalisation;
(b) ours, single ``gymnasium.Env`` (shipped observation incl. neighbour distances, and with the
    prototype's observation only);
(c) ours, batched ``VecEnv`` with 64 envs.
Goals: (b) >= 50x (a); (c) >= 100,000 steps/s. Uses 00_synths/fm/lookup.parquet and
01_corpus/demo when present, else a synthetic 4-param table (10^4 rows) in a temp folder.

Run: ``.venv/bin/python benchmarks/env.py``
"""

from __future__ import annotations

import copy
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

from rlimpro.env import prepare
from rlimpro.env.synthetic import write_synthetic_project
from rlimpro.layout import Layout
from rlimpro.params import load_params

ROOT = Path(__file__).resolve().parents[1]


class NaiveEnv:
    """Prototype-style env: pandas everywhere, full-table argmin for the nearest point."""

    def __init__(self, table: pd.DataFrame, features: list[str], frames: pd.DataFrame, step: float, seed: int = 0):
        self.table, self.features, self.frames, self.step_size = table, features, frames, step
        self.param_cols = [c for c in table.columns if c[:1] == "p" and c[1:].isdigit()]
        self.mean = pd.concat([table[features], frames[features]]).mean()
        self.std = pd.concat([table[features], frames[features]]).std()
        self.rng = np.random.default_rng(seed)
        self.n = len(self.param_cols)

    def reset(self) -> np.ndarray:
        self.params = np.full(self.n, 0.5)
        self.pos = int(self.rng.integers(len(self.frames) - 1))
        return self._obs()

    def _agent(self) -> np.ndarray:
        grid = self.table[self.param_cols].values  # a pandas column selection every step
        idx = int(np.argmin(((grid - self.params) ** 2).sum(axis=1)))
        return ((self.table.iloc[idx][self.features] - self.mean) / self.std).values

    def _target(self) -> np.ndarray:
        return ((self.frames.iloc[self.pos][self.features] - self.mean) / self.std).values

    def _obs(self) -> np.ndarray:
        return np.concatenate([self._agent(), self._target(), self.params]).astype(np.float32)

    def step(self, action: int) -> tuple[np.ndarray, float, bool, bool, dict]:
        digits = [(action // 3 ** (self.n - 1 - i)) % 3 - 1 for i in range(self.n)]
        self.params = np.clip(self.params + np.array(digits) * self.step_size, 0.0, 1.0)
        d = float(np.sqrt(((self._agent() - self._target()) ** 2).mean()))
        reward = 8 * (0.5 - d) ** 3
        self.pos = (self.pos + 1) % len(self.frames)
        return self._obs(), reward, False, False, {}


def _rate(fn, n: int) -> float:
    start = time.perf_counter()
    fn(n)
    return n / (time.perf_counter() - start)


def main() -> None:
    params = load_params(ROOT)
    root, synth = ROOT, "fm"
    if not (ROOT / "00_synths/fm/lookup.parquet").is_file() or not any((ROOT / "01_corpus/demo/features").glob("*.parquet")):
        root = write_synthetic_project(tempfile.mkdtemp(), synth="fm", n_params=4, subdiv=10, frames=1000)
    setup = prepare(root, synth, params)
    table = pd.read_parquet(Layout(root).lookup(synth))
    frames = pd.concat([pd.read_parquet(p) for p in sorted((root / "01_corpus/demo/features").glob("*.parquet"))],
                       ignore_index=True)
    n_actions = 3**setup.cfg.n_params
    actions = np.random.default_rng(0).integers(n_actions, size=200_000)
    where = Layout(root).lookup(synth).relative_to(root)  # no machine path in the output
    where = f"{where}{'' if root == ROOT else ' of a synthetic project'}"
    print(f"table: {where} ({setup.table.n_rows} rows, N={setup.cfg.n_params}, {len(setup.cfg.features)} features)")

    naive = NaiveEnv(table, setup.cfg.features, frames, setup.cfg.step)
    naive.reset()
    rate_a = _rate(lambda n: [naive.step(int(a)) for a in actions[:n]], 1000)

    def single(s) -> float:
        env = s.env(seed=0)
        env.reset(seed=0)
        step = env.step
        return _rate(lambda n: [step(a) for a in actions[:n]], 20_000)

    rate_b = single(setup)
    bare = copy.deepcopy(params)
    bare["env"].update(neighbours="none", seek=False)
    rate_b0 = single(prepare(root, synth, bare))

    venv = setup.vec_env(64, seed=0)
    venv.reset()
    batch = actions[: 64 * 400].reshape(400, 64)
    rate_c = _rate(lambda n: [venv.step(a) for a in batch[: n // 64]], 64 * 400)

    print(f"(a) naive prototype-style env   {rate_a:>10,.0f} steps/s")
    print(f"(b) ours, single env            {rate_b:>10,.0f} steps/s  = {rate_b / rate_a:6.1f}x (a)  [obs incl. {setup.cfg.neighbours} neighbour distances]")
    print(f"    ours, single, prototype obs {rate_b0:>10,.0f} steps/s  = {rate_b0 / rate_a:6.1f}x (a)")
    print(f"(c) ours, batched 64 envs       {rate_c:>10,.0f} steps/s  = {rate_c / rate_a:6.1f}x (a)  (goal 100,000)")
    _report_runs()


def _report_runs() -> None:
    """Training wall time and held-out nRMSE of the DAG runs, when they exist."""
    import json

    for stats_file in sorted(ROOT.glob("00_synths/*/runs/main/train_stats.json")):
        synth = stats_file.parts[-4]
        stats = json.loads(stats_file.read_text())
        metrics_file = Layout(ROOT).eval(synth) / "metrics.json"
        curve = " ".join(f"{c['timesteps'] // 1000}k:{c['distance']:.3f}" for c in stats["curve"][4::5])
        line = f"{synth:<12} {stats['timesteps']:>8} steps in {stats['wall_time_s']:6.1f} s; train distance {curve}"
        if metrics_file.is_file():
            overall = json.loads(metrics_file.read_text())["overall"]
            line += f"; held-out nRMSE agent {overall['agent']['nrmse']:.3f} (greedy {overall['greedy']['nrmse']:.3f}, oracle {overall['oracle']['nrmse']:.3f})"
        print(line)


if __name__ == "__main__":
    main()
