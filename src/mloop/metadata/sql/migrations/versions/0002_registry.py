"""Model registry: registered models, versions, aliases and the history of alias moves.

Revision ID: 0002_registry
Revises: 0001_initial
Create Date: 2026-11-24
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002_registry"
down_revision = "0001_initial"
branch_labels = None
depends_on = None

UTC = sa.DateTime(timezone=True)


def _model_fk() -> sa.ForeignKey:
    return sa.ForeignKey("registered_models.name", ondelete="CASCADE")


def upgrade() -> None:
    op.create_table(
        "registered_models",
        sa.Column("name", sa.String(255), primary_key=True),
        sa.Column("description", sa.Text),
        sa.Column("tags", sa.JSON, nullable=False),
        sa.Column("created_at", UTC, nullable=False),
        sa.Column("updated_at", UTC, nullable=False),
    )
    op.create_table(
        "model_versions",
        sa.Column("name", sa.String(255), _model_fk(), primary_key=True),
        sa.Column("version", sa.Integer, primary_key=True),
        sa.Column("uri", sa.Text, nullable=False),
        sa.Column("digest", sa.String(64), nullable=False),
        sa.Column("flavor", sa.String(64)),
        sa.Column("artifact_id", sa.String(64)),
        sa.Column("run_id", sa.String(32)),
        sa.Column("data_artifact_id", sa.String(64)),
        sa.Column("signature", sa.JSON),
        sa.Column("metrics", sa.JSON, nullable=False),
        sa.Column("tags", sa.JSON, nullable=False),
        sa.Column("description", sa.Text),
        sa.Column("created_by", sa.String(255)),
        sa.Column("created_at", UTC, nullable=False),
    )
    op.create_index("ix_model_versions_run", "model_versions", ["run_id"])
    op.create_index("ix_model_versions_digest", "model_versions", ["digest"])
    op.create_table(
        "model_aliases",
        sa.Column("name", sa.String(255), _model_fk(), primary_key=True),
        sa.Column("alias", sa.String(255), primary_key=True),
        sa.Column("version", sa.Integer, nullable=False),
        sa.Column("updated_at", UTC, nullable=False),
    )
    op.create_table(
        "alias_history",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("name", sa.String(255), nullable=False),
        sa.Column("alias", sa.String(255), nullable=False),
        sa.Column("from_version", sa.Integer),
        sa.Column("to_version", sa.Integer),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("actor", sa.String(255), nullable=False),
        sa.Column("reason", sa.Text, nullable=False),
        sa.Column("at", UTC, nullable=False),
    )
    op.create_index("ix_alias_history_name_alias", "alias_history", ["name", "alias", "id"])


def downgrade() -> None:
    for table in ("alias_history", "model_aliases", "model_versions", "registered_models"):
        op.drop_table(table)
