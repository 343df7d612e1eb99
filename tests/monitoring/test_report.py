"""The HTML report is self-contained and does not grow with the data; the JSON has its shape."""

from __future__ import annotations

import json
import re

import numpy as np
import pandas as pd

from slipway.monitoring import detect_drift
from slipway.reports.svg import bar_chart, histogram_chart, line_chart


def _frames(n: int, seed: int = 0) -> tuple[pd.DataFrame, pd.DataFrame]:
    rng = np.random.default_rng(seed)
    ref = pd.DataFrame(
        {"x": rng.normal(0, 1, n), "c": rng.choice(list("abcdefghijklmnop"), n), "z": 1.0}
    )
    cur = pd.DataFrame(
        {"x": rng.normal(1, 1, n), "c": rng.choice(list("abcdefghijklmnopq"), n), "z": 1.0}
    )
    return ref, cur


def test_report_is_self_contained(tmp_path) -> None:
    ref, cur = _frames(2000)
    path = tmp_path / "report.html"
    text = detect_drift(ref, cur, expectations={"x": {"between": [-10, 10]}}).to_html(str(path))
    assert path.read_text() == text
    assert "<script" not in text and "http://" not in text.replace("http://www.w3.org", "")
    assert not re.search(r"(src|href)=['\"]https?:", text)
    assert text.count("<svg") == 3  # one chart per column
    assert "Dataset drift detected" in text and "Expectations: 1 of 1 passed" in text


def test_report_size_does_not_grow_with_the_data() -> None:
    small = len(detect_drift(*_frames(2_000)).to_html())
    large = len(detect_drift(*_frames(100_000)).to_html())
    assert abs(large - small) < 0.15 * small  # 50 times the rows, the same size


def test_json_shape(tmp_path) -> None:
    ref, cur = _frames(2000)
    result = detect_drift(ref, cur)
    path = tmp_path / "result.json"
    data = json.loads(result.to_json(str(path)))
    assert json.loads(path.read_text()) == data
    assert isinstance(data["dataset_drift"], bool)
    assert isinstance(data["share_drifted"], float)
    assert data["drift_share_threshold"] == 0.5
    x = data["columns"]["x"]
    assert {"type", "test", "statistic", "p_value", "threshold", "drifted"} <= set(x)
    assert x["test"] == "wasserstein" and x["p_value"] is None and x["drifted"] is True
    assert set(data["quality"]) == {"rows", "duplicate_share", "columns", "findings"}


def test_svg_charts_are_bounded_and_escaped() -> None:
    svg = histogram_chart([0.0, 1.0, 2.0], [0.5, 0.5], [0.2, 0.8], "a<b")
    assert svg.startswith("<svg") and "a&lt;b" in svg and svg.count("<rect") == 1 + 4 + 2
    bars = bar_chart(["x", "a very long category name"], [0.4, 0.6], [0.5, float("nan")], "t")
    assert "a very lo…" in bars
    assert "polyline" in line_chart([0, 1, 2], [1.0, 2.0, 3.0], "loss")  # unchanged
