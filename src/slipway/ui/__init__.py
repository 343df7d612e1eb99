"""The web UI: server-rendered pages over the same API the REST routes call.

`slipway server` mounts it at `/` beside the API (`mount_ui`): experiments, runs (table,
page, compare), the model registry (with gated promotion) and monitors. Pages are Jinja2
templates with a light touch of JavaScript: htmx for partial updates and uPlot for curves,
both vendored under `static/` (no CDN, no build step). Handlers live in `pages/`, one
module per thing a person looks at; they call `Client`, the registry store and the
monitoring functions, never SQL.
"""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI
from starlette.staticfiles import StaticFiles

from slipway.ui.context import UiServices

STATIC_PREFIX = "/ui-static"


def mount_ui(app: FastAPI, services: UiServices) -> None:
    """Add the UI's pages and static files to the server `app`."""
    from slipway.ui.pages import compare, experiments, models, monitors, run, runs

    app.state.ui_services = services
    for module in (experiments, runs, run, compare, models, monitors):
        app.include_router(module.router)
    static = Path(__file__).with_name("static")
    app.mount(STATIC_PREFIX, StaticFiles(directory=static), name="ui-static")


__all__ = ["STATIC_PREFIX", "UiServices", "mount_ui"]
