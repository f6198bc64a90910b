"""CLI start-up: ``mloop --help`` and ``mloop --version`` beside ``python -c pass`` (the limit).

Budget (DESIGN.md): ``mloop --help`` answers in < 0.5 s. Each command is a fresh interpreter,
run ``--repeat`` times; the table gives the median wall time in milliseconds and its ratio to
the bare interpreter's start.

Run: python bench/bench_cli_start.py [--repeat 15]
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import time

from rich.console import Console
from rich.table import Table

BUDGET_S = 0.5


def median_seconds(argv: list[str], repeat: int) -> float:
    """Median wall time of running ``argv`` to completion, in seconds (one warm-up run)."""
    subprocess.run(argv, capture_output=True, check=True)
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        subprocess.run(argv, capture_output=True, check=True)
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=15)
    args = parser.parse_args()
    python = sys.executable
    cases = {
        "limit: python -c pass": [python, "-c", "pass"],
        "python -c 'import mloop'": [python, "-c", "import mloop"],
        "mloop --version": [python, "-m", "mloop", "--version"],
        "mloop --help": [python, "-m", "mloop", "--help"],
        "mloop runs --help": [python, "-m", "mloop", "runs", "--help"],
    }
    results = {name: median_seconds(argv, args.repeat) for name, argv in cases.items()}
    limit = results["limit: python -c pass"]
    table = Table(title=f"CLI start, median of {args.repeat} runs (budget: --help < 0.5 s)")
    for column in ("command", "median ms", "ratio to limit", "within budget"):
        table.add_column(column, justify="left" if column == "command" else "right")
    for name, seconds in results.items():
        table.add_row(
            name, f"{seconds * 1000:.0f}", f"{seconds / limit:.2f}x", str(seconds < BUDGET_S)
        )
    Console().print(table)


if __name__ == "__main__":
    main()
