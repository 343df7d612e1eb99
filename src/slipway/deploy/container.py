"""How a container runs `slipway serve`: the command line, its user, its paths and names.

The Dockerfile, the Kubernetes Deployment and the KServe InferenceService all start the
same process, so they all read it from here:

    ServeCommand("models:/churn@champion", "churn").argv()
    → ["slipway", "serve", "/opt/slipway/model", "--name", "churn", "--host", "0.0.0.0",
       "--port", "8000"]

With `embed=True` the model is inside the image at `MODEL_DIR` (the image serves exactly
that version); with `embed=False` the container fetches the model URI from the registry
when it starts (and follows an alias as it moves), which needs `SLIPWAY_TRACKING_URI`.
"""

from __future__ import annotations

import math
import posixpath
import re
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from slipway.config import HOME_ENV, TRACKING_URI_ENV
from slipway.entities import ModelUri
from slipway.errors import InvalidParameterValue
from slipway.models.resolve import local_path_from_uri
from slipway.serving.config import DEFAULT_DRAIN_SECONDS, DEFAULT_REQUEST_TIMEOUT_S

APP_DIR = "/opt/slipway"
MODEL_DIR = f"{APP_DIR}/model"
USER_NAME = "slipway"
USER_ID = 10001  # numeric, so Kubernetes' runAsNonRoot can check it
HOME_DIR = "/home/slipway"
DATA_DIR = f"{HOME_DIR}/slipway-data"  # SLIPWAY_HOME: the prediction log when local
DEFAULT_PORT = 8000
# uvicorn waits this long past the request timeout for requests in flight (serving.app)
_GRACEFUL_SHUTDOWN_EXTRA_S = 5
_GRACE_MARGIN_S = 5
# tracking URIs a container can reach (a path or sqlite:/// is this machine's only)
_REMOTE_SCHEMES = ("http", "https", "postgresql", "postgres")


@dataclass(frozen=True)
class ServeCommand:
    """The `slipway serve` process of a container."""

    model_uri: str
    name: str
    embed: bool = True
    port: int = DEFAULT_PORT
    workers: int = 1
    drain_seconds: float = DEFAULT_DRAIN_SECONDS
    request_timeout_s: float = DEFAULT_REQUEST_TIMEOUT_S

    def __post_init__(self) -> None:
        problems = []
        if not 1 <= self.port <= 65535:
            problems.append(f"port must be between 1 and 65535, got {self.port}")
        if self.workers < 1:
            problems.append(f"workers must be at least 1, got {self.workers}")
        if self.drain_seconds < 0:
            problems.append("drain seconds must not be negative")
        if self.request_timeout_s <= 0:
            problems.append("the request timeout must be positive")
        if problems:
            raise InvalidParameterValue("Invalid serve settings: " + "; ".join(problems) + ".")

    @property
    def model_source(self) -> str:
        """What `slipway serve` is given: the folder in the image, or the URI to fetch."""
        return MODEL_DIR if self.embed else self.model_uri

    def args(self) -> list[str]:
        """The arguments after `slipway serve` (defaults left out, so they stay readable)."""
        out = [self.model_source, "--name", self.name, "--host", "0.0.0.0"]
        out += ["--port", str(self.port)]
        if self.workers != 1:
            out += ["--workers", str(self.workers)]
        if self.drain_seconds != DEFAULT_DRAIN_SECONDS:
            out += ["--drain-seconds", f"{self.drain_seconds:g}"]
        if self.request_timeout_s != DEFAULT_REQUEST_TIMEOUT_S:
            out += ["--request-timeout", f"{self.request_timeout_s:g}"]
        return out

    def argv(self) -> list[str]:
        return ["slipway", "serve", *self.args()]

    @property
    def grace_period_s(self) -> int:
        """Seconds from SIGTERM to exit: the drain, then requests in flight, plus a margin.

        `slipway serve` answers 503 on /ready for `drain_seconds`, then uvicorn waits up
        to request timeout + 5 s for requests in flight; Kubernetes must not kill it sooner.
        """
        return (
            math.ceil(self.drain_seconds)
            + math.ceil(self.request_timeout_s)
            + _GRACEFUL_SHUTDOWN_EXTRA_S
            + _GRACE_MARGIN_S
        )


