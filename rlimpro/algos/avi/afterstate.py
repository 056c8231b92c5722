"""Afterstate value iteration (``algo: avi``): SB3's DQN with a grid-aware Q-network.

The agent's own moves are deterministic and known (the lookup grid), only the musician's
next frame is uncertain. So the Q-value of a discrete move splits into the reward it earns
now, read off the observation's neighbour distances, and the value of the grid point it
lands on (the *afterstate*) given the current target frame::

    Q(s, a) = reward(d_a) - cost(a) + gamma * W(y)[row(params + a)]

``cost(a)`` is ``move_cost`` times how often move ``a`` is charged (the parameters it changes,
or once if any) plus ``reversal_cost`` times the parameters it turns back against their own
last move, which the observation carries (:mod:`rlimpro.env.behaviour`). ``W`` is
an MLP of the target features ``y`` (and, where the env has them, of the unsmoothed frame, which
tells where a smoothed target is heading, and of the intent ``c``) with one output per lookup
row; a move reads
the last layer's weights of its row only (a Gather), so a decision costs one small MLP plus
(2·reach+1)**N dot products, however large the grid.

Training keeps DQN's data collection, replay buffer, target network, checkpoints and
logging, and replaces its one-action TD update with a backup over the grid: for sampled
consecutive target frames ``(y, y')`` from the replay buffer and ``backup_rows`` random
rows ``q``::

    W(y)[q] <- max_a reward(d(row(q + a), y')) - move_cost * moved(q, a) + gamma * W_target(y')[row(q + a)]

Every sample thus teaches every sampled grid point, wherever the agent happened to be.

Where the reward follows the musician's line rather than the heard target
(``env.reward_target: line``), the decision still reads the reward off the observation, against
what the agent hears (``y``), and ``W`` also learns the difference: the backup adds
``(reward(d(q, line)) - reward(d(q, y))) / gamma`` for the transition's line, which the replay
buffer keeps (:class:`LineReplayBuffer`). So ``W`` learns where the line usually is, given what
was heard, and the exported graph is the same as for ``heard``.

The afterstate is the grid point alone: ``W`` does not know the direction the agent arrived from,
so the backup leaves out the reversal cost, and a decision weighs it for the move it makes
now only (with ``gamma`` = 0.5 the value looks about two frames ahead anyway).
Untrained (``gamma`` = 0 or ``W`` = 0), the agent plays like the ``greedy`` baseline.
"""

from __future__ import annotations

from typing import Any, NamedTuple

import numpy as np
import torch as th
from stable_baselines3 import DQN
from stable_baselines3.common.buffers import ReplayBuffer
from stable_baselines3.common.torch_layers import create_mlp
from stable_baselines3.common.type_aliases import ReplayBufferSamples, Schedule
from stable_baselines3.common.utils import LinearSchedule
from stable_baselines3.dqn.policies import DQNPolicy, QNetwork
from torch.nn import functional
from torch.nn.functional import embedding

from rlimpro.env.actions import deltas
from rlimpro.env.behaviour import shaped

__all__ = ["AfterstateDQN", "AfterstateHead", "AfterstatePolicy", "AfterstateQNetwork", "LineReplayBuffer",
           "LineSamples", "grid_spec"]


def grid_spec(core: Any, gamma: float) -> dict[str, Any]:
    """The network's constants from a run's :class:`~rlimpro.env.core.Imitation` (stored with the model).

    :param core: the env core (``neighbours: all``, discrete moves of whole grid cells).
    :param gamma: the discount.
    """
    cfg, table = core.cfg, core.table
    f, n = len(cfg.features), cfg.n_params
    return {"n_features": f, "n_params": n, "subdiv": int(table.subdiv), "rows": int(table.n_rows),
            "step_cells": int(round(cfg.step * (table.subdiv - 1))), "distances": 2 * f + n,
            "gamma": float(gamma), "reward": cfg.reward, "bonus": float(cfg.bonus),
            "bonus_threshold": float(cfg.bonus_threshold), "obs_clip": float(cfg.obs_clip),
            "move_cost": float(core.move_cost), "intent": bool(cfg.intent), "lead": bool(core.lead),
            **({"reversal_cost": float(core.reversal_cost)} if core.reverse else {}),
            **({"reach": cfg.reach} if cfg.reach > 1 else {}),
            **({"cost_per_move": True} if cfg.move_cost_per == "move" else {})}


