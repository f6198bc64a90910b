"""Plotly figures as JSON specs (``{"data": [...], "layout": {...}}``) for the pages.

The browser draws them with the plotly.js of the installed ``plotly`` package, served by the UI
itself (``/static/plotly.min.js``), so the pages work offline. Building the dicts here, rather
than ``plotly.graph_objects``, keeps a page render to a few milliseconds.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

from mloop.metadata.entities import Execution, Metric, Run
from mloop.metadata.monitoring_records import MonitoringRecord

MAX_FIGURES = 24  # metric history plots per page
_LAYOUT = {
    "height": 260,
    "margin": {"l": 50, "r": 10, "t": 36, "b": 40},
    "font": {"size": 11},
    "legend": {"orientation": "h", "y": -0.25},
    "paper_bgcolor": "rgba(0,0,0,0)",
}


def _clean(values: Sequence[float | None]) -> list[float | None]:
    """NaN and infinities as gaps: JSON has no NaN."""
    return [None if v is None or not math.isfinite(v) else v for v in values]


def _title(text: str) -> dict[str, Any]:
    return {"text": text, "x": 0, "font": {"size": 13}}


def metric_history(
    runs: Sequence[Run], history: Mapping[str, Mapping[str, Sequence[Metric]]]
) -> list[dict[str, Any]]:
    """One figure per metric key: a line per run, value by step. A key logged once per run is
    a bar per run when there are several runs, and no figure for one run (its value is in the
    page's table)."""
    keys = sorted({k for rid in history for k in history[rid]})
    figures: list[dict[str, Any]] = []
    for key in keys:
        if len(figures) >= MAX_FIGURES:
            break
        longest = max(len(history.get(r.id, {}).get(key, [])) for r in runs)
        if longest <= 1:
            if len(runs) > 1:
                figures.append(_bars(key, runs, history))
            continue
        data = []
        for run in runs:
            values = history.get(run.id, {}).get(key, [])
            if not values:
                continue
            data.append(
                {
                    "type": "scatter",
                    "mode": "lines+markers" if len(values) > 1 else "markers",
                    "name": run.name or run.id[:10],
                    "x": [m.step for m in values],
                    "y": _clean([m.value for m in values]),
                }
            )
        layout = {**_LAYOUT, "title": _title(key), "xaxis": {"title": {"text": "step"}}}
        figures.append({"id": f"metric-{key}", "data": data, "layout": layout})
    return figures


def _bars(
    key: str, runs: Sequence[Run], history: Mapping[str, Mapping[str, Sequence[Metric]]]
) -> dict[str, Any]:
    """A key logged once per run: one bar per run."""
    values = [history.get(r.id, {}).get(key, []) for r in runs]
    data = [
        {
            "type": "bar",
            "x": [r.name or r.id[:10] for r in runs],
            "y": _clean([v[-1].value if v else None for v in values]),
            "text": [f"{v[-1].value:.4g}" if v else "" for v in values],
            "textposition": "auto",
            "marker": {"color": "#2457c5"},
        }
    ]
    layout = {**_LAYOUT, "height": 200, "title": _title(key), "showlegend": False}
    return {"id": f"metric-{key}", "data": data, "layout": layout}


def timeline(executions: Sequence[Execution]) -> dict[str, Any] | None:
    """A Gantt-like bar per step: when it started and how long it took (seconds)."""
    done = [e for e in executions if e.started_at and e.ended_at]
    if not done:
        return None
    t0 = min(e.started_at for e in done if e.started_at)
    names = [e.step_name for e in done]
    data = [
        {
            "type": "bar",
            "orientation": "h",
            "y": names,
            "base": [(e.started_at - t0).total_seconds() for e in done if e.started_at],
            "x": [
                max((e.ended_at - e.started_at).total_seconds(), 0.001)
                for e in done
                if e.started_at and e.ended_at
            ],
            "marker": {"color": [_STATE_COLOURS.get(e.state.value, "#888") for e in done]},
            "hovertemplate": "%{y}: %{x:.2f} s<extra></extra>",
        }
    ]
    layout = {
        **_LAYOUT,
        "height": 60 + 26 * len(done),
        "title": _title("step timings (seconds from the first start)"),
        "yaxis": {"autorange": "reversed", "automargin": True},
        "showlegend": False,
    }
    return {"id": "timeline", "data": data, "layout": layout}


_STATE_COLOURS = {
    "succeeded": "#2e7d32",
    "cached": "#0277bd",
    "failed": "#c62828",
    "running": "#f9a825",
    "skipped": "#9e9e9e",
    "abandoned": "#6d4c41",
    "pending": "#bdbdbd",
}


def monitoring(model: str, records: Sequence[MonitoringRecord]) -> dict[str, Any]:
    """Input drift share and prediction drift of a model's reports, by window end."""
    ordered = sorted(records, key=lambda r: r.window_end)
    x = [r.window_end.isoformat() for r in ordered]
    data: list[dict[str, Any]] = [
        {
            "type": "scatter",
            "mode": "lines+markers",
            "name": "share of features drifted",
            "x": x,
            "y": _clean([r.share_drifted for r in ordered]),
        },
        {
            "type": "scatter",
            "mode": "lines+markers",
            "name": "prediction drift score",
            "x": x,
            "y": _clean([r.prediction_drift for r in ordered]),
        },
    ]
    live = sorted(
        {k for r in ordered for k, v in (r.summary.get("metrics") or {}).items() if _is_num(v)}
    )
    for key in live[:4]:
        data.append(
            {
                "type": "scatter",
                "mode": "lines+markers",
                "name": f"live {key}",
                "x": x,
                "y": _clean([_num((r.summary.get("metrics") or {}).get(key)) for r in ordered]),
                "line": {"dash": "dot"},
            }
        )
    layout = {**_LAYOUT, "height": 300, "title": _title(f"{model}: drift over time")}
    return {"id": f"monitoring-{model}", "data": data, "layout": layout}


def _is_num(v: Any) -> bool:
    return isinstance(v, int | float) and not isinstance(v, bool)


def _num(v: Any) -> float | None:
    return float(v) if _is_num(v) else None


def slices(
    metric: str, columns: Mapping[str, Mapping[str, Mapping[int, float | None]]]
) -> list[dict[str, Any]]:
    """Per slice column, a grouped bar of ``metric`` per slice value, one bar per version."""
    figures: list[dict[str, Any]] = []
    for column, groups in sorted(columns.items()):
        keys = sorted(groups)
        versions = sorted({v for g in groups.values() for v in g}, reverse=True)
        data = [
            {
                "type": "bar",
                "name": f"v{v}",
                "x": keys,
                "y": _clean([groups[k].get(v) for k in keys]),
            }
            for v in versions
        ]
        layout = {**_LAYOUT, "barmode": "group", "title": _title(f"{metric} by {column}")}
        figures.append({"id": f"slice-{column}", "data": data, "layout": layout})
    return figures


def drift_scores(features: Sequence[Any]) -> dict[str, Any]:
    """Each feature's drift score beside its threshold (a DriftReport's verdicts)."""
    names = [f.name for f in features]
    data = [
        {
            "type": "bar",
            "name": "score",
            "x": names,
            "y": _clean([f.score for f in features]),
            "marker": {"color": ["#c62828" if f.drifted else "#2e7d32" for f in features]},
        },
        {
            "type": "scatter",
            "mode": "markers",
            "name": "threshold",
            "x": names,
            "y": _clean([f.threshold for f in features]),
            "marker": {"symbol": "line-ew-open", "size": 18, "color": "#333"},
        },
    ]
    layout = {
        **_LAYOUT,
        "height": 340,
        "title": _title("drift score per feature (red: drifted) and its threshold"),
        "legend": {"orientation": "h", "x": 1, "xanchor": "right", "y": 1.12},
        "xaxis": {"automargin": True, "tickangle": -45},
    }
    return {"id": "drift", "data": data, "layout": layout}
