"""The imitation environment as batched numpy arrays: B envs step together.

One implementation serves the single gymnasium env (B = 1), the SB3 ``VecEnv`` (B = n),
the evaluation's baselines and, by mirroring :meth:`Imitation.observe`, the ONNX export.

Observation (float32), in this order:

1. agent features ``[F]``: the lookup features at the current params, normalised;
2. target features ``[F]``: the current target, normalised;
3. current params ``[N]`` in [0, 1];
4. neighbour distances ``[K]``: weighted distance to the target of the features reached by
   each move (``neighbours: all`` -> the (2·reach+1)**N discrete moves in action order,
   ``axis`` -> stay, +p0, -p0, +p1, ...; ``none`` -> nothing);
5. with ``seek: true``, ``[N]`` offsets ``oracle_params - params`` in units of ``step``,
   clipped to ±obs_clip, where ``oracle_params`` is the grid point nearest to the target
   (weighted distance over the reward features; ties -> lowest row);
6. with a reversal cost, each parameter's last move sign ``[N]`` (-1, 0, +1;
   :func:`rlimpro.env.behaviour.last_moves`);
7. with target smoothing, the latest frame as heard before smoothing (``intent * frame``) ``[F]``,
   clipped: where the smoothed target is heading;
8. with ``intent: true``, the intent ``c`` ``[1]``.

The target the agent sees is the musician's normalised frame after the env's target
smoothing, times the intent (:mod:`rlimpro.env.behaviour`). A step's reward is the shaped
distance to that same target or, with ``env.reward_target: line``, to the intent times the
musician's centred line through the corpus track (:attr:`Imitation.line`), which the
observation never shows minus the move cost (:meth:`Imitation.move_penalty`: per parameter that
changed, or once per step that changed any, ``env.move_cost_per``; plus ``env.reversal_cost`` per
parameter that moved against its own last move), in units of :attr:`Imitation.move_unit`, what
one grid cell of one parameter typically changes the sound (so one setting means the same on a
coarse and on a fine grid).

Features and distances are clipped to ±``obs_clip``. Step convention: the reward of a step
compares the features at the NEW params with the line of the frame the agent saw; then the
target advances.
"""

from __future__ import annotations

import numpy as np

from rlimpro.descriptors.names import indices
from rlimpro.env.actions import decode, deltas, toward
from rlimpro.env.behaviour import charged, goal, last_moves, line, listen, shaped
from rlimpro.env.config import EnvConfig
from rlimpro.env.table import LookupTable
from rlimpro.env.targets import Normalisation

__all__ = ["Imitation", "gate", "neighbour_moves"]

_STATIC, _DYNAMIC, _CORPUS = 0, 1, 2
_MODES = {"static": _STATIC, "dynamic": _DYNAMIC, "corpus": _CORPUS}


def neighbour_moves(kind: str, n_params: int, reach: int = 1) -> np.ndarray:
    """Moves in steps ``float64 [K, N]`` whose resulting distances enter the observation."""
    if kind == "all":
        return deltas(n_params, reach).astype(np.float64)
    if kind == "axis":
        eye = np.eye(n_params)
        return np.concatenate([np.zeros((1, n_params)), np.stack([eye, -eye], axis=1).reshape(-1, n_params)])
    return np.zeros((0, n_params))


def draw_intents(rng: np.random.Generator, bounds: tuple[float, float], ends: float, m: int) -> np.ndarray:
    """``m`` training intents in ``bounds`` (float32): a share ``ends`` of them from the arcsine law,
    the projection of a uniform angle ``mid + half * sin(pi * (u - 0.5))``, denser towards the
    ends; the rest uniformly."""
    lo, hi = bounds
    u = rng.uniform(size=m)
    c = lo + (hi - lo) * u
    if ends:
        arcsine = (lo + hi) / 2 + (hi - lo) / 2 * np.sin(np.pi * (u - 0.5))
        c = arcsine if ends >= 1.0 else np.where(rng.uniform(size=m) < ends, arcsine, c)
    return c.astype(np.float32)


