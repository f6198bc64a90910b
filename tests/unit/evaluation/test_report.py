"""The HTML report is self-contained (plotly.js inlined once, no external script) and shows the
overall and per-slice comparisons and the blessing's reasons."""

from __future__ import annotations

import base64
import gzip
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
    assert page.count('id="mloop-plotly-gz"') == 1  # the library is inlined exactly once
    assert "plotly.js v" in unpacked_plotly(page)  # gzip-compressed: the page is 2 MB, not 4.9
    assert len(page) < 2_500_000
    assert "roc_auc by region" in page and "Reliability diagram" in page
    assert "NOT BLESSED" in page and "baseline-v1" in page


def unpacked_plotly(page: str) -> str:
    """The plotly.js a report carries, as the page's loader unpacks it (base64 of gzip)."""
    match = re.search(
        r'<script type="application/octet-stream" id="mloop-plotly-gz">(.*?)</script>', page, re.S
    )
    assert match is not None
    return gzip.decompress(base64.b64decode(match[1])).decode("utf-8")
