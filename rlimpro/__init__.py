"""rlimpro: an RL agent that improvises with a live musician through a Pd synth."""

__version__ = "0.1.0"
