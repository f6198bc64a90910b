"""The HTML report is self-contained (plotly.js inlined once, no external script) and shows the
overall and per-slice comparisons and the blessing's reasons."""

from __future__ import annotations

import re

import numpy as np

from mloop.evaluation import ValidationSpec, bless, evaluate_predictions, render_html


def test_report_is_offline_and_names_slices_and_reasons():
    rng = np.random.default_rng(0)
    y = rng.integers(0, 2, 300)
    region = rng.choice(["east", "west"], 300)
    base = evaluate_predictions(
        y,
        np.clip(y * 0.5 + rng.random(300) * 0.5, 0, 1),
        slices={"region": region},
        model="baseline-v1",
    )
    cand = evaluate_predictions(y, rng.random(300), slices={"region": region}, model="cand")
    verdict = bless(cand, ValidationSpec.from_dict({"tolerance": {"roc_auc": 0.0}}), base)
    page = render_html(cand, base, verdict)
    assert page.startswith("<!doctype html>")
    assert not re.search(r"<script[^>]+src=", page)  # nothing fetched from the network
    assert page.count("plotly.js v") == 1  # the library is inlined exactly once
    assert "roc_auc by region" in page and "Reliability diagram" in page
    assert "NOT BLESSED" in page and "baseline-v1" in page
