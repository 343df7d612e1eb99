"""The model registry on SQL (same database, engine and migrations as the tracking store).

Every change and its audit event are written in one transaction, so the trail can never
miss a change or record one that did not happen. The registry reads the tracking tables
directly (a version's run metrics and params, a run's artifact location, an experiment's
location for logged models): they live in the same database.

Versions are numbered from a counter on the model's row (`last_version`), which also
serialises concurrent registrations of one model on PostgreSQL (row lock) and SQLite
(`BEGIN IMMEDIATE`), and never reuses a deleted version's number.
"""

from __future__ import annotations

import json
import uuid
from collections import defaultdict
from collections.abc import Callable, Sequence
from typing import Any, TypeVar

from sqlalchemy import (
    ColumnElement,
    Connection,
    Engine,
    and_,
    delete,
    exists,
    func,
    insert,
    select,
    update,
)
from sqlalchemy.exc import IntegrityError

from slipway import config
from slipway.entities import (
    STAGES,
    AuditAction,
    AuditEvent,
    GateCondition,
    LifecycleStage,
    LoggedModel,
    LoggedModelStatus,
    ModelUri,
    ModelVersion,
    PagedList,
    PromotionResult,
    RegisteredModel,
    canonical_stage,
    decode_float,
    encode_float,
    now_ms,
)
from slipway.errors import (
    InvalidParameterValue,
    InvalidState,
    ResourceAlreadyExists,
    ResourceDoesNotExist,
)
from slipway.store import schema
from slipway.store import search as _search
from slipway.store.db import create_engine_for, run_in_transaction, upgrade
from slipway.store.interface import (
    MAX_ENTITY_KEY_LENGTH,
    MAX_REGISTERED_MODEL_NAME_LENGTH,
    MAX_REGISTRY_TAG_VALUE_LENGTH,
    SEARCH_LOGGED_MODEL_MAX_RESULTS_DEFAULT,
    SEARCH_MODEL_VERSION_MAX_RESULTS_DEFAULT,
    SEARCH_MODEL_VERSION_MAX_RESULTS_THRESHOLD,
    SEARCH_REGISTERED_MODEL_MAX_RESULTS_DEFAULT,
    SEARCH_REGISTERED_MODEL_MAX_RESULTS_THRESHOLD,
    RegistryStore,
    validate_alias,
)
from slipway.store.names import generate_run_name
from slipway.store.sql import decode_metric_value, join_uri, like_to_glob

T = TypeVar("T")

_rm = schema.registered_models
_rmt = schema.registered_model_tags
_mv = schema.model_versions
_mvt = schema.model_version_tags
_al = schema.registered_model_aliases
_ev = schema.audit_events
_lm = schema.logged_models
_lmt = schema.logged_model_tags
_lmp = schema.logged_model_params

_ARCHIVABLE_STAGES = ("Staging", "Production")


# --- validation --------------------------------------------------------------------------


def _validate_model_name(name: Any, what: str = "name") -> str:
    if not isinstance(name, str) or not name.strip():
        raise InvalidParameterValue(f"Missing value for required parameter '{what}'.")
    if "/" in name or ":" in name:
        raise InvalidParameterValue(
            f"Invalid model name {name!r}: names cannot contain '/' or ':' (they would break "
            "models:/ URIs)."
        )
    if len(name) > MAX_REGISTERED_MODEL_NAME_LENGTH:
        raise InvalidParameterValue(
            f"Model name {name[:40]!r}… is longer than {MAX_REGISTERED_MODEL_NAME_LENGTH} "
            "characters."
        )
    return name


def _validate_version(version: Any) -> int:
    try:
        number = int(str(version).strip())
    except (TypeError, ValueError):
        number = 0
    if number < 1:
        raise InvalidParameterValue(
            f"Invalid model version {version!r}: a version is a positive integer (1, 2, …)."
        )
    return number


def _validate_tag(key: Any, value: Any) -> tuple[str, str]:
    if not isinstance(key, str) or not key:
        raise InvalidParameterValue("Missing value for required parameter 'key'.")
    if len(key) > MAX_ENTITY_KEY_LENGTH:
        raise InvalidParameterValue(
            f"Tag key {key[:40]!r}… is longer than {MAX_ENTITY_KEY_LENGTH} characters."
        )
    text = "" if value is None else str(value)
    if len(text) > MAX_REGISTRY_TAG_VALUE_LENGTH:
        raise InvalidParameterValue(
            f"The value of tag {key!r} is longer than {MAX_REGISTRY_TAG_VALUE_LENGTH} characters."
        )
    return key, text


def _validate_max_results(value: Any, limit: int) -> int:
    try:
        number = int(value)
    except (TypeError, ValueError):
        number = 0
    if number < 1 or number > limit:
        raise InvalidParameterValue(
            f"Invalid max_results {value!r}: it must be between 1 and {limit}."
        )
    return number


def _stage(stage: str | None) -> str | None:
    return None if stage is None else canonical_stage(stage)


def _runs_uri(uri: str) -> tuple[str, str]:
    rest = uri[len("runs:/") :].strip("/")
    run_id, _, path = rest.partition("/")
    if not run_id:
        raise InvalidParameterValue(
            f"Invalid runs URI {uri!r}: use runs:/<run_id>/<path to the model>."
        )
    return run_id, path


def _snapshot_json(metrics: dict[str, float], params: dict[str, str]) -> str:
    return json.dumps(
        {"metrics": {k: encode_float(v) for k, v in metrics.items()}, "params": params}
    )


def _snapshot(text: str | None) -> tuple[dict[str, float], dict[str, str]]:
    if not text:
        return {}, {}
    data = json.loads(text)
    metrics = {k: decode_float(v) for k, v in (data.get("metrics") or {}).items()}
    return metrics, dict(data.get("params") or {})


# --- filters -----------------------------------------------------------------------------


class _FilterParser(_search.FilterParser):
    """The MLflow filter grammar with the attribute names of one registry search."""

    def __init__(
        self,
        text: str,
        what: str,
        strings: dict[str, Any],
        numbers: dict[str, Any],
        entities: tuple[str, ...],
    ) -> None:
        super().__init__(text, "runs")
        self.what = what
        self.strings = strings
        self.numbers = numbers
        self.entities = entities

    def resolve(self, entity: str, key: str, tok: Any, *, order: bool) -> tuple[str, str]:
        if entity not in self.entities:
            allowed = ", ".join(
                "attributes" if e == _search.ATTRIBUTE else f"{e}s" for e in self.entities
            )
            raise _search.InvalidFilter(
                f"{self.what} can be searched by {allowed} only, not {entity}s", tok.pos
            )
        if entity != _search.ATTRIBUTE:
            return entity, key
        if key in self.strings or key in self.numbers:
            return entity, key
        valid = ", ".join(sorted({*self.strings, *self.numbers}))
        raise _search.InvalidFilter(
            f"Invalid attribute {key!r} for {self.what}; valid attributes are {valid}", tok.pos
        )

    def is_numeric_attribute(self, key: str) -> bool:
        return key in self.numbers


