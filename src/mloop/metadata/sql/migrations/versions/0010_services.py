"""Running prediction services (heartbeats) and the history of their traffic changes.

Revision ID: 0010_services
Revises: 0008_cicd
Create Date: 2026-12-04
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0010_services"
down_revision = "0008_cicd"
branch_labels = None
depends_on = None

_UTC = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "services",
        sa.Column("id", sa.String(64), primary_key=True),
        sa.Column("model", sa.String(255), nullable=False),
        sa.Column("environment", sa.String(64), nullable=False),
        sa.Column("url", sa.Text),
        sa.Column("host", sa.String(255), nullable=False),
        sa.Column("pid", sa.Integer, nullable=False),
        sa.Column("workers", sa.Integer, nullable=False),
        sa.Column("model_uri", sa.Text, nullable=False),
        sa.Column("traffic", sa.JSON, nullable=False),
        sa.Column("generation", sa.Integer, nullable=False),
        sa.Column("healthy", sa.Boolean, nullable=False),
        sa.Column("status", sa.Text),
        sa.Column("started_at", _UTC, nullable=False),
        sa.Column("heartbeat_at", _UTC, nullable=False),
        sa.Column("traffic_since", _UTC, nullable=False),
        sa.Column("stopped_at", _UTC),
    )
    op.create_index("ix_services_heartbeat", "services", ["heartbeat_at"])
    op.create_table(
        "traffic_changes",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("service_id", sa.String(64), nullable=False),
        sa.Column("model", sa.String(255), nullable=False),
        sa.Column("environment", sa.String(64), nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("actor", sa.String(255), nullable=False),
        sa.Column("reason", sa.Text),
        sa.Column("at", _UTC, nullable=False),
        sa.Column("traffic", sa.JSON, nullable=False),
    )
    op.create_index("ix_traffic_changes_service", "traffic_changes", ["service_id", "id"])


def downgrade() -> None:
    op.drop_index("ix_traffic_changes_service", table_name="traffic_changes")
    op.drop_table("traffic_changes")
    op.drop_index("ix_services_heartbeat", table_name="services")
    op.drop_table("services")
