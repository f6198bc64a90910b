"""``run_monitoring``: one monitoring job over one window of a model's prediction log.

Read the window (Polars over the hourly Parquet folders), compute its statistics with
``mloop.data.compute_statistics`` (the code training validation runs), compare them with the
training reference found by lineage (else with the previous window), compare the outputs with
the model's outputs on its training data, join the feedback labels for live metrics, count the
failed requests of the error log for the error rate, then record
everything: a ``monitoring`` run whose execution reads the reference artifact and writes a
``MonitoringReport`` artifact (so lineage runs from training data to report), a row in
``monitoring_reports``, alerts, and a rollback when a version on probation misbehaves.
"""

from __future__ import annotations

import logging
from collections import Counter
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from mloop._utils.clock import as_utc, utc_now
from mloop._utils.ids import new_id
from mloop.artifacts.base import ArtifactStore
from mloop.data import DriftReport, compute_statistics, detect_drift
from mloop.errors import ConfigError, ModelNotFoundError, ValidationError
from mloop.metadata.base import MetadataStore
from mloop.metadata.entities import Artifact, ExecutionState, RunState
from mloop.monitoring.alerts import Notifier, evaluate_alerts
from mloop.monitoring.performance import (
    join_feedback,
    latency_percentiles,
    live_metrics,
    request_errors,
)
from mloop.monitoring.reference import reference_for_report
from mloop.monitoring.report import MonitoringReport
from mloop.monitoring.rollback import RollbackPolicy, check_rollback
from mloop.monitoring.rules import AlertRule
from mloop.monitoring.settings import MonitoringSettings, load_monitoring_settings
from mloop.monitoring.windows import (
    LogWindow,
    input_columns,
    parse_duration,
    read_errors,
    read_feedback,
    read_predictions,
    safe_name,
    window_outputs,
)

__all__ = ["MONITORING_EXPERIMENT", "compute_report", "run_monitoring"]

log = logging.getLogger("mloop.monitoring")
MONITORING_EXPERIMENT = "monitoring"
REPORT_ARTIFACT_TYPE = "MonitoringReport"


def _drift(reference: Any, current_frame: Any, share_threshold: float) -> DriftReport | None:
    if reference is None or current_frame.is_empty() or not current_frame.columns:
        return None
    return detect_drift(
        reference, compute_statistics(current_frame), share_threshold=share_threshold
    )


def _by_version(frame: Any, labelled: Any, errors: Any) -> dict[str, dict[str, Any]]:
    """Per served version: rows, requests (answered + failed) and the error rate, live
    metrics and latency; a version that only failed requests appears too."""
    import polars as pl

    out: dict[str, dict[str, Any]] = {}
    versions = set() if frame.is_empty() else {str(v) for v in frame["version"].unique()}
    if not errors.is_empty():
        versions |= {str(v) for v in errors["version"].unique() if v}
    for version in sorted(versions):
        rows = frame.filter(pl.col("version") == version) if not frame.is_empty() else frame
        lab = labelled.filter(pl.col("version") == version) if not labelled.is_empty() else labelled
        failed = errors.filter(pl.col("version") == version) if not errors.is_empty() else errors
        out[version] = {
            "rows": rows.height,
            **request_errors(rows, failed),
            "labelled_rows": lab.height,
            "metrics": live_metrics(lab),
            "latency_ms": latency_percentiles(rows),
        }
    return out


def _split_shadow(frame: Any) -> tuple[Any, Any]:
    """(live rows, shadow rows) of a window. A shadow's rows are copies of requests the
    champion answered: they never reach a user, so they stay out of live counts, drift, live
    metrics, alerts and rollback, and are reported apart."""
    import polars as pl

    if frame.is_empty() or "route" not in frame.columns:
        return frame, frame.head(0)
    shadow = pl.col("route") == "shadow"
    return frame.filter(~shadow | shadow.is_null()), frame.filter(shadow)


def _shadow_part(shadow: Any, feedback: Any) -> dict[str, dict[str, Any]]:
    """Per shadow version: rows, labelled rows, the metrics it would have had, latency."""
    import polars as pl

    out: dict[str, dict[str, Any]] = {}
    if shadow.is_empty():
        return out
    labelled = join_feedback(shadow, feedback)
    for version in sorted({str(v) for v in shadow["version"].unique()}):
        rows = shadow.filter(pl.col("version") == version)
        lab = labelled.filter(pl.col("version") == version) if not labelled.is_empty() else labelled
        out[version] = {
            "rows": rows.height,
            "requests": rows["request_id"].n_unique(),
            "labelled_rows": lab.height,
            "metrics": live_metrics(lab),
            "latency_ms": latency_percentiles(rows),
        }
    return out


