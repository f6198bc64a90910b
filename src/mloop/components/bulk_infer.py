"""The ``bulk_infer`` component: batch prediction as a pipeline step (TFX's BulkInferrer).

It takes a model (a ``ModelPackage`` from an upstream step, a package folder or a ``models:/``
URI) and data (a pandas/Polars frame, an Arrow table, or a Parquet file or folder path) and
returns an Arrow table: the input rows plus ``prediction`` (and ``proba_<class>`` columns with
``with_proba``). Data are predicted in chunks of ``chunk_size`` rows, so a path input is read
chunk by chunk. ``mloop predict`` is the same operation from the command line.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

from mloop.components.model_artifacts import register_model_materializers
from mloop.errors import ValidationError
from mloop.models import LoadedModel, ModelPackage
from mloop.pipelines.dsl import step

__all__ = ["bulk_infer", "bulk_predict"]

register_model_materializers()


def _batches(data: Any, chunk_size: int) -> Iterator[Any]:
    import pyarrow as pa
    import pyarrow.dataset as ds

    if isinstance(data, (str, Path)):
        path = Path(data)
        if not path.exists():
            raise ValidationError(
                f"bulk_infer: {path} does not exist; give a Parquet file or folder"
            )
        yield from ds.dataset(path, format="parquet").to_batches(batch_size=chunk_size)
        return
    if isinstance(data, pa.Table):
        table = data
    elif type(data).__module__.startswith("polars"):
        table = data.to_arrow()
    else:
        import pandas as pd

        if not isinstance(data, pd.DataFrame):
            raise ValidationError(
                f"bulk_infer: data of type {type(data).__name__} is not supported; pass a pandas "
                "or Polars frame, an Arrow table or a Parquet path"
            )
        table = pa.Table.from_pandas(data, preserve_index=False)
    yield from table.to_batches(max_chunksize=chunk_size)


def _model(model: Any) -> LoadedModel:
    if isinstance(model, LoadedModel):
        return model
    if isinstance(model, ModelPackage):
        return model.load()
    if isinstance(model, (str, Path)):
        from mloop.registry import load_model  # a folder, or models:/ resolved once

        return load_model(model)
    raise ValidationError(
        f"bulk_infer: model of type {type(model).__name__} is not supported; pass a "
        "ModelPackage, a package folder or a models:/ URI"
    )


def bulk_predict(
    model: Any, data: Any, *, chunk_size: int = 65_536, with_proba: bool = False
) -> Any:
    """Predict ``data`` with ``model`` chunk by chunk; an Arrow table of inputs + predictions."""
    import numpy as np
    import pyarrow as pa

    if chunk_size < 1:
        raise ValidationError(f"bulk_infer: chunk_size must be >= 1 row, got {chunk_size}")
    loaded = _model(model)
    tables = []
    for batch in _batches(data, chunk_size):
        if batch.num_rows == 0:
            continue
        frame = batch.to_pandas()
        table = pa.Table.from_batches([batch])
        table = table.append_column("prediction", pa.array(np.asarray(loaded.predict(frame))))
        if with_proba and loaded.has_proba:
            proba = np.asarray(loaded.predict_proba(frame))
            classes = loaded.classes or list(range(proba.shape[1]))
            for i, label in enumerate(classes):
                table = table.append_column(f"proba_{label}", pa.array(proba[:, i]))
        tables.append(table)
    if not tables:
        raise ValidationError("bulk_infer: the data hold no rows to predict")
    return pa.concat_tables(tables)


@step
def bulk_infer(model: Any, data: Any, chunk_size: int = 65_536, with_proba: bool = False) -> Any:
    """Pipeline step: ``bulk_predict(model, data)`` as an Arrow table artifact (Parquet)."""
    return bulk_predict(model, data, chunk_size=chunk_size, with_proba=with_proba)
