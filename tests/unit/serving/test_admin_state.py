"""The shared admin state file (issue 18.1): atomic publish, change detection, applied counts."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

from mloop.serving.traffic.admin_state import AdminState, SharedAdmin


def test_a_published_state_is_seen_by_a_sibling_and_counted_when_applied(tmp_path: Path) -> None:
    start = AdminState(canary_uri=None, shadow_uri="models:/m/2")
    mine, sibling = SharedAdmin(tmp_path, start, 2), SharedAdmin(tmp_path, start, 2)
    sibling.worker = "999999"  # another process, as far as the files go
    assert not sibling.changed() and sibling.read() == start  # nothing published yet

    async def main() -> tuple[dict, dict]:
        async with mine.locked():
            new = mine.read().next(canary_uri="models:/m/3", canary_percent=12.5)
            mine.publish(new)
        mine.mark_applied(new.generation)
        partial = await mine.wait_applied(new.generation, timeout_s=0.1)
        assert sibling.changed() and not sibling.changed()  # one change, seen once
        sibling.mark_applied(sibling.read().generation)
        return partial, await mine.wait_applied(new.generation, timeout_s=5)

    partial, full = asyncio.run(main())
    assert partial["complete"] is False and partial["applied"] == 1
    assert full == {"generation": 1, "workers": 2, "applied": 2, "complete": True, "errors": []}
    assert sibling.read() == AdminState(1, None, 0, "models:/m/3", 12.5, "models:/m/2")
    assert json.loads((tmp_path / "state.json").read_text())["generation"] == 1
    assert not list(tmp_path.glob(".*.tmp"))  # written whole, then renamed into place


def test_a_worker_that_failed_is_reported(tmp_path: Path) -> None:
    admin = SharedAdmin(tmp_path, AdminState(), 1)
    admin.mark_applied(4, "cannot load models:/m/9")
    report = asyncio.run(admin.wait_applied(4, timeout_s=1))
    assert report["complete"] is False and report["errors"] == [
        f"worker {admin.worker}: cannot load models:/m/9"
    ]


def test_one_worker_keeps_the_state_in_memory() -> None:
    admin = SharedAdmin(None, AdminState(), 4)
    admin.publish(AdminState(generation=2, champion_uri="models:/m/1"))
    assert admin.read().champion_uri == "models:/m/1" and admin.workers == 1
    assert asyncio.run(admin.wait_applied(2))["complete"] is True