class _SearchSpec:
    """What one registry search may filter and order on, and the columns behind it."""

    def __init__(
        self,
        what: str,
        strings: dict[str, Any],
        numbers: dict[str, Any],
        entities: tuple[str, ...] = (_search.ATTRIBUTE, _search.TAG),
    ) -> None:
        self.what = what
        self.strings = strings
        self.numbers = numbers
        self.entities = entities

    def parser(self, text: str) -> _FilterParser:
        return _FilterParser(text, self.what, self.strings, self.numbers, self.entities)

    def column(self, key: str) -> Any:
        return self.strings.get(key, self.numbers.get(key))

    def parse_filter(self, text: str | None) -> list[_search.Comparison]:
        if not text or not text.strip():
            return []
        return self.parser(text).parse_filter()

    def parse_order_by(self, clauses: Sequence[str] | None) -> list[_search.OrderKey]:
        out = []
        for clause in clauses or ():
            if not clause or not clause.strip():
                raise _search.InvalidFilter("Empty order_by clause", 0)
            key = self.parser(clause).parse_order_by()
            if key.entity_type != _search.ATTRIBUTE:
                raise InvalidParameterValue(
                    f"Invalid order_by {clause!r}: {self.what} can be ordered by "
                    f"{', '.join(sorted({*self.strings, *self.numbers}))}."
                )
            out.append(key)
        return out


_REGISTERED_MODEL_SEARCH = _SearchSpec(
    "registered models",
    {"name": _rm.c.name},
    {
        "creation_timestamp": _rm.c.creation_time,
        "last_updated_timestamp": _rm.c.last_updated_time,
        "timestamp": _rm.c.last_updated_time,
    },
)
_MODEL_VERSION_SEARCH = _SearchSpec(
    "model versions",
    {
        "name": _rm.c.name,
        "run_id": _mv.c.run_id,
        "source_path": _mv.c.source,
        "source": _mv.c.source,
        "current_stage": _mv.c.current_stage,
        "model_id": _mv.c.logged_model_id,
        "user_id": _mv.c.user_id,
        "status": _mv.c.status,
    },
    {
        "version_number": _mv.c.version,
        "version": _mv.c.version,
        "creation_timestamp": _mv.c.creation_time,
        "last_updated_timestamp": _mv.c.last_updated_time,
    },
)
_LOGGED_MODEL_SEARCH = _SearchSpec(
    "logged models",
    {
        "name": _lm.c.name,
        "model_id": _lm.c.model_id,
        "model_type": _lm.c.model_type,
        "status": _lm.c.status,
        "source_run_id": _lm.c.source_run_id,
    },
    {
        "creation_timestamp": _lm.c.creation_time,
        "creation_time": _lm.c.creation_time,
        "last_updated_timestamp": _lm.c.last_updated_time,
        "last_updated_time": _lm.c.last_updated_time,
    },
    (_search.ATTRIBUTE, _search.TAG, _search.PARAM),
)


