"""`slipway deploy docker`: a build folder for an image that runs `slipway serve` on a model.

    write_docker_build("models:/churn@champion", "build/")
    # build/Dockerfile, build/.dockerignore, build/requirements.txt, build/model/
    # then: docker build -t slipway-churn:latest build/

The image: a slim Python base (the model's Python minor version when it says one, 3.11 at
least), the model's pinned requirements (its `requirements.txt`, else the pip section of
its `conda.yaml`) and `slipway[serve]` installed in one pip resolve, a non-root user
(uid 10001), `EXPOSE`, a `HEALTHCHECK` on `/health` and `CMD ["slipway", "serve", …]`.

`embed=True` (default) copies the model into the image: the image serves exactly that
version. `embed=False` leaves it out: the container fetches the model URI from the
registry at start (`SLIPWAY_TRACKING_URI`) and follows an alias as it moves; the model is
still downloaded here once, to read the requirements it pins.

The files are the same for the same inputs (no timestamps), so they diff well.
"""

from __future__ import annotations

import json
import shutil
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from slipway._version import __version__
from slipway.deploy.container import (
    APP_DIR,
    HOME_DIR,
    MODEL_DIR,
    USER_ID,
    USER_NAME,
    ServeCommand,
    base_env,
    default_image,
    served_name,
    tracking_env,
)
from slipway.deploy.files import DeployFiles
from slipway.entities import ModelUri
from slipway.errors import InvalidParameterValue
from slipway.models.environment import CONDA_ENV_FILE, PYTHON_ENV_FILE, REQUIREMENTS_FILE
from slipway.models.format import MLMODEL_FILE_NAME

MIN_PYTHON = (3, 11)  # what slipway itself needs
DEFAULT_BASE_IMAGE = "python:3.11-slim"
DOCKERFILE = "Dockerfile"
DOCKERIGNORE = ".dockerignore"
MODEL_FOLDER = "model"


@dataclass(frozen=True)
class ModelRequirements:
    """The pip requirement lines a model pins, where they came from, and its Python."""

    lines: list[str]
    source: str | None  # "requirements.txt", "conda.yaml" or None
    python_version: str | None  # e.g. "3.11.7", from python_env.yaml or conda.yaml
    notes: list[str] = field(default_factory=list)


def model_requirements(model_dir: str | Path) -> ModelRequirements:
    """Read what a model folder pins: `requirements.txt`, else the pip list of `conda.yaml`."""
    folder = Path(model_dir)
    notes: list[str] = []
    python = _python_version(folder)
    req = folder / REQUIREMENTS_FILE
    if req.is_file():
        lines = []
        for raw in req.read_text(encoding="utf-8").splitlines():
            line = raw.split(" #", 1)[0].strip()
            if not line or line.startswith("#"):
                continue
            if line.startswith(("-r ", "-c ", "--requirement", "--constraint")):
                notes.append(
                    f"Left out {line!r} of the model's {REQUIREMENTS_FILE}: it names another file."
                )
                continue
            lines.append(line)
        return ModelRequirements(lines, REQUIREMENTS_FILE, python, notes)
    conda = folder / CONDA_ENV_FILE
    if conda.is_file():
        spec = yaml.safe_load(conda.read_text(encoding="utf-8")) or {}
        pip_lines: list[str] = []
        skipped: list[str] = []
        for dep in spec.get("dependencies") or []:
            if isinstance(dep, dict):
                pip_lines += [str(p) for p in dep.get("pip") or []]
            elif not str(dep).startswith(("python", "pip")):
                skipped.append(str(dep))
        if skipped:
            notes.append(
                f"The model's {CONDA_ENV_FILE} lists conda packages a pip image cannot "
                f"install: {', '.join(skipped)}."
            )
        return ModelRequirements(pip_lines, CONDA_ENV_FILE, python, notes)
    notes.append(
        f"The model has no {REQUIREMENTS_FILE} or {CONDA_ENV_FILE}: only slipway[serve] is "
        "installed, so the packages its flavor needs may be missing."
    )
    return ModelRequirements([], None, python, notes)


def base_image_for(python_version: str | None) -> tuple[str, list[str]]:
    """`python:<major.minor>-slim` for the model's Python (3.11 at least), and any note."""
    if not python_version:
        return DEFAULT_BASE_IMAGE, []
    try:
        major, minor = (int(p) for p in python_version.split(".")[:2])
    except ValueError:
        return DEFAULT_BASE_IMAGE, [f"Unreadable Python version {python_version!r}."]
    if (major, minor) < MIN_PYTHON:
        return DEFAULT_BASE_IMAGE, [
            f"The model was saved with Python {python_version}; slipway needs 3.11 or "
            f"newer, so the image uses {DEFAULT_BASE_IMAGE}."
        ]
    return f"python:{major}.{minor}-slim", []