class AfterstateQNetwork(QNetwork):
    """Q-values as above; ``grid`` as made by :func:`grid_spec`.

    The normalised lookup features and reward weights needed by the backup are buffers,
    filled by :meth:`attach` (saved with the model).
    """

    def __init__(self, *args: Any, grid: dict[str, Any], **kwargs: Any):
        super().__init__(*args, **kwargs)
        g = self.grid = {"move_cost": 0.0, "intent": False, "lead": False, "reach": 1, "cost_per_move": False,
                         "reversal_cost": 0.0, **grid}  # keys models may lack
        inputs = g["n_features"] * (2 if g["lead"] else 1) + (1 if g["intent"] else 0)
        self.q_net = th.nn.Sequential(*create_mlp(inputs, g["rows"], self.net_arch, self.activation_fn))
        n = g["n_params"]
        self.register_buffer("moves", th.as_tensor(deltas(n, g["reach"]) * g["step_cells"], dtype=th.float32))
        self.register_buffer("radix", th.as_tensor(g["subdiv"] ** np.arange(n - 1, -1, -1), dtype=th.float32))
        self.register_buffer("points", th.zeros(g["rows"], g["n_features"]))
        self.register_buffer("weights", th.zeros(g["n_features"]))

    def attach(self, points: np.ndarray, weights: np.ndarray) -> None:
        """Store the normalised lookup features ``[rows, F]`` and reward weights ``[F]``."""
        self.points.copy_(th.as_tensor(points, dtype=th.float32))
        self.weights.copy_(th.as_tensor(weights, dtype=th.float32))

    def reward(self, d: th.Tensor) -> th.Tensor:
        """The env's shaped reward of distances ``d`` (see :meth:`rlimpro.env.core.Imitation.reward`)."""
        g = self.grid
        return shaped(d, g["reward"], g["bonus"], g["bonus_threshold"])

    def paid(self, points: th.Tensor, targets: th.Tensor) -> th.Tensor:
        """The reward ``[B, P]`` at lookup points ``points`` ``[P, F]`` for targets ``[B, F]``: of
        their weighted distance, clipped to ``obs_clip`` like the observation's distances."""
        d = ((points.unsqueeze(0) - targets.unsqueeze(1)) ** 2 @ self.weights).sqrt()
        return self.reward(th.clamp(d, max=self.grid["obs_clip"]))

    def next_rows(self, cells: th.Tensor) -> th.Tensor:
        """Rows ``[B, K]`` reached by every move from grid cells ``[B, N]``."""
        top = self.grid["subdiv"] - 1
        return (th.clamp(cells.unsqueeze(1) + self.moves, 0, top) * self.radix).sum(-1).long()

    def moved(self, high: th.Tensor, low: th.Tensor) -> th.Tensor:
        """How often each move ``[B, K]`` (float) is charged the move cost from where each parameter
        stands: ``high`` / ``low`` ``[B, N]`` (bool) are true where it can still go up / down
        (:func:`rlimpro.env.behaviour.charged` of the changed parameters)."""
        up, down = self.moves > 0, self.moves < 0
        moved = ((up & high.unsqueeze(1)) | (down & low.unsqueeze(1))).sum(-1).to(th.float32)
        return th.clamp(moved, max=1.0) if self.grid["cost_per_move"] else moved

    def reversed(self, high: th.Tensor, low: th.Tensor, last: th.Tensor) -> th.Tensor:
        """How many parameters each move ``[B, K]`` (float) turns back against their ``last`` move
        sign ``[B, N]`` (:func:`rlimpro.env.behaviour.reversed_params`); ``high`` / ``low`` as :meth:`moved`."""
        up = (self.moves > 0) & (high & (last < 0)).unsqueeze(1)
        down = (self.moves < 0) & (low & (last > 0)).unsqueeze(1)
        return (up | down).sum(-1).to(th.float32)

    def cost(self, params: th.Tensor, last: th.Tensor | None) -> th.Tensor:
        """The move cost ``[B, K]`` of each move from ``params`` ``[B, N]``, with the reversal cost
        where the observation carries the ``last`` move signs."""
        g = self.grid
        high, low = params < 1.0, params > 0.0
        cost = g["move_cost"] * self.moved(high, low)
        if last is not None:
            cost = cost + g["reversal_cost"] * self.reversed(high, low, last)
        return cost

    def net_input(self, obs: th.Tensor) -> th.Tensor:
        """What ``W`` reads from observations ``[B, D]``: the target ``[B, F]``, then the
        unsmoothed frame ``[B, F]`` and the intent ``[B, 1]`` where the env observes them."""
        g = self.grid
        f, i = g["n_features"], 1 if g["intent"] else 0
        parts = [obs[:, f:2 * f]]
        if g["lead"]:
            parts.append(obs[:, obs.shape[1] - f - i:obs.shape[1] - i])
        if i:
            parts.append(obs[:, -1:])
        return th.cat(parts, dim=1) if len(parts) > 1 else parts[0]

    def values(self, y: th.Tensor, rows: th.Tensor) -> th.Tensor:
        """``W(y)[rows]``: afterstate values ``[B, K]`` of rows ``[B, K]`` (or ``[K]``) for inputs ``[B, F(+1)]``
        (see :meth:`net_input`).

        For ``[B, K]`` rows (acting, and the exported policy) the last layer's rows are taken
        with ``embedding`` and the bias added before the squeeze: the same numbers as indexing,
        in fewer ONNX nodes (one Gather each, where indexing exports Unsqueeze + GatherND).
        """
        hidden, last = self.q_net[:-1](y), self.q_net[-1]
        if rows.dim() == 1:
            return hidden @ last.weight[rows].T + last.bias[rows]
        picked = embedding(rows, last.weight) @ hidden.unsqueeze(-1) + embedding(rows, last.bias.unsqueeze(-1))
        return picked.squeeze(-1)

    def q_values(self, x: th.Tensor, d: th.Tensor, rows: th.Tensor, cost: th.Tensor) -> th.Tensor:
        """Q ``[B, K]`` = reward(d) - cost + gamma * ``W(x)[rows]`` from the
        observation's parts: ``W``'s input ``x`` (:meth:`net_input`), the distances ``d`` after
        each move, the ``rows`` they land on and what each move costs (:meth:`cost`).

        A linear reward without bonus is one subtraction (``v - d`` is ``-d + v`` bit for bit):
        every node counts in the exported policy's live decision.
        """
        g = self.grid
        v = g["gamma"] * self.values(x, rows)
        if g["move_cost"] or g["reversal_cost"]:
            v = v - cost
        return v - d if g["reward"] == "linear" and not g["bonus"] else self.reward(d) + v

    def forward(self, obs: th.Tensor, cost_scale: float = 1.0) -> th.Tensor:
        """Q ``[B, K]`` of observations ``[B, D]``; ``cost_scale`` multiplies the costs the decision
        weighs (an exported policy's ``calm`` knob: ``1 + calm / 2``)."""
        g = self.grid
        f, n, start = g["n_features"], g["n_params"], g["distances"]
        d = obs[:, start:start + self.moves.shape[0]]
        params = obs[:, 2 * f:2 * f + n]
        cells = th.round(params * (g["subdiv"] - 1))
        x = self.net_input(obs)
        last = None
        if g["reversal_cost"]:  # the observation's last move signs: just before the lead and the intent
            end = obs.shape[1] - (f if g["lead"] else 0) - (1 if g["intent"] else 0)
            last = obs[:, end - n:end]
        return self.q_values(x, d, self.next_rows(cells), cost_scale * self.cost(params, last))

    def backup_loss(self, obs: th.Tensor, next_obs: th.Tensor, target: AfterstateQNetwork, n_rows: int,
                    lines: th.Tensor | None = None) -> th.Tensor:
        """Squared error of ``W(y)`` against the grid backup from ``y'`` on ``n_rows`` random rows;
        with the ``lines`` ``[B, F]`` the rewards of the transitions followed, plus the reward's
        difference between the line and ``y`` (see the module's docstring)."""
        g = self.grid
        f, n = g["n_features"], g["n_params"]
        y, y_next = obs[:, f:2 * f], next_obs[:, f:2 * f]
        x, x_next = self.net_input(obs), self.net_input(next_obs)
        rows = th.randint(g["rows"], (n_rows,), device=obs.device)
        with th.no_grad():
            landing = self.paid(self.points, y_next) + g["gamma"] * target.values(
                x_next, th.arange(g["rows"], device=obs.device))
            cells = (rows.unsqueeze(1) // self.radix.long()) % g["subdiv"]
            backup = landing[:, self.next_rows(cells.float())]  # [B, rows, K]
            if g["move_cost"]:
                backup = backup - g["move_cost"] * self.moved(cells < g["subdiv"] - 1, cells > 0)
            goal = backup.amax(-1)
            if lines is not None:
                points, clip = self.points[rows], g["obs_clip"]
                gain = self.paid(points, th.clamp(lines, -clip, clip)) - self.paid(points, y)
                goal = goal + gain / g["gamma"]
        return functional.mse_loss(self.values(x, rows), goal)

    def _get_constructor_parameters(self) -> dict[str, Any]:
        return {**super()._get_constructor_parameters(), "grid": self.grid}


class LineSamples(NamedTuple):
    """SB3's :class:`ReplayBufferSamples` and the lines ``[B, F]`` their rewards followed."""

    samples: ReplayBufferSamples
    lines: th.Tensor


class LineReplayBuffer(ReplayBuffer):
    """SB3's replay buffer that also keeps, per transition, the line its reward followed (the
    env's ``info["line"]``): what the backup needs when the reward does not follow the heard
    target (``env.reward_target: line``).

    :param n_features: F, the width of a line.
    """

    def __init__(self, *args: Any, n_features: int, **kwargs: Any):
        super().__init__(*args, **kwargs)
        self.lines = np.zeros((self.buffer_size, self.n_envs, n_features), np.float32)

    def add(self, obs: np.ndarray, next_obs: np.ndarray, action: np.ndarray, reward: np.ndarray, done: np.ndarray,
            infos: list[dict[str, Any]]) -> None:
        self.lines[self.pos] = np.array([info["line"] for info in infos])
        super().add(obs, next_obs, action, reward, done, infos)

    def _get_samples(self, batch_inds: np.ndarray, env: Any = None) -> LineSamples:  # type: ignore[override]
        """SB3's samples and their lines: SB3 draws the envs' indices from numpy's global
        generator, so they are drawn again from the same state (and the state left as SB3 left it)."""
        before = np.random.get_state()
        samples = super()._get_samples(batch_inds, env)
        after = np.random.get_state()
        np.random.set_state(before)
        env_indices = np.random.randint(0, high=self.n_envs, size=(len(batch_inds),))
        np.random.set_state(after)
        return LineSamples(samples, self.to_torch(self.lines[batch_inds, env_indices]))


class AfterstateHead(th.nn.Module):
    """:meth:`AfterstateQNetwork.q_values` ``(x, d, rows, cost) -> Q [B, K]`` as a module: what
    export puts in ``policy.onnx``. It is the Q-network's forward minus the observation slicing
    and the grid arithmetic, as the graph already has the normalised target, the neighbour
    distances and the rows the moves land on (it needs them for the distances)."""

    def __init__(self, q_net: AfterstateQNetwork) -> None:
        super().__init__()
        self.q_net = q_net

    def forward(self, x: th.Tensor, d: th.Tensor, rows: th.Tensor, cost: th.Tensor) -> th.Tensor:
        return self.q_net.q_values(x, d, rows, cost)


class AfterstatePolicy(DQNPolicy):
    """:class:`DQNPolicy` building :class:`AfterstateQNetwork` s (pass ``grid`` in ``policy_kwargs``)."""

    def __init__(self, *args: Any, grid: dict[str, Any], **kwargs: Any):
        self.grid = dict(grid)
        super().__init__(*args, **kwargs)

    def make_q_net(self) -> AfterstateQNetwork:
        net_args = self._update_features_extractor(self.net_args, features_extractor=None)
        return AfterstateQNetwork(**net_args, grid=self.grid).to(self.device)

    def _get_constructor_parameters(self) -> dict[str, Any]:
        return {**super()._get_constructor_parameters(), "grid": self.grid}


class AfterstateDQN(DQN):
    """DQN with :class:`AfterstatePolicy` and the grid backup in place of the one-action TD update.

    :param backup_rows: grid rows backed up per sampled frame pair and gradient step.
    :param learning_rate: the first step size; a number falls linearly to 0 over the run, so
        that the last updates average out the noise of the sampled frames.
    """

    policy_aliases = {"AfterstatePolicy": AfterstatePolicy}

    def __init__(self, *args: Any, backup_rows: int = 512, learning_rate: float | Schedule = 1e-3, **kwargs: Any):
        self.backup_rows = int(backup_rows)
        if isinstance(learning_rate, (int, float)):
            learning_rate = LinearSchedule(float(learning_rate), 0.0, 1.0)
        super().__init__(*args, learning_rate=learning_rate, **kwargs)

    def attach(self, points: np.ndarray, weights: np.ndarray) -> None:
        """Give both Q-networks the lookup features and reward weights (see :meth:`AfterstateQNetwork.attach`)."""
        for net in (self.q_net, self.q_net_target):
            net.attach(points, weights)

    def train(self, gradient_steps: int, batch_size: int = 100) -> None:
        self.policy.set_training_mode(True)
        self._update_learning_rate(self.policy.optimizer)
        losses = []
        for _ in range(gradient_steps):
            data, lines = self.replay_buffer.sample(batch_size, env=self._vec_normalize_env), None
            if isinstance(data, LineSamples):
                data, lines = data
            loss = self.q_net.backup_loss(data.observations, data.next_observations, self.q_net_target,
                                          min(self.backup_rows, self.q_net.grid["rows"]), lines)
            losses.append(loss.item())
            self.policy.optimizer.zero_grad()
            loss.backward()
            th.nn.utils.clip_grad_norm_(self.policy.parameters(), self.max_grad_norm)
            self.policy.optimizer.step()
        self._n_updates += gradient_steps
        self.logger.record("train/n_updates", self._n_updates, exclude="tensorboard")
        self.logger.record("train/loss", np.mean(losses))