# --- the store ---------------------------------------------------------------------------


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

    # --- plumbing ----------------------------------------------------------------------
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

    def _compare(self, col: Any, cmp: _search.Comparison) -> ColumnElement[bool]:
        """`col <op> value`; LIKE is case-sensitive and ILIKE is not, on both databases."""
        op, value = cmp.op, cmp.value
        if isinstance(value, float) and value.is_integer():
            value = int(value)
        if op == "LIKE":
            if self.dialect == "sqlite":
                return col.op("GLOB")(like_to_glob(str(value)))
            return col.like(value)
        if op == "ILIKE":
            return col.ilike(value, escape="\\") if self.dialect == "sqlite" else col.ilike(value)
        if op == "IN":
            return col.in_(list(value))  # type: ignore[arg-type]
        if op == "NOT IN":
            return col.not_in(list(value))  # type: ignore[arg-type]
        if op == "IS NULL":
            return col.is_(None)
        if op == "IS NOT NULL":
            return col.is_not(None)
        return {
            "=": col.__eq__,
            "!=": col.__ne__,
            "<": col.__lt__,
            "<=": col.__le__,
            ">": col.__gt__,
            ">=": col.__ge__,
        }[op](value)

    def _conditions(
        self,
        spec: _SearchSpec,
        comparisons: list[_search.Comparison],
        kv_tables: dict[str, tuple[Any, Callable[[Any], ColumnElement[bool]]]],
    ) -> list[ColumnElement[bool]]:
        """SQL conditions; `kv_tables` maps tag/param to (table, join condition)."""
        out: list[ColumnElement[bool]] = []
        for cmp in comparisons:
            if cmp.entity_type == _search.ATTRIBUTE:
                out.append(self._compare(spec.column(cmp.key), cmp))
                continue
            table, joined = kv_tables[cmp.entity_type]
            has_key = and_(joined(table), table.c.key == cmp.key)
            if cmp.op == "!=":
                # An entry without the tag differs from any value too. This is also what
                # makes the mlflow client's `tags.`mlflow.prompt.is_prompt` != 'true'`
                # (added to every model search) keep models that have no such tag.
                same = _search.Comparison(cmp.entity_type, cmp.key, "=", cmp.value)
                out.append(~exists().where(has_key, self._compare(table.c.value, same)))
            elif cmp.op == "IS NULL":
                out.append(~exists().where(has_key))
            elif cmp.op == "IS NOT NULL":
                out.append(exists().where(has_key))
            else:
                out.append(exists().where(has_key, self._compare(table.c.value, cmp)))
        return out

    def _order_terms(self, spec: _SearchSpec, keys: list[_search.OrderKey]) -> list[Any]:
        terms: list[Any] = []
        for key in keys:
            col = spec.column(key.key)
            if self.dialect == "postgresql" and key.key in spec.strings:
                col = col.collate("C")  # byte order, as SQLite sorts
            terms.append(col.asc() if key.ascending else col.desc())
        return terms

    @staticmethod
    def _actor(actor: str | None) -> str:
        return actor or config.current_user()

    def _audit(
        self,
        conn: Connection,
        model: Any,
        action: AuditAction,
        actor: str,
        *,
        version: int | None = None,
        field: str | None = None,
        old: Any = None,
        new: Any = None,
        reason: str | None = None,
    ) -> None:
        conn.execute(
            insert(_ev).values(
                timestamp=now_ms(),
                actor=actor,
                registered_model_id=model.id,
                model_name=model.name,
                version=version,
                action=action.value,
                field=field,
                old_value=None if old is None else str(old),
                new_value=None if new is None else str(new),
                reason=reason or None,
            )
        )

    # --- reading -----------------------------------------------------------------------
    @staticmethod
    def _model_row(conn: Connection, name: str) -> Any:
        row = conn.execute(select(_rm).where(_rm.c.name == name)).first()
        if row is None:
            raise ResourceDoesNotExist(
                f"Registered model '{name}' does not exist. List models with "
                "`slipway models list` or create it by registering a version."
            )
        return row

    @staticmethod
    def _version_row(conn: Connection, model: Any, version: int) -> Any:
        row = conn.execute(
            select(_mv).where(_mv.c.registered_model_id == model.id, _mv.c.version == version)
        ).first()
        if row is None:
            raise ResourceDoesNotExist(
                f"Model '{model.name}' has no version {version}. "
                f"See `slipway models versions {model.name}`."
            )
        return row

    @staticmethod
    def _alias_version(conn: Connection, model: Any, alias: str) -> int | None:
        return conn.execute(
            select(_al.c.version).where(_al.c.registered_model_id == model.id, _al.c.alias == alias)
        ).scalar()

    def _resolve_version_row(self, conn: Connection, uri: ModelUri) -> tuple[Any, Any]:
        """(model row, version row) that a `models:/name/...` URI names."""
        model = self._model_row(conn, _validate_model_name(uri.name))
        if uri.version is not None:
            return model, self._version_row(conn, model, uri.version)
        if uri.alias is not None:
            version = self._alias_version(conn, model, uri.alias)
            if version is None:
                raise self._no_alias(conn, model, uri.alias)
            return model, self._version_row(conn, model, version)
        query = select(func.max(_mv.c.version)).where(_mv.c.registered_model_id == model.id)
        if uri.stage is not None:
            query = query.where(_mv.c.current_stage == uri.stage)
        version = conn.execute(query).scalar()
        if version is None:
            where = f" in stage {uri.stage}" if uri.stage else ""
            raise ResourceDoesNotExist(f"Model '{model.name}' has no version{where}.")
        return model, self._version_row(conn, model, version)

    @staticmethod
    def _no_alias(conn: Connection, model: Any, alias: str) -> ResourceDoesNotExist:
        names = conn.execute(
            select(_al.c.alias).where(_al.c.registered_model_id == model.id).order_by(_al.c.alias)
        ).scalars()
        known = ", ".join(f"@{a}" for a in names) or "none"
        return ResourceDoesNotExist(
            f"Model '{model.name}' has no alias '@{alias}' (its aliases: {known})."
        )

    def _versions(self, conn: Connection, pairs: Sequence[tuple[Any, str]]) -> list[ModelVersion]:
        """Entities for (version row, model name) pairs, with tags and aliases."""
        if not pairs:
            return []
        model_ids = sorted({row.registered_model_id for row, _ in pairs})
        tags: dict[tuple[int, int], dict[str, str]] = defaultdict(dict)
        aliases: dict[tuple[int, int], list[str]] = defaultdict(list)
        for chunk in _chunks(model_ids):
            for rid, ver, key, value in conn.execute(
                select(_mvt.c.registered_model_id, _mvt.c.version, _mvt.c.key, _mvt.c.value)
                .where(_mvt.c.registered_model_id.in_(chunk))
                .order_by(_mvt.c.key)
            ):
                tags[(rid, ver)][key] = value or ""
            for rid, alias, ver in conn.execute(
                select(_al.c.registered_model_id, _al.c.alias, _al.c.version)
                .where(_al.c.registered_model_id.in_(chunk))
                .order_by(_al.c.alias)
            ):
                aliases[(rid, ver)].append(alias)
        out = []
        for row, name in pairs:
            key = (row.registered_model_id, row.version)
            metrics, params = _snapshot(row.run_snapshot)
            out.append(
                ModelVersion(
                    name=name,
                    version=row.version,
                    creation_timestamp=row.creation_time,
                    last_updated_timestamp=row.last_updated_time,
                    source=row.source,
                    run_id=row.run_id,
                    run_link=row.run_link,
                    status=row.status,
                    status_message=row.status_message,
                    description=row.description,
                    user_id=row.user_id,
                    current_stage=row.current_stage,
                    tags=tags.get(key, {}),
                    aliases=aliases.get(key, []),
                    model_id=row.logged_model_id,
                    metrics=metrics,
                    params=params,
                )
            )
        return out

    def _models(self, conn: Connection, rows: Sequence[Any]) -> list[RegisteredModel]:
        if not rows:
            return []
        ids = [r.id for r in rows]
        names = {r.id: r.name for r in rows}
        tags: dict[int, dict[str, str]] = defaultdict(dict)
        aliases: dict[int, dict[str, int]] = defaultdict(dict)
        latest_rows = []
        for chunk in _chunks(ids):
            for rid, key, value in conn.execute(
                select(_rmt.c.registered_model_id, _rmt.c.key, _rmt.c.value)
                .where(_rmt.c.registered_model_id.in_(chunk))
                .order_by(_rmt.c.key)
            ):
                tags[rid][key] = value or ""
            for rid, alias, version in conn.execute(
                select(_al.c.registered_model_id, _al.c.alias, _al.c.version)
                .where(_al.c.registered_model_id.in_(chunk))
                .order_by(_al.c.alias)
            ):
                aliases[rid][alias] = version
            newest = (
                select(
                    _mv.c.registered_model_id.label("rid"),
                    func.max(_mv.c.version).label("version"),
                )
                .where(_mv.c.registered_model_id.in_(chunk))
                .group_by(_mv.c.registered_model_id, _mv.c.current_stage)
                .subquery()
            )
            latest_rows.extend(
                conn.execute(
                    select(_mv)
                    .join(
                        newest,
                        and_(
                            _mv.c.registered_model_id == newest.c.rid,
                            _mv.c.version == newest.c.version,
                        ),
                    )
                    .order_by(_mv.c.version)
                ).all()
            )
        latest: dict[int, list[ModelVersion]] = defaultdict(list)
        pairs = [(row, names[row.registered_model_id]) for row in latest_rows]
        for row_and_name, entity in zip(pairs, self._versions(conn, pairs), strict=True):
            latest[row_and_name[0].registered_model_id].append(entity)
        return [
            RegisteredModel(
                name=r.name,
                creation_timestamp=r.creation_time,
                last_updated_timestamp=r.last_updated_time,
                description=r.description,
                user_id=r.user_id,
                tags=tags.get(r.id, {}),
                aliases=aliases.get(r.id, {}),
                latest_versions=latest.get(r.id, []),
            )
            for r in rows
        ]

    def _run_metrics(self, conn: Connection, run_id: str | None) -> dict[str, float]:
        if not run_id:
            return {}
        lm = schema.latest_metrics
        rows = conn.execute(
            select(lm.c.key, lm.c.value, lm.c.is_nan).where(lm.c.run_uuid == run_id)
        )
        return {key: decode_metric_value(value, is_nan) for key, value, is_nan in rows}

    def _gate_metrics(self, conn: Connection, row: Any) -> dict[str, float]:
        """A version's metrics for gates: the snapshot, updated by what its run has now."""
        snapshot, _ = _snapshot(row.run_snapshot)
        return {**snapshot, **self._run_metrics(conn, row.run_id)}

    # --- registered models ---------------------------------------------------------------
    def create_registered_model(
        self,
        name: str,
        tags: dict[str, str] | None = None,
        description: str | None = None,
        *,
        actor: str | None = None,
    ) -> RegisteredModel:
        name = _validate_model_name(name)
        tag_rows = [_validate_tag(k, v) for k, v in (tags or {}).items()]
        who = self._actor(actor)

        def fn(conn: Connection) -> RegisteredModel:
            if conn.execute(select(_rm.c.id).where(_rm.c.name == name)).first() is not None:
                raise ResourceAlreadyExists(f"Registered model '{name}' already exists.")
            now = now_ms()
            model_id = conn.execute(
                insert(_rm)
                .values(
                    name=name,
                    description=description,
                    user_id=who,
                    creation_time=now,
                    last_updated_time=now,
                    last_version=0,
                )
                .returning(_rm.c.id)
            ).scalar_one()
            if tag_rows:
                conn.execute(
                    insert(_rmt),
                    [{"registered_model_id": model_id, "key": k, "value": v} for k, v in tag_rows],
                )
            model = self._model_row(conn, name)
            self._audit(conn, model, AuditAction.MODEL_CREATED, who, new=name)
            return self._models(conn, [model])[0]

        return self._write(fn)

    def get_registered_model(self, name: str) -> RegisteredModel:
        name = _validate_model_name(name)
        return self._read(lambda conn: self._models(conn, [self._model_row(conn, name)])[0])

    def search_registered_models(
        self,
        filter_string: str | None = None,
        max_results: int = SEARCH_REGISTERED_MODEL_MAX_RESULTS_DEFAULT,
        order_by: Sequence[str] | None = None,
        page_token: str | None = None,
    ) -> PagedList[RegisteredModel]:
        spec = _REGISTERED_MODEL_SEARCH
        limit = _validate_max_results(max_results, SEARCH_REGISTERED_MODEL_MAX_RESULTS_THRESHOLD)
        offset = _search.decode_page_token(page_token)
        where = self._conditions(
            spec,
            spec.parse_filter(filter_string),
            {_search.TAG: (_rmt, lambda t: t.c.registered_model_id == _rm.c.id)},
        )
        order = [*self._order_terms(spec, spec.parse_order_by(order_by))]
        order.append(_rm.c.name.collate("C") if self.dialect == "postgresql" else _rm.c.name)
        query = select(_rm).where(*where).order_by(*order).offset(offset).limit(limit + 1)

        def fn(conn: Connection) -> PagedList[RegisteredModel]:
            rows = conn.execute(query).all()
            token = _search.encode_page_token(offset + limit) if len(rows) > limit else None
            return PagedList(self._models(conn, rows[:limit]), token)

        return self._read(fn)

    def rename_registered_model(
        self, name: str, new_name: str, *, actor: str | None = None
    ) -> RegisteredModel:
        name = _validate_model_name(name)
        new_name = _validate_model_name(new_name, "new_name")
        who = self._actor(actor)

        def fn(conn: Connection) -> RegisteredModel:
            model = self._model_row(conn, name)
            if new_name == name:
                return self._models(conn, [model])[0]
            if conn.execute(select(_rm.c.id).where(_rm.c.name == new_name)).first() is not None:
                raise ResourceAlreadyExists(
                    f"Cannot rename '{name}' to '{new_name}': a model with that name exists."
                )
            now = now_ms()
            conn.execute(
                update(_rm).where(_rm.c.id == model.id).values(name=new_name, last_updated_time=now)
            )
            renamed = self._model_row(conn, new_name)
            self._audit(
                conn, renamed, AuditAction.MODEL_RENAMED, who, field="name", old=name, new=new_name
            )
            return self._models(conn, [renamed])[0]

        return self._write(fn)

    def update_registered_model(
        self, name: str, description: str | None, *, actor: str | None = None
    ) -> RegisteredModel:
        name = _validate_model_name(name)
        who = self._actor(actor)

        def fn(conn: Connection) -> RegisteredModel:
            model = self._model_row(conn, name)
            if model.description != description:
                conn.execute(
                    update(_rm)
                    .where(_rm.c.id == model.id)
                    .values(description=description, last_updated_time=now_ms())
                )
                self._audit(
                    conn,
                    model,
                    AuditAction.DESCRIPTION_UPDATED,
                    who,
                    field="description",
                    old=model.description,
                    new=description,
                )
            return self._models(conn, [self._model_row(conn, name)])[0]

        return self._write(fn)

    def delete_registered_model(
        self, name: str, *, actor: str | None = None, reason: str | None = None
    ) -> None:
        name = _validate_model_name(name)
        who = self._actor(actor)

        def fn(conn: Connection) -> None:
            model = self._model_row(conn, name)
            versions = conn.execute(
                select(func.count()).where(_mv.c.registered_model_id == model.id)
            ).scalar_one()
            aliases = [
                f"@{a}={v}"
                for a, v in conn.execute(
                    select(_al.c.alias, _al.c.version)
                    .where(_al.c.registered_model_id == model.id)
                    .order_by(_al.c.alias)
                )
            ]
            summary = f"{versions} version(s)" + (
                f", aliases {' '.join(aliases)}" if aliases else ""
            )
            for table in (_al, _mvt, _mv, _rmt):
                conn.execute(delete(table).where(table.c.registered_model_id == model.id))
            conn.execute(delete(_rm).where(_rm.c.id == model.id))
            self._audit(conn, model, AuditAction.MODEL_DELETED, who, old=summary, reason=reason)

        self._write(fn)

    def set_registered_model_tag(
        self, name: str, key: str, value: str, *, actor: str | None = None
    ) -> None:
        name = _validate_model_name(name)
        key, value = _validate_tag(key, value)
        who = self._actor(actor)

        def fn(conn: Connection) -> None:
            model = self._model_row(conn, name)
            old = conn.execute(
                select(_rmt.c.value).where(
                    _rmt.c.registered_model_id == model.id, _rmt.c.key == key
                )
            ).first()
            if old is not None and old.value == value:
                return
            if old is None:
                conn.execute(
                    insert(_rmt).values(registered_model_id=model.id, key=key, value=value)
                )
            else:
                conn.execute(
                    update(_rmt)
                    .where(_rmt.c.registered_model_id == model.id, _rmt.c.key == key)
                    .values(value=value)
                )
            conn.execute(update(_rm).where(_rm.c.id == model.id).values(last_updated_time=now_ms()))
            self._audit(
                conn,
                model,
                AuditAction.TAG_SET,
                who,
                field=key,
                old=None if old is None else old.value,
                new=value,
            )

        self._write(fn)

    def delete_registered_model_tag(self, name: str, key: str, *, actor: str | None = None) -> None:
        name = _validate_model_name(name)
        key, _ = _validate_tag(key, "")
        who = self._actor(actor)

        def fn(conn: Connection) -> None:
            model = self._model_row(conn, name)
            where = (_rmt.c.registered_model_id == model.id, _rmt.c.key == key)
            old = conn.execute(select(_rmt.c.value).where(*where)).scalar()
            if conn.execute(delete(_rmt).where(*where)).rowcount:
                self._audit(conn, model, AuditAction.TAG_DELETED, who, field=key, old=old)

        self._write(fn)

    def get_latest_versions(
        self, name: str, stages: Sequence[str] | None = None
    ) -> list[ModelVersion]:
        name = _validate_model_name(name)
        wanted = [canonical_stage(s) for s in stages or ()] or list(STAGES)

        def fn(conn: Connection) -> list[ModelVersion]:
            model = self._model_row(conn, name)
            newest = (
                select(func.max(_mv.c.version).label("version"))
                .where(_mv.c.registered_model_id == model.id, _mv.c.current_stage.in_(wanted))
                .group_by(_mv.c.current_stage)
                .subquery()
            )
            rows = conn.execute(
                select(_mv)
                .where(_mv.c.registered_model_id == model.id, _mv.c.version.in_(select(newest)))
                .order_by(_mv.c.version)
            ).all()
            return self._versions(conn, [(r, model.name) for r in rows])

        return self._read(fn)

    # --- aliases -------------------------------------------------------------------------
    def _set_alias(
        self,
        conn: Connection,
        model: Any,
        alias: str,
        version: int,
        who: str,
        reason: str | None,
        action: AuditAction = AuditAction.ALIAS_SET,
    ) -> int | None:
        """Point the alias at `version` (recorded); returns the version it held before."""
        self._version_row(conn, model, version)
        old = self._alias_version(conn, model, alias)
        if old == version:
            return old
        if old is None:
            conn.execute(
                insert(_al).values(registered_model_id=model.id, alias=alias, version=version)
            )
        else:
            conn.execute(
                update(_al)
                .where(_al.c.registered_model_id == model.id, _al.c.alias == alias)
                .values(version=version)
            )
        conn.execute(update(_rm).where(_rm.c.id == model.id).values(last_updated_time=now_ms()))
        self._audit(
            conn,
            model,
            action,
            who,
            version=version,
            field=alias,
            old=old,
            new=version,
            reason=reason,
        )
        return old

    def set_registered_model_alias(
        self,
        name: str,
        alias: str,
        version: int,
        *,
        actor: str | None = None,
        reason: str | None = None,
    ) -> None:
        name = _validate_model_name(name)
        alias = validate_alias(alias)
        number = _validate_version(version)
        who = self._actor(actor)

        def fn(conn: Connection) -> None:
            self._set_alias(conn, self._model_row(conn, name), alias, number, who, reason)

        self._write(fn)

    def delete_registered_model_alias(
        self, name: str, alias: str, *, actor: str | None = None, reason: str | None = None
    ) -> None:
        name = _validate_model_name(name)
        if not alias:
            raise InvalidParameterValue("Missing value for required parameter 'alias'.")
        who = self._actor(actor)

        def fn(conn: Connection) -> None:
            model = self._model_row(conn, name)
            old = self._alias_version(conn, model, alias)
            if old is None:
                raise self._no_alias(conn, model, alias)
            conn.execute(
                delete(_al).where(_al.c.registered_model_id == model.id, _al.c.alias == alias)
            )
            conn.execute(update(_rm).where(_rm.c.id == model.id).values(last_updated_time=now_ms()))
            self._audit(
                conn,
                model,
                AuditAction.ALIAS_DELETED,
                who,
                version=old,
                field=alias,
                old=old,
                reason=reason,
            )

        self._write(fn)

    def get_model_version_by_alias(self, name: str, alias: str) -> ModelVersion:
        uri = ModelUri(name=_validate_model_name(name), alias=alias)

        def fn(conn: Connection) -> ModelVersion:
            model, row = self._resolve_version_row(conn, uri)
            return self._versions(conn, [(row, model.name)])[0]

        return self._read(fn)

    def rollback_registered_model_alias(
        self, name: str, alias: str, *, actor: str | None = None, reason: str | None = None
    ) -> ModelVersion:
        name = _validate_model_name(name)
        who = self._actor(actor)

        def fn(conn: Connection) -> ModelVersion:
            model = self._model_row(conn, name)
            current = self._alias_version(conn, model, alias)
            if current is None:
                raise InvalidState(
                    f"Alias '@{alias}' is not set on model '{name}', so there is nothing to roll "
                    f"back. Point it at a version with `slipway models set-alias {name} {alias} "
                    "<version>`."
                )
            held = self._alias_history(conn, model, alias)
            existing = set(
                conn.execute(
                    select(_mv.c.version).where(_mv.c.registered_model_id == model.id)
                ).scalars()
            )
            target = next((v for v in reversed(held) if v != current and v in existing), None)
            if target is None:
                raise InvalidState(
                    f"Alias '@{alias}' of model '{name}' has no earlier version to roll back to "
                    f"(it has only held version {current}, or the earlier ones were deleted)."
                )
            self._set_alias(
                conn,
                model,
                alias,
                target,
                who,
                reason or f"rollback from version {current}",
                AuditAction.ALIAS_ROLLBACK,
            )
            row = self._version_row(conn, model, target)
            return self._versions(conn, [(row, model.name)])[0]

        return self._write(fn)

    @staticmethod
    def _alias_history(conn: Connection, model: Any, alias: str) -> list[int]:
        """The versions an alias held, oldest first, with rolled-back ones taken off.

        Replays the audit trail as a stack: setting pushes the new version; a rollback pops
        back down to its target, so rolling back twice goes two versions back.
        """
        stack: list[int] = []
        events = conn.execute(
            select(_ev.c.action, _ev.c.new_value)
            .where(
                _ev.c.registered_model_id == model.id,
                _ev.c.field == alias,
                _ev.c.action.in_([AuditAction.ALIAS_SET.value, AuditAction.ALIAS_ROLLBACK.value]),
            )
            .order_by(_ev.c.id)
        )
        for action, new in events:
            version = int(new)
            if action == AuditAction.ALIAS_ROLLBACK.value:
                while stack and stack[-1] != version:
                    stack.pop()
                if not stack:
                    stack.append(version)
            else:
                stack.append(version)
        return stack

    # --- model versions ------------------------------------------------------------------
    def _logged_model_row(
        self, conn: Connection, model_id: str, allow_deleted: bool = False
    ) -> Any:
        row = conn.execute(select(_lm).where(_lm.c.model_id == model_id)).first()
        if row is None or (
            not allow_deleted and row.lifecycle_stage == LifecycleStage.DELETED.value
        ):
            raise ResourceDoesNotExist(f"Logged model '{model_id}' does not exist.")
        return row

    def _resolve_source(
        self, conn: Connection, source: str, run_id: str | None, model_id: str | None
    ) -> tuple[str, str | None, str | None]:
        """(storage location, run id, logged model id) of a version's `source`."""
        if source.startswith("models:/"):
            uri = ModelUri.parse(source)
            if uri.model_id is not None:
                lm = self._logged_model_row(conn, uri.model_id)
                location = (
                    join_uri(lm.artifact_location, uri.path) if uri.path else lm.artifact_location
                )
                return location, run_id or lm.source_run_id, model_id or lm.model_id
            _, row = self._resolve_version_row(conn, uri)
            location = row.storage_location or row.source
            location = join_uri(location, uri.path) if uri.path else location
            return location, run_id or row.run_id, model_id or row.logged_model_id
        if source.startswith("runs:/"):
            source_run, path = _runs_uri(source)
            run = conn.execute(
                select(schema.runs.c.artifact_uri).where(schema.runs.c.run_uuid == source_run)
            ).first()
            if run is None:
                raise ResourceDoesNotExist(
                    f"Run '{source_run}' of source {source!r} does not exist."
                )
            head, _, rest = path.partition("/")
            # MLflow 3 keeps a model logged in a run outside the run's folder, as a logged
            # model named after the path: runs:/<run>/model means that model.
            lm = (
                conn.execute(
                    select(_lm)
                    .where(
                        _lm.c.source_run_id == source_run,
                        _lm.c.name == head,
                        _lm.c.lifecycle_stage == LifecycleStage.ACTIVE.value,
                    )
                    .order_by(_lm.c.creation_time.desc())
                    .limit(1)
                ).first()
                if head
                else None
            )
            if lm is not None:
                location = join_uri(lm.artifact_location, rest) if rest else lm.artifact_location
                return location, run_id or source_run, model_id or lm.model_id
            location = join_uri(run.artifact_uri, path) if path else run.artifact_uri
            return location, run_id or source_run, model_id
        if model_id:
            lm = self._logged_model_row(conn, model_id)
            return source, run_id or lm.source_run_id, model_id
        return source, run_id, model_id

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
        name = _validate_model_name(name)
        if not isinstance(source, str) or not source:
            raise InvalidParameterValue("Missing value for required parameter 'source'.")
        tag_rows = [_validate_tag(k, v) for k, v in (tags or {}).items()]
        who = self._actor(actor)

        def fn(conn: Connection) -> ModelVersion:
            model = self._model_row(conn, name)
            location, run, logged = self._resolve_source(conn, source, run_id or None, model_id)
            snapshot = None
            if run:
                params = dict(
                    conn.execute(
                        select(schema.params.c.key, schema.params.c.value).where(
                            schema.params.c.run_uuid == run
                        )
                    ).all()
                )
                snapshot = _snapshot_json(self._run_metrics(conn, run), params)
            now = now_ms()
            version = conn.execute(
                update(_rm)
                .where(_rm.c.id == model.id)
                .values(last_version=_rm.c.last_version + 1, last_updated_time=now)
                .returning(_rm.c.last_version)
            ).scalar_one()
            conn.execute(
                insert(_mv).values(
                    registered_model_id=model.id,
                    version=version,
                    source=source,
                    storage_location=location,
                    run_id=run,
                    run_link=run_link or None,
                    logged_model_id=logged,
                    status="READY",
                    description=description or None,
                    user_id=who,
                    current_stage="None",
                    creation_time=now,
                    last_updated_time=now,
                    run_snapshot=snapshot,
                )
            )
            if tag_rows:
                conn.execute(
                    insert(_mvt),
                    [
                        {"registered_model_id": model.id, "version": version, "key": k, "value": v}
                        for k, v in tag_rows
                    ],
                )
            self._audit(
                conn,
                model,
                AuditAction.VERSION_CREATED,
                who,
                version=version,
                field="source",
                new=source,
            )
            return self._versions(conn, [(self._version_row(conn, model, version), name)])[0]

        return self._write(fn)

    def get_model_version(self, name: str, version: int) -> ModelVersion:
        uri = ModelUri(name=_validate_model_name(name), version=_validate_version(version))

        def fn(conn: Connection) -> ModelVersion:
            model, row = self._resolve_version_row(conn, uri)
            return self._versions(conn, [(row, model.name)])[0]

        return self._read(fn)

    def update_model_version(
        self, name: str, version: int, description: str | None, *, actor: str | None = None
    ) -> ModelVersion:
        name = _validate_model_name(name)
        number = _validate_version(version)
        who = self._actor(actor)

        def fn(conn: Connection) -> ModelVersion:
            model = self._model_row(conn, name)
            row = self._version_row(conn, model, number)
            if row.description != description:
                conn.execute(
                    update(_mv)
                    .where(_mv.c.registered_model_id == model.id, _mv.c.version == number)
                    .values(description=description, last_updated_time=now_ms())
                )
                self._audit(
                    conn,
                    model,
                    AuditAction.DESCRIPTION_UPDATED,
                    who,
                    version=number,
                    field="description",
                    old=row.description,
                    new=description,
                )
            return self._versions(conn, [(self._version_row(conn, model, number), name)])[0]

        return self._write(fn)

    def delete_model_version(
        self,
        name: str,
        version: int,
        *,
        force: bool = False,
        actor: str | None = None,
        reason: str | None = None,
    ) -> None:
        name = _validate_model_name(name)
        number = _validate_version(version)
        who = self._actor(actor)

        def fn(conn: Connection) -> None:
            model = self._model_row(conn, name)
            row = self._version_row(conn, model, number)
            aliases = list(
                conn.execute(
                    select(_al.c.alias)
                    .where(_al.c.registered_model_id == model.id, _al.c.version == number)
                    .order_by(_al.c.alias)
                ).scalars()
            )
            if aliases and not force:
                shown = ", ".join(f"@{a}" for a in aliases)
                raise InvalidState(
                    f"Version {number} of model '{name}' is what {shown} points to; deleting it "
                    "would break every models:/ URI using that alias. Move or delete the alias "
                    "first, or delete with --force (force=True), which also removes the alias."
                )
            for alias in aliases:
                conn.execute(
                    delete(_al).where(_al.c.registered_model_id == model.id, _al.c.alias == alias)
                )
                self._audit(
                    conn,
                    model,
                    AuditAction.ALIAS_DELETED,
                    who,
                    version=number,
                    field=alias,
                    old=number,
                    reason=reason or f"version {number} deleted with force",
                )
            where = (_mvt.c.registered_model_id == model.id, _mvt.c.version == number)
            conn.execute(delete(_mvt).where(*where))
            conn.execute(
                delete(_mv).where(_mv.c.registered_model_id == model.id, _mv.c.version == number)
            )
            conn.execute(update(_rm).where(_rm.c.id == model.id).values(last_updated_time=now_ms()))
            self._audit(
                conn,
                model,
                AuditAction.VERSION_DELETED,
                who,
                version=number,
                old=f"stage={row.current_stage} source={row.source}",
                reason=reason,
            )

        self._write(fn)

    def _transition(
        self,
        conn: Connection,
        model: Any,
        number: int,
        stage: str,
        archive_existing: bool,
        who: str,
        reason: str | None,
    ) -> str:
        """Move a version to `stage` (recorded); returns the stage it had."""
        row = self._version_row(conn, model, number)
        now = now_ms()
        if row.current_stage != stage:
            conn.execute(
                update(_mv)
                .where(_mv.c.registered_model_id == model.id, _mv.c.version == number)
                .values(current_stage=stage, last_updated_time=now)
            )
            self._audit(
                conn,
                model,
                AuditAction.STAGE_TRANSITION,
                who,
                version=number,
                field="stage",
                old=row.current_stage,
                new=stage,
                reason=reason,
            )
        if archive_existing:
            others = (
                conn.execute(
                    select(_mv.c.version).where(
                        _mv.c.registered_model_id == model.id,
                        _mv.c.current_stage == stage,
                        _mv.c.version != number,
                    )
                )
                .scalars()
                .all()
            )
            for other in others:
                conn.execute(
                    update(_mv)
                    .where(_mv.c.registered_model_id == model.id, _mv.c.version == other)
                    .values(current_stage="Archived", last_updated_time=now)
                )
                self._audit(
                    conn,
                    model,
                    AuditAction.STAGE_TRANSITION,
                    who,
                    version=other,
                    field="stage",
                    old=stage,
                    new="Archived",
                    reason=f"archived because version {number} moved to {stage}",
                )
        conn.execute(update(_rm).where(_rm.c.id == model.id).values(last_updated_time=now))
        return row.current_stage

    @staticmethod
    def _check_archive(stage: str, archive_existing: bool) -> None:
        if archive_existing and stage not in _ARCHIVABLE_STAGES:
            raise InvalidParameterValue(
                f"archive_existing_versions only applies to Staging and Production, not {stage}."
            )

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
        name = _validate_model_name(name)
        number = _validate_version(version)
        stage = canonical_stage(stage)
        self._check_archive(stage, archive_existing_versions)
        who = self._actor(actor)

        def fn(conn: Connection) -> ModelVersion:
            model = self._model_row(conn, name)
            self._transition(conn, model, number, stage, archive_existing_versions, who, reason)
            return self._versions(conn, [(self._version_row(conn, model, number), name)])[0]

        return self._write(fn)

    def search_model_versions(
        self,
        filter_string: str | None = None,
        max_results: int = SEARCH_MODEL_VERSION_MAX_RESULTS_DEFAULT,
        order_by: Sequence[str] | None = None,
        page_token: str | None = None,
    ) -> PagedList[ModelVersion]:
        spec = _MODEL_VERSION_SEARCH
        limit = _validate_max_results(max_results, SEARCH_MODEL_VERSION_MAX_RESULTS_THRESHOLD)
        offset = _search.decode_page_token(page_token)
        where = self._conditions(
            spec,
            spec.parse_filter(filter_string),
            {
                _search.TAG: (
                    _mvt,
                    lambda t: and_(
                        t.c.registered_model_id == _mv.c.registered_model_id,
                        t.c.version == _mv.c.version,
                    ),
                )
            },
        )
        keys = spec.parse_order_by(order_by) or [
            _search.OrderKey(_search.ATTRIBUTE, "last_updated_timestamp", False)
        ]
        order = self._order_terms(spec, keys)
        name_col = _rm.c.name.collate("C") if self.dialect == "postgresql" else _rm.c.name
        order += [name_col.asc(), _mv.c.version.desc()]
        query = (
            select(_mv, _rm.c.name.label("model_name"))
            .join(_rm, _rm.c.id == _mv.c.registered_model_id)
            .where(*where)
            .order_by(*order)
            .offset(offset)
            .limit(limit + 1)
        )

        def fn(conn: Connection) -> PagedList[ModelVersion]:
            rows = conn.execute(query).all()
            token = _search.encode_page_token(offset + limit) if len(rows) > limit else None
            return PagedList(self._versions(conn, [(r, r.model_name) for r in rows[:limit]]), token)

        return self._read(fn)

    def get_model_version_download_uri(self, name: str, version: int) -> str:
        uri = ModelUri(name=_validate_model_name(name), version=_validate_version(version))

        def fn(conn: Connection) -> str:
            _, row = self._resolve_version_row(conn, uri)
            return row.storage_location or row.source

        return self._read(fn)

    def set_model_version_tag(
        self, name: str, version: int, key: str, value: str, *, actor: str | None = None
    ) -> None:
        name = _validate_model_name(name)
        number = _validate_version(version)
        key, value = _validate_tag(key, value)
        who = self._actor(actor)

        def fn(conn: Connection) -> None:
            model = self._model_row(conn, name)
            self._version_row(conn, model, number)
            where = (
                _mvt.c.registered_model_id == model.id,
                _mvt.c.version == number,
                _mvt.c.key == key,
            )
            old = conn.execute(select(_mvt.c.value).where(*where)).first()
            if old is not None and old.value == value:
                return
            if old is None:
                conn.execute(
                    insert(_mvt).values(
                        registered_model_id=model.id, version=number, key=key, value=value
                    )
                )
            else:
                conn.execute(update(_mvt).where(*where).values(value=value))
            self._audit(
                conn,
                model,
                AuditAction.TAG_SET,
                who,
                version=number,
                field=key,
                old=None if old is None else old.value,
                new=value,
            )

        self._write(fn)

    def delete_model_version_tag(
        self, name: str, version: int, key: str, *, actor: str | None = None
    ) -> None:
        name = _validate_model_name(name)
        number = _validate_version(version)
        key, _ = _validate_tag(key, "")
        who = self._actor(actor)

        def fn(conn: Connection) -> None:
            model = self._model_row(conn, name)
            self._version_row(conn, model, number)
            where = (
                _mvt.c.registered_model_id == model.id,
                _mvt.c.version == number,
                _mvt.c.key == key,
            )
            old = conn.execute(select(_mvt.c.value).where(*where)).scalar()
            if conn.execute(delete(_mvt).where(*where)).rowcount:
                self._audit(
                    conn, model, AuditAction.TAG_DELETED, who, version=number, field=key, old=old
                )

        self._write(fn)

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
        name = _validate_model_name(name)
        number = _validate_version(version)
        if alias is None and stage is None:
            raise InvalidParameterValue(
                "A promotion needs a target: an alias (--alias champion), a stage "
                "(--stage Production), or both."
            )
        alias = None if alias is None else validate_alias(alias)
        stage = _stage(stage)
        if stage is not None:
            self._check_archive(stage, archive_existing_versions)
        who = self._actor(actor)
        target = ", ".join(t for t in (alias and f"@{alias}", stage and f"stage {stage}") if t)

        def fn(conn: Connection) -> PromotionResult:
            model = self._model_row(conn, name)
            row = self._version_row(conn, model, number)
            candidate = self._gate_metrics(conn, row)
            holders: dict[str, tuple[int, dict[str, float]] | None] = {}
            for cond in conditions:
                if cond.alias is not None and cond.alias not in holders:
                    held = self._alias_version(conn, model, cond.alias)
                    holders[cond.alias] = (
                        None
                        if held is None
                        else (held, self._gate_metrics(conn, self._version_row(conn, model, held)))
                    )
            checks = [c.evaluate(number, candidate, holders.get(c.alias or "")) for c in conditions]
            passed = all(c.passed for c in checks)
            result = PromotionResult(
                name=name,
                version=number,
                alias=alias,
                stage=stage,
                passed=passed,
                applied=False,
                dry_run=dry_run,
                checks=checks,
                previous_alias_version=None
                if alias is None
                else self._alias_version(conn, model, alias),
                previous_stage=row.current_stage,
            )
            if dry_run:
                return result
            summary = (
                "; ".join(
                    f"{c.condition}: {'pass' if c.passed else 'FAIL'} ({c.detail})" for c in checks
                )
                or "no conditions"
            )
            action = AuditAction.GATE_PASSED if passed else AuditAction.GATE_FAILED
            self._audit(
                conn,
                model,
                action,
                who,
                version=number,
                field=target,
                new=summary,
                reason=reason,
            )
            if not passed:
                return result
            if alias is not None:
                self._set_alias(conn, model, alias, number, who, reason)
            if stage is not None:
                self._transition(conn, model, number, stage, archive_existing_versions, who, reason)
            result.applied = True
            return result

        return self._read(fn) if dry_run else self._write(fn)

    def get_audit_events(self, name: str) -> list[AuditEvent]:
        name = _validate_model_name(name)

        def fn(conn: Connection) -> list[AuditEvent]:
            model = conn.execute(select(_rm.c.id).where(_rm.c.name == name)).first()
            where = (
                _ev.c.registered_model_id == model.id
                if model is not None
                else _ev.c.model_name == name
            )
            rows = conn.execute(select(_ev).where(where).order_by(_ev.c.id)).all()
            if model is None and not rows:
                raise ResourceDoesNotExist(
                    f"Registered model '{name}' does not exist and has no recorded history."
                )
            return [
                AuditEvent(
                    event_id=r.id,
                    timestamp=r.timestamp,
                    actor=r.actor,
                    model_name=r.model_name,
                    action=r.action,
                    version=r.version,
                    field=r.field,
                    old_value=r.old_value,
                    new_value=r.new_value,
                    reason=r.reason,
                )
                for r in rows
            ]

        return self._read(fn)

    # --- logged models -------------------------------------------------------------------
    def _logged_models(self, conn: Connection, rows: Sequence[Any]) -> list[LoggedModel]:
        ids = [r.model_id for r in rows]
        tags: dict[str, dict[str, str]] = defaultdict(dict)
        params: dict[str, dict[str, str]] = defaultdict(dict)
        for chunk in _chunks(ids):
            for mid, key, value in conn.execute(
                select(_lmt.c.model_id, _lmt.c.key, _lmt.c.value)
                .where(_lmt.c.model_id.in_(chunk))
                .order_by(_lmt.c.key)
            ):
                tags[mid][key] = value or ""
            for mid, key, value in conn.execute(
                select(_lmp.c.model_id, _lmp.c.key, _lmp.c.value)
                .where(_lmp.c.model_id.in_(chunk))
                .order_by(_lmp.c.key)
            ):
                params[mid][key] = value
        return [
            LoggedModel(
                model_id=r.model_id,
                experiment_id=str(r.experiment_id),
                name=r.name,
                artifact_location=r.artifact_location,
                creation_timestamp=r.creation_time,
                last_updated_timestamp=r.last_updated_time,
                status=r.status,
                status_message=r.status_message,
                source_run_id=r.source_run_id,
                model_type=r.model_type,
                tags=tags.get(r.model_id, {}),
                params=params.get(r.model_id, {}),
            )
            for r in rows
        ]

    def _upsert_kv(
        self, conn: Connection, table: Any, model_id: str, items: dict[str, str]
    ) -> None:
        for key, value in items.items():
            where = (table.c.model_id == model_id, table.c.key == key)
            if conn.execute(update(table).where(*where).values(value=value)).rowcount == 0:
                conn.execute(insert(table).values(model_id=model_id, key=key, value=value))

    def create_logged_model(
        self,
        experiment_id: str,
        name: str | None = None,
        source_run_id: str | None = None,
        tags: dict[str, str] | None = None,
        params: dict[str, str] | None = None,
        model_type: str | None = None,
    ) -> LoggedModel:
        try:
            exp_id = int(str(experiment_id))
        except ValueError:
            raise InvalidParameterValue(
                f"Invalid experiment_id {experiment_id!r}: experiment ids are integers."
            ) from None
        tag_items = dict(_validate_tag(k, v) for k, v in (tags or {}).items())
        param_items = dict(_validate_tag(k, v) for k, v in (params or {}).items())
        model_name = name or generate_run_name()
        e = schema.experiments

        def fn(conn: Connection) -> LoggedModel:
            exp = conn.execute(
                select(e.c.artifact_location, e.c.lifecycle_stage).where(
                    e.c.experiment_id == exp_id
                )
            ).first()
            if exp is None:
                raise ResourceDoesNotExist(f"Experiment '{experiment_id}' does not exist.")
            if exp.lifecycle_stage != LifecycleStage.ACTIVE.value:
                raise InvalidState(
                    f"Experiment '{experiment_id}' is deleted; restore it before logging models."
                )
            model_id = f"m-{uuid.uuid4().hex}"
            now = now_ms()
            conn.execute(
                insert(_lm).values(
                    model_id=model_id,
                    experiment_id=exp_id,
                    name=model_name,
                    artifact_location=join_uri(
                        exp.artifact_location, "models", model_id, "artifacts"
                    ),
                    status=LoggedModelStatus.PENDING.value,
                    source_run_id=source_run_id or None,
                    model_type=model_type or None,
                    lifecycle_stage=LifecycleStage.ACTIVE.value,
                    creation_time=now,
                    last_updated_time=now,
                )
            )
            self._upsert_kv(conn, _lmt, model_id, tag_items)
            self._upsert_kv(conn, _lmp, model_id, param_items)
            return self._logged_models(conn, [self._logged_model_row(conn, model_id)])[0]

        return self._write(fn)

    def get_logged_model(self, model_id: str, allow_deleted: bool = False) -> LoggedModel:
        return self._read(
            lambda conn: self._logged_models(
                conn, [self._logged_model_row(conn, model_id, allow_deleted)]
            )[0]
        )

    def delete_logged_model(self, model_id: str) -> None:
        def fn(conn: Connection) -> None:
            self._logged_model_row(conn, model_id)
            conn.execute(
                update(_lm)
                .where(_lm.c.model_id == model_id)
                .values(lifecycle_stage=LifecycleStage.DELETED.value, last_updated_time=now_ms())
            )

        self._write(fn)

    def finalize_logged_model(self, model_id: str, status: str) -> LoggedModel:
        final = LoggedModelStatus.parse(status)
        if final is LoggedModelStatus.PENDING:
            raise InvalidParameterValue(
                "A logged model is finalized as READY or FAILED, not PENDING."
            )

        def fn(conn: Connection) -> LoggedModel:
            self._logged_model_row(conn, model_id)
            conn.execute(
                update(_lm)
                .where(_lm.c.model_id == model_id)
                .values(status=final.value, last_updated_time=now_ms())
            )
            return self._logged_models(conn, [self._logged_model_row(conn, model_id)])[0]

        return self._write(fn)

    def set_logged_model_tags(self, model_id: str, tags: dict[str, str]) -> None:
        items = dict(_validate_tag(k, v) for k, v in tags.items())

        def fn(conn: Connection) -> None:
            self._logged_model_row(conn, model_id)
            self._upsert_kv(conn, _lmt, model_id, items)

        self._write(fn)

    def delete_logged_model_tag(self, model_id: str, key: str) -> None:
        def fn(conn: Connection) -> None:
            self._logged_model_row(conn, model_id)
            where = (_lmt.c.model_id == model_id, _lmt.c.key == key)
            if not conn.execute(delete(_lmt).where(*where)).rowcount:
                raise ResourceDoesNotExist(f"Logged model '{model_id}' has no tag '{key}'.")

        self._write(fn)

    def log_logged_model_params(self, model_id: str, params: dict[str, str]) -> None:
        items = dict(_validate_tag(k, v) for k, v in params.items())

        def fn(conn: Connection) -> None:
            self._logged_model_row(conn, model_id)
            self._upsert_kv(conn, _lmp, model_id, items)

        self._write(fn)

    def search_logged_models(
        self,
        experiment_ids: Sequence[str],
        filter_string: str | None = None,
        max_results: int = SEARCH_LOGGED_MODEL_MAX_RESULTS_DEFAULT,
        order_by: Sequence[dict[str, Any]] | None = None,
        page_token: str | None = None,
    ) -> PagedList[LoggedModel]:
        spec = _LOGGED_MODEL_SEARCH
        limit = _validate_max_results(max_results, SEARCH_MODEL_VERSION_MAX_RESULTS_THRESHOLD)
        offset = _search.decode_page_token(page_token)
        try:
            exp_ids = [int(str(i)) for i in experiment_ids]
        except ValueError:
            raise InvalidParameterValue(
                f"Invalid experiment_ids {list(experiment_ids)!r}: experiment ids are integers."
            ) from None
        where = self._conditions(
            spec,
            spec.parse_filter(filter_string),
            {
                _search.TAG: (_lmt, lambda t: t.c.model_id == _lm.c.model_id),
                _search.PARAM: (_lmp, lambda t: t.c.model_id == _lm.c.model_id),
            },
        )
        order = []
        for item in order_by or ():
            field_name = str(item.get("field_name") or "")
            col = spec.column(field_name)
            if col is None:
                raise InvalidParameterValue(
                    f"Invalid order_by field {field_name!r} for logged models; use one of "
                    f"{', '.join(sorted({*spec.strings, *spec.numbers}))}."
                )
            order.append(col.asc() if item.get("ascending", True) else col.desc())
        order += [_lm.c.creation_time.desc(), _lm.c.model_id]
        query = (
            select(_lm)
            .where(
                _lm.c.experiment_id.in_(exp_ids),
                _lm.c.lifecycle_stage == LifecycleStage.ACTIVE.value,
                *where,
            )
            .order_by(*order)
            .offset(offset)
            .limit(limit + 1)
        )

        def fn(conn: Connection) -> PagedList[LoggedModel]:
            rows = conn.execute(query).all()
            token = _search.encode_page_token(offset + limit) if len(rows) > limit else None
            return PagedList(self._logged_models(conn, rows[:limit]), token)

        return self._read(fn)


def _chunks(items: Sequence[T], size: int = 900) -> list[Sequence[T]]:
    return [items[i : i + size] for i in range(0, len(items), size)]


__all__ = ["SqlRegistryStore"]
