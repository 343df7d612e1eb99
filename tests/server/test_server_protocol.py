"""The MLflow REST protocol on the wire: JSON shapes, and a 4xx (never a 5xx) for bad input."""

from __future__ import annotations

import re

import httpx
import pytest

API = "/api/2.0/mlflow"


def _ok(response: httpx.Response) -> dict:
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("application/json")
    return response.json()


def _error(response: httpx.Response, status: int, code: str) -> str:
    assert response.status_code == status, response.text
    body = response.json()
    assert set(body) == {"error_code", "message"}
    assert body["error_code"] == code
    assert body["message"]
    return body["message"]


def _new_run(http: httpx.Client) -> str:
    body = {"experiment_id": "0", "user_id": "ann", "start_time": 1_000, "run_name": "r"}
    return _ok(http.post(f"{API}/runs/create", json=body))["run"]["info"]["run_id"]


@pytest.fixture
def run_id(http: httpx.Client) -> str:
    return _new_run(http)


@pytest.fixture(scope="module")
def shared_run_id(shared_http: httpx.Client) -> str:
    """A run on the module's shared server; the tests using it must leave it empty."""
    return _new_run(shared_http)


def test_experiment_routes(http: httpx.Client) -> None:
    created = _ok(
        http.post(
            f"{API}/experiments/create",
            json={"name": "shapes", "tags": [{"key": "team", "value": "ml"}]},
        )
    )
    exp_id = created["experiment_id"]
    assert isinstance(exp_id, str) and exp_id.isdigit()

    exp = _ok(http.get(f"{API}/experiments/get", params={"experiment_id": exp_id}))["experiment"]
    assert exp["name"] == "shapes"
    assert exp["artifact_location"] == f"mlflow-artifacts:/{exp_id}"
    assert exp["lifecycle_stage"] == "active"
    assert isinstance(exp["creation_time"], int)
    assert exp["tags"] == [{"key": "team", "value": "ml"}]
    by_name = _ok(http.get(f"{API}/experiments/get-by-name", params={"experiment_name": "shapes"}))
    assert by_name["experiment"]["experiment_id"] == exp_id

    assert (
        _ok(
            http.post(f"{API}/experiments/update", json={"experiment_id": exp_id, "new_name": "s2"})
        )
        == {}
    )
    tag = {"experiment_id": exp_id, "key": "k", "value": "v"}
    assert _ok(http.post(f"{API}/experiments/set-experiment-tag", json=tag)) == {}
    assert (
        _ok(
            http.post(
                f"{API}/experiments/delete-experiment-tag",
                json={"experiment_id": exp_id, "key": "team"},
            )
        )
        == {}
    )
    exp = _ok(http.get(f"{API}/experiments/get", params={"experiment_id": exp_id}))["experiment"]
    assert exp["name"] == "s2" and exp["tags"] == [{"key": "k", "value": "v"}]

    # search by POST body and by GET query string; view_type by name or number
    found = _ok(http.post(f"{API}/experiments/search", json={"filter": "name = 's2'"}))
    assert [e["experiment_id"] for e in found["experiments"]] == [exp_id]
    assert "next_page_token" not in found
    found = _ok(http.get(f"{API}/experiments/search", params={"filter": "name = 's2'"}))
    assert len(found["experiments"]) == 1
    page = _ok(http.post(f"{API}/experiments/search", json={"max_results": 1}))
    assert len(page["experiments"]) == 1 and page["next_page_token"]

    assert _ok(http.post(f"{API}/experiments/delete", json={"experiment_id": exp_id})) == {}
    deleted = _ok(http.post(f"{API}/experiments/search", json={"view_type": "DELETED_ONLY"}))
    assert [e["lifecycle_stage"] for e in deleted["experiments"]] == ["deleted"]
    everything = _ok(http.post(f"{API}/experiments/search", json={"view_type": 3}))
    assert exp_id in [e["experiment_id"] for e in everything["experiments"]]
    assert _ok(http.post(f"{API}/experiments/restore", json={"experiment_id": exp_id})) == {}


