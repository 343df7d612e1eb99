"""`slipway deploy k8s` and `slipway deploy kserve`: manifests checked offline.

Every Kubernetes object is validated with kubernetes-validate (the API's JSON schemas,
strict: unknown fields fail) for the oldest and newest Kubernetes it ships schemas for
that we target. The InferenceService is a KServe CRD, not in those schemas: it is
validated against a JSON schema of the fields we use (below), whose container and
metadata refer to Kubernetes' own strict `Container` and `ObjectMeta` definitions. No
cluster is reachable here, so nothing is applied.
"""

from __future__ import annotations

import json
import math
from importlib import resources
from pathlib import Path
from typing import Any

import jsonschema
import kubernetes_validate
import pytest
import yaml
from deploy_support import parse_serve_args
from referencing import Registry, Resource
from typer.testing import CliRunner

from slipway.cli.main import app
from slipway.deploy import inference_service, kubernetes_manifests
from slipway.errors import InvalidParameterValue

runner = CliRunner()
K8S_VERSIONS = ["1.29.0", kubernetes_validate.latest_version()]
DEFINITIONS = "https://kubernetes.io/api/_definitions.json"


def deploy(*args: str) -> dict[str, Any]:
    result = runner.invoke(app, ["deploy", *args, "--json"])
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


def load(folder: Path) -> dict[str, dict[str, Any]]:
    return {p.name: yaml.safe_load(p.read_text()) for p in sorted(folder.glob("*.yaml"))}


@pytest.mark.parametrize("version", K8S_VERSIONS)
def test_k8s_manifests_validate_against_the_kubernetes_schemas(
    tmp_path: Path, version: str
) -> None:
    out = tmp_path / "k8s"
    data = deploy(
        "k8s", "models:/churn@champion", "--replicas", "2", "-o", str(out), "--namespace",
        "ml", "--fetch", "--tracking-uri", "https://registry.example", "--cpu", "250m",
        "--memory", "512Mi", "--memory-limit", "1Gi",
    )  # fmt: skip
    assert data["files"] == [
        "deployment.yaml",
        "service.yaml",
        "horizontalpodautoscaler.yaml",
        "poddisruptionbudget.yaml",
    ]
    objects = load(out)
    assert sorted(objects) == sorted(data["files"])
    for obj in objects.values():
        assert kubernetes_validate.validate(obj, version, strict=True)
        assert obj["metadata"]["namespace"] == "ml"
        assert obj["metadata"]["name"] == "churn"


