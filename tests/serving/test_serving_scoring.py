"""POST /invocations: MLflow's scoring protocol, each request shape, errors, custom models."""

from __future__ import annotations

import io
from pathlib import Path

import pandas as pd
import pytest
from serving_support import numeric_data, python_model

pytestmark = pytest.mark.timeout(120)


@pytest.fixture(scope="module")
def rows() -> pd.DataFrame:
    return numeric_data(21, rows=5)[0]


@pytest.fixture(scope="module")
def expected(registry, rows) -> list[int]:
    return registry.models["forest/1"].predict(rows).tolist()


def _post(served, body, content_type="application/json"):
    if isinstance(body, (bytes, str)):
        return served.http.post(
            "/invocations", content=body, headers={"content-type": content_type}
        )
    return served.http.post("/invocations", json=body)


@pytest.mark.parametrize(
    "shape",
    [
        "dataframe_split",
        "dataframe_split_index",
        "dataframe_records",
        "instances_records",
        "instances_rows",
        "inputs_columns",
        "inputs_rows",
    ],
)
def test_json_shapes_go_to_the_first_model(forest_server, rows, expected, shape):
    split = rows.to_dict(orient="split")
    records = rows.to_dict(orient="records")
    body = {
        "dataframe_split": {
            "dataframe_split": {"columns": split["columns"], "data": split["data"]}
        },
        "dataframe_split_index": {"dataframe_split": split},
        "dataframe_records": {"dataframe_records": records},
        "instances_records": {"instances": records},
        "instances_rows": {"instances": rows.values.tolist()},
        "inputs_columns": {"inputs": rows.to_dict(orient="list")},
        "inputs_rows": {"inputs": rows.values.tolist()},
    }[shape]
    answer = _post(forest_server, body)
    assert answer.status_code == 200, answer.text
    assert answer.json() == {"predictions": expected}


def test_csv_and_parquet_bodies(forest_server, rows, expected):
    answer = _post(forest_server, rows.to_csv(index=False), "text/csv")
    assert answer.status_code == 200, answer.text
    assert answer.json()["predictions"] == expected
    answer = _post(forest_server, rows.to_csv(index=False), "text/csv; charset=utf-8")
    assert answer.json()["predictions"] == expected
    buffer = io.BytesIO()
    rows.to_parquet(buffer)
    for content_type in ("application/x-parquet", "application/vnd.apache.parquet"):
        answer = _post(forest_server, buffer.getvalue(), content_type)
        assert answer.status_code == 200, answer.text
        assert answer.json()["predictions"] == expected


@pytest.mark.parametrize(
    "content_type",
    [
        "text/plain",
        "application/json; charset=latin-1",
        "application/json; format=pandas-split",
        "application/xml",
    ],
)
def test_other_content_types_are_415_in_plain_text(forest_server, content_type):
    answer = _post(forest_server, b'{"inputs": [[1, 2, 3, 4]]}', content_type)
    assert answer.status_code == 415
    assert answer.headers["content-type"].startswith("text/plain")


def test_missing_content_type_is_415(forest_server):
    answer = forest_server.http.post("/invocations", content=b"{}")
    assert answer.status_code == 415


@pytest.mark.parametrize(
    "body",
    [
        {},
        {"params": {}},
        {"dataframe_records": [{"a": 1}], "instances": [[1, 2, 3, 4]]},
        {"dataframe_split": [[1, 2]]},
        {"dataframe_records": {"a": [1]}},
    ],
)
def test_zero_or_several_input_keys_and_bad_shapes_are_400(forest_server, body):
    answer = _post(forest_server, body)
    assert answer.status_code == 400, answer.text
    assert answer.json()["error_code"] == "BAD_REQUEST"


def test_ragged_rows_are_400_or_422_never_500(forest_server):
    answer = _post(forest_server, {"inputs": [[1.0, 2.0], [1.0]]})
    assert answer.status_code in (400, 422), answer.text


