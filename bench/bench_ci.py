"""``mloop ci`` on the demo project (examples/lending_club, copied to a temporary folder) beside
its limit reference: the same pipelines run directly with ``mloop run --no-cache`` with the same
sample config (``ci.params`` of the demo's mloop.yaml, passed as ``-p``): what the smoke runs
cannot be faster than. Each command is a fresh interpreter.

Target (issue 11): ``mloop ci`` under 60 s on 2 cores. The table gives the wall time of each
command (median of ``--repeat``), the ratio of ``mloop ci`` to the reference, and the overhead of
the checks beyond the smoke runs (unit tests, NaN scan, overfit refit, schema comparison).

Run: python bench/bench_ci.py [--repeat 1]
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from rich.console import Console
from rich.table import Table

ROOT = Path(__file__).resolve().parents[1]
DEMO = ROOT / "examples" / "lending_club"
TARGET_S = 60.0


def fresh_demo(parent: Path) -> Path:
    folder = parent / "lending_club"
    shutil.copytree(DEMO, folder, ignore=shutil.ignore_patterns(".mloop", "__pycache__"))
    return folder


def timed(argv: list[str], cwd: Path) -> float:
    env = {k: v for k, v in os.environ.items() if not k.startswith("MLOOP_")}
    env["PYTHONPATH"] = os.pathsep.join([str(ROOT / "src"), env.get("PYTHONPATH", "")])
    start = time.perf_counter()
    result = subprocess.run(argv, cwd=cwd, env=env, capture_output=True, text=True, check=False)
    elapsed = time.perf_counter() - start
    if result.returncode not in (0,):
        raise SystemExit(f"{' '.join(argv)} exited {result.returncode}:\n{result.stdout[-2000:]}")
    return elapsed


def sample_params(demo: Path) -> list[str]:
    """``-p key=value`` arguments of the demo's ``ci.params.training``."""
    import yaml

    doc = yaml.safe_load((demo / "mloop.yaml").read_text(encoding="utf-8")) or {}
    params = ((doc.get("ci") or {}).get("params") or {}).get("training") or {}
    return [arg for key, value in params.items() for arg in ("-p", f"{key}={value}")]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=1)
    args = parser.parse_args()
    python = sys.executable
    runs: dict[str, list[float]] = {"limit: mloop run training --no-cache": [], "mloop ci": []}
    for _ in range(args.repeat):
        with tempfile.TemporaryDirectory(prefix="bench-ci-") as tmp:
            demo = fresh_demo(Path(tmp))
            runs["limit: mloop run training --no-cache"].append(
                timed(
                    [python, "-m", "mloop", "run", "training", "--no-cache", *sample_params(demo)],
                    demo,
                )
            )
        with tempfile.TemporaryDirectory(prefix="bench-ci-") as tmp:
            demo = fresh_demo(Path(tmp))
            runs["mloop ci"].append(timed([python, "-m", "mloop", "ci", "--no-record"], demo))
    medians = {name: statistics.median(times) for name, times in runs.items()}
    limit = medians["limit: mloop run training --no-cache"]
    table = Table(
        title=f"mloop ci on examples/lending_club, median of {args.repeat} "
        f"(target < {TARGET_S:.0f} s)"
    )
    for column in ("command", "wall s", "ratio to limit", "within target"):
        table.add_column(column, justify="left" if column == "command" else "right")
    for name, seconds in medians.items():
        table.add_row(name, f"{seconds:.1f}", f"{seconds / limit:.2f}x", str(seconds < TARGET_S))
    Console().print(table)
    Console().print(
        f"checks beyond the smoke run: {medians['mloop ci'] - limit:+.1f} s ({os.cpu_count()} CPUs)"
    )


if __name__ == "__main__":
    main()
