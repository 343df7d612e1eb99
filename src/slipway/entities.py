"""Plain dataclasses for everything slipway stores, and their MLflow JSON shapes.

`to_dict()` gives the MLflow REST protocol's JSON (snake_case, int64 as numbers, NaN and
infinities as the strings protobuf's JSON mapping uses); `from_dict()` reads it back. The
server, the REST transport and the CLI's `--json` all use these, so there is one encoding.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any, Generic, TypeVar

from slipway.errors import InvalidParameterValue

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


def now_ms() -> int:
    """The current time as epoch milliseconds, the unit of every timestamp slipway stores."""
    return int(time.time() * 1000)


def string_dict(values: dict[Any, Any] | None) -> dict[str, str] | None:
    """Tags and params as the store keeps them: string keys, string values (None stays None)."""
    return None if values is None else {str(k): str(v) for k, v in values.items()}


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
    out = {}
    for t in items or ():
        value = t.get("value", "")
        out[t["key"]] = value if type(value) is str else str(value)
    return out


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
        # Inlined Metric.to_dict: a search answers with hundreds of these at a time.
        return {
            "metrics": [
                {
                    "key": m.key,
                    "value": m.value if -_MAX < m.value < _MAX else encode_float(m.value),
                    "timestamp": m.timestamp,
                    "step": m.step,
                }
                for m in self.latest_metrics
            ],
            "params": _tags_to_list(self.params),
            "tags": _tags_to_list(self.tags),
        }

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> RunData:
        latest = [_metric_from_dict(m) for m in d.get("metrics") or ()]
        return cls(
            metrics={m.key: m.value for m in latest},
            params=_tags_from_list(d.get("params")),
            tags=_tags_from_list(d.get("tags")),
            latest_metrics=latest,
        )


_MAX = math.inf  # finite floats lie strictly between -inf and inf; NaN compares False


def _metric_from_dict(d: dict[str, Any]) -> Metric:
    """Metric.from_dict for the common case (a JSON number, integer fields), else it."""
    value, stamp, step = d["value"], d.get("timestamp"), d.get("step")
    if type(value) is float and type(stamp) is int and type(step) is int:
        return Metric(d["key"], value, stamp, step)
    return Metric.from_dict(d)


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
    # Logged models the run used as inputs (`log_inputs(models=…)`): [{"model_id": …}].
    model_inputs: list[dict[str, Any]] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        inputs: dict[str, Any] = {"dataset_inputs": [i.to_dict() for i in self.inputs]}
        if self.model_inputs:
            inputs["model_inputs"] = list(self.model_inputs)
        return {
            "info": self.info.to_dict(),
            "data": self.data.to_dict(),
            "inputs": inputs,
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
            model_inputs=list((d.get("inputs") or {}).get("model_inputs", [])),
        )


_RUN_DATA = Run.__dict__["data"]  # the slot behind Run.data


class LazyRun(Run):
    """A Run read from a protocol answer whose data (metrics, params, tags) is decoded on
    first use.

    A search answers with whole runs, and turning 100 runs' metrics into `Metric` objects
    costs the client more than the rest of the answer; many callers only read `info`.
    It equals (and prints as) the `Run` it stands for.
    """

    __slots__ = ("_raw_data",)

    def __init__(self, d: dict[str, Any]) -> None:  # d: the protocol's run object
        self._raw_data = d.get("data") or {}
        self.info = RunInfo.from_dict(d["info"])
        self.inputs = [
            DatasetInput.from_dict(i) for i in (d.get("inputs") or {}).get("dataset_inputs", [])
        ]
        self.model_outputs = list((d.get("outputs") or {}).get("model_outputs", []))

    @property  # type: ignore[override]
    def data(self) -> RunData:
        try:
            return _RUN_DATA.__get__(self, Run)
        except AttributeError:
            value = RunData.from_dict(self._raw_data)
            _RUN_DATA.__set__(self, value)
            self._raw_data = None
            return value

    @data.setter
    def data(self, value: RunData) -> None:
        _RUN_DATA.__set__(self, value)

    def _fields(self) -> tuple[Any, ...]:
        return (self.info, self.data, self.inputs, self.model_outputs)

    def __eq__(self, other: object) -> bool:
        if isinstance(other, Run):
            return self._fields() == (other.info, other.data, other.inputs, other.model_outputs)
        return NotImplemented

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        return repr(Run(*self._fields()))

    def __reduce__(self) -> tuple[Any, ...]:
        return (Run, self._fields())


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


# --- model registry (MLflow's registered models, model versions and logged models) -------

STAGES = ("None", "Staging", "Production", "Archived")
"""The legacy model-version stages, in MLflow's spelling."""

