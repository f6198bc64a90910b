"""The closed loop's reaction time: drift visible in the prediction log -> new version serving.

Each repetition runs ``mloop quickstart --loop`` (mloop.demo.loop) in a fresh folder:
the champion serves, drifted traffic arrives, monitoring reports it, the controller retrains, and
the service swaps. The table gives the median seconds of each stage, the end-to-end figure beside
its 60 s target, and failed requests (target 0). The limit reference, measured in the same run,
is the same training pipeline run directly in-process (the champion's training): the ratio of
the retrain stage to it is what the controller adds (event, subprocess start, store polling).

Run: python bench/bench_loop.py [--repeat 3] [--small]
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
from pathlib import Path

from rich.console import Console
from rich.table import Table

from mloop.demo.loop import run_loop_quickstart

TARGET_S = 60.0
STAGES = {
    "detect": "monitoring job: log window -> report (drift share)",
    "trigger": "controller tick: report -> drift trigger event",
    "retrain": "trigger -> run (subprocess) -> blessed, alias moved",
    "swap": "alias moved -> first answer from the new version",
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--small", action="store_true", help="One repetition.")
    args = parser.parse_args()
    repeat = 1 if args.small else max(1, args.repeat)
    results = []
    for i in range(repeat):
        with tempfile.TemporaryDirectory(prefix="mloop-bench-loop-") as tmp:
            results.append(run_loop_quickstart(Path(tmp) / "loop", echo=lambda _line: None))
        print(f"repetition {i + 1}/{repeat}: {results[-1].drift_to_serving_s:.2f} s")

    def med(values: list[float]) -> float:
        return statistics.median(values)

    table = Table(title=f"closed loop, median of {repeat} (seconds)")
    table.add_column("stage")
    table.add_column("what")
    table.add_column("median s", justify="right")
    table.add_column("ratio", justify="right")
    reference = med([r.stages["champion"] for r in results])
    table.add_row(
        "log",
        "drifted requests -> rows in the log (not counted)",
        f"{med([r.stages['log'] for r in results]):.2f}",
        "",
    )
    for stage, what in STAGES.items():
        value = med([r.stages.get(stage, 0.0) for r in results])
        ratio = f"{value / reference:.2f}x ref" if stage == "retrain" else ""
        table.add_row(stage, what, f"{value:.2f}", ratio)
    total = med([r.drift_to_serving_s for r in results])
    table.add_row(
        "[bold]drift -> serving[/]",
        "sum of the four stages",
        f"[bold]{total:.2f}[/]",
        f"{total / TARGET_S:.2f}x target {TARGET_S:.0f} s",
    )
    table.add_row(
        "limit reference", "the same pipeline run directly, in-process", f"{reference:.2f}", "1.00x"
    )
    table.add_row(
        "failed requests",
        "client-side, whole run (target 0)",
        str(sum(r.failed for r in results)),
        f"of {sum(r.requests for r in results)}",
    )
    Console().print(table)


if __name__ == "__main__":
    main()
