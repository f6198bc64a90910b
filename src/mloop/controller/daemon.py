"""The controller: a loop of ticks that fires triggers and starts pipeline runs.

One tick (every ``interval_s`` seconds): take or renew the leader lease; close events whose run
ended; evaluate every pipeline's rules and record what fired (skipped if debounced); start
pending events while the pipeline has fewer than ``max_concurrent`` runs and is not backing off.

Runs start as subprocesses (``python -m mloop.controller.launch EVENT_ID``) in their own session:
a pipeline changes the working directory and may use all memory or crash, so it must not share the
controller's process; and a controller that stops (SIGTERM/SIGINT finish the current tick) leaves
its runs to finish, to be closed by whichever controller ticks next. Only the lease holder starts
runs, and each event is claimed with a conditional update, so a run is never started twice.

A launcher that dies before its run row exists (killed, out of memory, its controller killed
first) is noticed by any controller: the event records the launcher's host and process id, and
the launcher renews the event's heartbeat every ``launcher_heartbeat_s`` seconds until it ends.
A controller on the same host fails the event as soon as that process is gone; any controller
fails it once the heartbeat is older than ``launcher_timeout_s``. Once the run row exists, the
run's own state (and its heartbeat lease) decide.
"""

from __future__ import annotations

import logging
import os
import signal
import socket
import subprocess
import sys
import threading
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from mloop._utils.clock import utc_now
from mloop._utils.ids import new_id
from mloop.config import Settings
from mloop.controller.triggers import (
    Policy,
    ReportSource,
    Trigger,
    TriggerContext,
    debounced,
    parse_triggers,
)
from mloop.errors import ConfigError
from mloop.metadata.base import MetadataStore
from mloop.metadata.controller_state import EventState, TriggerEvent
from mloop.metadata.entities import RunState

log = logging.getLogger("mloop.controller")

LEASE_NAME = "controller"
LAUNCHER_HEARTBEAT_S = 2.0
"""How often (s) a launcher renews its event's heartbeat."""
LAUNCHER_TIMEOUT_S = 10.0
"""A running event without a run whose launcher heartbeat is older than this (s) is failed."""
HEARTBEAT_ENV = "MLOOP_LAUNCHER_HEARTBEAT_S"
"""The variable that tells a launcher its heartbeat interval (s)."""


@dataclass
class TickResult:
    """What one tick did (for logs, ``--once`` output and tests)."""

    leader: bool
    fired: list[TriggerEvent] = field(default_factory=list)
    skipped: list[TriggerEvent] = field(default_factory=list)
    started: list[TriggerEvent] = field(default_factory=list)
    finished: list[str] = field(default_factory=list)