_STAGE_BY_LOWER = {s.lower(): s for s in STAGES}


def canonical_stage(stage: str) -> str:
    """MLflow's stage spelling for any capitalisation (`production` → `Production`)."""
    canonical = _STAGE_BY_LOWER.get(str(stage).strip().lower())
    if canonical is None:
        raise InvalidParameterValue(
            f"Invalid stage {stage!r}: use one of {', '.join(STAGES)} (any capitalisation)."
        )
    return canonical


def _version_str(version: Any) -> str | None:
    return None if version is None else str(version)


@dataclass(slots=True)
class ModelVersion:
    """One registered version of a model.

    `metrics` and `params` are the source run's values when the version was registered
    (sent as the protocol's `model_metrics` / `model_params`), so a version keeps its
    numbers even if the run changes later.
    """

    name: str
    version: int
    creation_timestamp: int
    last_updated_timestamp: int
    source: str = ""
    run_id: str | None = None
    run_link: str | None = None
    status: str = "READY"
    status_message: str | None = None
    description: str | None = None
    user_id: str | None = None
    current_stage: str = "None"
    tags: dict[str, str] = field(default_factory=dict)
    aliases: list[str] = field(default_factory=list)
    model_id: str | None = None
    metrics: dict[str, float] = field(default_factory=dict)
    params: dict[str, str] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "name": self.name,
            "version": str(self.version),
            "creation_timestamp": self.creation_timestamp,
            "last_updated_timestamp": self.last_updated_timestamp,
            "current_stage": self.current_stage,
            "source": self.source,
            "status": self.status,
            "tags": _tags_to_list(self.tags),
            "aliases": list(self.aliases),
            "run_link": self.run_link or "",
            "user_id": self.user_id or "",
        }
        for key in ("run_id", "status_message", "description", "model_id"):
            value = getattr(self, key)
            if value is not None:
                out[key] = value
        if self.params:
            out["model_params"] = [{"name": k, "value": v} for k, v in self.params.items()]
        if self.metrics:
            out["model_metrics"] = [
                {"key": k, "value": encode_float(v), "run_id": self.run_id or ""}
                for k, v in self.metrics.items()
            ]
        return out

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> ModelVersion:
        return cls(
            name=d["name"],
            version=int(d["version"]),
            creation_timestamp=int(d.get("creation_timestamp") or 0),
            last_updated_timestamp=int(d.get("last_updated_timestamp") or 0),
            source=d.get("source", "") or "",
            run_id=d.get("run_id") or None,
            run_link=d.get("run_link") or None,
            status=d.get("status") or "READY",
            status_message=d.get("status_message"),
            description=d.get("description"),
            user_id=d.get("user_id") or None,
            current_stage=d.get("current_stage") or "None",
            tags=_tags_from_list(d.get("tags")),
            aliases=list(d.get("aliases") or []),
            model_id=d.get("model_id") or None,
            metrics={m["key"]: decode_float(m["value"]) for m in d.get("model_metrics") or []},
            params={p["name"]: str(p.get("value", "")) for p in d.get("model_params") or []},
        )


@dataclass(slots=True)
class RegisteredModel:
    """A named model: its versions are numbered 1, 2, 3, … and `aliases` map to versions."""

    name: str
    creation_timestamp: int
    last_updated_timestamp: int
    description: str | None = None
    user_id: str | None = None
    tags: dict[str, str] = field(default_factory=dict)
    aliases: dict[str, int] = field(default_factory=dict)
    latest_versions: list[ModelVersion] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "name": self.name,
            "creation_timestamp": self.creation_timestamp,
            "last_updated_timestamp": self.last_updated_timestamp,
            "user_id": self.user_id or "",
            "tags": _tags_to_list(self.tags),
            "aliases": [{"alias": a, "version": str(v)} for a, v in self.aliases.items()],
            "latest_versions": [v.to_dict() for v in self.latest_versions],
        }
        if self.description is not None:
            out["description"] = self.description
        return out

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> RegisteredModel:
        return cls(
            name=d["name"],
            creation_timestamp=int(d.get("creation_timestamp") or 0),
            last_updated_timestamp=int(d.get("last_updated_timestamp") or 0),
            description=d.get("description"),
            user_id=d.get("user_id") or None,
            tags=_tags_from_list(d.get("tags")),
            aliases={a["alias"]: int(a["version"]) for a in d.get("aliases") or []},
            latest_versions=[ModelVersion.from_dict(v) for v in d.get("latest_versions") or []],
        )


