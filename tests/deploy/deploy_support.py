"""Shared by the deployment tests: a model folder to deploy, a Dockerfile parser, and the
`slipway serve` command line parsed by the real command."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

# https://docs.docker.com/reference/dockerfile/ (MAINTAINER is deprecated, still known)
DOCKER_INSTRUCTIONS = {
    "ADD", "ARG", "CMD", "COPY", "ENTRYPOINT", "ENV", "EXPOSE", "FROM", "HEALTHCHECK",
    "LABEL", "MAINTAINER", "ONBUILD", "RUN", "SHELL", "STOPSIGNAL", "USER", "VOLUME", "WORKDIR",
}  # fmt: skip


def parse_dockerfile(text: str) -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) pairs: comments dropped, continuation lines joined."""
    out: list[tuple[str, str]] = []
    pending = ""
    for line in text.splitlines():
        stripped = line.strip()
        if not pending and (not stripped or stripped.startswith("#")):
            continue
        if stripped.endswith("\\"):
            pending += stripped[:-1].strip() + " "
            continue
        whole = pending + stripped
        pending = ""
        keyword, _, rest = whole.partition(" ")
        out.append((keyword, rest.strip()))
    assert not pending, "the Dockerfile ends in a continuation line"
    return out


def exec_form(arguments: str) -> list[str]:
    """The JSON array of an exec-form CMD/ENTRYPOINT (fails on shell form)."""
    value = json.loads(arguments)
    assert isinstance(value, list) and all(isinstance(v, str) for v in value)
    return value


def parse_serve_args(args: list[str]) -> dict[str, Any]:
    """Parse `slipway serve ARGS` with the real command (unknown options fail here)."""
    import typer.main

    from slipway.cli.main import app

    command = typer.main.get_command(app).commands["serve"]  # type: ignore[attr-defined]
    with command.make_context("serve", list(args)) as ctx:
        return dict(ctx.params)


PINS = ["numpy==1.26.4", "pandas==2.2.3", "scikit-learn==1.5.2", "skops==0.10.0"]


@dataclass
class Registered:
    tracking_uri: str
    folder: Path  # the model folder as saved (before logging)


def save_model_folder(folder: Path, *, python: str = "3.12.3") -> Path:
    from slipway.models.environment import write_environment

    folder.mkdir(parents=True)
    mlmodel = {
        "flavors": {
            "python_function": {
                "loader_module": "mlflow.sklearn",
                "model_path": "model.skops",
                "python_version": python,
                "env": {"conda": "conda.yaml", "virtualenv": "python_env.yaml"},
            }
        },
        "model_uuid": "0" * 32,
    }
    (folder / "MLmodel").write_text(yaml.safe_dump(mlmodel))
    (folder / "model.skops").write_bytes(b"not loaded by these tests")
    write_environment(folder, PINS)
    env = yaml.safe_load((folder / "python_env.yaml").read_text())
    env["python"] = python
    (folder / "python_env.yaml").write_text(yaml.safe_dump(env))
    return folder


__all__ = [
    "DOCKER_INSTRUCTIONS",
    "PINS",
    "Registered",
    "exec_form",
    "parse_dockerfile",
    "parse_serve_args",
    "save_model_folder",
]
