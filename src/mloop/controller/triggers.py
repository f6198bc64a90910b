"""Trigger rules: decide, from the store and the file system, whether a pipeline should run now.

Each rule in ``mloop.yaml`` ``pipelines.<name>.triggers`` is a one-key mapping::

    - schedule: "0 3 * * *"                                   # cron, UTC
    - new_data: {path: data/incoming/, min_files: 1}          # files/partitions since last run
    - drift: {model: lending, share_of_drifted_features: 0.3} # from monitoring reports
    - degradation: {model: lending, metric: roc_auc, below: 0.80}
    - policy: {max_concurrent: 1, debounce_s: 60, backoff_s: 30, backoff_max_s: 3600}

Every rule but ``schedule`` also takes ``params: {...}``: pipeline parameters for the runs it
starts (e.g. a drift-triggered retrain that reads a fresher data source).

On-demand events (``mloop trigger``) need no rule. A rule's ``check`` returns a ``Firing`` or
None; it is pure apart from reading, so the daemon decides what to record and start.
"""

from __future__ import annotations

import os
import stat
from abc import ABC, abstractmethod
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any, Protocol

from mloop._utils.clock import as_utc
from mloop.errors import ConfigError
from mloop.metadata.controller_state import ControllerStateStore, EventState, TriggerEvent


@dataclass(frozen=True)
class Firing:
    """A rule's decision to run the pipeline, with what it saw (stored as the event payload)."""

    kind: str
    reason: str
    payload: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class ReportSummary:
    """What the drift and degradation rules need of one monitoring report."""

    id: str
    model: str
    version: str | None
    created_at: datetime
    drift_share: float | None
    metrics: Mapping[str, float] = field(default_factory=dict)


class ReportSource(Protocol):
    """Monitoring reports of a model newer than ``since`` (oldest first)."""

    def reports_since(self, model: str, since: datetime | None) -> Sequence[ReportSummary]: ...


@dataclass
class TriggerContext:
    """What a rule may look at during one controller tick."""

    pipeline: str
    now: datetime
    started_at: datetime  # when this controller started (the first schedule base), UTC
    project_dir: Path
    state: ControllerStateStore
    reports: ReportSource
    last_run_started: datetime | None = None  # the pipeline's newest run, any trigger

    def last_event(self, kind: str) -> TriggerEvent | None:
        """The newest event of ``kind`` for this pipeline, fired or skipped."""
        found = self.state.list_events(pipeline=self.pipeline, kind=kind, limit=1)
        return found[0] if found else None


@dataclass(frozen=True)
class Policy:
    """How the controller paces one pipeline's runs (seconds throughout)."""

    max_concurrent: int = 1
    debounce_s: float = 60.0
    backoff_s: float = 30.0
    backoff_max_s: float = 3600.0

    def backoff_after(self, failures: int) -> float:
        """Seconds to wait after ``failures`` consecutive failed runs: doubling, capped."""
        if failures <= 0:
            return 0.0
        return min(self.backoff_max_s, self.backoff_s * 2 ** (failures - 1))


class Trigger(ABC):
    """One rule of one pipeline."""

    kind: str = ""
    params: dict[str, Any] = {}
    """Pipeline parameters a run started by this rule gets (over mloop.yaml's ``params``)."""

    @abstractmethod
    def check(self, ctx: TriggerContext) -> Firing | None:
        """A firing if the pipeline should run because of this rule, else None."""


class ScheduleTrigger(Trigger):
    """Cron in UTC; missed times while no controller ran collapse into one firing."""

    kind = "schedule"

    def __init__(self, expression: str) -> None:
        from croniter import croniter

        if not isinstance(expression, str) or not croniter.is_valid(expression):
            raise ConfigError(
                f"schedule {expression!r} is not a cron expression: use five fields, "
                "e.g. '0 3 * * *' for 03:00 UTC daily"
            )
        self.expression = expression

    def check(self, ctx: TriggerContext) -> Firing | None:
        from croniter import croniter

        last = ctx.last_event(self.kind)
        base = ctx.started_at
        if last is not None and "scheduled_for" in last.payload:
            base = as_utc(datetime.fromisoformat(last.payload["scheduled_for"]))
        due: datetime = croniter(self.expression, base).get_next(datetime)
        if as_utc(due) > ctx.now:
            return None
        latest = as_utc(croniter(self.expression, ctx.now).get_prev(datetime))
        return Firing(
            self.kind,
            f"schedule {self.expression!r} due at {latest.isoformat()}",
            {"expression": self.expression, "scheduled_for": latest.isoformat()},
        )


