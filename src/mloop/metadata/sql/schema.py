"""The metadata tables, as SQLAlchemy Core: the single description of the schema.

A fresh database is created from :data:`metadata` and stamped with :data:`HEAD_REVISION` (fast);
an existing one is moved forward by the Alembic scripts in ``migrations/``. A test checks that the
two paths give the same schema, so a change here always comes with a migration.

Times are stored as UTC (``DateTime(timezone=True)``; SQLite keeps them naive, the store reads
them back as aware UTC). Metric values that are NaN are stored as NULL (SQLite cannot store NaN).
"""

from __future__ import annotations

from pathlib import Path

import sqlalchemy as sa

_VERSIONS = Path(__file__).parent / "migrations" / "versions"
HEAD_REVISION = max(p.stem for p in _VERSIONS.glob("[0-9][0-9][0-9][0-9]_*.py"))
"""The newest Alembic revision this code knows: migration scripts are named ``NNNN_name.py``
with ``revision = "NNNN_name"`` and ``down_revision`` the previous number, so the head is the
highest number (a test checks the chain is linear and in that order)."""

VERSION_TABLE = "alembic_version"

metadata = sa.MetaData()

_UTC = sa.DateTime(timezone=True)


def _run_fk() -> sa.ForeignKey:
    return sa.ForeignKey("runs.id", ondelete="CASCADE")


pipelines = sa.Table(
    "pipelines",
    metadata,
    sa.Column("name", sa.String(255), primary_key=True),
    sa.Column("version", sa.String(64), primary_key=True),
    sa.Column("spec", sa.JSON, nullable=False),
    sa.Column("created_at", _UTC, nullable=False),
)

runs = sa.Table(
    "runs",
    metadata,
    sa.Column("id", sa.String(32), primary_key=True),
    sa.Column("experiment", sa.String(255), nullable=False),
    sa.Column("name", sa.String(255)),
    sa.Column("state", sa.String(16), nullable=False),
    sa.Column("started_at", _UTC, nullable=False),
    sa.Column("ended_at", _UTC),
    sa.Column("heartbeat_at", _UTC),
    sa.Column("pipeline_name", sa.String(255)),
    sa.Column("pipeline_version", sa.String(64)),
    sa.Column("pipeline_params", sa.JSON, nullable=False),
    sa.Column("trigger", sa.String(255)),
    sa.Column("environment", sa.String(64)),
    sa.Column("parent_run_id", sa.String(32)),
    sa.Column("error", sa.Text),
    sa.Column("host", sa.String(255)),  # where the run's process runs (0007)
    sa.Column("pid", sa.Integer),
    sa.Column("options", sa.JSON),  # run options a resume keeps, e.g. {"cache": false}
    sa.Index("ix_runs_experiment_started", "experiment", "started_at"),
    sa.Index("ix_runs_pipeline_started", "pipeline_name", "started_at"),
    sa.Index("ix_runs_state_heartbeat", "state", "heartbeat_at"),
    sa.Index("ix_runs_started_at", "started_at"),
)

executions = sa.Table(
    "executions",
    metadata,
    sa.Column("id", sa.String(32), primary_key=True),
    sa.Column("run_id", sa.String(32), _run_fk(), nullable=False),
    sa.Column("step_name", sa.String(255), nullable=False),
    sa.Column("state", sa.String(16), nullable=False),
    sa.Column("code_digest", sa.String(64)),
    sa.Column("cache_key", sa.String(64)),
    sa.Column("params", sa.JSON, nullable=False),
    sa.Column("created_at", _UTC, nullable=False),
    sa.Column("started_at", _UTC),
    sa.Column("ended_at", _UTC),
    sa.Column("heartbeat_at", _UTC),
    sa.Column("attempts", sa.Integer, nullable=False),
    sa.Column("error", sa.Text),
    sa.Column("log_uri", sa.Text),
    sa.Column("cached_from", sa.String(32)),
    sa.Index("ix_executions_run_created", "run_id", "created_at"),
    sa.Index("ix_executions_cache_key", "cache_key", "created_at"),
)

artifacts = sa.Table(
    "artifacts",
    metadata,
    sa.Column("id", sa.String(64), primary_key=True),
    sa.Column("type", sa.String(64), nullable=False),
    sa.Column("uri", sa.Text, nullable=False),
    sa.Column("digest", sa.String(64), nullable=False),
    sa.Column("size", sa.BigInteger, nullable=False),
    sa.Column("created_at", _UTC, nullable=False),
    sa.Column("materializer", sa.String(255)),
    sa.Column("properties", sa.JSON, nullable=False),
    sa.Index("ix_artifacts_digest", "digest"),
    sa.Index("ix_artifacts_uri", "uri"),  # input files by path (0007)
)

events = sa.Table(
    "events",
    metadata,
    sa.Column(
        "execution_id",
        sa.String(32),
        sa.ForeignKey("executions.id", ondelete="CASCADE"),
        primary_key=True,
    ),
    sa.Column("kind", sa.String(8), primary_key=True),
    sa.Column("name", sa.String(255), primary_key=True),
    sa.Column("artifact_id", sa.String(64), sa.ForeignKey("artifacts.id"), nullable=False),
    sa.Index("ix_events_artifact", "artifact_id", "kind"),
)

