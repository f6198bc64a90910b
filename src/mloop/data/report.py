"""A self-contained HTML report of statistics, drift and anomalies (works offline).

plotly.js is copied into the page, gzip-compressed, from the installed ``plotly`` package (the
``report`` extra), so the file opens without a network (:mod:`mloop._utils.plotly_page`). Each
feature gets a row in the summary table and a chart of its distribution: the current data over
the reference, as shares of rows per bin (numbers, on common equal-width bins) or per value (the
20 most frequent categories).
"""

from __future__ import annotations

import html
import json
import math
from pathlib import Path
from typing import Any

from mloop.data.drift import DriftReport
from mloop.data.types import CATEGORICAL, NUMERIC, FeatureStatistics, Statistics
from mloop.data.validation import Anomalies
from mloop.errors import ConfigError

__all__ = ["render_html", "write_html"]

_BINS = 30  # bins of a numeric chart
_TOP = 20  # categories in a categorical chart
_REFERENCE, _CURRENT = "#8c8c8c", "#1f77b4"


def _plotly_js() -> str:
    """The compressed plotly.js and its loader (:mod:`mloop._utils.plotly_page`)."""
    try:
        from mloop._utils.plotly_page import plotly_loader

        return plotly_loader()
    except ImportError:
        raise ConfigError(
            "HTML reports embed plotly.js from the 'plotly' package; install it with "
            "pip install 'mloop[report]'"
        ) from None


def _fmt(x: Any) -> str:
    if x is None:
        return "—"
    if isinstance(x, float):
        return "—" if math.isnan(x) else f"{x:.4g}"
    return html.escape(str(x))


def _numeric_traces(
    name: str, cur: FeatureStatistics, ref: FeatureStatistics | None
) -> list[dict[str, Any]]:
    sides = [
        (s, label)
        for s, label in ((ref, "reference"), (cur, "current"))
        if s is not None and s.numeric is not None and s.numeric.count
    ]
    if not sides:
        return []
    lo = min(s.numeric.min for s, _ in sides)  # type: ignore[union-attr]
    hi = max(s.numeric.max for s, _ in sides)  # type: ignore[union-attr]
    if hi <= lo:
        hi = lo + 1.0
    step = (hi - lo) / _BINS
    edges = [lo + i * step for i in range(_BINS)] + [hi]
    centers = [(edges[i] + edges[i + 1]) / 2 for i in range(_BINS)]
    traces = []
    for side, label in sides:
        assert side.numeric is not None
        counts = side.numeric.sketch.histogram(edges)
        total = max(float(counts.sum()), 1.0)
        traces.append(
            {
                "type": "bar",
                "name": label,
                "x": centers,
                "y": [float(c) / total for c in counts],
                "marker": {"color": _REFERENCE if label == "reference" else _CURRENT},
                "opacity": 0.6 if label == "reference" else 0.75,
                "width": step,
            }
        )
    return traces


def _categorical_traces(
    cur: FeatureStatistics, ref: FeatureStatistics | None
) -> list[dict[str, Any]]:
    assert cur.categorical is not None
    order = [k for k, _ in cur.categorical.top(_TOP)]
    if ref is not None and ref.categorical is not None:
        order += [k for k, _ in ref.categorical.top(_TOP) if k not in order]
    order = order[: 2 * _TOP]
    traces = []
    for side, label in ((ref, "reference"), (cur, "current")):
        if side is None or side.categorical is None:
            continue
        total = max(side.categorical.count, 1)
        traces.append(
            {
                "type": "bar",
                "name": label,
                "x": order,
                "y": [side.categorical.frequencies.get(k, 0) / total for k in order],
                "marker": {"color": _REFERENCE if label == "reference" else _CURRENT},
            }
        )
    return traces


def _feature_row(f: FeatureStatistics, verdict: Any, anomalies: list[Any]) -> str:
    cells = [
        f"<td><a href='#f-{html.escape(f.name)}'>{html.escape(f.name)}</a></td>",
        f"<td>{html.escape(f.kind)}</td>",
        f"<td>{html.escape(f.dtype)}</td>",
        f"<td>{f.count}</td>",
        f"<td>{(1 - f.presence):.2%}</td>",
        f"<td>{_fmt(f.distinct)}</td>",
    ]
    if f.numeric is not None:
        n = f.numeric
        detail = (
            f"mean {_fmt(n.mean)}, std {_fmt(n.std)}, min {_fmt(n.min)}, "
            f"median {_fmt(n.quantiles['q0.5'])}, max {_fmt(n.max)}, zeros {n.zeros}"
        )
    elif f.categorical is not None:
        detail = ", ".join(f"{html.escape(k)} ({c})" for k, c in f.categorical.top(3))
    elif f.datetime is not None:
        detail = f"{f.datetime.iso(f.datetime.min_us)} … {f.datetime.iso(f.datetime.max_us)}"
    else:
        detail = ""
    cells.append(f"<td>{detail}</td>")
    if verdict is not None:
        css = "bad" if verdict.drifted else "ok"
        cells.append(
            f"<td class='{css}'>{html.escape(verdict.status)}</td>"
            f"<td>{html.escape(verdict.method)}</td>"
            f"<td>{_fmt(verdict.score)}</td><td>{_fmt(verdict.threshold)}</td>"
            f"<td>{html.escape(verdict.summary)}</td>"
        )
    if anomalies:
        text = "<br>".join(
            f"<b>{html.escape(a.severity)}</b> {html.escape(a.kind)}: {html.escape(a.reason)}"
            for a in anomalies
        )
        cells.append(f"<td class='bad'>{text}</td>")
    elif verdict is None:
        cells.append("<td></td>")
    return "<tr>" + "".join(cells) + "</tr>"


