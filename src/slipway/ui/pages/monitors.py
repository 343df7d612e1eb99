"""Monitoring: every monitor, and per monitor its drift over time, the latest report,
its windows, and alerts and retrains on one timeline.

The report is the monitor report `slipway monitor report` writes
(`slipway.monitoring.monitor_report`), shown in a sandboxed frame; the windows and events
come from `monitor_status`. Monitoring needs the `monitoring` extra; without it the page
says so.
"""

from __future__ import annotations

from fastapi import Request
from starlette.responses import HTMLResponse, Response

from slipway.errors import InvalidState
from slipway.ui.context import client, monitor_store
from slipway.ui.pages.run import SANDBOX
from slipway.ui.routing import page_router
from slipway.ui.templating import render

router = page_router()
WINDOWS_SHOWN = 100


def _status(request: Request, name: str):  # type: ignore[no-untyped-def]
    try:
        from slipway.monitoring.monitors import monitor_status
    except ImportError as exc:
        raise InvalidState(
            f"Monitoring is not installed here ({exc.name} is missing): "
            "pip install 'slipway[monitoring]'."
        ) from None
    return monitor_status(name, limit=WINDOWS_SHOWN, client=client(request))


@router.get("/monitors")
def monitors_page(request: Request) -> Response:
    monitors = sorted(monitor_store(request).list_monitors(), key=lambda m: m.name)
    return render(request, "monitors.html", monitors=monitors)


@router.get("/monitors/{name}")
def monitor_page(request: Request, name: str) -> Response:
    status = _status(request, name)
    windows = sorted(status.windows, key=lambda w: w.window_start, reverse=True)
    events = sorted(status.events, key=lambda e: e.timestamp, reverse=True)
    return render(
        request,
        "monitor.html",
        status=status,
        monitor=status.monitor,
        windows=windows,
        events=events,
        pending=status.monitor.state.get("pending_approval"),
    )


@router.get("/monitors/{name}/report")
def monitor_report(request: Request, name: str) -> Response:
    from slipway.monitoring.monitor_report import render_monitor_report

    html = render_monitor_report(_status(request, name))
    return HTMLResponse(html, headers={"Content-Security-Policy": SANDBOX})


__all__ = ["router"]