MAX_TIED = 1_000
"""Names of the files that arrived at the watermark's very time kept in a firing's payload."""


def arrival_time(st: os.stat_result) -> float:
    """When a file arrived or last changed here (s since the epoch): the later of its mtime
    and, on POSIX, its ctime. A file moved in (``mv`` from a staging folder, the usual atomic
    publish) or copied with its times kept (``cp -p``, ``rsync -t``, a sync tool) carries an
    old mtime, which a watermark would pass over for good; its ctime is when that happened."""
    return max(st.st_mtime, st.st_ctime) if os.name == "posix" else st.st_mtime


class NewDataTrigger(Trigger):
    """New files (or partition folders) under ``path`` since the last firing or run.

    A file is new when it arrived (:func:`arrival_time`) after the watermark, the newest
    arrival among the files the last firing saw, or at the watermark's very time under a
    name that firing did not list. A change of a file's metadata (``chmod``) also counts: a
    needless retrain is better than a missed one."""

    kind = "new_data"

    def __init__(self, path: str, min_files: int = 1) -> None:
        if not path:
            raise ConfigError("new_data needs a path: new_data: {path: data/incoming/}")
        if int(min_files) < 1:
            raise ConfigError(f"new_data min_files must be at least 1, not {min_files}")
        self.path = path
        self.min_files = int(min_files)

    def check(self, ctx: TriggerContext) -> Firing | None:
        root = Path(self.path)
        if not root.is_absolute():
            root = ctx.project_dir / root
        if not root.exists():
            return None
        last = ctx.last_event(self.kind)
        tied: set[str] | None = None  # names seen at the watermark; None: all of them
        if last is not None:
            watermark = float(last.payload.get("watermark", 0.0))
            if "at_watermark" in last.payload:  # (older firings did not list them)
                tied = set(last.payload["at_watermark"])
        elif ctx.last_run_started is not None:
            watermark = ctx.last_run_started.timestamp()
        else:
            watermark = 0.0
        fresh: list[tuple[float, str]] = []
        for item in root.rglob("*"):
            if item.name.startswith((".", "_")):
                continue  # hidden files, _SUCCESS markers and writers' temporaries
            try:
                st = item.stat()
            except OSError:  # gone since it was listed (a writer's temporary renamed)
                continue
            if not stat.S_ISREG(st.st_mode):
                continue
            arrived, name = arrival_time(st), item.relative_to(root).as_posix()
            if arrived > watermark or (
                arrived == watermark and tied is not None and name not in tied
            ):
                fresh.append((arrived, name))
        if len(fresh) < self.min_files:
            return None
        fresh.sort()
        newest = fresh[-1][0]
        at_newest = [name for arrived, name in fresh if arrived == newest]
        if newest == watermark and tied is not None:
            at_newest += sorted(tied)  # still at the same instant: remember the earlier ones
        return Firing(
            self.kind,
            f"{len(fresh)} new file(s) under {self.path}",
            {
                "path": self.path,
                "count": len(fresh),
                "files": [name for _, name in fresh[:20]],
                "watermark": newest,
                "at_watermark": at_newest[:MAX_TIED],
            },
        )


class _ReportTrigger(Trigger):
    """Shared part of the drift and degradation rules: each report is looked at once.

    Reports are judged when newer than what this rule last acted on (the report its last
    event recorded); a rule that never fired judges reports newer than the pipeline's last
    run (a run that started after a report already saw its data), and every report when the
    pipeline never ran. The controller's own start time plays no part, so ``mloop monitor
    run`` followed by ``mloop controller --once`` (from cron) acts on that report."""

    def __init__(self, model: str) -> None:
        if not model:
            raise ConfigError(f"{self.kind} needs a model: {self.kind}: {{model: NAME, ...}}")
        self.model = model

    def check(self, ctx: TriggerContext) -> Firing | None:
        for report in ctx.reports.reports_since(self.model, self._judged_until(ctx)):
            reason = self.breach(report)
            if reason is not None:
                return Firing(
                    self.kind,
                    reason,
                    {
                        "model": report.model,
                        "version": report.version,
                        "report_id": report.id,
                        "report_created_at": as_utc(report.created_at).isoformat(),
                        "drift_share": report.drift_share,
                        "metrics": dict(report.metrics),
                    },
                )
        return None

    def _judged_until(self, ctx: TriggerContext) -> datetime | None:
        """Reports created up to this instant were judged already (None: judge them all)."""
        last = ctx.last_event(self.kind)
        if last is not None:
            if "report_created_at" in last.payload:
                return as_utc(datetime.fromisoformat(last.payload["report_created_at"]))
            if last.created_at is not None:
                return as_utc(last.created_at)
        return as_utc(ctx.last_run_started) if ctx.last_run_started is not None else None

    @abstractmethod
    def breach(self, report: ReportSummary) -> str | None: ...


