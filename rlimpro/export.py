"""Export a trained run to ONE self-contained ``policy.onnx`` (docs/protocol.md).

The graph maps raw musician descriptors ``target`` [B, F] and the current parameters
``params`` [B, N] to ``params_next`` [B, N]. A run with target smoothing or a reversal cost
also has the input ``state`` [B, S] and the output ``state_next``, carried by the host: the
smoothed target [F] (with smoothing), then each parameter's last move sign [N] (with a
reversal cost), S = F + N at most; a run conditioned on an intent has the input ``intent`` [B, 1];
an ``avi`` run with a move or reversal cost has the movement knob ``calm`` [B, 1] in [-1, 1]: the
costs the agent weighs in its decision are multiplied by ``1 + calm / 2`` (-1 halves them: busier;
1 makes them 1.5 times dearer: calmer; 0 is the trained agent, bit for bit). Every optional input is backed by an
initializer holding its default (zeros; ``intent_default``; ``calm_default``), so a caller that
feeds only ``target`` and ``params`` gets them. It is assembled from three parts:

1. the observation, built in float64 exactly as :meth:`rlimpro.env.core.Imitation.observe`
   does (normalisation, the target's smoothing and intent (:mod:`rlimpro.env.behaviour`),
   agent features from the lookup table held as an initializer — a
   Gather on the mixed-radix grid index, or multilinear interpolation over the 2**N cell
   corners when the run used it — the one-step neighbour distances, clipping), cast to
   float32 as the env does;
2. the algorithm's network (its export hook, :mod:`rlimpro.algos`) exported by
   ``torch.onnx.export`` (dynamo, weights inlined); for ``avi`` runs only the Q-network's
   head, fed with the observation's parts directly;
3. the deterministic action and its decoding as :func:`rlimpro.env.actions.decode` does it
   (argmax → -step/0/+step per parameter; per-parameter argmax for MultiDiscrete; clipped
   delta for continuous), clipped to [0, 1], cast to float32.

:func:`check_parity` compares the file against ``model.predict(obs, deterministic=True)``
plus the env's decoder on random and corpus observations; :func:`export_run` refuses to
write a file that fails it.
"""

from __future__ import annotations

import json
import logging
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from rlimpro import __version__
from rlimpro.algos import algorithm
from rlimpro.atomic import atomic_path
from rlimpro.errors import RlimproError
from rlimpro.layout import Layout

__all__ = ["CALM_SPAN", "Parity", "build_graph", "check_parity", "export", "export_run", "has_calm", "policy_metadata",
           "state_sizes"]

OPSET = 20
#: the intent a host starts with and a caller that does not feed one gets: imitate
INTENT_DEFAULT = 1.0
#: the movement knob a host starts with: the costs as trained
CALM_DEFAULT = 0.0
#: the costs a decision weighs are multiplied by ``1 + CALM_SPAN * calm``: 0.5 to 1.5. (An exponential
#: knob, 2**calm, froze sine at calm 1: its values were learned at the trained costs, docs/training.md.)
CALM_SPAN = 0.5
_D, _F, _I = 11, 1, 7  # onnx TensorProto DOUBLE, FLOAT, INT64


# --- the policy network -------------------------------------------------------------------
def _export_network(module: Any, inputs: dict[str, Any]) -> Any:
    """``module`` as an onnx ModelProto with the given example inputs (batch axis 0 dynamic) and output ``net_out``."""
    import torch

    for name in ("torch.onnx", "torch._dynamo", "torch.export", "onnxscript"):
        logging.getLogger(name).setLevel(logging.ERROR)
    batch = torch.export.Dim("batch")
    with warnings.catch_warnings(), torch.no_grad():
        warnings.simplefilter("ignore")
        program = torch.onnx.export(
            module, tuple(inputs.values()), None, dynamo=True, opset_version=OPSET,
            input_names=list(inputs), output_names=["net_out"], dynamic_shapes=tuple({0: batch} for _ in inputs),
            external_data=False, verbose=False,
        )
    return program.model_proto


