"""POST /predict and the operational endpoints, over HTTP against a real server."""

from __future__ import annotations

import numpy as np
import pytest
from serving_support import FOREST_COLUMNS, mixed_data, numeric_data

pytestmark = pytest.mark.timeout(120)


def test_predict_records_gives_predictions_probabilities_and_ids(forest_server, registry):
    X, _ = numeric_data(11, rows=5)
    answer = forest_server.http.post(
        "/predict", json={"model": "forest", "records": X.to_dict(orient="records")}
    )
    assert answer.status_code == 200, answer.text
    body = answer.json()
    model = registry.models["forest/1"]
    assert body["predictions"] == model.predict(X).tolist()
    np.testing.assert_allclose(body["probabilities"], model.predict_proba(X))
    assert body["classes"] == model.classes_.tolist()
    assert (body["model"], body["version"]) == ("forest", "1")
    assert body["request_id"] == answer.headers["x-request-id"]
    assert len(body["request_id"]) >= 16


def test_predict_columns_and_data_in_any_order(forest_server, registry):
    X, _ = numeric_data(12, rows=3)
    shuffled = X[["d", "b", "a", "c"]]
    answer = forest_server.http.post(
        "/predict",
        json={
            "model": "forest",
            "columns": list(shuffled.columns),
            "data": shuffled.values.tolist(),
            "probabilities": False,
        },
    )
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert body["predictions"] == registry.models["forest/1"].predict(X).tolist()
    assert "probabilities" not in body


def test_predict_mixed_types_pipeline(forest_server, registry):
    X, _ = mixed_data(seed=9, rows=6)
    answer = forest_server.http.post(
        "/predict", json={"model": "mixed", "records": X.to_dict(orient="records")}
    )
    assert answer.status_code == 200, answer.text
    model = registry.models["mixed/1"]
    assert answer.json()["predictions"] == model.predict(X).tolist()
    np.testing.assert_allclose(answer.json()["probabilities"], model.predict_proba(X))


def test_predict_regressor_has_no_probabilities(forest_server, registry):
    X, _ = numeric_data(13, rows=4)
    body = forest_server.http.post(
        "/predict", json={"model": "reg", "records": X.to_dict(orient="records")}
    ).json()
    np.testing.assert_allclose(body["predictions"], registry.models["reg/1"].predict(X))
    assert "probabilities" not in body and body["version"] == "1"


def test_incoming_request_id_is_honoured(forest_server):
    X, _ = numeric_data(14, rows=1)
    answer = forest_server.http.post(
        "/predict",
        json={"model": "forest", "records": X.to_dict(orient="records")},
        headers={"x-request-id": "my-trace-123"},
    )
    assert answer.headers["x-request-id"] == "my-trace-123"
    assert answer.json()["request_id"] == "my-trace-123"


def test_model_is_required_when_several_are_served(forest_server):
    X, _ = numeric_data(15, rows=1)
    answer = forest_server.http.post("/predict", json={"records": X.to_dict(orient="records")})
    assert answer.status_code == 400
    assert "forest" in answer.json()["message"] and "mixed" in answer.json()["message"]


@pytest.mark.parametrize(
    ("body", "status", "code"),
    [
        ({"model": "nope", "records": [{"a": 1}]}, 404, "RESOURCE_DOES_NOT_EXIST"),
        ({"model": "forest", "version": "9", "records": [{"a": 1}]}, 404, None),
        ({"model": "forest"}, 400, "BAD_REQUEST"),
        ({"model": "forest", "records": {"a": 1}}, 400, "BAD_REQUEST"),
        ({"model": "forest", "records": []}, 400, "BAD_REQUEST"),
        ([1, 2, 3], 400, "BAD_REQUEST"),
    ],
)
def test_bad_requests(forest_server, body, status, code):
    answer = forest_server.http.post("/predict", json=body)
    assert answer.status_code == status, answer.text
    if code:
        assert answer.json()["error_code"] == code
    assert answer.json()["request_id"] == answer.headers["x-request-id"]


def test_schema_problems_are_422_listing_every_problem(forest_server):
    rows = [
        {"a": "x", "b": 1.0, "c": 2.0, "e": 3.0},  # a: string, d missing, e unexpected
        {"a": "y", "b": 1.0, "c": 2.0, "e": 3.0},
    ]
    answer = forest_server.http.post("/predict", json={"model": "forest", "records": rows})
    assert answer.status_code == 422, answer.text
    body = answer.json()
    assert body["error_code"] == "SCHEMA_ENFORCEMENT_FAILED"
    problems = "\n".join(body["problems"])
    assert len(body["problems"]) == 3
    assert "'a'" in problems and "'d'" in problems and "'e'" in problems


