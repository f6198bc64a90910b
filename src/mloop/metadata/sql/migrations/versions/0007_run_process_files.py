"""Runs name their process (host, pid) and keep their options; file fingerprints are memoised.

``runs.host``/``runs.pid``: a resume on the same host can tell at once that the process of a
"running" run is gone (issue 15, point 10), instead of waiting for its heartbeat lease.
``runs.options``: the run options a resume must keep (e.g. ``{"cache": false}``).
``file_fingerprints``: per host and absolute path, the size, mtime (ns) and SHA-256 last seen,
so an unchanged input file is not hashed again on every step (issue 15, point 1), and an index
on ``artifacts.uri`` so "which runs read this file" finds a file's input artifacts by path.

Revision ID: 0007_run_process_files
Revises: 0006_event_launcher
Create Date: 2026-12-03
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0007_run_process_files"
down_revision = "0006_event_launcher"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("runs") as batch:
        batch.add_column(sa.Column("host", sa.String(255)))
        batch.add_column(sa.Column("pid", sa.Integer))
        batch.add_column(sa.Column("options", sa.JSON))
    op.create_index("ix_artifacts_uri", "artifacts", ["uri"])
    op.create_table(
        "file_fingerprints",
        sa.Column("host", sa.String(255), primary_key=True),
        sa.Column("path", sa.String(1024), primary_key=True),
        sa.Column("size", sa.BigInteger, nullable=False),
        sa.Column("mtime_ns", sa.BigInteger, nullable=False),
        sa.Column("digest", sa.String(64), nullable=False),
        sa.Column("recorded_at", sa.DateTime(timezone=True), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("file_fingerprints")
    op.drop_index("ix_artifacts_uri", table_name="artifacts")
    with op.batch_alter_table("runs") as batch:
        batch.drop_column("options")
        batch.drop_column("pid")
        batch.drop_column("host")
