"""`RestRegistryStore`: the `RegistryStore` over HTTP, the MLflow registry and
logged-model routes of a server.

Gated promotion, alias rollback and the audit trail use slipway's own routes under
`/api/2.0/slipway/`. The acting user (`slipway.config.current_user()`, or the `actor`
argument) travels in the `X-Slipway-User` header so the server's audit trail names them;
`reason` and `force` travel as extra JSON fields that an MLflow server ignores.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any
from urllib.parse import quote

from slipway.config import current_user
from slipway.entities import (
    AuditEvent,
    GateCondition,
    LoggedModel,
    LoggedModelStatus,
    ModelVersion,
    PagedList,
    PromotionResult,
    RegisteredModel,
)
from slipway.store.interface import (
    SEARCH_LOGGED_MODEL_MAX_RESULTS_DEFAULT,
    SEARCH_MODEL_VERSION_MAX_RESULTS_DEFAULT,
    SEARCH_REGISTERED_MODEL_MAX_RESULTS_DEFAULT,
    RegistryStore,
)
from slipway.store.rest.protocol import MLFLOW, SLIPWAY, key_values, paged, without_none
from slipway.store.rest.session import RestSession, shared_session

ACTOR_HEADER = "X-Slipway-User"


class RestRegistryStore(RegistryStore):
    """The registry behind a `slipway server` (or MLflow server) URL."""

    def __init__(self, base_url: str, session: RestSession | None = None) -> None:
        """Talk to `base_url` through `session`, else the process's shared session to it."""
        self.session = session or shared_session(base_url)

    def close(self) -> None:
        """Nothing to release: the session belongs to whoever made it (see `shared_session`)."""

    def _call(
        self,
        method: str,
        path: str,
        body: dict[str, Any] | None = None,
        params: dict[str, Any] | None = None,
        *,
        actor: str | None = None,
        prefix: str = MLFLOW,
    ) -> dict[str, Any]:
        return self.session.call(
            method,
            prefix + path,
            None if body is None else without_none(body),
            None if params is None else without_none(params),
            headers={ACTOR_HEADER: actor or current_user()},
        )

    # --- registered models -------------------------------------------------------------
    def create_registered_model(
        self,
        name: str,
        tags: dict[str, str] | None = None,
        description: str | None = None,
        *,
        actor: str | None = None,
    ) -> RegisteredModel:
        body = {"name": name, "tags": key_values(tags), "description": description}
        answer = self._call("POST", "/registered-models/create", body, actor=actor)
        return RegisteredModel.from_dict(answer["registered_model"])

    def get_registered_model(self, name: str) -> RegisteredModel:
        answer = self._call("GET", "/registered-models/get", params={"name": name})
        return RegisteredModel.from_dict(answer["registered_model"])

    def search_registered_models(
        self,
        filter_string: str | None = None,
        max_results: int = SEARCH_REGISTERED_MODEL_MAX_RESULTS_DEFAULT,
        order_by: Sequence[str] | None = None,
        page_token: str | None = None,
    ) -> PagedList[RegisteredModel]:
        params = {
            "filter": filter_string,
            "max_results": max_results,
            "order_by": list(order_by or []),
            "page_token": page_token,
        }
        answer = self._call("GET", "/registered-models/search", params=params)
        return paged(answer, "registered_models", RegisteredModel.from_dict)

    def rename_registered_model(
        self, name: str, new_name: str, *, actor: str | None = None
    ) -> RegisteredModel:
        body = {"name": name, "new_name": new_name}
        answer = self._call("POST", "/registered-models/rename", body, actor=actor)
        return RegisteredModel.from_dict(answer["registered_model"])

    def update_registered_model(
        self, name: str, description: str | None, *, actor: str | None = None
    ) -> RegisteredModel:
        body = {"name": name, "description": description}
        answer = self._call("PATCH", "/registered-models/update", body, actor=actor)
        return RegisteredModel.from_dict(answer["registered_model"])

    def delete_registered_model(
        self, name: str, *, actor: str | None = None, reason: str | None = None
    ) -> None:
        body = {"name": name, "reason": reason}
        self._call("DELETE", "/registered-models/delete", body, actor=actor)

    def set_registered_model_tag(
        self, name: str, key: str, value: str, *, actor: str | None = None
    ) -> None:
        body = {"name": name, "key": key, "value": value}
        self._call("POST", "/registered-models/set-tag", body, actor=actor)

    def delete_registered_model_tag(self, name: str, key: str, *, actor: str | None = None) -> None:
        body = {"name": name, "key": key}
        self._call("DELETE", "/registered-models/delete-tag", body, actor=actor)

    def get_latest_versions(
        self, name: str, stages: Sequence[str] | None = None
    ) -> list[ModelVersion]:
        body = {"name": name, "stages": list(stages or [])}
        answer = self._call("POST", "/registered-models/get-latest-versions", body)
        return [ModelVersion.from_dict(v) for v in answer.get("model_versions", [])]

    # --- aliases -----------------------------------------------------------------------
    def set_registered_model_alias(
        self,
        name: str,
        alias: str,
        version: int,
        *,
        actor: str | None = None,
        reason: str | None = None,
    ) -> None:
        body = {"name": name, "alias": alias, "version": str(version), "reason": reason}
        self._call("POST", "/registered-models/alias", body, actor=actor)

    def delete_registered_model_alias(
        self, name: str, alias: str, *, actor: str | None = None, reason: str | None = None
    ) -> None:
        body = {"name": name, "alias": alias, "reason": reason}
        self._call("DELETE", "/registered-models/alias", body, actor=actor)

    def get_model_version_by_alias(self, name: str, alias: str) -> ModelVersion:
        params = {"name": name, "alias": alias}
        answer = self._call("GET", "/registered-models/alias", params=params)
        return ModelVersion.from_dict(answer["model_version"])

    def rollback_registered_model_alias(
        self, name: str, alias: str, *, actor: str | None = None, reason: str | None = None
    ) -> ModelVersion:
        body = {"name": name, "alias": alias, "reason": reason}
        answer = self._call(
            "POST", "/registered-models/alias/rollback", body, actor=actor, prefix=SLIPWAY
        )
        return ModelVersion.from_dict(answer["model_version"])

    # --- model versions ----------------------------------------------------------------
    def create_model_version(
        self,
        name: str,
        source: str,
        run_id: str | None = None,
        tags: dict[str, str] | None = None,
        run_link: str | None = None,
        description: str | None = None,
        model_id: str | None = None,
        *,
        actor: str | None = None,
    ) -> ModelVersion:
        body = {
            "name": name,
            "source": source,
            "run_id": run_id,
            "tags": key_values(tags),
            "run_link": run_link,
            "description": description,
            "model_id": model_id,
        }
        answer = self._call("POST", "/model-versions/create", body, actor=actor)
        return ModelVersion.from_dict(answer["model_version"])

    def get_model_version(self, name: str, version: int) -> ModelVersion:
        params = {"name": name, "version": str(version)}
        answer = self._call("GET", "/model-versions/get", params=params)
        return ModelVersion.from_dict(answer["model_version"])

    def update_model_version(
        self, name: str, version: int, description: str | None, *, actor: str | None = None
    ) -> ModelVersion:
        body = {"name": name, "version": str(version), "description": description}
        answer = self._call("PATCH", "/model-versions/update", body, actor=actor)
        return ModelVersion.from_dict(answer["model_version"])

    def delete_model_version(
        self,
        name: str,
        version: int,
        *,
        force: bool = False,
        actor: str | None = None,
        reason: str | None = None,
    ) -> None:
        body = {"name": name, "version": str(version), "force": force or None, "reason": reason}
        self._call("DELETE", "/model-versions/delete", body, actor=actor)

    def transition_model_version_stage(
        self,
        name: str,
        version: int,
        stage: str,
        archive_existing_versions: bool = False,
        *,
        actor: str | None = None,
        reason: str | None = None,
    ) -> ModelVersion:
        body = {
            "name": name,
            "version": str(version),
            "stage": stage,
            "archive_existing_versions": archive_existing_versions,
            "reason": reason,
        }
        answer = self._call("POST", "/model-versions/transition-stage", body, actor=actor)
        return ModelVersion.from_dict(answer["model_version"])

    def search_model_versions(
        self,
        filter_string: str | None = None,
        max_results: int = SEARCH_MODEL_VERSION_MAX_RESULTS_DEFAULT,
        order_by: Sequence[str] | None = None,
        page_token: str | None = None,
    ) -> PagedList[ModelVersion]:
        params = {
            "filter": filter_string,
            "max_results": max_results,
            "order_by": list(order_by or []),
            "page_token": page_token,
        }
        answer = self._call("GET", "/model-versions/search", params=params)
        return paged(answer, "model_versions", ModelVersion.from_dict)

    def get_model_version_download_uri(self, name: str, version: int) -> str:
        params = {"name": name, "version": str(version)}
        return self._call("GET", "/model-versions/get-download-uri", params=params)["artifact_uri"]

    def set_model_version_tag(
        self, name: str, version: int, key: str, value: str, *, actor: str | None = None
    ) -> None:
        body = {"name": name, "version": str(version), "key": key, "value": value}
        self._call("POST", "/model-versions/set-tag", body, actor=actor)

    def delete_model_version_tag(
        self, name: str, version: int, key: str, *, actor: str | None = None
    ) -> None:
        body = {"name": name, "version": str(version), "key": key}
        self._call("DELETE", "/model-versions/delete-tag", body, actor=actor)

    # --- gates and audit ---------------------------------------------------------------
    def promote(
        self,
        name: str,
        version: int,
        conditions: Sequence[GateCondition] = (),
        *,
        alias: str | None = None,
        stage: str | None = None,
        archive_existing_versions: bool = False,
        dry_run: bool = False,
        actor: str | None = None,
        reason: str | None = None,
    ) -> PromotionResult:
        body = {
            "name": name,
            "version": str(version),
            "require": [c.text for c in conditions if c.alias is None],
            "must_beat": [c.text for c in conditions if c.alias is not None],
            "alias": alias,
            "stage": stage,
            "archive_existing_versions": archive_existing_versions,
            "dry_run": dry_run,
            "reason": reason,
        }
        answer = self._call("POST", "/model-versions/promote", body, actor=actor, prefix=SLIPWAY)
        return PromotionResult.from_dict(answer["promotion"])

    def get_audit_events(self, name: str) -> list[AuditEvent]:
        answer = self._call(
            "GET", "/registered-models/history", params={"name": name}, prefix=SLIPWAY
        )
        return [AuditEvent.from_dict(e) for e in answer.get("events", [])]

    def append_audit_event(
        self,
        model_name: str,
        action: str,
        version: int | None = None,
        reason: str | None = None,
        field: str | None = None,
        old_value: str | None = None,
        new_value: str | None = None,
        *,
        actor: str | None = None,
    ) -> AuditEvent:
        body = {
            "model_name": model_name,
            "action": action,
            "version": None if version is None else str(version),
            "reason": reason,
            "field": field,
            "old_value": old_value,
            "new_value": new_value,
        }
        answer = self._call(
            "POST", "/registry/audit-events/create", body, actor=actor, prefix=SLIPWAY
        )
        return AuditEvent.from_dict(answer["event"])

    # --- MLflow 3 logged models --------------------------------------------------------
    @staticmethod
    def _model_path(model_id: str, suffix: str = "") -> str:
        return f"/logged-models/{quote(model_id, safe='')}{suffix}"

    def create_logged_model(
        self,
        experiment_id: str,
        name: str | None = None,
        source_run_id: str | None = None,
        tags: dict[str, str] | None = None,
        params: dict[str, str] | None = None,
        model_type: str | None = None,
    ) -> LoggedModel:
        body = {
            "experiment_id": str(experiment_id),
            "name": name,
            "source_run_id": source_run_id,
            "tags": key_values(tags),
            "params": key_values(params),
            "model_type": model_type,
        }
        return LoggedModel.from_dict(self._call("POST", "/logged-models", body)["model"])

    def get_logged_model(self, model_id: str, allow_deleted: bool = False) -> LoggedModel:
        params = {"allow_deleted": "true"} if allow_deleted else None
        answer = self._call("GET", self._model_path(model_id), params=params)
        return LoggedModel.from_dict(answer["model"])

    def delete_logged_model(self, model_id: str) -> None:
        self._call("DELETE", self._model_path(model_id), {"model_id": model_id})

    def finalize_logged_model(self, model_id: str, status: str) -> LoggedModel:
        body = {"model_id": model_id, "status": LoggedModelStatus.parse(status).proto_name}
        return LoggedModel.from_dict(self._call("PATCH", self._model_path(model_id), body)["model"])

    def set_logged_model_tags(self, model_id: str, tags: dict[str, str]) -> None:
        self._call("PATCH", self._model_path(model_id, "/tags"), {"tags": key_values(tags)})

    def delete_logged_model_tag(self, model_id: str, key: str) -> None:
        self._call("DELETE", self._model_path(model_id, f"/tags/{quote(key, safe='')}"))

    def log_logged_model_params(self, model_id: str, params: dict[str, str]) -> None:
        body = {"model_id": model_id, "params": key_values(params)}
        self._call("POST", self._model_path(model_id, "/params"), body)

    def search_logged_models(
        self,
        experiment_ids: Sequence[str],
        filter_string: str | None = None,
        max_results: int = SEARCH_LOGGED_MODEL_MAX_RESULTS_DEFAULT,
        order_by: Sequence[dict[str, Any]] | None = None,
        page_token: str | None = None,
        datasets: Sequence[dict[str, str]] | None = None,
    ) -> PagedList[LoggedModel]:
        body = {
            "experiment_ids": [str(i) for i in experiment_ids],
            "filter": filter_string,
            "max_results": max_results,
            "order_by": list(order_by or []),
            "page_token": page_token,
        }
        if datasets:
            body["datasets"] = [dict(d) for d in datasets]
        answer = self._call("POST", "/logged-models/search", body)
        return paged(answer, "models", LoggedModel.from_dict)


__all__ = ["ACTOR_HEADER", "RestRegistryStore"]
