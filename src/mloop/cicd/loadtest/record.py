"""Recording a load test so that it is queryable per model version: a run of the experiment
``loadtest`` (params concurrency/duration/rows/url, metrics ``qps``, ``p50_ms``, ``p99_ms``,
``error_rate``, ``requests``; tags ``model``, ``version``, ``model_uri``, ``mloop.loadtest.result``)
and, for a registered version, the version's tags ``mloop.loadtest.*`` (the latest test)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from mloop.cicd.loadtest.run import LoadResult

__all__ = ["EXPERIMENT", "TestedModel", "record_loadtest"]

EXPERIMENT = "loadtest"


@dataclass(frozen=True)
class TestedModel:
    """What was load-tested: the URI given, and the registered name/version behind it (None
    for a package folder)."""

    uri: str
    name: str | None = None
    version: int | None = None


def record_loadtest(
    result: LoadResult,
    model: TestedModel,
    broken: Sequence[str],
    *,
    store: Any,
    registry: Any = None,
) -> str:
    """Record ``result``; returns the run id. ``broken``: the budget limits it broke."""
    from mloop.metadata.entities import RunState
    from mloop.tracking import fluent

    tags = {
        "model": model.name or model.uri,
        "version": "" if model.version is None else str(model.version),
        "model_uri": model.uri,
        "mloop.loadtest.result": "over budget" if broken else "within budget",
    }
    run = fluent.start_run(EXPERIMENT, run_name=f"loadtest {model.uri}", tags=tags, store=store)
    try:
        fluent.log_params(
            {
                "url": result.url,
                "concurrency": result.concurrency,
                "duration_s": result.duration_s,
                "rows": result.rows,
            }
        )
        metrics = {
            "qps": result.qps,
            "error_rate": result.error_rate,
            "requests": float(result.requests),
        }
        metrics.update(
            {
                k: v
                for k, v in (("p50_ms", result.p50_ms), ("p99_ms", result.p99_ms))
                if v is not None
            }
        )
        fluent.log_metrics(metrics)
    finally:
        fluent.end_run(
            RunState.FAILED if broken else RunState.SUCCEEDED,
            error="; ".join(broken) or None,
        )
    if registry is not None and model.name is not None and model.version is not None:
        registry.set_tags(
            model.name,
            {
                "mloop.loadtest.run_id": run.id,
                "mloop.loadtest.qps": f"{result.qps:.1f}",
                "mloop.loadtest.p50_ms": "" if result.p50_ms is None else f"{result.p50_ms:.2f}",
                "mloop.loadtest.p99_ms": "" if result.p99_ms is None else f"{result.p99_ms:.2f}",
                "mloop.loadtest.error_rate": f"{result.error_rate:.4f}",
                "mloop.loadtest.result": tags["mloop.loadtest.result"],
            },
            version=model.version,
        )
    return run.id
