"""``mloop data stats|schema|validate|drift``: data validation from the command line.

A PATH is a Parquet or CSV file (or a folder of Parquet files), or a statistics JSON written by
``mloop data stats --json`` (so windows profiled elsewhere compare without their rows).
``--json`` prints the result's JSON form (Statistics, Anomalies or DriftReport ``to_dict()``).
``validate`` exits 1 when a blocking anomaly is found; ``drift`` exits 0 whatever it finds
unless ``--fail-on-drift`` is given (then 1 when the dataset drifted).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from mloop.cli.options import JsonOption
from mloop.data._csv import INFER_SCHEMA_ROWS

if TYPE_CHECKING:
    from mloop.data import Anomalies, DriftReport, Statistics

app = typer.Typer(
    name="data",
    help="Profile, validate and compare datasets: statistics, schema, anomalies, drift.",
    no_args_is_help=True,
    add_completion=False,
)

EXIT_DATA_INVALID = 1  # validate found blocking anomalies / drift --fail-on-drift found drift

PathArg = Annotated[
    Path, typer.Argument(help="Parquet/CSV file, Parquet folder, or statistics .json.")
]
HtmlOpt = Annotated[
    Path | None, typer.Option("--html", help="Also write a self-contained HTML report here.")
]
InferRowsOpt = Annotated[
    int,
    typer.Option(
        "--infer-rows",
        min=0,
        help="CSV: infer column types from this many first rows (0 = all rows).",
    ),
]
DtypeOpt = Annotated[
    list[str] | None,
    typer.Option(
        "--dtype",
        help="CSV: COLUMN=TYPE (str, int, float, bool, date, datetime); repeatable.",
    ),
]


@dataclass(frozen=True)
class CsvOptions:
    """How CSV files are read: types inferred from ``infer_rows`` rows (0: all), or given."""

    infer_rows: int = INFER_SCHEMA_ROWS
    dtypes: tuple[str, ...] = ()

    def overrides(self) -> dict[str, str]:
        from mloop.errors import ConfigError

        out: dict[str, str] = {}
        for item in self.dtypes:
            column, sep, dtype = item.partition("=")
            if not sep or not column or not dtype:
                raise ConfigError(f"--dtype takes COLUMN=TYPE, e.g. --dtype zip=str; got {item!r}")
            out[column] = dtype.strip()
        return out


def csv_options(infer_rows: int, dtype: list[str] | None) -> CsvOptions:
    return CsvOptions(infer_rows, tuple(dtype or ()))


def load_statistics(
    path: Path, slice_by: str | None = None, csv: CsvOptions | None = None
) -> Statistics:
    """Statistics of a data file, or read from a statistics JSON file."""
    from mloop.data import Statistics, compute_statistics
    from mloop.errors import ValidationError

    if path.suffix.lower() == ".json":
        if not path.exists():
            raise ValidationError(f"statistics file {path} does not exist")
        return Statistics.from_json(path.read_text(encoding="utf-8"))
    csv = csv or CsvOptions()
    return compute_statistics(
        path,
        slice_by=slice_by,
        infer_schema_length=csv.infer_rows,
        schema_overrides=csv.overrides(),
    )


@app.command("stats")
def stats_command(
    path: PathArg,
    html: HtmlOpt = None,
    slice_by: Annotated[
        str | None, typer.Option(help="Also profile per value of this column.")
    ] = None,
    infer_rows: InferRowsOpt = INFER_SCHEMA_ROWS,
    dtype: DtypeOpt = None,
    as_json: JsonOption = False,
) -> None:
    """Compute a dataset's statistics and print them."""
    stats = load_statistics(path, slice_by, csv_options(infer_rows, dtype))
    if html is not None:
        from mloop.data.report import write_html

        write_html(html, stats, title=f"Statistics of {path.name}")
    if as_json:
        from mloop.cli.output import print_json

        print_json(stats.to_dict())
        return
    _print_statistics(stats, path)
    if html is not None:
        _say(f"report written to {html}")


@app.command("schema")
def schema_command(
    path: PathArg,
    output: Annotated[
        Path, typer.Option("-o", "--output", help="Where to write the YAML schema.")
    ] = Path("schema.yaml"),
    label: Annotated[
        str | None, typer.Option(help="The label column (absent from SERVING data).")
    ] = None,
    infer_rows: InferRowsOpt = INFER_SCHEMA_ROWS,
    dtype: DtypeOpt = None,
) -> None:
    """Infer a schema from a dataset and write it as editable YAML."""
    from mloop.data import infer_schema

    csv = csv_options(infer_rows, dtype)
    schema = infer_schema(load_statistics(path, csv=csv), label=label)
    schema.to_yaml(output)
    _say(f"schema of {len(schema.features)} features written to {output}; review and edit it")


@app.command("validate")
def validate_command(
    path: PathArg,
    schema: Annotated[Path, typer.Option("--schema", help="The YAML schema to check against.")],
    reference: Annotated[
        Path | None, typer.Option("--reference", help="Also check drift against this data.")
    ] = None,
    environment: Annotated[
        str | None, typer.Option("--environment", help="e.g. TRAINING or SERVING.")
    ] = None,
    html: HtmlOpt = None,
    infer_rows: InferRowsOpt = INFER_SCHEMA_ROWS,
    dtype: DtypeOpt = None,
    as_json: JsonOption = False,
) -> None:
    """Check a dataset against a schema; exit 1 on blocking anomalies."""
    from mloop.data import Schema, validate

    rules = Schema.from_yaml(schema)
    csv = csv_options(infer_rows, dtype)
    stats = load_statistics(path, csv=csv)
    ref = load_statistics(reference, csv=csv) if reference is not None else None
    anomalies = validate(stats, rules, environment, reference=ref)
    if html is not None:
        from mloop.data import detect_drift
        from mloop.data.report import write_html

        drift = detect_drift(ref, stats, rules) if ref is not None else None
        write_html(html, stats, ref, drift, anomalies, title=f"Validation of {path.name}")
    if as_json:
        from mloop.cli.output import print_json

        print_json(anomalies.to_dict())
    else:
        _print_anomalies(anomalies)
    if anomalies.blocking:
        raise typer.Exit(EXIT_DATA_INVALID)


