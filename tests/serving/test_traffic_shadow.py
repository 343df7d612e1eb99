"""Shadow traffic: a shadow that fails or takes 2 s changes no answer and adds no latency."""

from __future__ import annotations

import statistics
import time

import pytest
from traffic_support import steered_model, traffic_doc, x_records

pytestmark = pytest.mark.timeout(120)


def _p50(samples: list[float]) -> float:
    return statistics.median(samples) * 1000


@pytest.mark.parametrize("trouble", ["sleeps", "raises"])
def test_a_shadow_that_sleeps_or_raises_changes_no_answer_and_adds_no_latency(
    serve, tmp_path, trouble
):
    primary = steered_model(tmp_path, "primary", factor=2.0)
    flag = tmp_path / "trouble"
    if trouble == "raises":
        shadow = steered_model(tmp_path, "shadow", factor=3.0, fail=flag)
    else:
        shadow = steered_model(tmp_path, "shadow", factor=3.0, slow=flag, sleep=2.0)
    served = serve(
        traffic=traffic_doc(
            "shadow",
            {"champion": str(primary), "candidate": str(shadow)},
            shadow={"primary": "champion", "shadow": "candidate", "queue": 4},
        ),
        prediction_log=True,
    )
    http = served.http
    flag.touch()  # from now on the shadow sleeps 2 s, or raises, on every copy
    with_shadow, without = [], []
    for i in range(1, 121):  # interleaved, so both see the same machine (0 * 2 == 0 * 3)
        for routed, samples in ((True, with_shadow), (False, without)):
            body = {"records": x_records(float(i))}
            if not routed:
                body["model"] = "champion"  # by name: not routed, not mirrored
            started = time.perf_counter()
            answer = http.post("/predict", json=body)
            samples.append(time.perf_counter() - started)
            assert answer.status_code == 200, answer.text
            doc = answer.json()
            assert doc["predictions"] == [{"x": 2.0 * i}] or doc["predictions"] == [2.0 * i]
            assert doc["variant"] == "champion"
    assert _p50(with_shadow) <= _p50(without) * 1.5 + 1.0, (_p50(with_shadow), _p50(without))
    status = http.get("/traffic").json()["shadow"]
    assert status["sent"] >= 1 and status["sent"] + status["dropped"] == 120
    if trouble == "sleeps":
        assert status["dropped"] > 100  # 4 in flight at most: the rest is shed, never waited for
    else:
        assert status["errors"] == status["sent"]
    assert status["compared_rows"] == 0 or status["agreement"] == 0.0


def test_a_healthy_shadow_is_compared_and_logged_under_its_variant(serve, tmp_path):
    primary = steered_model(tmp_path, "primary", factor=2.0)
    twin = steered_model(tmp_path, "twin", factor=2.0)
    served = serve(
        traffic=traffic_doc(
            "shadow",
            {"champion": str(primary), "twin": str(twin)},
            shadow={"primary": "champion", "shadow": "twin"},
        ),
        prediction_log=True,
    )
    ids = []
    for i in range(20):
        answer = served.http.post("/invocations", json={"dataframe_records": x_records(float(i))})
        assert answer.headers["x-slipway-variant"] == "champion"
        ids.append(answer.headers["x-request-id"])
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        status = served.http.get("/traffic").json()["shadow"]
        if status["compared_rows"] == 20:
            break
        time.sleep(0.05)
    assert status["agreement"] == 1.0 and status["errors"] == 0 and status["dropped"] == 0
    assert status["shadow_p50_ms"] is not None and status["primary_p50_ms"] is not None
    metrics = served.http.get("/metrics").text
    assert (
        'slipway_traffic_shadow_rows_total{agreed="true",experiment="exp",variant="twin"} 20.0'
        in metrics
    )

    from slipway.serving.export import read_predictions

    served.app.prediction_log.flush()
    root = served.app.prediction_log.artifact_uri
    logged = read_predictions("primary", root=root)
    shadow_logged = read_predictions("twin", root=root)
    assert set(logged["variant"]) == {"champion"} and set(shadow_logged["variant"]) == {"twin"}
    assert set(logged["experiment"]) == {"exp"} and set(shadow_logged["experiment"]) == {"exp"}
    assert sorted(shadow_logged["request_id"]) == sorted(ids)  # the same ids: labels join both


