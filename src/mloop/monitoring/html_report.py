"""The HTML monitoring report: drift and live performance over time, one self-contained file.

Plotly with its JavaScript inlined (no CDN), so the file opens offline. It is built from the
``monitoring_reports`` rows of a model, oldest window first, plus the per-feature verdicts of
the latest report.
"""

from __future__ import annotations

import html
from collections.abc import Sequence
from typing import Any

from mloop.metadata.monitoring_records import AlertRecord, MonitoringRecord
from mloop.monitoring.report import MonitoringReport

__all__ = ["render_html"]


def _figure_html(fig: Any, first: bool) -> str:
    return fig.to_html(full_html=False, include_plotlyjs=True if first else False)


def render_html(
    model: str,
    records: Sequence[MonitoringRecord],
    latest: MonitoringReport | None = None,
    alerts: Sequence[AlertRecord] = (),
) -> str:
    """The report page of ``model`` over ``records`` (any order; plotted by window end)."""
    import plotly.graph_objects as go
    from plotly.subplots import make_subplots

    rows = sorted(records, key=lambda r: r.window_end)
    ends = [r.window_end for r in rows]
    fig = make_subplots(
        rows=3,
        cols=1,
        shared_xaxes=True,
        subplot_titles=(
            "input drift (share of features drifted, 0-1)",
            "live metrics (labelled rows) and request error rate (0-1)",
            "latency per request (ms)",
        ),
        vertical_spacing=0.08,
    )
    fig.add_trace(
        go.Scatter(
            x=ends, y=[r.share_drifted for r in rows], name="share drifted", mode="lines+markers"
        ),
        row=1,
        col=1,
    )
    fig.add_trace(
        go.Scatter(
            x=ends,
            y=[r.prediction_drift for r in rows],
            name="prediction drift score",
            mode="lines+markers",
        ),
        row=1,
        col=1,
    )
    metric_names = sorted({k for r in rows for k in (r.summary.get("metrics") or {})})
    for name in metric_names:
        fig.add_trace(
            go.Scatter(
                x=ends,
                y=[(r.summary.get("metrics") or {}).get(name) for r in rows],
                name=name,
                mode="lines+markers",
            ),
            row=2,
            col=1,
        )
    for key, label in (("error_rate", "error rate"), ("server_error_rate", "5xx rate")):
        fig.add_trace(
            go.Scatter(
                x=ends,
                y=[r.summary.get(key) for r in rows],
                name=f"{label} (failed requests)",
                mode="lines+markers",
                line={"dash": "dot"},
            ),
            row=2,
            col=1,
        )
    for q in ("p50", "p99"):
        fig.add_trace(
            go.Scatter(
                x=ends,
                y=[(r.summary.get("latency_ms") or {}).get(q) for r in rows],
                name=f"latency {q}",
                mode="lines+markers",
            ),
            row=3,
            col=1,
        )
    fig.update_layout(height=900, title=f"monitoring of {model}", template="plotly_white")
    parts = [_figure_html(fig, True)]
    if latest is not None and latest.drift is not None:
        feats = latest.drift.features
        bar = go.Figure(
            go.Bar(
                x=[f.name for f in feats],
                y=[f.score for f in feats],
                marker_color=["crimson" if f.drifted else "steelblue" for f in feats],
                name="drift score",
            )
        )
        bar.add_trace(
            go.Scatter(
                x=[f.name for f in feats],
                y=[f.threshold for f in feats],
                mode="markers",
                name="threshold",
            )
        )
        bar.update_layout(
            title="latest window: drift score per feature (red: drifted)",
            template="plotly_white",
            height=400,
        )
        parts.append(_figure_html(bar, False))
    table = "".join(
        f"<tr><td>{html.escape(a.rule)}</td><td>{html.escape(a.state)}</td>"
        f"<td>{html.escape(a.severity)}</td><td>{a.opened_at:%Y-%m-%d %H:%M}</td>"
        f"<td>{html.escape(a.message)}</td></tr>"
        for a in alerts
    )
    esc = html.escape(model)
    return (
        "<!doctype html><html><head><meta charset='utf-8'>"
        f"<title>mloop monitoring: {esc}</title>"
        "<style>body{font-family:sans-serif;margin:2em}td,th{padding:4px 8px;"
        "border-bottom:1px solid #ddd;text-align:left}</style></head><body>"
        f"<h1>Monitoring: {esc}</h1><p>{len(rows)} report(s)</p>"
        + "".join(parts)
        + "<h2>Alerts</h2><table><tr><th>rule</th><th>state</th><th>severity</th>"
        f"<th>opened</th><th>message</th></tr>{table}</table></body></html>"
    )
