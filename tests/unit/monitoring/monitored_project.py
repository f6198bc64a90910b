"""The monitored project of the monitoring tests: scikit-learn models saved with mloop.models,
registered with their training data (lineage), and prediction logs written by mloop.serving's
own log writer."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

FEATURES = ("income", "age", "city")


def make_frame(n: int, seed: int, *, shift: float = 0.0) -> tuple[pd.DataFrame, np.ndarray]:
    """Inputs and 0/1 labels; ``shift`` moves income and age by that many standard deviations."""
    rng = np.random.default_rng(seed)
    frame = pd.DataFrame(
        {
            "income": rng.normal(50.0 + 10.0 * shift, 10.0, n),
            "age": rng.normal(40.0 + 12.0 * shift, 12.0, n),
            "city": rng.choice(["paris", "lyon", "nice"], n).astype(object),
        }
    )
    labels = ((frame["income"] - 50.0) / 10.0 + (frame["age"] - 40.0) / 24.0 > 0).astype(int)
    return frame, labels.to_numpy()


def _fit(kind: str, frame: pd.DataFrame, labels: np.ndarray) -> Any:
    """``good``: logistic regression; ``constant``: always 0; ``strict``: logistic regression
    whose encoder raises on an unknown city."""
    from sklearn.compose import ColumnTransformer
    from sklearn.dummy import DummyClassifier
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import OneHotEncoder, StandardScaler

    prep = ColumnTransformer(
        [
            ("num", StandardScaler(), ["income", "age"]),
            # "strict" refuses a city it did not see in training (predict raises ValueError)
            (
                "cat",
                OneHotEncoder(handle_unknown="error" if kind == "strict" else "ignore"),
                ["city"],
            ),
        ]
    )
    clf = (
        DummyClassifier(strategy="constant", constant=0)
        if kind == "constant"
        else LogisticRegression()
    )
    return Pipeline([("prep", prep), ("clf", clf)]).fit(frame, labels)


@dataclass
class Project:
    root: Path
    model: str = "credit"

    @property
    def log_dir(self) -> Path:
        return self.root / ".mloop"

    def store(self) -> Any:
        from mloop.config import load_settings
        from mloop.metadata import connect

        return connect(load_settings().metadata_url)

    def register(
        self,
        kind: str = "good",
        *,
        with_data: bool = True,
        with_statistics: bool = False,
        alias: bool = True,
    ) -> int:
        """Train, log the training data as a Dataset artifact, save, register; returns the
        version (moved to ``production`` when ``alias``)."""
        import mloop
        import mloop.models
        from mloop import registry

        frame, labels = make_frame(600, seed=1)
        model = _fit(kind, frame, labels)
        work = self.root / f"work-{uuid.uuid4().hex[:8]}"
        with mloop.start_run("training") as run:
            data_id = None
            if with_data:
                (work / "data").mkdir(parents=True)
                frame.assign(label=labels).to_parquet(work / "data" / "data.parquet")
                data_id = mloop.log_artifact(
                    work / "data", "train", artifact_type="Dataset", materializer="pandas.parquet"
                ).id
            if with_statistics:  # as the statistics step of a training pipeline records it
                from mloop.data import compute_statistics

                (work / "stats").mkdir(parents=True)
                stats = compute_statistics(frame)
                (work / "stats" / "statistics.json").write_text(stats.to_json())
                mloop.log_artifact(work / "stats", "statistics", artifact_type="Statistics")
            mloop.models.save_model(model, work / "pkg", input_example=frame.head(5))
            version = registry.register_model(
                self.model, work / "pkg", run=run, data_artifact_id=data_id
            )
        if alias:
            registry.set_alias(self.model, "production", version.version, reason="test")
        return version.version

    def serve(
        self,
        version: int,
        *,
        rows: int = 400,
        at: datetime | None = None,
        shift: float = 0.0,
        seed: int = 7,
        latency_ms: float = 5.0,
        feedback: float = 0.0,
        request_rows: int = 4,
        route: str = "champion",
        request_ids: list[str] | None = None,
        nulls: float = 0.0,
    ) -> list[str]:
        """Predict ``rows`` rows with ``version`` and log them as the service does, at ``at``
        (default now - 5 min); send labels for a ``feedback`` share of the requests. ``route``
        and ``request_ids`` log a canary or a shadow (a shadow repeats the champion's ids);
        ``nulls``: that share of the logged incomes is NaN and of the cities null (the
        predictions are made on the full rows)."""
        import mloop.models
        from mloop.serving.logs.feedback import FeedbackRecord, feedback_rows
        from mloop.serving.logs.prediction_log import ParquetLog, PredictionRecord, prediction_rows

        when = (at or datetime.now(timezone.utc) - timedelta(minutes=5)).timestamp()
        pkg = self.store().model_registry().get_version(self.model, version)
        from mloop.artifacts import connect as connect_artifacts
        from mloop.config import load_settings

        with connect_artifacts(load_settings().artifact_root).open_local(pkg.uri) as folder:
            loaded = mloop.models.load_model(folder)
        frame, labels = make_frame(rows, seed=seed, shift=shift)
        predictions = loaded.predict(frame)
        proba = loaded.predict_proba(frame)
        if nulls:
            holes = np.random.default_rng(seed).random(rows) < nulls
            frame = frame.assign(
                income=frame["income"].mask(holes), city=frame["city"].mask(holes, None)
            )
        log = ParquetLog(  # wired as mloop.serving's service wires it
            self.log_dir / "predictions", lambda r: (r.model, r.timestamp, prediction_rows(r))
        )
        fb = ParquetLog(self.log_dir / "feedback", feedback_rows)
        ids, sent = [], 0
        for i, start in enumerate(range(0, rows, request_rows)):
            rid = request_ids[i] if request_ids else f"r{seed}-{i}-{uuid.uuid4().hex[:6]}"
            part = slice(start, start + request_rows)
            log.put(
                PredictionRecord(
                    model=self.model,
                    version=str(version),
                    route=route,
                    request_id=rid,
                    timestamp=when + i * 0.01,
                    latency_ms=latency_ms,
                    inputs={c: frame[c].to_numpy()[part] for c in FEATURES},
                    predictions=np.asarray(predictions[part]),
                    probabilities=np.asarray(proba[part]),
                )
            )
            ids.append(rid)
            if sent < feedback * (i + 1):
                fb.put(FeedbackRecord(self.model, rid, labels[part].tolist(), when + 60))
                sent += 1
        log.close()
        fb.close()
        return ids

    def fail(
        self,
        version: int | str,
        *,
        requests: int = 10,
        status: int = 422,
        at: datetime | None = None,
    ) -> None:
        """Log ``requests`` failed requests of ``version`` answered with ``status``, as the
        service's error log records them, at ``at`` (default now - 5 min)."""
        from mloop.serving.logs.error_log import RequestErrorRecord, error_rows
        from mloop.serving.logs.prediction_log import ParquetLog

        when = (at or datetime.now(timezone.utc) - timedelta(minutes=5)).timestamp()
        log = ParquetLog(self.log_dir / "errors", error_rows)
        for i in range(requests):
            log.put(
                RequestErrorRecord(
                    model=self.model,
                    version=str(version),
                    route="champion",
                    protocol="oip",
                    request_id=f"e{status}-{i}-{uuid.uuid4().hex[:6]}",
                    timestamp=when + i * 0.01,
                    status=status,
                    error_code="invalid_input" if status < 500 else "internal",
                    latency_ms=1.0,
                    message="x" * 2000,
                )
            )
        log.close()


def partitioned_log(project: Project, now: datetime) -> dict[str, int]:
    """A window ``[now - 1h, now)`` spread over many log files: the champion in three files
    (one with NaN incomes and null cities, labels for only some requests), a file of the
    window's first hour folder with no row inside the window, a canary, a shadow repeating
    the champion's request ids, requests retried under the same ids in a later file, and
    failed requests, and a file with another set of columns (an input more, no probabilities).
    Returns the versions."""
    champion = project.register()
    canary = project.register(alias=False)
    shadow = project.register("constant", alias=False)
    start = now - timedelta(hours=1)
    # rows of the window's first hour folder, all before the window (``start`` at minute >= 5)
    project.serve(champion, rows=80, at=start - timedelta(minutes=4), seed=2)
    ids = project.serve(champion, rows=200, at=start + timedelta(minutes=5), seed=3, feedback=0.5)
    project.serve(
        champion,
        rows=160,
        at=start + timedelta(minutes=25),
        seed=4,
        shift=0.6,
        feedback=0.3,
        nulls=0.2,
    )
    project.serve(champion, rows=40, at=start + timedelta(minutes=40), seed=5, request_ids=ids)
    project.serve(
        canary,
        rows=60,
        at=start + timedelta(minutes=45),
        seed=6,
        feedback=1.0,
        route="canary",
        request_rows=1,
        latency_ms=9.0,
    )
    project.serve(
        shadow,
        rows=200,
        at=start + timedelta(minutes=6),
        seed=3,
        feedback=0.5,
        route="shadow",
        request_ids=ids,
        latency_ms=2.0,
    )
    _log_other_columns(project, champion, start + timedelta(minutes=55))
    project.fail(champion, requests=6, status=503, at=start + timedelta(minutes=50))
    project.fail(canary, requests=2, status=422, at=start + timedelta(minutes=51))
    return {"champion": champion, "canary": canary, "shadow": shadow}


def _log_other_columns(project: Project, version: int, at: datetime) -> None:
    """Two 4-row requests whose file has an input the others lack (``channel``) and no
    ``prediction_proba`` (the caller did not ask for probabilities)."""
    from mloop.serving.logs.prediction_log import ParquetLog, PredictionRecord, prediction_rows

    log = ParquetLog(
        project.log_dir / "predictions", lambda r: (r.model, r.timestamp, prediction_rows(r))
    )
    frame, _ = make_frame(8, seed=8)
    for i in range(2):
        part = slice(4 * i, 4 * i + 4)
        inputs = {c: frame[c].to_numpy()[part] for c in FEATURES}
        inputs["channel"] = np.asarray(["web", "app", "web", None], dtype=object)
        log.put(
            PredictionRecord(
                model=project.model,
                version=str(version),
                route="champion",
                request_id=f"other-{i}",
                timestamp=at.timestamp() + i,
                latency_ms=4.0,
                inputs=inputs,
                predictions=np.asarray([0, 1, 1, 0]),
                probabilities=None,
            )
        )
    log.close()