class Controller:
    """Evaluates the project's triggers and starts runs; ``run_forever`` is the daemon."""

    def __init__(
        self,
        settings: Settings,
        store: MetadataStore,
        *,
        interval_s: float = 10.0,
        lease_ttl_s: float | None = None,
        holder: str | None = None,
        reports: ReportSource | None = None,
        launch_command: list[str] | None = None,
        launcher_heartbeat_s: float = LAUNCHER_HEARTBEAT_S,
        launcher_timeout_s: float = LAUNCHER_TIMEOUT_S,
    ) -> None:
        from mloop.controller.reports import MonitoringReportSource

        self.settings = settings
        self.store = store
        self.state = store.controller_state()
        self.interval_s = float(interval_s)
        self.lease_ttl_s = float(lease_ttl_s or max(15.0, 3 * self.interval_s))
        self.host = socket.gethostname()
        self.holder = holder or f"{self.host}:{os.getpid()}:{new_id()[:8]}"
        self.launcher_heartbeat_s = float(launcher_heartbeat_s)
        self.launcher_timeout_s = float(launcher_timeout_s)
        if not 0 < self.launcher_heartbeat_s < self.launcher_timeout_s:
            raise ConfigError(
                f"the launcher heartbeat ({self.launcher_heartbeat_s} s) must be positive and "
                f"shorter than the launcher timeout ({self.launcher_timeout_s} s)"
            )
        self.reports = reports or MonitoringReportSource(store)
        self.launch_command = launch_command or [sys.executable, "-m", "mloop.controller.launch"]
        self.started_at = utc_now()
        self.rules: dict[str, tuple[list[Trigger], Policy]] = {
            name: parse_triggers(name, cfg.triggers) for name, cfg in settings.pipelines.items()
        }
        self._children: dict[str, subprocess.Popen[bytes]] = {}
        self._stop = threading.Event()

    # -- the loop ---------------------------------------------------------------------------
    def run_forever(self) -> None:
        """Tick until SIGTERM/SIGINT (or ``stop()``); the current tick always completes."""
        previous = {
            sig: signal.signal(sig, self._on_signal) for sig in (signal.SIGTERM, signal.SIGINT)
        }
        try:
            while not self._stop.is_set():
                try:
                    self.tick()
                except Exception:  # a bad tick (database blip) must not end the daemon
                    log.exception("controller tick failed; retrying in %.1f s", self.interval_s)
                self._stop.wait(self.interval_s)
        finally:
            for sig, handler in previous.items():
                signal.signal(sig, handler)
            self.state.release_lease(LEASE_NAME, self.holder)
            log.info("controller %s stopped", self.holder)

    def stop(self) -> None:
        self._stop.set()

    def _on_signal(self, signum: int, _frame: Any) -> None:
        log.info("signal %d: finishing the current tick, then stopping", signum)
        self._stop.set()

    def tick(self, now: datetime | None = None) -> TickResult:
        """One pass; does nothing but report ``leader=False`` unless this controller leads."""
        now = now or utc_now()
        if not self.state.acquire_lease(LEASE_NAME, self.holder, self.lease_ttl_s):
            return TickResult(leader=False)
        result = TickResult(leader=True)
        result.finished = self._reconcile(now)
        for pipeline, (rules, policy) in self.rules.items():
            self._evaluate(pipeline, rules, policy, now, result)
        pipelines = set(self.rules) | {
            e.pipeline for e in self.state.list_events(states=[EventState.PENDING], limit=1000)
        }
        for pipeline in sorted(pipelines):
            _, policy = self.rules.get(pipeline, ([], Policy()))
            result.started += self._start_pending(pipeline, policy, now)
        return result

    # -- the parts of a tick ----------------------------------------------------------------
    def _evaluate(
        self, pipeline: str, rules: list[Trigger], policy: Policy, now: datetime, out: TickResult
    ) -> None:
        runs = self.store.search_runs(pipeline_name=pipeline, limit=1)
        ctx = TriggerContext(
            pipeline=pipeline,
            now=now,
            started_at=self.started_at,
            project_dir=self.settings.project_dir,
            state=self.state,
            reports=self.reports,
            last_run_started=runs[0].started_at if runs else None,
        )
        for rule in rules:
            firing = rule.check(ctx)
            if firing is None:
                continue
            if rule.params:
                firing.payload.setdefault("params", dict(rule.params))
            if debounced(self.state, pipeline, firing.kind, now, policy.debounce_s):
                event = self.state.record_event(
                    pipeline,
                    firing.kind,
                    f"debounced: {firing.reason}",
                    firing.payload,
                    state=EventState.SKIPPED,
                )
                out.skipped.append(event)
            else:
                event = self.state.record_event(
                    pipeline, firing.kind, firing.reason, firing.payload
                )
                out.fired.append(event)
            log.info("%s trigger of %s: %s", firing.kind, pipeline, event.reason)

    def _reconcile(self, now: datetime) -> list[str]:
        """Close running events whose run ended (whoever started them)."""
        closed: list[str] = []
        for event in self.state.list_events(states=[EventState.RUNNING], limit=1000):
            child = self._children.get(event.id)
            exit_code = child.poll() if child is not None else None
            if event.run_id is not None:
                run = self.store.get_run(event.run_id)
                if run.state is RunState.RUNNING:
                    continue
                ok = run.state is RunState.SUCCEEDED
                self.state.finish_event(
                    event.id,
                    EventState.SUCCEEDED if ok else EventState.FAILED,
                    error=None if ok else (run.error or run.state.value),
                )
            elif child is not None and exit_code is not None:
                self.state.finish_event(
                    event.id,
                    EventState.FAILED,
                    error=f"the run process exited with code {exit_code} before starting a run; "
                    f"see {self._log_path(event.id)}",
                )
            elif child is None and (why := self._launcher_gone(event)) is not None:
                self.state.finish_event(event.id, EventState.FAILED, error=why)
                log.warning("event %s of %s failed: %s", event.id, event.pipeline, why)
            else:
                continue
            closed.append(event.id)
            if child is not None and exit_code is not None:
                self._children.pop(event.id, None)
        return closed

    def _launcher_gone(self, event: TriggerEvent) -> str | None:
        """Why a running event with no run yet, launched by someone else's process, is dead
        (None: its launcher is alive, or may be). Judged on the wall clock, not the tick's."""
        where = f"launcher pid {event.launcher_pid} on {event.launcher_host}"
        if event.launcher_host == self.host and event.launcher_pid:
            try:
                os.kill(event.launcher_pid, 0)
            except ProcessLookupError:
                return (
                    f"the {where} (started by {event.claimed_by}) exited before it started a "
                    f"run; see {self._log_path(event.id)}"
                )
            except PermissionError:
                pass  # it exists, under another user
        last = event.heartbeat_at or event.started_at
        if last is None:
            return None
        age = (utc_now() - last).total_seconds()
        if age <= self.launcher_timeout_s:
            return None
        return (
            f"no heartbeat from the {where} (started by {event.claimed_by}) for {age:.0f} s "
            f"(limit {self.launcher_timeout_s:.0f} s) and no run started: the launcher is gone"
        )

    def _start_pending(self, pipeline: str, policy: Policy, now: datetime) -> list[TriggerEvent]:
        pending = self.state.list_events(pipeline=pipeline, states=[EventState.PENDING])
        if not pending:
            return []
        if pipeline not in self.settings.pipelines:
            for event in pending:
                self.state.finish_event(
                    event.id,
                    EventState.FAILED,
                    error=f"no pipeline {pipeline!r} in mloop.yaml; add it under `pipelines:`",
                )
            return []
        running = len(self.state.list_events(pipeline=pipeline, states=[EventState.RUNNING]))
        wait = self._backoff_left(pipeline, policy, now)
        if wait > 0:
            log.info("%s backing off %.0f s more after failures", pipeline, wait)
            return []
        started: list[TriggerEvent] = []
        for event in reversed(pending):  # oldest first
            if running >= policy.max_concurrent:
                break
            if not self.state.claim_event(event.id, self.holder):
                continue  # another controller took it
            try:
                self._spawn(event)
            except OSError as exc:
                self.state.finish_event(
                    event.id, EventState.FAILED, error=f"could not start the run process: {exc}"
                )
                continue
            running += 1
            started.append(self.state.get_event(event.id))
        return started

    def _backoff_left(self, pipeline: str, policy: Policy, now: datetime) -> float:
        """Seconds until ``pipeline`` may start again after its consecutive failures (0: now)."""
        done = self.state.list_events(
            pipeline=pipeline, states=[EventState.SUCCEEDED, EventState.FAILED], limit=20
        )
        done.sort(key=lambda e: e.ended_at or e.created_at or now, reverse=True)
        failures = 0
        for event in done:
            if event.state is not EventState.FAILED:
                break
            failures += 1
        if failures == 0 or done[0].ended_at is None:
            return 0.0
        elapsed = (now - done[0].ended_at).total_seconds()
        return max(0.0, policy.backoff_after(failures) - elapsed)

    def _log_path(self, event_id: str) -> Path:
        return self.settings.state_dir / "controller" / f"{event_id}.log"

    def _spawn(self, event: TriggerEvent) -> None:
        path = self._log_path(event.id)
        path.parent.mkdir(parents=True, exist_ok=True)
        env = {
            **os.environ,
            "MLOOP_ENV": self.settings.environment,
            HEARTBEAT_ENV: str(self.launcher_heartbeat_s),
        }
        with path.open("ab") as sink:
            child = self._children[event.id] = subprocess.Popen(
                [*self.launch_command, event.id],
                cwd=self.settings.project_dir,
                stdout=sink,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                env=env,
                start_new_session=True,  # Ctrl-C on the controller does not kill its runs
            )
        # who launched it, so that any controller can tell when the launcher is gone
        self.state.set_launcher(event.id, self.host, child.pid)
        log.info("started %s for %s event %s", event.pipeline, event.kind, event.id)

    def wait_for_children(self, timeout_s: float) -> None:
        """Wait (up to ``timeout_s`` s each) for runs this controller started (tests, --once)."""
        for child in list(self._children.values()):
            try:
                child.wait(timeout=timeout_s)
            except subprocess.TimeoutExpired:
                log.warning("run process %d still going after %.0f s", child.pid, timeout_s)
