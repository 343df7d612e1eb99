"""`slipway deploy docker`: the build folder, its Dockerfile parsed instruction by instruction.

No Docker daemon or image registry is reachable here, so the image is not built: the
tests parse the Dockerfile (known instructions, FROM first, a non-root USER, a
HEALTHCHECK on /health, an exec-form CMD that the real `slipway serve` parser accepts)
and check the requirements file lists the model's pins.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml
from deploy_support import (
    DOCKER_INSTRUCTIONS,
    PINS,
    Registered,
    exec_form,
    parse_dockerfile,
    parse_serve_args,
    save_model_folder,
)
from typer.testing import CliRunner

from slipway._version import __version__
from slipway.cli.main import app
from slipway.deploy import model_requirements, write_docker_build
from slipway.errors import InvalidParameterValue

runner = CliRunner()


def instructions_of(folder: Path) -> list[tuple[str, str]]:
    parsed = parse_dockerfile((folder / "Dockerfile").read_text())
    unknown = [keyword for keyword, _ in parsed if keyword not in DOCKER_INSTRUCTIONS]
    assert not unknown, f"not Dockerfile instructions: {unknown}"
    assert parsed[0][0] == "FROM", "FROM must come first"
    return parsed


def only(parsed: list[tuple[str, str]], keyword: str) -> str:
    found = [rest for k, rest in parsed if k == keyword]
    assert len(found) == 1, f"expected one {keyword}, found {found}"
    return found[0]


def test_embedded_model_image(registered: Registered, tmp_path: Path) -> None:
    out = tmp_path / "build"
    result = write_docker_build("models:/churn@champion", out, tracking_uri=registered.tracking_uri)
    assert result.files == ["Dockerfile", ".dockerignore", "requirements.txt", "model/"]
    parsed = instructions_of(out)
    assert only(parsed, "FROM") == "python:3.12-slim"  # the model's Python
    user = only(parsed, "USER")
    assert user.split(":")[0] not in ("root", "0") and user == "10001:10001"
    assert only(parsed, "EXPOSE") == "8000"
    health = only(parsed, "HEALTHCHECK")
    assert health.startswith("--interval=") and " CMD [" in health
    probe = exec_form(health.split(" CMD ", 1)[1])
    assert probe[:2] == ["python", "-c"] and "http://127.0.0.1:8000/health" in probe[2]
    compile(probe[2], "healthcheck", "exec")
    cmd = exec_form(only(parsed, "CMD"))
    assert cmd[:3] == ["slipway", "serve", "/opt/slipway/model"]
    params = parse_serve_args(cmd[2:])
    assert params["model_uris"] == ["/opt/slipway/model"] and params["name"] == "churn"
    assert (params["host"], params["port"]) == ("0.0.0.0", 8000)
    assert ("COPY", "model/ /opt/slipway/model/") in parsed
    # the requirements are installed before the model is copied (a new model reuses the layer)
    keywords = [k for k, _ in parsed]
    assert keywords.index("RUN", keywords.index("COPY")) < len(keywords)
    assert "SLIPWAY_HOME=/home/slipway/slipway-data" in only(parsed, "ENV")
    text = (out / "Dockerfile").read_text()
    assert "models:/churn@champion (churn version 1)" in text

    requirements = (out / "requirements.txt").read_text().splitlines()
    assert [r for r in requirements if not r.startswith("#")] == [
        *PINS,
        f"slipway[serve]=={__version__}",
    ]
    assert (out / "model" / "MLmodel").is_file()
    assert (out / "model" / "requirements.txt").read_text().split() == PINS
    ignore = (out / ".dockerignore").read_text().splitlines()
    assert ignore[1:5] == ["*", "!requirements.txt", "!model", "!model/**"]

    # stable output: a second run writes the same bytes, replacing the model copy
    before = {p.name: p.read_bytes() for p in out.iterdir() if p.is_file()}
    write_docker_build("models:/churn@champion", out, tracking_uri=registered.tracking_uri)
    assert {p.name: p.read_bytes() for p in out.iterdir() if p.is_file()} == before


def test_fetch_mode_writes_the_registry_uri_but_never_a_password(
    registered: Registered, tmp_path: Path
) -> None:
    from slipway.tracking.client import Client

    client = Client(registered.tracking_uri)
    try:
        result = write_docker_build(
            "models:/churn@champion",
            tmp_path / "fetch",
            embed=False,
            tracking_uri="https://registry.example:5000",
            client=client,
            base_image="python:3.11-slim",
            slipway_spec="slipway[serve] @ https://example.org/slipway-0.1.0-py3-none-any.whl",
        )
        secret = write_docker_build(
            "models:/churn/1",
            tmp_path / "secret",
            embed=False,
            tracking_uri="postgresql://ml:hunter2@db.example/slipway",
            client=client,
        )
    finally:
        client.close()
    assert result.files == ["Dockerfile", ".dockerignore", "requirements.txt"]
    parsed = instructions_of(tmp_path / "fetch")
    assert only(parsed, "FROM") == "python:3.11-slim"
    assert "SLIPWAY_TRACKING_URI=https://registry.example:5000" in only(parsed, "ENV")
    assert not any(k == "COPY" and "model" in rest for k, rest in parsed)
    cmd = exec_form(only(parsed, "CMD"))
    assert parse_serve_args(cmd[2:])["model_uris"] == ["models:/churn@champion"]
    assert not (tmp_path / "fetch" / "model").exists()
    assert (
        (tmp_path / "fetch" / "requirements.txt")
        .read_text()
        .splitlines()[-1]
        .startswith("slipway[serve] @ https://")
    )
    text = (tmp_path / "secret" / "Dockerfile").read_text()
    assert "hunter2" not in text and "SLIPWAY_TRACKING_URI=" not in text
    assert any("password" in note for note in secret.notes)
    assert secret.image == "slipway-churn:1"


def test_requirements_from_conda_and_old_python(tmp_path: Path) -> None:
    folder = save_model_folder(tmp_path / "m", python="3.9.18")
    (folder / "requirements.txt").unlink()
    conda = {"dependencies": ["python=3.9.18", "pip<=24.0", "libgomp", {"pip": ["xgboost==2.0.3"]}]}
    (folder / "conda.yaml").write_text(yaml.safe_dump(conda))
    reqs = model_requirements(folder)
    assert reqs.lines == ["xgboost==2.0.3"] and reqs.source == "conda.yaml"
    assert any("libgomp" in n for n in reqs.notes)
    result = write_docker_build(str(folder), tmp_path / "b", name="xgb")
    parsed = instructions_of(tmp_path / "b")
    assert only(parsed, "FROM") == "python:3.11-slim"  # slipway needs 3.11 or newer
    assert any("3.9.18" in n for n in result.notes)
    assert parse_serve_args(exec_form(only(parsed, "CMD"))[2:])["name"] == "xgb"


def test_refuses_to_replace_a_folder_it_did_not_write(tmp_path: Path) -> None:
    folder = save_model_folder(tmp_path / "churn")
    (tmp_path / "out" / "model").mkdir(parents=True)
    (tmp_path / "out" / "model" / "notes.txt").write_text("mine")
    with pytest.raises(InvalidParameterValue, match="not a model folder"):
        write_docker_build(str(folder), tmp_path / "out")
    assert (tmp_path / "out" / "model" / "notes.txt").read_text() == "mine"


def test_cli(registered: Registered, tmp_path: Path) -> None:
    out = tmp_path / "cli-build"
    result = runner.invoke(
        app,
        ["deploy", "docker", "models:/churn@champion", "-o", str(out), "--port", "9000",
         "--tracking-uri", registered.tracking_uri, "--json"],
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert data["image"] == "slipway-churn:latest"
    assert data["next_step"] == f"docker build -t slipway-churn:latest {out}"
    parsed = instructions_of(out)
    assert only(parsed, "EXPOSE") == "9000"
    assert parse_serve_args(exec_form(only(parsed, "CMD"))[2:])["port"] == 9000
    missing = runner.invoke(
        app,
        ["deploy", "docker", "models:/nope@champion", "-o", str(tmp_path / "x"),
         "--tracking-uri", registered.tracking_uri],
    )  # fmt: skip
    assert missing.exit_code == 1 and "RESOURCE_DOES_NOT_EXIST" in missing.output
