"""The server's table of request field types (`slipway.server.messages`) against mlflow's
own protobuf messages: each field we type-check has the JSON type mlflow's proto gives it."""

from __future__ import annotations

import re

import pytest

from slipway.server.messages import BOOL, DOUBLE, ENUM, INT64, MESSAGES, STRING

protos = pytest.importorskip("mlflow.protos.service_pb2")
from google.protobuf.descriptor import FieldDescriptor  # noqa: E402
from mlflow.protos import databricks_pb2, model_registry_pb2, service_pb2  # noqa: E402

_SCALARS = {
    FieldDescriptor.TYPE_STRING: STRING,
    FieldDescriptor.TYPE_INT64: INT64,
    FieldDescriptor.TYPE_INT32: INT64,
    FieldDescriptor.TYPE_DOUBLE: DOUBLE,
    FieldDescriptor.TYPE_FLOAT: DOUBLE,
    FieldDescriptor.TYPE_BOOL: BOOL,
    FieldDescriptor.TYPE_ENUM: ENUM,
}
# Fields slipway's own client adds to registry calls (the audit trail's reason, force).
_SLIPWAY_FIELDS = {"reason", "force"}


def _proto_messages() -> dict[tuple[str, str], object]:
    out = {}
    for service in (service_pb2.MlflowService, model_registry_pb2.ModelRegistryService):
        for method in service.DESCRIPTOR.methods:
            for endpoint in method.GetOptions().Extensions[databricks_pb2.rpc].endpoints:
                path = re.sub(r"^/mlflow/", "", endpoint.path)
                path = re.sub(r"\{model_id\}", "{model_id}", path)
                out[(endpoint.method, path)] = method.input_type
    return out


def _kind(field: FieldDescriptor) -> object:
    if field.type == FieldDescriptor.TYPE_MESSAGE:
        kind: object = {f.name: _kind(f) for f in field.message_type.fields}
    else:
        kind = _SCALARS[field.type]
    repeated = field.is_repeated
    return [kind] if repeated else kind


def _narrowed(ours: object, theirs: object) -> bool:
    """Whether our kind is theirs (a message of ours may list fewer fields)."""
    if isinstance(ours, list):
        return isinstance(theirs, list) and _narrowed(ours[0], theirs[0])
    if isinstance(ours, dict):
        return isinstance(theirs, dict) and all(
            name in theirs and _narrowed(kind, theirs[name]) for name, kind in ours.items()
        )
    return ours == theirs


def test_every_message_matches_mlflows_proto() -> None:
    protos = _proto_messages()
    checked = 0
    for (method, path), fields in MESSAGES.items():
        proto = protos.get((method, path))
        if proto is None:
            continue  # an MLflow UI or slipway route without a proto endpoint
        theirs = {f.name: _kind(f) for f in proto.fields}
        for name, kind in fields.items():
            if name in _SLIPWAY_FIELDS:
                continue
            assert name in theirs, f"{method} {path}: mlflow's message has no field {name!r}"
            assert _narrowed(kind, theirs[name]), f"{method} {path}: {name} is {theirs[name]}"
            checked += 1
    assert checked > 120  # the table covers the protocol, not a handful of routes
