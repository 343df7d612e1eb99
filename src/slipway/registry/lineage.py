"""Lineage of a model version: the run that made it, its params, metrics, data and code.

Everything is read from the run as it is now, except the metrics and params, which fall
back to the snapshot taken at registration when the run is gone.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from slipway.entities import DatasetInput, LoggedModel, ModelVersion, Run
from slipway.errors import ResourceDoesNotExist
from slipway.store.interface import RegistryStore, TrackingStore

GIT_COMMIT_TAG = "mlflow.source.git.commit"
SOURCE_NAME_TAG = "mlflow.source.name"
RUN_NAME_TAG = "mlflow.runName"


@dataclass(slots=True)
class Lineage:
    """Where a model version came from."""

    version: ModelVersion
    artifact_uri: str
    run: Run | None = None
    logged_model: LoggedModel | None = None
    params: dict[str, str] = field(default_factory=dict)
    metrics: dict[str, float] = field(default_factory=dict)
    datasets: list[DatasetInput] = field(default_factory=list)
    git_commit: str | None = None
    source_name: str | None = None

    @property
    def run_id(self) -> str | None:
        return self.version.run_id

    @property
    def experiment_id(self) -> str | None:
        if self.run is not None:
            return self.run.info.experiment_id
        return None if self.logged_model is None else self.logged_model.experiment_id

    def to_dict(self) -> dict[str, Any]:
        run = self.run
        return {
            "model_version": self.version.to_dict(),
            "artifact_uri": self.artifact_uri,
            "run_id": self.run_id,
            "run_name": None if run is None else run.info.run_name,
            "experiment_id": self.experiment_id,
            "logged_model_id": self.version.model_id,
            "git_commit": self.git_commit,
            "source_name": self.source_name,
            "params": dict(self.params),
            "metrics": dict(self.metrics),
            "datasets": [d.to_dict() for d in self.datasets],
        }


def version_lineage(
    registry: RegistryStore, tracking: TrackingStore, name: str, version: int
) -> Lineage:
    """Collect a version's lineage; a missing run or logged model is tolerated."""
    mv = registry.get_model_version(name, version)
    lineage = Lineage(
        version=mv,
        artifact_uri=registry.get_model_version_download_uri(name, version),
        params=dict(mv.params),
        metrics=dict(mv.metrics),
    )
    if mv.model_id:
        try:
            lineage.logged_model = registry.get_logged_model(mv.model_id, allow_deleted=True)
        except ResourceDoesNotExist:
            pass
    if mv.run_id:
        try:
            run = tracking.get_run(mv.run_id)
        except ResourceDoesNotExist:
            return lineage
        lineage.run = run
        lineage.params = {**mv.params, **run.data.params}
        lineage.metrics = {**mv.metrics, **run.data.metrics}
        lineage.datasets = list(run.inputs)
        lineage.git_commit = run.data.tags.get(GIT_COMMIT_TAG)
        lineage.source_name = run.data.tags.get(SOURCE_NAME_TAG)
    return lineage


__all__ = ["GIT_COMMIT_TAG", "Lineage", "version_lineage"]
