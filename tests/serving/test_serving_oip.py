"""Open Inference Protocol v2: Triton's own client, and raw HTTP for every datatype."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from serving_support import mixed_data, numeric_data, python_model, running_server

pytestmark = pytest.mark.timeout(120)

ECHO_MODEL = """
import numpy as np

class Model:
    def predict(self, context, model_input, params=None):
        return np.asarray(model_input)
"""

ALL_DATATYPES = {
    "BOOL": (np.bool_, [[True, False, True], [False, False, True]]),
    "UINT8": (np.uint8, [[0, 1, 255], [3, 4, 5]]),
    "UINT16": (np.uint16, [[0, 1, 65535], [3, 4, 5]]),
    "UINT32": (np.uint32, [[0, 1, 4294967295], [3, 4, 5]]),
    "UINT64": (np.uint64, [[0, 1, 2**63], [3, 4, 5]]),
    "INT8": (np.int8, [[-128, 1, 127], [3, 4, 5]]),
    "INT16": (np.int16, [[-32768, 1, 32767], [3, 4, 5]]),
    "INT32": (np.int32, [[-(2**31), 1, 2**31 - 1], [3, 4, 5]]),
    "INT64": (np.int64, [[-(2**63), 1, 2**63 - 1], [3, 4, 5]]),
    "FP16": (np.float16, [[0.5, -1.5, 2.0], [3.0, 4.25, 5.0]]),
    "FP32": (np.float32, [[0.5, -1.5, 2.0], [3.0, 4.25, 5.0]]),
    "FP64": (np.float64, [[0.1, -1.5, 2.0], [3.0, 4.25, 1e300]]),
    "BYTES": (object, [["a", "bé", ""], ["x", "yy", "zzz"]]),
}


@pytest.fixture(scope="module")
def echo_server(tmp_path_factory, registry):
    from slipway.serving import ServeConfig

    path = python_model(tmp_path_factory.mktemp("echo"), ECHO_MODEL, name="echo")
    config = ServeConfig([str(path)], prediction_log=False)
    with running_server(config) as served:
        yield served


@pytest.fixture
def triton(forest_server):
    import tritonclient.http as triton_http

    client = triton_http.InferenceServerClient(url=forest_server.url.removeprefix("http://"))
    yield client
    client.close()


def test_health_and_server_metadata(forest_server, triton):
    assert triton.is_server_live()
    assert triton.is_server_ready()
    assert triton.is_model_ready("forest")
    assert triton.is_model_ready("forest", "1")
    assert not triton.is_model_ready("forest", "7")
    assert not triton.is_model_ready("nope")
    meta = triton.get_server_metadata()
    assert meta["name"] == "slipway" and "binary_tensor_data" in meta["extensions"]
    assert forest_server.http.get("/v2/health/live").json() == {"live": True}
    assert forest_server.http.get("/v2/health/ready").json() == {"ready": True}
    assert forest_server.http.get("/v2/models/forest/ready").json() == {
        "name": "forest",
        "ready": True,
    }


def test_model_metadata_from_the_signature(triton):
    meta = triton.get_model_metadata("forest")
    assert meta["name"] == "forest" and meta["versions"] == ["1"]
    assert meta["platform"] == "slipway-sklearn"
    assert meta["inputs"] == [{"name": c, "datatype": "FP64", "shape": [-1]} for c in "abcd"]
    names = {o["name"]: o for o in meta["outputs"]}
    assert names["predict"]["shape"] == [-1]
    assert names["predict_proba"] == {"name": "predict_proba", "datatype": "FP64", "shape": [-1, 2]}
    mixed = triton.get_model_metadata("mixed", "1")
    assert {i["name"]: i["datatype"] for i in mixed["inputs"]} == {
        "tenure": "INT64",
        "plan": "BYTES",
        "monthly_charges": "FP64",
        "paperless": "BOOL",
    }


def test_triton_client_fp32_tensor_binary_and_json(triton, registry):
    import tritonclient.http as triton_http

    X, _ = numeric_data(31, rows=6)
    model = registry.models["forest/1"]
    for binary in (True, False):
        tensor = triton_http.InferInput("input-0", [6, 4], "FP32")
        tensor.set_data_from_numpy(X.to_numpy(np.float32), binary_data=binary)
        outputs = [
            triton_http.InferRequestedOutput("predict", binary_data=binary),
            triton_http.InferRequestedOutput("predict_proba", binary_data=binary),
        ]
        result = triton.infer("forest", [tensor], outputs=outputs, request_id="r-1")
        expected_input = X.astype(np.float32).astype(np.float64)
        np.testing.assert_array_equal(result.as_numpy("predict"), model.predict(expected_input))
        np.testing.assert_allclose(
            result.as_numpy("predict_proba"), model.predict_proba(expected_input)
        )
        assert result.get_response()["id"] == "r-1"


def test_triton_client_bytes_per_column_inputs(triton, registry):
    import tritonclient.http as triton_http

    X, _ = mixed_data(seed=32, rows=5)
    inputs = []
    for column, datatype in [
        ("tenure", "INT64"),
        ("plan", "BYTES"),
        ("monthly_charges", "FP64"),
        ("paperless", "BOOL"),
    ]:
        values = X[column].to_numpy()
        if datatype == "BYTES":
            values = values.astype(object)
        tensor = triton_http.InferInput(column, [5], datatype)
        tensor.set_data_from_numpy(values)
        inputs.append(tensor)
    result = triton.infer("mixed", inputs, parameters={"content_type": "pd"})
    np.testing.assert_array_equal(result.as_numpy("predict"), registry.models["mixed/1"].predict(X))


def test_triton_client_errors(triton):
    import tritonclient.http as triton_http
    from tritonclient.utils import InferenceServerException

    tensor = triton_http.InferInput("input-0", [1, 4], "FP64")
    tensor.set_data_from_numpy(np.zeros((1, 4)))
    with pytest.raises(InferenceServerException, match="No model named"):
        triton.infer("nope", [tensor])
    wrong = triton_http.InferInput("input-0", [1, 3], "FP64")
    wrong.set_data_from_numpy(np.zeros((1, 3)))
    with pytest.raises(InferenceServerException, match="signature"):
        triton.infer("forest", [wrong])


@pytest.mark.parametrize("datatype", sorted(ALL_DATATYPES))
def test_every_datatype_round_trips_as_json(echo_server, datatype):
    _, rows = ALL_DATATYPES[datatype]
    flat = [v for row in rows for v in row]
    request = {
        "id": "7",
        "parameters": {"tag": "x", "n": 3},
        "inputs": [{"name": "input-0", "shape": [2, 3], "datatype": datatype, "data": flat}],
        "outputs": [{"name": "predict"}],
    }
    answer = echo_server.http.post("/v2/models/echo/infer", json=request)
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert body["model_name"] == "echo" and body["model_version"] == "1"
    assert body["id"] == "7" and body["parameters"] == {"tag": "x", "n": 3}
    (output,) = body["outputs"]
    assert output["name"] == "predict" and output["shape"] == [2, 3]
    assert output["datatype"] == datatype
    if datatype == "FP16":
        np.testing.assert_array_equal(np.array(output["data"], dtype=np.float16), flat)
    else:
        assert output["data"] == flat


def test_nested_data_is_accepted(echo_server):
    request = {
        "inputs": [{"name": "x", "shape": [2, 2], "datatype": "INT32", "data": [[1, 2], [3, 4]]}]
    }
    body = echo_server.http.post("/v2/models/echo/versions/1/infer", json=request).json()
    assert body["outputs"][0]["data"] == [1, 2, 3, 4]


@pytest.mark.parametrize("datatype", ["BOOL", "UINT16", "INT8", "FP16", "FP32", "BYTES"])
def test_every_datatype_round_trips_in_binary_with_tritonclient(echo_server, datatype):
    import tritonclient.http as triton_http

    dtype, rows = ALL_DATATYPES[datatype]
    array = np.array(rows, dtype=dtype)
    tensor = triton_http.InferInput("input-0", [2, 3], datatype)
    tensor.set_data_from_numpy(array, binary_data=True)
    client = triton_http.InferenceServerClient(url=echo_server.url.removeprefix("http://"))
    try:
        result = client.infer("echo", [tensor])  # no outputs named: all come back binary
    finally:
        client.close()
    got = result.as_numpy("predict")
    if datatype == "BYTES":
        assert [[v.decode() for v in row] for row in got] == rows
    else:
        np.testing.assert_array_equal(got, array)


@pytest.mark.parametrize(
    ("request_body", "status"),
    [
        ({"inputs": []}, 400),
        (
            {"inputs": [{"name": "x", "shape": [2, 2], "datatype": "FP99", "data": [1, 2, 3, 4]}]},
            400,
        ),
        ({"inputs": [{"name": "x", "shape": [2, 2], "datatype": "FP64", "data": [1, 2, 3]}]}, 400),
        ({"inputs": [{"name": "x", "shape": [1, 2], "datatype": "INT64", "data": [1.5, 2]}]}, 400),
        ({"inputs": [{"name": "x", "shape": [1, 2], "datatype": "INT8", "data": [1000, 2]}]}, 400),
        ({"inputs": [{"name": "x", "shape": [1, 2], "datatype": "BOOL", "data": [1, 0]}]}, 400),
        ({"inputs": [{"name": "x", "shape": [1, 2], "datatype": "BYTES", "data": [1, 2]}]}, 400),
        ({"inputs": [{"name": "x", "shape": [-1, 2], "datatype": "FP64", "data": [1, 2]}]}, 400),
        ({"inputs": [{"name": "x", "shape": [1, 2], "datatype": "FP64"}]}, 400),
        (
            {
                "inputs": [{"name": "x", "shape": [1, 2], "datatype": "FP64", "data": [1, 2]}],
                "outputs": [{"name": "nope"}],
            },
            400,
        ),
    ],
)
def test_bad_infer_requests(echo_server, request_body, status):
    answer = echo_server.http.post("/v2/models/echo/infer", json=request_body)
    assert answer.status_code == status, answer.text
    assert set(answer.json()) == {"error"}


def test_errors_on_tabular_models(forest_server):
    http = forest_server.http
    unknown = http.post("/v2/models/nope/infer", json={"inputs": []})
    assert unknown.status_code == 404 and "error" in unknown.json()
    assert http.get("/v2/models/nope").status_code == 404
    assert http.get("/v2/models/forest/versions/9").status_code == 404
    assert http.get("/v2/nothing-here").json().keys() == {"error"}
    mismatch = http.post(
        "/v2/models/forest/infer",
        json={
            "inputs": [
                {"name": "a", "shape": [1], "datatype": "BYTES", "data": ["x"]},
                {"name": "zz", "shape": [1], "datatype": "FP64", "data": [1.0]},
            ]
        },
    )
    assert mismatch.status_code == 400
    message = mismatch.json()["error"]
    for problem in ("'a'", "'b'", "'zz'"):
        assert problem in message
    malformed = http.post(
        "/v2/models/forest/infer", content=b"{", headers={"content-type": "application/json"}
    )
    assert malformed.status_code == 400 and "error" in malformed.json()


def test_per_column_json_inputs_like_mlserver(forest_server, registry):
    X, _ = numeric_data(33, rows=3)
    request = {
        "parameters": {"content_type": "pd"},
        "inputs": [
            {"name": c, "shape": [3], "datatype": "FP64", "data": X[c].tolist()} for c in X.columns
        ],
        "outputs": [{"name": "predict"}],
    }
    body = forest_server.http.post("/v2/models/forest/infer", json=request).json()
    assert body["outputs"][0]["data"] == registry.models["forest/1"].predict(X).tolist()


def test_unsigned_model_binary_header_is_validated(echo_server):
    answer = echo_server.http.post(
        "/v2/models/echo/infer",
        content=b'{"inputs": []}',
        headers={"inference-header-content-length": "999"},
    )
    assert answer.status_code == 400


def test_model_paths_accept_versions(echo_server, tmp_path: Path):
    meta = echo_server.http.get("/v2/models/echo/versions/1").json()
    assert meta["name"] == "echo" and meta["inputs"] == []
    assert echo_server.http.get("/v2/models/echo/versions/1/ready").json()["ready"] is True
