"""The `TrackingStore` over HTTP: talks to `slipway server` (or any MLflow server).

Every call is the MLflow REST protocol, except bulk metric logging, which uses slipway's
columnar endpoint (`/api/2.0/slipway/runs/log-metrics`) and falls back to MLflow's
log-batch when the server does not have it. Server errors come back as the same typed
`SlipwayError`s the in-process store raises.

`RestSession` is the HTTP layer (one keep-alive `httpx.Client`, retries, auth, error
decoding); the artifact proxy client can share it.
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import httpx
import numpy as np
import orjson

from slipway import __version__
from slipway.entities import (
    DatasetInput,
    Experiment,
    Metric,
    PagedList,
    Param,
    Run,
    RunInfo,
    Tag,
    ViewType,
    encode_float,
)
from slipway.errors import (
    EndpointNotFound,
    InvalidParameterValue,
    ResourceDoesNotExist,
    ServerUnavailable,
    ServerUnreachable,
    SlipwayError,
)
from slipway.store.interface import (
    MAX_BATCH_LOG_REQUEST_SIZE,
    MAX_METRICS_PER_BATCH,
    MAX_PARAMS_TAGS_PER_BATCH,
    METRIC_HISTORY_MAX_RESULTS,
    SEARCH_MAX_RESULTS_DEFAULT,
    TrackingStore,
)

TOKEN_ENV = "SLIPWAY_TRACKING_TOKEN"
USERNAME_ENV = "SLIPWAY_TRACKING_USERNAME"
PASSWORD_ENV = "SLIPWAY_TRACKING_PASSWORD"

MLFLOW = "/api/2.0/mlflow"
SLIPWAY = "/api/2.0/slipway"
COLUMN_CHUNK = 50_000  # metric points per columnar request (~2 MB of JSON)

_RETRY_STATUS = frozenset({429, 503})
_IDEMPOTENT = frozenset({"GET", "HEAD", "PUT", "DELETE", "OPTIONS"})
_JSON_HEADERS = {"Content-Type": "application/json"}
_MAX_CACHED_URLS = 1024


class RestSession:
    """HTTP to one server: keep-alive, retries of refused/unsent requests, typed errors.

    Retried: connection failures (the request never reached the server), 429 and 503
    (the server refused it), and read failures of idempotent requests. A 4xx is never
    retried: it is the caller's mistake and is raised as its `SlipwayError`.
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
        """Send one request (retrying as described) and return a successful response.

        A streamed body (an iterable of chunks, e.g. an artifact upload) cannot be sent
        twice, so such a request is never retried.
        """
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
    ) -> dict[str, Any]:
        """A JSON API call: `body` is sent as JSON, the JSON answer is returned."""
        content = None if body is None else orjson.dumps(body, option=orjson.OPT_SERIALIZE_NUMPY)
        response = self.request(
            method,
            path,
            params=params,
            content=content,
            headers=_JSON_HEADERS if content is not None else None,
        )
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
            raise self._unavailable(method, path, exc) from None

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
                    raise self._unavailable(method, path, exc) from None
                failure = exc
            except httpx.TransportError as exc:
                raise self._unavailable(method, path, exc) from None
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
                raise self._unavailable(method, path, failure) from None
            time.sleep(self.backoff * (2**attempt))
            attempt += 1

    def _url(self, path: str) -> httpx.URL:
        """The absolute URL of `path` below the base URL, cached: httpx would parse and join
        a relative path again on every request (tens of µs of a call's ~200 µs in httpx)."""
        url = self._urls.get(path)
        if url is None:
            if len(self._urls) >= _MAX_CACHED_URLS:
                self._urls.clear()
            url = self._urls[path] = self.client.build_request("GET", path).url
        return url

    def _unavailable(self, method: str, path: str, exc: Exception) -> ServerUnreachable:
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