params = sa.Table(
    "params",
    metadata,
    sa.Column("run_id", sa.String(32), _run_fk(), primary_key=True),
    sa.Column("key", sa.String(255), primary_key=True),
    sa.Column("value", sa.Text, nullable=False),
)

tags = sa.Table(
    "tags",
    metadata,
    sa.Column("run_id", sa.String(32), _run_fk(), primary_key=True),
    sa.Column("key", sa.String(255), primary_key=True),
    sa.Column("value", sa.Text, nullable=False),
)

metrics = sa.Table(
    "metrics",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("run_id", sa.String(32), _run_fk(), nullable=False),
    sa.Column("execution_id", sa.String(32)),
    sa.Column("key", sa.String(255), nullable=False),
    sa.Column("value", sa.Float),  # NULL means NaN
    sa.Column("step", sa.BigInteger, nullable=False),
    sa.Column("timestamp", _UTC, nullable=False),
    sa.Index("ix_metrics_run_key_step", "run_id", "key", "step"),
)

latest_metrics = sa.Table(
    "latest_metrics",
    metadata,
    sa.Column("run_id", sa.String(32), _run_fk(), primary_key=True),
    sa.Column("key", sa.String(255), primary_key=True),
    sa.Column("value", sa.Float),  # NULL means NaN
    sa.Column("step", sa.BigInteger, nullable=False),
    sa.Column("timestamp", _UTC, nullable=False),
    sa.Index("ix_latest_metrics_key_value", "key", "value"),
)

# -- model registry (issue 4; migration 0002_registry) --------------------------------------------
registered_models = sa.Table(
    "registered_models",
    metadata,
    sa.Column("name", sa.String(255), primary_key=True),
    sa.Column("description", sa.Text),
    sa.Column("tags", sa.JSON, nullable=False),
    sa.Column("created_at", _UTC, nullable=False),
    sa.Column("updated_at", _UTC, nullable=False),
)

model_versions = sa.Table(
    "model_versions",
    metadata,
    sa.Column(
        "name",
        sa.String(255),
        sa.ForeignKey("registered_models.name", ondelete="CASCADE"),
        primary_key=True,
    ),
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
    sa.Column("created_at", _UTC, nullable=False),
    sa.Index("ix_model_versions_run", "run_id"),
    sa.Index("ix_model_versions_digest", "digest"),
)

model_aliases = sa.Table(
    "model_aliases",
    metadata,
    sa.Column(
        "name",
        sa.String(255),
        sa.ForeignKey("registered_models.name", ondelete="CASCADE"),
        primary_key=True,
    ),
    sa.Column("alias", sa.String(255), primary_key=True),
    sa.Column("version", sa.Integer, nullable=False),
    sa.Column("updated_at", _UTC, nullable=False),
)

alias_history = sa.Table(
    "alias_history",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("name", sa.String(255), nullable=False),
    sa.Column("alias", sa.String(255), nullable=False),
    sa.Column("from_version", sa.Integer),
    sa.Column("to_version", sa.Integer),
    sa.Column("kind", sa.String(16), nullable=False),
    sa.Column("actor", sa.String(255), nullable=False),
    sa.Column("reason", sa.Text, nullable=False),
    sa.Column("at", _UTC, nullable=False),
    sa.Index("ix_alias_history_name_alias", "name", "alias", "id"),
)
# -- end model registry ---------------------------------------------------------------------------

# -- feature store (issue 5; migration 0003_features) ---------------------------------------------
feature_definitions = sa.Table(
    "feature_definitions",
    metadata,
    sa.Column("kind", sa.String(32), primary_key=True),
    sa.Column("name", sa.String(255), primary_key=True),
    sa.Column("version", sa.Integer, primary_key=True),
    sa.Column("digest", sa.String(64), nullable=False),
    sa.Column("spec", sa.JSON, nullable=False),
    sa.Column("created_at", _UTC, nullable=False),
    sa.Column("forced", sa.Boolean, nullable=False),
    sa.Column("change", sa.Text),
)
# -- end feature store ----------------------------------------------------------------------------

# -- monitoring (issue 7; migration 0004_monitoring) ----------------------------------------------
monitoring_reports = sa.Table(
    "monitoring_reports",
    metadata,
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
    sa.Index("ix_monitoring_reports_model_end", "model", "window_end"),
)
alerts = sa.Table(
    "alerts",
    metadata,
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
    sa.Index("ix_alerts_model_opened", "model", "opened_at"),
)
# -- end monitoring -------------------------------------------------------------------------------

