"""Dataset inputs of a run: a name, a content digest, a schema and a small profile.

The digest identifies the data, not the object holding it: the same frame logged twice
gets the same digest, so the store records it once per experiment.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

from slipway.entities import Dataset, DatasetInput, string_dict
from slipway.errors import InvalidParameterValue

CONTEXT_TAG = "mlflow.data.context"
_DIGEST_ROWS = 10_000


def dataset_input(
    data: Any,
    context: str | None = None,
    tags: dict[str, Any] | None = None,
    name: str | None = None,
) -> DatasetInput:
    """Wrap a `Dataset`, pandas DataFrame/Series or NumPy array as a run input."""
    dataset = data if isinstance(data, Dataset) else dataset_from(data, name=name)
    input_tags = string_dict(tags) or {}
    if context:
        input_tags[CONTEXT_TAG] = context
    return DatasetInput(dataset=dataset, tags=input_tags)


def dataset_from(data: Any, name: str | None = None, source: str = "") -> Dataset:
    """Describe in-memory data as a `Dataset` (digest over its first 10,000 rows)."""
    import numpy as np
    import pandas as pd

    if isinstance(data, pd.Series):
        data = data.to_frame()
    if isinstance(data, pd.DataFrame):
        head = data.head(_DIGEST_ROWS)
        hashed = pd.util.hash_pandas_object(head, index=False).to_numpy()
        digest_src = hashed.tobytes() + str(data.shape).encode()
        schema = {"columns": [{"name": str(c), "type": str(t)} for c, t in data.dtypes.items()]}
        profile = {"num_rows": int(data.shape[0]), "num_elements": int(data.size)}
        kind = "pandas"
    elif isinstance(data, np.ndarray):
        head = np.ascontiguousarray(data[:_DIGEST_ROWS])
        digest_src = head.tobytes() + str(data.shape).encode() + str(data.dtype).encode()
        schema = {"tensor": {"dtype": str(data.dtype), "shape": [-1, *data.shape[1:]]}}
        profile = {
            "num_rows": int(data.shape[0]) if data.ndim else 1,
            "num_elements": int(data.size),
        }
        kind = "numpy"
    else:
        raise InvalidParameterValue(
            f"log_input takes a pandas DataFrame/Series, a NumPy array or a slipway Dataset, "
            f"got {type(data).__name__}."
        )
    digest = hashlib.md5(digest_src, usedforsecurity=False).hexdigest()[:8]
    return Dataset(
        name=name or f"dataset-{digest}",
        digest=digest,
        source_type="code" if not source else "local",
        source=json.dumps({"uri": source} if source else {"tags": {"kind": kind}}),
        schema=json.dumps(schema),
        profile=json.dumps(profile),
    )


__all__ = [
    "CONTEXT_TAG",
    "dataset_from",
    "dataset_input",
]
