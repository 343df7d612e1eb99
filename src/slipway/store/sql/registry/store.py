"""`SqlRegistryStore`: the model registry on SQL (same database, engine and migrations as
the tracking store).

Every change and its audit event are written in one transaction, so the trail can never
miss a change or record one that did not happen. The registry reads the tracking tables
directly (a version's run metrics and params, a run's artifact location, an experiment's
location for logged models): they live in the same database.

This class checks input and runs each call's transaction; the SQL lives by concern in
`models`, `versions`, `aliases` (and stages), `promotion`, `logged_models` and `audit`.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, TypeVar

from sqlalchemy import Connection, Engine
from sqlalchemy.exc import IntegrityError

from slipway.config import current_user
from slipway.entities import (
    AuditEvent,
    GateCondition,
    LoggedModel,
    LoggedModelStatus,
    ModelUri,
    ModelVersion,
    PagedList,
    PromotionResult,
    RegisteredModel,
    canonical_stage,
)
from slipway.errors import InvalidParameterValue, ResourceAlreadyExists
from slipway.store.db import create_engine_for, run_in_transaction, upgrade
from slipway.store.interface import (
    SEARCH_LOGGED_MODEL_MAX_RESULTS_DEFAULT,
    SEARCH_MODEL_VERSION_MAX_RESULTS_DEFAULT,
    SEARCH_MODEL_VERSION_MAX_RESULTS_THRESHOLD,
    SEARCH_REGISTERED_MODEL_MAX_RESULTS_DEFAULT,
    SEARCH_REGISTERED_MODEL_MAX_RESULTS_THRESHOLD,
    RegistryStore,
    validate_alias,
)
from slipway.store.names import generate_run_name
from slipway.store.search import decode_page_token
from slipway.store.sql.registry import (
    aliases,
    audit,
    logged_models,
    models,
    promotion,
    versions,
)
from slipway.store.sql.registry.validation import (
    check_archive,
    validate_action,
    validate_event_field,
    validate_model_name,
    validate_source,
    validate_tag,
    validate_version,
)
from slipway.store.sql.rows import page
from slipway.store.sql.validation import parse_experiment_id, validate_max_results

T = TypeVar("T")


class SqlRegistryStore(RegistryStore):
    """Registered models, versions, aliases, audit events and logged models in SQL."""

    def __init__(self, db_uri: str | None = None, *, engine: Engine | None = None) -> None:
        """Open `db_uri` (an SQLAlchemy URL), or share the `engine` of a tracking store."""
        if engine is None:
            if not db_uri:
                raise InvalidParameterValue("SqlRegistryStore needs a database URL or an engine.")
            engine = create_engine_for(db_uri)
            self._owns_engine = True
        else:
            self._owns_engine = False
        self.engine = engine
        self.dialect = engine.dialect.name
        upgrade(engine)

    def close(self) -> None:
        if self._owns_engine:
            self.engine.dispose()

    # --- transactions ------------------------------------------------------------------
    def _write(self, fn: Callable[[Connection], T]) -> T:
        try:
            return run_in_transaction(self.engine, fn, write=True)
        except IntegrityError as exc:
            # Two writers raced past the existence check (PostgreSQL); the loser sees this.
            raise ResourceAlreadyExists(
                f"A concurrent change created the same registry entry; retry. ({exc.orig})"
            ) from None

    def _read(self, fn: Callable[[Connection], T]) -> T:
        return run_in_transaction(self.engine, fn, write=False)

    # --- registered models ---------------------------------------------------------------
    def create_registered_model(
        self,
        name: str,
        tags: dict[str, str] | None = None,
        description: str | None = None,
        *,
        actor: str | None = None,
    ) -> RegisteredModel:
        name = validate_model_name(name)
        tag_rows = [validate_tag(k, v) for k, v in (tags or {}).items()]
        who = actor or current_user()
        return self._write(lambda conn: models.create(conn, name, tag_rows, description, who))

    def get_registered_model(self, name: str) -> RegisteredModel:
        name = validate_model_name(name)
        return self._read(lambda conn: models.get(conn, name))

    def search_registered_models(
        self,
        filter_string: str | None = None,
        max_results: int = SEARCH_REGISTERED_MODEL_MAX_RESULTS_DEFAULT,
        order_by: Sequence[str] | None = None,
        page_token: str | None = None,
    ) -> PagedList[RegisteredModel]:
        limit = validate_max_results(
            max_results,
            SEARCH_REGISTERED_MODEL_MAX_RESULTS_THRESHOLD,
            SEARCH_REGISTERED_MODEL_MAX_RESULTS_DEFAULT,
        )
        offset = decode_page_token(page_token)
        query = models.search_query(filter_string, order_by, self.dialect)
        build = models.models_from_rows
        return self._read(lambda conn: page(conn, query, offset, limit, build))

    def rename_registered_model(
        self, name: str, new_name: str, *, actor: str | None = None
    ) -> RegisteredModel:
        name = validate_model_name(name)
        new_name = validate_model_name(new_name, "new_name")
        who = actor or current_user()
        return self._write(lambda conn: models.rename(conn, name, new_name, who))

    def update_registered_model(
        self, name: str, description: str | None, *, actor: str | None = None
    ) -> RegisteredModel:
        name = validate_model_name(name)
        who = actor or current_user()
        return self._write(lambda conn: models.update_description(conn, name, description, who))

    def delete_registered_model(
        self, name: str, *, actor: str | None = None, reason: str | None = None
    ) -> None:
        name = validate_model_name(name)
        who = actor or current_user()
        self._write(lambda conn: models.delete_model(conn, name, who, reason))

    def set_registered_model_tag(
        self, name: str, key: str, value: str, *, actor: str | None = None
    ) -> None:
        name = validate_model_name(name)
        key, value = validate_tag(key, value)
        who = actor or current_user()
        self._write(lambda conn: models.set_tag(conn, name, key, value, who))

    def delete_registered_model_tag(self, name: str, key: str, *, actor: str | None = None) -> None:
        name = validate_model_name(name)
        key, _ = validate_tag(key, "")
        who = actor or current_user()
        self._write(lambda conn: models.delete_tag(conn, name, key, who))

    def get_latest_versions(
        self, name: str, stages: Sequence[str] | None = None
    ) -> list[ModelVersion]:
        name = validate_model_name(name)
        wanted = [canonical_stage(s) for s in stages or ()]
        return self._read(lambda conn: models.latest_versions(conn, name, wanted))

    # --- aliases -------------------------------------------------------------------------
    def set_registered_model_alias(
        self,
        name: str,
        alias: str,
        version: int,
        *,
        actor: str | None = None,
        reason: str | None = None,
    ) -> None:
        name = validate_model_name(name)
        alias = validate_alias(alias)
        number = validate_version(version)
        who = actor or current_user()
        self._write(lambda conn: aliases.set_alias(conn, name, alias, number, who, reason))

    def delete_registered_model_alias(
        self, name: str, alias: str, *, actor: str | None = None, reason: str | None = None
    ) -> None:
        name = validate_model_name(name)
        if not alias:
            raise InvalidParameterValue("Missing value for required parameter 'alias'.")
        who = actor or current_user()
        self._write(lambda conn: aliases.delete_alias(conn, name, alias, who, reason))

    def get_model_version_by_alias(self, name: str, alias: str) -> ModelVersion:
        uri = ModelUri(name=validate_model_name(name), alias=alias)
        return self._read(lambda conn: versions.get_by_uri(conn, uri))

    def rollback_registered_model_alias(
        self, name: str, alias: str, *, actor: str | None = None, reason: str | None = None
    ) -> ModelVersion:
        name = validate_model_name(name)
        who = actor or current_user()
        return self._write(lambda conn: aliases.rollback_alias(conn, name, alias, who, reason))

    # --- model versions ------------------------------------------------------------------
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
        name = validate_model_name(name)
        source = validate_source(source)
        tag_rows = [validate_tag(k, v) for k, v in (tags or {}).items()]
        who = actor or current_user()
        return self._write(
            lambda conn: versions.create(
                conn, name, source, run_id, tag_rows, run_link, description, model_id, who
            )
        )

    def get_model_version(self, name: str, version: int) -> ModelVersion:
        uri = ModelUri(name=validate_model_name(name), version=validate_version(version))
        return self._read(lambda conn: versions.get_by_uri(conn, uri))

    def update_model_version(
        self, name: str, version: int, description: str | None, *, actor: str | None = None
    ) -> ModelVersion:
        name = validate_model_name(name)
        number = validate_version(version)
        who = actor or current_user()
        return self._write(
            lambda conn: versions.update_description(conn, name, number, description, who)
        )

    def delete_model_version(
        self,
        name: str,
        version: int,
        *,
        force: bool = False,
        actor: str | None = None,
        reason: str | None = None,
    ) -> None:
        name = validate_model_name(name)
        number = validate_version(version)
        who = actor or current_user()
        self._write(lambda conn: versions.delete_version(conn, name, number, force, who, reason))

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
        name = validate_model_name(name)
        number = validate_version(version)
        stage = canonical_stage(stage)
        check_archive(stage, archive_existing_versions)
        who = actor or current_user()
        archive = archive_existing_versions
        return self._write(
            lambda conn: aliases.transition_stage(conn, name, number, stage, archive, who, reason)
        )

    def search_model_versions(
        self,
        filter_string: str | None = None,
        max_results: int = SEARCH_MODEL_VERSION_MAX_RESULTS_DEFAULT,
        order_by: Sequence[str] | None = None,
        page_token: str | None = None,
    ) -> PagedList[ModelVersion]:
        limit = validate_max_results(
            max_results,
            SEARCH_MODEL_VERSION_MAX_RESULTS_THRESHOLD,
            SEARCH_MODEL_VERSION_MAX_RESULTS_DEFAULT,
        )
        offset = decode_page_token(page_token)
        query = versions.search_query(filter_string, order_by, self.dialect)
        build = versions.from_search_rows
        return self._read(lambda conn: page(conn, query, offset, limit, build))

    def get_model_version_download_uri(self, name: str, version: int) -> str:
        uri = ModelUri(name=validate_model_name(name), version=validate_version(version))
        return self._read(lambda conn: versions.download_uri(conn, uri))

    def set_model_version_tag(
        self, name: str, version: int, key: str, value: str, *, actor: str | None = None
    ) -> None:
        name = validate_model_name(name)
        number = validate_version(version)
        key, value = validate_tag(key, value)
        who = actor or current_user()
        self._write(lambda conn: versions.set_tag(conn, name, number, key, value, who))

    def delete_model_version_tag(
        self, name: str, version: int, key: str, *, actor: str | None = None
    ) -> None:
        name = validate_model_name(name)
        number = validate_version(version)
        key, _ = validate_tag(key, "")
        who = actor or current_user()
        self._write(lambda conn: versions.delete_tag(conn, name, number, key, who))

    # --- gates and audit -----------------------------------------------------------------
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
        name = validate_model_name(name)
        number = validate_version(version)
        if alias is None and stage is None:
            raise InvalidParameterValue(
                "A promotion needs a target: an alias (--alias champion), a stage "
                "(--stage Production), or both."
            )
        alias = None if alias is None else validate_alias(alias)
        stage = None if stage is None else canonical_stage(stage)
        if stage is not None:
            check_archive(stage, archive_existing_versions)
        who = actor or current_user()
        archive = archive_existing_versions
        run = self._read if dry_run else self._write  # a dry run writes nothing
        return run(
            lambda conn: promotion.promote(
                conn, name, number, conditions, alias, stage, archive, dry_run, who, reason
            )
        )

    def get_audit_events(self, name: str) -> list[AuditEvent]:
        name = validate_model_name(name)
        return self._read(lambda conn: audit.events(conn, name))

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
        name = validate_model_name(model_name, "model_name")
        change = audit.Change(
            validate_action(action),
            actor or current_user(),
            field=validate_event_field(field),
            version=None if version is None else validate_version(version),
            reason=reason,
        )
        return self._write(lambda conn: audit.append(conn, name, change, old_value, new_value))

    # --- logged models -------------------------------------------------------------------
    def create_logged_model(
        self,
        experiment_id: str,
        name: str | None = None,
        source_run_id: str | None = None,
        tags: dict[str, str] | None = None,
        params: dict[str, str] | None = None,
        model_type: str | None = None,
    ) -> LoggedModel:
        exp_id = parse_experiment_id(experiment_id)
        tag_items = dict(validate_tag(k, v) for k, v in (tags or {}).items())
        param_items = dict(validate_tag(k, v) for k, v in (params or {}).items())
        model_name = name or generate_run_name()
        return self._write(
            lambda conn: logged_models.create(
                conn, exp_id, model_name, source_run_id, tag_items, param_items, model_type
            )
        )

    def get_logged_model(self, model_id: str, allow_deleted: bool = False) -> LoggedModel:
        return self._read(lambda conn: logged_models.get(conn, model_id, allow_deleted))

    def delete_logged_model(self, model_id: str) -> None:
        self._write(lambda conn: logged_models.delete_model(conn, model_id))

    def finalize_logged_model(self, model_id: str, status: str) -> LoggedModel:
        final = LoggedModelStatus.parse(status)
        if final is LoggedModelStatus.PENDING:
            raise InvalidParameterValue(
                "A logged model is finalized as READY or FAILED, not PENDING."
            )
        return self._write(lambda conn: logged_models.finalize(conn, model_id, final))

    def set_logged_model_tags(self, model_id: str, tags: dict[str, str]) -> None:
        items = dict(validate_tag(k, v) for k, v in tags.items())
        self._write(lambda conn: logged_models.set_tags(conn, model_id, items))

    def delete_logged_model_tag(self, model_id: str, key: str) -> None:
        self._write(lambda conn: logged_models.delete_tag(conn, model_id, key))

    def log_logged_model_params(self, model_id: str, params: dict[str, str]) -> None:
        items = dict(validate_tag(k, v) for k, v in params.items())
        self._write(lambda conn: logged_models.log_params(conn, model_id, items))

    def search_logged_models(
        self,
        experiment_ids: Sequence[str],
        filter_string: str | None = None,
        max_results: int = SEARCH_LOGGED_MODEL_MAX_RESULTS_DEFAULT,
        order_by: Sequence[dict[str, Any]] | None = None,
        page_token: str | None = None,
        datasets: Sequence[dict[str, str]] | None = None,
    ) -> PagedList[LoggedModel]:
        limit = validate_max_results(
            max_results,
            SEARCH_MODEL_VERSION_MAX_RESULTS_THRESHOLD,
            SEARCH_LOGGED_MODEL_MAX_RESULTS_DEFAULT,
        )
        offset = decode_page_token(page_token)
        exp_ids = [parse_experiment_id(i) for i in experiment_ids]
        query = logged_models.search_query(exp_ids, filter_string, order_by, self.dialect, datasets)
        build = logged_models.from_rows
        return self._read(lambda conn: page(conn, query, offset, limit, build))


__all__ = ["SqlRegistryStore"]
