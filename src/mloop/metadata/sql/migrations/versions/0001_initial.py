"""Initial metadata schema: pipelines, runs, executions, artifacts, events, params, tags, metrics.

Revision ID: 0001_initial
Revises:
Create Date: 2025-01-01
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001_initial"
down_revision = None
branch_labels = None
depends_on = None

UTC = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "pipelines",
        sa.Column("name", sa.String(255), primary_key=True),
        sa.Column("version", sa.String(64), primary_key=True),
        sa.Column("spec", sa.JSON, nullable=False),
        sa.Column("created_at", UTC, nullable=False),
    )
    op.create_table(
        "runs",
        sa.Column("id", sa.String(32), primary_key=True),
        sa.Column("experiment", sa.String(255), nullable=False),
        sa.Column("name", sa.String(255)),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("started_at", UTC, nullable=False),
        sa.Column("ended_at", UTC),
        sa.Column("heartbeat_at", UTC),
        sa.Column("pipeline_name", sa.String(255)),
        sa.Column("pipeline_version", sa.String(64)),
        sa.Column("pipeline_params", sa.JSON, nullable=False),
        sa.Column("trigger", sa.String(255)),
        sa.Column("environment", sa.String(64)),
        sa.Column("parent_run_id", sa.String(32)),
        sa.Column("error", sa.Text),
    )
    op.create_index("ix_runs_experiment_started", "runs", ["experiment", "started_at"])
    op.create_index("ix_runs_pipeline_started", "runs", ["pipeline_name", "started_at"])
    op.create_index("ix_runs_state_heartbeat", "runs", ["state", "heartbeat_at"])
    op.create_index("ix_runs_started_at", "runs", ["started_at"])
    op.create_table(
        "executions",
        sa.Column("id", sa.String(32), primary_key=True),
        sa.Column(
            "run_id",
            sa.String(32),
            sa.ForeignKey("runs.id", ondelete="CASCADE"),
            nullable=False,
        ),
        sa.Column("step_name", sa.String(255), nullable=False),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("code_digest", sa.String(64)),
        sa.Column("cache_key", sa.String(64)),
        sa.Column("params", sa.JSON, nullable=False),
        sa.Column("created_at", UTC, nullable=False),
        sa.Column("started_at", UTC),
        sa.Column("ended_at", UTC),
        sa.Column("heartbeat_at", UTC),
        sa.Column("attempts", sa.Integer, nullable=False),
        sa.Column("error", sa.Text),
        sa.Column("log_uri", sa.Text),
        sa.Column("cached_from", sa.String(32)),
    )
    op.create_index("ix_executions_run_created", "executions", ["run_id", "created_at"])
    op.create_index("ix_executions_cache_key", "executions", ["cache_key", "created_at"])
    op.create_table(
        "artifacts",
        sa.Column("id", sa.String(64), primary_key=True),
        sa.Column("type", sa.String(64), nullable=False),
        sa.Column("uri", sa.Text, nullable=False),
        sa.Column("digest", sa.String(64), nullable=False),
        sa.Column("size", sa.BigInteger, nullable=False),
        sa.Column("created_at", UTC, nullable=False),
        sa.Column("materializer", sa.String(255)),
        sa.Column("properties", sa.JSON, nullable=False),
    )
    op.create_index("ix_artifacts_digest", "artifacts", ["digest"])
    op.create_table(
        "events",
        sa.Column(
            "execution_id",
            sa.String(32),
            sa.ForeignKey("executions.id", ondelete="CASCADE"),
            primary_key=True,
        ),
        sa.Column("kind", sa.String(8), primary_key=True),
        sa.Column("name", sa.String(255), primary_key=True),
        sa.Column("artifact_id", sa.String(64), sa.ForeignKey("artifacts.id"), nullable=False),
    )
    op.create_index("ix_events_artifact", "events", ["artifact_id", "kind"])
    for table in ("params", "tags"):
        op.create_table(
            table,
            sa.Column(
                "run_id",
                sa.String(32),
                sa.ForeignKey("runs.id", ondelete="CASCADE"),
                primary_key=True,
            ),
            sa.Column("key", sa.String(255), primary_key=True),
            sa.Column("value", sa.Text, nullable=False),
        )
    op.create_table(
        "metrics",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column(
            "run_id",
            sa.String(32),
            sa.ForeignKey("runs.id", ondelete="CASCADE"),
            nullable=False,
        ),
        sa.Column("execution_id", sa.String(32)),
        sa.Column("key", sa.String(255), nullable=False),
        sa.Column("value", sa.Float),
        sa.Column("step", sa.BigInteger, nullable=False),
        sa.Column("timestamp", UTC, nullable=False),
    )
    op.create_index("ix_metrics_run_key_step", "metrics", ["run_id", "key", "step"])
    op.create_table(
        "latest_metrics",
        sa.Column(
            "run_id",
            sa.String(32),
            sa.ForeignKey("runs.id", ondelete="CASCADE"),
            primary_key=True,
        ),
        sa.Column("key", sa.String(255), primary_key=True),
        sa.Column("value", sa.Float),
        sa.Column("step", sa.BigInteger, nullable=False),
        sa.Column("timestamp", UTC, nullable=False),
    )
    op.create_index("ix_latest_metrics_key_value", "latest_metrics", ["key", "value"])


def downgrade() -> None:
    for table in (
        "latest_metrics",
        "metrics",
        "tags",
        "params",
        "events",
        "artifacts",
        "executions",
        "runs",
        "pipelines",
    ):
        op.drop_table(table)