def test_shadow_rows_are_marked_and_a_monitor_window_counts_only_served_answers(
    tmp_path, monkeypatch
):
    """Both variants are versions of one model, so the shadow logs under the model's name
    with the primary's request ids: the log marks its rows, and the monitor leaves them out."""
    from serving_support import running_server
    from traffic_support import register_folder

    from slipway import Client
    from slipway.monitoring.evaluation import evaluate_window, read_window
    from slipway.monitoring.spec import MonitorSpec
    from slipway.serving import ServeConfig
    from slipway.serving.export import iter_predictions, read_predictions

    root = tmp_path / "registry"
    root.mkdir()
    uri = f"sqlite:///{root / 'db.sqlite'}"
    log_root = str(tmp_path / "prediction-log")
    monkeypatch.setenv("SLIPWAY_PREDICTION_LOG_URI", log_root)
    register_folder(uri, root, "svc", steered_model(tmp_path, "stable", factor=2.0))
    register_folder(uri, root, "svc", steered_model(tmp_path, "candidate", factor=3.0))
    client = Client(uri)
    client.set_registered_model_alias("svc", "champion", 1)
    client.set_registered_model_alias("svc", "challenger", 2)
    client.close()
    doc = traffic_doc(
        "shadow",
        {"champion": "models:/svc@champion", "challenger": "models:/svc@challenger"},
        shadow={"primary": "champion", "shadow": "challenger"},
    )
    requests = 12
    started_ms = int(time.time() * 1000) - 1000
    config = ServeConfig([], tracking_uri=uri, traffic=doc, prediction_log=True)
    with running_server(config) as served:
        ids = []
        for i in range(1, requests + 1):
            answer = served.http.post("/predict", json={"records": x_records(float(i))})
            assert answer.status_code == 200 and answer.headers["x-slipway-variant"] == "champion"
            ids.append(answer.headers["x-request-id"])
        deadline = time.monotonic() + 10
        while served.http.get("/traffic").json()["shadow"]["compared_rows"] < requests:
            assert time.monotonic() < deadline, served.http.get("/traffic").json()
            time.sleep(0.05)
        labels = [{"request_id": rid, "label": 2.0 * i} for i, rid in enumerate(ids, 1)]
        assert served.http.post("/feedback", json={"records": labels}).status_code == 200
        served.app.prediction_log.flush()
    ended_ms = int(time.time() * 1000) + 1000

    everything = read_predictions("svc", root=log_root)
    assert len(everything) == 2 * requests  # the export still returns every row by default
    shadow_rows = everything[everything["shadow"].fillna(False).astype(bool)]
    assert set(shadow_rows["variant"]) == {"challenger"} and len(shadow_rows) == requests
    assert sorted(shadow_rows["request_id"]) == sorted(ids)
    served_rows = read_predictions("svc", root=log_root, include_shadow=False)
    assert set(served_rows["variant"]) == {"champion"} and len(served_rows) == requests
    assert served_rows["label"].notna().all()  # labels still join the served answers
    counted = iter_predictions(
        "svc", root=log_root, with_labels=False, columns=[], include_shadow=False
    )
    assert sum(batch.num_rows for batch in counted) == requests  # the monitor's count pass

    spec = MonitorSpec(model="svc", prediction_log=log_root, min_rows=1, min_labels=1)
    for sample_rows in (None, 5):  # with a sample, the count pass decides the bar
        spec.sample_rows = sample_rows
        data = read_window(spec, started_ms, ended_ms, uri)
        assert data.rows == requests  # one row per request, not two
        assert sorted(data.outputs.column("prediction").to_pylist()) == [
            2.0 * i for i in range(1, requests + 1)
        ]  # the primary's answers only (the shadow's are x * 3)
        assert data.outputs.column("label").null_count == 0
        assert set(data.outputs.column("model_version").to_pylist()) == {"1"}
    window = evaluate_window("svc-monitor", spec, data, started_ms, ended_ms, None)
    assert window.rows == requests and window.labelled_rows == requests

    # The experiment report keeps the shadow as its variant: it answered the same
    # requests, so it is scored against the same labels as the primary.
    from slipway.serving.abtest.analysis import analyze_experiment

    report = analyze_experiment("exp", "abs_error", models="svc", root=log_root)
    champion, challenger = report.variant("champion"), report.variant("challenger")
    assert champion.rows == challenger.rows == requests and report.excluded_rows == 0
    assert champion.value == 0.0 and challenger.value == sum(range(1, requests + 1)) / requests
