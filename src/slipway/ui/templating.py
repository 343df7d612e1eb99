"""Rendering pages: one Jinja2 environment over the package's templates, and its filters.

An htmx request (header `HX-Request`) for a page that names a `fragment` block gets only
that block, so the runs table, its filter errors and the promotion dialog update in place
without a separate template for each partial.
"""

from __future__ import annotations

import datetime as dt
import math
from typing import Any

from jinja2 import Environment, PackageLoader, select_autoescape
from starlette.requests import Request
from starlette.responses import HTMLResponse

from slipway._version import __version__

_env = Environment(
    loader=PackageLoader("slipway.ui", "templates"),
    autoescape=select_autoescape(["html"]),
    trim_blocks=True,
    lstrip_blocks=True,
)


def when(ms: int | float | None) -> str:
    """Epoch milliseconds as UTC `YYYY-MM-DD HH:MM`."""
    if ms is None:
        return "—"
    return dt.datetime.fromtimestamp(ms / 1000, dt.UTC).strftime("%Y-%m-%d %H:%M")


def ago(ms: int | float | None, now_ms: float | None = None) -> str:
    """How long ago, in the largest whole unit ("3 h ago")."""
    if ms is None:
        return "never"
    now = now_ms if now_ms is not None else dt.datetime.now(dt.UTC).timestamp() * 1000
    seconds = max(0.0, (now - ms) / 1000)
    for unit, size in (("d", 86400), ("h", 3600), ("min", 60)):
        if seconds >= size:
            return f"{int(seconds // size)} {unit} ago"
    return "just now"


def duration(start: int | None, end: int | None) -> str:
    if start is None or end is None:
        return "—"
    seconds = max(0, (end - start) / 1000)
    if seconds < 60:
        return f"{seconds:.1f} s"
    if seconds < 3600:
        return f"{seconds / 60:.1f} min"
    return f"{seconds / 3600:.1f} h"


def number(value: Any) -> str:
    """A metric value short enough for a table cell, exact enough to compare."""
    if value is None or value == "":
        return ""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return str(value)
    if isinstance(value, float) and not math.isfinite(value):
        return str(value)
    if isinstance(value, int) or (float(value).is_integer() and abs(value) < 1e15):
        return f"{int(value):d}"
    return f"{value:.6g}"


def size(n: int | None) -> str:
    if n is None:
        return ""
    step = 1024.0
    for unit in ("B", "KB", "MB", "GB"):
        if n < step:
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n = n / step  # type: ignore[assignment]
    return f"{n:.1f} TB"


_env.filters.update(when=when, ago=ago, duration=duration, number=number, size=size)
_env.globals.update(version=__version__)


def render(
    request: Request,
    template: str,
    status_code: int = 200,
    fragment: str | None = None,
    **context: Any,
) -> HTMLResponse:
    """The page `template` (or only its block `fragment` for an htmx request)."""
    page = _env.get_template(template)
    context = {"request": request, "path": request.url.path, **context}
    if fragment and request.headers.get("HX-Request") and fragment in page.blocks:
        ctx = page.new_context(context)
        body = "".join(page.blocks[fragment](ctx))
    else:
        body = page.render(context)
    return HTMLResponse(body, status_code=status_code)


__all__ = ["ago", "duration", "number", "render", "size", "when"]
