"""`RestSession`: HTTP to one slipway (or MLflow) server, shared by everything that talks
to it: the tracking and registry stores and the artifact proxy client.

One keep-alive `httpx.Client` per server; retries of what never reached the server or
was refused (429, 503); auth from the URL's `user:password`, `SLIPWAY_TRACKING_TOKEN`
(bearer) or `SLIPWAY_TRACKING_USERNAME`/`SLIPWAY_TRACKING_PASSWORD`; and the only place
an HTTP error turns back into the typed `SlipwayError` the server raised.
`shared_session(url)` hands out one session per server and credentials per process.
"""

from __future__ import annotations

import io
import os
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Mapping
from contextlib import ExitStack, contextmanager
from typing import Any, BinaryIO
from urllib.parse import urlsplit, urlunsplit

import httpx
import orjson

from slipway._version import __version__
from slipway.errors import EndpointNotFound, ServerUnavailable, ServerUnreachable, SlipwayError

TOKEN_ENV = "SLIPWAY_TRACKING_TOKEN"
USERNAME_ENV = "SLIPWAY_TRACKING_USERNAME"
PASSWORD_ENV = "SLIPWAY_TRACKING_PASSWORD"

_RETRY_STATUS = frozenset({429, 503})
_IDEMPOTENT = frozenset({"GET", "HEAD", "PUT", "DELETE", "OPTIONS"})
_JSON = "application/json"
_MAX_CACHED_URLS = 1024