@app.command("drift")
def drift_command(
    reference: Annotated[Path, typer.Argument(help="Reference data (or statistics .json).")],
    current: Annotated[Path, typer.Argument(help="Current data (or statistics .json).")],
    schema: Annotated[
        Path | None, typer.Option("--schema", help="Per-feature drift overrides.")
    ] = None,
    html: HtmlOpt = None,
    fail_on_drift: Annotated[
        bool, typer.Option("--fail-on-drift", help="Exit 1 when the dataset drifted.")
    ] = False,
    infer_rows: InferRowsOpt = INFER_SCHEMA_ROWS,
    dtype: DtypeOpt = None,
    as_json: JsonOption = False,
) -> None:
    """Compare two datasets feature by feature, from their statistics."""
    from mloop.data import Schema, detect_drift

    csv = csv_options(infer_rows, dtype)
    ref, cur = load_statistics(reference, csv=csv), load_statistics(current, csv=csv)
    report = detect_drift(ref, cur, Schema.from_yaml(schema) if schema is not None else None)
    if html is not None:
        from mloop.data.report import write_html

        write_html(html, cur, ref, report, title=f"Drift: {current.name} against {reference.name}")
    if as_json:
        from mloop.cli.output import print_json

        print_json(report.to_dict())
    else:
        _print_drift(report)
        if html is not None:
            _say(f"report written to {html}")
    if fail_on_drift and report.dataset_drifted:
        raise typer.Exit(EXIT_DATA_INVALID)


def _say(text: str) -> None:
    from mloop.cli.output import console

    console().print(text)


def _print_statistics(stats: Statistics, path: Path) -> None:
    from rich.table import Table

    from mloop.cli.output import console

    table = Table(title=f"{path.name}: {stats.num_rows} rows, {len(stats.features)} columns")
    for col in (
        "column",
        "kind",
        "null",
        "distinct",
        "mean",
        "std",
        "min",
        "median",
        "max",
        "top values",
    ):
        table.add_column(
            col,
            justify="right"
            if col in ("null", "distinct", "mean", "std", "min", "median", "max")
            else "left",
        )
    for f in stats.features.values():
        cells = [f.name, f.kind, f"{1 - f.presence:.1%}", _distinct(f)]
        if f.numeric is not None and f.numeric.count:
            n = f.numeric
            cells += [_g(n.mean), _g(n.std), _g(n.min), _g(n.quantiles["q0.5"]), _g(n.max), ""]
        elif f.categorical is not None:
            top = ", ".join(
                f"{k} {c / max(f.categorical.count, 1):.0%}" for k, c in f.categorical.top(3)
            )
            cells += ["", "", "", "", "", top]
        elif f.datetime is not None:
            cells += [
                "",
                "",
                str(f.datetime.iso(f.datetime.min_us)),
                "",
                str(f.datetime.iso(f.datetime.max_us)),
                "",
            ]
        else:
            cells += [""] * 6
        table.add_row(*cells)
    console().print(table)


def _distinct(f: object) -> str:
    value = getattr(f, "distinct", None)
    if value is None:
        return "—"
    return f"{value}" if getattr(f, "distinct_exact", False) else f"~{value}"


def _g(x: float) -> str:
    return f"{x:.4g}"


def _print_anomalies(anomalies: Anomalies) -> None:
    from rich.table import Table

    from mloop.cli.output import console

    if not anomalies.items:
        console().print("[green]no anomalies[/green]")
        return
    table = Table(title=f"{len(anomalies.errors)} errors, {len(anomalies.warnings)} warnings")
    for col in ("severity", "column", "kind", "reason"):
        table.add_column(col)
    for a in anomalies:
        style = "bold red" if a.severity == "error" else "yellow"
        table.add_row(f"[{style}]{a.severity}[/{style}]", a.column or "—", a.kind, a.reason)
    console().print(table)


def _print_drift(report: DriftReport) -> None:
    from rich.table import Table

    from mloop.cli.output import console

    verdict = (
        "[bold red]dataset drifted[/bold red]"
        if report.dataset_drifted
        else "[green]no dataset drift[/green]"
    )
    table = Table(
        title=f"{len(report.drifted_features)} of {len(report.judged)} features drifted "
        f"({report.share_drifted:.0%}; threshold {report.share_threshold:.0%})"
    )
    for col in ("feature", "status", "method", "score", "threshold", "change"):
        table.add_column(col, justify="right" if col in ("score", "threshold") else "left")
    for f in report.features:
        style = "bold red" if f.drifted else ("green" if f.status == "ok" else "dim")
        table.add_row(
            f.name,
            f"[{style}]{f.status}[/{style}]",
            f.method,
            _g(f.score),
            _g(f.threshold),
            f.summary,
        )
    console().print(table)
    console().print(verdict)
