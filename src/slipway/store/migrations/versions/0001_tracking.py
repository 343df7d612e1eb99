"""Tracking tables: experiments, runs, params, tags, metrics, latest metrics, datasets.

Revision ID: 0001_tracking
Revises:
Create Date: 2025-01-01

Spelled out column by column (not `metadata.create_all`) so that this revision keeps
creating the same tables when `schema.py` grows in later revisions.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001_tracking"
down_revision = None
branch_labels = None
depends_on = None


def _run_fk() -> sa.ForeignKey:
    return sa.ForeignKey("runs.run_uuid", ondelete="CASCADE")


def _experiment_fk() -> sa.ForeignKey:
    return sa.ForeignKey("experiments.experiment_id", ondelete="CASCADE")


def upgrade() -> None:
    op.create_table(
        "experiments",
        sa.Column("experiment_id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("name", sa.String(500), nullable=False, unique=True),
        sa.Column("artifact_location", sa.String(2000), nullable=False),
        sa.Column("lifecycle_stage", sa.String(32), nullable=False),
        sa.Column("creation_time", sa.BigInteger),
        sa.Column("last_update_time", sa.BigInteger),
    )
    op.create_table(
        "experiment_tags",
        sa.Column("experiment_id", sa.Integer, _experiment_fk(), nullable=False),
        sa.Column("key", sa.String(250), nullable=False),
        sa.Column("value", sa.Text),
        sa.PrimaryKeyConstraint("experiment_id", "key"),
    )
    op.create_table(
        "runs",
        sa.Column("run_uuid", sa.String(32), primary_key=True),
        sa.Column("name", sa.String(250)),
        sa.Column("experiment_id", sa.Integer, _experiment_fk(), nullable=False),
        sa.Column("user_id", sa.String(256)),
        sa.Column("status", sa.String(20), nullable=False),
        sa.Column("start_time", sa.BigInteger),
        sa.Column("end_time", sa.BigInteger),
        sa.Column("deleted_time", sa.BigInteger),
        sa.Column("artifact_uri", sa.String(2000)),
        sa.Column("lifecycle_stage", sa.String(32), nullable=False),
        sa.Index("ix_runs_experiment_start", "experiment_id", "start_time"),
    )
    op.create_table(
        "params",
        sa.Column("run_uuid", sa.String(32), _run_fk(), nullable=False),
        sa.Column("key", sa.String(250), nullable=False),
        sa.Column("value", sa.String(6000), nullable=False),
        sa.PrimaryKeyConstraint("run_uuid", "key"),
        sa.Index("ix_params_key_value", "key", "value"),
        sqlite_with_rowid=False,
    )
    op.create_table(
        "tags",
        sa.Column("run_uuid", sa.String(32), _run_fk(), nullable=False),
        sa.Column("key", sa.String(250), nullable=False),
        sa.Column("value", sa.String(8000)),
        sa.PrimaryKeyConstraint("run_uuid", "key"),
        sa.Index("ix_tags_key_value", "key", "value"),
        sqlite_with_rowid=False,
    )
    op.create_table(
        "metrics",
        sa.Column("run_uuid", sa.String(32), _run_fk(), nullable=False),
        sa.Column("key", sa.String(250), nullable=False),
        sa.Column("value", sa.Float(precision=53)),
        sa.Column("is_nan", sa.Boolean, nullable=False),
        sa.Column("timestamp", sa.BigInteger, nullable=False),
        sa.Column("step", sa.BigInteger, nullable=False),
        sa.Index("ix_metrics_run_key_step", "run_uuid", "key", "step"),
    )
    op.create_table(
        "latest_metrics",
        sa.Column("run_uuid", sa.String(32), _run_fk(), nullable=False),
        sa.Column("key", sa.String(250), nullable=False),
        sa.Column("value", sa.Float(precision=53)),
        sa.Column("is_nan", sa.Boolean, nullable=False),
        sa.Column("timestamp", sa.BigInteger, nullable=False),
        sa.Column("step", sa.BigInteger, nullable=False),
        sa.PrimaryKeyConstraint("run_uuid", "key"),
        sa.Index("ix_latest_metrics_key_value", "key", "value", "is_nan"),
        sqlite_with_rowid=False,
    )
    op.create_table(
        "datasets",
        sa.Column("dataset_uuid", sa.String(36), primary_key=True),
        sa.Column("experiment_id", sa.Integer, _experiment_fk(), nullable=False),
        sa.Column("name", sa.String(500), nullable=False),
        sa.Column("digest", sa.String(36), nullable=False),
        sa.Column("source_type", sa.String(36)),
        sa.Column("source", sa.Text),
        sa.Column("schema", sa.Text),
        sa.Column("profile", sa.Text),
        sa.Index("ix_datasets_exp_name_digest", "experiment_id", "name", "digest", unique=True),
    )
    op.create_table(
        "inputs",
        sa.Column("input_uuid", sa.String(36), primary_key=True),
        sa.Column("source_type", sa.String(36), nullable=False),
        sa.Column("source_id", sa.String(36), nullable=False),
        sa.Column("destination_type", sa.String(36), nullable=False),
        sa.Column("destination_id", sa.String(36), nullable=False),
        sa.Index("ix_inputs_dest", "destination_type", "destination_id"),
        sa.Index("ix_inputs_src_dest", "source_id", "destination_id", unique=True),
    )
    op.create_table(
        "input_tags",
        sa.Column(
            "input_uuid", sa.String(36), sa.ForeignKey("inputs.input_uuid", ondelete="CASCADE")
        ),
        sa.Column("name", sa.String(255), nullable=False),
        sa.Column("value", sa.String(500), nullable=False),
        sa.PrimaryKeyConstraint("input_uuid", "name"),
    )
    op.create_table(
        "run_outputs",
        sa.Column("run_uuid", sa.String(32), _run_fk(), nullable=False),
        sa.Column("model_id", sa.String(64), nullable=False),
        sa.Column("step", sa.BigInteger, nullable=False),
        sa.PrimaryKeyConstraint("run_uuid", "model_id"),
    )


def downgrade() -> None:
    for table in (
        "run_outputs",
        "input_tags",
        "inputs",
        "datasets",
        "latest_metrics",
        "metrics",
        "tags",
        "params",
        "runs",
        "experiment_tags",
        "experiments",
    ):
        op.drop_table(table)