def test_run_routes(http: httpx.Client, run_id: str) -> None:
    run = _ok(http.get(f"{API}/runs/get", params={"run_id": run_id}))["run"]
    info = run["info"]
    assert re.fullmatch(r"[0-9a-f]{32}", run_id)
    assert info["run_uuid"] == run_id and info["run_name"] == "r"
    assert info["status"] == "RUNNING" and info["start_time"] == 1_000
    assert info["artifact_uri"] == f"mlflow-artifacts:/{info['experiment_id']}/{run_id}/artifacts"
    assert run["data"]["metrics"] == [] and run["data"]["params"] == []
    assert {"key": "mlflow.runName", "value": "r"} in run["data"]["tags"]
    assert run["inputs"] == {"dataset_inputs": []}

    # the mlflow client sends run_uuid as well as (or, in old clients, instead of) run_id
    param = {"run_uuid": run_id, "key": "lr", "value": "0.1"}
    assert _ok(http.post(f"{API}/runs/log-parameter", json=param)) == {}
    metric = {"run_id": run_id, "key": "loss", "value": 0.5, "timestamp": 5, "step": 2}
    assert _ok(http.post(f"{API}/runs/log-metric", json=metric)) == {}
    tag = {"run_id": run_id, "key": "t", "value": "v"}
    assert _ok(http.post(f"{API}/runs/set-tag", json=tag)) == {}
    assert _ok(http.post(f"{API}/runs/delete-tag", json={"run_id": run_id, "key": "t"})) == {}
    data = _ok(http.get(f"{API}/runs/get", params={"run_uuid": run_id}))["run"]["data"]
    assert data["params"] == [{"key": "lr", "value": "0.1"}]
    assert data["metrics"] == [{"key": "loss", "value": 0.5, "timestamp": 5, "step": 2}]
    assert "t" not in {t["key"] for t in data["tags"]}

    update = {"run_id": run_id, "status": "FINISHED", "end_time": 9_000}
    run_info = _ok(http.post(f"{API}/runs/update", json=update))["run_info"]
    assert run_info["status"] == "FINISHED" and run_info["end_time"] == 9_000
    # enum by number, as protobuf may send it: 4 = FAILED
    run_info = _ok(http.post(f"{API}/runs/update", json={"run_id": run_id, "status": 4}))[
        "run_info"
    ]
    assert run_info["status"] == "FAILED"

    assert _ok(http.post(f"{API}/runs/delete", json={"run_id": run_id})) == {}
    info = _ok(http.get(f"{API}/runs/get", params={"run_id": run_id}))["run"]["info"]
    assert info["lifecycle_stage"] == "deleted"
    assert _ok(http.post(f"{API}/runs/restore", json={"run_id": run_id})) == {}


def test_log_batch_and_metric_history(http: httpx.Client, run_id: str) -> None:
    batch = {
        "run_id": run_id,
        "metrics": [
            {"key": "m", "value": 1, "timestamp": 1, "step": 0},
            {"key": "m", "value": "NaN", "timestamp": 2, "step": 1},
            {"key": "m", "value": "Infinity", "timestamp": "3", "step": "2"},
            {"key": "m", "value": "-Infinity", "timestamp": 4, "step": 3},
        ],
        "params": [{"key": "p", "value": "1"}],
        "tags": [{"key": "t", "value": "x"}],
    }
    assert _ok(http.post(f"{API}/runs/log-batch", json=batch)) == {}
    history = _ok(
        http.get(f"{API}/metrics/get-history", params={"run_id": run_id, "metric_key": "m"})
    )
    assert [m["value"] for m in history["metrics"]] == [1.0, "NaN", "Infinity", "-Infinity"]
    assert history["metrics"][2] == {"key": "m", "value": "Infinity", "timestamp": 3, "step": 2}
    first = _ok(
        http.get(
            f"{API}/metrics/get-history",
            params={"run_id": run_id, "metric_key": "m", "max_results": 3},
        )
    )
    assert len(first["metrics"]) == 3
    rest = _ok(
        http.get(
            f"{API}/metrics/get-history",
            params={
                "run_id": run_id,
                "metric_key": "m",
                "max_results": 3,
                "page_token": first["next_page_token"],
            },
        )
    )
    assert [m["step"] for m in rest["metrics"]] == [3] and "next_page_token" not in rest


