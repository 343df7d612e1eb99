"""The UI's router: failures become an HTML page that says what was wrong, not JSON.

The API answers errors in the MLflow JSON shape (`slipway.server.errors`); a person in a
browser gets the same message, the same HTTP status, and a way back.
"""

from __future__ import annotations

from collections.abc import Callable, Coroutine
from typing import Any

from fastapi import APIRouter
from fastapi.routing import APIRoute
from starlette.requests import Request
from starlette.responses import Response

from slipway.errors import SlipwayError
from slipway.ui.templating import render


class PageRoute(APIRoute):
    """A route whose typed failures render `error.html` with the error's HTTP status."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()

        async def page_handler(request: Request) -> Response:
            try:
                return await handler(request)
            except SlipwayError as exc:
                return render(request, "error.html", status_code=exc.http_status, error=exc)

        return page_handler


def page_router() -> APIRouter:
    """A router for UI pages (no OpenAPI entries, HTML errors)."""
    return APIRouter(route_class=PageRoute, include_in_schema=False)


__all__ = ["PageRoute", "page_router"]
