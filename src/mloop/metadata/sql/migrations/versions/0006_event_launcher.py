"""Trigger events name their launcher (host, process id) and carry its heartbeat.

A controller that did not start an event's launcher can then tell a dead one at once on the same
host (its process is gone) and within a few heartbeats elsewhere, instead of after a fixed two
minutes.

Revision ID: 0006_event_launcher
Revises: 0005_controller
Create Date: 2026-11-25
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006_event_launcher"
down_revision = "0005_controller"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("trigger_events") as batch:
        batch.add_column(sa.Column("launcher_host", sa.String(255)))
        batch.add_column(sa.Column("launcher_pid", sa.Integer))
        batch.add_column(sa.Column("heartbeat_at", sa.DateTime(timezone=True)))


def downgrade() -> None:
    with op.batch_alter_table("trigger_events") as batch:
        batch.drop_column("heartbeat_at")
        batch.drop_column("launcher_pid")
        batch.drop_column("launcher_host")
