"""The one place the metadata schema is declared (SQLAlchemy Core tables).

Alembic migrations in `slipway/store/migrations/` create and change these tables; a test
checks that the migrated database matches this module. Column names follow MLflow's SQL
store where it helps people who know it (`run_uuid`, `lifecycle_stage`).
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    Float,
    ForeignKey,
    ForeignKeyConstraint,
    Index,
    Integer,
    MetaData,
    PrimaryKeyConstraint,
    String,
    Table,
    Text,
)

# Named constraints, so that later migrations can drop or alter them by name (SQLite
# batch mode needs names) and the names are the same on SQLite and PostgreSQL.
NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

metadata = MetaData(naming_convention=NAMING_CONVENTION)

# Small per-run key/value tables are stored clustered by (run_uuid, key) on SQLite
# (WITHOUT ROWID): fetching one run's values, or joining a filter to a run, is one B-tree
# descent, and their (key, value) indexes carry run_uuid, so search filters never touch the
# table, which makes filtered searches markedly faster. PostgreSQL ignores the option.
_CLUSTERED = {"sqlite_with_rowid": False}


def _owner(name: str, type_: Any, target: str) -> Column[Any]:
    """A required reference to the row that owns this one; deleted with it."""
    return Column(name, type_, ForeignKey(target, ondelete="CASCADE"), nullable=False)


def _key() -> Column[Any]:
    """The key of a key/value row (a tag's, a param's, a metric's name)."""
    return Column("key", String(250), nullable=False)


def _point(step_default: int | None) -> list[Column[Any]]:
    """A metric point's columns after its run and key."""
    return [
        Column("value", Float(precision=53)),
        Column("is_nan", Boolean, nullable=False, default=False),
        Column("timestamp", BigInteger, nullable=False),
        Column("step", BigInteger, nullable=False, default=step_default),
    ]


def _key_values(
    name: str, owner: Column[Any], value: Column[Any] | None = None, *extra: Any, **options: Any
) -> Table:
    """A table of key/value rows (tags, params) of the row `owner` references; `value`
    defaults to nullable text, `extra` adds indexes."""
    return Table(
        name,
        metadata,
        owner,
        _key(),
        Column("value", Text) if value is None else value,
        PrimaryKeyConstraint(owner.name, "key"),
        *extra,
        **options,
    )


experiments = Table(
    "experiments",
    metadata,
    Column("experiment_id", Integer, primary_key=True, autoincrement=True),
    Column("name", String(500), nullable=False, unique=True),
    Column("artifact_location", String(2000), nullable=False),
    Column("lifecycle_stage", String(32), nullable=False, default="active"),
    Column("creation_time", BigInteger),
    Column("last_update_time", BigInteger),
)

experiment_tags = _key_values(
    "experiment_tags", _owner("experiment_id", Integer, "experiments.experiment_id")
)

runs = Table(
    "runs",
    metadata,
    Column("run_uuid", String(32), primary_key=True),
    Column("name", String(250)),
    _owner("experiment_id", Integer, "experiments.experiment_id"),
    Column("user_id", String(256)),
    Column("status", String(20), nullable=False),
    Column("start_time", BigInteger),
    Column("end_time", BigInteger),
    Column("deleted_time", BigInteger),
    Column("artifact_uri", String(2000)),
    Column("lifecycle_stage", String(32), nullable=False, default="active"),
    Index("ix_runs_experiment_start", "experiment_id", "start_time"),
)

params = _key_values(
    "params",
    _owner("run_uuid", String(32), "runs.run_uuid"),
    Column("value", String(6000), nullable=False),
    Index("ix_params_key_value", "key", "value"),
    **_CLUSTERED,
)

tags = _key_values(
    "tags",
    _owner("run_uuid", String(32), "runs.run_uuid"),
    Column("value", String(8000)),
    Index("ix_tags_key_value", "key", "value"),
    **_CLUSTERED,
)

# Every metric point. No primary key: the same point may be logged twice (as MLflow
# allows), and a rowid table keeps bulk inserts cheap.
metrics = Table(
    "metrics",
    metadata,
    _owner("run_uuid", String(32), "runs.run_uuid"),
    _key(),
    *_point(step_default=0),
    Index("ix_metrics_run_key_step", "run_uuid", "key", "step"),
)

# The latest point of each metric (max step, then timestamp, then value), kept on write
# so that search and run views never scan history.
latest_metrics = Table(
    "latest_metrics",
    metadata,
    _owner("run_uuid", String(32), "runs.run_uuid"),
    _key(),
    *_point(step_default=None),
    PrimaryKeyConstraint("run_uuid", "key"),
    # is_nan included so that metric filters are answered from the index alone.
    Index("ix_latest_metrics_key_value", "key", "value", "is_nan"),
    **_CLUSTERED,
)

datasets = Table(
    "datasets",
    metadata,
    Column("dataset_uuid", String(36), primary_key=True),
    _owner("experiment_id", Integer, "experiments.experiment_id"),
    Column("name", String(500), nullable=False),
    Column("digest", String(36), nullable=False),
    Column("source_type", String(36)),
    Column("source", Text),
    Column("schema", Text),
    Column("profile", Text),
    Index("ix_datasets_exp_name_digest", "experiment_id", "name", "digest", unique=True),
)

inputs = Table(
    "inputs",
    metadata,
    Column("input_uuid", String(36), primary_key=True),
    Column("source_type", String(36), nullable=False),  # "DATASET"
    Column("source_id", String(36), nullable=False),
    Column("destination_type", String(36), nullable=False),  # "RUN"
    Column("destination_id", String(36), nullable=False),
    Index("ix_inputs_dest", "destination_type", "destination_id"),
    Index("ix_inputs_src_dest", "source_id", "destination_id", unique=True),
)

input_tags = Table(
    "input_tags",
    metadata,
    Column("input_uuid", String(36), ForeignKey("inputs.input_uuid", ondelete="CASCADE")),
    Column("name", String(255), nullable=False),
    Column("value", String(500), nullable=False),
    PrimaryKeyConstraint("input_uuid", "name"),
)

run_outputs = Table(
    "run_outputs",
    metadata,
    _owner("run_uuid", String(32), "runs.run_uuid"),
    Column("model_id", String(64), nullable=False),
    Column("step", BigInteger, nullable=False, default=0),
    PrimaryKeyConstraint("run_uuid", "model_id"),
)


# --- model registry (revision 0002_registry) ---------------------------------------------
# Registered models have a surrogate id, so a rename touches one row and the audit trail
# keeps following the model. `last_version` numbers versions: a deleted version's number
# is never given out again.

registered_models = Table(
    "registered_models",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("name", String(256), nullable=False, unique=True),
    Column("description", Text),
    Column("user_id", String(256)),
    Column("creation_time", BigInteger, nullable=False),
    Column("last_updated_time", BigInteger, nullable=False),
    Column("last_version", Integer, nullable=False, default=0),
)

registered_model_tags = _key_values(
    "registered_model_tags", _owner("registered_model_id", Integer, "registered_models.id")
)

model_versions = Table(
    "model_versions",
    metadata,
    _owner("registered_model_id", Integer, "registered_models.id"),
    Column("version", Integer, nullable=False),
    Column("source", Text, nullable=False),
    Column("storage_location", Text),
    Column("run_id", String(32)),
    Column("run_link", Text),
    Column("logged_model_id", String(64)),
    Column("status", String(20), nullable=False),
    Column("status_message", Text),
    Column("description", Text),
    Column("user_id", String(256)),
    Column("current_stage", String(20), nullable=False),
    Column("creation_time", BigInteger, nullable=False),
    Column("last_updated_time", BigInteger, nullable=False),
    # JSON {"metrics": {...}, "params": {...}} of the source run at registration time.
    Column("run_snapshot", Text),
    PrimaryKeyConstraint("registered_model_id", "version"),
    Index("ix_model_versions_run_id", "run_id"),
)

model_version_tags = Table(
    "model_version_tags",
    metadata,
    Column("registered_model_id", Integer, nullable=False),
    Column("version", Integer, nullable=False),
    _key(),
    Column("value", Text),
    PrimaryKeyConstraint("registered_model_id", "version", "key"),
    ForeignKeyConstraint(
        ["registered_model_id", "version"],
        ["model_versions.registered_model_id", "model_versions.version"],
        ondelete="CASCADE",
    ),
)

registered_model_aliases = Table(
    "registered_model_aliases",
    metadata,
    _owner("registered_model_id", Integer, "registered_models.id"),
    Column("alias", String(255), nullable=False),
    Column("version", Integer, nullable=False),
    PrimaryKeyConstraint("registered_model_id", "alias"),
)

# Append-only: no foreign key (events outlive the model they describe), and database
# triggers (created by the migration) refuse UPDATE and DELETE.
audit_events = Table(
    "audit_events",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("timestamp", BigInteger, nullable=False),
    Column("actor", String(256), nullable=False),
    Column("registered_model_id", Integer),
    Column("model_name", String(256), nullable=False),
    Column("version", Integer),
    Column("action", String(32), nullable=False),
    Column("field", String(255)),
    Column("old_value", Text),
    Column("new_value", Text),
    Column("reason", Text),
    Index("ix_audit_events_model", "registered_model_id", "id"),
    Index("ix_audit_events_model_name", "model_name"),
)

logged_models = Table(
    "logged_models",
    metadata,
    Column("model_id", String(64), primary_key=True),
    _owner("experiment_id", Integer, "experiments.experiment_id"),
    Column("name", String(500), nullable=False),
    Column("artifact_location", Text, nullable=False),
    Column("status", String(20), nullable=False),
    Column("status_message", Text),
    Column("source_run_id", String(32)),
    Column("model_type", String(500)),
    Column("lifecycle_stage", String(32), nullable=False, default="active"),
    Column("creation_time", BigInteger, nullable=False),
    Column("last_updated_time", BigInteger, nullable=False),
    Index("ix_logged_models_experiment", "experiment_id", "creation_time"),
    Index("ix_logged_models_source_run", "source_run_id"),
)

logged_model_tags = _key_values(
    "logged_model_tags", _owner("model_id", String(64), "logged_models.model_id")
)

logged_model_params = _key_values(
    "logged_model_params",
    _owner("model_id", String(64), "logged_models.model_id"),
    Column("value", Text, nullable=False),
)

# Metric points linked to a logged model (revision 0004): `log_metric(model_id=…)` writes
# one here besides the run's history, with the run and the dataset it was measured on.
logged_model_metrics = Table(
    "logged_model_metrics",
    metadata,
    _owner("model_id", String(64), "logged_models.model_id"),
    _key(),
    *_point(step_default=0),
    Column("run_uuid", String(32)),
    Column("dataset_name", String(500)),
    Column("dataset_digest", String(36)),
    Index("ix_logged_model_metrics_model_key", "model_id", "key"),
)


# Monitors: the definition and state as JSON text; one row per evaluated window (keyed by
# its start, so re-running a window updates its row); events append (alerts, retrains).

monitors = Table(
    "monitors",
    metadata,
    Column("name", String(256), primary_key=True),
    Column("model_name", String(256), nullable=False),
    Column("spec", Text, nullable=False),
    Column("state", Text, nullable=False),
    Column("creation_time", BigInteger, nullable=False),
    Column("last_updated_time", BigInteger, nullable=False),
)

monitor_windows = Table(
    "monitor_windows",
    metadata,
    _owner("monitor_name", String(256), "monitors.name"),
    Column("window_start", BigInteger, nullable=False),
    Column("window_end", BigInteger, nullable=False),
    Column("status", String(32), nullable=False),
    Column("rows", Integer, nullable=False),
    Column("labelled_rows", Integer, nullable=False),
    Column("model_version", Integer),
    Column("metrics", Text, nullable=False),
    Column("result", Text, nullable=False),
    Column("evaluated_time", BigInteger, nullable=False),
    PrimaryKeyConstraint("monitor_name", "window_start"),
)

monitor_events = Table(
    "monitor_events",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    _owner("monitor_name", String(256), "monitors.name"),
    Column("timestamp", BigInteger, nullable=False),
    Column("kind", String(32), nullable=False),
    Column("condition", String(256)),
    Column("message", Text),
    Column("details", Text),
    Index("ix_monitor_events_monitor", "monitor_name", "id"),
)


__all__ = [
    "audit_events",
    "datasets",
    "experiment_tags",
    "experiments",
    "input_tags",
    "inputs",
    "latest_metrics",
    "logged_model_metrics",
    "logged_model_params",
    "logged_model_tags",
    "logged_models",
    "metadata",
    "metrics",
    "model_version_tags",
    "model_versions",
    "monitor_events",
    "monitor_windows",
    "monitors",
    "params",
    "registered_model_aliases",
    "registered_model_tags",
    "registered_models",
    "run_outputs",
    "runs",
    "tags",
]
