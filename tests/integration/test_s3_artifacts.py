"""Artifacts in S3-compatible object storage: a real S3 API (moto's server) on loopback.

The same code paths as a real bucket: fsspec's s3fs driver over HTTP, through the artifact
repository, the Client with an `s3://` artifact root, and the server's artifact proxy.
"""

from __future__ import annotations

import time
from pathlib import Path

import pytest

pytest.importorskip("s3fs", reason="S3 tests need the s3 extra (pip install 'slipway[s3]')")
moto_server = pytest.importorskip("moto.server", reason="S3 tests need moto[server] (dev extra)")

from slipway import Client  # noqa: E402
from slipway.artifacts import get_artifact_repository  # noqa: E402
from slipway.errors import ResourceDoesNotExist  # noqa: E402

BUCKET = "slipway-test"


@pytest.fixture(scope="module")
def s3_endpoint():
    server = moto_server.ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    yield f"http://{host}:{port}"
    server.stop()


@pytest.fixture
def bucket(s3_endpoint: str, monkeypatch: pytest.MonkeyPatch) -> str:
    """An empty bucket; credentials and endpoint reach s3fs through the AWS variables."""
    import boto3
    import fsspec

    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    monkeypatch.setenv("AWS_ENDPOINT_URL", s3_endpoint)
    fsspec.filesystem("s3").clear_instance_cache()
    s3 = boto3.client("s3", endpoint_url=s3_endpoint)
    name = f"{BUCKET}-{time.monotonic_ns()}"
    s3.create_bucket(Bucket=name)
    return name


def test_repository_round_trip_in_a_bucket(bucket: str, tmp_path: Path) -> None:
    repo = get_artifact_repository(f"s3://{bucket}/root")
    repo.write_bytes("model/MLmodel", b"flavors: {}\n")
    repo.write_bytes("model/data/weights.bin", bytes(range(256)) * 4096)
    assert [(f.path, f.is_dir) for f in repo.list("model")] == [
        ("model/MLmodel", False),
        ("model/data", True),
    ]
    out = Path(repo.download("model", tmp_path / "dl"))
    assert (out / "data" / "weights.bin").read_bytes() == bytes(range(256)) * 4096
    repo.delete("model/data")
    assert [f.path for f in repo.list("model")] == ["model/MLmodel"]
    with pytest.raises(ResourceDoesNotExist):
        repo.open("model/missing.txt")


def test_client_with_an_s3_artifact_root(bucket: str, tmp_path: Path) -> None:
    client = Client(f"sqlite:///{tmp_path / 'meta.db'}")
    exp = client.create_experiment("s3-exp", artifact_location=f"s3://{bucket}/experiments/1")
    run = client.create_run(exp)
    assert run.info.artifact_uri.startswith(f"s3://{bucket}/experiments/1/")
    client.log_dict(run.info.run_id, {"auc": 0.9}, "eval/metrics.json")
    assert [f.path for f in client.list_artifacts(run.info.run_id, "eval")] == ["eval/metrics.json"]
    local = client.download_artifacts(run.info.run_id, "eval/metrics.json", tmp_path / "dl")
    assert '"auc": 0.9' in Path(local).read_text()


def test_server_proxies_artifacts_to_a_bucket(bucket: str, tmp_path: Path, server_factory) -> None:
    """Clients talk to the server only; the server writes to the bucket."""
    url = server_factory(f"sqlite:///{tmp_path / 'server.db'}", f"s3://{bucket}/proxied")
    client = Client(url)
    run = client.create_run(client.create_experiment("proxied"))
    assert run.info.artifact_uri.startswith("mlflow-artifacts:/")
    client.log_text(run.info.run_id, "hello from the proxy", "notes.txt")
    local = client.download_artifacts(run.info.run_id, "notes.txt", tmp_path / "dl")
    assert Path(local).read_text() == "hello from the proxy"
    bucket_repo = get_artifact_repository(f"s3://{bucket}/proxied")
    stored = bucket_repo.list(run.info.artifact_uri.removeprefix("mlflow-artifacts:/"))
    assert [f.path.rsplit("/", 1)[-1] for f in stored] == ["notes.txt"]