class LoggedModelStatus(StrEnum):
    """MLflow 3 logged-model status; `to_dict` writes the protocol's enum names."""

    PENDING = "PENDING"
    READY = "READY"
    FAILED = "FAILED"

    @property
    def proto_name(self) -> str:
        return _LOGGED_MODEL_PROTO[self]

    @classmethod
    def parse(cls, value: Any) -> LoggedModelStatus:
        """Accept PENDING/READY/FAILED, the protocol names or numbers (1, 2, 3)."""
        text = str(value).strip().upper()
        for status, proto in _LOGGED_MODEL_PROTO.items():
            if text in (status.value, proto, str(_LOGGED_MODEL_NUMBERS[status])):
                return status

        raise InvalidParameterValue(
            f"Invalid logged model status {value!r}: use PENDING, READY or FAILED."
        )


_LOGGED_MODEL_PROTO = {
    LoggedModelStatus.PENDING: "LOGGED_MODEL_PENDING",
    LoggedModelStatus.READY: "LOGGED_MODEL_READY",
    LoggedModelStatus.FAILED: "LOGGED_MODEL_UPLOAD_FAILED",
}
_LOGGED_MODEL_NUMBERS = {
    LoggedModelStatus.PENDING: 1,
    LoggedModelStatus.READY: 2,
    LoggedModelStatus.FAILED: 3,
}


@dataclass(frozen=True, slots=True)
class LoggedModelMetric:
    """A metric point linked to a logged model (`log_metric(..., model_id=…)`), with the run
    and the dataset it was measured on; MLflow's `Metric` with its model fields."""

    key: str
    value: float
    timestamp: int
    step: int
    model_id: str
    run_id: str | None = None
    dataset_name: str | None = None
    dataset_digest: str | None = None

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "key": self.key,
            "value": encode_float(self.value),
            "timestamp": self.timestamp,
            "step": self.step,
            "model_id": self.model_id,
        }
        for name in ("run_id", "dataset_name", "dataset_digest"):
            value = getattr(self, name)
            if value is not None:
                out[name] = value
        return out

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> LoggedModelMetric:
        return cls(
            key=d["key"],
            value=decode_float(d["value"]),
            timestamp=int(d.get("timestamp") or 0),
            step=int(d.get("step") or 0),
            model_id=d.get("model_id") or "",
            run_id=d.get("run_id") or None,
            dataset_name=d.get("dataset_name") or None,
            dataset_digest=d.get("dataset_digest") or None,
        )


@dataclass(slots=True)
class LoggedModel:
    """An MLflow 3 logged model (`models:/m-<id>`): a model's files, outside any run folder."""

    model_id: str
    experiment_id: str
    name: str
    artifact_location: str
    creation_timestamp: int
    last_updated_timestamp: int
    status: str = LoggedModelStatus.PENDING.value
    status_message: str | None = None
    source_run_id: str | None = None
    model_type: str | None = None
    tags: dict[str, str] = field(default_factory=dict)
    params: dict[str, str] = field(default_factory=dict)
    metrics: list[LoggedModelMetric] = field(default_factory=list)

    @property
    def model_uri(self) -> str:
        return f"models:/{self.model_id}"

    def to_dict(self) -> dict[str, Any]:
        info: dict[str, Any] = {
            "model_id": self.model_id,
            "experiment_id": self.experiment_id,
            "name": self.name,
            "creation_timestamp_ms": self.creation_timestamp,
            "last_updated_timestamp_ms": self.last_updated_timestamp,
            "artifact_uri": self.artifact_location,
            "status": LoggedModelStatus(self.status).proto_name,
            "tags": _tags_to_list(self.tags),
        }
        for key in ("source_run_id", "model_type", "status_message"):
            value = getattr(self, key)
            if value is not None:
                info[key] = value
        return {
            "info": info,
            "data": {
                "params": _tags_to_list(self.params),
                "metrics": [m.to_dict() for m in self.metrics],
            },
        }

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> LoggedModel:
        info = d.get("info") or {}
        data = d.get("data") or {}
        return cls(
            model_id=info["model_id"],
            experiment_id=str(info.get("experiment_id", "")),
            name=info.get("name", ""),
            artifact_location=info.get("artifact_uri", ""),
            creation_timestamp=int(info.get("creation_timestamp_ms") or 0),
            last_updated_timestamp=int(info.get("last_updated_timestamp_ms") or 0),
            status=LoggedModelStatus.parse(info.get("status") or "PENDING").value,
            status_message=info.get("status_message"),
            source_run_id=info.get("source_run_id") or None,
            model_type=info.get("model_type") or None,
            tags=_tags_from_list(info.get("tags")),
            params=_tags_from_list(data.get("params")),
            metrics=[LoggedModelMetric.from_dict(m) for m in data.get("metrics") or ()],
        )


