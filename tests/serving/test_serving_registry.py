"""Which models a server serves: URIs, versions, following aliases, swaps and failed loads."""

from __future__ import annotations

import asyncio
import threading
import time
from pathlib import Path

import httpx
import pytest
from serving_support import numeric_data

from slipway.errors import InvalidParameterValue
from slipway.serving.registry import parse_source

pytestmark = pytest.mark.timeout(120)


def test_sources_from_uris(tmp_path: Path):
    alias = parse_source("models:/churn@champion")
    assert (alias.name, alias.kind, alias.ref, alias.moving) == ("churn", "alias", "champion", True)
    pinned = parse_source("models:/churn/3")
    assert (pinned.kind, pinned.version, pinned.moving) == ("version", "3", False)
    stage = parse_source("models:/churn/Production")
    assert (stage.kind, stage.ref) == ("stage", "Production")
    assert parse_source("models:/churn/latest").kind == "latest"
    run = parse_source("runs:/abc123/artifacts/model")
    assert (run.name, run.version, run.kind) == ("model", "abc123", "run")
    local = parse_source(str(tmp_path / "my_model"))
    assert (local.name, local.version, local.kind) == ("my_model", "1", "local")
    assert parse_source(str(tmp_path / "m"), name="renamed").name == "renamed"
    renamed = parse_source("models:/churn@champion", name="prod")
    assert (renamed.name, renamed.registered_name) == ("prod", "churn")
    with pytest.raises(InvalidParameterValue):
        parse_source("s3://bucket/model")


def _predict(http: httpx.Client, model: str = "forest", **extra) -> httpx.Response:
    X, _ = numeric_data(51, rows=2)
    body = {"model": model, "records": X.to_dict(orient="records"), **extra}
    return http.post("/predict", json=body)


