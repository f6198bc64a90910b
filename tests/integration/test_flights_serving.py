"""The flights demo's registered model served by ``mloop serve`` with online features.

The demo trains on a small sample, registers ``flights_delay@production`` and pushes live
weather; the service, started with the demo's ``--features``/``--entity-key`` options, answers
a request carrying only the airport and the scheduled hour with the in-process prediction.
"""

from __future__ import annotations

import importlib.util
import shlex
import shutil
from pathlib import Path

import httpx
import pytest

from mloop.demo.flights import flights_source

from .test_serving_http import mloop_serve

pytestmark = pytest.mark.integration


def load_demo(folder: Path):
    spec = importlib.util.spec_from_file_location("mloop_flights_demo_test", folder / "demo.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_the_registered_flights_model_is_served_with_online_features(tmp_path: Path) -> None:
    folder = tmp_path / "flights"
    shutil.copytree(
        flights_source(), folder, ignore=shutil.ignore_patterns(".mloop", "__pycache__", "data")
    )
    demo = load_demo(folder)
    summary = demo.main(folder, 0.03, say=lambda _: None)
    jfk = summary["departures"][0]
    assert jfk["origin"] == "JFK"
    assert summary["statuses"]["temp"][0] == "present"

    args = shlex.split(demo.SERVE_COMMAND)[2:]  # drop "mloop serve"
    assert args[0] == "models:/flights_delay@production"
    with mloop_serve([*args, "--no-log", "--poll-interval", "0"], folder) as (_, url):
        answer = httpx.post(f"{url}/invocations", json={"dataframe_records": [jfk]}, timeout=30)
        missing = httpx.post(
            f"{url}/invocations",
            json={"dataframe_records": [{"origin": "XXX", "sched_hour": 8}]},
            timeout=30,
        )
    assert answer.status_code == 200, answer.text
    (predicted,) = answer.json()["predictions"]
    assert predicted == pytest.approx(summary["predictions"][0], rel=1e-9, abs=1e-9)
    # An airport the online store does not hold has no weather: the service says so.
    assert missing.status_code == 422, missing.text
    assert "temp" in missing.json()["message"]