# --- the graph around it --------------------------------------------------------------------
class _Graph:
    """A tiny builder: named constants and fresh node names, all under ``prefix``."""

    def __init__(self, prefix: str) -> None:
        self.prefix = prefix
        self.nodes: list[Any] = []
        self.inits: list[Any] = []
        self._n = 0

    def const(self, value: Any, dtype: Any = np.float64, name: str | None = None) -> str:
        from onnx import numpy_helper

        self._n += 1
        name = self.prefix + (name or f"c{self._n}")
        self.inits.append(numpy_helper.from_array(np.asarray(value, dtype=dtype), name))
        return name

    def op(self, op_type: str, *inputs: str, out: str | None = None, **attrs: Any) -> str:
        from onnx import helper

        self._n += 1
        out = out or f"{self.prefix}{op_type.lower()}{self._n}"
        self.nodes.append(helper.make_node(op_type, list(inputs), [out], **attrs))
        return out


def _dot(g: _Graph, x: str, vector: np.ndarray) -> str:
    """``x @ vector`` over the last axis, as Mul + ReduceSum (much faster than a batched
    MatMul with a vector in onnxruntime)."""
    return g.op("ReduceSum", g.op("Mul", x, g.const(vector)), g.const([-1], np.int64), keepdims=0)


def _nearest_rows(g: _Graph, p: str, table: Any) -> str:
    """int64 rows of the grid points nearest to params ``p`` in [0, 1] (float64), as ``LookupTable.nearest_rows``."""
    x = g.op("Round", g.op("Mul", p, g.const(float(table.subdiv - 1))))
    return g.op("Cast", _dot(g, x, table.radix.astype(np.float64)), to=_I)  # exact small integers


def _features(g: _Graph, p: str, points: str, cfg: Any, table: Any) -> str:
    """Normalised features ``[B, M, F]`` at params ``p [B, M, N]`` in [0, 1] (float64), as ``Imitation.features``."""
    if not cfg.interpolate:
        return g.op("Gather", points, _nearest_rows(g, p, table), axis=0)
    s = table.subdiv
    radix = table.radix.astype(np.float64)
    x = g.op("Mul", p, g.const(float(s - 1)))
    n = table.n_params
    bits = ((np.arange(2**n)[:, None] >> np.arange(n - 1, -1, -1)) & 1).astype(np.float64)  # [C, N]
    base = g.op("Min", g.op("Floor", x), g.const(float(s - 2)))
    frac = g.op("Unsqueeze", g.op("Sub", x, base), g.const([-2], np.int64))  # [B, M, 1, N]
    rows = g.op("Add", g.op("Unsqueeze", _dot(g, base, radix), g.const([-1], np.int64)), g.const(bits @ radix))
    # corner weight = prod over params of (frac if the corner's bit is 1 else 1 - frac) = prod |1 - bit - frac|
    weights = g.op("ReduceProd", g.op("Abs", g.op("Sub", g.const(1.0 - bits), frac)),
                   g.const([-1], np.int64), keepdims=1)  # [B, M, C, 1]
    weighted = g.op("Mul", weights, g.op("Gather", points, g.op("Cast", rows, to=_I), axis=0))  # [B, M, C, F]
    return g.op("ReduceSum", weighted, g.const([2], np.int64), keepdims=0)  # [B, M, F]


def _batch_shape(g: _Graph, width: int) -> str:
    """The shape ``[B, width]`` with the batch of ``target``: optional inputs are expanded to it,
    so that their defaults (``[1, width]`` initializers) serve a batch of any size."""
    return g.op("Concat", g.op("Shape", "target", start=0, end=1), g.const([width], np.int64), axis=0)


def _knob(g: _Graph, name: str) -> str:
    """The ``intent`` or ``calm`` input as float64 ``[B, 1]`` (see :func:`_batch_shape`), clipped to [-1, 1]."""
    shape = _batch_shape(g, 1)
    value = g.op("Cast", g.op("Expand", name, shape), to=_D)
    return g.op("Clip", value, g.const(-1.0), g.const(1.0))


def has_calm(cfg: Any, algo: str) -> bool:
    """Whether a run's policy has the ``calm`` input: an ``avi`` run (its decision weighs the costs
    explicitly) with a move or a reversal cost."""
    return algorithm(algo).policy == "afterstate" and bool(cfg.move_cost or cfg.reversal_cost)


