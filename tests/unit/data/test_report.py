"""The HTML report: one self-contained file (plotly.js inside, no network) with a chart per
feature, the reference drawn under the current data."""

from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np
import polars as pl

from mloop.data import compute_statistics, detect_drift, infer_schema, validate
from mloop.data.report import render_html, write_html


def _stats(seed: int, shift: float = 0.0):
    rng = np.random.default_rng(seed)
    return compute_statistics(
        pl.DataFrame({"x": rng.normal(shift, 1, 800), "c": rng.choice(["a", "b<script>"], 800)})
    )


def test_drift_report_is_self_contained_and_draws_both_sides(tmp_path: Path):
    ref, cur = _stats(1), _stats(2, shift=2.0)
    path = write_html(tmp_path / "r.html", cur, ref, detect_drift(ref, cur), title="t")
    page = path.read_text()
    assert "<script src=" not in page and "cdn" not in page.lower().split("<body>")[1]
    assert "Plotly.newPlot" in page and 1_000_000 < len(page) < 2_500_000  # plotly.js, gzipped
    plots = re.findall(r"var p=(\[.*?\]);Plotly", page)
    assert len(plots) == 2
    traces, layout = json.loads(plots[0])
    assert [t["name"] for t in traces] == ["reference", "current"]
    assert layout["title"]["text"] == "x"
    assert abs(sum(traces[0]["y"]) - 1) < 1e-6
    means = [np.average(t["x"], weights=t["y"]) for t in traces]
    assert means[1] - means[0] > 1.5  # the current histogram sits two units to the right
    assert "DRIFTED" in page or "drifted" in page
    assert "b<script>" not in page  # names and values are escaped


def test_statistics_and_anomalies_report():
    cur = _stats(3)
    schema = infer_schema(cur)
    schema["c"].vocabulary = ["a"]
    page = render_html(cur, anomalies=validate(cur, schema))
    assert "unseen_categories" in page and "1 errors, 0 warnings" in page
