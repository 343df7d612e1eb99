"""The MLmodel directory format: one `MLmodel` YAML file describing a saved model.

A model directory holds the serialized model (e.g. `model.skops`), the `MLmodel` file,
environment files (`requirements.txt`, `python_env.yaml`, `conda.yaml`) and optionally an
input example. The `MLmodel` file is MLflow's format, so directories move freely between
slipway and MLflow::

    artifact_path: model                  # where it was logged in its run (absent when saved)
    flavors:
      python_function:                    # how to load it as a generic predictor
        loader_module: mlflow.sklearn
        model_path: model.skops
        predict_fn: predict
        python_version: 3.11.7
        env: {conda: conda.yaml, virtualenv: python_env.yaml}
      sklearn: {pickled_model: model.skops, serialization_format: skops, ...}
    mlflow_version: 3.17.2                # the MLflow format version we write
    model_uuid: 6f1c...                   # uuid4 hex
    run_id: ...                           # absent when saved outside a run
    signature: {inputs: '<json>', outputs: '<json>', params: null}
    saved_input_example_info: {artifact_path: input_example.json, type: dataframe, ...}
    slipway_version: 0.1.0
    utc_time_created: '2026-01-01 12:00:00.000000'

Keys written by MLflow that slipway does not use are kept and written back unchanged.
"""

from __future__ import annotations

import os
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from importlib import metadata as importlib_metadata
from pathlib import Path
from typing import Any

import yaml

from slipway._version import __version__
from slipway.errors import InvalidParameterValue, ResourceDoesNotExist
from slipway.models.signature import ModelSignature

MLMODEL_FILE_NAME = "MLmodel"
PYFUNC_FLAVOR = "python_function"
TIME_FORMAT = "%Y-%m-%d %H:%M:%S.%f"

# The MLflow release whose MLmodel format we write and test against; used when mlflow
# itself is not installed (when it is, its version is written, as MLflow does).
MLFLOW_FORMAT_VERSION = "3.17.2"

_KNOWN_KEYS = (
    "artifact_path",
    "flavors",
    "model_uuid",
    "model_id",
    "run_id",
    "utc_time_created",
    "mlflow_version",
    "slipway_version",
    "signature",
    "saved_input_example_info",
    "metadata",
    "model_size_bytes",
)


def mlflow_format_version() -> str:
    """The `mlflow_version` to write: the installed mlflow's, else the version we target.

    Read from package metadata, never by importing mlflow (which takes seconds).
    """
    try:
        return importlib_metadata.version("mlflow")
    except importlib_metadata.PackageNotFoundError:
        try:
            return importlib_metadata.version("mlflow-skinny")
        except importlib_metadata.PackageNotFoundError:
            return MLFLOW_FORMAT_VERSION


@dataclass
class ModelInfo:
    """What `log_model` returns: where the model went and what it is."""

    artifact_path: str
    model_uri: str
    run_id: str | None = None
    model_id: str | None = None
    flavors: dict[str, Any] = field(default_factory=dict)
    signature: ModelSignature | None = None
    registered_model_version: int | None = None
    model_uuid: str | None = None
    utc_time_created: str | None = None
    mlflow_version: str | None = None


