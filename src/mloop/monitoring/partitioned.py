"""The monitoring report of a window, computed part by part over the prediction log's files.

The files of a window are cut into groups of consecutive files (in path order); each group is
summarised on its own, possibly on another machine (the map function is the caller's, e.g. Ray
tasks in :mod:`mloop.monitoring.on_ray`), and the driver merges the summaries in group order:

- counts (rows, rows per version) add up exactly;
- input and output statistics merge with :meth:`Statistics.merge` (the partitioned statistics
  of ``mloop.data``), so drift is measured as for any partitioned dataset;
- per request, a group sends (version, route, request id, its largest latency) and, per
  labelled row, (version, prediction, label, probabilities): the driver runs the very
  functions of the one-frame job on those (distinct requests, latency percentiles, the
  evaluator's metrics), so requests, latency and metrics equal the local job's exactly, even
  when a request id repeats across files. That costs the driver memory per request and per
  labelled row (a few dozen bytes each), not per logged row of input.

Every group is read with the schema of the whole window (columns unioned, types widened, as
the one-frame job reads it), so a group summarises exactly its rows of that frame.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from mloop._utils.clock import utc_now
from mloop._utils.ids import new_id
from mloop.artifacts.base import ArtifactStore
from mloop.data import Statistics, compute_statistics, detect_drift
from mloop.data.partitioned import merge_partitions
from mloop.metadata.base import MetadataStore
from mloop.monitoring.performance import (
    join_feedback,
    latency_percentiles,
    live_metrics,
    request_errors,
)
from mloop.monitoring.reference import reference_for_report
from mloop.monitoring.report import MonitoringReport
from mloop.monitoring.windows import (
    META_COLUMNS,
    OUTPUT_COLUMNS,
    LogWindow,
    read_errors,
    read_feedback,
    scan_files,
    window_files,
    window_outputs,
)

__all__ = [
    "GROUP_BYTES",
    "Mapper",
    "PartitionSummary",
    "TrafficPart",
    "compute_partitioned_report",
    "group_files",
    "summarise_partition",
]

GROUP_BYTES = 16 * 1024**2  # Parquet bytes a group gathers at least (the last may hold less)
PartitionFn = Callable[..., "PartitionSummary"]
Mapper = Callable[[PartitionFn, Sequence[list[str]], dict[str, Any]], Iterable["PartitionSummary"]]
"""``mapper(fn, groups, shared)`` returns ``fn(group, **shared)`` for every group, in order."""


def local_mapper(
    fn: PartitionFn, groups: Sequence[list[str]], shared: dict[str, Any]
) -> Iterable[PartitionSummary]:
    """Every group in this process, one after the other."""
    return (fn(group, **shared) for group in groups)


@dataclass
class TrafficPart:
    """One group's live (or shadow) traffic: ``versions`` counts rows by ``str(version)`` in
    order of first appearance, ``version_rows`` rows whose version is that string (a null
    version is counted under ``"None"`` but matches no version); ``requests`` one row per
    (version, route, request id) with its largest latency (ms); ``labelled`` the rows that
    received a label (version, prediction, label, prediction_proba)."""

    rows: int = 0
    versions: dict[str, int] = field(default_factory=dict)
    version_rows: dict[str, int] = field(default_factory=dict)
    requests: Any = None
    labelled: Any = None


@dataclass
class PartitionSummary:
    """What one group of files sends back: its live and shadow traffic, and the statistics
    (as JSON, sketches included) of its live inputs and outputs; ``proba_width`` is the width
    of the probabilities when every live row of the group has them, all of one width."""

    live: TrafficPart
    shadow: TrafficPart
    inputs: str | None = None
    outputs: str | None = None
    proba_width: int | None = None


def group_files(files: Sequence[str | Path], group_bytes: int = GROUP_BYTES) -> list[list[str]]:
    """Consecutive files gathered until a group holds ``group_bytes`` of Parquet (bytes; 1: a
    group per file); the serving log writes small files often, one task each would cost more
    than it reads."""
    groups: list[list[str]] = []
    current: list[str] = []
    size = 0
    for f in files:
        current.append(str(f))
        size += Path(f).stat().st_size
        if size >= group_bytes:
            groups.append(current)
            current, size = [], 0
    if current:
        groups.append(current)
    return groups


def _conform(frame: Any, schema: Any) -> Any:
    """``frame`` with the window's columns, in its order and types (a column a file lacks is
    null there, as in the one-frame read)."""
    import polars as pl

    return frame.select(
        [
            (pl.col(n).cast(t) if n in frame.columns else pl.lit(None, dtype=t)).alias(n)
            for n, t in schema.items()
        ]
    )


def _traffic(frame: Any, feedback: Any, *, full: bool) -> TrafficPart:
    import polars as pl

    part = TrafficPart(rows=frame.height)
    if frame.is_empty():
        return part
    part.versions = dict(Counter(str(v) for v in frame["version"].to_list()))
    exact = frame.filter(pl.col("version").is_not_null()).group_by("version").len()
    part.version_rows = {str(v): int(n) for v, n in exact.iter_rows()}
    if not full:
        return part
    keys = [c for c in ("version", "route", "request_id") if c in frame.columns]
    grouped = frame.group_by(keys, maintain_order=True)
    part.requests = (
        grouped.agg(pl.col("latency_ms").max())
        if "latency_ms" in frame.columns
        else grouped.agg(pl.len()).drop("len")
    )
    labelled = join_feedback(frame, feedback)
    keep = [c for c in ("version", "prediction", "label", "prediction_proba") if c in labelled]
    part.labelled = labelled.select(keep)
    return part


def _proba_width(frame: Any) -> int | None:
    if "prediction_proba" not in frame.columns or frame["prediction_proba"].null_count():
        return None
    widths = frame["prediction_proba"].list.len()
    low, high = widths.min(), widths.max()
    return int(low) if low == high and low > 0 else None


def summarise_partition(
    files: list[str],
    *,
    window: LogWindow,
    schema: Any,
    feedback: Any = None,
    full: bool = True,
) -> PartitionSummary:
    """The summary of the rows of ``files`` inside ``window`` (read with the window's
    ``schema``); ``full=False``: counts and statistics only (a reference window)."""
    import polars as pl

    ts = pl.col("timestamp")
    scanned = scan_files([Path(f) for f in files]).filter((ts >= window.start) & (ts < window.end))
    frame = _conform(scanned.collect(), schema)
    live, shadow = frame, frame.head(0)
    if "route" in frame.columns:
        is_shadow = pl.col("route") == "shadow"
        live, shadow = frame.filter(~is_shadow | is_shadow.is_null()), frame.filter(is_shadow)
    labels = feedback if feedback is not None else pl.DataFrame()
    summary = PartitionSummary(
        live=_traffic(live, labels, full=full), shadow=_traffic(shadow, labels, full=full)
    )
    if live.is_empty():
        return summary
    inputs = [c for c in live.columns if c not in META_COLUMNS and c not in OUTPUT_COLUMNS]
    if inputs:
        summary.inputs = compute_statistics(live.select(inputs)).to_json()
    summary.outputs = compute_statistics(window_outputs(live)).to_json()
    summary.proba_width = _proba_width(live)
    return summary


@dataclass
class _Merged:
    """The summaries of a window, merged."""

    live: TrafficPart
    shadow: TrafficPart
    inputs: Statistics | None
    outputs: Statistics | None


def _concat(frames: list[Any]) -> Any:
    import polars as pl

    present = [f for f in frames if f is not None and not f.is_empty()]
    if not present:
        return pl.DataFrame()
    return pl.concat(present, how="diagonal_relaxed") if len(present) > 1 else present[0]


def _merge_traffic(parts: list[TrafficPart]) -> TrafficPart:
    versions: Counter[str] = Counter()
    exact: Counter[str] = Counter()
    for p in parts:
        versions.update(p.versions)
        exact.update(p.version_rows)
    return TrafficPart(
        rows=sum(p.rows for p in parts),
        versions=dict(versions),
        version_rows=dict(exact),
        requests=_concat([p.requests for p in parts]),
        labelled=_concat([p.labelled for p in parts]),
    )


def _merge(summaries: list[PartitionSummary]) -> _Merged:
    live = [s for s in summaries if s.live.rows]
    inputs = [Statistics.from_json(s.inputs) for s in live if s.inputs is not None]
    outputs = [Statistics.from_json(s.outputs) for s in live if s.outputs is not None]
    merged_outputs = merge_partitions(outputs) if outputs else None
    widths = {s.proba_width for s in live}
    if merged_outputs is not None and (len(widths) != 1 or None in widths):
        # the one-frame job scores only a window whose every row has probabilities of one width
        merged_outputs = _only(merged_outputs, ["prediction"])
    return _Merged(
        live=_merge_traffic([s.live for s in summaries]),
        shadow=_merge_traffic([s.shadow for s in summaries]),
        inputs=merge_partitions(inputs) if inputs else None,
        outputs=merged_outputs,
    )


def _only(stats: Statistics, columns: list[str]) -> Statistics:
    """``stats`` of ``columns`` alone (statistics are per column; the row count stays)."""
    return Statistics(num_rows=stats.num_rows, features={c: stats.features[c] for c in columns})


def _summaries(
    log_dir: str | Path,
    window: LogWindow,
    feedback: Any,
    *,
    full: bool,
    mapper: Mapper,
    group_bytes: int,
) -> list[PartitionSummary]:
    # absolute paths: a task may run in another working directory
    files = [f.resolve() for f in window_files(log_dir, "predictions", window)]
    if not files:
        return []
    schema = scan_files(files).collect_schema()
    shared = {"window": window, "schema": schema, "feedback": feedback, "full": full}
    return list(mapper(summarise_partition, group_files(files, group_bytes), shared))


def _drift(reference: Statistics | None, current: Statistics | None, share: float) -> Any:
    if reference is None or current is None or not current.features or not current.num_rows:
        return None
    return detect_drift(reference, current, share_threshold=share)


def _latency(requests: Any) -> dict[str, float]:
    return {} if requests.is_empty() else latency_percentiles(requests)


def _of_version(frame: Any, version: str) -> Any:
    import polars as pl

    return frame.filter(pl.col("version") == version) if not frame.is_empty() else frame


def _shadow_part(shadow: TrafficPart) -> dict[str, dict[str, Any]]:
    out: dict[str, dict[str, Any]] = {}
    for version in sorted(shadow.versions):
        requests, labelled = (
            _of_version(shadow.requests, version),
            _of_version(shadow.labelled, version),
        )
        out[version] = {
            "rows": shadow.version_rows.get(version, 0),
            "requests": 0 if requests.is_empty() else requests["request_id"].n_unique(),
            "labelled_rows": labelled.height,
            "metrics": live_metrics(labelled) if not labelled.is_empty() else {},
            "latency_ms": _latency(requests),
        }
    return out


def _by_version(live: TrafficPart, errors: Any) -> dict[str, dict[str, Any]]:
    import polars as pl

    versions = set(live.versions)
    if not errors.is_empty():
        versions |= {str(v) for v in errors["version"].unique() if v}
    out: dict[str, dict[str, Any]] = {}
    for version in sorted(versions):
        requests, labelled = (
            _of_version(live.requests, version),
            _of_version(live.labelled, version),
        )
        failed = errors.filter(pl.col("version") == version) if not errors.is_empty() else errors
        out[version] = {
            "rows": live.version_rows.get(version, 0),
            **request_errors(requests, failed),
            "labelled_rows": labelled.height,
            "metrics": live_metrics(labelled) if not labelled.is_empty() else {},
            "latency_ms": _latency(requests),
        }
    return out


def compute_partitioned_report(
    store: MetadataStore,
    artifacts: ArtifactStore,
    log_dir: str | Path,
    window: LogWindow,
    *,
    share_threshold: float = 0.5,
    mapper: Mapper | None = None,
    group_bytes: int = GROUP_BYTES,
) -> MonitoringReport:
    """The report of ``window`` (nothing written), the log's files summarised in groups of
    ``group_bytes`` by ``mapper`` (default: in this process) and merged here; the same report
    as :func:`mloop.monitoring.jobs.compute_report` (see the module docstring for how close)."""
    mapper = mapper or local_mapper
    errors = read_errors(log_dir, window)
    feedback = read_feedback(log_dir, window)
    found = _merge(
        _summaries(log_dir, window, feedback, full=True, mapper=mapper, group_bytes=group_bytes)
    )
    live = found.live
    report = MonitoringReport(
        id=new_id(),
        model=window.model,
        window_start=window.start,
        window_end=window.end,
        created_at=utc_now(),
    )
    counts = request_errors(live.requests, errors)
    report.requests, report.failed_requests = counts["requests"], counts["failed_requests"]
    report.server_failed_requests = counts["server_failed_requests"]
    report.shadow = _shadow_part(found.shadow)
    if not live.rows:
        report.notes.append(f"no predictions of {window.model!r} logged in this window")
        if report.shadow:
            report.notes.append("only shadow predictions were logged (reported apart)")
        if report.failed_requests:
            report.notes.append(f"{report.failed_requests} request(s) failed")
            report.by_version = _by_version(live, errors)
            failed = Counter(str(v) for v in errors["version"].to_list() if v)
            report.version = failed.most_common(1)[0][0] if failed else None
        return report
    report.num_rows = live.rows
    report.num_requests = live.requests["request_id"].n_unique()
    report.versions = dict(live.versions)
    report.version = Counter(live.versions).most_common(1)[0][0]
    inputs = [] if found.inputs is None else found.inputs.columns
    reference = reference_for_report(store, artifacts, report, inputs)
    input_ref, output_ref = reference.statistics, reference.prediction_statistics
    if input_ref is None or output_ref is None:
        earlier = _merge(
            _summaries(
                log_dir,
                window.previous(),
                None,
                full=False,
                mapper=mapper,
                group_bytes=group_bytes,
            )
        )
        if earlier.live.rows:
            if input_ref is None:
                input_ref = earlier.inputs or Statistics(num_rows=earlier.live.rows)
                report.reference_source = "previous_window"
            if output_ref is None:
                output_ref = earlier.outputs
                report.notes.append("prediction drift is measured against the previous window")
    if input_ref is not None and found.inputs is not None:
        keep = [c for c in inputs if c in input_ref.features]
        report.drift = _drift(input_ref, _only(found.inputs, keep), share_threshold)
    report.prediction_drift = _drift(output_ref, found.outputs, share_threshold)
    report.labelled_rows = live.labelled.height
    report.metrics = live_metrics(live.labelled) if report.labelled_rows else {}
    report.latency_ms = _latency(live.requests)
    report.by_version = _by_version(live, errors)
    return report