class AuditAction(StrEnum):
    """What an audit event records; `field` says which alias, tag or attribute changed."""

    MODEL_CREATED = "model_created"
    MODEL_RENAMED = "model_renamed"
    MODEL_DELETED = "model_deleted"
    VERSION_CREATED = "version_created"
    VERSION_DELETED = "version_deleted"
    DESCRIPTION_UPDATED = "description_updated"
    TAG_SET = "tag_set"
    TAG_DELETED = "tag_deleted"
    ALIAS_SET = "alias_set"
    ALIAS_DELETED = "alias_deleted"
    ALIAS_ROLLBACK = "alias_rollback"
    STAGE_TRANSITION = "stage_transition"
    GATE_PASSED = "gate_passed"
    GATE_FAILED = "gate_failed"


@dataclass(frozen=True, slots=True)
class AuditEvent:
    """One registry change, as written in the same transaction as the change itself."""

    event_id: int
    timestamp: int
    actor: str
    model_name: str
    action: str
    version: int | None = None
    field: str | None = None
    old_value: str | None = None
    new_value: str | None = None
    reason: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "event_id": self.event_id,
            "timestamp": self.timestamp,
            "actor": self.actor,
            "model_name": self.model_name,
            "action": self.action,
            "version": _version_str(self.version),
            "field": self.field,
            "old_value": self.old_value,
            "new_value": self.new_value,
            "reason": self.reason,
        }

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> AuditEvent:
        version = d.get("version")
        return cls(
            event_id=int(d["event_id"]),
            timestamp=int(d["timestamp"]),
            actor=d.get("actor", ""),
            model_name=d.get("model_name", ""),
            action=d["action"],
            version=None if version in (None, "") else int(version),
            field=d.get("field"),
            old_value=d.get("old_value"),
            new_value=d.get("new_value"),
            reason=d.get("reason"),
        )


@dataclass(frozen=True, slots=True)
class ModelUri:
    """A parsed `models:/` URI.

    `models:/name/3` (version), `models:/name/Production` (latest in a stage),
    `models:/name/latest` (latest of all), `models:/name@champion` (alias) and
    `models:/m-<id>` (an MLflow 3 logged model); `path` is anything after the reference.
    """

    name: str | None = None
    version: int | None = None
    stage: str | None = None
    alias: str | None = None
    model_id: str | None = None
    path: str = ""

    @classmethod
    def parse(cls, uri: str) -> ModelUri:

        def bad(why: str) -> InvalidParameterValue:
            return InvalidParameterValue(
                f"Invalid model URI {uri!r}: {why}. Use models:/<name>/<version>, "
                "models:/<name>@<alias>, models:/<name>/<stage>, models:/<name>/latest "
                "or models:/<model_id>."
            )

        if not uri.startswith("models:/"):
            raise bad("it does not start with models:/")
        parts = uri[len("models:/") :].strip("/").split("/")
        head = parts[0]
        if not head:
            raise bad("the model name is missing")
        if "@" in head:
            name, _, alias = head.rpartition("@")
            if not name or not alias:
                raise bad("both a name and an alias are needed around '@'")
            return cls(name=name, alias=alias, path="/".join(parts[1:]))
        if len(parts) == 1:
            return cls(model_id=head)
        suffix, path = parts[1], "/".join(parts[2:])
        if suffix.isdigit():
            return cls(name=head, version=int(suffix), path=path)
        if suffix.lower() == "latest":
            return cls(name=head, path=path)
        if suffix.lower() in _STAGE_BY_LOWER:
            return cls(name=head, stage=_STAGE_BY_LOWER[suffix.lower()], path=path)
        raise bad(f"{suffix!r} is not a version number, 'latest' or a stage ({', '.join(STAGES)})")


# --- quality gates ---------------------------------------------------------------------

_GATE_OPS = {
    ">=": lambda a, b: a >= b,
    ">": lambda a, b: a > b,
    "<=": lambda a, b: a <= b,
    "<": lambda a, b: a < b,
    "==": lambda a, b: a == b,
    "!=": lambda a, b: a != b,
}


