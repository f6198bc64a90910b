"""The closed loop's lineage chain: from the monitoring report that fired a trigger to the model
version the alias now serves, read back from the metadata store alone.

report (``monitoring_reports``) -> trigger event (``payload.report_id``) -> training run
(``event.run_id``; ``run.trigger == KIND:EVENT_ID``) -> model version (``version.run_id``) ->
alias move (``alias_history``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from mloop.errors import StoreError
from mloop.metadata.base import MetadataStore


@dataclass(frozen=True)
class ChainLink:
    """One step of the chain: what it is, its id, and a short description."""

    kind: str
    id: str
    detail: str


def trigger_chain(
    store: MetadataStore, event_id: str, *, alias: str = "production"
) -> list[ChainLink]:
    """The chain behind trigger event ``event_id``; stops where a link is missing."""
    event = store.controller_state().get_event(event_id)
    links: list[ChainLink] = []
    report_id = event.payload.get("report_id")
    if report_id:
        report = store.monitoring().get_report(report_id)
        share = "—" if report.share_drifted is None else f"{report.share_drifted:.0%}"
        links.append(
            ChainLink(
                "monitoring_report",
                report.id,
                f"{report.model} v{report.version}: {report.num_rows} rows, {share} of features "
                f"drifted (monitoring run {report.run_id})",
            )
        )
    links.append(ChainLink("trigger_event", event.id, f"{event.kind}: {event.reason}"))
    if event.run_id is None:
        return links
    run = store.get_run(event.run_id)
    links.append(
        ChainLink("run", run.id, f"{run.pipeline_name} {run.state.value}, trigger {run.trigger}")
    )
    model = event.payload.get("model")
    if not model:
        return links
    registry = store.model_registry()
    versions = [v for v in registry.list_versions(model) if v.run_id == run.id]
    if not versions:
        return links
    version = versions[0]
    links.append(ChainLink("model_version", f"{model}/{version.version}", f"from run {run.id}"))
    history = _alias_history(registry, model, alias)
    moves = [h for h in history if h.to_version == version.version]
    if moves:
        links.append(
            ChainLink("alias", f"{model}@{alias}", f"-> v{version.version} ({moves[-1].reason})")
        )
    return links


def _alias_history(registry: Any, model: str, alias: str) -> list[Any]:
    try:
        return list(registry.alias_history(model, alias))
    except StoreError:
        return []
