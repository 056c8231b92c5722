"""``python -m rlimpro`` = the ``rlimpro`` command."""

from rlimpro.cli import main

main()
