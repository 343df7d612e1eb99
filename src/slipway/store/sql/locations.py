"""Artifact locations as the SQL stores write them: roots and the URIs joined below them."""

from __future__ import annotations

import re
from pathlib import Path

_URL_SCHEME_RE = re.compile(r"^[A-Za-z][A-Za-z0-9+.\-]+:")


def join_uri(base: str, *parts: str) -> str:
    """Append path parts to a local path or URL without doubling slashes.

    `mlflow-artifacts:/` + `0` gives `mlflow-artifacts:/0`; `s3://b/x/` + `0` gives `s3://b/x/0`.
    """
    out = base
    for part in parts:
        out = out + part if out.endswith("/") else f"{out}/{part}"
    return out


def normalize_root(root: str) -> str:
    """A plain local path becomes absolute; a URL (`s3://`, `mlflow-artifacts:/`) is kept."""
    if _URL_SCHEME_RE.match(root):
        return root
    return str(Path(root).expanduser().absolute())


__all__ = ["join_uri", "normalize_root"]
