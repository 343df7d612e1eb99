"""The prediction log on real files: layout, schema, sampling, memory bound, processes, S3."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
import threading
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.dataset as ds
import pyarrow.parquet as pq
import pytest

from slipway.errors import FlushError, InvalidParameterValue
from slipway.serving.export import BASE_COLUMNS, export_predictions, read_predictions
from slipway.serving.inputs import Block
from slipway.serving.predlog import (
    PREDICTION_LOG_URI_ENV,
    PredictionLog,
    is_sampled,
    output_columns,
    prediction_log_uri,
)

DAY_MS = 86_400_000
NOV_1 = 1_793_491_200_000  # 2026-11-01T00:00:00Z
SRC = str(Path(__file__).resolve().parents[2] / "src")


def frame(n: int, start: int = 0) -> pd.DataFrame:
    return pd.DataFrame({"age": np.arange(start, start + n, dtype="int64"), "plan": ["basic"] * n})


def parquet_files(root: Path) -> list[str]:
    return sorted(p.relative_to(root).as_posix() for p in root.rglob("*.parquet"))


def test_round_trip_layout_and_schema(tmp_path: Path) -> None:
    root = tmp_path / "log"
    with PredictionLog(str(root), flush_interval_s=3600) as log:
        log.record(
            request_id="a",
            model_name="churn model",
            model_version="1",
            inputs=frame(2),
            outputs=np.array([0, 1]),
            timestamp_ms=NOV_1 + 1000,
        )
        log.record(
            request_id="b",
            model_name="churn model",
            model_version="1",
            inputs=frame(1, 10),
            outputs={
                "prediction": np.array([1]),
                "probability": pd.DataFrame({"no": [0.2], "yes": [0.8]}),
            },
            timestamp_ms=NOV_1 + DAY_MS,
        )
        log.flush()
        files = parquet_files(root)
        assert [f.rsplit("/", 1)[0] for f in files] == [
            "predictions/model=churn%20model/version=1/date=2026-11-01",
            "predictions/model=churn%20model/version=1/date=2026-11-02",
        ]
        name = files[0].rsplit("/", 1)[1]
        assert name.startswith("part-") and f"-{os.getpid()}-" in name

    # Any hive-aware reader sees one table with the partition columns (pyarrow takes the
    # first file's schema unless told the unified one).
    partitioning = ds.partitioning(
        pa.schema([("model", pa.string()), ("version", pa.string()), ("date", pa.string())]),
        flavor="hive",
    )
    path = str(root / "predictions")
    first = ds.dataset(path, format="parquet", partitioning=partitioning)
    unified = pa.unify_schemas([f.physical_schema for f in first.get_fragments()])
    dataset = ds.dataset(
        path,
        format="parquet",
        partitioning=partitioning,
        schema=unified.append(pa.field("model", pa.string()))
        .append(pa.field("version", pa.string()))
        .append(pa.field("date", pa.string())),
    )
    pruned = dataset.to_table(filter=ds.field("date") == "2026-11-02")
    assert pruned.column("model").to_pylist() == ["churn model"]
    assert pruned.column("probability.yes").to_pylist() == [0.8]
    physical = dataset.schema
    assert physical.field("timestamp").type == pa.timestamp("ms", tz="UTC")
    assert physical.field("row_index").type == pa.int32()
    assert physical.field("input.age").type == pa.int64()

    df = read_predictions("churn model", root=str(root), with_labels=False)
    assert list(df.columns) == [
        "request_id",
        "row_index",
        "timestamp",
        "model_name",
        "model_version",
        "input.age",
        "input.plan",
        "prediction",
        "probability.no",
        "probability.yes",
    ]
    assert df["request_id"].tolist() == ["a", "a", "b"]
    assert df["row_index"].tolist() == [0, 1, 0]
    assert df["input.age"].tolist() == [0, 1, 10]
    assert df["prediction"].tolist() == [0, 1, 1]
    assert df["timestamp"].iloc[2] == pd.Timestamp(NOV_1 + DAY_MS, unit="ms", tz="UTC")
    assert df["probability.yes"].isna().tolist() == [True, True, False]


def test_schema_drift_between_batches_reads_as_one_table(tmp_path: Path) -> None:
    root = str(tmp_path / "log")
    with PredictionLog(root, flush_interval_s=3600) as log:
        log.record(
            request_id="old",
            model_name="m",
            model_version="1",
            inputs=pd.DataFrame({"x": [1]}),
            outputs=[0],
        )
        log.flush()
        log.record(
            request_id="new",
            model_name="m",
            model_version="2",
            inputs=pd.DataFrame({"x": [2.5], "extra": ["q"]}),
            outputs=["label-a"],
        )
    df = read_predictions("m", root=root, with_labels=False)
    assert df["request_id"].tolist() == ["old", "new"]
    assert df["input.x"].tolist() == [1.0, 2.5]  # int64 and double promote to double
    assert df["input.extra"].tolist()[1] == "q" and pd.isna(df["input.extra"].iloc[0])
    assert df["prediction"].tolist() == ["0", "label-a"]  # int vs string: read as string
    only_v2 = read_predictions("m", "2", root=root, with_labels=False)
    assert only_v2["request_id"].tolist() == ["new"]


def test_the_experiment_column_is_null_in_logs_written_before_it(tmp_path: Path) -> None:
    root = str(tmp_path / "log")
    with PredictionLog(root, flush_interval_s=3600) as log:
        log.record(  # an older server: no variant, no experiment
            request_id="before",
            model_name="m",
            model_version="1",
            inputs=pd.DataFrame({"x": [1.0]}),
            outputs=[0],
        )
        log.flush()
        log.record(
            request_id="routed",
            model_name="m",
            model_version="1",
            inputs=pd.DataFrame({"x": [2.0]}),
            outputs=[1],
            variant="challenger",
            experiment="churn-ab",
        )
    df = read_predictions("m", root=root, with_labels=False)
    assert df["request_id"].tolist() == ["before", "routed"]
    assert pd.isna(df["experiment"].iloc[0]) and df["experiment"].iloc[1] == "churn-ab"
    assert pd.isna(df["variant"].iloc[0]) and df["variant"].iloc[1] == "challenger"
    assert list(df.columns[:7]) == [*BASE_COLUMNS, "variant", "experiment"]


def test_output_shapes() -> None:
    cols = output_columns(np.array([[0.1, 0.9], [0.7, 0.3]]), 2)
    assert list(cols) == ["prediction.0", "prediction.1"]
    cols = output_columns(pd.DataFrame({"score": [1.0], "rank": [3]}), 1)
    assert list(cols) == ["output.score", "output.rank"]
    cols = output_columns({"predict": [1], "predict_proba": [[0.4, 0.6]]}, 1)
    assert list(cols) == ["prediction", "probability.0", "probability.1"]
    with pytest.raises(InvalidParameterValue, match="2 rows for 3 input rows"):
        output_columns([1, 2], 3)


def test_sampling_keeps_a_share_of_whole_requests(tmp_path: Path) -> None:
    root = str(tmp_path / "log")
    with PredictionLog(root, sample_rate=0.25, flush_interval_s=3600) as log:
        for i in range(2000):
            log.record(
                request_id=f"req-{i}",
                model_name="m",
                model_version="1",
                inputs=frame(2),
                outputs=[0, 1],
            )
        stats = log.stats()
    assert stats.requests_logged + stats.requests_sampled_out == 2000
    assert 0.21 < stats.requests_logged / 2000 < 0.29
    df = read_predictions("m", root=root, with_labels=False)
    rows_per_request = df.groupby("request_id").size()
    assert (rows_per_request == 2).all()  # all rows of a request, or none
    assert set(rows_per_request.index) == {
        f"req-{i}" for i in range(2000) if is_sampled(f"req-{i}", 0.25)
    }
    assert is_sampled("x", 1.0) and not is_sampled("x", 0.0)


def test_buffer_is_bounded_when_the_writer_cannot_keep_up(tmp_path: Path) -> None:
    log = PredictionLog(str(tmp_path / "log"), flush_interval_s=3600, max_buffer_rows=10)
    release = threading.Event()
    writing = threading.Event()
    real_write = log._repo.write_bytes

    def stuck_write(path: str, data: bytes) -> None:
        writing.set()
        release.wait(10)
        real_write(path, data)

    log._repo.write_bytes = stuck_write  # type: ignore[method-assign]
    started = time.perf_counter()
    for i in range(100):
        log.record(
            request_id=f"r{i}", model_name="m", model_version="1", inputs=frame(1), outputs=[0]
        )
        if i == 9:
            assert writing.wait(5)  # the full buffer went to the (stuck) writer
    assert time.perf_counter() - started < 2  # record() never waited for the writer
    stats = log.stats()
    assert stats.rows_dropped >= 80 and stats.requests_dropped == stats.rows_dropped
    release.set()
    log.close()
    stats = log.stats()
    assert stats.rows_written + stats.rows_dropped == 100
    assert stats.rows_written <= 20


def test_a_failed_write_is_retried_at_the_next_flush(tmp_path: Path) -> None:
    root = str(tmp_path / "log")
    log = PredictionLog(root, flush_interval_s=3600)
    real_write = log._repo.write_bytes
    calls = []

    def flaky(path: str, data: bytes) -> None:
        calls.append(path)
        if len(calls) == 1:
            raise OSError("bucket unavailable")
        real_write(path, data)

    log._repo.write_bytes = flaky  # type: ignore[method-assign]
    log.record(request_id="r", model_name="m", model_version="1", inputs=frame(3), outputs=[0] * 3)
    with pytest.raises(FlushError, match="bucket unavailable"):
        log.flush()
    log.flush()
    log.close()
    assert log.stats().rows_written == 3 and log.stats().write_errors == 1
    assert len(read_predictions("m", root=root, with_labels=False)) == 3


def test_record_never_raises_and_counts_what_it_drops(tmp_path: Path) -> None:
    root = str(tmp_path / "log")
    log = PredictionLog(root, flush_interval_s=3600)
    log.record(
        request_id="bad", model_name="m", model_version="1", inputs=frame(2), outputs=[1, 2, 3]
    )
    log.record(request_id="odd", model_name="m", model_version="1", inputs=None, outputs=None)
    log.record(request_id="ok", model_name="m", model_version="1", inputs=frame(1), outputs=[1])
    log.close()
    log.close()  # idempotent
    log.record(request_id="late", model_name="m", model_version="1", inputs=frame(1), outputs=[1])
    stats = log.stats()
    assert stats.requests_dropped == 3 and stats.rows_written == 1
    assert read_predictions("m", root=root, with_labels=False)["request_id"].tolist() == ["ok"]


def _logged_tables(root: Path) -> dict[str, pa.Table]:
    """The files written under `root`, by the first request id each holds."""
    tables = [pq.read_table(path) for path in sorted(root.rglob("*.parquet"))]
    return {t.column("request_id")[0].as_py(): t for t in tables}


def _log_each(root: Path, requests: list[tuple[str, object, object]]) -> dict[str, pa.Table]:
    with PredictionLog(str(root), flush_interval_s=3600) as log:
        for rid, inputs, outputs in requests:
            log.record(
                request_id=rid,
                model_name="m",
                model_version="1",
                inputs=inputs,
                outputs=outputs,
                timestamp_ms=NOV_1,
            )
    return _logged_tables(root)


def test_numpy_requests_write_what_their_dataframes_write(tmp_path: Path) -> None:
    """The server hands over numpy (Blocks, arrays); the files are as if it sent DataFrames."""
    names = ("age", "plan", "score")
    ages = np.array([31, 45, 27], dtype="int64")
    plans = np.array(["basic", "pro", "basic"], dtype=object)
    scores = np.array([0.5, 1.5, 2.5])
    mixed = Block(names, 3, columns=[ages, plans, scores])
    proba = np.array([[0.2, 0.8], [0.6, 0.4], [0.9, 0.1]])
    labels = np.array(["yes", "no", "no"], dtype=object)
    matrix = np.arange(12, dtype="float64").reshape(6, 2)
    numeric = Block(("x", "y"), 6, matrix=matrix)

    def outputs(rows: slice, as_frame: bool) -> dict:
        probability = (
            pd.DataFrame(proba[rows], columns=pd.Index(["no", "yes"]))
            if as_frame
            else Block(("no", "yes"), len(proba[rows]), matrix=proba[rows])
        )
        return {"prediction": labels[rows], "probability": probability}

    # one 2-row and one 1-row request of each shape, as a batch of three is split
    as_numpy = [
        ("a", mixed.row_slice(0, 2), outputs(slice(0, 2), False)),
        ("b", mixed.row_slice(2, 3), outputs(slice(2, 3), False)),
        ("c", numeric.row_slice(0, 4), matrix[:4, 0] > 3),
        ("d", numeric.row_slice(4, 6), matrix[4:, 0] > 3),
        ("e", matrix[:3], np.array([1, 2, 3])),
        ("f", matrix[3:4], np.array([4])),
    ]
    as_frames = [
        ("a", mixed.to_frame().iloc[0:2], outputs(slice(0, 2), True)),
        ("b", mixed.to_frame().iloc[2:3], outputs(slice(2, 3), True)),
        ("c", numeric.to_frame().iloc[0:4], matrix[:4, 0] > 3),
        ("d", numeric.to_frame().iloc[4:6], matrix[4:, 0] > 3),
        ("e", pd.DataFrame(matrix[:3]), np.array([1, 2, 3])),
        ("f", pd.DataFrame(matrix[3:4]), np.array([4])),
    ]
    got = _log_each(tmp_path / "numpy", as_numpy)
    want = _log_each(tmp_path / "frames", as_frames)
    assert sorted(got) == sorted(want) == ["a", "c", "e"]  # predictions' types conflict
    for first, table in got.items():
        assert table.schema == want[first].schema
        assert table.to_pylist() == want[first].to_pylist()
    rows = {(r["request_id"], r["row_index"]): r for t in got.values() for r in t.to_pylist()}
    assert rows["b", 0]["input.plan"] == "basic" and rows["b", 0]["probability.yes"] == 0.1
    assert rows["d", 1]["input.y"] == 11.0 and rows["f", 0]["input.1"] == 7.0
    assert got["a"].schema.field("input.age").type == pa.int64()


def test_a_bad_numpy_request_is_dropped_alone(tmp_path: Path) -> None:
    names = ("x", "y")
    good = [
        (f"ok-{i}", Block(names, 1, matrix=np.array([[i, i + 0.5]])), np.array([i % 2]))
        for i in range(1200)  # more than one slice of the flush
    ]
    bad = ("bad", Block(names, 1, matrix=np.array([[0.0, 0.0]])), np.array([1, 0]))
    (table,) = _log_each(tmp_path / "log", [*good[:700], bad, *good[700:]]).values()
    assert table.num_rows == 1200
    assert table.column("request_id").to_pylist() == [f"ok-{i}" for i in range(1200)]
    assert table.column("input.y").to_pylist()[-1] == 1199.5


def test_background_thread_flushes_on_its_interval(tmp_path: Path) -> None:
    root = tmp_path / "log"
    log = PredictionLog(str(root), flush_interval_s=0.05)
    log.record(request_id="r", model_name="m", model_version="1", inputs=frame(1), outputs=[0])
    deadline = time.monotonic() + 5
    while not parquet_files(root) and time.monotonic() < deadline:
        time.sleep(0.02)
    assert parquet_files(root)
    log.close()


WRITER = textwrap.dedent(
    """
    import sys
    import pandas as pd
    from slipway.serving.predlog import PredictionLog

    root, tag, close = sys.argv[1], sys.argv[2], sys.argv[3] == "close"
    log = PredictionLog(root, flush_interval_s=3600)
    for i in range(50):
        log.record(request_id=f"{tag}-{i}", model_name="m", model_version="1",
                   inputs=pd.DataFrame({"x": [i]}), outputs=[i % 2])
        if close and i % 10 == 9:
            log.flush()
    if close:
        log.close()
    # otherwise the interpreter-exit hook flushes what is still buffered
    """
)


def test_two_processes_write_to_one_root_and_exit_flushes(tmp_path: Path) -> None:
    root = str(tmp_path / "log")
    env = {**os.environ, "PYTHONPATH": SRC + os.pathsep + os.environ.get("PYTHONPATH", "")}
    procs = [
        subprocess.Popen([sys.executable, "-c", WRITER, root, tag, mode], env=env)
        for tag, mode in (("a", "close"), ("b", "atexit"))
    ]
    assert [p.wait(timeout=60) for p in procs] == [0, 0]
    df = read_predictions("m", root=root, with_labels=False)
    assert len(df) == 100 and df["request_id"].nunique() == 100
    names = [p.name for p in Path(root).rglob("*.parquet")]
    assert len(names) == len(set(names)) > 2  # flushed in several files, none clobbered


def test_prediction_log_uri(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    home = tmp_path / "slipway-home"
    assert prediction_log_uri() == str(home / "artifacts" / "prediction-logs")
    assert prediction_log_uri("http://tracking:5000") == "mlflow-artifacts:/prediction-logs"
    monkeypatch.setenv(PREDICTION_LOG_URI_ENV, "s3://bucket/logs")
    assert prediction_log_uri("http://tracking:5000") == "s3://bucket/logs"


def test_bad_settings_are_refused(tmp_path: Path) -> None:
    with pytest.raises(InvalidParameterValue, match="sample_rate"):
        PredictionLog(str(tmp_path), sample_rate=1.5)
    with pytest.raises(InvalidParameterValue, match="max_buffer_rows"):
        PredictionLog(str(tmp_path), max_buffer_rows=0)


def test_log_through_a_servers_artifact_proxy(live_server, tmp_path: Path) -> None:
    """`mlflow-artifacts:/` (the default with a server tracking URI) writes and reads back."""
    uri = prediction_log_uri(live_server.url)
    with PredictionLog(uri, tracking_uri=live_server.url, flush_interval_s=3600) as log:
        log.record(
            request_id="p", model_name="m", model_version="1", inputs=frame(2), outputs=[1, 0]
        )
        log.record_feedback([{"request_id": "p", "label": 1}])
    assert list((live_server.artifacts_dir / "prediction-logs" / "predictions").iterdir())
    df = read_predictions("m", root=uri, tracking_uri=live_server.url)
    assert df["prediction"].tolist() == [1, 0] and df["label"].tolist() == [1, 1]


# --- S3 (moto's server on loopback, as in tests/integration/test_s3_artifacts.py) -----------


@pytest.fixture(scope="module")
def s3_endpoint():
    pytest.importorskip("s3fs", reason="S3 tests need the s3 extra (pip install 'slipway[s3]')")
    moto_server = pytest.importorskip("moto.server", reason="S3 tests need moto[server]")
    server = moto_server.ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    yield f"http://{host}:{port}"
    server.stop()


@pytest.fixture
def bucket(s3_endpoint: str, monkeypatch: pytest.MonkeyPatch) -> str:
    import boto3
    import fsspec

    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    monkeypatch.setenv("AWS_ENDPOINT_URL", s3_endpoint)
    fsspec.filesystem("s3").clear_instance_cache()
    name = f"slipway-predlog-{time.monotonic_ns()}"
    boto3.client("s3", endpoint_url=s3_endpoint).create_bucket(Bucket=name)
    return name


def test_log_and_export_in_a_bucket(bucket: str, tmp_path: Path) -> None:
    root = f"s3://{bucket}/prediction-logs"
    with PredictionLog(root, flush_interval_s=3600) as log:
        log.record(
            request_id="s1",
            model_name="m",
            model_version="1",
            inputs=frame(2),
            outputs=[0, 1],
            timestamp_ms=NOV_1,
        )
        log.flush()
        log.record(
            request_id="s2",
            model_name="m",
            model_version="2",
            inputs=frame(1),
            outputs=[1],
            timestamp_ms=NOV_1 + 3 * DAY_MS,
        )
        log.record_feedback([{"request_id": "s2", "label": 1}])
    df = read_predictions("m", root=root, since="2026-11-02")
    assert df["request_id"].tolist() == ["s2"] and df["label"].tolist() == [1]
    result = export_predictions("m", tmp_path / "m.parquet", root=root)
    assert (result.rows, result.labelled_rows) == (3, 1)
    assert pd.read_parquet(tmp_path / "m.parquet")["request_id"].tolist() == ["s1", "s1", "s2"]