def test_log_batch_limits_are_mlflows(http: httpx.Client, run_id: str) -> None:
    metric = {"key": "m", "value": 1, "timestamp": 1, "step": 0}
    over = [
        ({"metrics": [metric] * 1001}, "1000 metrics"),
        ({"params": [{"key": f"p{i}", "value": "1"} for i in range(101)]}, "100 params"),
        ({"tags": [{"key": f"t{i}", "value": "1"} for i in range(101)]}, "100 tags"),
        (
            {
                "metrics": [metric] * 950,
                "params": [{"key": f"p{i}", "value": "1"} for i in range(60)],
            },
            "1000 metrics, params and tags",
        ),
    ]
    for extra, words in over:
        message = _error(
            http.post(f"{API}/runs/log-batch", json={"run_id": run_id, **extra}),
            400,
            "INVALID_PARAMETER_VALUE",
        )
        assert words in message
    assert (
        _ok(http.get(f"{API}/runs/get", params={"run_id": run_id}))["run"]["data"]["metrics"] == []
    )


def test_search_runs(http: httpx.Client) -> None:
    exp = _ok(http.post(f"{API}/experiments/create", json={"name": "search"}))["experiment_id"]
    ids = []
    for i in range(3):
        run = _ok(http.post(f"{API}/runs/create", json={"experiment_id": exp, "start_time": i}))
        rid = run["run"]["info"]["run_id"]
        ids.append(rid)
        metric = {"run_id": rid, "key": "acc", "value": i / 10, "timestamp": 1, "step": 0}
        _ok(http.post(f"{API}/runs/log-metric", json=metric))
    body = {
        "experiment_ids": [exp],
        "filter": "metrics.acc > 0",
        "order_by": ["metrics.acc ASC"],
        "run_view_type": "ACTIVE_ONLY",
    }
    found = _ok(http.post(f"{API}/runs/search", json=body))
    assert [r["info"]["run_id"] for r in found["runs"]] == [ids[1], ids[2]]
    assert found["runs"][0]["data"]["metrics"][0]["key"] == "acc"

    _ok(http.post(f"{API}/runs/delete", json={"run_id": ids[0]}))
    deleted = _ok(
        http.post(f"{API}/runs/search", json={"experiment_ids": [exp], "run_view_type": 2})
    )
    assert [r["info"]["run_id"] for r in deleted["runs"]] == [ids[0]]
    page = _ok(
        http.post(
            f"{API}/runs/search",
            json={"experiment_ids": [exp], "run_view_type": "ALL", "max_results": 2},
        )
    )
    assert len(page["runs"]) == 2 and page["next_page_token"]


def test_inputs_and_outputs(http: httpx.Client, run_id: str) -> None:
    dataset = {"name": "train", "digest": "d1", "source_type": "local", "source": "{}"}
    body = {
        "run_id": run_id,
        "datasets": [
            {"tags": [{"key": "mlflow.data.context", "value": "train"}], "dataset": dataset}
        ],
    }
    assert _ok(http.post(f"{API}/runs/log-inputs", json=body)) == {}
    models = {"run_id": run_id, "models": [{"model_id": "m-" + "a" * 32, "step": 1}]}
    assert _ok(http.post(f"{API}/runs/outputs", json=models)) == {}
    run = _ok(http.get(f"{API}/runs/get", params={"run_id": run_id}))["run"]
    inputs = run["inputs"]["dataset_inputs"]
    assert inputs[0]["dataset"]["name"] == "train" and inputs[0]["dataset"]["digest"] == "d1"
    assert run["outputs"]["model_outputs"][0]["model_id"] == "m-" + "a" * 32


def test_ajax_prefix_serves_the_same_api(http: httpx.Client) -> None:
    created = _ok(http.post("/ajax-api/2.0/mlflow/experiments/create", json={"name": "ui"}))
    got = _ok(
        http.get(f"{API}/experiments/get", params={"experiment_id": created["experiment_id"]})
    )
    assert got["experiment"]["name"] == "ui"