class DriftTrigger(_ReportTrigger):
    """A report whose share of drifted features reaches the threshold."""

    kind = "drift"

    def __init__(self, model: str, share_of_drifted_features: float = 0.3) -> None:
        super().__init__(model)
        share = float(share_of_drifted_features)
        if not 0.0 < share <= 1.0:
            raise ConfigError(f"share_of_drifted_features must be in (0, 1], not {share}")
        self.share = share

    def breach(self, report: ReportSummary) -> str | None:
        if report.drift_share is None or report.drift_share < self.share:
            return None
        return (
            f"{report.drift_share:.0%} of {report.model}'s features drifted "
            f"(threshold {self.share:.0%}; report {report.id})"
        )


class DegradationTrigger(_ReportTrigger):
    """A report whose live metric fell below a floor."""

    kind = "degradation"

    def __init__(self, model: str, metric: str, below: float) -> None:
        super().__init__(model)
        if not metric:
            raise ConfigError("degradation needs a metric: {metric: roc_auc, below: 0.8}")
        self.metric = metric
        self.below = float(below)

    def breach(self, report: ReportSummary) -> str | None:
        value = report.metrics.get(self.metric)
        if value is None or value >= self.below:
            return None
        return f"{report.model} {self.metric} = {value:.4f} < {self.below} (report {report.id})"


_RULES: dict[str, type[Trigger]] = {
    "schedule": ScheduleTrigger,
    "new_data": NewDataTrigger,
    "drift": DriftTrigger,
    "degradation": DegradationTrigger,
}


def parse_triggers(
    pipeline: str, entries: Sequence[Mapping[str, Any]]
) -> tuple[list[Trigger], Policy]:
    """The rules and the pacing policy of one pipeline from its ``triggers`` list."""
    rules: list[Trigger] = []
    policy = Policy()
    for index, entry in enumerate(entries):
        where = f"pipelines.{pipeline}.triggers[{index}]"
        if not isinstance(entry, Mapping) or len(entry) != 1:
            raise ConfigError(
                f'{where} must be a one-key mapping such as `schedule: "0 3 * * *"`; '
                f"known keys: {', '.join([*_RULES, 'policy'])}"
            )
        ((key, value),) = entry.items()
        try:
            if key == "policy":
                policy = Policy(**dict(value or {}))
                if policy.max_concurrent < 1:
                    raise ConfigError(f"{where}: max_concurrent must be at least 1")
            elif key == "schedule":
                rules.append(ScheduleTrigger(value))
            elif key in _RULES:
                if not isinstance(value, Mapping):
                    raise ConfigError(f"{where}: {key} takes a mapping of options")
                options = dict(value)
                params = options.pop("params", None) or {}
                if not isinstance(params, Mapping):
                    raise ConfigError(f"{where}: params must be a mapping of pipeline parameters")
                rule = _RULES[key](**options)
                rule.params = dict(params)
                rules.append(rule)
            else:
                raise ConfigError(
                    f"{where}: unknown trigger {key!r}; use one of {', '.join([*_RULES, 'policy'])}"
                )
        except TypeError as exc:
            raise ConfigError(f"{where}: {exc}; see docs/controller.md for the options") from exc
    return rules, policy


def debounced(
    state: ControllerStateStore, pipeline: str, kind: str, now: datetime, window_s: float
) -> bool:
    """True if a ``kind`` event of ``pipeline`` fired (was not skipped) within ``window_s``."""
    if window_s <= 0:
        return False
    for event in state.list_events(pipeline=pipeline, kind=kind, limit=20):
        if event.state is EventState.SKIPPED:
            continue
        return event.created_at is not None and (now - event.created_at).total_seconds() < window_s
    return False
