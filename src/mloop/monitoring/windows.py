"""Reading windows of the prediction log and the feedback labels that arrived for them.

The serving layer writes ``<log_dir>/predictions/<model>/date=YYYY-MM-DD/hour=HH/part-*.parquet``,
``<log_dir>/feedback/<model>/...`` and, for failed requests, ``<log_dir>/errors/<model>/...``
(see docs/serving.md). Only the hour folders that overlap a
window are scanned, so the cost of a job follows the window, not the age of the log.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

from mloop.errors import ValidationError

__all__ = [
    "META_COLUMNS",
    "LogWindow",
    "input_columns",
    "parse_duration",
    "prediction_frame",
    "read_errors",
    "read_feedback",
    "read_predictions",
    "safe_name",
    "window_files",
    "window_outputs",
]

META_COLUMNS = ("request_id", "row", "timestamp", "model", "version", "route", "latency_ms")
OUTPUT_COLUMNS = ("prediction", "prediction_proba")
_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(s|m|h|d|w)\s*$")
_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}


def parse_duration(value: str | float | timedelta) -> timedelta:
    """``"90s"``, ``"15m"``, ``"1h"``, ``"2d"``, ``"1w"`` or seconds as a number."""
    if isinstance(value, timedelta):
        seconds = value.total_seconds()
    elif isinstance(value, (int, float)) and not isinstance(value, bool):
        seconds = float(value)
    else:
        match = _DURATION.match(str(value))
        if not match:
            raise ValidationError(
                f"duration {value!r} is not valid; write a number and a unit: 90s, 15m, 1h, 2d, 1w"
            )
        seconds = float(match.group(1)) * _UNITS[match.group(2)]
    if seconds <= 0:
        raise ValidationError(f"duration {value!r} must be positive")
    return timedelta(seconds=seconds)


@dataclass(frozen=True)
class LogWindow:
    """The half-open interval ``[start, end)`` of one model's log (aware UTC datetimes)."""

    model: str
    start: datetime
    end: datetime

    @classmethod
    def ending(cls, model: str, length: timedelta, end: datetime | None = None) -> LogWindow:
        stop = (end or datetime.now(timezone.utc)).astimezone(timezone.utc)
        return cls(model, stop - length, stop)

    def previous(self) -> LogWindow:
        """The window of the same length just before this one."""
        return LogWindow(self.model, self.start - (self.end - self.start), self.start)


def safe_name(name: str) -> str:
    """A model's folder name in the log (the serving log writer's rule)."""
    return "".join(c if c.isalnum() or c in "-_." else "_" for c in name) or "model"


def _hour_files(root: Path, start: datetime, end: datetime | None) -> list[Path]:
    """Parquet files of the hour folders overlapping ``[start, end)`` (``end`` None: open)."""
    if not root.is_dir():
        return []
    first = start.replace(minute=0, second=0, microsecond=0)
    files: list[Path] = []
    for day in sorted(root.glob("date=*")):
        for hour in sorted(day.glob("hour=*")):
            try:
                at = datetime.strptime(f"{day.name[5:]} {hour.name[5:]}", "%Y-%m-%d %H").replace(
                    tzinfo=timezone.utc
                )
            except ValueError:
                continue
            if at >= first and (end is None or at < end):
                files.extend(sorted(hour.glob("part-*.parquet")))
    return files


def window_files(log_dir: str | Path, kind: str, window: LogWindow) -> list[Path]:
    """The Parquet files of ``kind`` (``predictions``, ``errors``) whose hour folders overlap
    ``window``, in path order (the order every reader concatenates them in)."""
    return _hour_files(Path(log_dir) / kind / safe_name(window.model), window.start, window.end)


def scan_files(files: list[Path]) -> Any:
    """One Polars LazyFrame over ``files`` (columns unioned, types widened), in their order."""
    return _scan(files)


def _scan(files: list[Path]) -> Any:
    import polars as pl

    frames = [pl.scan_parquet(f) for f in files]
    return pl.concat(frames, how="diagonal_relaxed") if len(frames) > 1 else frames[0]


def read_predictions(log_dir: str | Path, window: LogWindow) -> Any:
    """The logged rows of ``window`` as a Polars DataFrame (empty, no columns, if none)."""
    import polars as pl

    files = _hour_files(
        Path(log_dir) / "predictions" / safe_name(window.model), window.start, window.end
    )
    if not files:
        return pl.DataFrame()
    ts = pl.col("timestamp")
    return _scan(files).filter((ts >= window.start) & (ts < window.end)).collect()


def read_errors(log_dir: str | Path, window: LogWindow) -> Any:
    """The failed requests of ``window`` (one row each: ``request_id``, ``version``, ``status``,
    ``error_code``...), empty with no columns if none."""
    import polars as pl

    files = _hour_files(
        Path(log_dir) / "errors" / safe_name(window.model), window.start, window.end
    )
    if not files:
        return pl.DataFrame()
    ts = pl.col("timestamp")
    return _scan(files).filter((ts >= window.start) & (ts < window.end)).collect()


def read_feedback(log_dir: str | Path, window: LogWindow) -> Any:
    """Labels sent from the window's start onwards (feedback arrives after predictions)."""
    import polars as pl

    files = _hour_files(Path(log_dir) / "feedback" / safe_name(window.model), window.start, None)
    if not files:
        return pl.DataFrame()
    frame = _scan(files).select("request_id", "row", "label").collect()
    # the last label sent for a row wins
    return frame.unique(subset=["request_id", "row"], keep="last", maintain_order=True)


def input_columns(frame: Any) -> list[str]:
    """The model-input columns of a prediction-log frame (the ones that are not metadata)."""
    return [c for c in frame.columns if c not in META_COLUMNS and c not in OUTPUT_COLUMNS]


def prediction_frame(predictions: Any, proba: Any = None) -> Any:
    """The outputs as a frame: ``prediction`` and, with probabilities, ``score`` (the positive
    class's probability for two classes, else the top probability). Statistics of this frame
    are what prediction drift compares."""
    import numpy as np
    import polars as pl

    columns: dict[str, Any] = {"prediction": np.asarray(predictions)}
    if proba is not None:
        p = np.asarray(proba, dtype=np.float64)
        if p.ndim == 2 and p.shape[1] > 0:
            columns["score"] = p[:, 1] if p.shape[1] == 2 else p.max(axis=1)
    return pl.DataFrame(columns)


def window_outputs(frame: Any) -> Any:
    """:func:`prediction_frame` of a prediction-log frame."""

    proba = None
    if "prediction_proba" in frame.columns and frame["prediction_proba"].null_count() == 0:
        lists = frame["prediction_proba"]
        widths = lists.list.len()
        if len(lists) and widths.min() == widths.max() and widths.min() > 0:
            proba = lists.list.to_array(int(widths.min())).to_numpy()
    return prediction_frame(frame["prediction"].to_numpy(), proba)