def test_meta_endpoints(http: httpx.Client) -> None:
    from slipway import __version__

    assert http.get("/health").text == "OK"
    assert http.get("/version").text == __version__
    info = _ok(http.get("/api/3.0/mlflow/server-info"))
    assert info["multipart_uploads_enabled"] is True  # through the proxy's part URLs
    assert info["multipart_downloads_enabled"] is False


# --- bad input: every route answers 400/404 with the error body, never a 5xx -------------
RUN = "__run__"  # replaced by a real run id

BAD_REQUESTS = [
    # (method, route, JSON body or query params, status, error code)
    ("POST", "experiments/create", {}, 400, "INVALID_PARAMETER_VALUE"),
    ("POST", "experiments/create", {"name": ["a"]}, 400, "INVALID_PARAMETER_VALUE"),
    ("GET", "experiments/get", {}, 400, "INVALID_PARAMETER_VALUE"),
    ("GET", "experiments/get", {"experiment_id": "424242"}, 404, "RESOURCE_DOES_NOT_EXIST"),
    ("GET", "experiments/get-by-name", {}, 400, "INVALID_PARAMETER_VALUE"),
    ("GET", "experiments/get-by-name", {"experiment_name": "nope"}, 404, "RESOURCE_DOES_NOT_EXIST"),
    ("POST", "experiments/search", {"max_results": "abc"}, 400, "INVALID_PARAMETER_VALUE"),
    ("POST", "experiments/search", {"max_results": 50001}, 400, "INVALID_PARAMETER_VALUE"),
    ("POST", "experiments/search", {"view_type": 7}, 400, "INVALID_PARAMETER_VALUE"),
    ("POST", "experiments/search", {"filter": "name ==="}, 400, "INVALID_PARAMETER_VALUE"),
    ("POST", "experiments/search", {"order_by": 5}, 400, "INVALID_PARAMETER_VALUE"),
    ("GET", "experiments/search", {"max_results": "x"}, 400, "INVALID_PARAMETER_VALUE"),
    ("POST", "experiments/update", {}, 400, "INVALID_PARAMETER_VALUE"),
    (
        "POST",
        "experiments/update",
        {"experiment_id": "424242", "new_name": "x"},
        404,
        "RESOURCE_DOES_NOT_EXIST",
    ),
    ("POST", "experiments/delete", {}, 400, "INVALID_PARAMETER_VALUE"),
    ("POST", "experiments/delete", {"experiment_id": "424242"}, 404, "RESOURCE_DOES_NOT_EXIST"),
    ("POST", "experiments/restore", {}, 400, "INVALID_PARAMETER_VALUE"),
    (
        "POST",
        "experiments/set-experiment-tag",
        {"experiment_id": "0"},
        400,
        "INVALID_PARAMETER_VALUE",
    ),
    ("POST", "experiments/delete-experiment-tag", {"key": "k"}, 400, "INVALID_PARAMETER_VALUE"),
    ("POST", "runs/create", {"experiment_id": "424242"}, 404, "RESOURCE_DOES_NOT_EXIST"),
    (
        "POST",
        "runs/create",
        {"experiment_id": "0", "start_time": "soon"},
        400,
        "INVALID_PARAMETER_VALUE",
    ),
    (
        "POST",
        "runs/create",
        {"experiment_id": "0", "tags": {"a": "b"}},
        400,
        "INVALID_PARAMETER_VALUE",
    ),
    ("GET", "runs/get", {}, 400, "INVALID_PARAMETER_VALUE"),
    ("GET", "runs/get", {"run_id": "0" * 32}, 404, "RESOURCE_DOES_NOT_EXIST"),
    ("POST", "runs/update", {}, 400, "INVALID_PARAMETER_VALUE"),
    ("POST", "runs/update", {"run_id": RUN, "status": "DONE"}, 400, "INVALID_PARAMETER_VALUE"),
    ("POST", "runs/update", {"run_id": RUN, "end_time": [1]}, 400, "INVALID_PARAMETER_VALUE"),
    ("POST", "runs/delete", {}, 400, "INVALID_PARAMETER_VALUE"),
    ("POST", "runs/delete", {"run_id": "0" * 32}, 404, "RESOURCE_DOES_NOT_EXIST"),
    ("POST", "runs/restore", {}, 400, "INVALID_PARAMETER_VALUE"),
    ("POST", "runs/log-parameter", {"run_id": RUN, "key": "k"}, 400, "INVALID_PARAMETER_VALUE"),
    ("POST", "runs/log-parameter", {"run_id": RUN, "value": "v"}, 400, "INVALID_PARAMETER_VALUE"),
    (
        "POST",
        "runs/log-metric",
        {"run_id": RUN, "key": "m", "value": "x", "timestamp": 1},
        400,
        "INVALID_PARAMETER_VALUE",
    ),
    (
        "POST",
        "runs/log-metric",
        {"run_id": RUN, "key": "m", "timestamp": 1},
        400,
        "INVALID_PARAMETER_VALUE",
    ),
    (
        "POST",
        "runs/log-metric",
        {"run_id": RUN, "key": "m", "value": 1},
        400,
        "INVALID_PARAMETER_VALUE",
    ),
    (
        "POST",
        "runs/log-metric",
        {"key": "m", "value": 1, "timestamp": 1},
        400,
        "INVALID_PARAMETER_VALUE",
    ),
    (
        "POST",
        "runs/log-metric",
        {"run_id": RUN, "key": "m", "value": 1, "timestamp": 1, "step": 1.5},
        400,
        "INVALID_PARAMETER_VALUE",
    ),
    (
        "POST",
        "runs/log-metric",
        {"run_id": "0" * 32, "key": "m", "value": 1, "timestamp": 1},
        404,
        "RESOURCE_DOES_NOT_EXIST",
    ),
    ("POST", "runs/set-tag", {"run_id": RUN}, 400, "INVALID_PARAMETER_VALUE"),
    ("POST", "runs/delete-tag", {"run_id": RUN}, 400, "INVALID_PARAMETER_VALUE"),
    ("POST", "runs/log-batch", {}, 400, "INVALID_PARAMETER_VALUE"),
    ("POST", "runs/log-batch", {"run_id": RUN, "metrics": "m"}, 400, "INVALID_PARAMETER_VALUE"),
    (
        "POST",
        "runs/log-batch",
        {"run_id": RUN, "metrics": [{"key": "m", "value": 1}]},
        400,
        "INVALID_PARAMETER_VALUE",
    ),
    (
        "POST",
        "runs/log-batch",
        {"run_id": RUN, "metrics": [{"key": "m", "value": "x", "timestamp": 1}]},
        400,
        "INVALID_PARAMETER_VALUE",
    ),
    (
        "POST",
        "runs/log-batch",
        {"run_id": RUN, "params": [{"value": "1"}]},
        400,
        "INVALID_PARAMETER_VALUE",
    ),
    (
        "POST",
        "runs/log-batch",
        {"run_id": RUN, "params": [{"key": "k", "value": {"a": 1}}]},
        400,
        "INVALID_PARAMETER_VALUE",
    ),
    ("POST", "runs/log-inputs", {}, 400, "INVALID_PARAMETER_VALUE"),
    (
        "POST",
        "runs/log-inputs",
        {"run_id": RUN, "datasets": [{"dataset": {"name": "x"}}]},
        400,
        "INVALID_PARAMETER_VALUE",
    ),
    ("POST", "runs/outputs", {}, 400, "INVALID_PARAMETER_VALUE"),
    (
        "POST",
        "runs/outputs",
        {"run_id": RUN, "models": [{"step": 1}]},
        400,
        "INVALID_PARAMETER_VALUE",
    ),
    ("POST", "runs/search", {"max_results": 50001}, 400, "INVALID_PARAMETER_VALUE"),
    ("POST", "runs/search", {"max_results": -1}, 400, "INVALID_PARAMETER_VALUE"),
    ("POST", "runs/search", {"run_view_type": "BOGUS"}, 400, "INVALID_PARAMETER_VALUE"),
    (
        "POST",
        "runs/search",
        {"experiment_ids": ["0"], "filter": "metrics.a >"},
        400,
        "INVALID_PARAMETER_VALUE",
    ),
    (
        "POST",
        "runs/search",
        {"experiment_ids": ["0"], "filter": "a = 1 OR b = 2"},
        400,
        "INVALID_PARAMETER_VALUE",
    ),
    ("GET", "metrics/get-history", {"run_id": RUN}, 400, "INVALID_PARAMETER_VALUE"),
    (
        "GET",
        "metrics/get-history",
        {"run_id": RUN, "metric_key": "m", "max_results": "abc"},
        400,
        "INVALID_PARAMETER_VALUE",
    ),
    (
        "GET",
        "metrics/get-history",
        {"run_id": "0" * 32, "metric_key": "m"},
        404,
        "RESOURCE_DOES_NOT_EXIST",
    ),
    ("GET", "artifacts/list", {}, 400, "INVALID_PARAMETER_VALUE"),
    ("GET", "artifacts/list", {"run_id": RUN, "path": "../x"}, 400, "INVALID_PARAMETER_VALUE"),
]


