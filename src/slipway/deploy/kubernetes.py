"""`slipway deploy k8s`: Deployment, Service, HorizontalPodAutoscaler and PodDisruptionBudget.

    write_kubernetes_manifests("models:/churn@champion", "k8s/", replicas=2)
    # k8s/deployment.yaml, service.yaml, horizontalpodautoscaler.yaml,
    # poddisruptionbudget.yaml; then: kubectl apply -f k8s/

The Deployment runs `slipway serve` (the model baked into the image by `slipway deploy
docker`, or fetched from the registry with `embed=False`) as uid 10001 on a read-only
root file system (`/tmp` and the home folder are emptyDirs); a startup and liveness
probe on `/health`, a readiness probe on `/ready`; requests and limits; Prometheus scrape
annotations for `/metrics`; a termination grace period that covers the server's drain
(SIGTERM → `/ready` 503 for `drain_seconds` → requests in flight finish); rolling updates
that never go below the wanted number of ready pods.

The Deployment leaves `spec.replicas` to the autoscaler (whose minimum is `replicas`), as
Kubernetes advises: a replica count in the file would reset the autoscaler's choice on
every `kubectl apply`. Registry settings: `SLIPWAY_TRACKING_URI` when given (and safe to
write), and every key of the optional Secret `<name>-env` as environment variables (for
credentials, `SLIPWAY_PREDICTION_LOG_URI`, `AWS_*`, …).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from slipway.deploy.container import (
    HOME_DIR,
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
from slipway.errors import InvalidParameterValue
from slipway.serving.config import DEFAULT_DRAIN_SECONDS, DEFAULT_REQUEST_TIMEOUT_S

CONTAINER_NAME = "slipway-serve"
SERVICE_PORT = 80
MODEL_URI_ANNOTATION = "slipway/model-uri"
_QUANTITY = re.compile(r"^[0-9]+(\.[0-9]+)?(m|k|M|G|T|P|E|Ki|Mi|Gi|Ti|Pi|Ei)?$")


@dataclass(frozen=True)
class Resources:
    """CPU and memory a pod asks for; limits default to the requests."""

    cpu: str = "500m"
    memory: str = "1Gi"
    cpu_limit: str | None = None
    memory_limit: str | None = None

    def __post_init__(self) -> None:
        bad = [
            f"{what}={value!r}"
            for what, value in (
                ("cpu", self.cpu),
                ("memory", self.memory),
                ("cpu limit", self.cpu_limit),
                ("memory limit", self.memory_limit),
            )
            if value is not None and not _QUANTITY.match(value)
        ]
        if bad:
            raise InvalidParameterValue(
                f"Not Kubernetes quantities: {', '.join(bad)} (e.g. 500m, 2, 512Mi, 1Gi)."
            )

    def to_k8s(self) -> dict[str, Any]:
        return {
            "requests": {"cpu": self.cpu, "memory": self.memory},
            "limits": {
                "cpu": self.cpu_limit or self.cpu,
                "memory": self.memory_limit or self.memory,
            },
        }


def labels_for(name: str) -> dict[str, str]:
    """The labels every object gets; the first two also select the pods."""
    return {
        "app.kubernetes.io/name": name,
        "app.kubernetes.io/component": "model-server",
        "app.kubernetes.io/managed-by": "slipway",
    }


def selector_for(name: str) -> dict[str, str]:
    return {k: v for k, v in labels_for(name).items() if k != "app.kubernetes.io/managed-by"}


def metadata(name: str, namespace: str | None, model_uri: str | None = None) -> dict[str, Any]:
    meta: dict[str, Any] = {"name": name}
    if namespace:
        meta["namespace"] = namespace
    meta["labels"] = labels_for(name)
    if model_uri is not None:
        meta["annotations"] = {MODEL_URI_ANNOTATION: model_uri}
    return meta


def env_secret_name(name: str) -> str:
    """The optional Secret whose keys become the container's environment."""
    return f"{name}-env"


def kubernetes_manifests(
    model_uri: str,
    *,
    name: str | None = None,
    image: str | None = None,
    replicas: int = 2,
    max_replicas: int | None = None,
    target_cpu_percent: int = 70,
    resources: Resources | None = None,
    namespace: str | None = None,
    tracking_uri: str | None = None,
    embed: bool = True,
    port: int = 8000,
    workers: int = 1,
    drain_seconds: float = DEFAULT_DRAIN_SECONDS,
    request_timeout_s: float = DEFAULT_REQUEST_TIMEOUT_S,
) -> tuple[list[dict[str, Any]], list[str]]:
    """The four objects for `model_uri` (Deployment, Service, HPA, PDB), and notes."""
    if replicas < 1:
        raise InvalidParameterValue(f"replicas must be at least 1, got {replicas}.")
    max_replicas = max_replicas if max_replicas is not None else max(3 * replicas, replicas + 1)
    if max_replicas < replicas:
        raise InvalidParameterValue(
            f"max replicas ({max_replicas}) must not be below replicas ({replicas})."
        )
    if not 1 <= target_cpu_percent <= 100:
        raise InvalidParameterValue("the target CPU use must be between 1 and 100 percent.")
    if namespace is not None and resource_name(namespace) != namespace:
        raise InvalidParameterValue(f"{namespace!r} is not a valid namespace name.")
    served = served_name(model_uri, name)
    obj_name = resource_name(served)
    command = ServeCommand(
        model_uri,
        served,
        embed=embed,
        port=port,
        workers=workers,
        drain_seconds=drain_seconds,
        request_timeout_s=request_timeout_s,
    )
    env, notes = tracking_env(tracking_uri, needed=not embed)
    if replicas == 1:
        notes.append(
            "With one replica, a node drain takes the model offline while its pod restarts "
            "elsewhere; two or more keep it serving."
        )
    objects = [
        _deployment(
            obj_name,
            namespace,
            model_uri,
            command,
            image or default_image(model_uri, served),
            resources or Resources(),
            env,
        ),
        _service(obj_name, namespace),
        _autoscaler(obj_name, namespace, replicas, max_replicas, target_cpu_percent),
        _disruption_budget(obj_name, namespace),
    ]
    return objects, notes