@dataclass
class _Heard:
    """The graph's tensors of what the agent hears and remembers (see :func:`_heard`)."""

    goal: str  #: what it aims at, float64 ``[B, F]``, unclipped
    lead: str | None  #: with smoothing, the unsmoothed target times the intent
    smoothed: str | None  #: with smoothing, the new smoothing state, float32 ``[B, F]``
    last: str | None  #: with a reversal cost, each parameter's last move sign, float64 ``[B, N]``


def state_sizes(cfg: Any) -> tuple[int, int]:
    """The parts of a policy's recurrent ``state``: the smoothed target (F with smoothing, else 0)
    and the last move signs (N with a reversal cost, else 0)."""
    return (len(cfg.features) if cfg.target_smoothing else 0), (cfg.n_params if cfg.reversal_cost else 0)


def _state_part(g: _Graph, start: int, size: int) -> str:
    """Columns ``start .. start + size`` of the ``state`` input as float64 ``[B, size]`` (see :func:`_batch_shape`)."""
    shape = _batch_shape(g, size)
    part = g.op("Slice", "state", g.const([start], np.int64), g.const([start + size], np.int64), g.const([1], np.int64))
    return g.op("Cast", g.op("Expand", part, shape), to=_D)


def _heard(g: _Graph, core: Any) -> _Heard:
    """What the agent aims at: the normalised target, smoothed with ``state`` and times the
    intent, as :mod:`rlimpro.env.behaviour`; and what it remembers of its own moves."""
    cfg, norm = core.cfg, core.norm
    y = g.op("Div", g.op("Sub", g.op("Cast", "target", to=_D), g.const(norm.mean)), g.const(norm.std))
    a, lead, smoothed = float(cfg.target_smoothing), None, None
    f, n = state_sizes(cfg)
    intent = _knob(g, "intent") if cfg.intent else None
    if a:
        state = _state_part(g, 0, f) if n else g.op("Cast", "state", to=_D)
        if core.gate is not None:  # a pause: loudness no lower than the gate, the timbre held
            k, z = core.gate
            loud = g.op("Slice", y, g.const([k], np.int64), g.const([k + 1], np.int64), g.const([1], np.int64))
            timbre = g.op("And", g.op("Less", loud, g.const(z)), g.const(np.arange(f) != k, bool))
            y = g.op("Max", y, g.const(np.where(np.arange(f) == k, z, -np.inf)))
        mixed = g.op("Add", g.op("Mul", state, g.const(a)), g.op("Mul", y, g.const(1.0 - a)))
        if core.gate is not None:
            mixed = g.op("Where", timbre, state, mixed)
        smoothed = g.op("Cast", mixed, to=_F, out=None if n else "state_next")
        held = g.op("Cast", smoothed, to=_D)
        if core.gate is not None:
            y = g.op("Where", timbre, held, y)
        lead = y if intent is None else g.op("Mul", intent, y)
        y = held
    last = _state_part(g, f, n) if n else None
    return _Heard(y if intent is None else g.op("Mul", intent, y), lead, smoothed, last)


def _carry(g: _Graph, heard: _Heard, p: str, nxt: str) -> None:
    """``state_next`` of a run with a reversal cost: the smoothing state, then each parameter's
    last move sign after going from params ``p`` to ``nxt`` (float64 ``[B, N]``), as
    :func:`rlimpro.env.behaviour.last_moves`."""
    last = g.op("Where", g.op("Equal", nxt, p), heard.last, g.op("Sign", g.op("Sub", nxt, p)))
    parts = ([heard.smoothed] if heard.smoothed else []) + [g.op("Cast", last, to=_F)]
    g.op("Concat", *parts, axis=1, out="state_next")


def _moved(g: _Graph, p: str, moves: np.ndarray) -> str:
    """Params ``[B, K, N]`` after each move of ``moves [K, N]`` (float64), clipped to [0, 1]."""
    nxt = g.op("Add", g.op("Unsqueeze", p, g.const([1], np.int64)), g.const(moves))
    return g.op("Clip", nxt, g.const(0.0), g.const(1.0))


def _distances(g: _Graph, feats: str, target: str, weights: np.ndarray) -> str:
    """Weighted distances ``[B, K]`` between features ``[B, K, F]`` and the target ``[B, F]``."""
    diff = g.op("Sub", feats, g.op("Unsqueeze", target, g.const([1], np.int64)))
    return g.op("Sqrt", _dot(g, g.op("Mul", diff, diff), weights))