def slipway_requirement() -> str:
    """The pip line that installs this slipway, with the server's extras."""
    return f"slipway[serve]=={__version__}"


def dockerfile_text(
    command: ServeCommand,
    *,
    base_image: str,
    env: dict[str, str],
    model_uri: str,
    described: str | None = None,
    image: str | None = None,
) -> str:
    """The Dockerfile for `command` (the model in `model/` when `command.embed`)."""
    healthcheck = (
        "import urllib.request; "
        f"urllib.request.urlopen('http://127.0.0.1:{command.port}/health', timeout=4)"
    )
    how = (
        "The model is copied into the image: it serves exactly this version."
        if command.embed
        else "The model is fetched from the registry when the container starts "
        "(SLIPWAY_TRACKING_URI); an alias is followed as it moves."
    )
    environment = {
        "PYTHONDONTWRITEBYTECODE": "1",
        "PYTHONUNBUFFERED": "1",
        "PIP_NO_CACHE_DIR": "1",
        "PIP_DISABLE_PIP_VERSION_CHECK": "1",
        "PIP_ROOT_USER_ACTION": "ignore",
        "HOME": HOME_DIR,
        **base_env(),
        **env,
    }
    lines = [
        "# syntax=docker/dockerfile:1",
        f"# Generated by `slipway deploy docker` (slipway {__version__}) for {model_uri}"
        + (f" ({described})." if described else "."),
        f"# {how}",
        f"# Build: docker build -t {image or 'IMAGE'} .",
        f"FROM {base_image}",
        "",
        "ENV " + " \\\n    ".join(f"{k}={_env_value(v)}" for k, v in environment.items()),
        "",
        f"RUN groupadd --system --gid {USER_ID} {USER_NAME} \\",
        f"    && useradd --system --uid {USER_ID} --gid {USER_ID} --home-dir {HOME_DIR} "
        f"--create-home --shell /usr/sbin/nologin {USER_NAME}",
        "",
        "# The model's pinned requirements and slipway's server, resolved together.",
        f"COPY requirements.txt {APP_DIR}/requirements.txt",
        f"RUN pip install --no-cache-dir -r {APP_DIR}/requirements.txt",
        "",
    ]
    if command.embed:
        lines += [f"COPY {MODEL_FOLDER}/ {MODEL_DIR}/", ""]
    lines += [
        f"USER {USER_ID}:{USER_ID}",
        f"WORKDIR {HOME_DIR}",
        f"EXPOSE {command.port}",
        "HEALTHCHECK --interval=30s --timeout=5s --start-period=60s --retries=3 \\",
        f"    CMD {json.dumps(['python', '-c', healthcheck])}",
        f"CMD {json.dumps(command.argv())}",
    ]
    return "\n".join(lines) + "\n"


def dockerignore_text(embed: bool) -> str:
    """Send only what the Dockerfile copies to the build (not a stray venv or dataset)."""
    lines = ["# Only what the Dockerfile copies goes into the build context.", "*"]
    lines.append(f"!{REQUIREMENTS_FILE}")
    if embed:
        lines += [f"!{MODEL_FOLDER}", f"!{MODEL_FOLDER}/**"]
    lines += ["**/__pycache__", "**/*.pyc"]
    return "\n".join(lines) + "\n"


