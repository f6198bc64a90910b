"""Controller: trigger events (what fired, why, which run it started) and the leader lease.

Revision ID: 0005_controller
Revises: 0004_monitoring
Create Date: 2026-11-24
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005_controller"
down_revision = "0004_monitoring"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "trigger_events",
        sa.Column("id", sa.String(32), primary_key=True),
        sa.Column("pipeline", sa.String(255), nullable=False),
        sa.Column("kind", sa.String(32), nullable=False),
        sa.Column("reason", sa.Text, nullable=False),
        sa.Column("payload", sa.JSON, nullable=False),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("started_at", sa.DateTime(timezone=True)),
        sa.Column("ended_at", sa.DateTime(timezone=True)),
        sa.Column("claimed_by", sa.String(255)),
        sa.Column("run_id", sa.String(32)),
        sa.Column("error", sa.Text),
    )
    op.create_index(
        "ix_trigger_events_pipeline_created", "trigger_events", ["pipeline", "created_at"]
    )
    op.create_index("ix_trigger_events_state", "trigger_events", ["state"])
    op.create_table(
        "controller_leases",
        sa.Column("name", sa.String(255), primary_key=True),
        sa.Column("holder", sa.String(255), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("acquired_at", sa.DateTime(timezone=True), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("controller_leases")
    op.drop_index("ix_trigger_events_state", table_name="trigger_events")
    op.drop_index("ix_trigger_events_pipeline_created", table_name="trigger_events")
    op.drop_table("trigger_events")