@pytest.mark.parametrize(
    ("method", "route", "payload", "status", "code"),
    BAD_REQUESTS,
    ids=[f"{m} {r} {i}" for i, (m, r, *_) in enumerate(BAD_REQUESTS)],
)
def test_bad_input_is_a_clear_4xx(
    shared_http: httpx.Client,
    shared_run_id: str,
    method: str,
    route: str,
    payload: dict,
    status: int,
    code: str,
) -> None:
    http, run_id = shared_http, shared_run_id
    payload = {k: (run_id if v == RUN else v) for k, v in payload.items()}
    if method == "GET":
        response = http.get(f"{API}/{route}", params=payload)
    else:
        response = http.post(f"{API}/{route}", json=payload)
    _error(response, status, code)


POST_ROUTES = sorted({r for m, r, *_ in BAD_REQUESTS if m == "POST"})


@pytest.mark.parametrize("route", POST_ROUTES)
def test_malformed_json_is_bad_request_on_every_post_route(
    shared_http: httpx.Client, route: str
) -> None:
    http = shared_http
    headers = {"Content-Type": "application/json"}
    message = _error(
        http.post(f"{API}/{route}", content=b'{"name": ', headers=headers), 400, "BAD_REQUEST"
    )
    assert "not valid JSON" in message
    _error(http.post(f"{API}/{route}", content=b"[1, 2]", headers=headers), 400, "BAD_REQUEST")