def served_name(model_uri: str, name: str | None = None) -> str:
    """The name a model is served under: `name`, the registered name, or the folder's name."""
    if name:
        return name
    if model_uri.startswith("models:/"):
        parsed = ModelUri.parse(model_uri)
        if parsed.name:
            return parsed.name
    local = local_path_from_uri(model_uri)
    path = str(local) if local is not None else urlsplit(model_uri).path
    base = posixpath.basename(path.replace("\\", "/").rstrip("/"))
    if base:
        return base
    raise InvalidParameterValue(f"Cannot tell what to call the model {model_uri!r}: give --name.")


def resource_name(name: str, *, max_length: int = 63) -> str:
    """A Kubernetes object name for `name` (an RFC 1035 label: a-z, 0-9, '-')."""
    text = re.sub(r"[^a-z0-9-]+", "-", name.lower()).strip("-")
    text = re.sub(r"-{2,}", "-", text)
    if not text or not text[0].isalpha():
        text = f"model-{text}".rstrip("-")
    return text[:max_length].rstrip("-")


def default_image(model_uri: str, name: str) -> str:
    """`slipway-<name>:<version>` for `models:/name/<version>`, else `slipway-<name>:latest`."""
    tag = "latest"
    if model_uri.startswith("models:/"):
        parsed = ModelUri.parse(model_uri)
        if parsed.version is not None:
            tag = str(parsed.version)
    return f"{resource_name(f'slipway-{name}', max_length=100)}:{tag}"


def tracking_env(tracking_uri: str | None, *, needed: bool) -> tuple[dict[str, str], list[str]]:
    """The `SLIPWAY_TRACKING_URI` a container may be given, and notes on what was left out.

    Only a URI a container can reach and that holds no password is written into a file:
    a local path means nothing inside a container, and credentials belong in a secret.
    `needed` says the container cannot start without one (the model is fetched).
    """
    env: dict[str, str] = {}
    notes: list[str] = []
    if tracking_uri:
        parts = urlsplit(tracking_uri)
        remote = parts.scheme.split("+")[0].lower() in _REMOTE_SCHEMES
        try:
            password = parts.password
        except ValueError:
            password = None
        if password:
            notes.append(
                f"The tracking URI holds a password, so it was not written into the files: "
                f"give {TRACKING_URI_ENV} to the container from a secret."
            )
        elif not remote:
            if needed:
                notes.append(
                    f"The tracking URI {tracking_uri!r} is local to this machine; the container "
                    f"needs one it can reach: give {TRACKING_URI_ENV} (http(s)://… of a slipway "
                    "server, or postgresql://…) when it runs."
                )
        else:
            env[TRACKING_URI_ENV] = tracking_uri
    elif needed:
        notes.append(
            f"No tracking URI given: the container fetches the model at start, so give it "
            f"{TRACKING_URI_ENV} (--tracking-uri, or the environment when it runs)."
        )
    return env, notes


def base_env() -> dict[str, str]:
    """Environment every slipway container gets: a writable SLIPWAY_HOME for its data."""
    return {HOME_ENV: DATA_DIR}


def k8s_env(values: dict[str, str]) -> list[dict[str, Any]]:
    """`{"A": "1"}` → `[{"name": "A", "value": "1"}]`, sorted by name."""
    return [{"name": k, "value": v} for k, v in sorted(values.items())]


__all__ = [
    "APP_DIR",
    "DATA_DIR",
    "DEFAULT_PORT",
    "HOME_DIR",
    "MODEL_DIR",
    "USER_ID",
    "USER_NAME",
    "ServeCommand",
    "base_env",
    "default_image",
    "k8s_env",
    "resource_name",
    "served_name",
    "tracking_env",
]
