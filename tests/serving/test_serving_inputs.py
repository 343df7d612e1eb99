"""Payloads → model input: the fast path gives exactly what enforce_input gives, or steps aside."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from slipway.errors import BadRequest, SchemaEnforcementError
from slipway.models.signature import ColSpec, Schema, TensorSpec, enforce_input
from slipway.serving.inputs import (
    Block,
    Columns,
    Frame,
    InputReader,
    Records,
    Split,
    Tensor,
    count_rows,
    merge,
    model_input,
    split_rows,
    synthetic_payload,
)

MIXED = Schema(
    [
        ColSpec("long", "tenure"),
        ColSpec("string", "plan"),
        ColSpec("double", "charges"),
        ColSpec("boolean", "paperless"),
        ColSpec("float", "score"),
        ColSpec("integer", "age"),
    ]
)
NUMERIC = Schema([ColSpec("double", n) for n in "abc"])

MIXED_ROWS = [
    {"tenure": 3, "plan": "basic", "charges": 70.5, "paperless": True, "score": 0.5, "age": 40},
    {"tenure": 30, "plan": "pro", "charges": 20, "paperless": False, "score": 1, "age": 22},
]


def reference(rows: list[dict], schema: Schema) -> pd.DataFrame:
    return enforce_input(pd.DataFrame(rows), schema)


@pytest.mark.parametrize(
    "payload",
    [
        Records(MIXED_ROWS),
        Split(list(MIXED_ROWS[0]), [list(r.values()) for r in MIXED_ROWS]),
        Split(
            list(reversed(MIXED_ROWS[0])), [list(reversed(list(r.values()))) for r in MIXED_ROWS]
        ),
        Columns({k: [r[k] for r in MIXED_ROWS] for k in MIXED_ROWS[0]}),
    ],
    ids=["records", "split", "split-reordered", "columns"],
)
def test_fast_path_matches_enforce_input(payload):
    reader = InputReader(MIXED)
    prepared = reader.prepare(payload)
    assert isinstance(prepared, Block)  # the fast path took it
    pd.testing.assert_frame_equal(model_input(prepared), reference(MIXED_ROWS, MIXED))


def test_all_double_rows_pack_into_one_matrix():
    reader = InputReader(NUMERIC)
    prepared = reader.prepare(Records([{"a": 1, "b": 2.5, "c": -3}]))
    assert isinstance(prepared, Block) and prepared.matrix is not None
    assert prepared.matrix.dtype == np.float64
    tensor = reader.prepare(Tensor([[1, 2, 3], [4.5, 5, 6]]))
    assert isinstance(tensor, Block) and tensor.rows == 2
    pd.testing.assert_frame_equal(
        model_input(tensor), enforce_input(np.asarray([[1, 2, 3], [4.5, 5, 6]]), NUMERIC)
    )
    from_numpy = reader.prepare(Columns({n: np.arange(3, dtype=np.int32) for n in "abc"}))
    assert isinstance(from_numpy, Block)
    assert model_input(from_numpy)["a"].dtype == np.float64


@pytest.mark.parametrize(
    "rows",
    [
        [{"a": "1", "b": 2.0, "c": 3.0}],  # string for double
        [{"a": True, "b": 2.0, "c": 3.0}],  # bool for double
        [{"a": 1.0, "b": 2.0}],  # missing column
        [{"a": 1.0, "b": 2.0, "c": 3.0, "z": 1}],  # unexpected column
        [{"a": [1], "b": 2.0, "c": 3.0}],  # list for double
    ],
)
def test_rejections_come_from_enforce_input(rows):
    reader = InputReader(NUMERIC)
    with pytest.raises(SchemaEnforcementError) as got:
        reader.prepare(Records(rows))
    with pytest.raises(SchemaEnforcementError) as want:
        reference(rows, NUMERIC)
    assert got.value.problems == want.value.problems


def test_values_the_fast_path_declines_still_get_the_general_answer():
    reader = InputReader(MIXED)
    rows = [MIXED_ROWS[0], dict(MIXED_ROWS[1], charges=None)]  # None next to a number: NaN
    prepared = reader.prepare(Records(rows))
    assert not isinstance(prepared, Block)
    pd.testing.assert_frame_equal(prepared, reference(rows, MIXED))
    too_big = [dict(MIXED_ROWS[0], age=2**40)]
    with pytest.raises(SchemaEnforcementError, match="age"):
        reader.prepare(Records(too_big))
    fractional = [dict(MIXED_ROWS[0], tenure=2.5)]
    with pytest.raises(SchemaEnforcementError, match="tenure"):
        reader.prepare(Records(fractional))


def test_models_without_a_signature_infer_like_pandas():
    reader = InputReader(None)
    rows = [{"x": 1, "y": 2.5, "z": "a", "w": True}, {"x": 2, "y": 3, "z": "b", "w": False}]
    prepared = reader.prepare(Records(rows))
    pd.testing.assert_frame_equal(model_input(prepared), pd.DataFrame(rows))
    assert isinstance(reader.prepare(Tensor([[1, 2]])), np.ndarray)
    frame = pd.DataFrame({"q": [1]})
    assert reader.prepare(Frame(frame)) is frame


def test_tensor_signatures():
    reader = InputReader(Schema([TensorSpec(np.float32, (-1, 2))]))
    out = reader.prepare(Tensor([[1, 2], [3, 4]]))
    assert out.dtype == np.float32 and out.shape == (2, 2)
    with pytest.raises(SchemaEnforcementError, match="shape"):
        reader.prepare(Tensor([[1, 2, 3]]))


def test_unreadable_input_is_a_bad_request():
    reader = InputReader(None)
    with pytest.raises(BadRequest):
        reader.prepare(Tensor([[1, 2], [1]]))


def test_merge_and_split_round_trip():
    reader = InputReader(MIXED)
    parts = [reader.prepare(Records(MIXED_ROWS)), reader.prepare(Records(MIXED_ROWS[:1]))]
    merged = merge(parts)
    assert isinstance(merged, Block) and merged.rows == 3
    frame = model_input(merged)
    pd.testing.assert_frame_equal(frame, reference(MIXED_ROWS + MIXED_ROWS[:1], MIXED))
    pieces = split_rows(np.arange(3), [2, 1])
    assert [p.tolist() for p in pieces] == [[0, 1], [2]]
    frames = split_rows(pd.DataFrame({"p": [1, 2, 3]}), [1, 2])
    assert [len(f) for f in frames] == [1, 2]
    with pytest.raises(ValueError):
        split_rows(np.arange(4), [2, 1])
    mixed_kinds = merge([parts[0], reference(MIXED_ROWS[:1], MIXED)])
    assert len(mixed_kinds) == 3


def test_count_rows_and_synthetic_rows():
    assert count_rows(Records([{}, {}])) == 2
    assert count_rows(Split(["a"], [[1], [2], [3]])) == 3
    assert count_rows(Columns({"a": [1, 2]})) == 2
    assert count_rows(Tensor(np.zeros((4, 2)))) == 4
    payload = synthetic_payload(MIXED)
    assert isinstance(payload, Records)
    assert isinstance(InputReader(MIXED).prepare(payload), Block)
    assert synthetic_payload(None) is None
