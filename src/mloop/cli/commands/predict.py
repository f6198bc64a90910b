"""``mloop predict MODEL_URI --input data.parquet --output preds.parquet``: batch prediction.

Streams the input in chunks (``--chunk-size`` rows), checks each against the model's signature
as the online service does (nulls only where it allows them), and writes the rows with a
``prediction`` column (a classifier's class labels) and, with ``--proba``, ``proba_<class>``.
First the input is validated against the registered version's training schema (see
:mod:`mloop.cicd.gates.data`): blocking anomalies print their table and refuse (exit 1), unless
``--skip-validation``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from mloop.cli.state import state_of

app = typer.Typer(name="predict", help="Predict a Parquet file in batch.", add_completion=False)


@app.command()
def predict(
    ctx: typer.Context,
    model_uri: Annotated[
        str, typer.Argument(help="models:/name@alias, models:/name/VERSION or a package folder.")
    ],
    input_path: Annotated[Path, typer.Option("--input", "-i", help="Parquet file or folder.")],
    output_path: Annotated[Path, typer.Option("--output", "-o", help="Parquet file to write.")],
    chunk_size: Annotated[int, typer.Option(help="Rows per chunk.")] = 65_536,
    with_proba: Annotated[
        bool, typer.Option("--proba", help="Add one proba_<class> column per class.")
    ] = False,
    allow_nan: Annotated[
        bool,
        typer.Option(
            "--allow-nan", help="Accept null/NaN in every input, also where the signature does not."
        ),
    ] = False,
    skip_validation: Annotated[
        bool,
        typer.Option(
            "--skip-validation",
            help="Do not validate the input against the model version's training schema.",
        ),
    ] = False,
    as_json: Annotated[bool, typer.Option("--json", help="Machine-readable summary.")] = False,
    runner: Annotated[
        str,
        typer.Option(
            help="local: this process, one file out. ray: Ray Data across the environment's "
            "Ray cluster (runner.address), a folder of Parquet files out."
        ),
    ] = "local",
) -> None:
    """Predict every row of --input into --output."""
    import os

    from mloop.cli.output import console, print_json
    from mloop.errors import ConfigError

    settings = state_of(ctx).settings()
    input_path, output_path = input_path.resolve(), output_path.resolve()
    os.chdir(settings.project_dir)
    if runner not in ("local", "ray"):
        raise ConfigError(f"--runner must be local or ray, got {runner!r}")
    validation = (
        None if skip_validation else _validate_input(settings, model_uri, input_path, as_json)
    )
    if runner == "ray":
        from mloop.serving.batch.ray import predict_on_ray

        address = settings.runner.get("address") if settings.runner.get("type") == "ray" else None
        result = predict_on_ray(
            model_uri,
            input_path,
            output_path,
            chunk_size=chunk_size,
            with_proba=with_proba,
            allow_nan=allow_nan,
            address=address,
        )
    else:
        from mloop.serving.batch.local import predict_file

        result = predict_file(
            model_uri,
            input_path,
            output_path,
            chunk_size=chunk_size,
            with_proba=with_proba,
            progress=not as_json and console().is_terminal,
            allow_nan=allow_nan,
        )
    summary = {
        "output": str(result.output),
        "rows": result.rows,
        "chunks": result.chunks,
        "seconds": round(result.seconds, 3),
        "model": result.model,
        "version": result.version,
        "validation": validation,
    }
    if as_json:
        print_json(summary)
        return
    console().print(
        f"predicted {result.rows} rows in {result.chunks} chunk(s) with {result.model} "
        f"version {result.version} in {result.seconds:.2f} s -> {result.output}"
    )


def _validate_input(settings: object, model_uri: str, input_path: Path, quiet: bool) -> str:
    """Refuse (``DataValidationError``, after printing the anomalies) blocking anomalies of
    the input against the training schema; says what was checked."""
    from mloop.cicd.gates.data import check_batch_input
    from mloop.cli.commands.data import _print_anomalies
    from mloop.cli.output import console
    from mloop.errors import DataValidationError
    from mloop.registry.registry import default_registry

    check = check_batch_input(default_registry(settings), model_uri, input_path)
    if check.anomalies is None:
        return f"not validated: {check.source}"
    if check.blocking:
        if not quiet:
            _print_anomalies(check.anomalies)
            console().print(
                f"checked against {check.source}; --skip-validation predicts anyway",
                highlight=False,
            )
        raise DataValidationError(check.anomalies)
    return f"validated against {check.source}"