def _observation(g: _Graph, core: Any) -> tuple[str, str]:
    """Nodes from ``target``/``params`` to the float32 observation; returns (obs, params64).

    The agent's own point is looked up together with its one-step neighbours (a zero move
    first), so one lookup serves both parts of the observation.
    """
    cfg = core.cfg
    c = float(cfg.obs_clip)
    heard, p = _heard(g, core), g.op("Cast", "params", to=_D)
    target = heard.goal
    moves = np.concatenate([np.zeros((1, cfg.n_params)), core.moves]) * cfg.step  # [1 + K, N]
    feats = _features(g, _moved(g, p, moves), g.const(core.points, name="lookup_points"), cfg, core.table)
    lo, hi = g.const(-c), g.const(c)
    parts = [g.op("Clip", g.op("Gather", feats, g.const(0, np.int64), axis=1), lo, hi), g.op("Clip", target, lo, hi), p]
    if len(core.moves):
        mid = g.const([1], np.int64)
        dist = _distances(g, feats, target, core.weights)  # [B, 1 + K], >= 0
        parts.append(g.op("Min", g.op("Slice", dist, mid, g.const([len(moves)], np.int64), mid), hi))
    if cfg.seek:
        raise RlimproError("export: runs with env.seek are not exportable (the graph has no nearest-point search)")
    if heard.last is not None:
        parts.append(heard.last)
    if heard.lead is not None:
        parts.append(g.op("Clip", heard.lead, lo, hi))
    if cfg.intent:
        parts.append(_knob(g, "intent"))
    obs = g.op("Concat", *parts, axis=1)
    return g.op("Cast", obs, to=_F), p, heard


def _afterstate_inputs(g: _Graph, core: Any, calm: bool) -> tuple[dict[str, str], str, str, _Heard]:
    """The inputs of ``avi``'s export hook (:meth:`rlimpro.algos.avi._AVI.export_module`) as the
    observation holds them; returns (inputs, moved params ``[B, K, N]`` float64: row a is where
    action a leads, as ``decode`` computes it; the params as float64; what the agent heard).

    ``x`` is the observation's target part (float64, clipped, cast to float32), with the intent
    beside it when the run is conditioned; ``d`` the distance part; ``rows`` the grid rows of
    the moved params, which on the grid are exactly the rows the Q-network derives from the
    observation's params (they differ only where a param sits exactly half-way between two
    grid points); ``cost`` the move cost of each move (float32, as the Q-network's
    :meth:`~rlimpro.algos.avi.afterstate.AfterstateQNetwork.cost`): ``move_cost`` times how often
    it is charged (a move changes a param unless the clip pins it at the bound, as
    :func:`rlimpro.env.behaviour.moved_params`; once per move with ``move_cost_per: move``), plus
    ``reversal_cost`` times the params it turns back against their last move; with the ``calm``
    input, times ``1 + CALM_SPAN * calm``.
    """
    cfg = core.cfg
    c = float(cfg.obs_clip)
    heard, p = _heard(g, core), g.op("Cast", "params", to=_D)
    target, lead = heard.goal, heard.lead
    nxt = _moved(g, p, core.moves * cfg.step)
    rows = _nearest_rows(g, nxt, core.table)
    feats = g.op("Gather", g.const(core.points, name="lookup_points"), rows, axis=0)  # avi runs never interpolate
    dist = _distances(g, feats, target, core.weights)
    parts = [g.op("Clip", target, g.const(-c), g.const(c))]
    if lead is not None:
        parts.append(g.op("Clip", lead, g.const(-c), g.const(c)))
    if cfg.intent:
        parts.append(_knob(g, "intent"))
    x = g.op("Cast", g.op("Concat", *parts, axis=1) if len(parts) > 1 else parts[0], to=_F)
    d = g.op("Cast", g.op("Min", dist, g.const(c)), to=_F)
    axis = g.const([1], np.int64)
    changed = g.op("Not", g.op("Equal", nxt, g.op("Unsqueeze", p, axis)))
    moved = g.op("ReduceSum", g.op("Cast", changed, to=_F), g.const([-1], np.int64), keepdims=0)
    if cfg.move_cost_per == "move":
        moved = g.op("Min", moved, g.const(1.0, np.float32))
    cost = g.op("Mul", moved, g.const(core.move_cost, np.float32))
    if heard.last is not None:  # a param reverses where its step and its last move have opposite signs
        step = g.op("Sub", nxt, g.op("Unsqueeze", p, axis))
        turned = g.op("Less", g.op("Mul", step, g.op("Unsqueeze", heard.last, axis)), g.const(0.0))
        turns = g.op("ReduceSum", g.op("Cast", turned, to=_F), g.const([-1], np.int64), keepdims=0)
        cost = g.op("Add", cost, g.op("Mul", turns, g.const(core.reversal_cost, np.float32)))
    if calm:  # 1 + 0.5 * 0 is 1 exactly: at the default the costs are the trained agent's, bit for bit
        scale = g.op("Add", g.const(1.0), g.op("Mul", g.const(CALM_SPAN), _knob(g, "calm")))
        cost = g.op("Mul", cost, g.op("Cast", scale, to=_F))
    return {"x": x, "d": d, "rows": rows, "cost": cost}, nxt, p, heard


