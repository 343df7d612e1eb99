"""System metrics sampled in the background while a run is active."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest

import slipway
from slipway.tracking.system_metrics import SystemMetricsMonitor

pytest.importorskip("psutil")

NAMES = {
    "system/cpu_utilization_percentage",
    "system/system_memory_usage_megabytes",
    "system/system_memory_usage_percentage",
    "system/disk_usage_percentage",
    "system/disk_usage_megabytes",
    "system/disk_available_megabytes",
    "system/network_receive_megabytes",
    "system/network_transmit_megabytes",
}


@pytest.fixture
def tracking_uri(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'system.db'}"


@pytest.fixture(autouse=True)
def fast_sampling(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SLIPWAY_SYSTEM_METRICS_SAMPLING_INTERVAL", "0.05")


def _sampler_threads() -> list[threading.Thread]:
    return [t for t in threading.enumerate() if t.name.startswith("slipway-system-metrics")]


def test_start_run_logs_system_metrics_until_the_run_ends(fluent_uri: str) -> None:
    with slipway.start_run(log_system_metrics=True) as run:
        assert _sampler_threads()
        slipway.log_metric("loss", 0.5)
    assert not _sampler_threads()  # stopped at end_run
    client = slipway.Client(fluent_uri)
    stored = client.get_run(run.info.run_id)
    assert set(stored.data.metrics) >= NAMES
    assert 0 <= stored.data.metrics["system/cpu_utilization_percentage"] <= 100 * 64
    assert stored.data.metrics["system/system_memory_usage_megabytes"] > 0
    points = client.get_metric_history(run.info.run_id, "system/disk_usage_percentage")
    assert [p.step for p in points] == list(range(len(points)))


def test_off_by_default_and_on_with_the_environment_variable(
    fluent_uri: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    with slipway.start_run() as quiet:
        pass
    monkeypatch.setenv("SLIPWAY_ENABLE_SYSTEM_METRICS_LOGGING", "true")
    with slipway.start_run() as watched:
        pass
    with slipway.start_run(log_system_metrics=False) as refused:
        pass
    client = slipway.Client(fluent_uri)
    assert not client.get_run(quiet.info.run_id).data.metrics
    assert set(client.get_run(watched.info.run_id).data.metrics) >= NAMES
    assert not client.get_run(refused.info.run_id).data.metrics


def test_a_monitor_for_a_client_run_with_a_node_id(tracking_uri: str) -> None:
    client = slipway.Client(tracking_uri)
    run = client.create_run("0")
    with SystemMetricsMonitor(run.info.run_id, client, sampling_interval=0.05, node_id="w1"):
        pass
    keys = set(client.get_run(run.info.run_id).data.metrics)
    assert {n.replace("system/", "system/w1/") for n in NAMES} <= keys


def test_a_failing_store_is_a_warning_not_an_error(tracking_uri: str, caplog) -> None:
    client = slipway.Client(tracking_uri)
    monitor = SystemMetricsMonitor("no-such-run", client, sampling_interval=0.05)
    monitor.start()
    monitor.finish()  # writing to a run that does not exist: logged, not raised
    assert "could not log system metrics" in caplog.text
