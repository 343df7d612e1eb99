"""Experiments in SQL: create, read, search, delete/restore, rename and tags.

Experiment "0" is "Default" and always exists. A deleted experiment keeps its row (and
its runs, deleted with it) until it is restored.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import ColumnElement, Connection, Select, and_, insert, select, update
from sqlalchemy.exc import IntegrityError

from slipway.entities import Experiment, LifecycleStage, now_ms
from slipway.errors import (
    InvalidParameterValue,
    InvalidState,
    ResourceAlreadyExists,
    ResourceDoesNotExist,
)
from slipway.store import schema
from slipway.store.search import ATTRIBUTE, Comparison, OrderKey
from slipway.store.sql.filters import compare, key_value_condition, order_terms
from slipway.store.sql.locations import join_uri
from slipway.store.sql.rows import dialect_insert, key_values
from slipway.store.sql.validation import parse_experiment_id

DEFAULT_EXPERIMENT_ID = 0
DEFAULT_EXPERIMENT_NAME = "Default"

experiments = schema.experiments
experiment_tags = schema.experiment_tags
_ATTRIBUTE_COLUMNS = {
    "name": experiments.c.name,
    "creation_time": experiments.c.creation_time,
    "last_update_time": experiments.c.last_update_time,
    "experiment_id": experiments.c.experiment_id,
}


def default_exists(conn: Connection) -> bool:
    query = select(experiments.c.experiment_id).where(
        experiments.c.experiment_id == DEFAULT_EXPERIMENT_ID
    )
    return conn.execute(query).first() is not None


def create_default(conn: Connection, artifact_root: str) -> None:
    """The Default experiment, unless another process created it a moment ago."""
    now = now_ms()
    conn.execute(
        dialect_insert(conn, experiments)
        .values(
            experiment_id=DEFAULT_EXPERIMENT_ID,
            name=DEFAULT_EXPERIMENT_NAME,
            artifact_location=join_uri(artifact_root, str(DEFAULT_EXPERIMENT_ID)),
            lifecycle_stage=LifecycleStage.ACTIVE.value,
            creation_time=now,
            last_update_time=now,
        )
        .on_conflict_do_nothing()
    )


def create(
    conn: Connection,
    name: str,
    artifact_location: str | None,
    tag_rows: list[dict[str, str]],
    artifact_root: str,
) -> str:
    """A new active experiment; without `artifact_location` it goes to `<root>/<id>`."""
    if conn.execute(select(experiments.c.experiment_id).where(experiments.c.name == name)).first():
        raise ResourceAlreadyExists(f"Experiment(name={name}) already exists.")
    now = now_ms()
    try:
        exp_id = conn.execute(
            insert(experiments)
            .values(
                name=name,
                artifact_location=artifact_location or "",
                lifecycle_stage=LifecycleStage.ACTIVE.value,
                creation_time=now,
                last_update_time=now,
            )
            .returning(experiments.c.experiment_id)
        ).scalar_one()
    except IntegrityError:
        raise ResourceAlreadyExists(f"Experiment(name={name}) already exists.") from None
    if not artifact_location:
        conn.execute(
            update(experiments)
            .where(experiments.c.experiment_id == exp_id)
            .values(artifact_location=join_uri(artifact_root, str(exp_id)))
        )
    if tag_rows:
        conn.execute(
            insert(experiment_tags), [{"experiment_id": exp_id, **row} for row in tag_rows]
        )
    return str(exp_id)


def experiments_from_rows(conn: Connection, rows: Sequence[Any]) -> list[Experiment]:
    tags = key_values(conn, experiment_tags, "experiment_id", [row.experiment_id for row in rows])
    return [
        Experiment(
            experiment_id=str(row.experiment_id),
            name=row.name,
            artifact_location=row.artifact_location,
            lifecycle_stage=row.lifecycle_stage,
            creation_time=row.creation_time,
            last_update_time=row.last_update_time,
            tags=dict(tags.get(row.experiment_id, {})),
        )
        for row in rows
    ]


def experiment_row(conn: Connection, experiment_id: Any) -> Any:
    """The experiment's row, active or deleted; RESOURCE_DOES_NOT_EXIST if none."""
    exp_id = parse_experiment_id(experiment_id)
    row = conn.execute(select(experiments).where(experiments.c.experiment_id == exp_id)).first()
    if row is None:
        raise ResourceDoesNotExist(f"No Experiment with id={experiment_id} exists.")
    return row


def active_experiment_row(conn: Connection, experiment_id: Any) -> Any:
    """The row of an experiment that exists and is active.

    A deleted one is INVALID_PARAMETER_VALUE, the code MLflow's server answers with.
    """
    row = experiment_row(conn, experiment_id)
    if row.lifecycle_stage != LifecycleStage.ACTIVE.value:
        raise InvalidParameterValue(
            f"The experiment {experiment_id} must be in the 'active' state. Current state "
            f"is {row.lifecycle_stage}; restore it first."
        )
    return row


def get(conn: Connection, experiment_id: str) -> Experiment:
    return experiments_from_rows(conn, [experiment_row(conn, experiment_id)])[0]