def test_malformed_json_is_400(forest_server):
    answer = forest_server.http.post(
        "/predict", content=b'{"records": [', headers={"content-type": "application/json"}
    )
    assert answer.status_code == 400
    assert answer.json()["error_code"] == "BAD_REQUEST"


def test_oversized_body_is_413(forest_server):
    big = {"model": "forest", "records": [{c: 1.0 for c in FOREST_COLUMNS}] * 40_000}
    answer = forest_server.http.post("/predict", json=big)  # ~1.3 MB over a 1 MB limit
    assert answer.status_code == 413
    assert answer.json()["error_code"] == "REQUEST_LIMIT_EXCEEDED"


def test_unknown_route_and_wrong_method(forest_server):
    assert forest_server.http.get("/nope").status_code == 404
    wrong = forest_server.http.get("/predict")
    assert wrong.status_code == 405 and wrong.headers["allow"] == "POST"


def test_health_ready_version_ping(forest_server):
    http = forest_server.http
    health = http.get("/health").json()
    assert health["status"] == "ok" and health["ready"] is True
    ready = http.get("/ready").json()
    assert {(m["name"], m["version"]) for m in ready["models"]} == {
        ("forest", "1"),
        ("mixed", "1"),
        ("reg", "1"),
    }
    assert http.get("/ping").status_code == 200
    version = http.get("/version").json()
    assert version["slipway"]
    assert {m["name"]: m["flavor"] for m in version["models"]}["forest"] == "sklearn"


def test_not_ready_before_models_load(serve, registry, monkeypatch):
    import threading

    from slipway.serving import registry as serving_registry

    gate = threading.Event()
    original = serving_registry.ModelRegistry._load

    def slow_load(self, source, version):
        gate.wait(20)
        return original(self, source, version)

    monkeypatch.setattr(serving_registry.ModelRegistry, "_load", slow_load)
    served = serve("models:/reg/1", wait_ready=False)
    try:
        assert served.http.get("/health").status_code == 200
        assert served.http.get("/ready").status_code == 503
        assert served.http.get("/v2/health/ready").json() == {"ready": False}
        answer = served.http.post("/predict", json={"records": [{"a": 1.0}]})
        assert answer.status_code == 503
    finally:
        gate.set()
    for _ in range(200):
        if served.http.get("/ready").status_code == 200:
            break
        import time

        time.sleep(0.05)
    assert served.http.get("/ready").status_code == 200


def test_a_forest_saved_with_n_jobs_predicts_without_joblib_threads(serve, tmp_path, monkeypatch):
    """`n_jobs=-1` would start joblib's threads for every call; the answers stay the same."""
    from sklearn.ensemble import RandomForestClassifier
    from sklearn.utils import parallel

    import slipway.sklearn

    X, y = numeric_data(21, rows=300)
    model = RandomForestClassifier(n_estimators=8, max_depth=4, random_state=0, n_jobs=-1)
    model.fit(X, y)
    slipway.sklearn.save_model(model, str(tmp_path / "forest"), input_example=X.iloc[:3])
    # scikit-learn's own predict (--no-fast-forests) runs under joblib's sequential backend;
    # the default fast path (serving/forest.py) does not use joblib at all.
    plain = serve(str(tmp_path / "forest"), fast_forests=False)
    fast = serve(str(tmp_path / "forest"))
    backends = []
    call = parallel.Parallel.__call__

    def spy(self, iterable):
        backends.append(type(self._backend).__name__)
        return call(self, iterable)

    monkeypatch.setattr(parallel.Parallel, "__call__", spy)
    answer = plain.http.post("/predict", json={"records": X.to_dict(orient="records")})
    assert answer.status_code == 200, answer.text
    assert backends and set(backends) == {"SequentialBackend"}
    backends.clear()
    fast_answer = fast.http.post("/predict", json={"records": X.to_dict(orient="records")})
    assert fast_answer.status_code == 200 and backends == []
    # joblib's threads add the trees up in any order: the last bits of model.predict_proba
    # vary from call to call; the served answer is the trees added in order.
    model.set_params(n_jobs=None)
    for served_answer in (answer, fast_answer):
        assert served_answer.json()["predictions"] == model.predict(X).tolist()
        assert served_answer.json()["probabilities"] == model.predict_proba(X).tolist()