def test_unknown_endpoint_and_wrong_method(shared_http: httpx.Client) -> None:
    http = shared_http
    _error(http.get(f"{API}/no/such/thing"), 404, "ENDPOINT_NOT_FOUND")
    _error(http.get("/api/2.0/nothing"), 404, "ENDPOINT_NOT_FOUND")
    # mlflow falls back to another endpoint on ENDPOINT_NOT_FOUND, so a 405 says it too
    _error(http.get(f"{API}/runs/create"), 405, "ENDPOINT_NOT_FOUND")


def test_body_over_the_limit_is_413(http: httpx.Client, run_id: str) -> None:
    big = b" " * (65 * 1024 * 1024)
    headers = {"Content-Type": "application/json"}
    _error(
        http.post(f"{API}/runs/log-batch", content=big, headers=headers),
        413,
        "REQUEST_LIMIT_EXCEEDED",
    )

    def chunked():  # no Content-Length: the streamed size is what counts
        for _ in range(65):
            yield b" " * (1024 * 1024)

    _error(
        http.post("/api/2.0/slipway/runs/log-metrics", content=chunked(), headers=headers),
        413,
        "REQUEST_LIMIT_EXCEEDED",
    )
    assert http.get("/health").status_code == 200  # and the server is fine afterwards


# --- slipway's columnar endpoint --------------------------------------------------------
COLUMNS = "/api/2.0/slipway/runs/log-metrics"


