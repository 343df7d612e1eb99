"""Batch scoring (`slipway predict` / `predict_file`) of real files with a registered model."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

import slipway
from slipway import config
from slipway.cli.main import app
from slipway.errors import InvalidParameterValue, ResourceDoesNotExist, SchemaEnforcementError
from slipway.serving.batch import predict_file

FEATURES = ["a", "b", "n"]
ROWS = 1000
CHUNK = 300  # four chunks, the last one short

runner = CliRunner()


def make_data(rows: int, seed: int) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    return pd.DataFrame(
        {
            "id": [f"c-{i:05d}" for i in range(rows)],  # passed through, not a model input
            "a": rng.normal(size=rows).round(4),
            "b": rng.normal(size=rows).round(4),
            "n": rng.integers(0, 5, size=rows),
        }
    )


@pytest.fixture(scope="module")
def registry(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Path]]:
    """A SQLite registry with classifier `m`: v1 (skops, @champion) and v2 (pickle)."""
    from sklearn.linear_model import LogisticRegression

    root = tmp_path_factory.mktemp("batch-registry")
    uri = f"sqlite:///{root / 'db.sqlite'}"
    train = make_data(400, seed=1)
    X = train[FEATURES]
    y = (X["a"] + X["b"] * X["n"] > 0).astype(int)
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("SLIPWAY_ARTIFACT_ROOT", str(root / "artifacts"))
        slipway.set_tracking_uri(uri)
        try:
            model = LogisticRegression().fit(X, y)
            with slipway.start_run():
                slipway.sklearn.log_model(
                    model, name="model", input_example=X.head(3), registered_model_name="m"
                )
            # Version 2 is the same model pickled: loading a skops file imports skops, which
            # imports torch when it is installed (seconds per worker process); the
            # multi-process tests use this version to stay fast.
            with slipway.start_run():
                slipway.sklearn.log_model(
                    model,
                    name="model",
                    input_example=X.head(3),
                    registered_model_name="m",
                    serialization_format="pickle",
                )
            slipway.Client(uri).set_registered_model_alias("m", "champion", 1)
        finally:
            config.set_tracking_uri(None)
    yield uri, root


@pytest.fixture(scope="module")
def inputs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("batch-inputs")
    data = make_data(ROWS, seed=2)
    paths = {"parquet": root / "rows.parquet", "csv": root / "rows.csv"}
    data.to_parquet(paths["parquet"], row_group_size=170)  # row groups ≠ chunks
    data.to_csv(paths["csv"], index=False)
    return paths


def expected(
    registry: tuple[str, Path], source: Path, model_uri: str
) -> tuple[np.ndarray, np.ndarray]:
    """Predictions and probabilities of the model called directly on the whole file."""
    uri, _ = registry
    slipway.set_tracking_uri(uri)
    try:
        model = slipway.pyfunc.load_model(model_uri, allow_pickle=model_uri.endswith("/2"))
    finally:
        config.set_tracking_uri(None)
    X = read(source)[FEATURES]
    return model.predict(X), model.get_raw_model().predict_proba(X)


def read(path: Path) -> pd.DataFrame:
    return pd.read_csv(path) if path.suffix == ".csv" else pd.read_parquet(path)


def check_output(out: Path, source: Path, registry: tuple[str, Path], model_uri: str) -> None:
    result = read(out)
    predictions, proba = expected(registry, source, model_uri)
    assert list(result.columns) == [
        "id",
        *FEATURES,
        "prediction",
        "probability.0",
        "probability.1",
    ]
    assert result["id"].tolist() == [f"c-{i:05d}" for i in range(ROWS)]  # order kept
    np.testing.assert_array_equal(result["prediction"].to_numpy(), predictions)
    np.testing.assert_allclose(
        result[["probability.0", "probability.1"]].to_numpy(), proba, rtol=1e-12
    )


@pytest.mark.parametrize(("source", "target"), [("parquet", "parquet"), ("csv", "parquet")])
def test_one_process_matches_a_direct_predict(
    registry: tuple[str, Path], inputs: dict[str, Path], tmp_path: Path, source: str, target: str
) -> None:
    uri, _ = registry
    out = tmp_path / f"scored.{target}"
    seen: list[tuple[int, int | None]] = []
    result = predict_file(
        "models:/m@champion",
        inputs[source],
        out,
        chunk_rows=CHUNK,
        workers=1,
        with_proba=True,
        progress=lambda done, total: seen.append((done, total)),
        tracking_uri=uri,
    )
    assert (result.rows, result.chunks) == (ROWS, 4)
    total = ROWS if source == "parquet" else None
    assert seen == [(300, total), (600, total), (900, total), (1000, total)]
    check_output(out, inputs[source], registry, "models:/m@champion")


@pytest.mark.parametrize(("source", "target"), [("parquet", "csv"), ("csv", "csv")])
def test_two_workers_through_the_cli_give_the_same_output(
    registry: tuple[str, Path], inputs: dict[str, Path], tmp_path: Path, source: str, target: str
) -> None:
    uri, _ = registry
    out = tmp_path / f"scored.{target}"
    result = runner.invoke(
        app,
        [
            "predict",
            "models:/m/2",
            "--allow-pickle",
            "--input",
            str(inputs[source]),
            "--output",
            str(out),
            "--tracking-uri",
            uri,
            "--chunk-rows",
            str(CHUNK),
            "--workers",
            "2",
            "--with-proba",
        ],
    )
    assert result.exit_code == 0, result.output
    assert f"Scored {ROWS:,} rows in 4 chunk(s) with 2 worker(s)" in result.stdout
    check_output(out, inputs[source], registry, "models:/m/2")


def test_without_probabilities_only_a_prediction_column(
    registry: tuple[str, Path], inputs: dict[str, Path], tmp_path: Path
) -> None:
    uri, _ = registry
    out = tmp_path / "plain.parquet"
    predict_file("models:/m/1", inputs["parquet"], out, tracking_uri=uri)
    assert list(read(out).columns) == ["id", *FEATURES, "prediction"]


def test_bad_input_is_a_typed_error_and_leaves_no_output(
    registry: tuple[str, Path], inputs: dict[str, Path], tmp_path: Path
) -> None:
    uri, _ = registry
    out = tmp_path / "out.parquet"
    with pytest.raises(ResourceDoesNotExist, match="does not exist"):
        predict_file("models:/m@champion", tmp_path / "missing.csv", out, tracking_uri=uri)
    with pytest.raises(InvalidParameterValue, match=r"use \.parquet, \.pq, \.csv"):
        predict_file("models:/m@champion", inputs["csv"], tmp_path / "out.json", tracking_uri=uri)

    no_columns = tmp_path / "partial.csv"
    make_data(10, seed=3).drop(columns=["a", "n"]).to_csv(no_columns, index=False)
    with pytest.raises(SchemaEnforcementError) as err:
        predict_file("models:/m@champion", no_columns, out, tracking_uri=uri)
    assert "missing required column 'a'" in err.value.message
    assert "missing required column 'n'" in err.value.message

    not_numbers = tmp_path / "text.csv"
    bad = make_data(10, seed=3).astype({"b": object})
    bad.loc[7, "b"] = "seven"
    bad.to_csv(not_numbers, index=False)
    with pytest.raises(InvalidParameterValue, match="Cannot read"):
        predict_file("models:/m@champion", not_numbers, out, tracking_uri=uri)

    clash = tmp_path / "clash.parquet"
    make_data(10, seed=3).assign(prediction=1).to_parquet(clash)
    with pytest.raises(
        InvalidParameterValue, match=r"already has the column\(s\) \['prediction'\]"
    ):
        predict_file("models:/m@champion", clash, out, tracking_uri=uri)

    not_parquet = tmp_path / "fake.parquet"
    not_parquet.write_text("a,b\n1,2\n")
    with pytest.raises(InvalidParameterValue, match="as PARQUET"):
        predict_file("models:/m@champion", not_parquet, out, tracking_uri=uri)
    assert not out.exists() and not list(tmp_path.glob(".*partial"))

    cli = runner.invoke(
        app,
        [
            "predict",
            "models:/m@champion",
            "-i",
            str(no_columns),
            "-o",
            str(out),
            "--tracking-uri",
            uri,
        ],
    )
    assert cli.exit_code == 1
    lines = cli.stderr.strip().splitlines()
    assert lines[0].startswith("Error (SCHEMA_ENFORCEMENT_FAILED)")
    assert cli.stdout == ""


def test_probabilities_need_a_classifier(inputs: dict[str, Path], tmp_path: Path) -> None:
    from sklearn.linear_model import LinearRegression

    data = make_data(50, seed=4)
    local = tmp_path / "regressor"
    slipway.sklearn.save_model(
        LinearRegression().fit(data[FEATURES], data["a"] * 2),
        str(local),
        input_example=data[FEATURES].head(2),
    )
    out = tmp_path / "scored.csv"
    with pytest.raises(InvalidParameterValue, match="need a classifier with predict_proba"):
        predict_file(str(local), inputs["csv"], out, with_proba=True)
    predict_file(str(local), inputs["csv"], out)  # a local model folder, no registry
    assert read(out)["prediction"].notna().all()
