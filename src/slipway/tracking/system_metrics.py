"""System metrics of a run: CPU, memory, disk, network and GPUs, sampled in the background.

`start_run(log_system_metrics=True)` (or `SLIPWAY_ENABLE_SYSTEM_METRICS_LOGGING=true`)
starts a `SystemMetricsMonitor`; `end_run` stops it. The names are MLflow's
(`system/cpu_utilization_percentage`, `system/gpu_0_utilization_percentage`, …), so
dashboards built for one read the other. psutil is needed (the `system-metrics` extra);
GPUs are read through pynvml when it is installed and finds a device. A failing sample
or write is a warning: it never stops the training it watches.
"""

from __future__ import annotations

import logging
import os
import threading
from collections import defaultdict
from collections.abc import Callable
from typing import Any

from slipway.entities import Metric, now_ms

log = logging.getLogger(__name__)

ENABLE_ENV = "SLIPWAY_ENABLE_SYSTEM_METRICS_LOGGING"
INTERVAL_ENV = "SLIPWAY_SYSTEM_METRICS_SAMPLING_INTERVAL"
SAMPLES_ENV = "SLIPWAY_SYSTEM_METRICS_SAMPLES_BEFORE_LOGGING"
NODE_ENV = "SLIPWAY_SYSTEM_METRICS_NODE_ID"
DEFAULT_INTERVAL = 10.0  # seconds, as MLflow
_MB = 1e6  # MLflow's megabytes


def enabled(requested: bool | None) -> bool:
    """Whether a new run logs system metrics: the explicit flag, else the env variable."""
    if requested is not None:
        return requested
    return os.environ.get(ENABLE_ENV, "").strip().lower() in {"1", "true", "yes", "on"}


class SystemMetricsMonitor:
    """Samples the machine every `sampling_interval` seconds on a daemon thread and logs
    the mean of every `samples_before_logging` samples to one run as `system/...` metrics.

    Use `start()`/`finish()`, or `with SystemMetricsMonitor(run_id, client):`.
    """

    def __init__(
        self,
        run_id: str,
        client: Any,
        sampling_interval: float | None = None,
        samples_before_logging: int | None = None,
        node_id: str | None = None,
    ) -> None:
        self.run_id = run_id
        self._client = client
        self.sampling_interval = float(
            sampling_interval or os.environ.get(INTERVAL_ENV) or DEFAULT_INTERVAL
        )
        self.samples_before_logging = max(
            1, int(samples_before_logging or os.environ.get(SAMPLES_ENV) or 1)
        )
        node = node_id or os.environ.get(NODE_ENV)
        self.prefix = f"system/{node}/" if node else "system/"
        self._samplers: list[Callable[[], dict[str, float]]] = []
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._samples: dict[str, list[float]] = defaultdict(list)
        self._count = 0
        self._step = 0

    def start(self) -> bool:
        """Start sampling; False (with a warning) when psutil is not installed."""
        try:
            self._samplers = _samplers()
        except ImportError:
            log.warning(
                "System metrics need psutil: pip install 'slipway[system-metrics]'. "
                "Run %s logs none.",
                self.run_id,
            )
            return False
        self._thread = threading.Thread(
            target=self._loop, name=f"slipway-system-metrics-{self.run_id[:8]}", daemon=True
        )
        self._thread.start()
        return True

    def finish(self) -> None:
        """Stop sampling and write what was sampled since the last write."""
        if self._thread is None:
            return
        self._stop.set()
        self._thread.join(timeout=max(5.0, 2 * self.sampling_interval))
        self._thread = None
        self._write()

    def __enter__(self) -> SystemMetricsMonitor:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.finish()

    def _loop(self) -> None:
        self._sample()  # one sample at once, so even a short run has a point
        while not self._stop.wait(self.sampling_interval):
            self._sample()
            if self._count >= self.samples_before_logging:
                self._write()

    def _sample(self) -> None:
        for sampler in self._samplers:
            try:
                values = sampler()
            except Exception as exc:  # a broken sensor must not stop the others
                log.warning("system metrics: %s failed: %s", sampler.__name__, exc)
                continue
            for key, value in values.items():
                self._samples[key].append(value)
        self._count += 1

    def _write(self) -> None:
        if not self._count:
            return
        ts = now_ms()
        metrics = [
            Metric(self.prefix + key, round(sum(vs) / len(vs), 1), ts, self._step)
            for key, vs in self._samples.items()
            if vs
        ]
        self._samples.clear()
        self._count = 0
        try:
            self._client.log_batch(self.run_id, metrics=metrics)
            self._step += 1
        except Exception as exc:  # never break the run being watched
            log.warning("could not log system metrics of run %s: %s", self.run_id, exc)


def _samplers() -> list[Callable[[], dict[str, float]]]:
    import psutil

    net_start = psutil.net_io_counters()

    def cpu_and_memory() -> dict[str, float]:
        memory = psutil.virtual_memory()
        return {
            "cpu_utilization_percentage": psutil.cpu_percent(),
            "system_memory_usage_megabytes": memory.used / _MB,
            "system_memory_usage_percentage": memory.used / memory.total * 100,
        }

    def disk() -> dict[str, float]:
        usage = psutil.disk_usage(os.sep)
        return {
            "disk_usage_percentage": usage.percent,
            "disk_usage_megabytes": usage.used / _MB,
            "disk_available_megabytes": usage.free / _MB,
        }

    def network() -> dict[str, float]:
        now = psutil.net_io_counters()
        return {
            "network_receive_megabytes": (now.bytes_recv - net_start.bytes_recv) / _MB,
            "network_transmit_megabytes": (now.bytes_sent - net_start.bytes_sent) / _MB,
        }

    psutil.cpu_percent()  # the first call only sets the baseline
    samplers = [cpu_and_memory, disk, network]
    gpus = _gpu_sampler()
    if gpus is not None:
        samplers.append(gpus)
    return samplers


def _gpu_sampler() -> Callable[[], dict[str, float]] | None:
    """GPU utilisation, memory and power through NVML, or None without pynvml or GPUs."""
    try:
        import pynvml

        pynvml.nvmlInit()
        handles = [pynvml.nvmlDeviceGetHandleByIndex(i) for i in range(pynvml.nvmlDeviceGetCount())]
    except Exception:  # no pynvml, no driver or no device: no GPU metrics
        return None
    if not handles:
        return None

    def gpus() -> dict[str, float]:
        out: dict[str, float] = {}
        for i, handle in enumerate(handles):
            memory = pynvml.nvmlDeviceGetMemoryInfo(handle)
            out[f"gpu_{i}_memory_usage_percentage"] = memory.used / memory.total * 100
            out[f"gpu_{i}_memory_usage_megabytes"] = memory.used / _MB
            rates = pynvml.nvmlDeviceGetUtilizationRates(handle)
            out[f"gpu_{i}_utilization_percentage"] = float(rates.gpu)
            try:
                power = pynvml.nvmlDeviceGetPowerUsage(handle) / 1000
                limit = pynvml.nvmlDeviceGetEnforcedPowerLimit(handle) / 1000
                out[f"gpu_{i}_power_usage_watts"] = power
                out[f"gpu_{i}_power_usage_percentage"] = power / limit * 100 if limit else 0.0
            except pynvml.NVMLError:  # some boards do not report power
                pass
        return out

    return gpus


__all__ = [
    "DEFAULT_INTERVAL",
    "ENABLE_ENV",
    "INTERVAL_ENV",
    "NODE_ENV",
    "SAMPLES_ENV",
    "SystemMetricsMonitor",
    "enabled",
]
