"""Export parity: policy.onnx == SB3 deterministic predict + the env's numpy decoder."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import onnx
import pytest

from rlimpro.descriptors.names import indices
from rlimpro.env.core import Imitation
from rlimpro.env.synthetic import write_synthetic_project
from rlimpro.env.table import load_table
from rlimpro.env.targets import load_tracks
from rlimpro.errors import RlimproError
from rlimpro.export import check_parity, export_run
from rlimpro.layout import Layout
from rlimpro.live.policy import Policy
from rlimpro.settings import defaults
from rlimpro.train import load_run, train

CONFIGS = [
    pytest.param("avi", "discrete", False, "all", id="avi-discrete-nearest-all"),
    pytest.param("dqn", "discrete", False, "axis", id="dqn-discrete-nearest-axis", marks=pytest.mark.slow),
    pytest.param("dqn", "discrete", True, "none", id="dqn-discrete-interp-none", marks=pytest.mark.slow),
    pytest.param("ppo", "multidiscrete", False, "axis", id="ppo-multidiscrete-nearest-axis", marks=pytest.mark.slow),
    pytest.param("a2c", "discrete", True, "all", id="a2c-discrete-interp-all", marks=pytest.mark.slow),
    pytest.param("ppo", "continuous", True, "all", id="ppo-continuous-interp-all", marks=pytest.mark.slow),
    pytest.param("sac", "continuous", True, "none", id="sac-continuous-interp-none", marks=pytest.mark.slow),
    pytest.param("td3", "continuous", True, "axis", id="td3-continuous-interp-axis", marks=pytest.mark.slow),
    pytest.param("avi", "discrete", False, "all", {"reach": 2, "move_cost_per": "move"}, id="avi-discrete-reach2-per-move"),
    pytest.param("avi", "discrete", False, "all", {"move_cost_per": "move", "reversal_cost": 0.2},
                 id="avi-discrete-per-move-reversal"),
    pytest.param("avi", "discrete", False, "all", {"silence_gate": "median"}, id="avi-discrete-silence-gate"),
    pytest.param("ppo", "multidiscrete", False, "all", {"silence_gate": "median"}, id="ppo-multidiscrete-silence-gate",
                 marks=pytest.mark.slow),
    pytest.param("dqn", "discrete", False, "axis", {"reversal_cost": 0.2}, id="dqn-discrete-nearest-axis-reversal",
                 marks=pytest.mark.slow),
    pytest.param("ppo", "continuous", True, "all", {"reversal_cost": 0.2, "target_smoothing": 0.0},
                 id="ppo-continuous-interp-all-reversal-unsmoothed", marks=pytest.mark.slow),
    pytest.param("ppo", "multidiscrete", False, "all", {"reach": 2}, id="ppo-multidiscrete-nearest-all-reach2",
                 marks=pytest.mark.slow),
    pytest.param("sac", "continuous", True, "none", {"reach": 2}, id="sac-continuous-interp-none-reach2",
                 marks=pytest.mark.slow),
]


def _trained(root: Path, algo: str, space: str, interpolate: bool, neighbours: str, env: dict | None = None) -> Path:
    """A synthetic project in ``root`` with a briefly trained run; returns the run folder.

    ``env`` overrides params.yaml's env section; ``silence_gate: "median"`` puts the gate at the
    first track's median loudness, so that half its frames are pauses.
    """
    write_synthetic_project(root, synth="toy", n_params=3, subdiv=6, n_tracks=3, frames=200)
    if (env or {}).get("silence_gate") == "median":
        loudness = next(iter(load_tracks(root, "demo").values()))[:, indices(["loudness"])[0]]
        env = {**env, "silence_gate": float(np.median(loudness))}
    params = defaults()
    params["train"].update(algo=algo, action_space=space, total_timesteps=1200, n_envs=4)
    algos = params["train"]["algos"]
    for name in ("avi", "dqn", "sac", "td3"):
        algos[name]["learning_starts"] = 200
    algos["ppo"].update(n_steps=64, batch_size=64)
    params["env"].update({"interpolate": interpolate, "neighbours": neighbours,
                          "move_cost": 0.1,  # cheap: the brief agent moves
                          **(env or {})})
    train("toy", params, root)
    return Layout(root).run("toy")


def _exported_default(root: Path):
    """The DAG's default run trained and exported (unchecked) in ``root``.

    :return: the ONNX path, the loaded run, its env core and its SB3 model.
    """
    run_dir = _trained(root, "avi", "discrete", False, "all")
    out, _ = export_run(run_dir, root / "policy.onnx", root, check=0)
    run = load_run(run_dir)
    core = Imitation(run.env, load_table(root / run.table_path), run.norm)
    return out, run, core, run.load_model()


@pytest.mark.parametrize(("algo", "space", "interpolate", "neighbours", "env"),
                         [pytest.param(*c.values, *([{}] * (5 - len(c.values))), id=c.id, marks=c.marks) for c in CONFIGS])
def test_export_matches_sb3(tmp_path: Path, algo: str, space: str, interpolate: bool, neighbours: str,
                            env: dict) -> None:
    run_dir = _trained(tmp_path, algo, space, interpolate, neighbours, env)
    out, parity = export_run(run_dir, tmp_path / "policy.onnx", tmp_path, check=10_000)
    assert parity.n == 10_000 and parity.ok, parity
    assert parity.max_abs_diff <= (1e-5 if space == "continuous" else 0.0) or parity.ties
    model = onnx.load(str(out))
    onnx.checker.check_model(model, full_check=True)
    calm = ["calm"] if algo == "avi" else []  # the decision weighs its costs explicitly: the calm knob scales them
    assert [i.name for i in model.graph.input] == ["target", "params", "intent", *calm, "state"]  # the defaults'
    assert ("calm_default" in {p.key for p in model.metadata_props}) == bool(calm)
    assert [o.name for o in model.graph.output] == ["params_next", "state_next"]
    assert not any(init.data_location == onnx.TensorProto.EXTERNAL for init in model.graph.initializer)
    meta = {p.key: p.value for p in model.metadata_props}
    assert (meta["algo"], meta["action_space"], meta["synth"], meta["n_params"]) == (algo, space, "toy", "3")
    expected = {**defaults()["env"], **env}
    assert meta.get("reach", "1") == str(expected["reach"])
    assert meta.get("move_cost_per", "parameter") == expected["move_cost_per"]
    sizes = {"smoothing": 8 * (expected["target_smoothing"] > 0), "last moves": 3 * bool(expected["reversal_cost"])}
    assert meta["state_size"] == str(sum(sizes.values())), sizes
    assert ("silence_gate" in meta) == (expected["silence_gate"] is not None)
    assert meta["features"] == "loudness,centroid,spread,skewness,kurtosis,rolloff,flatness,crest"
    assert sorted(tmp_path.glob("*.onnx")) == [out]  # one file, no external data beside it
    raw = out.read_bytes()  # the same bytes wherever and from whichever source line it is exported
    assert str(Path(__file__).resolve().parents[2]).encode() not in raw and b"stack_trace" not in raw


@pytest.mark.parametrize(("intent", "env"), [(1.0, {}), (-0.5, {}), (1.0, {"reversal_cost": 0.2}),
                                             (1.0, {"silence_gate": "median"})],
                         ids=["imitate", "intent-0.5", "reversal-cost", "silence-gate"])
def test_live_policy_plays_the_evaluations_trajectory(tmp_path: Path, intent: float, env: dict) -> None:
    """The live Policy, stepping a corpus track with its own params, state and intent, plays
    exactly the trajectory the evaluation's rollout of the SB3 agent plays (what metrics.json
    reports is what the agent does live)."""
    from rlimpro.env.behaviour import goal, last_moves, smooth_track
    from rlimpro.evaluate import agent_policy, rollout

    run_dir = _trained(tmp_path, "avi", "discrete", False, "all", env)
    out, _ = export_run(run_dir, tmp_path / "policy.onnx", tmp_path, check=0)
    run = load_run(run_dir)
    core = Imitation(run.env, load_table(tmp_path / run.table_path), run.norm)
    assert run.env.target_smoothing > 0 and run.env.intent  # the shipped defaults exercise both
    idx = indices(run.env.features)
    frames = next(iter(load_tracks(tmp_path, "demo").values()))[:, idx].astype(np.float32)
    y = run.norm.apply(frames.astype(np.float64))
    assert core.gate is None or 0.3 < (y[:, core.gate[0]] < core.gate[1]).mean() < 0.7
    smoothed, lead = smooth_track(y, run.env.target_smoothing, core.gate)
    _, traj = rollout(core, agent_policy(run, intent), goal(smoothed, intent), goal(lead, intent), np.zeros((len(y), 3)))
    live = Policy(out)
    assert live.set_knob("intent", intent)
    start = np.asarray(run.env.initial_params, np.float32)
    np.testing.assert_array_equal(live.params, start)
    last = np.zeros((1, 3))
    for t, frame in enumerate(frames):
        before = live.params.astype(np.float64)
        # the same moves; the host's float32 params may sit an ulp off the float64 grid
        np.testing.assert_allclose(live.step(frame), traj[t], rtol=0, atol=1e-6, err_msg=f"frame {t}")
        np.testing.assert_array_equal(live.state[:len(idx)], smoothed[t].astype(np.float32))
        if env.get("reversal_cost"):
            last = last_moves(last, before[None], live.params[None].astype(np.float64))
            np.testing.assert_array_equal(live.state[len(idx):], last[0].astype(np.float32))
    assert (np.diff(traj, axis=0) != 0).any()  # the agent did something along the track
    live.reset()
    assert not live.state.any()
    # a caller that feeds only target and params gets the defaults (intent 1, zero state), at any batch
    batch = live.run_batch(frames[:7], np.repeat(live.params[None], 7, axis=0))
    assert batch.shape == (7, 3) and np.isfinite(batch).all()


def test_parity_check_catches_a_wrong_graph(tmp_path: Path) -> None:
    """A policy exported from another run (different weights) must fail the check."""
    out, _, core, model = _exported_default(tmp_path)
    for param in model.policy.q_net.parameters():
        param.data.normal_()
    assert not check_parity(out, core, model, n=2000).ok


def test_changed_table_is_refused(tmp_path: Path) -> None:
    run_dir = _trained(tmp_path, "dqn", "discrete", False, "all")
    table = Layout(tmp_path).lookup("toy")
    write_synthetic_project(tmp_path, synth="toy", n_params=3, subdiv=6, n_tracks=3, frames=200, seed=5)
    assert table.is_file()
    with pytest.raises(RlimproError, match="lookup.parquet: changed since main was trained"):
        export_run(run_dir, tmp_path / "policy.onnx", tmp_path, check=0)
    assert not (tmp_path / "policy.onnx").exists()


def test_a_seek_run_is_refused_with_a_clear_error(tmp_path: Path) -> None:
    """The graph has no nearest-point search: a run observing seek offsets cannot be exported."""
    run_dir = _trained(tmp_path, "dqn", "discrete", False, "all", {"seek": True})
    with pytest.raises(RlimproError, match="env.seek are not exportable"):
        export_run(run_dir, tmp_path / "policy.onnx", tmp_path, check=0)
    assert not (tmp_path / "policy.onnx").exists()


def test_calm_scales_the_costs_the_agent_weighs(tmp_path: Path) -> None:
    """At calm c the live policy plays the SB3 agent whose move and reversal costs are times 1 + c/2:
    the same trajectory along a corpus track; busier below 0, calmer above; clipped to [-1, 1]."""
    import torch

    from rlimpro.env.behaviour import goal, smooth_track
    from rlimpro.evaluate import rollout

    run_dir = _trained(tmp_path, "avi", "discrete", False, "all", {"move_cost": 0.3, "reversal_cost": 0.2})
    out, _ = export_run(run_dir, tmp_path / "policy.onnx", tmp_path, check=0)
    run = load_run(run_dir)
    core = Imitation(run.env, load_table(tmp_path / run.table_path), run.norm)
    model = run.load_model()
    idx = indices(run.env.features)
    frames = np.concatenate(list(load_tracks(tmp_path, "demo").values()))[:400, idx].astype(np.float32)
    smoothed, lead = smooth_track(run.norm.apply(frames.astype(np.float64)), run.env.target_smoothing)
    live = Policy(out)
    assert live.info.calm_default == 0.0 and live.calm is not None
    moves = {}
    for calm in (-1.0, -0.3, 0.0, 0.7, 1.0):
        def agent(core: Imitation, f, scale: float = 1.0 + calm / 2) -> np.ndarray:
            obs = torch.as_tensor(core.observe(f.params, f.target, 1.0, f.lead, f.last), dtype=torch.float32)
            with torch.no_grad():
                return model.q_net(obs, scale).argmax(dim=1).numpy()

        _, traj = rollout(core, agent, goal(smoothed, 1.0), goal(lead, 1.0), np.zeros((len(frames), 3)))
        live.reset()
        assert live.set_knob("calm", calm)
        played = np.array([live.step(frame) for frame in frames])
        np.testing.assert_allclose(played, traj, rtol=0, atol=1e-6, err_msg=f"calm {calm}")
        moves[calm] = int((np.diff(played, axis=0) != 0).any(axis=1).sum())
    assert moves[-1.0] > moves[0.0] > moves[1.0], moves  # the knob does what it says
    assert live.set_knob("calm", 7.0) and live.calm[0] == 1.0  # clipped
    assert not live.set_knob("calm", float("nan")) and live.calm[0] == 1.0  # refused, unchanged
    # a caller that feeds no calm gets 0: the trained agent
    params = np.repeat(live.info.initial_params[None], 50, axis=0)
    np.testing.assert_array_equal(live.run_batch(frames[:50], params),
                                  live.run_batch(frames[:50], params, calm=np.zeros((50, 1), np.float32)))


def test_a_policy_without_costs_has_no_calm(tmp_path: Path) -> None:
    """No move or reversal cost: nothing to scale, so no calm input, and --calm is refused in one line."""
    from rlimpro.live.policy import check_knob

    run_dir = _trained(tmp_path, "avi", "discrete", False, "all", {"move_cost": 0.0, "reversal_cost": 0.0})
    out, _ = export_run(run_dir, tmp_path / "policy.onnx", tmp_path, check=0)
    live = Policy(out)
    assert live.info.calm_default is None and live.calm is None and not live.set_knob("calm", 0.5)
    with pytest.raises(RlimproError, match="has no calm input; train with train.algo: avi and a move or reversal cost"):
        check_knob(live.info, "calm", 0.5)
