"""What a server tells about itself: Prometheus metrics, the prediction log and feedback."""

from __future__ import annotations

import numpy as np
import pytest
from serving_support import numeric_data

pytestmark = pytest.mark.timeout(120)


def _value(text: str, sample: str) -> float:
    for line in text.splitlines():
        if line.startswith(sample + " "):
            return float(line.rsplit(" ", 1)[1])
    raise AssertionError(f"{sample} not in:\n{text}")


def test_metrics_count_requests_latency_batches_classes_and_loads(serve, registry):
    served = serve("models:/forest/1", "models:/reg/1")
    X, _ = numeric_data(61, rows=4)
    records = X.to_dict(orient="records")
    for _ in range(3):
        assert served.http.post("/predict", json={"model": "forest", "records": records}).is_success
    served.http.post("/predict", json={"model": "reg", "records": records})
    served.http.post("/predict", json={"model": "forest", "records": [{"a": "x"}]})
    served.http.post("/invocations", json={"inputs": X.values.tolist()})
    answer = served.http.get("/metrics")
    assert answer.headers["content-type"].startswith("text/plain")
    text = answer.text
    labels = 'endpoint="predict",model="forest",status="200",variant="",version="1"'
    assert _value(text, f"slipway_serving_requests_total{{{labels}}}") == 3.0
    assert (
        _value(
            text,
            'slipway_serving_requests_total{endpoint="predict",model="forest",'
            'status="422",variant="",version="1"}',
        )
        == 1.0
    )
    assert (
        _value(
            text,
            'slipway_serving_request_duration_seconds_count{endpoint="predict",model="forest",'
            'variant="",version="1"}',
        )
        == 4.0  # every answer, the 422 included
    )
    assert (
        _value(text, 'slipway_serving_batch_size_sum{model="forest",variant="",version="1"}')
        == 16.0
    )
    predicted = registry.models["forest/1"].predict(X)
    for label in (0, 1):
        count = int((predicted == label).sum()) * 4  # 3 /predict + 1 /invocations
        if count:
            sample = (
                f'slipway_serving_predictions_total{{class="{label}",model="forest",'
                f'variant="",version="1"}}'
            )
            assert _value(text, sample) == count
    assert (
        _value(text, 'slipway_serving_prediction_value_count{model="reg",variant="",version="1"}')
        == 4.0
    )
    assert _value(text, 'slipway_serving_model_load_seconds{model="forest",version="1"}') > 0
    assert (
        _value(
            text,
            'slipway_serving_errors_total{endpoint="predict",kind="schema",model="forest",'
            'variant=""}',
        )
        == 1.0
    )
    assert "slipway_serving_requests_in_flight" in text


def test_predictions_are_logged_and_feedback_is_accepted(serve, registry):
    from slipway.serving.export import read_predictions

    served = serve("models:/forest/1", prediction_log=True)
    X, _ = numeric_data(62, rows=3)
    ids = []
    for i in range(3):
        answer = served.http.post(
            "/predict",
            json={"records": X.iloc[i : i + 1].to_dict(orient="records")},
            headers={"x-request-id": f"req-{i}"},
        )
        assert answer.status_code == 200
        ids.append(answer.json()["request_id"])
    invocation = served.http.post("/invocations", json={"dataframe_records": [X.iloc[0].to_dict()]})
    ids.append(invocation.headers["x-request-id"])
    one = served.http.post("/feedback", json={"request_id": "req-0", "label": 1})
    assert one.status_code == 200 and one.json() == {"accepted": 1}
    many = served.http.post(
        "/feedback", json={"records": [{"request_id": "req-1", "label": 0, "reward": 0.5}]}
    )
    assert many.json() == {"accepted": 1}
    bad = served.http.post("/feedback", json={"records": [{"label": 1}]})
    assert bad.status_code == 400 and bad.json()["error_code"] == "INVALID_PARAMETER_VALUE"
    served.app.prediction_log.flush()
    logged = read_predictions("forest", "1")
    assert sorted(logged["request_id"]) == sorted(ids)
    row = logged.set_index("request_id").loc["req-0"]
    assert row["label"] == 1
    np.testing.assert_allclose(row["input.a"], X.iloc[0]["a"])
    model = registry.models["forest/1"]
    assert row["prediction"] == model.predict(X.iloc[:1])[0]
    np.testing.assert_allclose(
        row[["probability.0", "probability.1"]].astype(float),
        model.predict_proba(X.iloc[:1])[0],
    )


def test_feedback_without_a_prediction_log_is_404(forest_server):
    answer = forest_server.http.post("/feedback", json={"request_id": "x", "label": 1})
    assert answer.status_code == 404
    assert "--no-prediction-log" in answer.json()["message"]