def get_by_name(conn: Connection, name: str) -> Experiment | None:
    row = conn.execute(select(experiments).where(experiments.c.name == name)).first()
    return experiments_from_rows(conn, [row])[0] if row else None


def search_query(
    stages: Sequence[str],
    comparisons: Sequence[Comparison],
    order_keys: Sequence[OrderKey],
    dialect: str,
) -> Select[Any]:
    """Experiments in `stages` matching every comparison, in order (newest first by default)."""
    conds: list[ColumnElement[bool]] = [experiments.c.lifecycle_stage.in_(stages)]
    for cmp in comparisons:
        if cmp.entity_type == ATTRIBUTE:
            conds.append(compare(_ATTRIBUTE_COLUMNS[cmp.key], cmp, dialect))
        else:
            tag = experiment_tags.alias()
            belongs = tag.c.experiment_id == experiments.c.experiment_id
            conds.append(key_value_condition(tag, belongs, cmp, dialect))
    query = select(experiments).where(*conds)
    order: list[Any] = []
    for key in order_keys:
        if key.entity_type == ATTRIBUTE:
            col = _ATTRIBUTE_COLUMNS[key.key]
        else:
            tag = experiment_tags.alias()
            query = query.outerjoin(
                tag,
                and_(tag.c.experiment_id == experiments.c.experiment_id, tag.c.key == key.key),
            )
            col = tag.c.value
        order.extend(order_terms(col, key.ascending, dialect))
    if not order_keys:
        order.append(experiments.c.creation_time.desc())
    order.append(experiments.c.experiment_id.asc())
    return query.order_by(*order)


def delete(conn: Connection, experiment_id: str) -> None:
    """Mark the experiment and its active runs deleted (a no-op if it already is)."""
    _move(conn, experiment_id, LifecycleStage.ACTIVE, LifecycleStage.DELETED)


def restore(conn: Connection, experiment_id: str) -> None:
    """Make the experiment active again, and, as MLflow, every run of it."""
    _move(conn, experiment_id, LifecycleStage.DELETED, LifecycleStage.ACTIVE)


def _move(conn: Connection, experiment_id: str, old: LifecycleStage, new: LifecycleStage) -> None:
    """Move the experiment, and its runs in stage `old`, to stage `new`."""
    row = experiment_row(conn, experiment_id)
    if row.lifecycle_stage == new.value:
        return
    now = now_ms()
    conn.execute(
        update(experiments)
        .where(experiments.c.experiment_id == row.experiment_id)
        .values(lifecycle_stage=new.value, last_update_time=now)
    )
    runs = schema.runs
    conn.execute(
        update(runs)
        .where(runs.c.experiment_id == row.experiment_id, runs.c.lifecycle_stage == old.value)
        .values(
            lifecycle_stage=new.value,
            deleted_time=now if new is LifecycleStage.DELETED else None,
        )
    )


def rename(conn: Connection, experiment_id: str, new_name: str) -> None:
    """Rename an active experiment (a deleted one is INVALID_STATE, as in MLflow)."""
    row = experiment_row(conn, experiment_id)
    if row.lifecycle_stage != LifecycleStage.ACTIVE.value:
        raise InvalidState(
            f"Cannot rename it: the experiment {experiment_id} is deleted "
            "(it must be in the 'active' state). Restore it first."
        )
    if row.name == new_name:
        return
    taken = conn.execute(
        select(experiments.c.experiment_id).where(experiments.c.name == new_name)
    ).first()
    if taken:
        raise ResourceAlreadyExists(f"Experiment(name={new_name}) already exists.")
    try:
        conn.execute(
            update(experiments)
            .where(experiments.c.experiment_id == row.experiment_id)
            .values(name=new_name, last_update_time=now_ms())
        )
    except IntegrityError:
        raise ResourceAlreadyExists(f"Experiment(name={new_name}) already exists.") from None


def set_tag(conn: Connection, experiment_id: str, key: str, value: str) -> None:
    row = active_experiment_row(conn, experiment_id)
    stmt = dialect_insert(conn, experiment_tags).values(
        experiment_id=row.experiment_id, key=key, value=value
    )
    conn.execute(
        stmt.on_conflict_do_update(
            index_elements=[experiment_tags.c.experiment_id, experiment_tags.c.key],
            set_={"value": value},
        )
    )
    conn.execute(
        update(experiments)
        .where(experiments.c.experiment_id == row.experiment_id)
        .values(last_update_time=now_ms())
    )


def delete_tag(conn: Connection, experiment_id: str, key: str) -> None:
    row = active_experiment_row(conn, experiment_id)
    deleted = conn.execute(
        experiment_tags.delete().where(
            experiment_tags.c.experiment_id == row.experiment_id, experiment_tags.c.key == key
        )
    ).rowcount
    if not deleted:
        raise ResourceDoesNotExist(
            f"No tag with name: {key} in experiment with id {experiment_id}."
        )


__all__ = [
    "DEFAULT_EXPERIMENT_ID",
    "DEFAULT_EXPERIMENT_NAME",
    "active_experiment_row",
    "create",
    "create_default",
    "default_exists",
    "delete",
    "delete_tag",
    "experiment_row",
    "experiments_from_rows",
    "get",
    "get_by_name",
    "rename",
    "restore",
    "search_query",
    "set_tag",
]
