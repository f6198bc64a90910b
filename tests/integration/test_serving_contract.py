"""The serving contract over real HTTP on 127.0.0.1 (issue 15, points 7, 8 and 9).

A HistGradientBoosting model trained on data with NaN, fitted on 1/0 and saved with its class
labels ``good``/``bad``, is served by ``python -m mloop serve`` in a subprocess: a null is
accepted where the training data had nulls and refused (422, naming the column) where it had
none, in both protocols and in ``mloop predict``; answers carry the class labels. A model that
cannot be found or loaded makes ``mloop serve`` exit with code 2 and one line saying why, with
one worker or two. Every wait is bounded.
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import numpy as np
import pandas as pd
import pytest

pytestmark = pytest.mark.integration

CLASSES = ["good", "bad"]  # the model is fitted on 0 (good) / 1 (bad)


def training_frame(n: int = 400) -> tuple[pd.DataFrame, np.ndarray]:
    rng = np.random.default_rng(5)
    frame = pd.DataFrame(
        {
            "income": rng.normal(50.0, 15.0, n),
            "debt": rng.uniform(0.0, 30.0, n),
            "home": pd.Series(rng.choice(["rent", "owner", "other"], n), dtype=object),
        }
    )
    y = ((frame["debt"] > 15) ^ (frame["income"] > 55)).to_numpy().astype(int)
    frame.loc[rng.random(n) < 0.15, "income"] = np.nan  # the model learns from missing income
    frame.loc[rng.random(n) < 0.1, "home"] = None
    return frame, y


@pytest.fixture(scope="module")
def package(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from sklearn.compose import ColumnTransformer
    from sklearn.ensemble import HistGradientBoostingClassifier
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import OneHotEncoder

    import mloop.models

    frame, y = training_frame()
    model = Pipeline(
        [
            (
                "encode",
                ColumnTransformer(
                    [("home", OneHotEncoder(handle_unknown="ignore"), ["home"])],
                    remainder="passthrough",
                    sparse_threshold=0.0,
                ),
            ),
            ("gbm", HistGradientBoostingClassifier(max_iter=30, random_state=0)),
        ]
    ).fit(frame, y)
    folder = tmp_path_factory.mktemp("contract") / "credit"
    example = frame.head(20)
    assert example["income"].isna().any() and not example["debt"].isna().any()
    mloop.models.save_model(model, folder, input_example=example, classes=CLASSES)
    return folder


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextlib.contextmanager
def served(package: Path, *extra: str) -> Iterator[str]:
    """``mloop serve`` on a free loopback port, ready (at most 60 s), stopped afterwards."""
    port = free_port()
    log_path = package.parent / f"serve-{port}.log"
    with open(log_path, "wb") as log:
        proc = subprocess.Popen(
            [
                *(sys.executable, "-m", "mloop", "serve", str(package), "--port", str(port)),
                *("--no-log", "--poll-interval", "0", *extra),
            ],
            cwd=package.parent,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        url = f"http://127.0.0.1:{port}"
        try:
            deadline = time.monotonic() + 60
            while True:
                assert proc.poll() is None, log_path.read_text()
                try:
                    if httpx.get(f"{url}/v2/health/ready", timeout=1).status_code == 200:
                        break
                except httpx.HTTPError:
                    pass
                assert time.monotonic() < deadline, "not ready within 60 s"
                time.sleep(0.1)
            yield url
        finally:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(30)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(10)


def oip(rows: dict[str, list], outputs: tuple[str, ...] = ("predict",)) -> dict:
    types = {"income": "FP64", "debt": "FP64", "home": "BYTES"}
    return {
        "inputs": [
            {"name": c, "datatype": types[c], "shape": [len(v)], "data": v} for c, v in rows.items()
        ],
        "outputs": [{"name": o} for o in outputs],
    }


ROWS = {"income": [None, 61.0, None], "debt": [3.0, 25.0, 18.0], "home": ["rent", None, "own"]}


def expected(package: Path) -> tuple[list, np.ndarray]:
    from mloop.models import load_model

    frame = pd.DataFrame(
        {
            "income": np.array([np.nan if v is None else v for v in ROWS["income"]]),
            "debt": ROWS["debt"],
            "home": pd.Series(ROWS["home"], dtype=object),
        }
    )
    model = load_model(package)
    return model.predict(frame).tolist(), model.predict_proba(frame)


def test_both_protocols_accept_nulls_the_signature_allows_and_answer_class_labels(package):
    labels, proba = expected(package)
    assert set(labels) <= set(CLASSES)
    with served(package) as url, httpx.Client(base_url=url, timeout=30) as client:
        meta = client.get("/v2/models/credit").json()
        openapi = client.get("/openapi.json").json()
        oip_answer = client.post(
            "/v2/models/credit/infer", json=oip(ROWS, ("predict", "predict_proba"))
        )
        split = {"columns": list(ROWS), "data": [list(r) for r in zip(*ROWS.values(), strict=True)]}
        mlflow_answer = client.post("/invocations", json={"dataframe_split": split})
        csv = "income,debt,home\n,3.0,rent\n61.0,25.0,\n,18.0,own\n"
        csv_answer = client.post("/invocations", content=csv, headers={"content-type": "text/csv"})
        refused_oip = client.post(
            "/v2/models/credit/infer", json=oip(ROWS | {"debt": [1.0, None, 2.0]})
        )
        records = [dict(zip(ROWS, r, strict=True)) for r in zip(*ROWS.values(), strict=True)]
        records[1]["debt"] = None
        refused_mlflow = client.post("/invocations", json={"dataframe_records": records})

    records = list(_record_schemas(openapi))
    assert records, "the OpenAPI document has no record schema"
    for props in records:
        assert props["income"] == {"type": "number", "nullable": True}
        assert props["home"] == {"type": "string", "nullable": True}
        assert props["debt"] == {"type": "number"}
    inputs = {i["name"]: i for i in meta["inputs"]}
    assert inputs["income"]["parameters"] == {"nullable": True}
    assert "parameters" not in inputs["debt"]
    assert meta["outputs"][0] == {"name": "predict", "datatype": "BYTES", "shape": [-1]}
    assert meta["outputs"][1]["parameters"] == {"classes": CLASSES}
    assert meta["outputs"][1]["shape"] == [-1, 2]

    assert oip_answer.status_code == 200, oip_answer.text
    predict, predict_proba = oip_answer.json()["outputs"]
    assert predict["datatype"] == "BYTES" and predict["data"] == labels
    assert predict_proba["parameters"] == {"classes": CLASSES}
    np.testing.assert_allclose(np.reshape(predict_proba["data"], (3, 2)), proba)

    for answer in (mlflow_answer, csv_answer):
        assert answer.status_code == 200, answer.text
        assert answer.json() == {"predictions": labels}

    for answer in (refused_oip, refused_mlflow):
        assert answer.status_code == 422, answer.text
        doc = answer.json()
        assert doc["error_code"] == "invalid_input"
        assert "'debt'" in doc["message"] and "missing value" in doc["message"]


def _record_schemas(doc: object) -> Iterator[dict]:
    """Every ``properties`` object of the document that describes a record of the inputs."""
    if isinstance(doc, dict):
        props = doc.get("properties")
        if isinstance(props, dict) and {"income", "debt", "home"} <= set(props):
            yield props
        for value in doc.values():
            yield from _record_schemas(value)
    elif isinstance(doc, list):
        for value in doc:
            yield from _record_schemas(value)


def test_allow_nan_still_accepts_nulls_everywhere(package):
    with served(package, "--allow-nan") as url:
        answer = httpx.post(
            f"{url}/v2/models/credit/infer",
            json=oip(ROWS | {"debt": [None, 2.0, 3.0]}),
            timeout=30,
        )
    assert answer.status_code == 200, answer.text
    assert set(answer.json()["outputs"][0]["data"]) <= set(CLASSES)


def mloop_cli(*args: str, cwd: Path, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "mloop", *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=timeout,
        env={**os.environ, "COLUMNS": "200"},
    )


def test_batch_prediction_takes_nulls_and_writes_labels_and_class_named_probabilities(
    package, tmp_path
):
    labels, proba = expected(package)
    frame = pd.DataFrame(ROWS).astype({"income": "float64"})
    frame.to_parquet(tmp_path / "in.parquet")
    done = mloop_cli(
        "predict", str(package), "-i", str(tmp_path / "in.parquet"), "-o",
        str(tmp_path / "out.parquet"), "--proba", cwd=tmp_path,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    out = pd.read_parquet(tmp_path / "out.parquet")
    assert out["prediction"].tolist() == labels
    assert [c for c in out.columns if c.startswith("proba_")] == ["proba_good", "proba_bad"]
    np.testing.assert_allclose(out[["proba_good", "proba_bad"]].to_numpy(), proba)

    frame.assign(debt=[1.0, None, 2.0]).to_parquet(tmp_path / "bad.parquet")
    refused = mloop_cli(
        "predict", str(package), "-i", str(tmp_path / "bad.parquet"), "-o",
        str(tmp_path / "never.parquet"), cwd=tmp_path,
    )  # fmt: skip
    assert refused.returncode == 2
    assert "'debt'" in refused.stderr and "missing value" in refused.stderr
    assert not (tmp_path / "never.parquet").exists()


# -- point 8: a model that cannot be served stops the process ------------------------------------

CUSTOM = '''
from sklearn.linear_model import LogisticRegression


class HouseModel(LogisticRegression):
    """Only importable where this file is on sys.path."""
'''


def unloadable_package(root: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A package whose pickled estimator class lives in a module the server cannot import."""
    import importlib

    import mloop.models

    code = root / "code"
    code.mkdir()
    (code / "house_model_mod.py").write_text(CUSTOM)
    monkeypatch.syspath_prepend(str(code))
    module = importlib.import_module("house_model_mod")
    frame, y = training_frame()
    x = frame[["debt"]]
    model = module.HouseModel().fit(x, y)
    return mloop.models.save_model(model, root / "house", input_example=x.head(5)).path


