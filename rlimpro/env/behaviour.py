"""How the agent hears its target and what a move costs: the formulas every part shares.

- **Target smoothing** (``env.target_smoothing`` = ``a`` in [0, 1)): a one-pole low-pass of
  the normalised target, ``s_t = float32(a * s_{t-1} + (1 - a) * y_t)``, starting from
  ``s = 0`` (the corpus mean) at the start of an episode, of a track and on every live reset.
  Its group delay at low frequencies is ``a / (1 - a)`` frames. The state is rounded to
  float32 at every step because live hosts carry it as the policy's float32 ``state``; the
  exported graph does exactly the same arithmetic in float64 (``a * s + (1 - a) * y``).
- **Silence gate** (``env.silence_gate``, LUFS, off by default): a frame whose loudness is below
  it is a pause. Loudness is heard no lower than the gate, so the synth goes quiet with the
  musician; every other feature (the timbre) is not heard: its smoothing state holds, and the
  unsmoothed frame the agent also observes (its *lead*) is that held state (:func:`listen`).
  Pauses are where a noise floor's spectral descriptors swing by several z from one frame to
  the next, and where a digital silence's loudness is far below anything a synth plays.
- **Intent** ``c`` in [-1, 1] (``env.intent: true``): the agent aims at ``c * s``: 1 imitates,
  0 holds the centre, -1 mirrors (soft against loud, dark against bright).
- **The line the reward follows** (``env.reward_target``, training only): ``heard`` rewards
  closeness to what the agent aims at, ``c * s``; ``line`` to ``c`` times the musician's line,
  the centred mean over :data:`rlimpro.musicality.SMOOTH_FRAMES` frames of a corpus track as
  heard (:func:`line`; without a silence gate, the evaluation's own smoothed target). The
  smoothed ``s`` trails the music by its group delay and the centred mean does not, so the
  agent learns to anticipate the line from what it has heard so far (``s`` and the lead); it
  still hears only the past.
- **Move cost** (``env.move_cost`` times the table's move unit, see
  :class:`rlimpro.env.core.Imitation`): subtracted from the reward once per parameter that
  changes in a step (``env.move_cost_per: parameter``), or once per step in which any
  parameter changes (``move``: what the musical measure *moves per second* counts). A move
  changes parameter i unless it is pinned at the bound it pushes against:
  ``(m_i > 0 and p_i < 1) or (m_i < 0 and p_i > 0)``.
- **Reversal cost** (``env.reversal_cost``, same unit): subtracted once per parameter that a
  step moves in the opposite sign to its own last move (:func:`reversed_params`); what the
  musical measure *reversals per second* counts. Each parameter's last move sign (-1, 0, +1;
  0 before its first move) is kept from step to step (:func:`last_moves`), zeroed with the
  smoothing state.

The env (numpy), the ``avi`` Q-network (torch) and the exported graph (ONNX) implement the
smoothing, the gate, the intent and the costs; tests hold them equal.

>>> import numpy as np
>>> shaped(np.array([0.5, 2.0]), "squared")
array([-0.25, -4.  ])
>>> smooth(np.zeros(2), np.array([1.0, -2.0]), 0.75)
array([ 0.25, -0.5 ])
>>> group_delay(0.75)
3.0
>>> moved_params(np.array([[0.0, 0.5]]), np.array([[-1, 1], [1, 1]]))
array([[1, 2]])
>>> charged(np.array([[1, 2]]), "move")
array([[1, 1]])
>>> reversed_params(np.array([[0.0, 0.5]]), np.array([[-1, 1], [1, -1]]), np.array([[-1.0, 1.0]]))
array([[0, 2]])
>>> last_moves(np.array([[-1.0, 1.0]]), np.array([[0.0, 0.5]]), np.array([[0.25, 0.5]]))
array([[1., 1.]])
"""

from __future__ import annotations

from typing import Any

import numpy as np

from rlimpro.musicality import smooth as centred_mean

__all__ = ["shaped", "smooth", "listen", "smooth_track", "line", "group_delay", "goal", "moved_params", "charged",
           "reversed_params", "last_moves"]


def shaped(d: Any, shape: str, bonus: float = 0.0, threshold: float = 0.0) -> Any:
    """The reward of distances ``d`` (numpy array or torch tensor, the same expression for both):
    ``linear`` ``-d``, ``squared`` ``-d**2`` (what the evaluation's nRMSE weighs: a frame twice as
    far counts four times) or ``cubic`` ``8 * (0.5 - d)**3``; plus ``bonus`` where ``d <= threshold``."""
    r = -d if shape == "linear" else -d * d if shape == "squared" else 8.0 * (0.5 - d) ** 3
    return r + bonus * (d <= threshold) if bonus else r


