"""What `slipway deploy` writes: the result it reports, and YAML files one object each."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml


@dataclass(frozen=True)
class DeployFiles:
    """What a `slipway deploy` command wrote, and what the user should know about it."""

    directory: str
    files: list[str]  # paths relative to `directory`, in the order written
    notes: list[str] = field(default_factory=list)
    image: str | None = None
    next_step: str | None = None  # the command to run next


def manifest_file_name(obj: dict[str, Any]) -> str:
    """`deployment.yaml` for a Deployment, `inferenceservice.yaml` for an InferenceService."""
    return f"{str(obj['kind']).lower()}.yaml"


def write_manifests(objects: Sequence[dict[str, Any]], output_dir: str | Path) -> list[str]:
    """Write each object to its own YAML file (keys in the order built); returns the names.

    `yaml.safe_dump` with `sort_keys=False` keeps the conventional order (apiVersion,
    kind, metadata, spec) and, since the objects are built the same way every time, the
    same bytes for the same inputs.
    """
    out = Path(output_dir)
    out.mkdir(parents=True, exist_ok=True)
    names = []
    for obj in objects:
        name = manifest_file_name(obj)
        if name in names:
            raise ValueError(f"Two objects would be written to {name}.")
        text = yaml.safe_dump(obj, sort_keys=False, default_flow_style=False, width=100)
        (out / name).write_text(text, encoding="utf-8")
        names.append(name)
    return names


__all__ = ["DeployFiles", "manifest_file_name", "write_manifests"]
