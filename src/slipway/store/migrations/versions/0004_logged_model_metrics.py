"""Logged-model metrics: metric points linked to an MLflow 3 logged model.

Revision ID: 0004_logged_model_metrics
Revises: 0003_monitoring
Create Date: 2026-12-01

`log_metric(..., model_id=…, dataset_name=…, dataset_digest=…)` records the point in the
run's history and, here, against the logged model with the dataset it was measured on;
`get_logged_model` and logged-model search read them.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004_logged_model_metrics"
down_revision = "0003_monitoring"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "logged_model_metrics",
        sa.Column(
            "model_id",
            sa.String(64),
            sa.ForeignKey("logged_models.model_id", ondelete="CASCADE"),
            nullable=False,
        ),
        sa.Column("key", sa.String(250), nullable=False),
        sa.Column("value", sa.Float(precision=53)),
        sa.Column("is_nan", sa.Boolean, nullable=False),
        sa.Column("timestamp", sa.BigInteger, nullable=False),
        sa.Column("step", sa.BigInteger, nullable=False),
        sa.Column("run_uuid", sa.String(32)),
        sa.Column("dataset_name", sa.String(500)),
        sa.Column("dataset_digest", sa.String(36)),
    )
    op.create_index(
        "ix_logged_model_metrics_model_key", "logged_model_metrics", ["model_id", "key"]
    )


def downgrade() -> None:
    op.drop_index("ix_logged_model_metrics_model_key", table_name="logged_model_metrics")
    op.drop_table("logged_model_metrics")