class Model:
    """The contents of one MLmodel file."""

    def __init__(
        self,
        artifact_path: str | None = None,
        run_id: str | None = None,
        utc_time_created: str | None = None,
        flavors: dict[str, dict[str, Any]] | None = None,
        signature: ModelSignature | None = None,
        saved_input_example_info: dict[str, Any] | None = None,
        model_uuid: str | None = None,
        mlflow_version: str | None = None,
        model_id: str | None = None,
        metadata: dict[str, Any] | None = None,
        model_size_bytes: int | None = None,
        slipway_version: str | None = None,
        **extra: Any,
    ) -> None:
        self.artifact_path = artifact_path
        self.run_id = run_id
        self.utc_time_created = utc_time_created or datetime.now(UTC).strftime(TIME_FORMAT)
        self.flavors: dict[str, dict[str, Any]] = flavors if flavors is not None else {}
        self.signature = signature
        self.saved_input_example_info = saved_input_example_info
        self.model_uuid = model_uuid or uuid.uuid4().hex
        self.mlflow_version = mlflow_version
        self.model_id = model_id
        self.metadata = metadata
        self.model_size_bytes = model_size_bytes
        self.slipway_version = slipway_version
        # Keys MLflow (or a later slipway) wrote that we do not interpret, kept for round trips.
        self.extra = extra

    @classmethod
    def new(cls) -> Model:
        """A fresh model description stamped with this slipway and the MLflow format version."""
        return cls(mlflow_version=mlflow_format_version(), slipway_version=__version__)

    def add_flavor(self, name: str, **conf: Any) -> Model:
        """Record how to load the model with one flavor (`sklearn`, `python_function`, ...)."""
        self.flavors[name] = conf
        return self

    @property
    def pyfunc_conf(self) -> dict[str, Any] | None:
        """The `python_function` flavor configuration, if the model has one."""
        return self.flavors.get(PYFUNC_FLAVOR)

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = dict(self.extra)
        out.update(
            flavors=self.flavors,
            model_uuid=self.model_uuid,
            utc_time_created=self.utc_time_created,
        )
        optional = {
            "artifact_path": self.artifact_path,
            "run_id": self.run_id,
            "model_id": self.model_id,
            "mlflow_version": self.mlflow_version,
            "slipway_version": self.slipway_version,
            "saved_input_example_info": self.saved_input_example_info,
            "metadata": self.metadata,
            "model_size_bytes": self.model_size_bytes,
        }
        out.update({k: v for k, v in optional.items() if v is not None})
        if self.signature is not None:
            out["signature"] = self.signature.to_dict()
        return out

    def to_yaml(self) -> str:
        return yaml.safe_dump(self.to_dict(), default_flow_style=False)

    def save(self, path: str | os.PathLike[str]) -> Path:
        """Write the MLmodel file into directory `path` (or to `path` if it names the file)."""
        target = Path(path)
        if target.is_dir() or target.name != MLMODEL_FILE_NAME:
            target = target / MLMODEL_FILE_NAME
        target.write_text(self.to_yaml())
        return target

    @classmethod
    def from_dict(cls, d: dict[str, Any], source: str = "<dict>") -> Model:
        d = dict(d)
        flavors = d.pop("flavors", None)
        if not isinstance(flavors, dict) or not all(isinstance(v, dict) for v in flavors.values()):
            raise InvalidParameterValue(
                f"The MLmodel file at '{source}' is corrupt: 'flavors' must be a mapping of "
                "flavor name to configuration. Re-save or re-log the model."
            )
        signature = None
        if (raw := d.pop("signature", None)) is not None:
            try:
                signature = ModelSignature.from_dict(raw)
            except Exception as exc:
                raise InvalidParameterValue(
                    f"The MLmodel file at '{source}' has an unreadable signature: {exc}"
                ) from exc
        known = {k: d.pop(k) for k in _KNOWN_KEYS if k in d}
        for key in ("artifact_path", "run_id", "model_uuid", "model_id", "mlflow_version"):
            if known.get(key) is not None:
                known[key] = str(known[key])
        if known.get("utc_time_created") is not None:
            known["utc_time_created"] = str(known["utc_time_created"])
        return cls(flavors=flavors, signature=signature, **known, **d)

    @classmethod
    def load(cls, path: str | os.PathLike[str]) -> Model:
        """Read the MLmodel file of a model directory (or the file itself).

        Raises ResourceDoesNotExist if nothing is at `path`, InvalidParameterValue if the
        directory has no MLmodel file or the file is not a valid MLmodel document.
        """
        target = Path(path)
        if not target.exists():
            raise ResourceDoesNotExist(f"No model at '{path}': the path does not exist.")
        if target.is_dir():
            target = target / MLMODEL_FILE_NAME
            if not target.is_file():
                raise InvalidParameterValue(
                    f"'{path}' is not a model directory: it has no {MLMODEL_FILE_NAME} file. "
                    "A model directory is what save_model or log_model writes."
                )
        try:
            doc = yaml.safe_load(target.read_text())
        except (yaml.YAMLError, UnicodeDecodeError) as exc:
            raise InvalidParameterValue(
                f"The MLmodel file at '{target}' is corrupt: it is not valid YAML ({exc}). "
                "Re-save or re-log the model."
            ) from exc
        if not isinstance(doc, dict):
            raise InvalidParameterValue(
                f"The MLmodel file at '{target}' is corrupt: expected a YAML mapping, got "
                f"{type(doc).__name__}. Re-save or re-log the model."
            )
        return cls.from_dict(doc, source=str(target))

    def get_model_info(
        self, model_uri: str | None = None, registered_model_version: int | None = None
    ) -> ModelInfo:
        """Describe this model as `log_model` reports it."""
        if model_uri is None:
            if self.model_id:
                model_uri = f"models:/{self.model_id}"
            elif self.run_id and self.artifact_path:
                model_uri = f"runs:/{self.run_id}/{self.artifact_path}"
            else:
                model_uri = ""
        return ModelInfo(
            artifact_path=self.artifact_path or "",
            model_uri=model_uri,
            run_id=self.run_id,
            model_id=self.model_id,
            flavors=self.flavors,
            signature=self.signature,
            registered_model_version=registered_model_version,
            model_uuid=self.model_uuid,
            utc_time_created=self.utc_time_created,
            mlflow_version=self.mlflow_version,
        )

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Model) and self.to_dict() == other.to_dict()

    def __repr__(self) -> str:
        return f"Model(flavors={sorted(self.flavors)}, model_uuid={self.model_uuid!r})"


def resolve_inside(model_dir: str | os.PathLike[str], relative: str, what: str) -> Path:
    """Join a path read from an MLmodel file to its directory, refusing paths that escape it.

    An MLmodel file is data from wherever the model came from; a path like `../../etc`
    in it must not make us read or import files outside the model directory.
    """
    base = Path(model_dir).resolve()
    if not isinstance(relative, str) or not relative:
        raise InvalidParameterValue(
            f"The MLmodel file in '{model_dir}' names no file for {what}. Re-save the model."
        )
    candidate = (base / relative).resolve()
    if candidate != base and base not in candidate.parents:
        raise InvalidParameterValue(
            f"The MLmodel file in '{model_dir}' points {what} outside the model directory "
            f"({relative!r}); refusing to load it."
        )
    return candidate


__all__ = [
    "MLMODEL_FILE_NAME",
    "MLFLOW_FORMAT_VERSION",
    "PYFUNC_FLAVOR",
    "Model",
    "ModelInfo",
    "mlflow_format_version",
    "resolve_inside",
]