def render_html(
    current: Statistics,
    reference: Statistics | None = None,
    drift: DriftReport | None = None,
    anomalies: Anomalies | None = None,
    *,
    title: str = "mloop data report",
) -> str:
    """The report as one HTML string (about 2 MB: it carries plotly.js, compressed)."""
    verdicts = {v.name: v for v in drift.features} if drift is not None else {}
    header = "<tr>" + "".join(
        f"<th>{h}</th>" for h in ("feature", "kind", "dtype", "rows", "null", "distinct", "summary")
    )
    header += (
        "<th>drift</th><th>method</th><th>score</th><th>threshold</th><th>change</th></tr>"
        if drift
        else "<th>anomalies</th></tr>"
    )
    rows, charts, scripts = [], [], []
    for i, (name, f) in enumerate(current.features.items()):
        found = anomalies.for_column(name) if anomalies is not None else []
        rows.append(_feature_row(f, verdicts.get(name), found))
        ref = reference.features.get(name) if reference is not None else None
        if ref is not None and ref.kind != f.kind:
            ref = None
        if f.kind == NUMERIC:
            traces = _numeric_traces(name, f, ref)
        elif f.kind == CATEGORICAL and f.categorical is not None:
            traces = _categorical_traces(f, ref)
        else:
            traces = []
        if not traces:
            continue
        layout = {
            "title": {"text": name},
            "barmode": "overlay" if f.kind == NUMERIC else "group",
            "height": 280,
            "margin": {"l": 50, "r": 10, "t": 40, "b": 60},
            "yaxis": {"tickformat": ".0%", "title": {"text": "share of rows"}},
        }
        charts.append(f"<div class='chart' id='f-{html.escape(name)}'><div id='c{i}'></div></div>")
        payload = json.dumps([traces, layout]).replace("<", "\\u003c")  # no tag can close
        scripts.append(
            f"(function(){{var p={payload};Plotly.newPlot('c{i}',p[0],p[1],"
            "{displayModeBar:false,responsive:true});})();"
        )
    verdict_line = ""
    if drift is not None:
        verdict = "DRIFTED" if drift.dataset_drifted else "no dataset drift"
        verdict_line = (
            f"<p class='{'bad' if drift.dataset_drifted else 'ok'}'><b>{verdict}</b>: "
            f"{len(drift.drifted_features)} of {len(drift.judged)} features drifted "
            f"({drift.share_drifted:.0%}; dataset threshold {drift.share_threshold:.0%})</p>"
        )
    if anomalies is not None:
        verdict_line += (
            f"<p class='{'bad' if anomalies.blocking else 'ok'}'>"
            f"<b>{len(anomalies.errors)} errors, "
            f"{len(anomalies.warnings)} warnings</b></p>"
        )
    dataset_rows = [
        a
        for a in (anomalies.items if anomalies is not None else [])
        if a.column is None or a.column not in current.features
    ]
    extra = "".join(
        f"<li><b>{html.escape(a.severity)}</b> {html.escape(str(a.column))} "
        f"{html.escape(a.kind)}: {html.escape(a.reason)}</li>"
        for a in dataset_rows
    )
    sizes = f"current: {current.num_rows} rows, {len(current.features)} columns"
    if reference is not None:
        sizes = f"reference: {reference.num_rows} rows; " + sizes
    return _PAGE.format(
        title=html.escape(title),
        sizes=sizes,
        verdict=verdict_line,
        extra=f"<ul>{extra}</ul>" if extra else "",
        header=header,
        rows="\n".join(rows),
        charts="\n".join(charts),
        plotly=_plotly_js(),
        scripts="\n".join(scripts),
    )


def write_html(path: str | Path, *args: Any, **kwargs: Any) -> Path:
    """Write :func:`render_html` to ``path``; returns the path."""
    target = Path(path)
    target.write_text(render_html(*args, **kwargs), encoding="utf-8")
    return target


_PAGE = """<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>{title}</title>
<style>
body{{font-family:system-ui,sans-serif;margin:24px;color:#222}}
table{{border-collapse:collapse;font-size:13px}}
td,th{{border:1px solid #ddd;padding:4px 6px;vertical-align:top;text-align:left}}
th{{background:#f4f4f4}}
.bad{{color:#b00020}} .ok{{color:#1b7a1b}} .chart{{display:inline-block;width:48%;min-width:380px}}
</style>
{plotly}</head>
<body><h1>{title}</h1><p>{sizes}</p>{verdict}{extra}
<table>{header}
{rows}
</table>
<h2>Distributions (current over reference)</h2>
{charts}
<script>window.mloopPlotly.then(function (Plotly) {{
{scripts}
}});</script>
</body></html>
"""