def _choose(g: _Graph, net_out: str, moved: str) -> str:
    """The next params (float64) = the moved params of the best action (discrete moves to every neighbour)."""
    action = g.op("ArgMax", net_out, axis=1, keepdims=1)  # [B, 1]
    return g.op("GatherND", moved, action, batch_dims=1)


def _decode(g: _Graph, net_out: str, p: str, cfg: Any) -> str:
    """Nodes from the network output to the next params (float64), as ``rlimpro.env.actions.decode``."""
    from rlimpro.env.actions import deltas

    n, space, step, r = cfg.n_params, cfg.action_space, float(cfg.step), cfg.reach
    if space == "discrete":  # row a of the table = the moves of action a, times step
        action = g.op("ArgMax", net_out, axis=1, keepdims=0)
        delta = g.op("Gather", g.const(deltas(n, r).astype(np.float64) * step), action, axis=0)
    elif space == "multidiscrete":
        digits = g.op("ArgMax", g.op("Reshape", net_out, g.const([-1, n, 2 * r + 1], np.int64)), axis=2, keepdims=0)
        delta = g.op("Gather", g.const(np.arange(-r, r + 1, dtype=np.float64) * step), digits, axis=0)
    else:
        moves = g.op("Clip", g.op("Cast", net_out, to=_D), g.const(-1.0), g.const(1.0))
        delta = g.op("Mul", moves, g.const(step * r))
    return g.op("Clip", g.op("Add", p, delta), g.const(0.0), g.const(1.0))


def build_graph(core: Any, model: Any, metadata: dict[str, str]) -> Any:
    """The whole policy as an onnx ModelProto.

    :param core: an :class:`rlimpro.env.core.Imitation` built from the run (the observation's definition).
    :param model: the SB3 model.
    :param metadata: metadata_props (see :func:`policy_metadata`); its ``algo`` names the algorithm.
    :return: a checked ModelProto.
    """
    import onnx
    from onnx import compose, helper

    pre, post = _Graph("obs/"), _Graph("act/")
    algo = algorithm(metadata["algo"])
    afterstate = algo.policy == "afterstate"
    calm = has_calm(core.cfg, metadata["algo"])
    if afterstate:
        inputs, moved, p, heard = _afterstate_inputs(pre, core, calm)
    else:
        obs, p, heard = _observation(pre, core)
        inputs = {"obs": obs}
    net = compose.add_prefix(_export_network(*algo.export_module(model, core)), "net/")
    net_nodes = list(net.graph.node)
    ours = {f"net/{name}": tensor for name, tensor in inputs.items()}
    for node in net_nodes:  # the network reads our tensors
        node.input[:] = [ours.get(x, x) for x in node.input]
        # torch's debug notes (stack traces with this checkout's path and line numbers) would make
        # the file depend on where and from which source line it was exported
        del node.metadata_props[:]
    nxt = _choose(post, "net/net_out", moved) if afterstate else _decode(post, "net/net_out", p, core.cfg)
    post.op("Cast", nxt, out="params_next", to=_F)
    if heard.last is not None:
        _carry(post, heard, p, nxt)
    graph = helper.make_graph(
        pre.nodes + net_nodes + post.nodes, "rlimpro_policy", *_interface(core, calm),
        pre.inits + list(net.graph.initializer) + post.inits + _defaults(core, calm),
    )
    opsets = {o.domain: o.version for o in net.opset_import}
    opsets[""] = max(opsets.get("", OPSET), OPSET)
    proto = helper.make_model(graph, opset_imports=[helper.make_opsetid(d, v) for d, v in opsets.items()],
                              producer_name="rlimpro", producer_version=__version__)
    proto.ir_version = min(net.ir_version or 10, 10)
    proto.functions.extend(net.functions)
    helper.set_model_props(proto, metadata)
    proto = onnx.shape_inference.infer_shapes(proto, strict_mode=True)
    onnx.checker.check_model(proto, full_check=True)
    return proto


