"""rlimpro: an RL agent that improvises with a live musician through a Pd synth."""

import os

# One BLAS/OpenMP thread per process, set before numpy loads: rlimpro parallelises with
# processes (files, render chunks, envs), multi-threaded BLAS only slows that down on small
# machines, and it changes the last bits of matrix products, so artifacts would differ
# between machines with different core counts. An explicit setting in the environment wins.
for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

__version__ = "0.1.0"
