"""Running on-demand feature views: one function for training sets and online reads.

Both paths hand the user's function the same Polars frame: one column per request field and per
source feature (bare feature names, cast to their declared dtypes), one row per entity row. The
output columns are cast to the view's declared dtypes.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from mloop.features.definitions import parse_reference
from mloop.features.retrieval import RetrievalPlan, output_name


def polars_dtype(dtype: str) -> Any:
    import polars as pl

    return {
        "int32": pl.Int32,
        "int64": pl.Int64,
        "float32": pl.Float32,
        "float64": pl.Float64,
        "string": pl.String,
        "bool": pl.Boolean,
        "bytes": pl.Binary,
        "timestamp": pl.Datetime("us", "UTC"),
    }[dtype]


def run_on_demand(plan: RetrievalPlan, columns: Mapping[str, Any]) -> Any:
    """A Polars frame of every requested on-demand feature (named as the plan's outputs).

    ``columns`` maps result names (and request-field names) to lists or Arrow arrays."""
    import polars as pl

    dtypes = {
        out: f.dtype
        for r in plan.views
        for out, f in zip(
            r.outputs,
            [next(x for x in r.view.schema if x.name == n) for n in r.features],
            strict=True,
        )
    }
    results: dict[str, Any] = {}
    for odfv, features, outputs in plan.on_demand:
        data: dict[str, Any] = {}
        for field in odfv.request_fields:
            data[field.name] = pl.Series(field.name, columns[field.name]).cast(
                polars_dtype(field.dtype), strict=False
            )
        for ref in odfv.source_features():
            view, feat = parse_reference(ref)
            source = output_name(view, feat, plan.full_feature_names)
            series = pl.Series(feat, columns[source])
            if source in dtypes:
                series = series.cast(polars_dtype(dtypes[source]), strict=False)
            data[feat] = series
        out = odfv.transform(pl.DataFrame(data))
        declared = {f.name: f.dtype for f in odfv.schema}
        for feat, name in zip(features, outputs, strict=True):
            results[name] = out[feat].cast(polars_dtype(declared[feat]), strict=False).alias(name)
    return pl.DataFrame(results)
