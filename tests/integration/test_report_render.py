"""The HTML reports carry plotly.js gzip-compressed; a real browser (headless Chromium) unpacks
it and draws every chart, from a file, offline."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import numpy as np
import polars as pl
import pytest

from mloop.data import compute_statistics, detect_drift
from mloop.data.report import write_html
from mloop.evaluation import evaluate_predictions, render_html

CHROMIUM = (
    shutil.which("chromium") or shutil.which("chromium-browser") or shutil.which("google-chrome")
)


def rendered_dom(page: Path) -> str:
    if CHROMIUM is None:
        pytest.skip("no Chromium on this machine")
    done = subprocess.run(
        [
            CHROMIUM,
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--virtual-time-budget=20000",
            "--dump-dom",
            page.resolve().as_uri(),
        ],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    return done.stdout


def test_the_evaluation_report_draws_its_charts(tmp_path: Path) -> None:
    rng = np.random.default_rng(0)
    y = rng.integers(0, 2, 300)
    region = rng.choice(["east", "west"], 300)
    candidate = evaluate_predictions(y, rng.random(300), slices={"region": region}, model="c")
    page = tmp_path / "evaluation.html"
    page.write_text(render_html(candidate), encoding="utf-8")
    dom = rendered_dom(page)
    charts = dom.count('class="mloop-chart')
    assert charts >= 3
    assert dom.count('class="main-svg"') >= charts  # plotly drew into every chart
    assert '<p style="color:#b00020">charts unavailable' not in dom


def test_the_data_report_draws_its_charts(tmp_path: Path) -> None:
    rng = np.random.default_rng(1)
    ref = compute_statistics(
        pl.DataFrame({"x": rng.normal(0, 1, 800), "c": rng.choice(["a", "b"], 800)})
    )
    cur = compute_statistics(
        pl.DataFrame({"x": rng.normal(1, 1, 800), "c": rng.choice(["a", "b"], 800)})
    )
    page = write_html(tmp_path / "drift.html", cur, ref, detect_drift(ref, cur))
    dom = rendered_dom(page)
    assert dom.count("js-plotly-plot") == 2