def _count_errors(report: MonitoringReport, frame: Any, errors: Any) -> None:
    counts = request_errors(frame, errors)
    report.requests = counts["requests"]
    report.failed_requests = counts["failed_requests"]
    report.server_failed_requests = counts["server_failed_requests"]


def compute_report(
    store: MetadataStore,
    artifacts: ArtifactStore,
    log_dir: str | Path,
    window: LogWindow,
    *,
    share_threshold: float = 0.5,
) -> MonitoringReport:
    """The report of ``window`` (nothing is written). Live figures count only the rows users
    were answered from; a shadow's rows are in ``report.shadow``."""
    frame, shadow = _split_shadow(read_predictions(log_dir, window))
    errors = read_errors(log_dir, window)
    feedback = read_feedback(log_dir, window)
    report = MonitoringReport(
        id=new_id(),
        model=window.model,
        window_start=window.start,
        window_end=window.end,
        created_at=utc_now(),
    )
    _count_errors(report, frame, errors)
    report.shadow = _shadow_part(shadow, feedback)
    if frame.is_empty():
        report.notes.append(f"no predictions of {window.model!r} logged in this window")
        if report.shadow:
            report.notes.append("only shadow predictions were logged (reported apart)")
        if report.failed_requests:  # every request failed: the error rate is still judged
            report.notes.append(f"{report.failed_requests} request(s) failed")
            report.by_version = _by_version(frame, frame, errors)
            failed = Counter(str(v) for v in errors["version"].to_list() if v)
            report.version = failed.most_common(1)[0][0] if failed else None
        return report
    report.num_rows = frame.height
    report.num_requests = frame["request_id"].n_unique()
    counts = Counter(str(v) for v in frame["version"].to_list())
    report.versions = dict(counts)
    report.version = counts.most_common(1)[0][0]
    inputs = input_columns(frame)
    reference = reference_for_report(store, artifacts, report, inputs)
    current_inputs = frame.select(inputs)
    outputs = window_outputs(frame)
    input_ref, output_ref = reference.statistics, reference.prediction_statistics
    if input_ref is None or output_ref is None:
        earlier, _ = _split_shadow(read_predictions(log_dir, window.previous()))
        if not earlier.is_empty():
            if input_ref is None:
                input_ref = compute_statistics(earlier.select(input_columns(earlier)))
                report.reference_source = "previous_window"
            if output_ref is None:
                output_ref = compute_statistics(window_outputs(earlier))
                report.notes.append("prediction drift is measured against the previous window")
    if input_ref is not None:
        keep = [c for c in inputs if c in input_ref.features]
        report.drift = _drift(input_ref, current_inputs.select(keep), share_threshold)
    report.prediction_drift = _drift(output_ref, outputs, share_threshold)
    labelled = join_feedback(frame, feedback)
    report.labelled_rows = labelled.height
    report.metrics = live_metrics(labelled)
    report.latency_ms = latency_percentiles(frame)
    report.by_version = _by_version(frame, labelled, errors)
    return report


def _record(store: MetadataStore, artifacts: ArtifactStore, report: MonitoringReport) -> None:
    """The monitoring run, its execution (reference in, report out) and the report row."""
    run = store.create_run(
        MONITORING_EXPERIMENT,
        name=f"monitor {report.model}",
        trigger="monitoring",
        tags={"mloop.monitoring.model": report.model, "mloop.monitoring.report": report.id},
    )
    inputs = {"reference": report.reference_artifact_id} if report.reference_artifact_id else {}
    execution = store.create_execution(
        run.id,
        "monitor",
        params={
            "model": report.model,
            "window_start": report.window_start.isoformat(),
            "window_end": report.window_end.isoformat(),
        },
        inputs=inputs,
    )
    report.run_id = run.id
    try:
        staging = artifacts.new_staging_dir()
        report.artifact_id = new_id()
        (staging / "report.json").write_text(report.to_json(indent=1), encoding="utf-8")
        stored = artifacts.put_dir(staging, f"monitoring/{report.model}/{report.id}")
        artifact = Artifact(
            id=report.artifact_id,
            type=REPORT_ARTIFACT_TYPE,
            uri=stored.uri,
            digest=stored.digest,
            size=stored.size,
            created_at=utc_now(),
            properties={"model": report.model, "report_id": report.id, "run_id": run.id},
        )
        store.finish_execution(
            execution.id,
            ExecutionState.SUCCEEDED,
            new_artifacts=[artifact],
            outputs={"report": artifact.id},
        )
        store.finish_run(run.id, RunState.SUCCEEDED)
    except BaseException as exc:
        store.finish_execution(execution.id, ExecutionState.FAILED, error=str(exc))
        store.finish_run(run.id, RunState.FAILED, error=str(exc))
        raise
    store.monitoring().add_report(report.record())