def smooth(state: np.ndarray, y: np.ndarray, a: float) -> np.ndarray:
    """One step of the target's one-pole smoothing.

    :param state: previous smoothed target ``[..., F]`` (float64 holding float32 values).
    :param y: the new normalised target ``[..., F]``.
    :param a: the pole, ``env.target_smoothing``; 0 returns ``y`` itself (no smoothing, no rounding).
    :return: the new state, float64 holding float32 values.
    """
    if a == 0.0:
        return np.asarray(y, np.float64)
    return (a * state + (1.0 - a) * y).astype(np.float32).astype(np.float64)


def listen(state: np.ndarray, y: np.ndarray, a: float,
           gate: tuple[int, float] | None = None) -> tuple[np.ndarray, np.ndarray]:
    """One frame as the agent hears it: the new smoothing state and the lead (the unsmoothed frame).

    :param state: previous smoothed target ``[..., F]``.
    :param y: the new normalised frame ``[..., F]``.
    :param a: the pole (see :func:`smooth`).
    :param gate: the silence gate as (column of loudness, threshold in its z units), or None:
        below it the loudness is heard at the gate, and the other features' state holds and
        their lead is the held state.
    :return: ``(state, lead)``.
    """
    y = np.asarray(y, np.float64)
    if gate is None:
        return smooth(state, y, a), y
    k, z = gate
    column = np.arange(y.shape[-1])
    timbre = (y[..., k:k + 1] < z) & (column != k)
    y = np.maximum(y, np.where(column == k, z, -np.inf))  # loudness no lower than the gate (a new array)
    held = np.asarray(state, np.float64)
    return np.where(timbre, held, smooth(state, y, a)), np.where(timbre, held, y)


def smooth_track(y: np.ndarray, a: float, gate: tuple[int, float] | None = None) -> tuple[np.ndarray, np.ndarray]:
    """A whole track ``[T, F]`` through :func:`listen`, from the zero state (as a live host hears it).

    :param gate: the silence gate (see :func:`listen`), or None.
    :return: the smoothed targets and the leads, ``[T, F]`` each.
    """
    out = np.empty_like(np.asarray(y, np.float64))
    lead = np.empty_like(out)
    state = np.zeros(out.shape[1:])
    for t in range(len(out)):
        state, lead[t] = listen(state, y[t], a, gate)
        out[t] = state
    return out, lead


def line(y: np.ndarray, a: float, gate: tuple[int, float] | None = None) -> np.ndarray:
    """The musician's line through a track ``[T, F]``: the centred mean (the evaluation's
    smoothed target) of its frames as heard, i.e. through the silence gate if there is one
    (the leads of :func:`smooth_track`).

    :return: ``[T, F]``.
    """
    return centred_mean(y if gate is None else smooth_track(y, a, gate)[1])


def group_delay(a: float) -> float:
    """Low-frequency group delay of :func:`smooth` with pole ``a``, in frames."""
    return a / (1.0 - a)


def goal(smoothed: np.ndarray, intent: np.ndarray | float) -> np.ndarray:
    """What the agent aims at: ``intent * smoothed`` (intent as float32, like the hosts feed it)."""
    return np.asarray(intent, np.float32).astype(np.float64) * smoothed


def moved_params(params: np.ndarray, moves: np.ndarray) -> np.ndarray:
    """How many parameters each unit move changes.

    :param params: ``[B, N]`` in [0, 1].
    :param moves: ``[K, N]`` moves in steps.
    :return: int ``[B, K]``.
    """
    p = np.asarray(params)[:, None, :]
    m = np.asarray(moves)[None]
    return (((m > 0) & (p < 1.0)) | ((m < 0) & (p > 0.0))).sum(-1)


def charged(moved: np.ndarray, per: str) -> np.ndarray:
    """How many times the move cost is charged for ``moved`` changed parameters (any shape):
    each of them (``per = "parameter"``) or once if any (``"move"``)."""
    return np.minimum(moved, 1) if per == "move" else moved


def reversed_params(params: np.ndarray, moves: np.ndarray, last: np.ndarray) -> np.ndarray:
    """How many parameters each unit move reverses: changes (as :func:`moved_params`) in the sign
    opposite to their last move.

    :param params: ``[B, N]`` in [0, 1].
    :param moves: ``[K, N]`` moves in steps.
    :param last: ``[B, N]`` each parameter's last move sign (see :func:`last_moves`).
    :return: int ``[B, K]``.
    """
    p, l = np.asarray(params)[:, None, :], np.asarray(last)[:, None, :]
    m = np.asarray(moves)[None]
    return (((m > 0) & (p < 1.0) & (l < 0)) | ((m < 0) & (p > 0.0) & (l > 0))).sum(-1)


def last_moves(last: np.ndarray, before: np.ndarray, after: np.ndarray) -> np.ndarray:
    """Each parameter's last move sign ``[B, N]`` after a step from params ``before`` to ``after``:
    the sign of its change where it changed, else ``last`` as it was."""
    d = np.asarray(after, np.float64) - np.asarray(before, np.float64)
    return np.where(np.abs(d) > 1e-12, np.sign(d), last)
