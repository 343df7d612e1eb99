"""Monitoring tables: monitors, their evaluated windows (the time series) and their events.

Revision ID: 0003_monitoring
Revises: 0002_registry
Create Date: 2026-12-01

A monitor's definition and state are JSON text: the monitoring layer owns their shape, so
adding a rule needs no migration. A window is keyed by (monitor, window start): evaluating
the same window again updates its row.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003_monitoring"
down_revision = "0002_registry"
branch_labels = None
depends_on = None


def _monitor_fk() -> sa.ForeignKey:
    return sa.ForeignKey("monitors.name", ondelete="CASCADE")


def upgrade() -> None:
    op.create_table(
        "monitors",
        sa.Column("name", sa.String(256), primary_key=True),
        sa.Column("model_name", sa.String(256), nullable=False),
        sa.Column("spec", sa.Text, nullable=False),
        sa.Column("state", sa.Text, nullable=False),
        sa.Column("creation_time", sa.BigInteger, nullable=False),
        sa.Column("last_updated_time", sa.BigInteger, nullable=False),
    )
    op.create_table(
        "monitor_windows",
        sa.Column("monitor_name", sa.String(256), _monitor_fk(), nullable=False),
        sa.Column("window_start", sa.BigInteger, nullable=False),
        sa.Column("window_end", sa.BigInteger, nullable=False),
        sa.Column("status", sa.String(32), nullable=False),
        sa.Column("rows", sa.Integer, nullable=False),
        sa.Column("labelled_rows", sa.Integer, nullable=False),
        sa.Column("model_version", sa.Integer),
        sa.Column("metrics", sa.Text, nullable=False),
        sa.Column("result", sa.Text, nullable=False),
        sa.Column("evaluated_time", sa.BigInteger, nullable=False),
        sa.PrimaryKeyConstraint("monitor_name", "window_start"),
    )
    op.create_table(
        "monitor_events",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("monitor_name", sa.String(256), _monitor_fk(), nullable=False),
        sa.Column("timestamp", sa.BigInteger, nullable=False),
        sa.Column("kind", sa.String(32), nullable=False),
        sa.Column("condition", sa.String(256)),
        sa.Column("message", sa.Text),
        sa.Column("details", sa.Text),
        sa.Index("ix_monitor_events_monitor", "monitor_name", "id"),
    )


def downgrade() -> None:
    for table in ("monitor_events", "monitor_windows", "monitors"):
        op.drop_table(table)