def _check_known(store: MetadataStore, log_dir: Path, model: str) -> None:
    """A model neither registered nor ever logged is most likely a typo: say so."""
    if any((log_dir / kind / safe_name(model)).is_dir() for kind in ("predictions", "errors")):
        return
    try:
        store.model_registry().get_model(model)
    except ModelNotFoundError:
        raise ModelNotFoundError(
            model, f"it is not registered and {log_dir / 'predictions'} holds no log of it"
        ) from None


def _compute_on_ray(
    store: MetadataStore,
    artifacts: ArtifactStore,
    folder: Path,
    span: LogWindow,
    config: MonitoringSettings,
    settings: Any,
    address: str | None,
    group_bytes: int | None,
) -> MonitoringReport:
    from mloop.monitoring.on_ray import ray_mapper
    from mloop.monitoring.partitioned import GROUP_BYTES, compute_partitioned_report

    runner = getattr(settings, "runner", None) or {}
    if address is None and runner.get("type") == "ray":
        address = runner.get("address")
    return compute_partitioned_report(
        store,
        artifacts,
        folder,
        span,
        share_threshold=config.share_threshold,
        mapper=ray_mapper(address),
        group_bytes=group_bytes or GROUP_BYTES,
    )


def run_monitoring(
    model: str,
    *,
    window: str | float | timedelta | None = None,
    now: datetime | None = None,
    settings: Any = None,
    store: MetadataStore | None = None,
    artifacts: ArtifactStore | None = None,
    log_dir: str | Path | None = None,
    rules: list[AlertRule | dict[str, Any]] | None = None,
    rollback: RollbackPolicy | dict[str, Any] | None = None,
    webhook: str | None = None,
    notify: Notifier | None = None,
    record: bool = True,
    runner: str = "local",
    address: str | None = None,
    group_bytes: int | None = None,
) -> MonitoringReport:
    """Monitor the window of ``model``'s prediction log ending at ``now`` (default: now).

    Arguments left None come from the ``monitoring:`` section of mloop.yaml (``settings``:
    ``load_settings()`` by default): ``window`` (e.g. ``"1h"``), ``log_dir`` (default the
    project's ``.mloop``), alert ``rules``, the ``rollback`` policy and the ``webhook`` URL.
    With ``record=False`` nothing is written and no alert is raised.

    ``runner="ray"`` computes the report on Ray, one task per group of log files of at least
    ``group_bytes`` (default 16 MiB), merged here (:mod:`mloop.monitoring.partitioned`), on the
    cluster at ``address`` (default: ``runner.address`` of mloop.yaml when its type is ray).
    """
    if not model or not isinstance(model, str):
        raise ValidationError("run_monitoring needs a model name")
    if runner not in ("local", "ray"):
        raise ConfigError(f"the monitoring runner must be local or ray, got {runner!r}")
    from mloop.artifacts import connect as connect_artifacts
    from mloop.config import load_settings
    from mloop.metadata import connect as connect_metadata

    settings = settings or load_settings()
    config: MonitoringSettings = load_monitoring_settings(settings, model)
    store = store or connect_metadata(settings.metadata_url)
    artifacts = artifacts or connect_artifacts(settings.artifact_root)
    length = parse_duration(window) if window is not None else config.window
    folder = Path(log_dir) if log_dir is not None else (config.log_dir or settings.state_dir)
    span = LogWindow.ending(model, length, as_utc(now) if now is not None else None)
    _check_known(store, Path(folder), model)
    if runner == "ray":
        report = _compute_on_ray(
            store, artifacts, folder, span, config, settings, address, group_bytes
        )
    else:
        report = compute_report(
            store, artifacts, folder, span, share_threshold=config.share_threshold
        )
    if not record:
        return report
    _record(store, artifacts, report)
    chosen_rules = (
        list(config.rules)
        if rules is None
        else [r if isinstance(r, AlertRule) else AlertRule.from_dict(r) for r in rules]
    )
    hook = webhook if webhook is not None else config.webhook
    policy = (
        config.rollback
        if rollback is None
        else (
            rollback if isinstance(rollback, RollbackPolicy) else RollbackPolicy.from_dict(rollback)
        )
    )
    outcomes = evaluate_alerts(
        report, chosen_rules, store.monitoring(), webhook=hook, notify=notify
    )
    report.alerts = [o.alert for o in outcomes if o.alert is not None and o.action != "resolved"]
    if policy is not None:
        report.rollback = check_rollback(
            store, report, policy, now=now, webhook=hook, notify=notify
        )
    log.info(
        "monitoring %s: %d rows, share drifted %s, metrics %s",
        model,
        report.num_rows,
        report.share_drifted,
        report.metrics,
    )
    return report
