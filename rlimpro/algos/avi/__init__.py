"""``avi``: afterstate value iteration, the default (:mod:`rlimpro.algos.avi.afterstate`).

It needs the grid: discrete moves to every neighbour (``env.neighbours: all``), of whole grid
cells, without interpolation. Its export hook is the Q-network's head: the graph feeds it the
observation's parts and the rows each move lands on, and moves to the best one.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from rlimpro.algos.dqn import QLearning
from rlimpro.errors import RlimproError


class _AVI(QLearning):
    policy = "afterstate"

    def model_class(self) -> Any:
        from rlimpro.algos.avi.afterstate import AfterstateDQN

        return AfterstateDQN

    def load(self, path: Path, **kwargs: Any) -> Any:
        """A saved model; its policy class is given rather than unpickled, so that runs saved
        before the model moved here (from ``rlimpro.afterstate``) still load."""
        from rlimpro.algos.avi.afterstate import AfterstatePolicy

        return super().load(path, custom_objects={"policy_class": AfterstatePolicy}, **kwargs)

    def check(self, core: Any) -> None:
        if core.cfg.neighbours != "all" or not core.on_grid:
            raise RlimproError("params.yaml: train.algo avi needs env.neighbours: all, discrete actions, "
                               "interpolate: false and a whole number of env.step_cells")

    def make_model(self, core: Any, env: Any, train: dict[str, Any], tb_dir: Path) -> Any:
        from rlimpro.algos.avi.afterstate import grid_spec

        gamma = float(train["algos"][self.name].get("gamma", 0.99))  # a free-form SB3 kwarg: SB3's default when absent
        policy_kwargs = {**train["policy_kwargs"], "grid": grid_spec(core, gamma)}
        kwargs = self._common(train, tb_dir, policy_kwargs)
        if core.cfg.reward_target == "line":
            from rlimpro.algos.avi.afterstate import LineReplayBuffer

            if gamma <= 0:
                raise RlimproError("params.yaml: env.reward_target: line needs train.algos.avi.gamma > 0 (the value "
                                   "learns where the line is); use gamma 0.5, or reward_target: heard")
            kwargs.update(replay_buffer_class=LineReplayBuffer,
                          replay_buffer_kwargs={"n_features": len(core.cfg.features)})
        model = self.model_class()("AfterstatePolicy", env, **kwargs)
        model.attach(core.points, core.weights)
        return model

    def export_module(self, model: Any, core: Any) -> tuple[Any, dict[str, Any]]:
        """The Q-network's head (:class:`~rlimpro.algos.avi.afterstate.AfterstateHead`)."""
        import torch

        from rlimpro.algos.avi.afterstate import AfterstateHead

        k = len(core.moves)
        f = len(core.cfg.features) * (2 if core.lead else 1) + (1 if core.cfg.intent else 0)
        examples = {"x": torch.zeros(1, f), "d": torch.zeros(1, k), "rows": torch.zeros(1, k, dtype=torch.int64),
                    "cost": torch.zeros(1, k)}
        return AfterstateHead(model.policy.q_net).eval(), examples


ALGORITHM = _AVI("avi", ("discrete",))
