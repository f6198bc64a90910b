"""A CSV value that does not fit the type inferred from the file's head: the error names the
line, the column and the value, says how types were inferred, and the remedies it offers work
(``infer_schema_length`` / ``--infer-rows``, ``schema_overrides`` / ``--dtype``)."""

from __future__ import annotations

import json
from pathlib import Path

import polars as pl
import pytest
from typer.testing import CliRunner

from mloop.cli.main import app
from mloop.data import compute_statistics
from mloop.data._csv import iter_csv_blocks
from mloop.errors import ValidationError

runner = CliRunner()


def write_csv(path: Path, rows: int, bad_row: int, bad_value: str = "n/a") -> Path:
    """``rows`` data rows; column ``amount`` holds integers (and a few empty cells, i.e. nulls)
    except ``bad_value`` at data row ``bad_row`` (1-based; the header is line 1). A quoted
    note with a newline inside sits early on, so lines and records differ by one after it."""
    lines = ["id,amount,note,seen_at"]
    for i in range(1, rows + 1):
        amount = bad_value if i == bad_row else ("" if i % 1000 == 7 else str(i * 3))
        note = '"two\nlines"' if i == 5 else "plain"
        lines.append(f"{i},{amount},{note},2024-03-0{1 + i % 9}T10:00:00+00:00")
    path.write_text("\n".join(lines) + "\n")
    return path


@pytest.mark.parametrize("bad_row", [10_001, 20_000])
def test_the_error_names_line_column_value_and_remedies(tmp_path: Path, bad_row: int) -> None:
    path = write_csv(tmp_path / "loans.csv", 20_000, bad_row)
    with pytest.raises(ValidationError) as caught:
        compute_statistics(path)
    message = str(caught.value)
    line = bad_row + 2  # the header, and the quoted newline in row 5
    assert f"line {line:,}," in message
    assert "column 'amount'" in message and "'n/a'" in message
    assert "first 10,000 rows" in message
    assert "--infer-rows" in message and "infer_schema_length" in message
    assert "--dtype amount=str" in message and "schema_overrides" in message
    assert len(message.splitlines()) == 1
    assert path.read_text().splitlines()[line - 1].startswith(f"{bad_row},n/a,")


def test_line_numbers_hold_across_blocks(tmp_path: Path) -> None:
    path = write_csv(tmp_path / "loans.csv", 20_000, 15_432, bad_value="12.5x")
    with pytest.raises(ValidationError, match=r"line 15,434, column 'amount': value '12\.5x'"):
        for _ in iter_csv_blocks(path, block_bytes=4096):
            pass


def test_the_remedies_read_the_file(tmp_path: Path) -> None:
    path = write_csv(tmp_path / "loans.csv", 20_000, 10_001)
    everything = compute_statistics(path, infer_schema_length=0)
    assert everything["amount"].kind == "categorical"
    assert everything["amount"].nulls == 20
    given = compute_statistics(path, schema_overrides={"amount": "str"})
    assert given["amount"].kind == "categorical"
    assert given["seen_at"].kind == "datetime"
    assert compute_statistics(path, schema_overrides={"amount": pl.String}).num_rows == 20_000
    with pytest.raises(ValidationError, match="unknown type 'text'"):
        compute_statistics(path, schema_overrides={"amount": "text"})


def test_the_cli_prints_one_line_and_its_options_work(project_dir: Path) -> None:
    path = write_csv(project_dir / "loans.csv", 20_000, 20_000)
    failed = runner.invoke(app, ["data", "stats", str(path)])
    assert failed.exit_code == 2
    lines = [x for x in failed.stderr.splitlines() if x.strip()]
    assert len(lines) == 1 and "line 20,002" in lines[0], failed.stderr
    for option in (["--infer-rows", "0"], ["--infer-rows", "20000"], ["--dtype", "amount=str"]):
        ok = runner.invoke(app, ["data", "stats", str(path), *option, "--json"])
        assert ok.exit_code == 0, (option, ok.output)
        assert json.loads(ok.stdout)["num_rows"] == 20_000
    bad = runner.invoke(app, ["data", "stats", str(path), "--dtype", "amount"])
    assert bad.exit_code == 2 and "COLUMN=TYPE" in bad.stderr
