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
