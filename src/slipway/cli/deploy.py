"""`slipway deploy docker|k8s|kserve`: write the files that deploy a model; run nothing.

    slipway deploy docker models:/churn@champion -o build/
    slipway deploy k8s models:/churn@champion --replicas 2 -o k8s/
    slipway deploy kserve models:/churn@champion -o kserve/

Each command calls one function of `slipway.deploy`, prints the files it wrote, the notes
(what was left out and why) and the command to run next. Exit status 1 on bad input.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import typer

from slipway.cli.output import console, print_json, reports_errors
from slipway.cli.tracking_uri import TrackingUriOption
from slipway.serving.config import DEFAULT_DRAIN_SECONDS, DEFAULT_REQUEST_TIMEOUT_S

if TYPE_CHECKING:
    from slipway.deploy import DeployFiles

app = typer.Typer(
    help="Write deployment files for a model: a Docker build, Kubernetes or KServe manifests.",
    no_args_is_help=True,
)


ModelUriArgument = typer.Argument(
    ...,
    metavar="MODEL_URI",
    help="models:/name@alias, models:/name/3, runs:/<run_id>/<path>, or a local model folder.",
)
NameOption = typer.Option(
    None, "--name", help="Serve the model under this name (default: its registered name)."
)
EmbedOption = typer.Option(
    True,
    "--embed/--fetch",
    help="--embed: the model is inside the image (built by `slipway deploy docker`); "
    "--fetch: the container downloads MODEL_URI from the registry when it starts.",
)
ImageOption = typer.Option(
    None, "--image", help="Container image (default: slipway-<name>:<version or latest>)."
)
NamespaceOption = typer.Option(None, "--namespace", "-n", help="Namespace of every object.")
CpuOption = typer.Option("500m", "--cpu", help="CPU request per pod.")
MemoryOption = typer.Option("1Gi", "--memory", help="Memory request per pod.")
CpuLimitOption = typer.Option(None, "--cpu-limit", help="CPU limit (default: the request).")
MemoryLimitOption = typer.Option(
    None, "--memory-limit", help="Memory limit (default: the request)."
)
WorkersOption = typer.Option(1, "--workers", min=1, help="slipway serve worker processes.")
JsonOption = typer.Option(False, "--json", help="Print what was written as JSON.")


@app.command("docker")
@reports_errors
def docker(
    model_uri: str = ModelUriArgument,
    output: Path = typer.Option(..., "--output", "-o", help="Build folder to write."),
    tracking_uri: str | None = TrackingUriOption,
    embed: bool = EmbedOption,
    port: int = typer.Option(8000, "--port", help="Port the server listens on."),
    base: str | None = typer.Option(
        None, "--base", help="Base image (default: python:<the model's Python>-slim)."
    ),
    name: str | None = NameOption,
    slipway_spec: str | None = typer.Option(
        None,
        "--slipway-spec",
        help="pip requirement that installs slipway (default: slipway[serve]==<this version>).",
    ),
    json_output: bool = JsonOption,
) -> None:
    """A Dockerfile, .dockerignore, requirements.txt and (with --embed) the model."""
    from slipway.deploy import write_docker_build

    result = write_docker_build(
        model_uri,
        output,
        tracking_uri=tracking_uri,
        embed=embed,
        port=port,
        base_image=base,
        name=name,
        slipway_spec=slipway_spec,
    )
    _show(result, json_output)


@app.command("k8s")
@reports_errors
def k8s(
    model_uri: str = ModelUriArgument,
    output: Path = typer.Option(..., "--output", "-o", help="Folder for the manifests."),
    replicas: int = typer.Option(2, "--replicas", min=1, help="Pods at least (the HPA minimum)."),
    max_replicas: int | None = typer.Option(
        None, "--max-replicas", help="Pods at most (default: 3 x --replicas)."
    ),
    target_cpu: int = typer.Option(
        70, "--target-cpu", help="Average CPU use, in % of the request, the HPA aims for."
    ),
    image: str | None = ImageOption,
    cpu: str = CpuOption,
    memory: str = MemoryOption,
    cpu_limit: str | None = CpuLimitOption,
    memory_limit: str | None = MemoryLimitOption,
    namespace: str | None = NamespaceOption,
    tracking_uri: str | None = TrackingUriOption,
    embed: bool = EmbedOption,
    port: int = typer.Option(8000, "--port", help="Port the server listens on in the pod."),
    workers: int = WorkersOption,
    drain_seconds: float = typer.Option(
        DEFAULT_DRAIN_SECONDS, "--drain-seconds", min=0, help="slipway serve --drain-seconds."
    ),
    request_timeout: float = typer.Option(
        DEFAULT_REQUEST_TIMEOUT_S,
        "--request-timeout",
        min=0.001,
        help="slipway serve --request-timeout (the grace period covers it).",
    ),
    name: str | None = NameOption,
    json_output: bool = JsonOption,
) -> None:
    """Deployment, Service, HorizontalPodAutoscaler and PodDisruptionBudget, one file each."""
    from slipway.deploy import Resources, write_kubernetes_manifests

    result = write_kubernetes_manifests(
        model_uri,
        output,
        name=name,
        image=image,
        replicas=replicas,
        max_replicas=max_replicas,
        target_cpu_percent=target_cpu,
        resources=Resources(cpu, memory, cpu_limit, memory_limit),
        namespace=namespace,
        tracking_uri=tracking_uri,
        embed=embed,
        port=port,
        workers=workers,
        drain_seconds=drain_seconds,
        request_timeout_s=request_timeout,
    )
    _show(result, json_output)


@app.command("kserve")
@reports_errors
def kserve(
    model_uri: str = ModelUriArgument,
    output: Path = typer.Option(..., "--output", "-o", help="Folder for the manifest."),
    image: str | None = ImageOption,
    min_replicas: int = typer.Option(
        1, "--min-replicas", min=0, help="Pods at least (0 scales to zero)."
    ),
    max_replicas: int | None = typer.Option(
        None, "--max-replicas", help="Pods at most (default: 3 x --min-replicas)."
    ),
    cpu: str = CpuOption,
    memory: str = MemoryOption,
    cpu_limit: str | None = CpuLimitOption,
    memory_limit: str | None = MemoryLimitOption,
    namespace: str | None = NamespaceOption,
    tracking_uri: str | None = TrackingUriOption,
    embed: bool = EmbedOption,
    workers: int = WorkersOption,
    name: str | None = NameOption,
    json_output: bool = JsonOption,
) -> None:
    """An InferenceService running slipway serve as a custom predictor (OIP v2, port 8080)."""
    from slipway.deploy import Resources, write_inference_service

    result = write_inference_service(
        model_uri,
        output,
        name=name,
        image=image,
        min_replicas=min_replicas,
        max_replicas=max_replicas,
        resources=Resources(cpu, memory, cpu_limit, memory_limit),
        namespace=namespace,
        tracking_uri=tracking_uri,
        embed=embed,
        workers=workers,
    )
    _show(result, json_output)


def _show(result: DeployFiles, json_output: bool) -> None:
    if json_output:
        print_json(
            {
                "directory": result.directory,
                "files": result.files,
                "image": result.image,
                "notes": result.notes,
                "next_step": result.next_step,
            }
        )
        return
    console.print(f"Wrote {result.directory}:", highlight=False)
    for name in result.files:
        console.print(f"  {name}", highlight=False)
    for note in result.notes:
        console.print(f"[yellow]Note:[/] {note}", highlight=False, soft_wrap=True)
    if result.next_step:
        console.print(f"Next: {result.next_step}", highlight=False, soft_wrap=True)


__all__ = ["app", "docker", "k8s", "kserve"]