def _interface(core: Any, calm: bool) -> tuple[list[Any], list[Any]]:
    """The graph's inputs and outputs (docs/protocol.md): target, params[, intent][, calm][, state] ->
    params_next[, state_next]."""
    from onnx import helper

    cfg = core.cfg
    f, n, s = len(cfg.features), cfg.n_params, sum(state_sizes(cfg))
    inputs = ([("target", f), ("params", n)] + [("intent", 1)] * cfg.intent + [("calm", 1)] * calm
              + [("state", s)] * bool(s))
    outputs = [("params_next", n)] + [("state_next", s)] * bool(s)
    return ([helper.make_tensor_value_info(name, _F, ["batch", k]) for name, k in inputs],
            [helper.make_tensor_value_info(name, _F, ["batch", k]) for name, k in outputs])


def _defaults(core: Any, calm: bool) -> list[Any]:
    """Initializers backing the optional inputs with their defaults: intent 1 (imitate), calm 0 (as
    trained), state 0."""
    from onnx import numpy_helper

    cfg = core.cfg
    out = [numpy_helper.from_array(np.full((1, 1), INTENT_DEFAULT, np.float32), "intent")] if cfg.intent else []
    if calm:
        out.append(numpy_helper.from_array(np.full((1, 1), CALM_DEFAULT, np.float32), "calm"))
    if sum(state_sizes(cfg)):
        out.append(numpy_helper.from_array(np.zeros((1, sum(state_sizes(cfg))), np.float32), "state"))
    return out


# --- metadata, parity, the stage ----------------------------------------------------------------
def policy_metadata(run: Any, param_names: list[str], analysis: dict[str, Any]) -> dict[str, str]:
    """metadata_props of docs/protocol.md for a run.

    :param run: a :class:`rlimpro.train.Run`.
    :param param_names: the synth's parameter names (from ``synth.yaml``), N of them.
    :param analysis: ``{"sr", "window", "hop"}`` the features were computed with.
    """
    cfg = run.env
    return {
        "rlimpro_version": __version__, "synth": cfg.synth, "n_params": str(cfg.n_params),
        "param_names": ",".join(param_names), "features": ",".join(cfg.features),
        "analysis": json.dumps({k: int(analysis[k]) for k in ("sr", "window", "hop")}, sort_keys=True),
        "algo": run.algo, "action_space": cfg.action_space, "step": repr(float(cfg.step)), "corpus": cfg.corpus,
        "initial_params": ",".join(repr(float(v)) for v in cfg.initial_params),
        "interpolate": str(bool(cfg.interpolate)).lower(), "neighbours": cfg.neighbours,
        "target_smoothing": repr(float(cfg.target_smoothing)), "move_cost": repr(float(cfg.move_cost)),
        **({"reach": str(cfg.reach)} if cfg.reach > 1 else {}),
        **({"move_cost_per": cfg.move_cost_per} if cfg.move_cost_per != "parameter" else {}),
        **({"reversal_cost": repr(float(cfg.reversal_cost))} if cfg.reversal_cost else {}),
        **({"silence_gate": repr(float(cfg.silence_gate))} if cfg.silence_gate is not None else {}),
        **({"intent_default": repr(INTENT_DEFAULT)} if cfg.intent else {}),
        **({"calm_default": repr(CALM_DEFAULT)} if has_calm(cfg, run.algo) else {}),
        **({"state_size": str(sum(state_sizes(cfg)))} if sum(state_sizes(cfg)) else {}),
    }