def test_columnar_endpoint_plain_and_interned_keys(http: httpx.Client, run_id: str) -> None:
    plain = {
        "run_id": run_id,
        "keys": ["a", "b", "a"],
        "values": [1.0, "NaN", 3],
        "timestamps": [10, 11, 12],
        "steps": [0, 0, 1],
    }
    assert _ok(http.post(COLUMNS, json=plain)) == {}
    interned = {
        "run_uuid": run_id,
        "keys": ["a", "c"],
        "key_index": [0, 1, 1],
        "values": ["Infinity", "-Infinity", 7],
        "steps": [2, 0, 1],
    }
    assert _ok(http.post(COLUMNS, json=interned)) == {}

    def history(key: str) -> list:
        answer = http.get(
            f"{API}/metrics/get-history", params={"run_id": run_id, "metric_key": key}
        )
        return [(m["step"], m["value"]) for m in _ok(answer)["metrics"]]

    assert history("a") == [(0, 1.0), (1, 3.0), (2, "Infinity")]
    assert history("b") == [(0, "NaN")]
    assert history("c") == [(0, "-Infinity"), (1, 7.0)]


BAD_COLUMNS = [
    {"keys": ["a"], "values": [1]},  # no run id
    {"run_id": RUN, "keys": ["a"]},  # no values
    {"run_id": RUN, "values": [1]},  # no keys
    {"run_id": RUN, "keys": ["a", "b"], "values": [1]},
    {"run_id": RUN, "keys": ["a"], "values": [1], "steps": [1, 2]},
    {"run_id": RUN, "keys": ["a"], "values": [1], "timestamps": [1, 2]},
    {"run_id": RUN, "keys": ["a"], "values": ["x"]},
    {"run_id": RUN, "keys": ["a"], "values": [None]},
    {"run_id": RUN, "keys": [1], "values": [1]},
    {"run_id": RUN, "keys": [""], "values": [1]},
    {"run_id": RUN, "keys": [["a"]], "values": [1]},
    {"run_id": RUN, "keys": ["a"], "values": 1},
    {"run_id": RUN, "keys": ["a"], "values": [1], "steps": ["one"]},
    {"run_id": RUN, "keys": ["a"], "values": [1], "timestamps": [None]},
    {"run_id": RUN, "keys": ["a"], "key_index": [1], "values": [1]},
    {"run_id": RUN, "keys": ["a"], "key_index": [-1], "values": [1]},
    {"run_id": RUN, "keys": ["a"], "key_index": ["0"], "values": [1]},
]


@pytest.mark.parametrize("body", BAD_COLUMNS, ids=[str(i) for i in range(len(BAD_COLUMNS))])
def test_columnar_endpoint_rejects_bad_columns(
    shared_http: httpx.Client, shared_run_id: str, body: dict
) -> None:
    http, run_id = shared_http, shared_run_id
    body = {k: (run_id if v == RUN else v) for k, v in body.items()}
    _error(http.post(COLUMNS, json=body), 400, "INVALID_PARAMETER_VALUE")
    answer = http.get(f"{API}/runs/get", params={"run_id": run_id})
    assert _ok(answer)["run"]["data"]["metrics"] == []


def test_columnar_endpoint_unknown_run_and_bad_json(shared_http: httpx.Client) -> None:
    http = shared_http
    body = {"run_id": "0" * 32, "keys": ["a"], "values": [1]}
    _error(http.post(COLUMNS, json=body), 404, "RESOURCE_DOES_NOT_EXIST")
    _error(http.post(COLUMNS, content=b"{oops"), 400, "BAD_REQUEST")


def test_unexpected_failure_is_a_logged_500_with_the_error_body(
    http: httpx.Client, live_server, caplog: pytest.LogCaptureFixture
) -> None:
    """A broken database is the server's fault: 500 INTERNAL_ERROR, details only in the log."""
    import sqlite3

    db_path = live_server.store_uri.removeprefix("sqlite:///")
    with sqlite3.connect(db_path) as conn:
        conn.execute("DROP TABLE experiment_tags")
    with caplog.at_level("ERROR", logger="slipway.server"):
        response = http.get(f"{API}/experiments/get", params={"experiment_id": "0"})
    message = _error(response, 500, "INTERNAL_ERROR")
    assert "experiment_tags" not in message and "server log" in message
    assert any("experiments/get" in r.getMessage() for r in caplog.records)