def test_schema_problems_on_invocations_are_422(forest_server):
    answer = _post(forest_server, {"dataframe_records": [{"a": "x", "b": 1.0, "c": 1, "d": True}]})
    assert answer.status_code == 422
    body = answer.json()
    assert body["error_code"] == "SCHEMA_ENFORCEMENT_FAILED"
    assert len(body["problems"]) == 2  # a is a string, d is a boolean


def test_model_saved_by_mlflow_is_served(serve, tmp_path: Path, rows):
    import mlflow.sklearn
    from mlflow.models import infer_signature
    from serving_support import forest

    model = forest(5)
    path = tmp_path / "mlflow_forest"
    mlflow.sklearn.save_model(
        model,
        str(path),
        signature=infer_signature(rows),
        input_example=rows.iloc[:2],
        skops_trusted_types=["sklearn.tree._tree.Tree"],
    )
    served = serve(str(path))
    assert served.http.get("/version").json()["models"][0]["name"] == "mlflow_forest"
    answer = _post(served, {"dataframe_split": rows.to_dict(orient="split")})
    assert answer.status_code == 200, answer.text
    assert answer.json()["predictions"] == model.predict(rows).tolist()


DATAFRAME_MODEL = """
import pandas as pd

class Model:
    def predict(self, context, model_input, params=None):
        scale = (params or {}).get("scale", 1.0)
        return pd.DataFrame({"doubled": model_input["x"] * 2 * scale, "label": "ok"})
"""


def test_custom_model_dataframe_output_and_params(serve, tmp_path: Path):
    from slipway.models.signature import infer_signature

    frame = pd.DataFrame({"x": [1.0, 2.0]})
    path = python_model(
        tmp_path,
        DATAFRAME_MODEL,
        name="frame_model",
        signature=infer_signature(frame, params={"scale": 1.0}),
    )
    served = serve(str(path))
    answer = _post(
        served, {"dataframe_records": [{"x": 1.5}, {"x": 3.0}], "params": {"scale": 10.0}}
    )
    assert answer.status_code == 200, answer.text
    assert answer.json() == {
        "predictions": [{"doubled": 30.0, "label": "ok"}, {"doubled": 60.0, "label": "ok"}]
    }
    bad_param = _post(served, {"dataframe_records": [{"x": 1.5}], "params": {"scale": "big"}})
    assert bad_param.status_code == 422


FAILING_MODEL = """
import time

class Model:
    def predict(self, context, model_input, params=None):
        if (model_input["x"] < 0).any():
            raise RuntimeError("secret internals: negative input")
        if (model_input["x"] > 100).any():
            time.sleep(2)
        return model_input["x"] * 2
"""


def test_failing_model_is_500_without_traceback_and_server_keeps_serving(serve, tmp_path):
    from slipway.models.signature import infer_signature

    path = python_model(
        tmp_path,
        FAILING_MODEL,
        name="fragile",
        signature=infer_signature(pd.DataFrame({"x": [1.0]})),
    )
    served = serve(str(path), request_timeout_s=0.5)
    failed = _post(served, {"dataframe_records": [{"x": -1.0}]})
    assert failed.status_code == 500
    body = failed.json()
    assert body["error_code"] == "INTERNAL_ERROR"
    assert body["request_id"] == failed.headers["x-request-id"]
    assert body["request_id"] in body["message"]
    assert "secret internals" not in failed.text and "Traceback" not in failed.text
    ok = _post(served, {"dataframe_records": [{"x": 2.0}]})
    assert ok.status_code == 200 and ok.json() == {"predictions": [{"x": 4.0}]}  # a named Series

    slow = _post(served, {"dataframe_records": [{"x": 500.0}]})
    assert slow.status_code == 504
    assert slow.json()["error_code"] == "DEADLINE_EXCEEDED"
    metrics = served.http.get("/metrics").text
    assert 'slipway_serving_errors_total{endpoint="invocations",kind="model_error"' in metrics
    assert 'kind="timeout"' in metrics
