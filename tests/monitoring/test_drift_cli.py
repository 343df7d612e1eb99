"""`slipway drift` and `slipway profile`: outputs and exit codes 0 / 1 / 2."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from slipway.cli.main import app

runner = CliRunner()


@pytest.fixture
def files(tmp_path: Path) -> dict[str, str]:
    rng = np.random.default_rng(3)
    n = 3000
    ref = pd.DataFrame(
        {
            "age": rng.integers(18, 90, n),
            "income": rng.lognormal(8, 0.5, n),
            "plan": rng.choice(["basic", "plus", "pro"], n),
        }
    )
    same = pd.DataFrame(
        {
            "age": rng.integers(18, 90, n),
            "income": rng.lognormal(8, 0.5, n),
            "plan": rng.choice(["basic", "plus", "pro"], n),
        }
    )
    shifted = same.assign(income=rng.lognormal(8.6, 0.5, n), age=rng.integers(40, 99, n))
    out = {}
    for name, df in (("ref", ref), ("same", same), ("shifted", shifted)):
        df.to_parquet(tmp_path / f"{name}.parquet")
        df.to_csv(tmp_path / f"{name}.csv", index=False)
        out[name] = str(tmp_path / f"{name}.parquet")
        out[name + "_csv"] = str(tmp_path / f"{name}.csv")
    out["dir"] = str(tmp_path)
    return out


def test_no_drift_exits_0_and_writes_html_and_json(files) -> None:
    html, js = Path(files["dir"]) / "r.html", Path(files["dir"]) / "r.json"
    res = runner.invoke(
        app, ["drift", files["ref"], files["same"], "-o", str(html), "--json", str(js)]
    )
    assert res.exit_code == 0, res.output
    assert "No dataset drift" in res.output
    data = json.loads(js.read_text())
    assert data["dataset_drift"] is False and set(data["columns"]) == {"age", "income", "plan"}
    assert html.read_text().startswith("<!DOCTYPE html>")


def test_drift_exits_1(files) -> None:
    res = runner.invoke(app, ["drift", files["ref"], files["shifted"]])
    assert res.exit_code == 1, res.output
    assert "Dataset drift" in res.output


def test_columns_tests_thresholds_and_share_from_csv(files) -> None:
    res = runner.invoke(
        app,
        [
            "drift", files["ref_csv"], files["shifted_csv"], "--columns", "age,income",
            "--test", "income=psi", "--threshold", "income=0.2", "--drift-share", "0.5",
            "--json", "-",
        ],
    )  # fmt: skip
    assert res.exit_code == 1
    data = json.loads(res.stdout)
    assert set(data["columns"]) == {"age", "income"}
    assert data["columns"]["income"]["test"] == "psi"
    assert data["columns"]["income"]["threshold"] == 0.2


def test_profile_then_drift_against_it(files) -> None:
    prof = str(Path(files["dir"]) / "reference.profile")
    res = runner.invoke(app, ["profile", files["ref"], "-o", prof])
    assert res.exit_code == 0, res.output
    assert "3,000 rows" in res.output
    res = runner.invoke(app, ["drift", prof, files["shifted"], "--json", "-"])
    assert res.exit_code == 1
    assert json.loads(res.stdout)["reference_is_profile"] is True


def test_column_type_override_and_expectations(files) -> None:
    suite = Path(files["dir"]) / "suite.yaml"
    suite.write_text("expectations:\n  age: {between: [0, 120]}\n")
    res = runner.invoke(
        app,
        [
            "drift", files["ref"], files["same"], "--column-type", "age=categorical",
            "--expectations", str(suite), "--json", "-",
        ],
    )  # fmt: skip
    data = json.loads(res.stdout)
    assert data["columns"]["age"]["type"] == "categorical"
    assert data["expectations"]["passed"] is True


@pytest.mark.parametrize(
    "args",
    [
        ["drift", "missing.parquet", "missing.parquet"],
        ["drift", "REF", "SAME", "--test", "income=bogus"],
        ["drift", "REF", "SAME", "--test", "income"],
        ["drift", "REF", "SAME", "--column-type", "age=vector"],
        ["drift", "REF", "SAME", "--columns", "nope"],
        ["drift", "REF", "SAME", "--drift-share", "2"],
        ["drift", "REF", "notes.txt"],
        ["profile", "missing.parquet"],
    ],
)
def test_bad_input_exits_2_with_one_error_line(files, args) -> None:
    args = [files["ref"] if a == "REF" else files["same"] if a == "SAME" else a for a in args]
    res = runner.invoke(app, args)
    assert res.exit_code == 2, res.output
    errors = [line for line in res.output.splitlines() if line.startswith("Error")]
    assert len(errors) == 1


def test_nothing_testable_exits_2(files, tmp_path) -> None:
    pd.DataFrame({"age": pd.Series([], dtype="int64")}).to_parquet(tmp_path / "empty.parquet")
    res = runner.invoke(app, ["drift", files["ref"], str(tmp_path / "empty.parquet")])
    assert res.exit_code == 2
    assert "no column could be tested" in res.output
