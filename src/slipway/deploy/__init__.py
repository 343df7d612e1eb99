"""Deployment files for a served model: a Docker build, Kubernetes manifests, KServe.

    from slipway.deploy import write_docker_build, write_kubernetes_manifests
    write_docker_build("models:/churn@champion", "build/")          # Dockerfile + model
    write_kubernetes_manifests("models:/churn@champion", "k8s/", replicas=2)
    write_inference_service("models:/churn@champion", "kserve/")

Every file starts the same `slipway serve` process (`container.ServeCommand`). Nothing
here talks to Docker or a cluster: the functions write files, the user builds and applies.

Modules: `container` (the serve command, user, paths, names), `docker`, `kubernetes`,
`kserve`, `files` (the result type and the YAML writer).
"""

from slipway.deploy.container import ServeCommand
from slipway.deploy.docker import model_requirements, write_docker_build
from slipway.deploy.files import DeployFiles
from slipway.deploy.kserve import inference_service, write_inference_service
from slipway.deploy.kubernetes import Resources, kubernetes_manifests, write_kubernetes_manifests

__all__ = [
    "DeployFiles",
    "Resources",
    "ServeCommand",
    "inference_service",
    "kubernetes_manifests",
    "model_requirements",
    "write_docker_build",
    "write_inference_service",
    "write_kubernetes_manifests",
]