class RestSession:
    """HTTP to one server: keep-alive, retries of refused/unsent requests, typed errors.

    Retried: connection failures (the request never reached the server), 429 and 503
    (the server refused it), and read failures of idempotent requests. A 4xx is never
    retried: it is the caller's mistake and is raised as its `SlipwayError`. A streamed
    body (an iterable of chunks) cannot be sent twice, so such a request is never retried.
    """

    def __init__(
        self,
        base_url: str,
        *,
        timeout: float = 120.0,
        connect_timeout: float = 10.0,
        max_retries: int = 5,
        backoff: float = 0.1,
        token: str | None = None,
    ) -> None:
        parts = urlsplit(base_url)
        auth = None
        if parts.username:
            auth = httpx.BasicAuth(parts.username, parts.password or "")
            parts = parts._replace(netloc=parts.hostname + (f":{parts.port}" if parts.port else ""))
        elif os.environ.get(USERNAME_ENV):
            auth = httpx.BasicAuth(os.environ[USERNAME_ENV], os.environ.get(PASSWORD_ENV, ""))
        self.base_url = urlunsplit(parts).rstrip("/")
        headers = {"User-Agent": f"slipway/{__version__}"}
        token = token or os.environ.get(TOKEN_ENV)
        if token:
            headers["Authorization"] = f"Bearer {token}"
        self.max_retries = max_retries
        self.backoff = backoff
        self.client = httpx.Client(
            base_url=self.base_url,
            auth=auth,
            headers=headers,
            timeout=httpx.Timeout(timeout, connect=connect_timeout),
            limits=httpx.Limits(max_connections=64, max_keepalive_connections=16),
        )
        self._urls: dict[str, httpx.URL] = {}

    def request(
        self,
        method: str,
        path: str,
        *,
        params: Mapping[str, Any] | None = None,
        content: bytes | Iterable[bytes] | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> httpx.Response:
        """Send one request (retrying as described) and return a successful response."""
        response = self._send(method, path, params=params, content=content, headers=headers)
        if response.status_code >= 400:
            raise self.error_from(response)
        return response

    def call(
        self,
        method: str,
        path: str,
        body: Mapping[str, Any] | None = None,
        params: Mapping[str, Any] | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> dict[str, Any]:
        """A JSON API call: `body` is sent as JSON, the JSON answer is returned."""
        content = None
        if body is not None:
            content = orjson.dumps(body, option=orjson.OPT_SERIALIZE_NUMPY)
            headers = {**(headers or {}), "Content-Type": _JSON}
        response = self.request(method, path, params=params, content=content, headers=headers)
        if not response.content:
            return {}
        try:
            return orjson.loads(response.content)
        except orjson.JSONDecodeError:
            raise SlipwayError(
                f"{method} {self.base_url}{path} answered with something that is not JSON; "
                "is this URL a slipway (or MLflow) server?"
            ) from None

    @contextmanager
    def stream(
        self, method: str, path: str, *, params: Mapping[str, Any] | None = None
    ) -> Iterator[httpx.Response]:
        """A streamed response (downloads); errors are raised before the body is read."""
        try:
            with self.client.stream(method, path, params=params) as response:
                if response.status_code >= 400:
                    response.read()
                    raise self.error_from(response)
                yield response
        except httpx.TransportError as exc:
            raise self._unreachable(method, path, exc) from None

    def open(self, path: str, *, params: Mapping[str, Any] | None = None) -> BinaryIO:
        """A streamed download as a binary file, read from the network as it is read;
        close it when done. An error answer is raised here, before anything is read."""
        stack = ExitStack()
        response = stack.enter_context(self.stream("GET", path, params=params))
        body = _ResponseBody(
            response.iter_bytes(),
            close=stack.close,
            failed=lambda exc: self._unreachable("GET", path, exc),
        )
        return io.BufferedReader(body)

    def _send(
        self,
        method: str,
        path: str,
        *,
        params: Mapping[str, Any] | None,
        content: bytes | Iterable[bytes] | None,
        headers: Mapping[str, str] | None,
    ) -> httpx.Response:
        max_retries = self.max_retries if content is None or isinstance(content, bytes) else 0
        url = self._url(path)
        attempt = 0
        while True:
            try:
                response = self.client.request(
                    method, url, params=params, content=content, headers=headers
                )
            except (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout) as exc:
                failure: Exception = exc
            except (httpx.ReadError, httpx.RemoteProtocolError, httpx.ReadTimeout) as exc:
                if method not in _IDEMPOTENT:
                    raise self._unreachable(method, path, exc) from None
                failure = exc
            except httpx.TransportError as exc:
                raise self._unreachable(method, path, exc) from None
            else:
                if response.status_code not in _RETRY_STATUS or attempt >= max_retries:
                    return response
                failure = self.error_from(response)
                retry_after = response.headers.get("Retry-After", "")
                if retry_after.isdigit():
                    time.sleep(min(float(retry_after), 10.0))
            if attempt >= max_retries:
                if isinstance(failure, SlipwayError):
                    raise failure
                raise self._unreachable(method, path, failure) from None
            time.sleep(self.backoff * (2**attempt))
            attempt += 1

    def _url(self, path: str) -> httpx.URL:
        """The absolute URL of `path` below the base URL, cached: httpx would parse and
        join a relative path again on every request, a noticeable part of a small call."""
        url = self._urls.get(path)
        if url is None:
            if len(self._urls) >= _MAX_CACHED_URLS:
                self._urls.clear()
            url = self._urls[path] = self.client.build_request("GET", path).url
        return url

    def _unreachable(self, method: str, path: str, exc: Exception) -> ServerUnreachable:
        return ServerUnreachable(
            f"{method} {self.base_url}{path} failed: {exc.__class__.__name__}: "
            f"{exc or 'no detail'}. Is `slipway server` running at {self.base_url}?"
        )

    def error_from(self, response: httpx.Response) -> SlipwayError:
        """The typed error an error response carries (MLflow's error JSON body)."""
        try:
            body = orjson.loads(response.content)
            return SlipwayError.from_error_code(str(body["error_code"]), str(body["message"]))
        except (orjson.JSONDecodeError, KeyError, TypeError):
            pass
        request = response.request
        where = f"{request.method} {request.url}"
        if response.status_code == 404:
            return EndpointNotFound(
                f"{where}: no such endpoint (HTTP 404); is this a slipway server?"
            )
        if response.status_code == 503:
            return ServerUnavailable(f"{where}: the server is temporarily unavailable (HTTP 503).")
        text = response.text[:200].strip()
        return SlipwayError(f"{where} failed with HTTP {response.status_code}: {text}")

    def close(self) -> None:
        self.client.close()


class _ResponseBody(io.RawIOBase):
    """The chunks of a streamed response as a raw binary stream."""

    def __init__(
        self,
        chunks: Iterator[bytes],
        *,
        close: Callable[[], None],
        failed: Callable[[Exception], Exception],
    ) -> None:
        super().__init__()
        self._chunks = chunks
        self._pending = memoryview(b"")
        self._close = close
        self._failed = failed

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        while not self._pending:
            try:
                self._pending = memoryview(next(self._chunks))
            except StopIteration:
                return 0
            except httpx.TransportError as exc:
                raise self._failed(exc) from None
        n = min(len(buffer), len(self._pending))
        buffer[:n] = self._pending[:n]
        self._pending = self._pending[n:]
        return n

    def close(self) -> None:
        if not self.closed:
            self._close()
        super().close()


_shared: dict[tuple[str | None, ...], RestSession] = {}
_shared_lock = threading.Lock()


def shared_session(base_url: str) -> RestSession:
    """The process's session to `base_url`, made on first use.

    One per server URL (with its user:password) and credentials in the environment, so a
    token set later gets a session of its own. Shared sessions stay open for the life of
    the process; a store or repository using one does not close it.
    """
    key = (
        base_url.rstrip("/"),
        os.environ.get(TOKEN_ENV),
        os.environ.get(USERNAME_ENV),
        os.environ.get(PASSWORD_ENV),
    )
    session = _shared.get(key)
    if session is None:
        with _shared_lock:
            session = _shared.get(key)
            if session is None:
                session = _shared[key] = RestSession(base_url)
    return session


def _forget_shared_sessions() -> None:
    # A forked child must not use the parent's pooled connections: it makes its own.
    _shared.clear()


os.register_at_fork(after_in_child=_forget_shared_sessions)


__all__ = [
    "PASSWORD_ENV",
    "TOKEN_ENV",
    "USERNAME_ENV",
    "RestSession",
    "shared_session",
]
