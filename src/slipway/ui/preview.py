"""Previews of run artifacts: what a person sees when they click a file.

Text, JSON (pretty-printed), YAML and other text files are shown as text (the first
`MAX_TEXT_BYTES`); images inline; HTML reports in a sandboxed frame (they cannot run
scripts on the server's origin); Parquet files as a table of their first rows. Everything
else is offered for download.
"""

from __future__ import annotations

import io
import json
import posixpath
from dataclasses import dataclass, field
from typing import Any

from slipway.artifacts import ArtifactRepository

MAX_TEXT_BYTES = 256 * 1024
PARQUET_HEAD_ROWS = 20
MAX_PARQUET_BYTES = 64 * 1024 * 1024
TEXT_SUFFIXES = {
    ".txt", ".log", ".md", ".csv", ".tsv", ".py", ".cfg", ".ini", ".toml", ".yaml", ".yml",
    ".json", ".jsonl", ".xml", ".sh", ".requirements", ".lock", ".sql",
}  # fmt: skip
TEXT_NAMES = {"MLmodel", "requirements.txt", "conda.yaml", "python_env.yaml", "Dockerfile"}
IMAGE_SUFFIXES = {".png", ".jpg", ".jpeg", ".gif", ".webp", ".svg"}
HTML_SUFFIXES = {".html", ".htm"}


@dataclass
class Preview:
    """How to show one artifact: `kind` is text, image, html, table or none."""

    path: str
    kind: str
    text: str = ""
    truncated: bool = False
    columns: list[str] = field(default_factory=list)
    rows: list[list[Any]] = field(default_factory=list)
    note: str = ""


def kind_of(path: str) -> str:
    name = posixpath.basename(path)
    suffix = posixpath.splitext(name)[1].lower()
    if suffix in IMAGE_SUFFIXES:
        return "image"
    if suffix in HTML_SUFFIXES:
        return "html"
    if suffix == ".parquet":
        return "table"
    if suffix in TEXT_SUFFIXES or name in TEXT_NAMES or not suffix:
        return "text"
    return "none"


def _read_head(repo: ArtifactRepository, path: str, limit: int) -> tuple[bytes, bool]:
    with repo.open(path) as f:
        data = f.read(limit + 1)
    return data[:limit], len(data) > limit


def preview(repo: ArtifactRepository, path: str) -> Preview:
    """The preview of file `path` of `repo`."""
    kind = kind_of(path)
    if kind == "text":
        data, truncated = _read_head(repo, path, MAX_TEXT_BYTES)
        if b"\x00" in data[:4096]:
            return Preview(path, "none", note="This file is binary.")
        text = data.decode("utf-8", errors="replace")
        if path.lower().endswith(".json") and not truncated:
            try:
                text = json.dumps(json.loads(text), indent=2, ensure_ascii=False)
            except ValueError:
                pass
        return Preview(path, "text", text=text, truncated=truncated)
    if kind == "table":
        return _parquet_head(repo, path)
    return Preview(path, kind)


def _parquet_head(repo: ArtifactRepository, path: str) -> Preview:
    try:
        import pyarrow.parquet as pq
    except ImportError:
        return Preview(path, "none", note="Install slipway[serve] (pyarrow) to preview Parquet.")
    data, truncated = _read_head(repo, path, MAX_PARQUET_BYTES)
    if truncated:
        return Preview(path, "none", note="This Parquet file is too large to preview here.")
    parquet = pq.ParquetFile(io.BytesIO(data))
    head = next(parquet.iter_batches(batch_size=PARQUET_HEAD_ROWS), None)
    columns = list(parquet.schema_arrow.names)
    rows = [] if head is None else [list(r.values()) for r in head.to_pylist()]
    total = parquet.metadata.num_rows
    return Preview(
        path,
        "table",
        columns=columns,
        rows=rows,
        note=f"First {len(rows)} of {total:,} rows, {len(columns)} columns.",
    )


__all__ = ["Preview", "kind_of", "preview"]
