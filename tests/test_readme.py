"""The README's tracking example runs as written (examples in docs must not rot)."""

from __future__ import annotations

import re
from pathlib import Path

import slipway
from slipway.tracking import fluent

README = Path(__file__).resolve().parents[1] / "README.md"


def test_tracking_example_runs(tmp_path: Path) -> None:
    blocks = re.findall(r"```python\n(.*?)```", README.read_text(), flags=re.S)
    tracking = next(b for b in blocks if "slipway.set_experiment" in b)
    namespace: dict = {}
    try:
        exec(compile(tracking, str(README), "exec"), namespace)
    finally:
        fluent._state.experiment_id = None
    best = namespace["best"]
    assert len(best) == 1
    assert best[0].data.params["max_depth"] == "10"
    assert slipway.Client().get_metric_history(best[0].info.run_id, "val_loss")[-1].step == 99


def test_drift_example_runs(tmp_path: Path) -> None:
    import numpy as np
    import pandas as pd
    from sklearn.linear_model import LogisticRegression

    blocks = re.findall(r"```python\n(.*?)```", README.read_text(), flags=re.S)
    drift = next(b for b in blocks if "detect_drift(ref_df, cur_df)" in b)
    rng = np.random.default_rng(0)
    X_train = pd.DataFrame({"age": rng.normal(40, 10, 500), "income": rng.normal(5, 1, 500)})
    y_train = (X_train["income"] > 5).astype(int)
    namespace: dict = {
        "slipway": slipway,
        "ref_df": X_train,
        "cur_df": X_train.assign(age=X_train["age"] + 15),
        "X_train": X_train,
        "y_train": y_train,
        "model": LogisticRegression().fit(X_train, y_train),
    }
    slipway.set_tracking_uri(f"sqlite:///{tmp_path / 'db.sqlite'}")
    try:
        exec(compile(drift, str(README), "exec"), namespace)
    finally:
        slipway.end_run()
    result = namespace["result"]
    assert result.columns["age"].drifted and not result.columns["income"].drifted
