"""What every algorithm module provides: its model factory and its export hook.

An algorithm is one module under :mod:`rlimpro.algos` that defines ``ALGORITHM``, an
:class:`Algorithm`. Training asks it for a model (:meth:`Algorithm.make_model`, or the class
to load a saved one), export asks it for the torch network that decides
(:meth:`Algorithm.export_module`). The graph around that network is chosen by
:attr:`Algorithm.policy`:

- ``"mlp"``: the network reads the env's whole observation and the graph decodes its output
  per action space (:func:`rlimpro.env.actions.decode`): SB3's MLP policies;
- ``"afterstate"``: the network reads the observation's parts and scores every reachable
  grid row, the graph moves to the best (``avi``).

Heavy imports (torch, stable-baselines3) happen inside the methods, so that the registry can be
read by the settings schema without them.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

__all__ = ["Algorithm", "wrap"]


class Algorithm:
    """An SB3 algorithm with an ``MlpPolicy``; subclasses override what differs.

    :param name: the name in params.yaml (``train.algo``).
    :param spaces: the action spaces it supports.
    :param sb3_class: the class's name in :mod:`stable_baselines3` (for SB3's own algorithms).
    """

    #: which graph wraps the exported network (see the module docstring)
    policy = "mlp"

    def __init__(self, name: str, spaces: tuple[str, ...], sb3_class: str = "") -> None:
        self.name, self.spaces, self._sb3_class = name, spaces, sb3_class

    def model_class(self) -> Any:
        """The model class (also used to load a saved ``model.zip``)."""
        import stable_baselines3

        return getattr(stable_baselines3, self._sb3_class)

    def load(self, path: Path, **kwargs: Any) -> Any:
        """A saved model (SB3's ``load`` of :meth:`model_class`, keywords passed on)."""
        return self.model_class().load(path, **kwargs)

    def check(self, core: Any) -> None:
        """Refuse an env this algorithm cannot train on (:class:`~rlimpro.errors.RlimproError`)."""

    def make_model(self, core: Any, env: Any, train: dict[str, Any], tb_dir: Path) -> Any:
        """A fresh model for ``env``.

        :param core: the run's :class:`~rlimpro.env.core.Imitation`.
        :param env: the batched training env.
        :param train: the run's ``train`` section (seed, ``algos.<name>`` keywords, ``policy_kwargs``).
        :param tb_dir: TensorBoard folder.
        """
        return self.model_class()("MlpPolicy", env, **self._common(train, tb_dir, dict(train["policy_kwargs"])))

    def _common(self, train: dict[str, Any], tb_dir: Path, policy_kwargs: dict[str, Any]) -> dict[str, Any]:
        """The constructor keywords every algorithm takes from the ``train`` section."""
        return {"seed": train["seed"], "device": "cpu", "tensorboard_log": str(tb_dir),
                "policy_kwargs": policy_kwargs or None, "verbose": 0, **train["algos"][self.name]}

    def network(self, model: Any) -> Any:
        """A torch module ``obs [B, obs_dim] -> net_out``: what ``predict(deterministic=True)``
        computes before the env's action decoding (Q-values, logits or the action)."""
        raise NotImplementedError

    def export_module(self, model: Any, core: Any) -> tuple[Any, dict[str, Any]]:
        """The export hook: the torch module to export and its example inputs (name -> tensor)."""
        import torch

        return self.network(model), {"obs": torch.zeros(1, core.obs_dim)}


def wrap(name: str, module: Any, forward: Any) -> Any:
    """A torch module ``obs -> forward(module, obs)`` in eval mode, holding ``module`` as
    attribute ``name`` (the exported weights' names start with it)."""
    import torch

    class Net(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            setattr(self, name, module)

        def forward(self, obs: torch.Tensor) -> torch.Tensor:
            return forward(getattr(self, name), obs)

    return Net().eval()