@dataclass(frozen=True)
class Parity:
    """How an exported file compares with the SB3 policy + the env's decoder.

    :param n: observations compared.
    :param mismatches: rows whose output differs (discrete: any difference; continuous: > tol).
    :param ties: of those, rows explained by a near tie of the two best actions (gap < 1e-6).
    :param max_abs_diff: largest absolute difference over all rows.
    """

    n: int
    mismatches: int
    ties: int
    max_abs_diff: float

    @property
    def ok(self) -> bool:
        """True when every mismatch is an exact tie."""
        return self.mismatches == self.ties


def _samples(core: Any, n: int, corpus: np.ndarray | None, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Raw float32 (target [n, F], params [n, N]): half on the grid, half anywhere; targets from
    lookup points with noise, uniform over their range, and corpus frames."""
    rng = np.random.default_rng(seed)
    cfg, table = core.cfg, core.table
    raw_points = table.columns(cfg.features)
    on_grid = table.grid_params(rng.integers(table.n_rows, size=n))
    anywhere = rng.uniform(0.0, 1.0, size=(n, cfg.n_params))
    params = np.where(rng.random((n, 1)) < 0.5, on_grid, anywhere)
    lo, hi = raw_points.min(axis=0), raw_points.max(axis=0)
    span = np.maximum(hi - lo, 1e-3)
    noisy = raw_points[rng.integers(table.n_rows, size=n)] + rng.normal(0, 0.05, (n, len(span))) * span
    uniform = rng.uniform(lo - 0.2 * span, hi + 0.2 * span, size=(n, len(span)))
    choice = rng.integers(3 if corpus is not None and len(corpus) else 2, size=(n, 1))
    target = np.where(choice == 0, noisy, uniform)
    if corpus is not None and len(corpus):
        target = np.where(choice == 2, corpus[rng.integers(len(corpus), size=n)], target)
    return target.astype(np.float32), params.astype(np.float32)


def check_parity(path: str | Path, core: Any, model: Any, *, n: int = 10_000, corpus: np.ndarray | None = None,
                 seed: int = 0, tol: float = 1e-5) -> Parity:
    """Compare ``path`` with ``model.predict(obs, deterministic=True)`` + the env's decoder.

    :param path: the exported ``policy.onnx``.
    :param core: the run's :class:`rlimpro.env.core.Imitation` (builds the observations).
    :param model: the SB3 model.
    :param n: how many (target, params) pairs.
    :param corpus: raw ``[T, F]`` corpus frames of the selected features to draw targets from.
    :param tol: allowed difference for continuous actions.
    """
    import onnxruntime as ort
    import torch

    from rlimpro.env.actions import decode
    from rlimpro.env.behaviour import goal, last_moves, listen

    cfg = core.cfg
    target, params = _samples(core, n, corpus, seed)
    feeds = {"target": target, "params": params}
    rng = np.random.default_rng(seed + 1)  # random hosts' states and intents, when the graph has them
    f, k = state_sizes(cfg)
    state = rng.normal(0.0, 1.5, (n, f)).astype(np.float32)
    last = rng.integers(-1, 2, (n, k)).astype(np.float32)
    intent = rng.uniform(-1.0, 1.0, (n, 1)).astype(np.float32) if cfg.intent else np.ones((n, 1), np.float32)
    if cfg.intent:
        feeds["intent"] = intent
    if f + k:
        feeds["state"] = np.concatenate([state, last], axis=1)
    p64 = params.astype(np.float64)
    y = core.norm.apply(target.astype(np.float64))
    smoothed, lead = listen(state.astype(np.float64), y, cfg.target_smoothing, core.gate) if f else (y, y)
    obs = core.observe(p64, goal(smoothed, intent), intent, goal(lead, intent), last if k else None)
    actions, _ = model.predict(obs, deterministic=True)
    nxt = decode(actions, p64, space=cfg.action_space, step=cfg.step, reach=cfg.reach)
    expected = nxt.astype(np.float32)
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    outputs = session.run(None, feeds)
    got = outputs[0]
    diff = np.abs(got - expected).max(axis=1)
    continuous = cfg.action_space == "continuous"
    bad = np.flatnonzero(diff > (tol if continuous else 0.0))
    if f and not np.array_equal(outputs[1][:, :f], smoothed.astype(np.float32)):
        raise RlimproError(f"{Path(path).name}: the exported smoothing disagrees with the env's; please report this")
    agree = np.setdiff1d(np.arange(n), bad)  # where the graph moved as the model did, it must remember the same
    if k and not np.array_equal(outputs[1][agree, f:], last_moves(last, p64, nxt)[agree].astype(np.float32)):
        raise RlimproError(f"{Path(path).name}: the exported last moves disagree with the env's; please report this")
    ties = 0
    if len(bad) and not continuous:
        algo = algorithm(session.get_modelmeta().custom_metadata_map["algo"])
        with torch.no_grad():
            out = algo.network(model)(torch.as_tensor(obs[bad])).numpy()
        if core.cfg.action_space == "multidiscrete":
            out = out.reshape(len(bad), core.cfg.n_params, 2 * core.cfg.reach + 1)
        top2 = np.sort(out, axis=-1)[..., -2:]
        gap = (top2[..., 1] - top2[..., 0]).reshape(len(bad), -1).min(axis=1)
        ties = int((gap < 1e-6).sum())
    return Parity(n=n, mismatches=len(bad), ties=ties, max_abs_diff=float(diff.max()))


def export_run(run_dir: str | Path, out: str | Path, root: str | Path = ".", *, check: int) -> tuple[Path, Parity]:
    """Export a run folder to ``out`` and verify it.

    :param run_dir: a run folder (``model.zip``, ``config.json``, ``norm.json``).
    :param out: the ``.onnx`` file to write (atomically, only if the check passes).
    :param root: project folder (the run's lookup table path is relative to it).
    :param check: observations for the parity check (0 skips it).
    :return: the file written and the parity result.
    :raises RlimproError: on a bad run folder, a changed lookup table or failed parity.
    """
    import onnx

    from rlimpro.env.core import Imitation
    from rlimpro.env.table import load_table
    from rlimpro.synth import load_synth
    from rlimpro.train import load_run

    root, out = Path(root), Path(out)
    run = load_run(run_dir)
    if not run.model_path.is_file():
        raise RlimproError(f"{run.path}: no model.zip; the run did not finish, train it again")
    table = load_table(root / run.table_path)
    if table.sha256 != run.table_sha256:
        raise RlimproError(f"{Path(run.table_path).name}: changed since {run.path.name} was trained; "
                           f"train again (dvc repro) before exporting")
    core = Imitation(run.env, table, run.norm)
    model = run.load_model()
    synth_folder = Layout(root).synth(run.env.synth)
    names = ([p.name for p in load_synth(synth_folder).params] if (synth_folder / "synth.yaml").is_file()
             else [f"p{i}" for i in range(run.env.n_params)])
    proto = build_graph(core, model, policy_metadata(run, names, run.config["analysis"]))
    with atomic_path(out) as tmp:
        onnx.save(proto, str(tmp))
        parity = Parity(0, 0, 0, 0.0)
        if check:
            parity = check_parity(tmp, core, model, n=check, corpus=_corpus_frames(root, run))
            if not parity.ok:
                raise RlimproError(
                    f"{out.name}: the exported graph disagrees with the SB3 policy on {parity.mismatches - parity.ties} "
                    f"of {parity.n} observations (max diff {parity.max_abs_diff:.3g}); please report this")
    return out, parity


def _corpus_frames(root: Path, run: Any) -> np.ndarray | None:
    """Raw corpus frames of the run's selected features, or None when the corpus is not analysed."""
    from rlimpro.descriptors.names import indices
    from rlimpro.env.targets import load_tracks

    try:
        tracks = load_tracks(root, run.env.corpus)
    except RlimproError:
        return None
    idx = indices(run.env.features)
    return np.concatenate([t[:, idx] for t in tracks.values()])


def export(synth: str, params: dict[str, Any], root: str | Path) -> list[Path]:
    """DAG stage ``export@synth``: ``runs/main`` -> ``00_synths/<synth>/policy.onnx``.

    :param synth: synth name.
    :param params: the validated params.yaml (section ``export``: ``check`` observations).
    :param root: project folder.
    :return: the file written.
    """
    layout = Layout(root)
    out, _ = export_run(layout.run(synth), layout.policy(synth), root, check=params["export"]["check"])
    return [out]
