"""`POST /predict`: the endpoint for people and scripts.

Request::

    {"records": [{"tenure": 3, "plan": "basic"}, ...]}                 # or
    {"columns": ["tenure", "plan"], "data": [[3, "basic"], ...]}
    + optional "model" (required when several models are served), "version", "params"

Answer::

    {"predictions": [...], "probabilities": [[...]], "classes": [...],
     "model": "churn", "version": "3", "request_id": "..."}

plus `"variant"` when a traffic variant answered (`slipway serve --traffic`); there,
"model" may also name the experiment or a variant, and other top-level fields (a sticky
key such as `"user_id"`) are left to the traffic strategy.

`probabilities` and `classes` come with scikit-learn classifiers that have
`predict_proba`; `"probabilities": false` in the request skips them.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from slipway.errors import BadRequest
from slipway.serving.inputs import Payload, Records, Split
from slipway.serving.model import Prediction, ServedModel
from slipway.serving.protocols import dumps, jsonable, loads_json


@dataclass(slots=True)
class PredictRequest:
    payload: Payload
    model: str | None
    version: str | None
    params: dict[str, Any] | None
    probabilities: bool


def parse(body: bytes) -> PredictRequest:
    return parse_doc(loads_json(body))


def parse_doc(doc: Any) -> PredictRequest:
    """A /predict request from its parsed JSON body."""
    if not isinstance(doc, dict):
        raise BadRequest(
            'The body must be a JSON object: {"records": [...]} or '
            '{"columns": [...], "data": [[...]]}.'
        )
    if "records" in doc:
        if "data" in doc:
            raise BadRequest('Give either "records" or "columns" + "data", not both.')
        records = doc["records"]
        if not isinstance(records, list) or not all(isinstance(r, dict) for r in records):
            raise BadRequest('"records" must be a list of objects, one per row.')
        payload: Payload = Records(records)
    elif "data" in doc:
        columns, data = doc.get("columns"), doc["data"]
        if not isinstance(data, list) or not isinstance(columns, list):
            raise BadRequest('"columns" must be a list of names and "data" a list of rows.')
        payload = Split(columns, data)
    else:
        raise BadRequest(
            'The body needs "records" (a list of objects) or "columns" and "data" (names and rows).'
        )
    model, version = doc.get("model"), doc.get("version")
    if model is not None and not isinstance(model, str):
        raise BadRequest('"model" must be a model name (a string).')
    if version is not None and not isinstance(version, (str, int)):
        raise BadRequest('"version" must be a version number or string.')
    params = doc.get("params")
    if params is not None and not isinstance(params, dict):
        raise BadRequest('"params" must be a JSON object.')
    return PredictRequest(
        payload,
        model,
        None if version is None else str(version),
        params,
        bool(doc.get("probabilities", True)),
    )


def render(
    prediction: Prediction, model: ServedModel, request_id: str, variant: str | None = None
) -> bytes:
    out: dict[str, Any] = {"predictions": jsonable(prediction.predictions, series_as_records=False)}
    if prediction.probabilities is not None:
        out["probabilities"] = prediction.probabilities
        out["classes"] = model.classes
    out["model"] = model.name
    out["version"] = model.version
    out["request_id"] = request_id
    if variant is not None:
        out["variant"] = variant
    return dumps(out)


__all__ = ["PredictRequest", "parse", "parse_doc", "render"]
