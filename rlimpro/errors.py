"""The one exception type for user mistakes and bad input.

Anything raised as :class:`RlimproError` is shown by the CLI as a short message (at most
three lines, no traceback unless ``--verbose``). Messages name the file or value at fault
and say what to do, e.g. ``"take.wav: not an audio file (no RIFF header); convert it to WAV"``.
"""

from __future__ import annotations


class RlimproError(Exception):
    """A user-facing error: bad input, a missing file, a wrong setting."""