def test_deployment_probes_resources_metrics_and_drain(tmp_path: Path) -> None:
    out = tmp_path / "k8s"
    deploy(
        "k8s", "models:/churn@champion", "-o", str(out), "--fetch", "--tracking-uri",
        "https://registry.example", "--drain-seconds", "20", "--request-timeout", "30",
    )  # fmt: skip
    objects = load(out)
    deployment = objects["deployment.yaml"]
    pod = deployment["spec"]["template"]
    (container,) = pod["spec"]["containers"]
    ports = {p["name"]: p["containerPort"] for p in container["ports"]}
    assert ports == {"http": 8000}
    assert container["livenessProbe"]["httpGet"] == {"path": "/health", "port": "http"}
    assert container["startupProbe"]["httpGet"]["path"] == "/health"
    assert container["readinessProbe"]["httpGet"] == {"path": "/ready", "port": "http"}
    assert container["resources"] == {
        "requests": {"cpu": "500m", "memory": "1Gi"},
        "limits": {"cpu": "500m", "memory": "1Gi"},
    }
    annotations = pod["metadata"]["annotations"]
    assert annotations["prometheus.io/scrape"] == "true"
    assert annotations["prometheus.io/path"] == "/metrics"
    assert int(annotations["prometheus.io/port"]) == ports["http"]
    env = {e["name"]: e["value"] for e in container["env"]}
    assert env["SLIPWAY_TRACKING_URI"] == "https://registry.example"
    assert container["envFrom"] == [{"secretRef": {"name": "churn-env", "optional": True}}]
    # the command is what `slipway serve` accepts, with the drain settings given
    assert container["command"] == ["slipway", "serve"]
    params = parse_serve_args(container["args"])
    assert params["model_uris"] == ["models:/churn@champion"]
    assert (params["host"], params["port"]) == ("0.0.0.0", 8000)
    assert (params["drain_seconds"], params["request_timeout"]) == (20.0, 30.0)
    # SIGTERM -> /ready 503 for the drain -> uvicorn waits request timeout + 5 s -> exit
    grace = pod["spec"]["terminationGracePeriodSeconds"]
    assert grace > 20 + 30 + 5 and grace == math.ceil(20 + 30 + 5) + 5
    security = pod["spec"]["securityContext"]
    assert security["runAsNonRoot"] is True and security["runAsUser"] == 10001
    assert container["securityContext"]["readOnlyRootFilesystem"] is True
    writable = {m["mountPath"] for m in container["volumeMounts"]}
    assert writable == {"/tmp", "/home/slipway"}  # SLIPWAY_HOME lies below the home
    assert env["SLIPWAY_HOME"].startswith("/home/slipway/")
    # the autoscaler owns the replica count; selectors find the pods
    assert "replicas" not in deployment["spec"]
    labels = pod["metadata"]["labels"]
    selector = deployment["spec"]["selector"]["matchLabels"]
    assert selector.items() <= labels.items()
    service = objects["service.yaml"]["spec"]
    assert service["selector"].items() <= labels.items()
    assert service["ports"][0]["targetPort"] in ports
    hpa = objects["horizontalpodautoscaler.yaml"]["spec"]
    assert hpa["scaleTargetRef"] == {"apiVersion": "apps/v1", "kind": "Deployment", "name": "churn"}
    assert (hpa["minReplicas"], hpa["maxReplicas"]) == (2, 6)
    pdb = objects["poddisruptionbudget.yaml"]["spec"]
    assert pdb["selector"]["matchLabels"].items() <= labels.items()
    assert pdb["maxUnavailable"] == 1


def test_embedded_image_and_stable_output(tmp_path: Path) -> None:
    first = kubernetes_manifests("models:/churn/3", name="Churn_Model v2", replicas=1)
    objects, notes = first
    (container,) = objects[0]["spec"]["template"]["spec"]["containers"]
    assert objects[0]["metadata"]["name"] == "churn-model-v2"
    assert container["image"] == "slipway-churn-model-v2:3"
    assert parse_serve_args(container["args"])["model_uris"] == ["/opt/slipway/model"]
    assert "SLIPWAY_TRACKING_URI" not in {e["name"] for e in container["env"]}
    assert any("one replica" in n for n in notes)
    assert kubernetes_manifests("models:/churn/3", name="Churn_Model v2", replicas=1) == first
    a, b = tmp_path / "a", tmp_path / "b"
    deploy("k8s", "models:/churn@champion", "-o", str(a))
    deploy("k8s", "models:/churn@champion", "-o", str(b))
    for name in ("deployment.yaml", "service.yaml"):
        assert (a / name).read_bytes() == (b / name).read_bytes()


def test_bad_settings() -> None:
    with pytest.raises(InvalidParameterValue, match="quantities"):
        kubernetes_manifests("models:/churn@champion", resources=_resources(cpu="half"))
    with pytest.raises(InvalidParameterValue, match="max replicas"):
        kubernetes_manifests("models:/churn@champion", replicas=4, max_replicas=2)
    result = runner.invoke(
        app, ["deploy", "k8s", "models:/churn@champion", "-o", "x", "--memory", "lots"]
    )
    assert result.exit_code == 1 and "INVALID_PARAMETER_VALUE" in result.output


def _resources(**kwargs: str):
    from slipway.deploy import Resources

    return Resources(**kwargs)


# --- KServe ------------------------------------------------------------------------------


