"""CI/CD of pipelines: packages, environments' promotion policies, deployments.

Revision ID: 0008_cicd
Revises: 0007_run_process_files
Create Date: 2026-12-03
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0008_cicd"
down_revision = "0007_run_process_files"
branch_labels = None
depends_on = None

_UTC = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "pipeline_packages",
        sa.Column("id", sa.String(32), primary_key=True),
        sa.Column("pipeline", sa.String(255), nullable=False),
        sa.Column("version", sa.Integer, nullable=False),
        sa.Column("digest", sa.String(64), nullable=False, unique=True),
        sa.Column("uri", sa.Text, nullable=False),
        sa.Column("files_digest", sa.String(64), nullable=False),
        sa.Column("graph_version", sa.String(64), nullable=False),
        sa.Column("code_digest", sa.String(64), nullable=False),
        sa.Column("manifest", sa.JSON, nullable=False),
        sa.Column("created_by", sa.String(255)),
        sa.Column("created_at", _UTC, nullable=False),
        sa.UniqueConstraint("pipeline", "version", name="uq_pipeline_packages_version"),
    )
    op.create_table(
        "environments",
        sa.Column("name", sa.String(64), primary_key=True),
        sa.Column("promotion", sa.JSON, nullable=False),
        sa.Column("updated_at", _UTC, nullable=False),
    )
    op.create_table(
        "deployments",
        sa.Column("id", sa.String(32), primary_key=True),
        sa.Column("environment", sa.String(64), nullable=False),
        sa.Column("pipeline", sa.String(255), nullable=False),
        sa.Column("package_id", sa.String(32), nullable=False),
        sa.Column("package_digest", sa.String(64), nullable=False),
        sa.Column("state", sa.String(32), nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("approval", sa.String(16), nullable=False),
        sa.Column("active_slot", sa.String(330), unique=True),
        sa.Column("base_id", sa.String(32)),
        sa.Column("source_environment", sa.String(64)),
        sa.Column("requested_by", sa.String(255), nullable=False),
        sa.Column("requested_at", _UTC, nullable=False),
        sa.Column("reason", sa.Text, nullable=False),
        sa.Column("decided_by", sa.String(255)),
        sa.Column("decided_at", _UTC),
        sa.Column("decision_reason", sa.Text),
        sa.Column("activated_at", _UTC),
        sa.Column("ended_at", _UTC),
        sa.Column("details", sa.JSON, nullable=False),
    )
    op.create_index(
        "ix_deployments_env_pipeline_requested",
        "deployments",
        ["environment", "pipeline", "requested_at"],
    )


def downgrade() -> None:
    op.drop_index("ix_deployments_env_pipeline_requested", table_name="deployments")
    op.drop_table("deployments")
    op.drop_table("environments")
    op.drop_table("pipeline_packages")
