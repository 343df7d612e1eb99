"""Plain dataclasses for everything slipway stores, and their MLflow JSON shapes.

`to_dict()` gives the MLflow REST protocol's JSON (snake_case, int64 as numbers, NaN and
infinities as the strings protobuf's JSON mapping uses); `from_dict()` reads it back. The
server, the REST transport and the CLI's `--json` all use these, so there is one encoding.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any, Generic, TypeVar

T = TypeVar("T")


class RunStatus(StrEnum):
    RUNNING = "RUNNING"
    SCHEDULED = "SCHEDULED"
    FINISHED = "FINISHED"
    FAILED = "FAILED"
    KILLED = "KILLED"

    @classmethod
    def is_terminated(cls, status: str) -> bool:
        return status in (cls.FINISHED, cls.FAILED, cls.KILLED)


class LifecycleStage(StrEnum):
    ACTIVE = "active"
    DELETED = "deleted"


class ViewType(StrEnum):
    ACTIVE_ONLY = "ACTIVE_ONLY"
    DELETED_ONLY = "DELETED_ONLY"
    ALL = "ALL"

    def stages(self) -> tuple[str, ...]:
        if self is ViewType.ACTIVE_ONLY:
            return (LifecycleStage.ACTIVE.value,)
        if self is ViewType.DELETED_ONLY:
            return (LifecycleStage.DELETED.value,)
        return (LifecycleStage.ACTIVE.value, LifecycleStage.DELETED.value)

    @classmethod
    def parse(cls, value: str | int | ViewType | None) -> ViewType:
        """Accept the enum, its name, or the protocol's numeric value (1, 2, 3)."""
        if value is None or value == "":
            return cls.ACTIVE_ONLY
        if isinstance(value, ViewType):
            return value
        if isinstance(value, int) or (isinstance(value, str) and value.isdigit()):
            return {1: cls.ACTIVE_ONLY, 2: cls.DELETED_ONLY, 3: cls.ALL}[int(value)]
        return cls(str(value).upper())


def encode_float(value: float) -> float | str:
    """A double as protobuf JSON writes it: non-finite values become strings."""
    if math.isfinite(value):
        return value
    if math.isnan(value):
        return "NaN"
    return "Infinity" if value > 0 else "-Infinity"


def decode_float(value: Any) -> float:
    if isinstance(value, str):
        return float({"Infinity": "inf", "-Infinity": "-inf"}.get(value, value))
    return float(value)


@dataclass(frozen=True, slots=True)
class Metric:
    key: str
    value: float
    timestamp: int
    step: int = 0

    def to_dict(self) -> dict[str, Any]:
        return {
            "key": self.key,
            "value": encode_float(self.value),
            "timestamp": self.timestamp,
            "step": self.step,
        }

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Metric:
        return cls(
            key=d["key"],
            value=decode_float(d["value"]),
            timestamp=int(d.get("timestamp") or 0),
            step=int(d.get("step") or 0),
        )


@dataclass(frozen=True, slots=True)
class Param:
    key: str
    value: str

    def to_dict(self) -> dict[str, Any]:
        return {"key": self.key, "value": self.value}

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Param:
        return cls(key=d["key"], value=str(d.get("value", "")))


@dataclass(frozen=True, slots=True)
class Tag:
    """A key/value tag on an experiment, run, dataset input, model or version."""

    key: str
    value: str

    def to_dict(self) -> dict[str, Any]:
        return {"key": self.key, "value": self.value}

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Tag:
        return cls(key=d["key"], value=str(d.get("value", "")))


RunTag = Tag
ExperimentTag = Tag


def _tags_to_list(tags: dict[str, str]) -> list[dict[str, str]]:
    return [{"key": k, "value": v} for k, v in tags.items()]


def _tags_from_list(items: list[dict[str, Any]] | None) -> dict[str, str]:
    return {t["key"]: str(t.get("value", "")) for t in items or []}


@dataclass(slots=True)
class Experiment:
    experiment_id: str
    name: str
    artifact_location: str
    lifecycle_stage: str = LifecycleStage.ACTIVE.value
    creation_time: int | None = None
    last_update_time: int | None = None
    tags: dict[str, str] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {
            "experiment_id": self.experiment_id,
            "name": self.name,
            "artifact_location": self.artifact_location,
            "lifecycle_stage": self.lifecycle_stage,
            "creation_time": self.creation_time,
            "last_update_time": self.last_update_time,
            "tags": _tags_to_list(self.tags),
        }

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Experiment:
        return cls(
            experiment_id=str(d["experiment_id"]),
            name=d["name"],
            artifact_location=d.get("artifact_location", ""),
            lifecycle_stage=d.get("lifecycle_stage", LifecycleStage.ACTIVE.value),
            creation_time=d.get("creation_time"),
            last_update_time=d.get("last_update_time"),
            tags=_tags_from_list(d.get("tags")),
        )