def inference_service_schema() -> dict[str, Any]:
    """The InferenceService fields slipway writes, and the constraints KServe puts on them.

    The predictor's fields are KServe's v1beta1 PredictorSpec names; its only container
    must be a valid Kubernetes Container named `kserve-container`, with one port 8080
    named http1 (REST) or h2c (gRPC) and PROTOCOL=v2 in its environment.
    """
    container = f"{DEFINITIONS}#/$defs/io.k8s.api.core.v1.Container"
    meta = f"{DEFINITIONS}#/$defs/io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta"
    port = {
        "type": "object",
        "required": ["name", "containerPort"],
        "properties": {"name": {"enum": ["http1", "h2c"]}, "containerPort": {"const": 8080}},
    }
    protocol_v2 = {
        "type": "object",
        "required": ["name", "value"],
        "properties": {"name": {"const": "PROTOCOL"}, "value": {"const": "v2"}},
    }
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "type": "object",
        "additionalProperties": False,
        "required": ["apiVersion", "kind", "metadata", "spec"],
        "properties": {
            "apiVersion": {"const": "serving.kserve.io/v1beta1"},
            "kind": {"const": "InferenceService"},
            "metadata": {
                "$ref": meta,
                "required": ["name"],
                "properties": {
                    "name": {"pattern": "^[a-z]([-a-z0-9]*[a-z0-9])?$", "maxLength": 45}
                },
            },
            "spec": {
                "type": "object",
                "additionalProperties": False,
                "required": ["predictor"],
                "properties": {
                    "predictor": {
                        "type": "object",
                        "additionalProperties": False,
                        "required": ["containers"],
                        "properties": {
                            "minReplicas": {"type": "integer", "minimum": 0},
                            "maxReplicas": {"type": "integer", "minimum": 1},
                            "annotations": {
                                "type": "object",
                                "additionalProperties": {"type": "string"},
                            },
                            "containers": {
                                "type": "array",
                                "minItems": 1,
                                "maxItems": 1,
                                "items": {
                                    "$ref": container,
                                    "required": ["name", "image", "ports", "env"],
                                    "properties": {
                                        "name": {"const": "kserve-container"},
                                        "ports": {"minItems": 1, "maxItems": 1, "items": port},
                                        "env": {"contains": protocol_v2},
                                    },
                                },
                            },
                        },
                    }
                },
            },
        },
    }


def validator(version: str) -> jsonschema.protocols.Validator:
    folder = resources.files("kubernetes_validate") / "kubernetes-json-schema"
    definitions = json.loads(
        (folder / f"v{version}-local-strict" / "_definitions.json").read_text()
    )
    registry = Registry().with_resource(DEFINITIONS, Resource.from_contents(definitions))
    return jsonschema.Draft202012Validator(inference_service_schema(), registry=registry)


@pytest.mark.parametrize("version", K8S_VERSIONS)
def test_inference_service_matches_its_schema(tmp_path: Path, version: str) -> None:
    out = tmp_path / "kserve"
    data = deploy("kserve", "models:/churn@champion", "-o", str(out), "--min-replicas", "0")
    assert data["files"] == ["inferenceservice.yaml"]
    assert any("scales to zero" in n for n in data["notes"])
    service = yaml.safe_load((out / "inferenceservice.yaml").read_text())
    validator(version).validate(service)
    (container,) = service["spec"]["predictor"]["containers"]
    params = parse_serve_args(container["args"])
    assert (params["port"], params["host"]) == (8080, "0.0.0.0")
    assert container["command"] == ["slipway", "serve"]
    assert container["readinessProbe"]["httpGet"] == {"path": "/v2/health/ready", "port": 8080}
    assert container["livenessProbe"]["httpGet"]["path"] == "/v2/health/live"
    assert service["spec"]["predictor"]["minReplicas"] == 0


def test_the_schema_catches_what_kserve_rejects() -> None:
    check = validator(K8S_VERSIONS[-1])
    service, _ = inference_service("models:/churn@champion", tracking_uri="https://r.example")
    check.validate(service)
    env = {e["name"]: e["value"] for e in service["spec"]["predictor"]["containers"][0]["env"]}
    assert env["SLIPWAY_TRACKING_URI"] == "https://r.example"
    broken = json.loads(json.dumps(service))
    broken["spec"]["predictor"]["protocolVersion"] = "v2"  # not a field of a custom predictor
    with pytest.raises(jsonschema.ValidationError):
        check.validate(broken)
    broken = json.loads(json.dumps(service))
    broken["spec"]["predictor"]["containers"][0]["ports"][0]["containerPort"] = 8000
    with pytest.raises(jsonschema.ValidationError):
        check.validate(broken)
    broken = json.loads(json.dumps(service))
    broken["spec"]["predictor"]["containers"][0]["readinesProbe"] = {}  # a typo
    with pytest.raises(jsonschema.ValidationError):
        check.validate(broken)