def _fmt(value: float | None) -> str:
    return "not logged" if value is None else f"{value:.6g}"


@dataclass(frozen=True, slots=True)
class GateCondition:
    """One promotion gate on a metric of the candidate version's run.

    A threshold (`accuracy >= 0.85`) has `threshold`; a must-beat condition has `alias`
    and requires the candidate to be strictly better than the version holding that alias
    (`op` is ">" when higher is better, "<" when lower is better, e.g. a loss).
    """

    metric: str
    op: str
    threshold: float | None = None
    alias: str | None = None

    @property
    def text(self) -> str:
        """The condition as the CLI spells it (`accuracy>=0.85`, `champion:loss:lower`)."""
        if self.alias is not None:
            return f"{self.alias}:{self.metric}" + (":lower" if self.op == "<" else "")
        return f"{self.metric}{self.op}{self.threshold!r}"

    def evaluate(
        self,
        candidate_version: int,
        candidate_metrics: dict[str, float],
        holder: tuple[int, dict[str, float]] | None = None,
    ) -> GateCheck:
        """Check the candidate's metrics; `holder` is (version, metrics) of the alias holder."""
        actual = candidate_metrics.get(self.metric)

        def check(expected: float | None, passed: bool, detail: str) -> GateCheck:
            return GateCheck(self.text, self.metric, actual, expected, passed, detail)

        def holds(reference: float | None) -> bool:
            usable = actual is not None and not math.isnan(actual)
            return usable and _GATE_OPS[self.op](actual, reference)

        if self.alias is None:
            detail = f"{self.metric} = {_fmt(actual)}, needs {self.op} {self.threshold!r}"
            return check(self.threshold, holds(self.threshold), detail)
        if holder is None:
            return check(None, True, f"no version holds @{self.alias}; nothing to beat")
        holder_version, holder_metrics = holder
        if holder_version == candidate_version:
            return check(actual, True, f"version {candidate_version} already holds @{self.alias}")
        reference = holder_metrics.get(self.metric)
        where = f"@{self.alias} (version {holder_version})"
        if reference is None:
            return check(None, True, f"{where} has no {self.metric}; nothing to beat")
        better = "higher" if self.op == ">" else "lower"
        detail = (
            f"{self.metric} = {_fmt(actual)}, must be {better} than {where} = {_fmt(reference)}"
        )
        return check(reference, holds(reference), detail)

    def to_dict(self) -> dict[str, Any]:
        return {
            "metric": self.metric,
            "op": self.op,
            "threshold": self.threshold,
            "alias": self.alias,
        }

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> GateCondition:
        threshold = d.get("threshold")
        threshold = None if threshold is None else float(threshold)
        return cls(d["metric"], d["op"], threshold, d.get("alias"))


@dataclass(frozen=True, slots=True)
class GateCheck:
    """The outcome of one gate: the actual value, what it was compared with, pass/fail."""

    condition: str
    metric: str
    actual: float | None
    expected: float | None
    passed: bool
    detail: str

    def to_dict(self) -> dict[str, Any]:
        return {
            "condition": self.condition,
            "metric": self.metric,
            "actual": None if self.actual is None else encode_float(self.actual),
            "expected": None if self.expected is None else encode_float(self.expected),
            "passed": self.passed,
            "detail": self.detail,
        }

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> GateCheck:
        actual, expected = d.get("actual"), d.get("expected")
        return cls(
            condition=d["condition"],
            metric=d.get("metric", ""),
            actual=None if actual is None else decode_float(actual),
            expected=None if expected is None else decode_float(expected),
            passed=bool(d.get("passed")),
            detail=d.get("detail", ""),
        )


@dataclass(slots=True)
class PromotionResult:
    """What a gated promotion found and did (`applied` is False on failure or dry run)."""

    name: str
    version: int
    alias: str | None
    stage: str | None
    passed: bool
    applied: bool
    dry_run: bool
    checks: list[GateCheck] = field(default_factory=list)
    previous_alias_version: int | None = None
    previous_stage: str | None = None

    @property
    def failed_checks(self) -> list[GateCheck]:
        return [c for c in self.checks if not c.passed]

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "version": str(self.version),
            "alias": self.alias,
            "stage": self.stage,
            "passed": self.passed,
            "applied": self.applied,
            "dry_run": self.dry_run,
            "checks": [c.to_dict() for c in self.checks],
            "previous_alias_version": _version_str(self.previous_alias_version),
            "previous_stage": self.previous_stage,
        }

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> PromotionResult:
        previous = d.get("previous_alias_version")
        return cls(
            name=d["name"],
            version=int(d["version"]),
            alias=d.get("alias"),
            stage=d.get("stage"),
            passed=bool(d.get("passed")),
            applied=bool(d.get("applied")),
            dry_run=bool(d.get("dry_run")),
            checks=[GateCheck.from_dict(c) for c in d.get("checks") or []],
            previous_alias_version=None if previous in (None, "") else int(previous),
            previous_stage=d.get("previous_stage"),
        )


