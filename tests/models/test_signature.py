"""Signatures: inference, MLflow-identical JSON, and enforcement that reports every problem."""

from __future__ import annotations

import datetime as dt
import warnings

import numpy as np
import pandas as pd
import pytest

from slipway.errors import SchemaEnforcementError
from slipway.models.signature import (
    ColSpec,
    DataType,
    ModelSignature,
    ParamSchema,
    ParamSpec,
    Schema,
    TensorSpec,
    enforce_input,
    enforce_params,
    infer_signature,
)


@pytest.fixture
def mlflow_signature():
    """MLflow's signature module, for the parity tests only (the rest runs without mlflow)."""
    return pytest.importorskip("mlflow.models.signature", reason="mlflow not installed")


def _mlflow_infer(mlflow_signature, *args):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return mlflow_signature.infer_signature(*args)


MIXED = pd.DataFrame(
    {
        "i64": np.array([1, 2, 3], dtype="int64"),
        "i32": np.array([1, 2, 3], dtype="int32"),
        "f64": [0.5, 1.5, 2.5],
        "f32": np.array([0.5, 1.5, 2.5], dtype="float32"),
        "flag": [True, False, True],
        "name": ["a", "b", "c"],
        "when": pd.to_datetime(["2024-01-01", "2024-01-02", "2024-01-03"]),
        "maybe": [1.0, None, 3.0],
    }
)


@pytest.mark.parametrize(
    ("model_input", "model_output"),
    [
        (MIXED, np.array([0, 1, 0])),
        (np.zeros((4, 3), dtype="float32"), np.zeros(4, dtype="int64")),
        ({"a": np.zeros((2, 3)), "b": np.ones((2,), dtype="int32")}, None),
        ([{"x": 1.0, "s": "u"}, {"x": 2.0, "s": None}], pd.Series([0.1, 0.2], name="p")),
        (["some", "strings"], None),
    ],
    ids=["dataframe", "ndarray", "dict-of-arrays", "records", "list-of-str"],
)
def test_inference_and_json_match_mlflow(mlflow_signature, model_input, model_output):
    ours = infer_signature(model_input, model_output)
    theirs = _mlflow_infer(mlflow_signature, model_input, model_output)
    assert ours.to_dict() == theirs.to_dict()  # the exact JSON strings MLflow writes
    assert mlflow_signature.ModelSignature.from_dict(ours.to_dict()) == theirs
    assert ModelSignature.from_dict(theirs.to_dict()) == ours


def test_dataframe_inference_types():
    sig = infer_signature(MIXED)
    by_name = {c.name: c for c in sig.inputs}
    assert by_name["i64"].type is DataType.long
    assert by_name["i32"].type is DataType.integer
    assert by_name["f32"].type is DataType.float
    assert by_name["flag"].type is DataType.boolean
    assert by_name["name"].type is DataType.string
    assert by_name["when"].type is DataType.datetime
    assert by_name["maybe"].required is False
    assert by_name["f64"].required is True


SIGNATURE_JSON_SAMPLE = ModelSignature(
    Schema([ColSpec("double", "x"), ColSpec("string", "s", required=False)]),
    Schema([TensorSpec("float64", (-1, 4))]),
    ParamSchema([ParamSpec("k", "long", 3)]),
)


def test_json_format_is_mlflow_text():
    d = SIGNATURE_JSON_SAMPLE.to_dict()
    assert d["inputs"] == (
        '[{"type": "double", "name": "x", "required": true}, '
        '{"type": "string", "name": "s", "required": false}]'
    )
    assert (
        d["outputs"]
        == '[{"type": "tensor", "tensor-spec": {"dtype": "float64", "shape": [-1, 4]}}]'
    )


def test_mlflow_reads_our_json(mlflow_signature):
    d = SIGNATURE_JSON_SAMPLE.to_dict()
    assert mlflow_signature.ModelSignature.from_dict(d).to_dict() == d


def test_mlflow_complex_types_survive_a_round_trip(mlflow_signature):
    from mlflow.types.schema import Array, Map, Object, Property
    from mlflow.types.schema import ColSpec as MColSpec
    from mlflow.types.schema import Schema as MSchema

    theirs = mlflow_signature.ModelSignature(
        MSchema(
            [
                MColSpec(Array("string"), "tags"),
                MColSpec(Object([Property("k", "long")]), "obj", required=False),
                MColSpec(Map("double"), "m"),
            ]
        )
    )
    ours = ModelSignature.from_dict(theirs.to_dict())
    assert ours.to_dict() == theirs.to_dict()


