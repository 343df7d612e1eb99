"""The artifact proxy on the wire: upload, download, list, delete, and path safety."""

from __future__ import annotations

import hashlib

import httpx
import pytest

ART = "/api/2.0/mlflow-artifacts/artifacts"


def test_upload_download_list_delete(http: httpx.Client, live_server) -> None:
    assert http.put(f"{ART}/1/run/artifacts/a.txt", content=b"alpha").json() == {}
    assert http.put(f"{ART}/1/run/artifacts/dir/b.json", content=b'{"b": 1}').status_code == 200
    assert http.put(f"{ART}/1/run/artifacts/dir/sub/c.html", content=b"<script>").status_code == 200
    assert (live_server.artifacts_dir / "1" / "run" / "artifacts" / "dir" / "b.json").exists()

    got = http.get(f"{ART}/1/run/artifacts/a.txt")
    assert got.status_code == 200 and got.content == b"alpha"
    assert got.headers["content-type"].startswith("text/plain")
    assert http.get(f"{ART}/1/run/artifacts/dir/b.json").headers["content-type"] == (
        "application/json"
    )
    # pages a browser would run are served inert
    page = http.get(f"{ART}/1/run/artifacts/dir/sub/c.html")
    assert page.headers["content-type"].startswith("text/plain")
    assert page.headers["x-content-type-options"] == "nosniff"
    assert http.head(f"{ART}/1/run/artifacts/a.txt").status_code == 200
    assert http.head(f"{ART}/1/run/artifacts/zzz.txt").status_code == 404

    # listings name children by base name, as mlflow's server does
    listing = http.get(ART, params={"path": "1/run/artifacts"}).json()
    assert listing == {
        "files": [
            {"path": "a.txt", "is_dir": False, "file_size": 5},
            {"path": "dir", "is_dir": True},
        ]
    }
    assert http.get(f"{ART}/1/run/artifacts/dir").json()["files"] == [
        {"path": "b.json", "is_dir": False, "file_size": 8},
        {"path": "sub", "is_dir": True},
    ]
    assert http.get(ART, params={"path": "1/run/artifacts/a.txt"}).json() == {"files": []}
    assert http.get(ART, params={"path": "nothing/here"}).json() == {"files": []}

    assert http.delete(f"{ART}/1/run/artifacts/dir").json() == {}
    missing = http.get(f"{ART}/1/run/artifacts/dir/b.json")
    assert missing.status_code == 404
    assert missing.json()["error_code"] == "RESOURCE_DOES_NOT_EXIST"
    assert str(live_server.artifacts_dir) not in missing.json()["message"]
    assert http.delete(f"{ART}/1/run/artifacts/dir").status_code == 404


def test_overwrite_replaces_the_file(http: httpx.Client) -> None:
    http.put(f"{ART}/x/f.bin", content=b"old version, longer")
    http.put(f"{ART}/x/f.bin", content=b"new")
    assert http.get(f"{ART}/x/f.bin").content == b"new"


@pytest.mark.parametrize(
    "request_args",
    [
        ("PUT", f"{ART}/a/%2E%2E/%2E%2E/escaped.txt"),
        ("GET", f"{ART}/a/%2E%2E/%2E%2E/etc/passwd"),
        ("GET", f"{ART}/%2Fetc/passwd"),
        ("DELETE", f"{ART}/a/%2E%2E/%2E%2E"),
        ("GET", f"{ART}?path=../../etc"),
        ("GET", f"{ART}?path=/etc"),
        ("GET", f"{ART}/a%5C..%5C..%5Cx"),
    ],
)
def test_paths_outside_the_root_are_refused(
    http: httpx.Client, live_server, request_args: tuple[str, str]
) -> None:
    method, url = request_args
    response = http.request(method, url, content=b"x" if method == "PUT" else None)
    assert response.status_code == 400, response.text
    assert response.json()["error_code"] == "INVALID_PARAMETER_VALUE"
    assert not (live_server.artifacts_dir.parent / "escaped.txt").exists()


def test_root_cannot_be_deleted_or_written(http: httpx.Client) -> None:
    assert http.delete(f"{ART}/").status_code == 400
    assert http.put(f"{ART}/", content=b"x").status_code == 400


def test_large_streamed_upload_is_not_limited_like_json(http: httpx.Client) -> None:
    """70 MiB, chunked: over the 64 MiB JSON limit, fine for artifacts, identical on return."""
    block = hashlib.sha256(b"seed").digest() * 32768  # 1 MiB
    digest = hashlib.sha256()

    def chunks():
        for i in range(70):
            part = block[i:] + block[:i]
            digest.update(part)
            yield part

    assert http.put(f"{ART}/big/model.bin", content=chunks()).status_code == 200
    received = hashlib.sha256()
    size = 0
    with http.stream("GET", f"{ART}/big/model.bin") as response:
        assert response.status_code == 200
        for part in response.iter_bytes():
            received.update(part)
            size += len(part)
    assert size == 70 * 1024 * 1024
    assert received.hexdigest() == digest.hexdigest()


def test_run_artifact_listing_in_the_tracking_api(http: httpx.Client) -> None:
    run = http.post("/api/2.0/mlflow/runs/create", json={"experiment_id": "0"}).json()["run"]
    run_id = run["info"]["run_id"]
    root = run["info"]["artifact_uri"].removeprefix("mlflow-artifacts:/")
    http.put(f"{ART}/{root}/model/MLmodel", content=b"flavors: {}")
    http.put(f"{ART}/{root}/metrics.csv", content=b"a,b")

    top = http.get("/api/2.0/mlflow/artifacts/list", params={"run_id": run_id}).json()
    assert top["root_uri"] == run["info"]["artifact_uri"]
    assert top["files"] == [
        {"path": "metrics.csv", "is_dir": False, "file_size": 3},
        {"path": "model", "is_dir": True},
    ]
    inner = http.get(
        "/api/2.0/mlflow/artifacts/list", params={"run_id": run_id, "path": "model"}
    ).json()
    assert inner["files"] == [{"path": "model/MLmodel", "is_dir": False, "file_size": 11}]


def test_server_without_artifact_proxy(tmp_path) -> None:
    """serve_artifacts=False: experiments point at the destination; the proxy is absent."""
    from fastapi.testclient import TestClient

    from slipway.server.app import create_app

    app = create_app(
        f"sqlite:///{tmp_path / 'noproxy.db'}", str(tmp_path / "arts"), serve_artifacts=False
    )
    with TestClient(app) as client:
        exp_id = client.post("/api/2.0/mlflow/experiments/create", json={"name": "e"}).json()[
            "experiment_id"
        ]
        exp = client.get("/api/2.0/mlflow/experiments/get", params={"experiment_id": exp_id})
        assert exp.json()["experiment"]["artifact_location"] == str(tmp_path / "arts" / exp_id)
        response = client.put(f"{ART}/x.txt", content=b"x")
        assert response.status_code == 404
        assert response.json()["error_code"] == "ENDPOINT_NOT_FOUND"
        info = client.get("/api/3.0/mlflow/server-info").json()
        assert info["artifacts_proxied"] is False
