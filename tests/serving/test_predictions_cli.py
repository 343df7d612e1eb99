"""`slipway predictions export`: the log joined with labels, to Parquet and CSV."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest
from typer.testing import CliRunner

from slipway.cli.main import app
from slipway.serving.predlog import PREDICTION_LOG_URI_ENV, PredictionLog

DAY_MS = 86_400_000
NOV_1 = 1_793_491_200_000  # 2026-11-01T00:00:00Z

runner = CliRunner()


@pytest.fixture
def log_root(tmp_path: Path) -> str:
    """A log of model `churn`: v1 on Nov 1 (two requests), v2 on Nov 3; one label."""
    root = str(tmp_path / "log")
    with PredictionLog(root, flush_interval_s=3600) as log:
        for rid, version, ts in (
            ("a", "1", NOV_1),
            ("b", "1", NOV_1),
            ("c", "2", NOV_1 + 2 * DAY_MS),
        ):
            log.record(
                request_id=rid,
                model_name="churn",
                model_version=version,
                inputs=pd.DataFrame({"tenure": [3, 4]}),
                outputs=[0, 1],
                timestamp_ms=ts,
            )
        log.record_feedback([{"request_id": "a", "label": 1}])
    return root


def invoke(*args: str):
    return runner.invoke(app, list(args))


@pytest.mark.parametrize("suffix", [".parquet", ".csv"])
def test_export_to_parquet_and_csv(log_root: str, tmp_path: Path, suffix: str) -> None:
    out = tmp_path / f"churn{suffix}"
    result = invoke("predictions", "export", "churn", "--output", str(out), "--log-uri", log_root)
    assert result.exit_code == 0, result.output
    assert result.stdout.strip() == f"Exported 6 rows of churn to {out} (33.3% labelled)"
    df = pd.read_parquet(out) if suffix == ".parquet" else pd.read_csv(out)
    assert df["request_id"].tolist() == ["a", "a", "b", "b", "c", "c"]
    assert df["input.tenure"].tolist() == [3, 4] * 3
    assert df["label"].tolist()[:2] == [1, 1] and df["label"].iloc[2:].isna().all()
    assert {"timestamp", "model_version", "prediction", "reward", "label_timestamp"} <= set(
        df.columns
    )


def test_export_filters_and_json(
    log_root: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(PREDICTION_LOG_URI_ENV, log_root)  # what --log-uri defaults to
    out = tmp_path / "v1.csv"
    result = invoke(
        "predictions", "export", "churn", "-o", str(out), "--version", "1", "--no-labels", "--json"
    )
    assert result.exit_code == 0, result.output
    summary = json.loads(result.stdout)
    assert summary == {
        "path": str(out),
        "rows": 4,
        "labelled_rows": None,
        "labelled_share": None,
    }
    assert "label" not in pd.read_csv(out).columns

    window = invoke(
        "predictions",
        "export",
        "churn",
        "-o",
        str(out),
        "--since",
        "2026-11-02",
        "--until",
        "2026-11-30",
    )
    assert window.exit_code == 0, window.output
    assert "Exported 2 rows of churn" in window.stdout and "(0.0% labelled)" in window.stdout


def test_export_errors_are_one_line(log_root: str, tmp_path: Path) -> None:
    unknown = invoke(
        "predictions", "export", "nope", "-o", str(tmp_path / "x.csv"), "--log-uri", log_root
    )
    assert unknown.exit_code == 1
    assert unknown.stderr.strip().startswith("Error (RESOURCE_DOES_NOT_EXIST)")
    assert "models with a log: 'churn'" in unknown.stderr
    bad_format = invoke(
        "predictions", "export", "churn", "-o", str(tmp_path / "x.xlsx"), "--log-uri", log_root
    )
    assert bad_format.exit_code == 1 and "use .parquet or .csv" in bad_format.stderr
    bad_date = invoke(
        "predictions",
        "export",
        "churn",
        "-o",
        str(tmp_path / "x.csv"),
        "--since",
        "soon",
        "--log-uri",
        log_root,
    )
    assert bad_date.exit_code == 1 and "Cannot read 'soon'" in bad_date.stderr
    assert not list(tmp_path.glob("x.*"))
