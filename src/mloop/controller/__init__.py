"""mloop.controller: trigger rules and the daemon that turns them into pipeline runs."""

from __future__ import annotations

from mloop.controller.daemon import Controller, TickResult
from mloop.controller.ondemand import request_run
from mloop.controller.triggers import Firing, Policy, ReportSummary, parse_triggers

__all__ = [
    "Controller",
    "Firing",
    "Policy",
    "ReportSummary",
    "TickResult",
    "parse_triggers",
    "request_run",
]