# -- controller (issue 7; migration 0005_controller) ----------------------------------------------
trigger_events = sa.Table(
    "trigger_events",
    metadata,
    sa.Column("id", sa.String(32), primary_key=True),
    sa.Column("pipeline", sa.String(255), nullable=False),
    sa.Column("kind", sa.String(32), nullable=False),
    sa.Column("reason", sa.Text, nullable=False),
    sa.Column("payload", sa.JSON, nullable=False),
    sa.Column("state", sa.String(16), nullable=False),
    sa.Column("created_at", _UTC, nullable=False),
    sa.Column("started_at", _UTC),
    sa.Column("ended_at", _UTC),
    sa.Column("claimed_by", sa.String(255)),
    sa.Column("run_id", sa.String(32)),
    sa.Column("error", sa.Text),
    sa.Column("launcher_host", sa.String(255)),  # where the launcher process runs (0006)
    sa.Column("launcher_pid", sa.Integer),
    sa.Column("heartbeat_at", _UTC),  # the launcher's last heartbeat
    sa.Index("ix_trigger_events_pipeline_created", "pipeline", "created_at"),
    sa.Index("ix_trigger_events_state", "state"),
)

controller_leases = sa.Table(
    "controller_leases",
    metadata,
    sa.Column("name", sa.String(255), primary_key=True),
    sa.Column("holder", sa.String(255), nullable=False),
    sa.Column("expires_at", _UTC, nullable=False),
    sa.Column("acquired_at", _UTC, nullable=False),
)
# -- end controller -------------------------------------------------------------------------------

# -- file fingerprints (issue 15; migration 0007_run_process_files) -------------------------------
file_fingerprints = sa.Table(
    "file_fingerprints",
    metadata,
    sa.Column("host", sa.String(255), primary_key=True),
    sa.Column("path", sa.String(1024), primary_key=True),  # absolute path on that host
    sa.Column("size", sa.BigInteger, nullable=False),  # bytes
    sa.Column("mtime_ns", sa.BigInteger, nullable=False),
    sa.Column("digest", sa.String(64), nullable=False),  # SHA-256 of the bytes
    sa.Column("recorded_at", _UTC, nullable=False),
)
# -- end file fingerprints ------------------------------------------------------------------------

# -- CI/CD of pipelines (issue 11; migration 0008_cicd) -------------------------------------------
pipeline_packages = sa.Table(
    "pipeline_packages",
    metadata,
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

environments = sa.Table(
    "environments",
    metadata,
    sa.Column("name", sa.String(64), primary_key=True),
    sa.Column("promotion", sa.JSON, nullable=False),
    sa.Column("updated_at", _UTC, nullable=False),
)

deployments = sa.Table(
    "deployments",
    metadata,
    sa.Column("id", sa.String(32), primary_key=True),
    sa.Column("environment", sa.String(64), nullable=False),
    sa.Column("pipeline", sa.String(255), nullable=False),
    sa.Column("package_id", sa.String(32), nullable=False),
    sa.Column("package_digest", sa.String(64), nullable=False),
    sa.Column("state", sa.String(32), nullable=False),
    sa.Column("kind", sa.String(16), nullable=False),
    sa.Column("approval", sa.String(16), nullable=False),
    # "<environment>/<pipeline>" while active, else NULL: at most one active row per pair
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
    sa.Index("ix_deployments_env_pipeline_requested", "environment", "pipeline", "requested_at"),
)
# -- end CI/CD ------------------------------------------------------------------------------------

# -- running services (issue 12; migration 0010_services) -----------------------------------------
services = sa.Table(
    "services",
    metadata,
    sa.Column("id", sa.String(64), primary_key=True),
    sa.Column("model", sa.String(255), nullable=False),
    sa.Column("environment", sa.String(64), nullable=False),
    sa.Column("url", sa.Text),
    sa.Column("host", sa.String(255), nullable=False),
    sa.Column("pid", sa.Integer, nullable=False),
    sa.Column("workers", sa.Integer, nullable=False),
    sa.Column("model_uri", sa.Text, nullable=False),
    sa.Column("traffic", sa.JSON, nullable=False),  # a TrafficSnapshot
    sa.Column("generation", sa.Integer, nullable=False),
    sa.Column("healthy", sa.Boolean, nullable=False),
    sa.Column("status", sa.Text),
    sa.Column("started_at", _UTC, nullable=False),
    sa.Column("heartbeat_at", _UTC, nullable=False),
    sa.Column("traffic_since", _UTC, nullable=False),
    sa.Column("stopped_at", _UTC),
    sa.Index("ix_services_heartbeat", "heartbeat_at"),
)

traffic_changes = sa.Table(
    "traffic_changes",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("service_id", sa.String(64), nullable=False),
    sa.Column("model", sa.String(255), nullable=False),
    sa.Column("environment", sa.String(64), nullable=False),
    sa.Column("kind", sa.String(16), nullable=False),
    sa.Column("actor", sa.String(255), nullable=False),
    sa.Column("reason", sa.Text),
    sa.Column("at", _UTC, nullable=False),
    sa.Column("traffic", sa.JSON, nullable=False),
    sa.Index("ix_traffic_changes_service", "service_id", "id"),
)
# -- end running services -------------------------------------------------------------------------

version_table = sa.Table(
    VERSION_TABLE,
    sa.MetaData(),  # not in ``metadata``: Alembic owns it, autogenerate ignores it
    sa.Column("version_num", sa.String(32), nullable=False),
    sa.PrimaryKeyConstraint("version_num", name="alembic_version_pkc"),  # as Alembic names it
)
