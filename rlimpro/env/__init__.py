"""The imitation environment: an agent moves N synth params to match target descriptors.

- :mod:`rlimpro.env.table`: lookup-table reader, O(1) grid index, multilinear interpolation.
- :mod:`rlimpro.env.actions`: action spaces and the pure-numpy decoder (action -> params).
- :mod:`rlimpro.env.targets`: corpus tracks, train / held-out split, normalisation.
- :mod:`rlimpro.env.core`: the batched numpy env (observation, reward, targets).
- :mod:`rlimpro.env.gym_env`: ``gymnasium.Env`` and SB3 ``VecEnv`` shells.
- :mod:`rlimpro.env.build`: assemble all of it from params.yaml.
"""

from rlimpro.env.actions import decode, make_space
from rlimpro.env.build import Setup, prepare
from rlimpro.env.config import EnvConfig
from rlimpro.env.core import Imitation
from rlimpro.env.gym_env import ImitationEnv, ImitationVecEnv
from rlimpro.env.table import LookupTable, load_table
from rlimpro.env.targets import Normalisation

__all__ = ["EnvConfig", "Imitation", "ImitationEnv", "ImitationVecEnv", "LookupTable", "Normalisation",
           "Setup", "decode", "load_table", "make_space", "prepare"]
