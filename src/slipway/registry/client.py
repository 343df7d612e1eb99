"""`RegistryClient`: models, versions, aliases, gates, cards, audit, model URIs.

The registry half of `slipway.Client` (which extends it with runs and logging); method
names follow `MlflowClient`. It holds the tracking store (runs are needed to resolve
`runs:/` URIs, register a run's model and read lineage) and opens the registry store of the
same URI on first use.
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import cached_property
from pathlib import Path
from typing import Any

from slipway import config
from slipway.artifacts import get_artifact_repository
from slipway.entities import (
    AuditEvent,
    LoggedModel,
    ModelUri,
    ModelVersion,
    PagedList,
    PromotionResult,
    RegisteredModel,
    string_dict,
)
from slipway.errors import GateFailed, InvalidParameterValue, ResourceAlreadyExists
from slipway.models.resolve import copy_local_model, local_path_from_uri
from slipway.registry.lineage import Lineage, version_lineage
from slipway.registry.uri import download_artifact_uri, resolve_artifact_uri, resolve_runs_uri
from slipway.store.factory import open_registry_store, open_tracking_store
from slipway.store.interface import (
    SEARCH_LOGGED_MODEL_MAX_RESULTS_DEFAULT,
    SEARCH_MODEL_VERSION_MAX_RESULTS_DEFAULT,
    SEARCH_REGISTERED_MODEL_MAX_RESULTS_DEFAULT,
    RegistryStore,
    TrackingStore,
)


class RegistryClient:
    """The model registry over one tracking URI, addressed by model name and version.

    `tracking_uri` defaults to the URI chosen with `slipway.set_tracking_uri`, else
    `$SLIPWAY_TRACKING_URI`, else the embedded SQLite store.
    """

    def __init__(
        self,
        tracking_uri: str | None = None,
        *,
        store: TrackingStore | None = None,
        registry_store: RegistryStore | None = None,
    ) -> None:
        self.tracking_uri = str(tracking_uri or config.get_tracking_uri())
        self._store = store or open_tracking_store(self.tracking_uri)
        if registry_store is not None:
            self.__dict__["registry_store"] = registry_store

    @property
    def store(self) -> TrackingStore:
        """The tracking store (runs, experiments) this client reads and writes."""
        return self._store

    @cached_property
    def registry_store(self) -> RegistryStore:
        """The registry store, opened beside the tracking store on first use."""
        return open_registry_store(self.tracking_uri, tracking_store=self._store)

    def close(self) -> None:
        registry = self.__dict__.get("registry_store")
        if registry is not None:
            registry.close()
        self._store.close()

    # --- registered models -------------------------------------------------------------
    def create_registered_model(
        self, name: str, tags: dict[str, Any] | None = None, description: str | None = None
    ) -> RegisteredModel:
        return self.registry_store.create_registered_model(name, string_dict(tags), description)

    def get_registered_model(self, name: str) -> RegisteredModel:
        return self.registry_store.get_registered_model(name)

    def search_registered_models(
        self,
        filter_string: str | None = None,
        max_results: int = SEARCH_REGISTERED_MODEL_MAX_RESULTS_DEFAULT,
        order_by: Sequence[str] | None = None,
        page_token: str | None = None,
    ) -> PagedList[RegisteredModel]:
        """Models matching e.g. `name LIKE 'churn%'` or `tags.team = 'risk'`."""
        return self.registry_store.search_registered_models(
            filter_string, max_results, order_by, page_token
        )

    def rename_registered_model(self, name: str, new_name: str) -> RegisteredModel:
        return self.registry_store.rename_registered_model(name, new_name)

    def update_registered_model(self, name: str, description: str | None = None) -> RegisteredModel:
        return self.registry_store.update_registered_model(name, description)

    def delete_registered_model(self, name: str, reason: str | None = None) -> None:
        """Delete a model and all its versions; its audit trail is kept."""
        self.registry_store.delete_registered_model(name, reason=reason)

    def set_registered_model_tag(self, name: str, key: str, value: Any) -> None:
        self.registry_store.set_registered_model_tag(name, key, str(value))

    def delete_registered_model_tag(self, name: str, key: str) -> None:
        self.registry_store.delete_registered_model_tag(name, key)

    def register_model(
        self, model_uri: str, name: str, tags: dict[str, Any] | None = None
    ) -> ModelVersion:
        """Create the registered model `name` if needed and a new version from `model_uri`.

        `model_uri` is `models:/<model_id>` (what `log_model` returns), `runs:/<run_id>/<path>`
        or any artifact URI. The version links to the model's run, so its lineage and metrics
        snapshot are recorded.
        """
        try:
            self.registry_store.create_registered_model(name)
        except ResourceAlreadyExists:
            pass
        source, run_id, model_id = model_uri, None, None
        if model_uri.startswith("runs:/"):
            location, model_id = resolve_runs_uri(
                model_uri, self.registry_store, self._store, self.tracking_uri
            )
            run_id = model_uri[len("runs:/") :].strip("/").partition("/")[0]
            # A logged model is registered by its id; run artifacts by where they are.
            source = f"models:/{model_id}" if model_id else location
        elif model_uri.startswith("models:/"):
            model_id = ModelUri.parse(model_uri).model_id
        return self.registry_store.create_model_version(
            name, source, run_id=run_id, tags=string_dict(tags), model_id=model_id
        )

    def get_latest_versions(
        self, name: str, stages: Sequence[str] | None = None
    ) -> list[ModelVersion]:
        return self.registry_store.get_latest_versions(name, stages)

    # --- model versions ----------------------------------------------------------------
    def create_model_version(
        self,
        name: str,
        source: str,
        run_id: str | None = None,
        tags: dict[str, Any] | None = None,
        run_link: str | None = None,
        description: str | None = None,
        model_id: str | None = None,
    ) -> ModelVersion:
        """Register `source` (an artifact URI, `runs:/…` or `models:/…`) as a new version."""
        return self.registry_store.create_model_version(
            name, source, run_id, string_dict(tags), run_link, description, model_id
        )

    def get_model_version(self, name: str, version: int | str) -> ModelVersion:
        return self.registry_store.get_model_version(name, _version(version))

    def search_model_versions(
        self,
        filter_string: str | None = None,
        max_results: int = SEARCH_MODEL_VERSION_MAX_RESULTS_DEFAULT,
        order_by: Sequence[str] | None = None,
        page_token: str | None = None,
    ) -> PagedList[ModelVersion]:
        """Versions matching e.g. `name = 'churn'` or `run_id = '…'`."""
        return self.registry_store.search_model_versions(
            filter_string, max_results, order_by, page_token
        )

    def update_model_version(
        self, name: str, version: int | str, description: str | None = None
    ) -> ModelVersion:
        return self.registry_store.update_model_version(name, _version(version), description)

    def delete_model_version(
        self, name: str, version: int | str, force: bool = False, reason: str | None = None
    ) -> None:
        """Refused while an alias points at the version, unless `force` (removes the alias)."""
        self.registry_store.delete_model_version(
            name, _version(version), force=force, reason=reason
        )

    def transition_model_version_stage(
        self,
        name: str,
        version: int | str,
        stage: str,
        archive_existing_versions: bool = False,
        reason: str | None = None,
    ) -> ModelVersion:
        """Move a version to None/Staging/Production/Archived (legacy stages)."""
        return self.registry_store.transition_model_version_stage(
            name, _version(version), stage, archive_existing_versions, reason=reason
        )

    def set_model_version_tag(self, name: str, version: int | str, key: str, value: Any) -> None:
        self.registry_store.set_model_version_tag(name, _version(version), key, str(value))

    def delete_model_version_tag(self, name: str, version: int | str, key: str) -> None:
        self.registry_store.delete_model_version_tag(name, _version(version), key)

    def get_model_version_download_uri(self, name: str, version: int | str) -> str:
        return self.registry_store.get_model_version_download_uri(name, _version(version))

    # --- aliases -----------------------------------------------------------------------
    def set_registered_model_alias(
        self, name: str, alias: str, version: int | str, reason: str | None = None
    ) -> None:
        """Point `@alias` at a version (moving it if set); the move is audited."""
        self.registry_store.set_registered_model_alias(
            name, alias, _version(version), reason=reason
        )

    def delete_registered_model_alias(
        self, name: str, alias: str, reason: str | None = None
    ) -> None:
        self.registry_store.delete_registered_model_alias(name, alias, reason=reason)

    def get_model_version_by_alias(self, name: str, alias: str) -> ModelVersion:
        return self.registry_store.get_model_version_by_alias(name, alias)

    def rollback_alias(self, name: str, alias: str, reason: str | None = None) -> ModelVersion:
        """Point `@alias` back at the version it held before; returns that version."""
        return self.registry_store.rollback_registered_model_alias(name, alias, reason=reason)

    # --- gates, audit, lineage, cards --------------------------------------------------
    def promote(
        self,
        name: str,
        version: int | str,
        alias: str | None = None,
        stage: str | None = None,
        require: Sequence[str] = (),
        must_beat: Sequence[str] = (),
        dry_run: bool = False,
        reason: str | None = None,
        archive_existing_versions: bool = False,
    ) -> PromotionResult:
        """Set `alias` and/or `stage` only if every gate passes.

        `require` holds conditions like `"accuracy>=0.85"`; `must_beat` holds
        `"champion:accuracy"` (or `"champion:loss:lower"`). On failure nothing changes
        except a `gate_failed` audit event, and `GateFailed` lists each failed condition
        with its actual value (its `result` attribute has every check). A dry run changes
        nothing and raises nothing: inspect `result.passed`.
        """
        from slipway.registry.gates import failure_message, parse_conditions

        if isinstance(require, str) or isinstance(must_beat, str):
            raise InvalidParameterValue("require and must_beat take lists of conditions.")
        result = self.registry_store.promote(
            name,
            _version(version),
            parse_conditions(require, must_beat),
            alias=alias,
            stage=stage,
            archive_existing_versions=archive_existing_versions,
            dry_run=dry_run,
            reason=reason,
        )
        if not result.passed and not dry_run:
            raise GateFailed(failure_message(result), result=result)
        return result

    def get_model_history(self, name: str) -> list[AuditEvent]:
        """Every recorded change of the model, oldest first (read-only by design)."""
        return self.registry_store.get_audit_events(name)

    def record_model_event(
        self,
        name: str,
        action: str,
        version: int | str | None = None,
        reason: str | None = None,
    ) -> AuditEvent:
        """Append an event that is not a registry change (e.g. a server that could not load a
        version) to the model's audit trail, so its history tells the whole story."""
        return self.registry_store.append_audit_event(
            name, action, version=None if version is None else _version(version), reason=reason
        )

    def get_model_version_lineage(self, name: str, version: int | str) -> Lineage:
        """The run, params, metrics, dataset inputs and git commit behind a version."""
        return version_lineage(self.registry_store, self._store, name, _version(version))

    def write_model_card(
        self,
        name: str,
        version: int | str,
        path: str | Path | None = None,
        *,
        html: bool = False,
        extra_sections: dict[str, str] | None = None,
    ) -> str:
        """Render the version's model card (Markdown, or HTML); write it to `path` if given."""
        from slipway.registry.cards import build_model_card

        card = build_model_card(self, name, _version(version), extra_sections=extra_sections)
        text = card.to_html() if html else card.to_markdown()
        if path is not None:
            Path(path).write_text(text, encoding="utf-8")
        return text

    # --- model URIs --------------------------------------------------------------------
    def resolve_model_uri(self, model_uri: str) -> str:
        """The artifact URI behind `models:/…` or `runs:/…` (other URIs are returned as is)."""
        return resolve_artifact_uri(model_uri, self.registry_store, self._store, self.tracking_uri)

    def download_model(self, model_uri: str, dst_path: str | Path | None = None) -> str:
        """A local folder holding the model `model_uri` names; returns its path.

        A local path or `file://` URI is used in place (copied into `dst_path` if given);
        `models:/…`, `runs:/…` and artifact URIs (`s3://…`, `mlflow-artifacts:/…`) are
        downloaded into `dst_path` (a new temporary folder when None).
        """
        local = local_path_from_uri(model_uri)
        if local is not None:
            return copy_local_model(model_uri, local, dst_path)
        uri = self.resolve_model_uri(model_uri)
        return download_artifact_uri(uri, self.tracking_uri, dst_path, model_uri)

    # --- MLflow 3 logged models --------------------------------------------------------
    def create_logged_model(
        self,
        experiment_id: str,
        name: str | None = None,
        source_run_id: str | None = None,
        tags: dict[str, Any] | None = None,
        params: dict[str, Any] | None = None,
        model_type: str | None = None,
    ) -> LoggedModel:
        return self.registry_store.create_logged_model(
            str(experiment_id),
            name,
            source_run_id,
            string_dict(tags),
            string_dict(params),
            model_type,
        )

    def get_logged_model(self, model_id: str) -> LoggedModel:
        return self.registry_store.get_logged_model(model_id)

    def finalize_logged_model(self, model_id: str, status: str) -> LoggedModel:
        return self.registry_store.finalize_logged_model(model_id, status)

    def delete_logged_model(self, model_id: str) -> None:
        self.registry_store.delete_logged_model(model_id)

    def set_logged_model_tags(self, model_id: str, tags: dict[str, Any]) -> None:
        self.registry_store.set_logged_model_tags(model_id, string_dict(tags) or {})

    def delete_logged_model_tag(self, model_id: str, key: str) -> None:
        self.registry_store.delete_logged_model_tag(model_id, key)

    def search_logged_models(
        self,
        experiment_ids: Sequence[str],
        filter_string: str | None = None,
        max_results: int = SEARCH_LOGGED_MODEL_MAX_RESULTS_DEFAULT,
        order_by: Sequence[dict[str, Any]] | None = None,
        page_token: str | None = None,
    ) -> PagedList[LoggedModel]:
        return self.registry_store.search_logged_models(
            [str(i) for i in experiment_ids], filter_string, max_results, order_by, page_token
        )

    def log_model_artifacts(self, model_id: str, local_dir: str | Path) -> None:
        """Upload a model directory to a logged model's artifact location."""
        location = self.registry_store.get_logged_model(model_id).artifact_location
        get_artifact_repository(location, self.tracking_uri).log_dir(local_dir)


def _version(version: int | str) -> int:
    try:
        return int(str(version).strip())
    except ValueError:
        raise InvalidParameterValue(
            f"Invalid model version {version!r}: a version is a positive integer (1, 2, …)."
        ) from None


__all__ = ["RegistryClient"]
