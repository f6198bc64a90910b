"""``mloop loadtest`` beside ``wrk`` (the limit reference: a C load generator) on the same
prediction service: the same model, request body, connections, duration and service workers.

Target (issue 11): the QPS ``mloop loadtest`` reports is within 10 % of what wrk reports. On a
small machine both clients share the cores with the service, so the ratio also shows how much
CPU the Python client takes from the service. The runs alternate in ABBA order (wrk, ours,
ours, wrk, wrk, ours, ...) so that a drift of the machine's load hits both alike; the table
gives medians over ``--repeat`` pairs, every run's QPS, the median of the pair ratios, each
client's CPU per request and the load average before and after. wrk is skipped (with a note)
when it is not installed (``apt-get install wrk``). ``--client httpx`` (the in-process
cross-check) is measured once, for information.

Run: python bench/bench_loadtest.py [--duration 3] [--concurrency 8] [--rows 1] [--repeat 6]
     [--workers 1]
"""

from __future__ import annotations

import argparse
import os
import re
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pandas as pd
from rich.console import Console
from rich.table import Table

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))

from mloop.cicd.loadtest.run import example_payload, run_load  # noqa: E402
from mloop.cicd.service_process import served  # noqa: E402
from mloop.models import open_package, save_model  # noqa: E402

TARGET_RATIO = 0.9


def make_package(folder: Path) -> Path:
    """A scikit-learn pipeline (one-hot + logistic regression) on synthetic rows."""
    from sklearn.compose import make_column_transformer
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import OneHotEncoder, StandardScaler

    rng = np.random.default_rng(0)
    n = 2000
    x = pd.DataFrame(
        {
            "income": rng.normal(50, 10, n),
            "age": rng.normal(40, 12, n),
            "city": rng.choice(["paris", "lyon", "nice"], n).astype(object),
        }
    )
    y = (x["income"] > 50).astype(int)
    model = make_pipeline(
        make_column_transformer((StandardScaler(), ["income", "age"]), (OneHotEncoder(), ["city"])),
        LogisticRegression(),
    ).fit(x, y)
    return save_model(model, folder / "model", input_example=x.head(20)).path


def service_pids(url: str) -> list[int]:
    """The processes listening on ``url``'s port (the service), from ``ss -ltnp``."""
    port = url.rsplit(":", 1)[1]
    out = subprocess.run(
        ["ss", "-ltnpH", f"sport = :{port}"], capture_output=True, text=True, check=False
    ).stdout
    return sorted({int(pid) for pid in re.findall(r"pid=(\d+)", out)})


