"""The evaluation report as one self-contained HTML file (plotly.js embedded once, compressed; no
network):
overall metrics against the baseline, per-slice metrics side by side, the reliability diagram,
and the blessing checks with their reasons."""

from __future__ import annotations

import html
from typing import Any

from mloop._utils.plotly_page import figure_div, plotly_loader
from mloop.evaluation.blessing import Blessing
from mloop.evaluation.evaluation import Evaluation

__all__ = ["render_html"]

SLICE_METRICS = ("roc_auc", "accuracy", "rmse", "mae")  # plotted per slice when present


def render_html(
    candidate: Evaluation,
    baseline: Evaluation | None = None,
    blessing: Blessing | None = None,
    *,
    title: str = "mloop evaluation",
) -> str:
    """The report's HTML text (about 2 MB: plotly.js is inlined, compressed, so that it opens
    offline; see :mod:`mloop._utils.plotly_page`)."""
    import plotly.graph_objects as go

    figures: list[Any] = []
    names = sorted(candidate.metrics)
    overall = go.Figure()
    overall.add_bar(name="candidate", x=names, y=[candidate.metrics[m] for m in names])
    if baseline is not None:
        overall.add_bar(name="baseline", x=names, y=[baseline.metrics.get(m) for m in names])
    overall.update_layout(title="Overall metrics", barmode="group", height=380)
    figures.append(overall)
    for column, groups in sorted(candidate.slices.items()):
        keys = sorted(groups)
        for metric in SLICE_METRICS:
            if not any(metric in groups[k].get("metrics", {}) for k in keys):
                continue
            fig = go.Figure()
            fig.add_bar(
                name="candidate",
                x=keys,
                y=[groups[k]["metrics"].get(metric) for k in keys],
                text=[f"n={groups[k]['count']}" for k in keys],
            )
            if baseline is not None:
                fig.add_bar(
                    name="baseline",
                    x=keys,
                    y=[baseline.slice_metric(column, k, metric) for k in keys],
                )
            fig.update_layout(title=f"{metric} by {column}", barmode="group", height=380)
            figures.append(fig)
    if candidate.calibration:
        cal = go.Figure()
        cal.add_scatter(x=[0, 1], y=[0, 1], mode="lines", name="perfect", line={"dash": "dot"})
        cal.add_scatter(
            x=[b["mean_predicted"] for b in candidate.calibration],
            y=[b["observed_rate"] for b in candidate.calibration],
            mode="lines+markers",
            name="candidate",
        )
        if baseline is not None and baseline.calibration:
            cal.add_scatter(
                x=[b["mean_predicted"] for b in baseline.calibration],
                y=[b["observed_rate"] for b in baseline.calibration],
                mode="lines+markers",
                name="baseline",
            )
        cal.update_layout(
            title="Reliability diagram", xaxis_title="mean predicted", yaxis_title="observed"
        )
        figures.append(cal)
    parts = [plotly_loader(), *(figure_div(fig, f"figure-{i}") for i, fig in enumerate(figures))]
    return _page(title, candidate, baseline, blessing, parts)


def _page(
    title: str,
    candidate: Evaluation,
    baseline: Evaluation | None,
    blessing: Blessing | None,
    figures: list[str],
) -> str:
    esc = html.escape
    rows = "".join(
        f"<tr><td>{esc(m)}</td><td>{v:.4f}</td><td>"
        + ("" if baseline is None or m not in baseline.metrics else f"{baseline.metrics[m]:.4f}")
        + "</td></tr>"
        for m, v in sorted(candidate.metrics.items())
    )
    verdict = ""
    if blessing is not None:
        word = "BLESSED" if blessing.blessed else "NOT BLESSED"
        items = "".join(f"<li>{esc(r)}</li>" for r in blessing.reasons)
        verdict = f"<h2>{word}</h2><ul>{items}</ul><p>{len(blessing.checks)} checks.</p>"
    base = esc(baseline.model) if baseline is not None else "none"
    return (
        "<!doctype html><html><head><meta charset='utf-8'>"
        f"<title>{esc(title)}</title><style>body{{font-family:sans-serif;margin:2em}}"
        "table{border-collapse:collapse}td,th{border:1px solid #ccc;padding:4px 8px}</style>"
        f"</head><body><h1>{esc(title)}</h1><p>candidate: <code>{esc(candidate.model)}</code>; "
        f"baseline: <code>{base}</code>; {candidate.rows} rows</p>{verdict}"
        f"<table><tr><th>metric</th><th>candidate</th><th>baseline</th></tr>{rows}</table>"
        + "".join(figures)
        + "</body></html>"
    )