__all__ += [
    "STAGES",
    "AuditAction",
    "AuditEvent",
    "GateCheck",
    "GateCondition",
    "LoggedModel",
    "LoggedModelMetric",
    "LoggedModelStatus",
    "ModelUri",
    "ModelVersion",
    "PromotionResult",
    "RegisteredModel",
    "canonical_stage",
]


# --- monitors --------------------------------------------------------------------------
# A monitor's definition (`spec`) and its bookkeeping (`state`: alert conditions that are
# firing, cooldowns, the pending challenger) are JSON objects: the monitoring layer owns
# their shape, the store keeps them whole.


@dataclass(frozen=True, slots=True)
class Monitor:
    """A stored monitor: which model it watches, how (`spec`) and where it stands (`state`)."""

    name: str
    model_name: str
    spec: dict[str, Any]
    state: dict[str, Any]
    creation_time: int
    last_updated_time: int

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "model_name": self.model_name,
            "spec": self.spec,
            "state": self.state,
            "creation_time": self.creation_time,
            "last_updated_time": self.last_updated_time,
        }

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Monitor:
        return cls(
            name=d["name"],
            model_name=d["model_name"],
            spec=dict(d.get("spec") or {}),
            state=dict(d.get("state") or {}),
            creation_time=int(d.get("creation_time") or 0),
            last_updated_time=int(d.get("last_updated_time") or 0),
        )


@dataclass(frozen=True, slots=True)
class MonitorWindow:
    """One evaluated window of a monitor: one row of its time series (epoch ms bounds).

    `status` is `ok`, `drift`, `concept_drift` or `not_enough_data`; `metrics` holds the
    flat numbers charted over time (drift share, per-column scores, performance);
    `result` the full evaluation.
    """

    monitor_name: str
    window_start: int
    window_end: int
    status: str
    rows: int
    labelled_rows: int
    model_version: int | None
    metrics: dict[str, Any]
    result: dict[str, Any]
    evaluated_time: int

    def to_dict(self) -> dict[str, Any]:
        return {
            "monitor_name": self.monitor_name,
            "window_start": self.window_start,
            "window_end": self.window_end,
            "status": self.status,
            "rows": self.rows,
            "labelled_rows": self.labelled_rows,
            "model_version": self.model_version,
            "metrics": self.metrics,
            "result": self.result,
            "evaluated_time": self.evaluated_time,
        }

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> MonitorWindow:
        version = d.get("model_version")
        return cls(
            monitor_name=d["monitor_name"],
            window_start=int(d["window_start"]),
            window_end=int(d["window_end"]),
            status=d["status"],
            rows=int(d.get("rows") or 0),
            labelled_rows=int(d.get("labelled_rows") or 0),
            model_version=None if version in (None, "") else int(version),
            metrics=dict(d.get("metrics") or {}),
            result=dict(d.get("result") or {}),
            evaluated_time=int(d.get("evaluated_time") or 0),
        )


@dataclass(frozen=True, slots=True)
class MonitorEvent:
    """Something a monitor did: an alert fired or cleared, a delivery, a retrain, a promotion."""

    event_id: int
    monitor_name: str
    timestamp: int
    kind: str
    condition: str | None = None
    message: str | None = None
    details: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {
            "event_id": self.event_id,
            "monitor_name": self.monitor_name,
            "timestamp": self.timestamp,
            "kind": self.kind,
            "condition": self.condition,
            "message": self.message,
            "details": self.details,
        }

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> MonitorEvent:
        return cls(
            event_id=int(d["event_id"]),
            monitor_name=d["monitor_name"],
            timestamp=int(d["timestamp"]),
            kind=d["kind"],
            condition=d.get("condition"),
            message=d.get("message"),
            details=dict(d.get("details") or {}),
        )


__all__ += ["Monitor", "MonitorEvent", "MonitorWindow"]
