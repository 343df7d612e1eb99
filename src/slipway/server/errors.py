"""Every failure the server answers, as the MLflow protocol's `{"error_code", "message"}`.

A typed `SlipwayError` keeps its own status and code. Unknown routes are
ENDPOINT_NOT_FOUND (the mlflow client falls back to another endpoint on that code only),
malformed input is a 400, and anything unexpected is a logged 500 INTERNAL_ERROR. Bad
input must never be a 5xx: the mlflow client retries 5xx answers for minutes.
"""

from __future__ import annotations

import logging
from typing import Any

import orjson
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.responses import Response

from slipway.errors import SlipwayError

logger = logging.getLogger("slipway.server")

_CODE_FOR_STATUS = {
    400: "BAD_REQUEST",
    401: "UNAUTHENTICATED",
    403: "PERMISSION_DENIED",
    404: "ENDPOINT_NOT_FOUND",
    405: "ENDPOINT_NOT_FOUND",
    413: "REQUEST_LIMIT_EXCEEDED",
    415: "BAD_REQUEST",
    429: "REQUEST_LIMIT_EXCEEDED",
    503: "TEMPORARILY_UNAVAILABLE",
}


def error_response(status: int, error_code: str, message: str) -> Response:
    """The protocol's error body with `status`."""
    body = orjson.dumps({"error_code": error_code, "message": message})
    return Response(body, status_code=status, media_type="application/json")


def _describe_validation(errors: list[dict[str, Any]]) -> str:
    parts = []
    for err in errors[:5]:
        where = ".".join(str(p) for p in err.get("loc", ()) if p not in ("body", "query"))
        parts.append(f"{where or 'request'}: {err.get('msg', 'invalid value')}")
    return "Invalid request: " + "; ".join(parts)


async def _slipway_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, SlipwayError)
    if exc.http_status >= 500:
        logger.error("%s %s failed: %s", request.method, request.url.path, exc.message)
    return error_response(exc.http_status, exc.error_code, exc.message)


async def _validation_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, RequestValidationError)
    return error_response(400, "INVALID_PARAMETER_VALUE", _describe_validation(exc.errors()))


async def _http_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, StarletteHTTPException)
    status = exc.status_code
    code = _CODE_FOR_STATUS.get(status, "INTERNAL_ERROR" if status >= 500 else "BAD_REQUEST")
    if status in (404, 405):
        message = f"No endpoint {request.method} {request.url.path} on this slipway server."
    else:
        message = str(exc.detail)
    return error_response(status, code, message)


async def _unexpected_error(request: Request, exc: Exception) -> Response:
    logger.exception("Unexpected error in %s %s", request.method, request.url.path)
    return error_response(
        500,
        "INTERNAL_ERROR",
        f"The server failed to handle {request.method} {request.url.path} "
        f"({exc.__class__.__name__}); see the server log for details.",
    )


async def error_answer(request: Request, exc: Exception) -> Response:
    """The answer the installed handlers give for `exc`, for code that runs outside
    FastAPI's routing (`slipway.server.dispatch`)."""
    if isinstance(exc, SlipwayError):
        return await _slipway_error(request, exc)
    if isinstance(exc, StarletteHTTPException):
        return await _http_error(request, exc)
    return await _unexpected_error(request, exc)


def install_error_handlers(app: FastAPI) -> None:
    """Make every failure answer in the MLflow error shape."""
    app.add_exception_handler(SlipwayError, _slipway_error)
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(StarletteHTTPException, _http_error)
    app.add_exception_handler(Exception, _unexpected_error)


__all__ = ["error_answer", "error_response", "install_error_handlers"]
