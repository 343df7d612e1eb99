"""Prometheus metrics of `slipway serve`, scraped at `GET /metrics`.

    slipway_serving_requests_total{endpoint, status, model, version, variant}    counter
    slipway_serving_request_duration_seconds{endpoint, model, version, variant}  histogram
    slipway_serving_requests_in_flight                                    gauge
    slipway_serving_errors_total{endpoint, kind, model, variant}          counter
    slipway_serving_batch_size{model, version, variant}   rows per model call, histogram
    slipway_serving_predictions_total{model, version, variant, class}  classifier outputs
    slipway_serving_prediction_value{model, version, variant}  regressor outputs, histogram
    slipway_serving_model_load_seconds{model, version}                    gauge
    slipway_serving_model_load_failures_total{model, version}             counter
    slipway_serving_model_info{model, version, variant}  1 while the version is served

`variant` is the traffic variant (`slipway serve --traffic`) that answered, empty without
one (Prometheus treats an empty label like a missing one). With a traffic file there is
also (`enable_traffic`)::

    slipway_traffic_weight_percent{experiment, variant}       the live split, gauge
    slipway_traffic_shadow_copies_total{experiment, variant, outcome}  sent|dropped|error
    slipway_traffic_shadow_rows_total{experiment, variant, agreed}     compared rows
    slipway_traffic_shadow_duration_seconds{experiment, variant}   the shadow's model call
    slipway_traffic_canary_events_total{experiment, variant, action}  step|rollback|...
    slipway_traffic_rewards_total{experiment, variant}         rewards credited, counter

Each app has its own registry (several apps can live in one test process). With several
worker processes, prometheus-client's multiprocess mode keeps each worker's values in
`PROMETHEUS_MULTIPROC_DIR` (set by `slipway serve` before the workers start) and one
scrape, answered by any worker, adds them up.

Labelled children are cached, so counting a request costs a dict lookup and two updates.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from typing import Any

MULTIPROC_ENV = "PROMETHEUS_MULTIPROC_DIR"

_LATENCY_BUCKETS = (
    0.0005,
    0.001,
    0.0025,
    0.005,
    0.0075,
    0.01,
    0.025,
    0.05,
    0.075,
    0.1,
    0.25,
    0.5,
    1.0,
    2.5,
    5.0,
    10.0,
    30.0,
    60.0,
)
_BATCH_BUCKETS = (1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024)
_VALUE_BUCKETS = (-1000, -100, -10, -1, -0.1, 0, 0.1, 0.25, 0.5, 0.75, 1, 10, 100, 1000, 10000)


def multiprocess_mode() -> bool:
    """Whether values go to a multiprocess directory (several workers)."""
    return bool(os.environ.get(MULTIPROC_ENV))


class ServingMetrics:
    """The server's metrics and the few calls that update them."""

    def __init__(self) -> None:
        from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

        self.registry = CollectorRegistry(auto_describe=True)
        reg = self.registry
        self.requests = Counter(
            "slipway_serving_requests",
            "Requests answered, by endpoint, HTTP status, model version and variant.",
            ["endpoint", "status", "model", "version", "variant"],
            registry=reg,
        )
        self.duration = Histogram(
            "slipway_serving_request_duration_seconds",
            "Time from request to response, by endpoint, model version and variant.",
            ["endpoint", "model", "version", "variant"],
            buckets=_LATENCY_BUCKETS,
            registry=reg,
        )
        self.in_flight = Gauge(
            "slipway_serving_requests_in_flight",
            "Requests being answered now.",
            registry=reg,
            multiprocess_mode="livesum",
        )
        self.errors = Counter(
            "slipway_serving_errors",
            "Failed requests by kind: bad_request, schema, not_found, too_large, "
            "unsupported_media_type, model_error, timeout, unavailable.",
            ["endpoint", "kind", "model", "variant"],
            registry=reg,
        )
        self.batch_size = Histogram(
            "slipway_serving_batch_size",
            "Rows per model call (requests merged by the adaptive batcher).",
            ["model", "version", "variant"],
            buckets=_BATCH_BUCKETS,
            registry=reg,
        )
        self.predicted_classes = Counter(
            "slipway_serving_predictions",
            "Predicted classes of classifiers.",
            ["model", "version", "variant", "class"],
            registry=reg,
        )
        self.predicted_values = Histogram(
            "slipway_serving_prediction_value",
            "Predicted values of regressors.",
            ["model", "version", "variant"],
            buckets=_VALUE_BUCKETS,
            registry=reg,
        )
        self.load_seconds = Gauge(
            "slipway_serving_model_load_seconds",
            "Time to download, load and warm up a model version.",
            ["model", "version"],
            registry=reg,
            multiprocess_mode="max",
        )
        self.load_failures = Counter(
            "slipway_serving_model_load_failures",
            "Model versions that failed to load or warm up (never swapped in).",
            ["model", "version"],
            registry=reg,
        )
        self.model_info = Gauge(
            "slipway_serving_model_info",
            "1 for each model version being served.",
            ["model", "version", "variant"],
            registry=reg,
            multiprocess_mode="livemax",
        )
        self._request_children: dict[tuple[str, str, str, str, str], tuple[Any, Any]] = {}
        self._batch_children: dict[tuple[str, str, str], Any] = {}
        self._traffic: dict[str, Any] | None = None

    # -- per request -----------------------------------------------------------------
    def request_done(
        self,
        endpoint: str,
        status: int,
        model: str,
        version: str,
        seconds: float,
        variant: str = "",
    ) -> None:
        key = (endpoint, str(status), model, version, variant)
        children = self._request_children.get(key)
        if children is None:
            children = (
                self.requests.labels(*key),
                self.duration.labels(endpoint, model, version, variant),
            )
            self._request_children[key] = children
        children[0].inc()
        children[1].observe(seconds)

    def error(self, endpoint: str, kind: str, model: str = "", variant: str = "") -> None:
        self.errors.labels(endpoint, kind, model, variant).inc()

    # -- per model call --------------------------------------------------------------
    def batch(self, model: str, version: str, rows: int, variant: str = "") -> None:
        key = (model, version, variant)
        child = self._batch_children.get(key)
        if child is None:
            child = self._batch_children[key] = self.batch_size.labels(*key)
        child.observe(rows)

    def classes(
        self,
        model: str,
        version: str,
        labels: Iterable[Any],
        counts: Iterable[int],
        variant: str = "",
    ) -> None:
        for label, count in zip(labels, counts, strict=True):
            self.predicted_classes.labels(model, version, variant, str(label)).inc(int(count))

    def values(self, model: str, version: str, values: Iterable[float], variant: str = "") -> None:
        child = self.predicted_values.labels(model, version, variant)
        for value in values:
            child.observe(value)

    # -- model versions --------------------------------------------------------------
    def model_loaded(self, model: str, version: str, seconds: float) -> None:
        self.load_seconds.labels(model, version).set(seconds)

    def model_load_failed(self, model: str, version: str) -> None:
        self.load_failures.labels(model, version).inc()

    def model_served(self, model: str, version: str, served: bool, variant: str = "") -> None:
        self.model_info.labels(model, version, variant).set(1 if served else 0)

    # -- traffic (slipway serve --traffic) -------------------------------------------
    def enable_traffic(self) -> None:
        """Register the traffic metrics (only servers with a traffic file show them)."""
        from prometheus_client import Counter, Gauge, Histogram

        if self._traffic is not None:
            return
        reg = self.registry
        self._traffic = {
            "weight": Gauge(
                "slipway_traffic_weight_percent",
                "The live traffic split: percent of routed requests per variant.",
                ["experiment", "variant"],
                registry=reg,
                multiprocess_mode="livemax",
            ),
            "copies": Counter(
                "slipway_traffic_shadow_copies",
                "Requests copied to the shadow variant: sent, dropped (queue full), error.",
                ["experiment", "variant", "outcome"],
                registry=reg,
            ),
            "rows": Counter(
                "slipway_traffic_shadow_rows",
                "Rows the shadow answered, by whether they agreed with the primary.",
                ["experiment", "variant", "agreed"],
                registry=reg,
            ),
            "shadow_seconds": Histogram(
                "slipway_traffic_shadow_duration_seconds",
                "The shadow variant's model call per copied request.",
                ["experiment", "variant"],
                buckets=_LATENCY_BUCKETS,
                registry=reg,
            ),
            "canary": Counter(
                "slipway_traffic_canary_events",
                "Canary decisions: step, rollback, promote, complete, restart, start.",
                ["experiment", "variant", "action"],
                registry=reg,
            ),
            "rewards": Counter(
                "slipway_traffic_rewards",
                "Rewards (from /feedback) credited to each variant.",
                ["experiment", "variant"],
                registry=reg,
            ),
        }

    def traffic_weights(self, experiment: str, weights: dict[str, float]) -> None:
        if self._traffic is not None:
            for variant, percent in weights.items():
                self._traffic["weight"].labels(experiment, variant).set(percent)

    def shadow_copy(self, experiment: str, variant: str, outcome: str, number: int = 1) -> None:
        if self._traffic is not None:
            self._traffic["copies"].labels(experiment, variant, outcome).inc(number)

    def shadow_answer(
        self,
        experiment: str,
        variant: str,
        seconds: float,
        rows: int,
        agreed: int,
        copies: int = 1,
    ) -> None:
        """A batch of `copies` copied requests the shadow answered in one model call of
        `seconds` (observed once per copy), `agreed` of their `rows` like the primary."""
        if self._traffic is not None:
            child = self._traffic["shadow_seconds"].labels(experiment, variant)
            for _ in range(copies):
                child.observe(seconds)
            if agreed:
                self._traffic["rows"].labels(experiment, variant, "true").inc(agreed)
            if rows > agreed:
                self._traffic["rows"].labels(experiment, variant, "false").inc(rows - agreed)

    def canary_event(self, experiment: str, variant: str, action: str) -> None:
        if self._traffic is not None:
            self._traffic["canary"].labels(experiment, variant, action).inc()

    def traffic_reward(self, experiment: str, variant: str) -> None:
        if self._traffic is not None:
            self._traffic["rewards"].labels(experiment, variant).inc()

    # -- exposition ------------------------------------------------------------------
    def render(self) -> tuple[bytes, str]:
        """(body, content type) of a scrape: every worker's values in multiprocess mode."""
        from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest

        if multiprocess_mode():
            from prometheus_client import multiprocess

            registry = CollectorRegistry()
            multiprocess.MultiProcessCollector(registry)
            return generate_latest(registry), CONTENT_TYPE_LATEST
        return generate_latest(self.registry), CONTENT_TYPE_LATEST


def mark_worker_dead(pid: int) -> None:
    """Drop a stopped worker's live gauges (in-flight, model info) from the shared directory."""
    if multiprocess_mode():
        from prometheus_client import multiprocess

        multiprocess.mark_process_dead(pid)


__all__ = ["MULTIPROC_ENV", "ServingMetrics", "mark_worker_dead", "multiprocess_mode"]
