"""Weighted split and sticky A/B over real HTTP: the observed split, live weight changes,
what every protocol says about the variant, metrics and the prediction log."""

from __future__ import annotations

import math

import orjson
import pytest
from serving_support import numeric_data
from traffic_support import pipelined, traffic_doc, variant_counts
from typer.testing import CliRunner

from slipway.cli.main import app
from slipway.serving.traffic.routing import Split

pytestmark = pytest.mark.timeout(180)

VARIANTS = {"champion": "models:/forest@champion", "challenger": "models:/forest/2"}


def _rows(n: int = 1) -> list[list[float]]:
    X, _ = numeric_data(5, rows=n)
    return X.values.tolist()


def test_a_90_10_split_over_10000_requests_is_within_4_sigma(serve):
    served = serve(
        traffic=traffic_doc("split", VARIANTS, split={"champion": 90, "challenger": 10}),
        request_timeout_s=30,
    )
    row = _rows(1)
    answers = pipelined(served.url, "/invocations", [{"inputs": row}] * 10_000)
    counts = variant_counts(answers)
    n, p = 10_000, 0.10
    sigma = math.sqrt(n * p * (1 - p))
    assert abs(counts["challenger"] - n * p) <= 4 * sigma, counts
    assert counts["champion"] + counts["challenger"] == n
    # the MLflow body stays exactly mlflow's: the variant is only in the header
    assert {tuple(orjson.loads(body)) for _, _, body in answers} == {("predictions",)}
    status = served.http.get("/traffic").json()
    assert status["variants"]["challenger"]["requests"] == counts["challenger"]
    assert status["variants"]["champion"]["requests"] == counts["champion"]
    assert status["variants"]["champion"]["p99_ms"] > 0
    assert status["weights"] == {"champion": 90.0, "challenger": 10.0}


def test_weights_change_live_through_the_api_and_the_cli(serve):
    served = serve(traffic=traffic_doc("split", VARIANTS, split={"champion": 50, "challenger": 50}))
    body = {"inputs": _rows(1)}

    def variants(n: int = 40) -> set[str]:
        return set(variant_counts(pipelined(served.url, "/invocations", [body] * n)))

    assert variants(200) == {"champion", "challenger"}
    answer = served.http.post("/traffic", json={"weights": {"challenger": 100}})
    assert answer.status_code == 200, answer.text
    assert answer.json()["weights"] == {"champion": 0.0, "challenger": 100.0}
    assert variants() == {"challenger"}  # at once in this worker, no restart

    result = CliRunner().invoke(
        app, ["traffic", "set", "--url", served.url, "champion=100", "challenger=0"]
    )
    assert result.exit_code == 0, result.output
    assert "champion" in result.output and "100%" in result.output
    assert variants() == {"champion"}
    history = served.http.get("/traffic").json()["history"]
    assert [h["action"] for h in history] == ["weights", "weights"]

    bad = served.http.post("/traffic", json={"weights": {"champion": 60, "nobody": 10}})
    assert bad.status_code == 400
    assert "nobody" in bad.json()["message"] and "sum to 100" in bad.json()["message"]
    unknown = CliRunner().invoke(app, ["traffic", "set", "--url", served.url, "champion:90"])
    assert unknown.exit_code == 2
    shown = CliRunner().invoke(app, ["traffic", "status", "--url", served.url])
    assert shown.exit_code == 0 and "challenger" in shown.output, shown.output
    as_json = CliRunner().invoke(app, ["traffic", "status", "--url", served.url, "--json"])
    assert orjson.loads(as_json.output)["strategy"] == "split"


