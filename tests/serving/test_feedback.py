"""Delayed labels: validation, the left join by request id, relabelling, time windows."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from slipway.errors import InvalidParameterValue
from slipway.serving.export import (
    iter_predictions,
    read_labels,
    read_predictions,
    read_predictions_table,
)
from slipway.serving.predlog import PredictionLog

DAY_MS = 86_400_000
NOV_1 = 1_793_491_200_000  # 2026-11-01T00:00:00Z


@pytest.fixture
def root(tmp_path: Path) -> str:
    return str(tmp_path / "log")


def record(log: PredictionLog, rid: str, rows: int = 1, *, ts: int | None = None) -> None:
    log.record(
        request_id=rid,
        model_name="churn",
        model_version="1",
        inputs=pd.DataFrame({"tenure": np.arange(rows)}),
        outputs=np.zeros(rows, dtype=int),
        timestamp_ms=ts,
    )


def test_late_labels_join_by_request_and_the_latest_wins(root: str) -> None:
    with PredictionLog(root, flush_interval_s=3600) as log:
        for rid in ("a", "b", "c"):
            record(log, rid, rows=2)
        log.flush()
        # labels arrive later, in separate batches (files); "a" is relabelled twice,
        # and the second correction lands in the same millisecond as the first
        assert log.record_feedback([{"request_id": "a", "label": 0}]) == 1
        log.flush()
        assert log.record_feedback([{"request_id": "a", "label": 1, "reward": 0.5}]) == 1
        log.flush()
        log.record_feedback(
            [
                {"request_id": "a", "label": 1, "reward": 2.0},
                {"request_id": "b", "label": 0, "timestamp_ms": NOV_1},
                {"request_id": "unknown", "label": 1},
            ]
        )
        # a label with an older timestamp than the one already there does not replace it
        log.record_feedback([{"request_id": "b", "label": 1, "timestamp_ms": NOV_1 - 1}])
    df = read_predictions("churn", root=root)
    assert df["request_id"].tolist() == ["a", "a", "b", "b", "c", "c"]
    assert df["label"].tolist()[:4] == [1, 1, 0, 0] and df["label"].iloc[4:].isna().all()
    assert df["reward"].tolist()[:2] == [2.0, 2.0] and df["reward"].iloc[2:].isna().all()
    assert df["label_timestamp"].iloc[2] == pd.Timestamp(NOV_1, unit="ms", tz="UTC")
    assert df["label_timestamp"].iloc[4:].isna().all()  # unlabelled rows stay, with nulls
    labels = read_labels(root=root).to_pandas().set_index("request_id")
    assert sorted(labels.index) == ["a", "b", "unknown"]  # one (the latest) per request


def test_feedback_validation_lists_every_bad_record_and_accepts_none(root: str) -> None:
    with PredictionLog(root, flush_interval_s=3600) as log:
        with pytest.raises(InvalidParameterValue) as err:
            log.record_feedback(
                [
                    {"request_id": "ok", "label": 1},
                    {"label": 1},
                    {"request_id": "x", "label": [1, 2]},
                    {"request_id": "y", "label": "z", "reward": "high"},
                    {"request_id": "z"},
                    "not a record",
                    {"request_id": "t", "label": 1, "timestamp_ms": -5},
                ]
            )
        message = err.value.message
        assert "6 of 7 feedback record(s) are invalid; none was accepted" in message
        assert "record 1: missing request_id" in message
        assert "record 2: label must be a single value" in message
        assert "record 3: reward must be a number" in message
        assert "record 4: missing label (or reward)" in message
        assert "record 5: expected an object" in message
        assert "record 6: timestamp_ms must be epoch milliseconds" in message
        with pytest.raises(InvalidParameterValue, match="must be a list"):
            log.record_feedback({"request_id": "a", "label": 1})  # type: ignore[arg-type]
        assert log.stats().labels_logged == 0
        # numpy scalars and reward-only feedback are fine
        assert log.record_feedback([{"request_id": "n", "label": np.int64(3)}]) == 1
        assert log.record_feedback([{"request_id": "r", "reward": 1}]) == 1


def test_label_types_that_differ_between_batches_read_as_strings(root: str) -> None:
    with PredictionLog(root, flush_interval_s=3600) as log:
        record(log, "int")
        record(log, "str")
        log.record_feedback([{"request_id": "int", "label": 1}])
        log.flush()
        log.record_feedback([{"request_id": "str", "label": "churned"}])
    df = read_predictions("churn", root=root)
    assert df.set_index("request_id")["label"].to_dict() == {"int": "1", "str": "churned"}


def test_feedback_buffer_is_bounded(root: str) -> None:
    log = PredictionLog(root, flush_interval_s=3600, max_buffer_rows=5)
    log._repo.write_bytes = lambda path, data: None  # type: ignore[method-assign]
    log._stop.set()  # no background flush: the buffer only fills
    assert log.record_feedback([{"request_id": str(i), "label": 1} for i in range(3)]) == 3
    assert log.record_feedback([{"request_id": str(i), "label": 1} for i in range(4)]) == 2
    assert log.stats().labels_dropped == 2
    log.close()


def test_since_and_until_prune_by_date_partition(root: str, tmp_path: Path) -> None:
    with PredictionLog(root, flush_interval_s=3600) as log:
        for day in range(5):  # 2026-11-01 … 2026-11-05, noon
            record(log, f"d{day}", ts=NOV_1 + day * DAY_MS + DAY_MS // 2)
        log.record_feedback([{"request_id": "d3", "label": 1}])
    # A broken file in a day outside the window proves that day is never opened.
    broken = Path(root) / "predictions/model=churn/version=1/date=2026-11-01/part-broken.parquet"
    broken.write_bytes(b"not parquet")
    window = read_predictions("churn", root=root, since="2026-11-02", until="2026-11-04")
    assert window["request_id"].tolist() == ["d1", "d2", "d3"]  # until a day: inclusive
    assert window["label"].tolist()[2] == 1
    batches = list(
        iter_predictions("churn", root=root, since="2026-11-02", until="2026-11-04", batch_rows=1)
    )
    assert sum(b.num_rows for b in batches) == 3
    assert len({b.schema for b in batches}) == 1 and "label" in batches[0].column_names
    moments = read_predictions(
        "churn",
        root=root,
        since="2026-11-02T12:00:00Z",
        until=pd.Timestamp("2026-11-03T12:00:00Z").to_pydatetime(),
        with_labels=False,
    )
    assert moments["request_id"].tolist() == ["d1"]  # until a moment: exclusive
    projected = read_predictions_table(
        "churn", root=root, since="2026-11-05", columns=["input.tenure"]
    )
    assert projected.column_names == [
        "request_id",
        "input.tenure",
        "label",
        "reward",
        "label_timestamp",
    ]
    with pytest.raises(InvalidParameterValue, match="must be before until"):
        read_predictions("churn", root=root, since="2026-11-04", until="2026-11-02")
    with pytest.raises(InvalidParameterValue, match="Cannot read 'yesterday'"):
        read_predictions("churn", root=root, since="yesterday")
    with pytest.raises(InvalidParameterValue, match="Unknown prediction log column"):
        read_predictions("churn", root=root, since="2026-11-02", columns=["input.nope"])


def test_a_model_without_a_log_reads_as_empty(root: str) -> None:
    df = read_predictions("nobody", root=root)
    assert df.empty and {"request_id", "label"} <= set(df.columns)