def _wait_for(condition, timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError("condition not met in time")
        time.sleep(0.05)


def test_pinned_and_followed_versions_of_one_name(serve, registry):
    registry.set_alias("forest", "pinned-test", "2")
    served = serve("models:/forest@pinned-test", "models:/forest/1")
    assert _predict(served.http).json()["version"] == "2"  # the followed alias answers
    assert _predict(served.http, version="1").json()["version"] == "1"
    assert _predict(served.http, version=1).json()["version"] == "1"
    meta = served.http.get("/v2/models/forest").json()
    assert meta["versions"] == ["1", "2"]
    assert served.http.get("/v2/models/forest/versions/1/ready").json()["ready"] is True


def test_stage_is_followed(serve, registry):
    client = registry.client()
    try:
        client.transition_model_version_stage("reg", "1", "Production")
    finally:
        client.close()
    served = serve("models:/reg/Production")
    assert _predict(served.http, model="reg").json()["version"] == "1"


def test_models_from_a_tracking_server_over_http(serve, live_server, tmp_path):
    from serving_support import Registry, forest

    remote = Registry(live_server.url, tmp_path, {}, {}, proxied=True)
    X, _ = numeric_data(1)
    remote.register("remote-forest", forest(4), X)
    remote.set_alias("remote-forest", "champion", "1")
    served = serve("models:/remote-forest@champion", tracking_uri=live_server.url)
    body = _predict(served.http, model="remote-forest").json()
    X2, _ = numeric_data(51, rows=2)
    assert body["predictions"] == remote.models["remote-forest/1"].predict(X2).tolist()


def test_runs_uri_and_renamed_model(serve, registry):
    client = registry.client()
    try:
        version = client.get_model_version("reg", "1")
    finally:
        client.close()
    served = serve(f"runs:/{version.run_id}/model", name="regression")
    body = _predict(served.http, model="regression").json()
    assert (body["model"], body["version"]) == ("regression", version.run_id)


def test_alias_moved_to_a_broken_version_keeps_the_old_one(serve, registry):
    registry.set_alias("forest", "broken-test", "1")
    served = serve("models:/forest@broken-test", poll_interval_s=0.1)
    assert _predict(served.http).json()["version"] == "1"
    registry.set_alias("forest", "broken-test", "3")  # v3's model file is garbage

    def failure_counted() -> bool:
        metrics = served.http.get("/metrics").text
        failures = 'slipway_serving_model_load_failures_total{model="forest",version="3"}'
        return f"{failures} 1.0" in metrics

    _wait_for(failure_counted)
    time.sleep(0.3)  # a few more polls: the failed version is not retried in a loop
    assert failure_counted()
    answer = _predict(served.http)
    assert answer.status_code == 200 and answer.json()["version"] == "1"
    assert served.http.get("/ready").status_code == 200
    assert [m["version"] for m in served.http.get("/version").json()["models"]] == ["1"]
    registry.set_alias("forest", "broken-test", "2")  # moving on to a good one still works
    _wait_for(lambda: _predict(served.http).json()["version"] == "2")


def test_a_failed_load_is_recorded_in_the_audit_trail(serve, registry):
    registry.set_alias("forest", "audit-test", "1")
    served = serve("models:/forest@audit-test", poll_interval_s=0.1)
    registry.set_alias("forest", "audit-test", "3")

    def recorded() -> bool:
        client = registry.client()
        try:
            history = client.get_model_history("forest")
        finally:
            client.close()
        return any(
            getattr(e, "action", None) == "serving_load_failed" and str(e.version) == "3"
            for e in history
        )

    _wait_for(lambda: 'version="3"} 1.0' in served.http.get("/metrics").text)
    _wait_for(recorded, timeout=2)


def test_alias_swap_under_load_drops_nothing(serve, registry):
    registry.set_alias("forest", "swap-test", "1")
    served = serve("models:/forest@swap-test", poll_interval_s=0.1, max_wait_ms=2)
    X, _ = numeric_data(52, rows=8)
    body = {"model": "forest", "records": X.to_dict(orient="records")}
    expected = {v: registry.models[f"forest/{v}"].predict(X).tolist() for v in ("1", "2")}
    stop = threading.Event()
    seen: list[list[tuple[int, str | None, bool]]] = []

    async def client_loop(log: list[tuple[int, str | None, bool]]) -> None:
        async with httpx.AsyncClient(base_url=served.url, timeout=30) as http:
            while not stop.is_set():
                answer = await http.post("/predict", json=body)
                payload = answer.json() if answer.status_code == 200 else {}
                version = payload.get("version")
                right = version in expected and payload["predictions"] == expected[version]
                log.append((answer.status_code, version, right))

    async def load() -> None:
        logs: list[list[tuple[int, str | None, bool]]] = [[] for _ in range(8)]
        seen.extend(logs)
        await asyncio.gather(*(client_loop(log) for log in logs))

    generator = threading.Thread(target=lambda: asyncio.run(load()))
    generator.start()
    try:
        _wait_for(lambda: sum(len(log) for log in seen) > 50)
        registry.set_alias("forest", "swap-test", "2")
        _wait_for(lambda: any(log and log[-1][1] == "2" for log in seen))
        time.sleep(0.5)  # keep the load on after the swap
    finally:
        stop.set()
        generator.join(timeout=30)
    answers = [entry for log in seen for entry in log]
    assert len(answers) > 100
    assert all(status == 200 for status, _, _ in answers), "a request failed during the swap"
    assert all(right for _, _, right in answers), "a prediction came from the wrong version"
    for log in seen:  # once a caller got version 2, it never got version 1 again
        versions = [v for _, v, _ in log]
        if "2" in versions:
            assert "1" not in versions[versions.index("2") :]
    assert {v for _, v, _ in answers} == {"1", "2"}
    metrics = served.http.get("/metrics").text
    assert 'slipway_serving_model_info{model="forest",variant="",version="2"} 1.0' in metrics
    assert 'slipway_serving_model_info{model="forest",variant="",version="1"} 0.0' in metrics


def test_a_model_that_fails_at_startup_is_never_ready(serve):
    served = serve("models:/forest/3", wait_ready=False)
    _wait_for(lambda: served.app.load_error is not None)
    answer = served.http.get("/ready")
    assert answer.status_code == 503
    assert "failed to load" in answer.json()["reason"]
    assert served.http.get("/health").status_code == 200


def test_a_server_process_freezes_what_it_loaded(registry):
    """`serve_in_process` sets `freeze_gc`: full collections then skip the loaded libraries."""
    import gc

    from slipway.serving import ServeConfig, create_app

    config = ServeConfig(
        ["models:/forest/1"], tracking_uri=registry.tracking_uri, prediction_log=False
    )
    app = create_app(config)
    app.freeze_gc = True

    async def load_and_stop() -> None:
        await app.startup()
        assert app._loading is not None
        await app._loading
        await app.shutdown()

    gc.unfreeze()
    try:
        asyncio.run(load_and_stop())
        assert app.load_error is None and gc.get_freeze_count() > 0
    finally:
        gc.unfreeze()  # this test process is not a server
