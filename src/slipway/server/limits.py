"""A request body size limit, as a pure ASGI middleware.

API calls are JSON and never need to be huge; a runaway client (or an attacker) must not
make the server buffer gigabytes. The limit is checked twice: against `Content-Length`
before anything is read, and against the bytes actually streamed (chunked uploads send no
length). Artifact uploads stream to storage without buffering, so their own limit is
separate (unlimited by default).
"""

from __future__ import annotations

from collections.abc import Sequence

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from slipway.errors import RequestTooLarge
from slipway.server.errors import error_response

DEFAULT_MAX_BODY_SIZE = 64 * 1024 * 1024
ARTIFACT_PREFIXES = ("/api/2.0/mlflow-artifacts/", "/ajax-api/2.0/mlflow-artifacts/")


class BodyTooLarge(RequestTooLarge):
    """Raised from `receive` once a streamed body passes the limit."""


def _too_large(limit: int) -> BodyTooLarge:
    return BodyTooLarge(
        f"Request body exceeds the server's limit of {limit} bytes. Send smaller batches "
        "(the slipway client splits large calls by itself)."
    )


class BodySizeLimitMiddleware:
    """Answer 413 REQUEST_LIMIT_EXCEEDED for bodies over the limit of their route."""

    def __init__(
        self,
        app: ASGIApp,
        max_body_size: int | None = DEFAULT_MAX_BODY_SIZE,
        artifact_max_body_size: int | None = None,
        artifact_prefixes: Sequence[str] = ARTIFACT_PREFIXES,
    ) -> None:
        self.app = app
        self.max_body_size = max_body_size
        self.artifact_max_body_size = artifact_max_body_size
        self.artifact_prefixes = tuple(artifact_prefixes)

    def _limit_for(self, path: str) -> int | None:
        if path.startswith(self.artifact_prefixes):
            return self.artifact_max_body_size
        return self.max_body_size

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        limit = self._limit_for(scope["path"])
        if limit is None:
            await self.app(scope, receive, send)
            return
        for name, value in scope["headers"]:
            if name == b"content-length":
                try:
                    declared = int(value)
                except ValueError:
                    await error_response(
                        400, "BAD_REQUEST", "Content-Length header is not a number."
                    )(scope, receive, send)
                    return
                if declared > limit:
                    await self._reject(limit, scope, receive, send)
                    return
                break

        received = 0
        started = False

        async def limited_receive() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit:
                    raise _too_large(limit)
            return message

        async def watching_send(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, limited_receive, watching_send)
        except BodyTooLarge:
            if started:
                raise
            await self._reject(limit, scope, receive, send)

    @staticmethod
    async def _reject(limit: int, scope: Scope, receive: Receive, send: Send) -> None:
        err = _too_large(limit)
        await error_response(err.http_status, err.error_code, err.message)(scope, receive, send)


__all__ = ["DEFAULT_MAX_BODY_SIZE", "BodySizeLimitMiddleware", "BodyTooLarge"]
