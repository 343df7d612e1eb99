"""Input examples saved with a model: a few rows that show (and test) what it accepts.

Two files, as MLflow writes them: `input_example.json` (the example itself; DataFrames in
pandas "split" orient without the index) and `serving_input_example.json` (the same data as
a request body for the scoring server: `{"dataframe_split": ...}` or `{"inputs": ...}`).
The MLmodel file records where they are and what type the example was::

    saved_input_example_info:
      artifact_path: input_example.json
      serving_input_path: serving_input_example.json
      type: dataframe            # or ndarray, json_object
      pandas_orient: split
"""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from typing import Any

import numpy as np

from slipway.errors import InvalidParameterValue
from slipway.models.format import Model, resolve_inside

EXAMPLE_FILE = "input_example.json"
SERVING_EXAMPLE_FILE = "serving_input_example.json"


def _jsonable(value: Any) -> Any:
    """json.dumps fallback for numpy and pandas scalars, arrays and dates."""
    if isinstance(value, np.ndarray):
        return value.tolist()
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, (dt.date, dt.datetime)):
        return value.isoformat()
    if isinstance(value, (bytes, bytearray)):
        import base64

        return base64.b64encode(bytes(value)).decode("ascii")
    if hasattr(value, "isoformat"):  # pandas Timestamp
        return value.isoformat()
    raise TypeError(f"{type(value).__name__} is not JSON serializable")


def save_input_example(model_dir: str | Path, example: Any) -> dict[str, Any]:
    """Write the example files into `model_dir`; return the `saved_input_example_info`."""
    import pandas as pd

    info: dict[str, Any] = {"artifact_path": EXAMPLE_FILE}
    if isinstance(example, pd.Series):
        example = example.to_frame()
    if isinstance(example, pd.DataFrame):
        split = example.to_dict(orient="split")
        split.pop("index", None)
        stored: Any = split
        serving: Any = {"dataframe_split": split}
        info.update(type="dataframe", pandas_orient="split")
    elif isinstance(example, np.ndarray):
        stored = example.tolist()
        serving = {"inputs": stored}
        info["type"] = "ndarray"
    elif (
        isinstance(example, dict)
        and example
        and all(isinstance(v, np.ndarray) for v in example.values())
    ):
        stored = {k: v.tolist() for k, v in example.items()}
        serving = {"inputs": stored}
        info["type"] = "ndarray"
    elif isinstance(example, (dict, list)) or np.isscalar(example):
        stored = example
        serving = {"inputs": example}
        info["type"] = "json_object"
    else:
        raise InvalidParameterValue(
            f"Cannot save an input example of type {type(example).__name__}: pass a pandas "
            "DataFrame, a numpy array, a dict or a list"
        )
    model_dir = Path(model_dir)
    (model_dir / EXAMPLE_FILE).write_text(json.dumps(stored, default=_jsonable))
    (model_dir / SERVING_EXAMPLE_FILE).write_text(json.dumps(serving, default=_jsonable, indent=2))
    info["serving_input_path"] = SERVING_EXAMPLE_FILE
    return info


def load_input_example(model_dir: str | Path, model: Model) -> Any:
    """Read back the saved example as a DataFrame, array or JSON object (None if none saved)."""
    info = model.saved_input_example_info
    if not info:
        return None
    path = resolve_inside(model_dir, info.get("artifact_path", EXAMPLE_FILE), "the input example")
    data = json.loads(path.read_text())
    if isinstance(data, dict) and "inputs" in data and info.get("params"):
        data = data["inputs"]  # MLflow stores {inputs, params} when params were given
    kind = info.get("type")
    if kind == "dataframe":
        import pandas as pd

        if isinstance(data, dict) and "columns" in data:
            return pd.DataFrame(data["data"], columns=data["columns"])
        return pd.DataFrame(data)
    if kind == "ndarray":
        if isinstance(data, dict):
            return {k: np.asarray(v) for k, v in data.items()}
        return np.asarray(data)
    return data


__all__ = ["EXAMPLE_FILE", "SERVING_EXAMPLE_FILE", "load_input_example", "save_input_example"]
