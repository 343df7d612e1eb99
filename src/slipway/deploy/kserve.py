"""`slipway deploy kserve`: an InferenceService running `slipway serve` as its predictor.

    write_inference_service("models:/churn@champion", "kserve/")
    # kserve/inferenceservice.yaml; then: kubectl apply -f kserve/

A custom predictor (`spec.predictor.containers`) speaking the Open Inference Protocol v2,
the way KServe expects one:

- one container named `kserve-container`, listening on 8080;
- the port named `http1`: Knative reads the name as the protocol, and `h2c` would mean
  HTTP/2 cleartext (gRPC), which `slipway serve` (uvicorn, HTTP/1.1) does not speak;
- the environment variable `PROTOCOL=v2`: for a custom container KServe takes the
  protocol from it (`protocolVersion` is a field of `predictor.model` and the built-in
  runtimes, not of a custom container's pod spec, and a strict API server rejects it
  there);
- readiness on `/v2/health/ready` and liveness on `/v2/health/live`, on the serving
  port (Knative accepts a probe port only when it is the container's port).

Pod-level `securityContext`, `terminationGracePeriodSeconds`, volumes and the
container's `allowPrivilegeEscalation` are left out because Knative (KServe's default,
serverless mode) rejects them in some versions unless its feature flags allow them; the
container runs as uid 10001, non-root, without capabilities, which every Knative allows.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from slipway.deploy.container import (
    USER_ID,
    ServeCommand,
    base_env,
    default_image,
    k8s_env,
    resource_name,
    served_name,
    tracking_env,
)
from slipway.deploy.files import DeployFiles, write_manifests
from slipway.deploy.kubernetes import MODEL_URI_ANNOTATION, Resources, env_secret_name, labels_for
from slipway.errors import InvalidParameterValue

KSERVE_API_VERSION = "serving.kserve.io/v1beta1"
KSERVE_CONTAINER_NAME = "kserve-container"
KSERVE_PORT = 8080
KSERVE_PORT_NAME = "http1"
PROTOCOL_ENV = "PROTOCOL"
# KServe's InferenceService names become host names with suffixes; longer names fail there.
MAX_NAME_LENGTH = 45


def inference_service(
    model_uri: str,
    *,
    name: str | None = None,
    image: str | None = None,
    min_replicas: int = 1,
    max_replicas: int | None = None,
    resources: Resources | None = None,
    namespace: str | None = None,
    tracking_uri: str | None = None,
    embed: bool = True,
    workers: int = 1,
) -> tuple[dict[str, Any], list[str]]:
    """The InferenceService for `model_uri`, and notes."""
    if min_replicas < 0:
        raise InvalidParameterValue(f"min replicas must not be negative, got {min_replicas}.")
    max_replicas = max_replicas if max_replicas is not None else max(3 * min_replicas, 1)
    if max_replicas < max(min_replicas, 1):
        raise InvalidParameterValue(
            f"max replicas ({max_replicas}) must be at least min replicas ({min_replicas}) and 1."
        )
    if namespace is not None and resource_name(namespace) != namespace:
        raise InvalidParameterValue(f"{namespace!r} is not a valid namespace name.")
    served = served_name(model_uri, name)
    obj_name = resource_name(served, max_length=MAX_NAME_LENGTH)
    command = ServeCommand(model_uri, served, embed=embed, port=KSERVE_PORT, workers=workers)
    env, notes = tracking_env(tracking_uri, needed=not embed)
    if min_replicas == 0:
        notes.append(
            "min replicas 0 scales to zero: the first request after a quiet spell waits for "
            "a pod to start and load the model."
        )
    container = {
        "name": KSERVE_CONTAINER_NAME,
        "image": image or default_image(model_uri, served),
        "command": command.argv()[:2],
        "args": command.args(),
        "ports": [{"name": KSERVE_PORT_NAME, "containerPort": KSERVE_PORT, "protocol": "TCP"}],
        "env": k8s_env({PROTOCOL_ENV: "v2", **base_env(), **env}),
        "envFrom": [{"secretRef": {"name": env_secret_name(obj_name), "optional": True}}],
        "resources": (resources or Resources()).to_k8s(),
        "readinessProbe": {
            "httpGet": {"path": "/v2/health/ready", "port": KSERVE_PORT},
            "periodSeconds": 5,
        },
        "livenessProbe": {
            "httpGet": {"path": "/v2/health/live", "port": KSERVE_PORT},
            "periodSeconds": 10,
            "failureThreshold": 3,
        },
        "securityContext": {
            "runAsNonRoot": True,
            "runAsUser": USER_ID,
            "runAsGroup": USER_ID,
            "capabilities": {"drop": ["ALL"]},
        },
    }
    meta: dict[str, Any] = {"name": obj_name}
    if namespace:
        meta["namespace"] = namespace
    meta["labels"] = labels_for(obj_name)
    meta["annotations"] = {MODEL_URI_ANNOTATION: model_uri}
    service = {
        "apiVersion": KSERVE_API_VERSION,
        "kind": "InferenceService",
        "metadata": meta,
        "spec": {
            "predictor": {
                "minReplicas": min_replicas,
                "maxReplicas": max_replicas,
                "annotations": {
                    "prometheus.io/scrape": "true",
                    "prometheus.io/port": str(KSERVE_PORT),
                    "prometheus.io/path": "/metrics",
                },
                "containers": [container],
            }
        },
    }
    return service, notes


def write_inference_service(model_uri: str, output_dir: str | Path, **settings: Any) -> DeployFiles:
    """Write `inference_service(model_uri, **settings)` to `output_dir`."""
    service, notes = inference_service(model_uri, **settings)
    files = write_manifests([service], output_dir)
    return DeployFiles(
        directory=str(output_dir),
        files=files,
        notes=notes,
        image=service["spec"]["predictor"]["containers"][0]["image"],
        next_step=f"kubectl apply -f {output_dir}",
    )


__all__ = [
    "KSERVE_API_VERSION",
    "KSERVE_CONTAINER_NAME",
    "KSERVE_PORT",
    "KSERVE_PORT_NAME",
    "MAX_NAME_LENGTH",
    "PROTOCOL_ENV",
    "inference_service",
    "write_inference_service",
]
