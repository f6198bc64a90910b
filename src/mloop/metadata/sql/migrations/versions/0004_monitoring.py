"""Monitoring: one row per monitoring report of a model's prediction-log window, and alerts
(at most one open per model and rule, through the unique ``open_key``).

Revision ID: 0004_monitoring
Revises: 0003_features
Create Date: 2026-11-24
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004_monitoring"
down_revision = "0003_features"
branch_labels = None
depends_on = None

_UTC = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "monitoring_reports",
        sa.Column("id", sa.String(32), primary_key=True),
        sa.Column("model", sa.String(255), nullable=False),
        sa.Column("version", sa.String(64)),
        sa.Column("window_start", _UTC, nullable=False),
        sa.Column("window_end", _UTC, nullable=False),
        sa.Column("created_at", _UTC, nullable=False),
        sa.Column("num_rows", sa.Integer, nullable=False),
        sa.Column("share_drifted", sa.Float),
        sa.Column("dataset_drifted", sa.Boolean, nullable=False),
        sa.Column("prediction_drift", sa.Float),
        sa.Column("summary", sa.JSON, nullable=False),
        sa.Column("run_id", sa.String(32)),
        sa.Column("artifact_id", sa.String(32)),
    )
    op.create_index(
        "ix_monitoring_reports_model_end", "monitoring_reports", ["model", "window_end"]
    )
    op.create_table(
        "alerts",
        sa.Column("id", sa.String(32), primary_key=True),
        sa.Column("model", sa.String(255), nullable=False),
        sa.Column("rule", sa.String(255), nullable=False),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("open_key", sa.String(512), unique=True),
        sa.Column("severity", sa.String(16), nullable=False),
        sa.Column("message", sa.Text, nullable=False),
        sa.Column("value", sa.Float),
        sa.Column("threshold", sa.Float),
        sa.Column("report_id", sa.String(32)),
        sa.Column("payload", sa.JSON, nullable=False),
        sa.Column("occurrences", sa.Integer, nullable=False),
        sa.Column("opened_at", _UTC, nullable=False),
        sa.Column("last_seen_at", _UTC, nullable=False),
        sa.Column("resolved_at", _UTC),
    )
    op.create_index("ix_alerts_model_opened", "alerts", ["model", "opened_at"])


def downgrade() -> None:
    op.drop_index("ix_alerts_model_opened", table_name="alerts")
    op.drop_table("alerts")
    op.drop_index("ix_monitoring_reports_model_end", table_name="monitoring_reports")
    op.drop_table("monitoring_reports")