SCHEMA = Schema(
    [
        ColSpec("double", "x"),
        ColSpec("long", "n"),
        ColSpec("string", "s"),
        ColSpec("double", "opt", required=False),
    ]
)


def test_enforcement_lists_every_problem():
    bad = pd.DataFrame({"x": ["a", "b"], "n": [1.5, 2.5], "extra": [1, 2]})
    with pytest.raises(SchemaEnforcementError) as err:
        enforce_input(bad, SCHEMA)
    problems = err.value.problems
    assert len(problems) == 4, problems
    text = str(err.value)
    assert "column 'x': string values cannot be converted safely to double" in text
    assert "column 'n': float64 values cannot be converted safely to long" in text
    assert "missing required column 's' (string)" in text
    assert "unexpected column 'extra'" in text


def test_safe_casts_are_applied_and_optional_columns_may_be_missing():
    df = pd.DataFrame({"s": ["u", "v"], "n": np.array([1, 2], dtype="int32"), "x": [1, 2]})
    out = enforce_input(df, SCHEMA)
    assert list(out.columns) == ["x", "n", "s"]  # schema order
    assert out["x"].dtype == np.float64  # int -> double
    assert out["n"].dtype == np.int64  # int32 -> long


def test_float_with_missing_values_for_an_integer_column_gets_a_hint():
    df = pd.DataFrame({"x": [1.0], "n": [None], "s": ["a"]}).astype({"n": "float64"})
    with pytest.raises(SchemaEnforcementError, match="missing values make integer columns float"):
        enforce_input(df, SCHEMA)


def test_records_and_arrays_are_accepted_for_column_schemas():
    out = enforce_input([{"x": 1, "n": 2, "s": "a"}], SCHEMA)
    assert out.loc[0, "x"] == 1.0
    two_col = Schema([ColSpec("double", "a"), ColSpec("double", "b")])
    out = enforce_input(np.array([[1, 2], [3, 4]]), two_col)
    assert list(out.columns) == ["a", "b"]
    with pytest.raises(SchemaEnforcementError, match="expected 2 columns"):
        enforce_input(np.zeros((2, 3)), two_col)


def test_datetime_strings_parse():
    schema = Schema([ColSpec("datetime", "t")])
    out = enforce_input(pd.DataFrame({"t": ["2024-01-01", "2024-02-01"]}), schema)
    assert out["t"].iloc[1] == pd.Timestamp("2024-02-01")


def test_tensor_enforcement():
    schema = Schema([TensorSpec("float32", (-1, 3))])
    out = enforce_input(np.ones((2, 3), dtype="float64"), schema)
    assert out.dtype == np.float32
    with pytest.raises(SchemaEnforcementError) as err:
        enforce_input(np.array([["a", "b"]]), schema)
    assert len(err.value.problems) == 2  # wrong shape and wrong dtype, both reported
    named = Schema([TensorSpec("int64", (-1,), "a"), TensorSpec("float64", (-1, 2), "b")])
    with pytest.raises(SchemaEnforcementError) as err:
        enforce_input({"a": np.array([1.5]), "c": np.zeros(1)}, named)
    assert {p.split(":")[0] for p in err.value.problems} == {
        "tensor 'a'",
        "missing required tensor 'b' (float64)",
        "unexpected tensor 'c'",
    }


def test_params_defaults_types_and_unknown():
    schema = ParamSchema([ParamSpec("k", "long", 3), ParamSpec("mode", "string", "fast")])
    assert enforce_params({"k": 5}, schema) == {"k": 5, "mode": "fast"}
    with pytest.warns(UserWarning, match="Ignoring params \\['zzz'\\]"):
        assert enforce_params({"zzz": 1}, schema) == {"k": 3, "mode": "fast"}
    with pytest.raises(SchemaEnforcementError, match="param 'k' must be long"):
        enforce_params({"k": "five"}, schema)


def test_params_schema_matches_mlflow(mlflow_signature):
    params = {"k": 3, "temp": 0.5, "names": ["a", "b"], "on": True, "when": dt.datetime(2024, 1, 1)}
    ours = infer_signature(np.zeros((1, 2)), None, params)
    theirs = _mlflow_infer(mlflow_signature, np.zeros((1, 2)), None, params)
    assert ours.to_dict() == theirs.to_dict()
