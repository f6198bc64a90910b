"""Training sets: the point-in-time join, then the on-demand views, then the requested columns.

The join runs in the offline store (DuckDB); on-demand features are computed by the same
function the online path uses (``on_demand.run_on_demand``), on the joined Arrow columns.
"""

from __future__ import annotations

import pyarrow as pa

from mloop.errors import MissingJoinKeyError
from mloop.features.frames import RetrievalJob
from mloop.features.offline_stores.base import OfflineStore
from mloop.features.retrieval import RetrievalPlan


def historical_features(
    offline: OfflineStore, plan: RetrievalPlan, entity_rows: pa.Table, event_timestamp_column: str
) -> RetrievalJob:
    """Every entity row once, in input order, with the plan's features as columns."""
    table = offline.get_historical_features(entity_rows, event_timestamp_column, plan.views)
    if plan.on_demand:
        from mloop.features.on_demand import run_on_demand

        for odfv, _, _ in plan.on_demand:
            missing = [
                f.name for f in odfv.request_fields if f.name not in entity_rows.column_names
            ]
            if missing:
                raise MissingJoinKeyError(missing, f"entity rows (request data of {odfv.name!r})")
        inputs = {name: table.column(name) for name in table.column_names}
        computed = run_on_demand(plan, inputs).to_arrow()
        for name in computed.column_names:
            table = table.append_column(name, computed.column(name))
    keep = [*entity_rows.column_names, *plan.columns]
    table = table.select(keep)
    return RetrievalJob(table, [r.view.name for r in plan.views])
