"""Build a page from ``rlimpro/pages/assets/``: inline its CSS and JS and embed the data as JSON.

Every page is ``page.html``, the one shell, with ``{{title}}``, ``{{css}}`` (``page.css``, then
the page's own styles), ``{{body}}`` (the page's body asset, e.g. ``map.html``), ``{{data}}``
and ``{{js}}``. The data goes in a ``<script type="application/json">`` element, with ``</``
escaped so no value can close it. Nothing is fetched at view time: the page works offline from
the file system.
"""

from __future__ import annotations

import html
import json
import math
from importlib import resources
from pathlib import Path
from typing import Any

import numpy as np

from rlimpro.atomic import write_text

__all__ = ["asset", "jsonable", "render_page", "write_page"]


def asset(name: str) -> str:
    """Text of ``rlimpro/pages/assets/<name>``."""
    return (resources.files("rlimpro") / "pages" / "assets" / name).read_text(encoding="utf-8")


def jsonable(value: Any, digits: int = 5) -> Any:
    """``value`` with numpy arrays and numbers as plain lists and floats (``digits`` significant), NaN/inf as null."""
    if isinstance(value, dict):
        return {str(k): jsonable(v, digits) for k, v in value.items()}
    if isinstance(value, (list, tuple, np.ndarray)):
        return [jsonable(v, digits) for v in (value.tolist() if isinstance(value, np.ndarray) else value)]
    if isinstance(value, (bool, np.bool_)):
        return bool(value)
    if isinstance(value, (int, np.integer)):
        return int(value)
    if isinstance(value, (float, np.floating)):
        v = float(value)
        return float(f"{v:.{digits}g}") if math.isfinite(v) else None
    return value


def render_page(body: str, *, title: str, data: dict[str, Any], scripts: list[str], styles: list[str]) -> str:
    """The page: the shell around the ``body`` asset, with the named assets inlined and ``data`` embedded.

    :param styles: the page's own style sheets (after ``page.css``).
    """
    payload = json.dumps(jsonable(data), separators=(",", ":"), allow_nan=False).replace("</", "<\\/")
    page = asset("page.html")
    for key, value in (("{{body}}", asset(body)), ("{{css}}", "\n".join(asset(s) for s in ["page.css", *styles])),
                       ("{{js}}", "\n".join(asset(s) for s in scripts)),
                       ("{{title}}", html.escape(title)), ("{{data}}", payload)):
        page = page.replace(key, value)
    return page


def write_page(path: Path, body: str, *, title: str, data: dict[str, Any], scripts: list[str],
               styles: list[str]) -> Path:
    """Write the page (see :func:`render_page`) to ``path`` atomically and return the path."""
    return write_text(path, render_page(body, title=title, data=data, scripts=scripts, styles=styles))
