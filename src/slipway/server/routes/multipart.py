"""Multipart artifact upload through the proxy: `POST mpu/create|complete|abort/<path>`.

The mlflow client uploads a large file (at least `MLFLOW_MULTIPART_UPLOAD_MINIMUM_FILE_SIZE`,
500 MB by default) in parts when server-info says the server can. The URL names the folder
and the body's `path` the client's local file, whose base name the file gets. `create` answers one
upload URL per part, the client PUTs each part there (in parallel), then `complete` with
the parts in order, or `abort`. Behind a cloud bucket MLflow hands out presigned URLs; here
the URLs point back at this server (`mpu/parts/<upload id>/<part number>`), which keeps
each part in a staging folder of the artifacts destination and, on `complete`, streams
them into the final file in order. Mounted under the artifact proxy's prefixes.
"""

from __future__ import annotations

import hashlib
import posixpath
import re
import uuid
from collections.abc import Iterator

from fastapi import APIRouter, Request
from starlette.responses import Response

from slipway.artifacts import ArtifactRepository, safe_artifact_path
from slipway.artifacts.repository import CHUNK_SIZE
from slipway.errors import InvalidParameterValue, ResourceDoesNotExist
from slipway.server.protocol import (
    Fields,
    RawBody,
    as_int,
    as_str,
    empty_response,
    json_response,
    parse_json_object,
)
from slipway.server.routes.artifacts import artifact_roots

router = APIRouter()

STAGING = ".slipway-mpu"  # below the artifacts destination; one folder per upload
MAX_PARTS = 10_000
_UPLOAD_ID = re.compile(r"^[0-9a-f]{32}$")


@router.post("/mpu/create/{path:path}")
def create_multipart_upload(request: Request, path: str, body: RawBody) -> Response:
    """Start an upload into folder `path` in `num_parts` parts: an upload id and a URL per
    part."""
    fields = Fields(parse_json_object(body))
    _target(path, fields)
    num_parts = fields.integer("num_parts", 1, minimum=1, maximum=MAX_PARTS)
    upload_id = uuid.uuid4().hex
    base = str(request.base_url).rstrip("/") + _prefix(request) + "/mpu/parts"
    credentials = [
        {"url": f"{base}/{upload_id}/{n}", "part_number": n, "headers": {}}
        for n in range(1, (num_parts or 1) + 1)
    ]
    return json_response({"upload_id": upload_id, "credentials": credentials})


@router.put("/mpu/parts/{upload_id}/{part_number}")
def upload_part(request: Request, upload_id: str, part_number: str, body: RawBody) -> Response:
    """Keep one part; its ETag is the part's SHA-256 (checked again on complete)."""
    number = _part_number(part_number)
    repo = artifact_roots(request).proxy
    repo.write_bytes(_part_path(upload_id, number), body)
    return Response(headers={"ETag": hashlib.sha256(body).hexdigest()})


@router.post("/mpu/complete/{path:path}")
def complete_multipart_upload(request: Request, path: str, body: RawBody) -> Response:
    """Join the listed parts, in part-number order, into the file in folder `path`."""
    fields = Fields(parse_json_object(body))
    target = _target(path, fields)
    upload_id = _upload_id(fields.string("upload_id"))
    parts = fields.objects("parts")
    if not parts:
        raise InvalidParameterValue("Missing value for required parameter 'parts'.")
    numbers = sorted(as_int("parts.part_number", p.get("part_number")) for p in parts)
    etags = {
        as_int("parts.part_number", p.get("part_number")): as_str("parts.etag", p.get("etag", ""))
        for p in parts
    }
    repo = artifact_roots(request).proxy
    for n in numbers:
        if not repo.exists(_part_path(upload_id, n)):
            raise InvalidParameterValue(
                f"Part {n} of multipart upload {upload_id} was never uploaded; upload it or "
                "abort the upload."
            )
    repo.write_stream(target, _joined(repo, upload_id, numbers, etags))
    repo.delete(f"{STAGING}/{upload_id}")
    return empty_response()


@router.post("/mpu/abort/{path:path}")
def abort_multipart_upload(request: Request, path: str, body: RawBody) -> Response:
    """Drop an upload's parts (nothing is written)."""
    fields = Fields(parse_json_object(body))
    _target(path, fields)
    upload_id = _upload_id(fields.string("upload_id"))
    try:
        artifact_roots(request).proxy.delete(f"{STAGING}/{upload_id}")
    except ResourceDoesNotExist:
        pass  # no part arrived: nothing to drop
    return empty_response()


def _joined(
    repo: ArtifactRepository, upload_id: str, numbers: list[int], etags: dict[int, str]
) -> Iterator[bytes]:
    for n in numbers:
        digest = hashlib.sha256()
        with repo.open(_part_path(upload_id, n)) as part:
            while chunk := part.read(CHUNK_SIZE):
                digest.update(chunk)
                yield chunk
        if etags.get(n) and etags[n].strip('"') != digest.hexdigest():
            raise InvalidParameterValue(
                f"Part {n} of multipart upload {upload_id} does not match the ETag sent."
            )


def _target(folder: str, fields: Fields) -> str:
    """Where the file goes: the URL's folder and the base name of the client's local file
    (the body's `path`), as MLflow's artifact repositories place it."""
    local = fields.string("path", required=True)
    name = posixpath.basename(local.replace("\\", "/"))  # type: ignore[union-attr]
    rel = safe_artifact_path(f"{folder.rstrip('/')}/{name}" if folder else name)
    if not name or rel.split("/")[0] == STAGING:
        raise InvalidParameterValue(f"Invalid multipart upload destination {rel!r}.")
    return rel


def _upload_id(value: str | None) -> str:
    if value is None or not _UPLOAD_ID.match(value):
        raise InvalidParameterValue(f"Invalid value {value!r} for parameter 'upload_id'.")
    return value


def _part_number(value: str) -> int:
    if not value.isdigit() or not 1 <= int(value) <= MAX_PARTS:
        raise InvalidParameterValue(f"Invalid part number {value!r}: 1 to {MAX_PARTS}.")
    return int(value)


def _part_path(upload_id: str, number: int) -> str:
    return f"{STAGING}/{_upload_id(upload_id)}/{number:05d}"


def _prefix(request: Request) -> str:
    """The artifact proxy prefix this request came through (`/api/2.0/mlflow-artifacts`)."""
    path = request.url.path
    return path[: path.index("/mpu/")]


__all__ = ["router"]
