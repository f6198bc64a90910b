"""Batch prediction on Ray Data: ``mloop predict MODEL --input DIR --output DIR --runner ray``.

The input (a Parquet file or folder, possibly larger than one machine) is read by Ray Data in
blocks; every block is checked and predicted by the very code of ``mloop predict``
(:func:`mloop.serving.batch.local.predict_table_chunks`: the signature check of the online service,
``prediction`` and ``proba_<class>`` columns) in Ray tasks across the cluster, and written as a
folder of Parquet files, in input order. The model URI is pinned to one version on the driver
(an alias that moves mid-job cannot mix two models): the driver resolves it once and hands
every worker that ``ModelVersion``, whose package the worker loads from the artifact store,
verifying the digest the registry recorded. The output folder appears whole or not at all: it is
written under a temporary name and renamed when complete.
"""

from __future__ import annotations

import os
import re
import shutil
import time
from pathlib import Path
from typing import Any

from mloop._utils.ray_session import connected_ray
from mloop.errors import ValidationError
from mloop.serving.batch.local import BatchPredictionResult, predict_table_chunks
from mloop.serving.models.source import MODELS_SCHEME, ServedModel, load_served_model

__all__ = ["predict_on_ray"]

_ENV_KEYS = ("MLOOP_ENV", "MLOOP_METADATA_URL", "MLOOP_ARTIFACT_ROOT")
_MODELS: dict[tuple[str, bool], ServedModel] = {}  # per worker process: loaded once


def predict_on_ray(
    model_uri: str,
    input_path: str | Path,
    output_path: str | Path,
    *,
    chunk_size: int = 65_536,
    with_proba: bool = False,
    allow_nan: bool = False,
    num_cpus: float = 1.0,
    address: str | None = None,
) -> BatchPredictionResult:
    """Predict every row of ``input_path`` into the Parquet folder ``output_path`` on Ray;
    ``chunk_size`` rows per batch, each batch task asking ``num_cpus``."""
    if chunk_size < 1:
        raise ValidationError(f"chunk size must be >= 1 row, got {chunk_size}")
    source, target = Path(input_path).resolve(), Path(output_path).resolve()
    if not source.exists():
        raise ValidationError(f"input {source} does not exist; give a Parquet file or folder")
    if target.is_file():
        raise ValidationError(
            f"output {target} is a file; --runner ray writes a folder of Parquet files"
        )
    started = time.perf_counter()
    pinned, version = _pin(model_uri)
    model = load_served_model(
        pinned, allow_nan=allow_nan, version=version
    )  # fails fast, here, when it cannot
    _check_columns(model, source)
    ray = connected_ray(address, needs="--runner ray", data=True)
    from ray.data import DataContext

    context = DataContext.get_current()
    context.enable_progress_bars = False
    context.execution_options.preserve_order = True  # rows come out in input order
    job = {
        "uri": pinned if pinned.startswith(MODELS_SCHEME) else str(Path(pinned).resolve()),
        "version": version,
        "allow_nan": allow_nan,
        "with_proba": with_proba,
        "cwd": os.getcwd(),
        "env": {k: os.environ[k] for k in _ENV_KEYS if k in os.environ},
    }
    try:
        dataset = ray.data.read_parquet(str(source))
    except Exception as exc:  # pyarrow and Ray raise several types for unreadable input
        raise ValidationError(f"cannot read {source} as Parquet: {exc}") from exc
    predicted = dataset.map_batches(
        _predict_block,
        fn_kwargs={"job": job},
        batch_format="pyarrow",
        batch_size=chunk_size,
        num_cpus=num_cpus,
    )
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.with_name(f".{target.name}.{os.getpid()}.tmp")
    shutil.rmtree(tmp, ignore_errors=True)
    try:
        try:
            predicted.write_parquet(str(tmp))
        except Exception as exc:
            raise _unwrap(exc) from exc
        files = sorted(tmp.glob("*.parquet"))
        rows = _count_rows(files)
        if not rows:
            raise ValidationError(f"{source} holds no rows to predict")
        if target.exists():
            _remove_old_output(target)
        os.replace(tmp, target)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return BatchPredictionResult(
        target, rows, len(files), time.perf_counter() - started, model.name, model.version_label
    )


def _predict_block(table: Any, job: dict[str, Any]) -> Any:
    """Ray Data batch function: one Arrow table in, the same rows with predictions out."""
    import pyarrow as pa

    key = (job["uri"], job["allow_nan"])
    model = _MODELS.get(key)
    if model is None:
        os.environ.update(job["env"])  # the same stores as the driver's environment
        if os.path.isdir(job["cwd"]):
            os.chdir(job["cwd"])
        model = _MODELS[key] = load_served_model(
            job["uri"], allow_nan=job["allow_nan"], version=job["version"]
        )
    parts = list(predict_table_chunks(model, table.to_batches(), with_proba=job["with_proba"]))
    if not parts:
        return table.append_column("prediction", pa.nulls(0))
    return pa.concat_tables(parts)


def _pin(model_uri: str) -> tuple[str, Any]:
    """``models:/name@alias`` (or ``models:/name``) as ``(models:/name/VERSION, ModelVersion)``:
    one version for every worker, resolved once; a package folder as ``(folder, None)``."""
    if not model_uri.startswith(MODELS_SCHEME):
        return model_uri, None
    from mloop.serving.models.registry_access import resolve

    found = resolve(model_uri)
    return f"{MODELS_SCHEME}{found.name}/{found.version}", found


def _count_rows(files: list[Path]) -> int:
    import pyarrow.parquet as pq

    return sum(pq.ParquetFile(f).metadata.num_rows for f in files)


def _remove_old_output(target: Path) -> None:
    """Replace an earlier output folder, but never a folder holding anything else."""
    others = [p.name for p in target.iterdir() if p.suffix != ".parquet"]
    if not target.is_dir() or others:
        raise ValidationError(
            f"output {target} exists and holds more than Parquet files ({others[:3]}); "
            "choose a new output folder"
        )
    shutil.rmtree(target)


def _check_columns(model: ServedModel, source: Path) -> None:
    """Refuse, before any task starts, an input that lacks a column the model needs."""
    import pyarrow.dataset as ds

    from mloop.errors import InputSchemaError

    try:
        names = set(ds.dataset(source, format="parquet").schema.names)
    except Exception as exc:  # pyarrow raises several types for an unreadable file
        raise ValidationError(f"cannot read {source} as Parquet: {exc}") from exc
    missing = [n for n in model.spec.names if n not in names]
    if missing:
        raise InputSchemaError(
            missing[0], f"is missing from the input; the model needs {list(model.spec.names)}"
        )


_REMOTE_ERROR = re.compile(r"mloop\.errors\.(\w+): (.+)")


def _unwrap(exc: BaseException) -> BaseException:
    """The mloop error a Ray task raised (a value that does not fit the signature), so that the
    user sees that one line, not Ray's wrapping. mloop errors carry fields that Ray cannot
    rebuild on the driver; their class name and message survive in the remote traceback."""
    from mloop.errors import MloopError

    seen: BaseException | None = exc
    while seen is not None:
        if isinstance(seen, MloopError):
            return seen
        cause = getattr(seen, "cause", None)
        seen = cause if isinstance(cause, BaseException) else seen.__cause__
    found = _REMOTE_ERROR.findall(str(exc))
    if found:
        name, message = found[-1]
        return ValidationError(f"batch prediction failed on Ray ({name}): {message}")
    return exc