def write_kubernetes_manifests(
    model_uri: str, output_dir: str | Path, **settings: Any
) -> DeployFiles:
    """Write `kubernetes_manifests(model_uri, **settings)` to `output_dir`, one file each."""
    objects, notes = kubernetes_manifests(model_uri, **settings)
    files = write_manifests(objects, output_dir)
    image = objects[0]["spec"]["template"]["spec"]["containers"][0]["image"]
    return DeployFiles(
        directory=str(output_dir),
        files=files,
        notes=notes,
        image=image,
        next_step=f"kubectl apply -f {output_dir}",
    )


def _deployment(
    name: str,
    namespace: str | None,
    model_uri: str,
    command: ServeCommand,
    image: str,
    resources: Resources,
    env: dict[str, str],
) -> dict[str, Any]:
    container = {
        "name": CONTAINER_NAME,
        "image": image,
        "imagePullPolicy": "IfNotPresent",
        "command": command.argv()[:2],
        "args": command.args(),
        "ports": [{"name": "http", "containerPort": command.port, "protocol": "TCP"}],
        "env": k8s_env({**base_env(), **env}),
        "envFrom": [{"secretRef": {"name": env_secret_name(name), "optional": True}}],
        "resources": resources.to_k8s(),
        # /health answers as soon as the server listens; models may take minutes to load
        "startupProbe": _probe("/health", period=5, timeout=3, failures=60),
        "livenessProbe": _probe("/health", period=10, timeout=5, failures=3),
        "readinessProbe": _probe("/ready", period=5, timeout=3, failures=2),
        "securityContext": {
            "allowPrivilegeEscalation": False,
            "readOnlyRootFilesystem": True,
            "capabilities": {"drop": ["ALL"]},
        },
        "volumeMounts": [
            {"name": "home", "mountPath": HOME_DIR},
            {"name": "tmp", "mountPath": "/tmp"},
        ],
    }
    pod_annotations = {
        "prometheus.io/scrape": "true",
        "prometheus.io/port": str(command.port),
        "prometheus.io/path": "/metrics",
    }
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": metadata(name, namespace, model_uri),
        "spec": {
            "revisionHistoryLimit": 5,
            "selector": {"matchLabels": selector_for(name)},
            "strategy": {
                "type": "RollingUpdate",
                "rollingUpdate": {"maxSurge": 1, "maxUnavailable": 0},
            },
            "template": {
                "metadata": {"labels": labels_for(name), "annotations": pod_annotations},
                "spec": {
                    "terminationGracePeriodSeconds": command.grace_period_s,
                    "securityContext": {
                        "runAsNonRoot": True,
                        "runAsUser": USER_ID,
                        "runAsGroup": USER_ID,
                        "fsGroup": USER_ID,
                        "seccompProfile": {"type": "RuntimeDefault"},
                    },
                    "containers": [container],
                    "volumes": [
                        # the prediction log is written below SLIPWAY_HOME when it is local
                        {"name": "home", "emptyDir": {}},
                        {"name": "tmp", "emptyDir": {}},
                    ],
                },
            },
        },
    }


def _probe(path: str, *, period: int, timeout: int, failures: int) -> dict[str, Any]:
    return {
        "httpGet": {"path": path, "port": "http"},
        "periodSeconds": period,
        "timeoutSeconds": timeout,
        "failureThreshold": failures,
    }


def _service(name: str, namespace: str | None) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": metadata(name, namespace),
        "spec": {
            "type": "ClusterIP",
            "selector": selector_for(name),
            "ports": [
                {"name": "http", "port": SERVICE_PORT, "targetPort": "http", "protocol": "TCP"}
            ],
        },
    }


def _autoscaler(
    name: str, namespace: str | None, replicas: int, max_replicas: int, target: int
) -> dict[str, Any]:
    return {
        "apiVersion": "autoscaling/v2",
        "kind": "HorizontalPodAutoscaler",
        "metadata": metadata(name, namespace),
        "spec": {
            "scaleTargetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": name},
            "minReplicas": replicas,
            "maxReplicas": max_replicas,
            "metrics": [
                {
                    "type": "Resource",
                    "resource": {
                        "name": "cpu",
                        "target": {"type": "Utilization", "averageUtilization": target},
                    },
                }
            ],
        },
    }


def _disruption_budget(name: str, namespace: str | None) -> dict[str, Any]:
    return {
        "apiVersion": "policy/v1",
        "kind": "PodDisruptionBudget",
        "metadata": metadata(name, namespace),
        "spec": {"maxUnavailable": 1, "selector": {"matchLabels": selector_for(name)}},
    }


__all__ = [
    "CONTAINER_NAME",
    "MODEL_URI_ANNOTATION",
    "Resources",
    "SERVICE_PORT",
    "env_secret_name",
    "kubernetes_manifests",
    "labels_for",
    "metadata",
    "selector_for",
    "write_kubernetes_manifests",
]
