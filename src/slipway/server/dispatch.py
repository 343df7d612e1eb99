"""Direct dispatch of the protocol's plain routes, in front of FastAPI's router.

Most protocol calls are: the request's fields in, one store call, JSON out. For those,
FastAPI's routing (it walks the included routers in order, twice per request), its
dependency solving and its endpoint plumbing cost several times the store call itself
(measured in benchmarks/RESULTS.md). `DirectDispatch`
is an ASGI middleware with a dict from (method, path) to such a route function. It calls
the same function with the same inputs (the `request_fields` / `raw_body` /
`tracking_store` dependencies), in a worker thread as FastAPI would, and answers errors
through the app's own exception handlers. Any request it has no entry for (routes with
path parameters or other inputs, HEAD, unknown paths) goes to FastAPI unchanged.
Searches run at most `max_concurrent_searches` at a time (see below): reads must not
starve writes.
"""

from __future__ import annotations

import inspect
import os
import typing
from collections.abc import Awaitable, Callable, Iterable, Sequence
from typing import Any

import anyio.to_thread
from fastapi import APIRouter
from fastapi.routing import APIRoute
from starlette.requests import Request
from starlette.responses import Response
from starlette.types import ASGIApp, Receive, Scope, Send

from slipway.server.errors import error_answer
from slipway.server.protocol import (
    RawBody,
    RequestFields,
    Store,
    raw_body,
    request_fields,
    tracking_store,
)

Provider = Callable[[Request], Awaitable[Any]]
Endpoint = tuple[Callable[..., Response], tuple[Provider, ...]]

# The inputs a directly dispatched route may take, and the dependency computing each.
_PROVIDERS: tuple[tuple[Any, Provider], ...] = (
    (RequestFields, request_fields),
    (RawBody, raw_body),
    (Store, tracking_store),
)


def _providers(endpoint: Callable[..., Any]) -> tuple[Provider, ...] | None:
    """The dependencies that give each parameter of `endpoint`, or None if one is not ours."""
    if inspect.iscoroutinefunction(endpoint):
        return None  # async routes are cheap in FastAPI already
    try:
        hints = typing.get_type_hints(endpoint, include_extras=True)
    except (NameError, TypeError):
        return None
    out = []
    for name in inspect.signature(endpoint).parameters:
        hint = hints.get(name)
        provider = next((dep for kind, dep in _PROVIDERS if hint is kind), None)
        if provider is None:
            return None
        out.append(provider)
    return tuple(out)


def direct_routes(mounts: Iterable[tuple[str, APIRouter]]) -> dict[tuple[str, str], Endpoint]:
    """The table for `DirectDispatch` from routers as the app includes them, in order.

    A route with a fixed path and only the inputs above gets an entry, unless an earlier
    route (which FastAPI would try first) could also match its method and path.
    """
    table: dict[tuple[str, str], Endpoint] = {}
    earlier: list[tuple[Any, frozenset[str], str]] = []  # routes with path parameters
    for prefix, router in mounts:
        for route in router.routes:
            if not isinstance(route, APIRoute):
                continue
            methods = frozenset(route.methods or ())
            path = prefix + route.path
            if "{" in route.path:
                earlier.append((route.path_regex, methods, prefix))
                continue
            providers = _providers(route.endpoint)
            if providers is None:
                continue
            for method in methods:
                shadowed = any(
                    method in their_methods
                    and path.startswith(their_prefix)
                    and regex.match(path[len(their_prefix) :])
                    for regex, their_methods, their_prefix in earlier
                )
                if not shadowed:
                    table.setdefault((method, path), (route.endpoint, providers))
    return table


# Searches read many rows and encode big answers: CPU-heavy next to a write's few
# statements. At most this many run at once per worker; the rest wait on the event loop
# (no thread, no GIL), so writes never queue behind a crowd of readers.
MAX_CONCURRENT_SEARCHES_ENV = "SLIPWAY_SERVER_MAX_CONCURRENT_SEARCHES"
DEFAULT_MAX_CONCURRENT_SEARCHES = 2


def is_search(path: str) -> bool:
    """Whether a protocol path is a search (runs, experiments, models, versions...)."""
    return path.endswith("/search") or path.endswith("/search-datasets")


class DirectDispatch:
    """ASGI middleware answering the routes of `table` without FastAPI's router."""

    def __init__(
        self,
        app: ASGIApp,
        table: dict[tuple[str, str], Endpoint],
        max_concurrent_searches: int | None = None,
    ) -> None:
        self.app = app
        self.table = table
        if max_concurrent_searches is None:
            raw = os.environ.get(MAX_CONCURRENT_SEARCHES_ENV, "")
            max_concurrent_searches = int(raw) if raw.isdigit() else DEFAULT_MAX_CONCURRENT_SEARCHES
        self.max_concurrent_searches = max(1, max_concurrent_searches)
        self._search_limiter: anyio.CapacityLimiter | None = None  # made inside the loop

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        endpoint = (
            self.table.get((scope["method"], scope["path"])) if scope["type"] == "http" else None
        )
        if endpoint is None:
            await self.app(scope, receive, send)
            return
        function, providers = endpoint
        request = Request(scope, receive)
        limiter = self._limiter() if is_search(scope["path"]) else None
        try:
            args: Sequence[Any] = [await provide(request) for provide in providers]
            response = await anyio.to_thread.run_sync(function, *args, limiter=limiter)
        except Exception as exc:
            response = await error_answer(request, exc)
        await response(scope, receive, send)

    def _limiter(self) -> anyio.CapacityLimiter:
        if self._search_limiter is None:
            self._search_limiter = anyio.CapacityLimiter(self.max_concurrent_searches)
        return self._search_limiter


__all__ = ["DirectDispatch", "direct_routes", "is_search"]
