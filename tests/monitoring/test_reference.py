"""Reference profiles as run artifacts, found again from the run or from a model version."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from slipway.errors import InvalidParameterValue
from slipway.monitoring import detect_drift, load_reference, log_reference
from slipway.tracking.client import Client


@pytest.fixture
def client(tmp_path: Path):
    c = Client(f"sqlite:///{tmp_path / 'slipway.db'}")
    yield c
    c.close()


def test_log_and_load_reference_by_run_and_by_model(client, frames) -> None:
    ref, cur = frames
    X = ref.drop(columns=["flag"])
    y = ref["flag"]
    preds = np.zeros(len(ref))
    exp = client.create_experiment("churn")
    run = client.create_run(exp)
    run_id = run.info.run_id
    logged = log_reference(X, y, preds, run_id=run_id, client=client)
    assert set(logged.columns) == {"stable", "shifted", "plan", "target", "prediction"}
    assert [f.path for f in client.list_artifacts(run_id, "reference")] == [
        "reference/profile.profile"
    ]

    by_run = load_reference(run_id, client=client)
    assert by_run.rows == len(ref) and by_run.columns["target"].type == "boolean"
    assert load_reference(f"runs:/{run_id}", client=client).rows == len(ref)

    client.create_registered_model("churn")
    version = client.create_model_version("churn", f"runs:/{run_id}/model", run_id=run_id)
    client.set_registered_model_alias("churn", "champion", version.version)
    by_model = load_reference("models:/churn@champion", client=client)
    assert list(by_model.columns) == list(logged.columns)
    result = detect_drift(by_model, cur.drop(columns=["flag"]))
    assert result.columns["shifted"].drifted and not result.columns["stable"].drifted


def test_log_reference_needs_a_run_id_and_matching_lengths(client) -> None:
    X = pd.DataFrame({"a": [1.0, 2.0]})
    with pytest.raises(InvalidParameterValue):
        log_reference(X, client=client)
    run_id = client.create_run(client.create_experiment("e")).info.run_id
    with pytest.raises(InvalidParameterValue):
        log_reference(X, y=[1, 2, 3], run_id=run_id, client=client)


def test_fluent_log_reference_stores_the_profile_with_the_run(tmp_path) -> None:
    """`slipway.log_reference` in a training run: `load_reference(runs:/…)` finds it."""
    import numpy as np
    import pandas as pd

    import slipway
    from slipway.monitoring import load_reference

    slipway.set_tracking_uri(f"sqlite:///{tmp_path / 'db.sqlite'}")
    X = pd.DataFrame({"age": np.arange(50.0), "plan": ["a", "b"] * 25})
    with slipway.start_run() as run:
        slipway.log_reference(X, y=np.arange(50) % 2)
    loaded = load_reference(f"runs:/{run.info.run_id}")
    assert {"age", "plan", "target"} <= set(loaded.columns)