@dataclass(slots=True)
class RunInfo:
    run_id: str
    experiment_id: str
    run_name: str
    user_id: str
    status: str
    start_time: int | None
    end_time: int | None
    artifact_uri: str
    lifecycle_stage: str = LifecycleStage.ACTIVE.value

    def to_dict(self) -> dict[str, Any]:
        return {
            "run_id": self.run_id,
            "run_uuid": self.run_id,
            "run_name": self.run_name,
            "experiment_id": self.experiment_id,
            "user_id": self.user_id,
            "status": self.status,
            "start_time": self.start_time,
            "end_time": self.end_time,
            "artifact_uri": self.artifact_uri,
            "lifecycle_stage": self.lifecycle_stage,
        }

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> RunInfo:
        return cls(
            run_id=d.get("run_id") or d["run_uuid"],
            experiment_id=str(d["experiment_id"]),
            run_name=d.get("run_name", ""),
            user_id=d.get("user_id", ""),
            status=d.get("status", RunStatus.RUNNING.value),
            start_time=d.get("start_time"),
            end_time=d.get("end_time"),
            artifact_uri=d.get("artifact_uri", ""),
            lifecycle_stage=d.get("lifecycle_stage", LifecycleStage.ACTIVE.value),
        )


@dataclass(slots=True)
class RunData:
    """A run's latest metric values, params and tags, as dicts keyed by name."""

    metrics: dict[str, float] = field(default_factory=dict)
    params: dict[str, str] = field(default_factory=dict)
    tags: dict[str, str] = field(default_factory=dict)
    latest_metrics: list[Metric] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {
            "metrics": [m.to_dict() for m in self.latest_metrics],
            "params": _tags_to_list(self.params),
            "tags": _tags_to_list(self.tags),
        }

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> RunData:
        latest = [Metric.from_dict(m) for m in d.get("metrics") or []]
        return cls(
            metrics={m.key: m.value for m in latest},
            params=_tags_from_list(d.get("params")),
            tags=_tags_from_list(d.get("tags")),
            latest_metrics=latest,
        )


@dataclass(frozen=True, slots=True)
class Dataset:
    name: str
    digest: str
    source_type: str = ""
    source: str = ""
    schema: str = ""
    profile: str = ""

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "digest": self.digest,
            "source_type": self.source_type,
            "source": self.source,
            "schema": self.schema,
            "profile": self.profile,
        }

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Dataset:
        return cls(
            name=d["name"],
            digest=d["digest"],
            source_type=d.get("source_type", "") or "",
            source=d.get("source", "") or "",
            schema=d.get("schema", "") or "",
            profile=d.get("profile", "") or "",
        )


@dataclass(slots=True)
class DatasetInput:
    dataset: Dataset
    tags: dict[str, str] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {"tags": _tags_to_list(self.tags), "dataset": self.dataset.to_dict()}

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> DatasetInput:
        return cls(dataset=Dataset.from_dict(d["dataset"]), tags=_tags_from_list(d.get("tags")))


@dataclass(slots=True)
class Run:
    info: RunInfo
    data: RunData = field(default_factory=RunData)
    inputs: list[DatasetInput] = field(default_factory=list)
    model_outputs: list[dict[str, Any]] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {
            "info": self.info.to_dict(),
            "data": self.data.to_dict(),
            "inputs": {"dataset_inputs": [i.to_dict() for i in self.inputs]},
            "outputs": {"model_outputs": list(self.model_outputs)},
        }

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Run:
        return cls(
            info=RunInfo.from_dict(d["info"]),
            data=RunData.from_dict(d.get("data") or {}),
            inputs=[
                DatasetInput.from_dict(i) for i in (d.get("inputs") or {}).get("dataset_inputs", [])
            ],
            model_outputs=list((d.get("outputs") or {}).get("model_outputs", [])),
        )


@dataclass(frozen=True, slots=True)
class FileInfo:
    path: str
    is_dir: bool
    file_size: int | None = None

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"path": self.path, "is_dir": self.is_dir}
        if not self.is_dir and self.file_size is not None:
            out["file_size"] = self.file_size
        return out

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> FileInfo:
        size = d.get("file_size")
        return cls(
            path=d["path"],
            is_dir=bool(d.get("is_dir")),
            file_size=None if size is None else int(size),
        )


@dataclass(slots=True)
class PagedList(Generic[T]):
    """One page of results and the opaque token for the next (None on the last page)."""

    items: list[T]
    next_page_token: str | None = None

    def __iter__(self):
        return iter(self.items)

    def __len__(self) -> int:
        return len(self.items)

    def __getitem__(self, i):
        return self.items[i]


__all__ = [
    "Dataset",
    "DatasetInput",
    "Experiment",
    "ExperimentTag",
    "FileInfo",
    "LifecycleStage",
    "Metric",
    "PagedList",
    "Param",
    "Run",
    "RunData",
    "RunInfo",
    "RunStatus",
    "RunTag",
    "Tag",
    "ViewType",
]