def test_every_protocol_says_which_variant_answered(serve, registry):
    served = serve(
        traffic=traffic_doc("split", VARIANTS, split={"champion": 0, "challenger": 100}),
        prediction_log=True,
    )
    X, _ = numeric_data(5, rows=2)
    records = X.to_dict(orient="records")
    predicted = served.http.post("/predict", json={"records": records})
    assert predicted.headers["x-slipway-variant"] == "challenger"
    doc = predicted.json()
    assert doc["variant"] == "challenger" and (doc["model"], doc["version"]) == ("forest", "2")
    assert doc["predictions"] == registry.models["forest/2"].predict(X).tolist()

    scored = served.http.post("/invocations", json={"inputs": X.values.tolist()})
    assert scored.headers["x-slipway-variant"] == "challenger"
    assert list(scored.json()) == ["predictions"]

    tensor = {"name": "input-0", "shape": [2, 4], "datatype": "FP64", "data": X.values.ravel()}
    for path in ("/v2/models/exp/infer", "/v2/models/forest/infer"):
        infer = served.http.post(
            path, json={"inputs": [{**tensor, "data": tensor["data"].tolist()}]}
        )
        assert infer.status_code == 200, infer.text
        assert infer.headers["x-slipway-variant"] == "challenger"
        assert set(infer.json()) == {"model_name", "model_version", "parameters", "outputs"}
    assert served.http.get("/v2/models/exp").json()["name"] == "forest"

    # a variant asked for by name answers, says so, and is not part of the experiment
    direct = served.http.post("/predict", json={"records": records, "model": "champion"})
    assert direct.json()["variant"] == "champion" and direct.json()["version"] == "1"
    assert (
        served.http.post(
            "/v2/models/champion/infer",
            json={"inputs": [{**tensor, "data": tensor["data"].tolist()}]},
        ).headers["x-slipway-variant"]
        == "champion"
    )
    versioned = served.http.post("/predict", json={"records": records, "version": "1"})
    assert versioned.status_code == 400 and "name a variant" in versioned.json()["message"]

    status = served.http.get("/traffic").json()
    assert status["variants"]["champion"]["requests"] == 0
    assert status["variants"]["challenger"]["requests"] == 4
    assert status["variants"]["challenger"]["memory_mb"] is not None
    metrics = served.http.get("/metrics").text
    assert (
        'slipway_serving_requests_total{endpoint="predict",model="forest",status="200",'
        'variant="challenger",version="2"} 1.0' in metrics
    )
    assert 'slipway_traffic_weight_percent{experiment="exp",variant="challenger"} 100.0' in metrics
    ready = served.http.get("/ready").json()["models"]
    assert {(m["variant"], m["version"]) for m in ready} == {("champion", "1"), ("challenger", "2")}

    from slipway.serving.export import read_predictions

    served.app.prediction_log.flush()
    logged = read_predictions("forest", root=served.app.prediction_log.artifact_uri)
    assert logged.columns[5] == "variant"
    assert logged.groupby("variant")["request_id"].nunique().to_dict() == {
        "challenger": 4,
        "champion": 2,
    }


def test_sticky_keys_stay_on_their_variant_by_header_or_body_field(serve):
    served = serve(
        traffic=traffic_doc(
            "ab", VARIANTS, split={"champion": 50, "challenger": 50}, ab={"key": "user_id"}
        )
    )
    records = numeric_data(5, rows=1)[0].to_dict(orient="records")
    split = Split({"champion": 50, "challenger": 50})
    keys = [f"user-{i}" for i in range(40)]
    bodies = [{"records": records, "user_id": k} for k in keys for _ in range(5)]
    answers = pipelined(served.url, "/predict", bodies, connections=4, depth=10)
    seen: dict[str, set[str]] = {}
    for body, (status, headers, _) in zip(bodies, answers, strict=True):
        assert status == 200
        seen.setdefault(body["user_id"], set()).add(headers["x-slipway-variant"])
    assert all(len(v) == 1 for v in seen.values()), seen
    assert {k: v.pop() for k, v in seen.items()} == {k: split.choose(k) for k in keys}
    for key in keys[:5]:
        by_header = served.http.post(
            "/invocations", json={"inputs": _rows(1)}, headers={"x-user-id": key}
        )
        assert by_header.headers["x-slipway-variant"] == split.choose(key)
        by_param = served.http.post(
            "/v2/models/exp/infer",
            json={
                "parameters": {"user_id": key},
                "inputs": [
                    {"name": "input-0", "shape": [1, 4], "datatype": "FP64", "data": _rows(1)[0]}
                ],
            },
        )
        assert by_param.headers["x-slipway-variant"] == split.choose(key)
    keyless = variant_counts(pipelined(served.url, "/predict", [{"records": records}] * 200))
    assert set(keyless) == {"champion", "challenger"}  # no key: weighted random


def test_changing_the_traffic_needs_the_token_when_the_server_has_one(serve, monkeypatch):
    monkeypatch.setenv("SLIPWAY_TRAFFIC_TOKEN", "s3cret")
    served = serve(traffic=traffic_doc("split", VARIANTS, split={"champion": 50, "challenger": 50}))
    refused = served.http.post("/traffic", json={"weights": {"champion": 100}})
    assert refused.status_code == 401 and "SLIPWAY_TRAFFIC_TOKEN" in refused.json()["message"]
    wrong = served.http.post(
        "/traffic",
        json={"weights": {"champion": 100}},
        headers={"authorization": "Bearer guess"},
    )
    assert wrong.status_code == 401
    assert served.http.get("/traffic").status_code == 200  # reading needs no token
    result = CliRunner().invoke(app, ["traffic", "set", "--url", served.url, "champion=100"])
    assert result.exit_code == 0, result.output  # the CLI sends $SLIPWAY_TRAFFIC_TOKEN
    assert served.http.get("/traffic").json()["weights"]["champion"] == 100.0