def tampered_package(root: Path, package: Path) -> Path:
    import shutil

    copy = root / "tampered"
    shutil.copytree(package, copy)
    joblib_file = copy / "model.joblib"
    joblib_file.write_bytes(joblib_file.read_bytes() + b"\0")
    return copy


def serve_until_exit(uri: str, cwd: Path, *extra: str) -> tuple[int, str]:
    """Run ``mloop serve URI`` and return (exit code, stderr); fails after 90 s."""
    port = free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "mloop", "serve", uri, "--port", str(port), "--no-log", *extra],
        cwd=cwd,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "COLUMNS": "300"},
    )
    try:
        _, err = proc.communicate(timeout=90)
    except subprocess.TimeoutExpired:
        proc.kill()
        _, err = proc.communicate(timeout=10)
        raise AssertionError(f"mloop serve {uri} kept running: {err[-2000:]}") from None
    return proc.returncode, err


@pytest.mark.parametrize("workers", ["1", "2"])
def test_a_model_that_cannot_be_found_or_loaded_stops_mloop_serve(
    workers, package, project_dir, monkeypatch
):
    cases = {
        "missing": (str(project_dir / "no-such-package"), "no model package at"),
        "unregistered": ("models:/no_such_model@production", "model 'no_such_model' not found"),
        "tampered": (str(tampered_package(project_dir, package)), "corrupt or was modified"),
        "unloadable": (
            str(unloadable_package(project_dir, monkeypatch)),
            "ModuleNotFoundError: No module named 'house_model_mod'",
        ),
    }
    for name, (uri, reason) in cases.items():
        code, err = serve_until_exit(uri, project_dir, "--workers", workers)
        assert code == 2, (name, err)
        errors = [line for line in err.splitlines() if line.startswith("error:")]
        assert len(errors) == 1, (name, err)
        assert f"error: cannot serve {uri}: " in errors[0] and reason in errors[0], (name, err)
        assert "Traceback" not in err, (name, err)