def service_cpu_s(pids: list[int]) -> float:
    """User+system CPU seconds the service's processes have used so far (``/proc``)."""
    total = 0.0
    for pid in pids:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        total += (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    return total


def measured(run: Callable[[], dict | None], pids: list[int]) -> dict | None:
    """``run()`` with the cores the service used over it (CPU s per s of the whole call: for
    mloop that includes its processes' start and the warm-up)."""
    before, start = service_cpu_s(pids), time.monotonic()
    found = run()
    if found is None:
        return None
    used, wall = service_cpu_s(pids) - before, time.monotonic() - start
    found["service_cores"] = used / wall
    return found


def _cpu_s(who: int) -> float:
    usage = resource.getrusage(who)
    return usage.ru_utime + usage.ru_stime


def mloop_qps(url: str, body: bytes, args: argparse.Namespace, client: str) -> dict:
    """``mloop loadtest``'s measurement (the function the command calls, in this process so
    that the client's CPU is measurable: its worker processes, or this process for httpx)."""
    found = run_load(
        url,
        body,
        duration_s=args.duration,
        concurrency=args.concurrency,
        rows=args.rows,
        client=client,
    ).to_dict()
    found["cpu_us_per_request"] = found["client_cpu_s"] / max(found["requests"], 1) * 1e6
    return found


def wrk_qps(url: str, body: bytes, args: argparse.Namespace, tmp: Path) -> dict | None:
    if shutil.which("wrk") is None:
        return None
    (tmp / "body.json").write_bytes(body)
    script = tmp / "post.lua"
    script.write_text(
        'wrk.method = "POST"\n'
        'wrk.headers["Content-Type"] = "application/json"\n'
        f'local f = io.open("{tmp / "body.json"}", "rb")\n'
        "wrk.body = f:read('*a')\nf:close()\n",
        encoding="utf-8",
    )
    argv = ["wrk", "-t", str(min(2, args.concurrency)), "-c", str(args.concurrency)]
    argv += ["-d", f"{args.duration:g}s", "--latency", "-s", str(script), f"{url}/invocations"]
    before = _cpu_s(resource.RUSAGE_CHILDREN)
    text = subprocess.run(argv, capture_output=True, text=True, check=True).stdout
    cpu_s = _cpu_s(resource.RUSAGE_CHILDREN) - before
    total = re.search(r"(\d+) requests in", text)
    qps = float(re.search(r"Requests/sec:\s+([\d.]+)", text).group(1))  # type: ignore[union-attr]
    non_2xx = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", text)
    p50 = re.search(r"50%\s+([\d.]+)(us|ms|s)", text)
    p99 = re.search(r"99%\s+([\d.]+)(us|ms|s)", text)

    def ms(match: re.Match[str] | None) -> float | None:
        if match is None:
            return None
        return float(match.group(1)) * {"us": 0.001, "ms": 1.0, "s": 1000.0}[match.group(2)]

    return {
        "qps": qps,
        "p50_ms": ms(p50),
        "p99_ms": ms(p99),
        "errors": int(non_2xx.group(1)) if non_2xx else 0,
        "cpu_us_per_request": cpu_s / max(int(total.group(1)) if total else 1, 1) * 1e6,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--duration", type=float, default=3.0)
    parser.add_argument("--concurrency", type=int, default=8)
    parser.add_argument("--rows", type=int, default=1)
    parser.add_argument("--repeat", type=int, default=6, help="alternating wrk/mloop pairs")
    parser.add_argument("--workers", type=int, default=1, help="service worker processes")
    args = parser.parse_args()
    console = Console(width=170)
    load_before = os.getloadavg()
    refs: list[dict] = []
    ours: list[dict] = []
    with tempfile.TemporaryDirectory(prefix="bench-loadtest-") as name:
        tmp = Path(name)
        package = make_package(tmp)
        body = example_payload(open_package(package).input_example(), args.rows)
        with served(str(package), tmp, workers=args.workers) as url:
            run_load(url, body, duration_s=1.0, concurrency=args.concurrency, rows=args.rows)
            pids = service_pids(url)
            for i in range(args.repeat):  # ABBA: wrk, ours, ours, wrk, ... (drift cancels)
                for who in ("wrk", "ours") if i % 2 == 0 else ("ours", "wrk"):
                    if who == "ours":
                        ours.append(measured(lambda: mloop_qps(url, body, args, "raw"), pids))
                    elif (ref := measured(lambda: wrk_qps(url, body, args, tmp), pids)) is not None:
                        refs.append(ref)
            httpx_once = measured(lambda: mloop_qps(url, body, args, "httpx"), pids)
    load_after = os.getloadavg()
    table = Table(
        title=f"loadtest vs wrk: {args.concurrency} connections, {args.rows} row(s) per request, "
        f"{args.duration:g} s, {args.workers} service worker(s); medians of {args.repeat} "
        "alternating runs (target: within 10 %)"
    )
    columns = (
        "client",
        "QPS",
        "QPS runs",
        "p50 ms",
        "p99 ms",
        "errors",
        "client CPU",
        "service cores",
        "ratio",
    )
    for column in columns:
        table.add_column(column, justify="left" if column == "client" else "right")

    def median(rows: list[dict], key: str) -> float:
        return float(np.median([r[key] for r in rows]))

    ref_qps = median(refs, "qps") if refs else None
    if ref_qps is None:
        console.print("[yellow]wrk is not installed (apt-get install wrk): no reference[/]")
    else:
        table.add_row(
            f"limit: wrk -t {min(2, args.concurrency)} -c {args.concurrency}",
            f"{ref_qps:.1f}",
            " ".join(f"{r['qps']:.0f}" for r in refs),
            f"{median(refs, 'p50_ms'):.2f}",
            f"{median(refs, 'p99_ms'):.2f}",
            str(sum(r["errors"] for r in refs)),
            f"{median(refs, 'cpu_us_per_request'):.0f} us/req",
            f"{median(refs, 'service_cores'):.2f}",
            "1.00",
        )
    for label, rows in (
        ("mloop loadtest (default)", ours),
        ("--client httpx (once)", [httpx_once]),
    ):
        qps = median(rows, "qps")
        table.add_row(
            label,
            f"{qps:.1f}",
            " ".join(f"{r['qps']:.0f}" for r in rows),
            f"{median(rows, 'p50_ms'):.2f}",
            f"{median(rows, 'p99_ms'):.2f}",
            str(sum(r["errors"] for r in rows)),
            f"{median(rows, 'cpu_us_per_request'):.0f} us/req",
            f"{median(rows, 'service_cores'):.2f}",
            "—" if ref_qps is None else f"{qps / ref_qps:.2f}",
        )
    console.print(table)
    if ref_qps is not None:
        ratio = median(ours, "qps") / ref_qps
        pairs = [o["qps"] / r["qps"] for o, r in zip(ours, refs, strict=True)]
        within = abs(ratio - 1.0) <= 1.0 - TARGET_RATIO
        console.print(
            f"default client within 10 % of wrk: {within} (ratio of medians {ratio:.3f}; "
            f"median of the {len(pairs)} pair ratios {float(np.median(pairs)):.3f}: "
            + " ".join(f"{p:.2f}" for p in pairs)
            + ")"
        )
    console.print(
        f"({os.cpu_count()} CPUs; load average {load_before[0]:.2f} before, "
        f"{load_after[0]:.2f} after; client CPU: the load generator's user+system time per "
        "request; wrk's includes its start, mloop's is measured while loading; service cores: "
        "the service's CPU seconds per second of the whole call, all its processes)"
    )


if __name__ == "__main__":
    main()
