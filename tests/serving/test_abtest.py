"""A/B analysis from a prediction log written with `PredictionLog`, in Python and the CLI.

Two versions of model `churn` stand for two variants: version 1 converts 20% of its
requests, version 2 40% (exactly, so the counts are known). `slipway experiment report`
reads the log and its labels and must agree with a z-test computed by hand on the counts.
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from xml.etree import ElementTree

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from scipy import stats
from typer.testing import CliRunner

from slipway.cli.main import app
from slipway.errors import InvalidParameterValue
from slipway.serving.abtest import analyze_experiment, analyze_predictions
from slipway.serving.predlog import PREDICTIONS_DIR, PredictionLog

NOV_1 = 1_793_491_200_000  # 2026-11-01T00:00:00Z
PER_VERSION = 400
RATES = {"1": 0.20, "2": 0.40}

runner = CliRunner()


def write_log(root: str, *, labelled_share: float = 1.0) -> None:
    """Model `churn`, versions 1 and 2, PER_VERSION requests each (every 10th has 2 rows)."""
    with PredictionLog(root, flush_interval_s=3600) as log:
        feedback = []
        for version, rate in RATES.items():
            converted = round(PER_VERSION * rate)
            for i in range(PER_VERSION):
                rid = f"v{version}-{i}"
                rows = 2 if i % 10 == 0 else 1
                log.record(
                    request_id=rid,
                    model_name="churn",
                    model_version=version,
                    inputs=pd.DataFrame({"tenure": list(range(rows))}),
                    outputs=[1] * rows,
                    timestamp_ms=NOV_1 + i * 1000,
                )
                if i < PER_VERSION * labelled_share:
                    feedback.append({"request_id": rid, "label": int(i < converted)})
        log.record_feedback(feedback)


@pytest.fixture(scope="module")
def log_root(tmp_path_factory: pytest.TempPathFactory) -> str:
    root = str(tmp_path_factory.mktemp("ab") / "log")
    write_log(root)
    return root


def report(*args: str):
    return runner.invoke(app, ["experiment", "report", *args])


def test_cli_report_matches_a_z_test_by_hand(log_root: str, tmp_path: Path) -> None:
    html_path, json_path = tmp_path / "ab.html", tmp_path / "ab.json"
    result = report(
        "churn", "--metric", "conversion", "--mde", "0.1", "--log-uri", log_root,
        "-o", str(html_path), "--json", str(json_path),
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    assert "2 beats 1" in result.stdout
    data = json.loads(json_path.read_text())
    assert data["grouped_by"] == "model_version" and data["control"] == "1"
    assert data["unit"] == "request" and data["kind"] == "rate"
    one, two = data["variants"]
    # one unit per request, although some requests have two rows
    assert (one["units"], one["labelled"], one["successes"]) == (400, 400, 80)
    assert (two["labelled"], two["successes"]) == (400, 160)
    assert one["rows"] == 440
    x1, x2, n = 80, 160, 400
    pooled = (x1 + x2) / (2 * n)
    z = (x2 / n - x1 / n) / math.sqrt(pooled * (1 - pooled) * 2 / n)
    (comparison,) = data["comparisons"]
    assert comparison["statistic"] == pytest.approx(z)
    assert comparison["p_value"] == pytest.approx(2 * stats.norm.sf(z))
    wilson = stats.binomtest(x2, n).proportion_ci(method="wilson")
    assert (two["ci_low"], two["ci_high"]) == pytest.approx((wilson.low, wilson.high))
    assert two["prob_best"] > 0.999 and one["prob_best"] < 0.001
    assert data["required_per_variant"] < n and data["more_needed_total"] == 0
    assert data["verdict"]["status"] == "significant" and data["verdict"]["winner"] == "2"
    page = html_path.read_text()
    assert "Significant difference" in page and "2 beats 1" in page
    svgs = page.count("<svg")
    assert svgs == 2  # interval plot and posterior densities
    for chunk in page.split("<svg")[1:]:
        ElementTree.fromstring("<svg" + chunk.split("</svg>")[0] + "</svg>")  # well-formed


def test_not_enough_data_says_how_many_more(log_root: str) -> None:
    result = report("churn", "--mde", "0.02", "--log-uri", log_root, "--json", "-")
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    verdict = data["verdict"]
    assert verdict["status"] == "not_enough_data" and verdict["winner"] is None
    required = data["required_per_variant"]
    z_a, z_b = stats.norm.ppf(0.975), stats.norm.ppf(0.8)
    p1, p2 = 0.2, 0.22
    root = z_a * math.sqrt(2 * 0.21 * 0.79) + z_b * math.sqrt(p1 * (1 - p1) + p2 * (1 - p2))
    assert required == math.ceil(root**2 / 0.02**2)
    assert [v["more_needed"] for v in data["variants"]] == [required - 400] * 2
    assert data["more_needed_total"] == 2 * (required - 400)
    assert f"{2 * (required - 400):,} more labelled requests" in verdict["message"]
    # the interim test is reported but is not the verdict
    assert data["comparisons"][0]["p_value"] < 0.05


def test_not_enough_data_without_labels(tmp_path: Path) -> None:
    root = str(tmp_path / "log")
    write_log(root, labelled_share=0.0)
    result = analyze_experiment("churn", "conversion", root=root)
    assert result.verdict.status == "not_enough_data"
    assert "no labelled requests" in result.verdict.message
    assert [v.labelled for v in result.variants] == [0, 0]
    assert result.comparisons == [] and result.variants[0].prob_best is None
    assert "not enough data" in result.to_html().lower()


@pytest.mark.parametrize("with_experiment", [True, False])
def test_variant_column_groups_rows_and_experiment_column_filters(
    tmp_path: Path, with_experiment: bool
) -> None:
    """A log with `variant` (and `experiment`) columns, as the traffic split writes it."""
    root = tmp_path / "log"
    write_log(str(root))
    for path in sorted((root / PREDICTIONS_DIR).rglob("*.parquet")):
        table = pq.read_table(path)
        ids = table.column("request_id").to_pylist()
        variants = [
            None if int(r.split("-")[1]) >= 300 else ("a" if r.startswith("v1") else "b")
            for r in ids
        ]
        experiments = ["other" if int(r.split("-")[1]) < 50 else "churn-ab" for r in ids]
        table = table.append_column("variant", pa.array(variants, pa.string()))
        if with_experiment:
            table = table.append_column("experiment", pa.array(experiments, pa.string()))
        pq.write_table(table, path)
    result = analyze_experiment("churn-ab", "conversion", models="churn", root=str(root))
    assert result.grouped_by == "variant" and [v.name for v in result.variants] == ["a", "b"]
    if with_experiment:
        # requests 50..299 of each version: 250 each; 30 (a) and 110 (b) converted
        assert [v.labelled for v in result.variants] == [250, 250]
        assert [v.successes for v in result.variants] == [30, 110]
        assert result.excluded_rows == 2 * (55 + 110)  # other experiment + no variant, rows
    else:
        assert [v.labelled for v in result.variants] == [300, 300]
        assert [v.successes for v in result.variants] == [80, 160]
        assert result.excluded_rows == 2 * 110  # no variant
    with pytest.raises(InvalidParameterValue, match="No variant 'c'"):
        analyze_experiment("churn-ab", models="churn", root=str(root), control="c")


def frame(version_values: dict[str, list[float]], **columns: list) -> pd.DataFrame:
    rows = []
    for version, values in version_values.items():
        for i, value in enumerate(values):
            rows.append(
                {
                    "request_id": f"{version}-{i}",
                    "row_index": 0,
                    "model_name": "m",
                    "model_version": version,
                    "label": None,
                    "reward": value,
                }
            )
    out = pd.DataFrame(rows)
    for name, values in columns.items():
        out[name] = values
    return out


def test_reward_uses_welch_and_matches_scipy() -> None:
    rng = np.random.default_rng(5)
    a, b = rng.normal(1.0, 0.5, 500), rng.normal(1.3, 0.9, 450)
    result = analyze_predictions(frame({"1": list(a), "2": list(b)}), "reward", mde=0.2)
    expected = stats.ttest_ind(b, a, equal_var=False)
    (c,) = result.comparisons
    assert c.test == "Welch's t-test"
    assert c.p_value == pytest.approx(expected.pvalue, rel=1e-9)
    assert c.statistic == pytest.approx(expected.statistic, rel=1e-9)
    ci = stats.ttest_1samp(b, 0).confidence_interval(0.95)
    assert (result.variants[1].ci_low, result.variants[1].ci_high) == pytest.approx(
        (ci.low, ci.high)
    )
    assert result.verdict.status == "significant" and result.verdict.winner == "2"


def test_no_difference_once_the_sample_is_reached() -> None:
    values = [1.0] * 300 + [0.0] * 700
    result = analyze_predictions(frame({"1": values, "2": values[::-1]}), "conversion", mde=0.1)
    assert result.required_per_variant < 1000
    assert result.verdict.status == "no_difference"
    assert "would have been detected with 80% power" in result.verdict.message
    assert result.variants[0].prob_best == pytest.approx(0.5, abs=0.02)


def test_accuracy_is_per_row_and_lower_is_better_errors() -> None:
    df = pd.DataFrame(
        {
            "request_id": ["a", "a", "b", "c", "c", "d"],
            "row_index": [0, 1, 0, 0, 1, 0],
            "model_name": "m",
            "model_version": ["1", "1", "1", "2", "2", "2"],
            "prediction": [1, 0, 1.0, 3, 3, 5],
            "label": [1.0, 1.0, None, 3, 3, 4],
            "reward": None,
        }
    )
    acc = analyze_predictions(df, "accuracy")
    assert acc.unit == "row"
    assert [(v.labelled, v.successes) for v in acc.variants] == [(2, 1), (3, 2)]
    err = analyze_predictions(df, "abs_error")
    assert not err.higher_is_better
    assert [v.value for v in err.variants] == pytest.approx([0.5, 1 / 3])
    share = analyze_predictions(df, "label=3")  # per request: a, c, d are labelled
    assert [(v.labelled, v.successes) for v in share.variants] == [(1, 0), (2, 1)]


def test_bad_input() -> None:
    df = frame({"1": [1.0, 0.0]})
    with pytest.raises(InvalidParameterValue, match="Unknown metric"):
        analyze_predictions(df, "revenue")
    with pytest.raises(InvalidParameterValue, match="Found one variant"):
        analyze_predictions(df, "conversion")
    with pytest.raises(InvalidParameterValue, match="0/1"):
        analyze_predictions(frame({"1": [2.5], "2": [1.0]}), "conversion")
    with pytest.raises(InvalidParameterValue, match="mde"):
        analyze_predictions(frame({"1": [1.0], "2": [1.0]}), "conversion", mde=1.5)


def test_cli_errors(tmp_path: Path) -> None:
    result = report("nothing", "--log-uri", str(tmp_path / "empty"))
    assert result.exit_code == 1
    assert "No predictions logged for 'nothing'" in result.output
    result = report("churn", "--metric", "revenue", "--log-uri", str(tmp_path))
    assert result.exit_code == 1 and "Unknown metric" in result.output