class RestTrackingStore(TrackingStore):
    """The tracking store behind a `slipway server` URL."""

    def __init__(self, base_url: str, session: RestSession | None = None) -> None:
        self.session = session or RestSession(base_url)
        self._columnar = True  # False once the server turned out not to have the endpoint

    @property
    def base_url(self) -> str:
        return self.session.base_url

    def _get(self, path: str, params: Mapping[str, Any]) -> dict[str, Any]:
        return self.session.call("GET", MLFLOW + path, params=params)

    def _post(self, path: str, body: Mapping[str, Any], prefix: str = MLFLOW) -> dict[str, Any]:
        return self.session.call("POST", prefix + path, body)

    # --- experiments ---------------------------------------------------------------
    def create_experiment(
        self, name: str, artifact_location: str | None = None, tags: dict[str, str] | None = None
    ) -> str:
        body: dict[str, Any] = {"name": name, "tags": _tag_list(tags)}
        if artifact_location:
            body["artifact_location"] = artifact_location
        return str(self._post("/experiments/create", body)["experiment_id"])

    def get_experiment(self, experiment_id: str) -> Experiment:
        answer = self._get("/experiments/get", {"experiment_id": str(experiment_id)})
        return Experiment.from_dict(answer["experiment"])

    def get_experiment_by_name(self, name: str) -> Experiment | None:
        try:
            answer = self._get("/experiments/get-by-name", {"experiment_name": name})
        except ResourceDoesNotExist:
            return None
        return Experiment.from_dict(answer["experiment"])

    def search_experiments(
        self,
        view_type: ViewType = ViewType.ACTIVE_ONLY,
        max_results: int = SEARCH_MAX_RESULTS_DEFAULT,
        filter_string: str | None = None,
        order_by: Sequence[str] | None = None,
        page_token: str | None = None,
    ) -> PagedList[Experiment]:
        body: dict[str, Any] = {
            "view_type": ViewType.parse(view_type).value,
            "max_results": max_results,
            "order_by": list(order_by or []),
        }
        if filter_string:
            body["filter"] = filter_string
        if page_token:
            body["page_token"] = page_token
        answer = self._post("/experiments/search", body)
        return PagedList(
            [Experiment.from_dict(e) for e in answer.get("experiments", [])],
            answer.get("next_page_token") or None,
        )

    def delete_experiment(self, experiment_id: str) -> None:
        self._post("/experiments/delete", {"experiment_id": str(experiment_id)})

    def restore_experiment(self, experiment_id: str) -> None:
        self._post("/experiments/restore", {"experiment_id": str(experiment_id)})

    def rename_experiment(self, experiment_id: str, new_name: str) -> None:
        self._post(
            "/experiments/update", {"experiment_id": str(experiment_id), "new_name": new_name}
        )

    def set_experiment_tag(self, experiment_id: str, key: str, value: str) -> None:
        self._post(
            "/experiments/set-experiment-tag",
            {"experiment_id": str(experiment_id), "key": key, "value": str(value)},
        )

    def delete_experiment_tag(self, experiment_id: str, key: str) -> None:
        self._post(
            "/experiments/delete-experiment-tag", {"experiment_id": str(experiment_id), "key": key}
        )

    # --- runs ----------------------------------------------------------------------
    def create_run(
        self,
        experiment_id: str,
        user_id: str,
        start_time: int,
        tags: dict[str, str] | None = None,
        run_name: str | None = None,
    ) -> Run:
        body: dict[str, Any] = {
            "experiment_id": str(experiment_id),
            "user_id": user_id,
            "start_time": start_time,
            "tags": _tag_list(tags),
        }
        if run_name:
            body["run_name"] = run_name
        return Run.from_dict(self._post("/runs/create", body)["run"])

    def get_run(self, run_id: str) -> Run:
        return Run.from_dict(self._get("/runs/get", {"run_id": run_id})["run"])

    def update_run_info(
        self,
        run_id: str,
        status: str | None = None,
        end_time: int | None = None,
        run_name: str | None = None,
    ) -> RunInfo:
        body: dict[str, Any] = {"run_id": run_id, "run_uuid": run_id}
        if status is not None:
            body["status"] = getattr(status, "value", status)
        if end_time is not None:
            body["end_time"] = end_time
        if run_name is not None:
            body["run_name"] = run_name
        return RunInfo.from_dict(self._post("/runs/update", body)["run_info"])

    def delete_run(self, run_id: str) -> None:
        self._post("/runs/delete", {"run_id": run_id})

    def restore_run(self, run_id: str) -> None:
        self._post("/runs/restore", {"run_id": run_id})

    def log_batch(
        self,
        run_id: str,
        metrics: Sequence[Metric] = (),
        params: Sequence[Param] = (),
        tags: Sequence[Tag] = (),
    ) -> None:
        """One request, so one transaction, as in-process.

        MLflow's log-batch also caps metrics + params + tags at 1000 per request; a batch
        the in-process store accepts but over that total goes to slipway's log-batch,
        which has only the per-kind limits.
        """
        body = {
            "run_id": run_id,
            "metrics": [m.to_dict() for m in metrics],
            "params": [p.to_dict() for p in params],
            "tags": [t.to_dict() for t in tags],
        }
        total = len(body["metrics"]) + len(body["params"]) + len(body["tags"])
        if total <= MAX_BATCH_LOG_REQUEST_SIZE or not self._columnar:
            self._post("/runs/log-batch", body)
            return
        try:
            self._post("/runs/log-batch", body, prefix=SLIPWAY)
        except SlipwayError as exc:
            if not isinstance(exc, EndpointNotFound):
                raise
            self._columnar = False
            self._log_batch_mlflow(run_id, metrics, params, tags)

    def _log_batch_mlflow(
        self,
        run_id: str,
        metrics: Sequence[Metric],
        params: Sequence[Param],
        tags: Sequence[Tag],
    ) -> None:
        """Plain MLflow log-batch calls within its limits (params/tags first), for servers
        without slipway's endpoints; such a batch is no longer one transaction."""
        params, tags, metrics = list(params), list(tags), list(metrics)
        while True:
            p, params = params[:MAX_PARAMS_TAGS_PER_BATCH], params[MAX_PARAMS_TAGS_PER_BATCH:]
            t, tags = tags[:MAX_PARAMS_TAGS_PER_BATCH], tags[MAX_PARAMS_TAGS_PER_BATCH:]
            room = min(MAX_METRICS_PER_BATCH, MAX_BATCH_LOG_REQUEST_SIZE - len(p) - len(t))
            m, metrics = metrics[:room], metrics[room:]
            self._post(
                "/runs/log-batch",
                {
                    "run_id": run_id,
                    "metrics": [x.to_dict() for x in m],
                    "params": [x.to_dict() for x in p],
                    "tags": [x.to_dict() for x in t],
                },
            )
            if not (params or tags or metrics):
                break

    def log_metric_columns(
        self,
        run_id: str,
        keys: Sequence[str],
        values: Sequence[float],
        timestamps: Sequence[int],
        steps: Sequence[int],
    ) -> None:
        """Columnar requests of `COLUMN_CHUNK` points, each one transaction.

        Chunks go one after another: concurrent writers to one SQLite database only wait
        on each other's locks (measured: half the throughput).
        """
        n = len(values)
        if not (len(keys) == len(timestamps) == len(steps) == n):
            raise InvalidParameterValue(
                f"log_metric_columns needs columns of equal length; got {len(keys)} keys, "
                f"{n} values, {len(timestamps)} timestamps and {len(steps)} steps."
            )
        if not self._columnar:
            self._columns_as_batches(run_id, keys, values, timestamps, steps)
            return
        columns = (
            list(keys),
            np.asarray(values, dtype=np.float64),
            np.asarray(timestamps, dtype=np.int64),
            np.asarray(steps, dtype=np.int64),
        )
        try:
            for start in range(0, max(n, 1), COLUMN_CHUNK):
                self._post_columns(run_id, columns, start)
        except SlipwayError as exc:
            if not isinstance(exc, EndpointNotFound):
                raise
            self._columnar = False  # an MLflow server: nothing was stored; use log-batch
            self._columns_as_batches(run_id, keys, values, timestamps, steps)

    def _post_columns(
        self, run_id: str, columns: tuple[list[str], np.ndarray, np.ndarray, np.ndarray], start: int
    ) -> None:
        keys, values, timestamps, steps = columns
        end = start + COLUMN_CHUNK
        chunk_keys = keys[start:end]
        distinct = list(dict.fromkeys(chunk_keys))
        body: dict[str, Any] = {
            "run_id": run_id,
            "values": _encode_values(values[start:end]),
            "timestamps": timestamps[start:end],
            "steps": steps[start:end],
        }
        if len(distinct) * 4 < len(chunk_keys):  # few distinct names: send positions
            position = {k: i for i, k in enumerate(distinct)}
            body["keys"] = distinct
            body["key_index"] = np.fromiter(
                map(position.__getitem__, chunk_keys), dtype=np.int32, count=len(chunk_keys)
            )
        else:
            body["keys"] = chunk_keys
        self._post("/runs/log-metrics", body, prefix=SLIPWAY)

    def _columns_as_batches(
        self,
        run_id: str,
        keys: Sequence[str],
        values: Sequence[float],
        timestamps: Sequence[int],
        steps: Sequence[int],
    ) -> None:
        metrics = [
            Metric(k, float(v), int(t), int(s))
            for k, v, t, s in zip(keys, values, timestamps, steps, strict=True)
        ]
        self._log_batch_mlflow(run_id, metrics, (), ())

    def delete_tag(self, run_id: str, key: str) -> None:
        self._post("/runs/delete-tag", {"run_id": run_id, "key": key})

    def log_inputs(self, run_id: str, datasets: Sequence[DatasetInput]) -> None:
        self._post(
            "/runs/log-inputs", {"run_id": run_id, "datasets": [d.to_dict() for d in datasets]}
        )

    def log_outputs(self, run_id: str, models: Sequence[dict[str, Any]]) -> None:
        self._post("/runs/outputs", {"run_id": run_id, "models": list(models)})

    def get_metric_history(
        self,
        run_id: str,
        key: str,
        max_results: int | None = None,
        page_token: str | None = None,
    ) -> PagedList[Metric]:
        """One page; without `max_results`, every point (fetched page by page)."""
        params: dict[str, Any] = {"run_id": run_id, "metric_key": key}
        if max_results is not None:
            params["max_results"] = max_results
            if page_token:
                params["page_token"] = page_token
            answer = self._get("/metrics/get-history", params)
            return PagedList(
                [Metric.from_dict(m) for m in answer.get("metrics", [])],
                answer.get("next_page_token") or None,
            )
        params["max_results"] = METRIC_HISTORY_MAX_RESULTS
        out: list[Metric] = []
        token = page_token
        while True:
            if token:
                params["page_token"] = token
            answer = self._get("/metrics/get-history", params)
            out.extend(Metric.from_dict(m) for m in answer.get("metrics", []))
            token = answer.get("next_page_token")
            if not token:
                return PagedList(out, None)

    def search_runs(
        self,
        experiment_ids: Sequence[str],
        filter_string: str = "",
        run_view_type: ViewType = ViewType.ACTIVE_ONLY,
        max_results: int = SEARCH_MAX_RESULTS_DEFAULT,
        order_by: Sequence[str] | None = None,
        page_token: str | None = None,
    ) -> PagedList[Run]:
        body: dict[str, Any] = {
            "experiment_ids": [str(e) for e in experiment_ids],
            "filter": filter_string or "",
            "run_view_type": ViewType.parse(run_view_type).value,
            "max_results": max_results,
            "order_by": list(order_by or []),
        }
        if page_token:
            body["page_token"] = page_token
        answer = self._post("/runs/search", body)
        return PagedList(
            [Run.from_dict(r) for r in answer.get("runs", [])],
            answer.get("next_page_token") or None,
        )

    def close(self) -> None:
        self.session.close()


def _tag_list(tags: Mapping[str, Any] | None) -> list[dict[str, str]]:
    return [{"key": k, "value": str(v)} for k, v in (tags or {}).items()]


def _encode_values(values: np.ndarray) -> np.ndarray | list[float | str]:
    """Finite values go as a numpy array (orjson writes it in C); others as protobuf strings."""
    finite = np.isfinite(values)
    if finite.all():
        return values
    out: list[float | str] = values.tolist()
    for i in np.flatnonzero(~finite).tolist():
        out[i] = encode_float(out[i])
    return out


__all__ = ["COLUMN_CHUNK", "RestSession", "RestTrackingStore"]
