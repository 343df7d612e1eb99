"""What the server says about itself: `/health`, `/version` and MLflow 3's server-info.

The mlflow client probes `/api/3.0/mlflow/server-info` before large artifact transfers to
learn whether multipart uploads and downloads are possible: uploads are, through the
proxy's own part URLs (`routes/multipart.py`) when it serves artifacts; downloads stream.
"""

from __future__ import annotations

from fastapi import APIRouter, Request
from starlette.responses import PlainTextResponse, Response

from slipway import __version__
from slipway.server.protocol import json_response

router = APIRouter()


@router.get("/health")
async def health() -> Response:
    return PlainTextResponse("OK")


@router.get("/version")
async def version() -> Response:
    return PlainTextResponse(__version__)


@router.get("/api/3.0/mlflow/server-info")
@router.get("/ajax-api/3.0/mlflow/server-info")
async def server_info(request: Request) -> Response:
    proxied = request.app.state.artifact_roots.serve_artifacts
    return json_response(
        {
            "store_type": "SqlStore",
            "workspaces_enabled": False,
            "trace_archival_enabled": False,
            "multipart_uploads_enabled": proxied,
            "multipart_downloads_enabled": False,
            "presigned_upload_run_id_supported": False,
            "presigned_upload_model_id_supported": False,
            "features_enabled": {"gateway": False},
            "artifacts_proxied": proxied,
            "server": "slipway",
            "version": __version__,
            # slipway's own routes a slipway client may use (see routes/slipway_api.py).
            "slipway_capabilities": ["runs/end"],
        }
    )


__all__ = ["router"]