def gate(cfg: EnvConfig, norm: Normalisation) -> tuple[int, float] | None:
    """The silence gate as (column of loudness among the features, threshold in its z units), or None."""
    if cfg.silence_gate is None:
        return None
    k = list(cfg.features).index("loudness")
    return k, float((cfg.silence_gate - norm.mean[k]) / norm.std[k])


class Imitation:
    """Batched env state and maths.

    :param cfg: the environment config.
    :param table: the synth's lookup table.
    :param norm: feature normalisation (stored with the run).
    :param train_frames: raw ``[T, 56]`` frames of the training tracks (corpus targets).
    :param num_envs: B.
    :param seed: seed of the env's random generator.
    """

    def __init__(self, cfg: EnvConfig, table: LookupTable, norm: Normalisation,
                 train_frames: list[np.ndarray] | None = None, num_envs: int = 1, seed: int | None = None):
        self.cfg, self.table, self.norm, self.num_envs = cfg, table, norm, num_envs
        n, f = cfg.n_params, len(cfg.features)
        #: normalised selected features of every lookup point ``[rows, F]``
        self.points = np.ascontiguousarray(norm.apply(table.columns(cfg.features)))
        self.weights = np.asarray(cfg.reward_weights, np.float64)
        self.moves = neighbour_moves(cfg.neighbours, n, cfg.reach)
        self.lead = bool(cfg.target_smoothing)
        #: the observation carries each parameter's last move sign (there is a reversal cost)
        self.reverse = bool(cfg.reversal_cost)
        self.obs_dim = (2 * f + n + len(self.moves) + (n if cfg.seek else 0) + (n if self.reverse else 0)
                        + (f if self.lead else 0) + (1 if cfg.intent else 0))
        self.grid = table.grid_params(np.arange(table.n_rows))
        idx = indices(cfg.features)
        frames = [norm.apply(t[:, idx]) for t in (train_frames or []) if len(t)]
        self.frames = np.concatenate(frames) if frames else np.zeros((0, f))
        #: with ``reward_target: line``, the musician's line at every corpus frame ``[T, F]``
        self.lines = (np.concatenate([line(t, cfg.target_smoothing, gate(cfg, norm)) for t in frames] or [self.frames])
                      if cfg.reward_target == "line" else None)
        ends = np.cumsum([len(t) for t in frames], dtype=np.int64)
        self.frame_end = np.repeat(ends, [len(t) for t in frames]) if frames else np.zeros(0, np.int64)
        mix = np.array([cfg.mix.get(k, 0.0) for k in ("static", "dynamic", "corpus")], np.float64)
        if len(self.frames) == 0:
            mix[_CORPUS] = 0.0
        self.mix = mix / mix.sum() if mix.sum() > 0 else np.array([0.0, 1.0, 0.0])
        self.rng = np.random.default_rng(seed)
        cells, b = cfg.step * (table.subdiv - 1), 2 * cfg.reach + 1
        #: discrete moves of whole cells keep params on the grid: state = row, moves = a lookup
        self.on_grid = (cfg.action_space != "continuous" and not cfg.interpolate and abs(cells - round(cells)) < 1e-9
                        and table.n_rows * b**n <= 20_000_000)
        if self.on_grid:
            unit = deltas(n, cfg.reach).astype(np.float64)
            self.next_rows = np.stack([table.nearest_rows(self.grid + m * cfg.step) for m in unit], axis=1)
            self.move_idx = toward(self.moves, "discrete", cfg.reach)
        #: mean weighted distance (z) between grid points one cell of one parameter apart
        self.move_unit = self._move_unit()
        #: the reward's cost per parameter that changes in a step (z units of distance)
        self.move_cost = float(cfg.move_cost) * self.move_unit
        #: the reward's cost per parameter that reverses (z units of distance)
        self.reversal_cost = float(cfg.reversal_cost) * self.move_unit
        self.rows = np.zeros(num_envs, np.int64)
        self._params = np.zeros((num_envs, n))
        self._corpus = self._dynamic = np.zeros(0, np.int64)
        c = cfg.obs_clip
        self._clipped_points = np.clip(self.points, -c, c)
        #: the musician's latest normalised frame ``[B, F]``, its smoothed state, the intent ``[B, 1]``
        self.frame = np.zeros((num_envs, f))
        self.state = np.zeros((num_envs, f))
        self.intent = np.ones((num_envs, 1))
        #: each parameter's last move sign ``[B, N]``
        self.last = np.zeros((num_envs, n))
        #: what the agent aims at: ``intent * smoothed frame`` ``[B, F]``; and ``intent * frame``
        self.target = np.zeros((num_envs, f))
        self.heard = np.zeros((num_envs, f))
        #: with ``reward_target: line``, the intent times the musician's line ``[B, F]``; and what the
        #: last step's reward measured closeness to (this line or ``target``: the transition's, for training)
        self.line = np.zeros((num_envs, f))
        self.scored = np.zeros((num_envs, f))
        self.mode = np.zeros(num_envs, np.int64)
        self.pos = np.zeros(num_envs, np.int64)
        self.t = np.zeros(num_envs, np.int64)
        self.initial = np.asarray(cfg.initial_params, np.float64)
        #: with a silence gate: the column of loudness and the gate in z units of it
        self.gate = gate(cfg, norm)

    def _move_unit(self) -> float:
        """Mean distance between the features of grid points one cell of one parameter apart."""
        rows, total, count = np.arange(self.table.n_rows), 0.0, 0
        for axis in np.eye(self.cfg.n_params):
            nxt = self.table.nearest_rows(np.clip(self.grid + axis / (self.table.subdiv - 1), 0.0, 1.0))
            moved = nxt != rows
            total += float(self.distance(self.points[rows[moved]], self.points[nxt[moved]]).sum())
            count += int(moved.sum())
        return total / max(count, 1)

    # -- pure maths ---------------------------------------------------------------------------
    def features(self, params: np.ndarray) -> np.ndarray:
        """Normalised agent features ``[B, F]`` at ``params [B, N]`` (nearest or multilinear)."""
        if self.cfg.interpolate:
            return self.table.interpolate(self.points, params)
        return self.points[self.table.nearest_rows(params)]

    def distance(self, agent: np.ndarray, target: np.ndarray) -> np.ndarray:
        """Weighted RMS distance over the reward features, ``[...]``, in normalised units."""
        return np.sqrt(((agent - target) ** 2) @ self.weights)

    def reward(self, d: np.ndarray) -> np.ndarray:
        """Shaped reward of distances ``d``; largest when ``d == 0``."""
        return shaped(d, self.cfg.reward, self.cfg.bonus, self.cfg.bonus_threshold)

    def move_penalty(self, before: np.ndarray, after: np.ndarray, last: np.ndarray | None = None) -> np.ndarray:
        """The reward's move cost ``[B]`` of going from params ``before`` to ``after`` ``[B, N]``,
        with the reversal cost where each parameter's ``last`` move sign ``[B, N]`` is given."""
        step = after - before
        changed = np.abs(step) > 1e-12
        cost = self.move_cost * charged(changed.sum(axis=1), self.cfg.move_cost_per)
        if last is not None and self.reversal_cost:
            cost = cost + self.reversal_cost * (changed & (step * last < 0)).sum(axis=1)
        return cost

    def candidates(self, params: np.ndarray, target: np.ndarray, moves: np.ndarray) -> np.ndarray:
        """Distances ``[B, K]`` to ``target`` after each unit move in ``moves [K, N]``."""
        b, k = params.shape[0], len(moves)
        nxt = np.clip(params[:, None, :] + moves[None] * self.cfg.step, 0.0, 1.0)
        feats = self.features(nxt.reshape(b * k, -1)).reshape(b, k, -1)
        return self.distance(feats, target[:, None, :])

    def nearest_point(self, target: np.ndarray) -> np.ndarray:
        """Row ``[B]`` of the lookup point nearest to each normalised target ``[B, F]`` (the oracle)."""
        d2 = (self.points**2) @ self.weights - 2.0 * (target * self.weights) @ self.points.T
        return np.argmin(d2, axis=1)

    def observe(self, params: np.ndarray, target: np.ndarray, intent: np.ndarray | float = 1.0,
                lead: np.ndarray | None = None, last: np.ndarray | None = None) -> np.ndarray:
        """Observations ``float32 [B, obs_dim]`` for params ``[B, N]``, normalised (smoothed,
        intent-scaled) targets ``[B, F]``, the intent ``[B, 1]``, the unsmoothed frame times the
        intent ``lead`` ``[B, F]`` and each parameter's last move sign ``last`` ``[B, N]`` (the last
        three where the env has them; ``lead`` None = ``target``, ``last`` None = no move yet)."""
        c = self.cfg.obs_clip
        parts = [np.clip(self.features(params), -c, c), np.clip(target, -c, c), params]
        if len(self.moves):
            parts.append(np.minimum(self.candidates(params, target, self.moves), c))
        if self.cfg.seek:
            parts.append(np.clip((self.grid[self.nearest_point(target)] - params) / self.cfg.step, -c, c))
        if self.reverse:
            parts.append(np.zeros_like(params) if last is None else np.asarray(last, np.float64))
        if self.lead:
            parts.append(np.clip(target if lead is None else lead, -c, c))
        if self.cfg.intent:
            parts.append(np.broadcast_to(np.asarray(intent, np.float32), (len(params), 1)))
        return np.concatenate(parts, axis=1).astype(np.float32)

    def act(self, actions: np.ndarray, params: np.ndarray) -> np.ndarray:
        """New params ``[B, N]`` after ``actions`` (see :func:`rlimpro.env.actions.decode`)."""
        return decode(actions, params, space=self.cfg.action_space, step=self.cfg.step, reach=self.cfg.reach)

    # -- stateful env -------------------------------------------------------------------------
    @property
    def params(self) -> np.ndarray:
        """Current params ``[B, N]`` of every env."""
        return self.grid[self.rows] if self.on_grid else self._params

    @params.setter
    def params(self, value: np.ndarray) -> None:
        if self.on_grid:
            self.rows = self.table.nearest_rows(value)
        else:
            self._params = np.asarray(value, np.float64)

    def seed(self, seed: int | None) -> None:
        """Re-seed the random generator."""
        self.rng = np.random.default_rng(seed)

    def reset(self, mask: np.ndarray | None = None) -> None:
        """Start new episodes for the envs where ``mask`` is true (all when None)."""
        idx = np.arange(self.num_envs) if mask is None else np.flatnonzero(mask)
        m = len(idx)
        if m == 0:
            return
        if self.cfg.target_mode == "mixed":
            self.mode[idx] = self.rng.choice(3, size=m, p=self.mix)
        else:
            self.mode[idx] = _MODES[self.cfg.target_mode]
        start = self.rng.integers(self.table.n_rows, size=m) if self.cfg.random_start else None
        if self.on_grid:
            self.rows[idx] = self.table.nearest_rows(self.initial) if start is None else start
        else:
            self._params[idx] = self.initial if start is None else self.grid[start]
        self.t[idx] = 0
        self.state[idx] = 0.0
        self.last[idx] = 0.0
        if self.cfg.intent:
            self.intent[idx, 0] = draw_intents(self.rng, self.cfg.intent_range, self.cfg.intent_ends, m)
        self._new_targets(idx)

    def _new_targets(self, idx: np.ndarray) -> None:
        corpus = idx[self.mode[idx] == _CORPUS]
        points = idx[self.mode[idx] != _CORPUS]
        if len(points):
            self.frame[points] = self.points[self.rng.integers(self.table.n_rows, size=len(points))]
        if len(corpus):
            self.pos[corpus] = self.rng.integers(len(self.frames), size=len(corpus))
            self.frame[corpus] = self.frames[self.pos[corpus]]
        self._corpus = np.flatnonzero(self.mode == _CORPUS)
        self._dynamic = np.flatnonzero(self.mode == _DYNAMIC)
        self._hear(idx)

    def _hear(self, idx: np.ndarray | slice) -> None:
        """Smooth the new frames of envs ``idx`` into their state and set their targets."""
        frame = self.frame[idx]
        self.state[idx], lead = listen(self.state[idx], frame, self.cfg.target_smoothing, self.gate)
        self.target[idx] = goal(self.state[idx], self.intent[idx])
        self.heard[idx] = goal(lead, self.intent[idx])
        if self.lines is not None:  # every env's: the corpus envs' line, the others' frame itself (a point, or a jump)
            musician = self.frame.copy()
            musician[self._corpus] = self.lines[self.pos[self._corpus]]
            self.line = goal(musician, self.intent)

    def step(self, actions: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """Advance every env one step (no auto-reset).

        :return: ``(observations, rewards, truncated, distances)``; distances are those the
            rewards were computed from.
        """
        before = self.params
        if self.on_grid:
            a = actions if self.cfg.action_space == "discrete" else toward(np.asarray(actions) - self.cfg.reach,
                                                                           "discrete", self.cfg.reach)
            self.rows = self.next_rows[self.rows, np.asarray(a).reshape(-1)]
            agent = self.points[self.rows]
        else:
            self._params = self.act(actions, self._params)
            agent = self.features(self._params)
        self.scored = (self.target if self.lines is None else self.line).copy()
        d = self.distance(agent, self.scored)
        reward = self.reward(d)
        after = self.params
        if self.move_cost or self.reversal_cost:
            reward = reward - self.move_penalty(before, after, self.last)
        if self.reverse:
            self.last = last_moves(self.last, before, after)
        self.t += 1
        self._advance_targets()
        return self.observation(), reward, self.t >= self.cfg.episode_steps, d

    def _advance_targets(self) -> None:
        corpus, dynamic = self._corpus, self._dynamic
        if len(corpus):
            pos = self.pos[corpus] + 1
            ended = pos >= self.frame_end[pos - 1]
            if ended.any():
                pos[ended] = self.rng.integers(len(self.frames), size=int(ended.sum()))
            self.pos[corpus] = pos
            self.frame[corpus] = self.frames[pos]
        if len(dynamic):
            jump = dynamic[self.rng.random(len(dynamic)) < self.cfg.dynamic_p]
            if len(jump):
                self.frame[jump] = self.points[self.rng.integers(self.table.n_rows, size=len(jump))]
        self._hear(slice(None))

    def observation(self) -> np.ndarray:
        """Current observations of all envs (same values as :meth:`observe` of the state)."""
        if not self.on_grid:
            return self.observe(self._params, self.target, self.intent, self.heard, self.last)
        c, rows, target = self.cfg.obs_clip, self.rows, self.target
        params = self.grid[rows]
        parts = [self._clipped_points[rows], np.minimum(np.maximum(target, -c), c), params]
        if len(self.moves):
            near = self.points[self.next_rows[rows][:, self.move_idx]]
            parts.append(np.minimum(self.distance(near, target[:, None, :]), c))
        if self.cfg.seek:
            parts.append(np.clip((self.grid[self.nearest_point(target)] - params) / self.cfg.step, -c, c))
        if self.reverse:
            parts.append(self.last)
        if self.lead:
            parts.append(np.minimum(np.maximum(self.heard, -c), c))
        if self.cfg.intent:
            parts.append(self.intent)
        return np.concatenate(parts, axis=1).astype(np.float32)
