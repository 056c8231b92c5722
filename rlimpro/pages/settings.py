"""The pages' knobs: params.yaml's ``pages:`` section (schema and defaults: :class:`rlimpro.settings.Pages`)."""

from __future__ import annotations

from typing import Any

from rlimpro.errors import RlimproError
from rlimpro.settings import Pages

__all__ = ["PageSettings", "page_settings"]

#: what the map and report pages show and cost (the ``pages`` section, typed)
PageSettings = Pages


def page_settings(params: dict[str, Any]) -> Pages:
    """The ``pages`` section of validated params.

    :raises RlimproError: on a value out of range.
    """
    settings = Pages(**params["pages"])
    if settings.max_points < 4 or not 0.05 <= settings.clip_s <= 10 or settings.duet_s <= 0:
        raise RlimproError("params.yaml: pages needs max_points >= 4, clip_s in 0.05..10 s and duet_s > 0")
    return settings