def write_docker_build(
    model_uri: str,
    output_dir: str | Path,
    *,
    tracking_uri: str | None = None,
    embed: bool = True,
    port: int = 8000,
    base_image: str | None = None,
    name: str | None = None,
    slipway_spec: str | None = None,
    client: Any = None,
) -> DeployFiles:
    """Write the Docker build folder for `model_uri` into `output_dir`.

    `base_image` defaults to `python:<the model's minor version>-slim`; `slipway_spec`
    replaces the `slipway[serve]==<this version>` line (a wheel URL, a git URL, …).
    Downloads the model with `client` (a `Client`; default `Client(tracking_uri)`).
    """
    out = Path(output_dir)
    if out.exists() and not out.is_dir():
        raise InvalidParameterValue(f"{out} exists and is not a folder.")
    served = served_name(model_uri, name)
    command = ServeCommand(model_uri, served, embed=embed, port=port)
    image = default_image(model_uri, served)
    own_client = client is None
    if client is None:
        from slipway.tracking.client import Client

        client = Client(tracking_uri)
    try:
        described = _describe(client, model_uri)
        with tempfile.TemporaryDirectory(prefix="slipway-deploy-") as staging:
            model_dir = Path(client.download_model(model_uri, staging))
            if not (model_dir / MLMODEL_FILE_NAME).is_file():
                raise InvalidParameterValue(
                    f"{model_uri} is not a model folder (no {MLMODEL_FILE_NAME} file in it)."
                )
            requirements = model_requirements(model_dir)
            out.mkdir(parents=True, exist_ok=True)
            if embed:
                _replace_model_folder(out / MODEL_FOLDER, model_dir)
    finally:
        if own_client:
            client.close()
    if not embed and (out / MODEL_FOLDER / MLMODEL_FILE_NAME).is_file():
        shutil.rmtree(out / MODEL_FOLDER)  # an earlier --embed build's copy

    env, notes = tracking_env(tracking_uri, needed=not embed)
    notes = [*requirements.notes, *notes]
    if base_image is None:
        base_image, base_notes = base_image_for(requirements.python_version)
        notes += base_notes
    source = requirements.source or "no file"
    req_lines = [
        f"# The model's pinned requirements (from its {source}).",
        *requirements.lines,
        "# slipway's inference server.",
        slipway_spec or slipway_requirement(),
    ]
    if slipway_spec is None:
        notes.append(
            f"The image installs {slipway_requirement()} from the package index; if that "
            "release is not published there, pass --slipway-spec (a wheel or git URL)."
        )
    (out / REQUIREMENTS_FILE).write_text("\n".join(req_lines) + "\n", encoding="utf-8")
    (out / DOCKERFILE).write_text(
        dockerfile_text(
            command,
            base_image=base_image,
            env=env,
            model_uri=model_uri,
            described=described,
            image=image,
        ),
        encoding="utf-8",
    )
    (out / DOCKERIGNORE).write_text(dockerignore_text(embed), encoding="utf-8")
    files = [DOCKERFILE, DOCKERIGNORE, REQUIREMENTS_FILE] + ([f"{MODEL_FOLDER}/"] if embed else [])
    return DeployFiles(
        directory=str(out),
        files=files,
        notes=notes,
        image=image,
        next_step=f"docker build -t {image} {out}",
    )


def _describe(client: Any, model_uri: str) -> str | None:
    """ "churn version 3" for a registry URI (the version an alias points at now)."""
    if not model_uri.startswith("models:/"):
        return None
    from slipway.registry.uri import resolve_model_version

    parsed = ModelUri.parse(model_uri)
    if parsed.name is None:
        return None
    version = resolve_model_version(client.registry_store, parsed)
    return f"{version.name} version {version.version}"


def _replace_model_folder(target: Path, model_dir: Path) -> None:
    """Copy the model to `target`, replacing an earlier copy (never some other folder)."""
    if target.exists():
        if not (target / MLMODEL_FILE_NAME).is_file():
            raise InvalidParameterValue(
                f"{target} exists and is not a model folder written by slipway deploy; "
                "choose another output folder."
            )
        shutil.rmtree(target)
    shutil.copytree(model_dir, target)


def _python_version(folder: Path) -> str | None:
    env_file = folder / PYTHON_ENV_FILE
    if env_file.is_file():
        spec = yaml.safe_load(env_file.read_text(encoding="utf-8")) or {}
        if spec.get("python"):
            return str(spec["python"])
    conda = folder / CONDA_ENV_FILE
    if conda.is_file():
        spec = yaml.safe_load(conda.read_text(encoding="utf-8")) or {}
        for dep in spec.get("dependencies") or []:
            text = str(dep)
            if text.startswith("python=") or text.startswith("python=="):
                return text.split("=")[-1]
    return None


def _env_value(value: str) -> str:
    """A Dockerfile ENV value, quoted when it holds spaces or quotes."""
    if value and all(c.isalnum() or c in "-_./:@+=,%~" for c in value):
        return value
    return json.dumps(value)


__all__ = [
    "DEFAULT_BASE_IMAGE",
    "DOCKERFILE",
    "DOCKERIGNORE",
    "ModelRequirements",
    "base_image_for",
    "dockerfile_text",
    "dockerignore_text",
    "model_requirements",
    "slipway_requirement",
    "write_docker_build",
]
