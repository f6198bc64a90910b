"""Third-party clients against a real service on 127.0.0.1 (uvicorn in a thread started and
stopped here): Triton's HTTP client (JSON and binary tensors), KServe's REST client, MLflow's
``ScoringServerClient``, and a schemathesis fuzz of ``/openapi.json`` that allows no 5xx."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import threading
import time
import warnings
from collections.abc import Iterator
from pathlib import Path

import httpx
import numpy as np
import pandas as pd
import pytest

pytestmark = pytest.mark.integration

FRAME = pd.DataFrame(
    {
        "age": np.asarray([30, 45, 61], dtype=np.int64),
        "income": [62.5, 20.0, 51.0],
        "city": np.asarray(["paris", "lyon", "nice"], dtype=object),
        "member": [True, False, True],
    }
)


def _package(folder: Path) -> Path:
    from sklearn.compose import ColumnTransformer
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import OneHotEncoder, StandardScaler

    import mloop.models

    rng = np.random.default_rng(0)
    frame = pd.DataFrame(
        {
            "age": rng.integers(18, 80, 100).astype("int64"),
            "income": rng.normal(50.0, 10.0, 100),
            "city": rng.choice(["paris", "lyon", "nice"], 100).astype(object),
            "member": rng.random(100) > 0.5,
        }
    )
    prep = ColumnTransformer(
        [
            ("num", StandardScaler(), ["age", "income"]),
            ("cat", OneHotEncoder(handle_unknown="ignore"), ["city"]),
            ("flag", "passthrough", ["member"]),
        ]
    )
    model = Pipeline([("prep", prep), ("clf", LogisticRegression())])
    model.fit(frame, (frame["income"] > 50).astype(int))
    mloop.models.save_model(model, folder, input_example=frame.head(5))
    return folder


@pytest.fixture(scope="module")
def service(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, int, Path]]:
    """(host, port, package folder) of a service running in a background thread."""
    import uvicorn

    from mloop.serving.http.app import create_app
    from mloop.serving.settings import ServingConfig
    from mloop.serving.workers import bind_socket

    root = tmp_path_factory.mktemp("clients")
    package = _package(root / "credit")
    app = create_app(ServingConfig(str(package), poll_interval_s=0, log_dir=root / "logs"))
    sock = bind_socket("127.0.0.1", 0, reuse_port=False)
    port = sock.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning", lifespan="on"))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while True:
        try:
            if httpx.get(f"http://127.0.0.1:{port}/v2/health/ready", timeout=1).status_code == 200:
                break
        except httpx.HTTPError:
            pass
        assert time.monotonic() < deadline, "the service did not get ready in 30 s"
        time.sleep(0.05)
    yield "127.0.0.1", port, package
    server.should_exit = True
    thread.join(30)
    sock.close()


def expected(package: Path) -> tuple[list[int], np.ndarray]:
    import mloop.models

    model = mloop.models.load_model(package)
    return list(model.predict(FRAME)), np.asarray(model.predict_proba(FRAME))


@pytest.mark.parametrize("binary", [False, True], ids=["json", "binary"])
def test_triton_http_client(service, binary: bool) -> None:
    import tritonclient.http as triton

    host, port, package = service
    client = triton.InferenceServerClient(f"{host}:{port}")
    try:
        assert client.is_server_live() and client.is_server_ready()
        assert client.is_model_ready("credit")
        meta = client.get_model_metadata("credit")
        assert [i["name"] for i in meta["inputs"]] == list(FRAME.columns)
        types = {"age": "INT64", "income": "FP64", "city": "BYTES", "member": "BOOL"}
        inputs = []
        for name, datatype in types.items():
            tensor = triton.InferInput(name, [len(FRAME)], datatype)
            values = FRAME[name].to_numpy()
            tensor.set_data_from_numpy(
                values.astype(object) if datatype == "BYTES" else values, binary_data=binary
            )
            inputs.append(tensor)
        outputs = [
            triton.InferRequestedOutput("predict", binary_data=binary),
            triton.InferRequestedOutput("predict_proba", binary_data=binary),
        ]
        result = client.infer("credit", inputs, outputs=outputs, request_id="triton-1")
        labels, proba = expected(package)
        assert result.as_numpy("predict").tolist() == labels
        np.testing.assert_allclose(result.as_numpy("predict_proba").reshape(-1, 2), proba)
        assert result.get_response()["id"] == "triton-1"
        bad = triton.InferInput("income", [1], "BYTES")
        bad.set_data_from_numpy(np.asarray(["x"], dtype=object), binary_data=binary)
        with pytest.raises(Exception, match="income"):
            client.infer("credit", [bad])
    finally:
        client.close()


def test_kserve_rest_client(service) -> None:
    kserve = pytest.importorskip(
        "kserve",
        reason="kserve pins pandas<3 (this project uses pandas 3), so pip will not install it "
        "with its dependencies; install it with --no-deps (see docs/serving.md) to run this test",
    )
    import asyncio

    host, port, package = service

    async def call():
        client = kserve.InferenceRESTClient(kserve.RESTConfig(protocol="v2"))
        try:
            live = await client.is_server_live(f"http://{host}:{port}")
            inputs = [
                kserve.InferInput(name, [len(FRAME)], dt, data=FRAME[name].tolist())
                for name, dt in (
                    ("age", "INT64"),
                    ("income", "FP64"),
                    ("city", "BYTES"),
                    ("member", "BOOL"),
                )
            ]
            request = kserve.InferRequest(
                model_name="credit", infer_inputs=inputs, request_id="ks-1"
            )
            response = await client.infer(f"http://{host}:{port}", request, model_name="credit")
            return live, response
        finally:
            await client.close()

    live, response = asyncio.run(call())
    assert live is True
    assert response.outputs[0].data == expected(package)[0]


def test_mlflow_scoring_server_client(service) -> None:
    with warnings.catch_warnings():  # mlflow warns about its own type hints on import
        warnings.simplefilter("ignore")
        from mlflow.pyfunc.scoring_server.client import ScoringServerClient

    host, port, package = service
    client = ScoringServerClient(host, port)
    client.wait_server_ready(timeout=10)
    assert client.get_version()
    response = client.invoke(FRAME)
    predictions = response.get_predictions(predictions_format="ndarray")
    assert np.asarray(predictions).reshape(-1).tolist() == expected(package)[0]
    with pytest.raises(Exception, match="422"):
        client.invoke(FRAME.drop(columns=["city"]))


def test_schemathesis_fuzz_of_openapi_finds_no_server_error(service, tmp_path: Path) -> None:
    host, port, _ = service
    exe = shutil.which("schemathesis") or shutil.which("st")
    assert exe is not None, "schemathesis is not installed (pip install 'mloop[serving-tests]')"
    proc = subprocess.run(
        [
            exe,
            "run",
            f"http://{host}:{port}/openapi.json",
            "--checks",
            "not_a_server_error",
            "--max-examples",
            "30",
            "--seed",
            "7",
            "--phases",
            "examples,coverage,fuzzing",
        ],
        capture_output=True,
        text=True,
        timeout=240,
        cwd=tmp_path,
        env={**os.environ, "NO_COLOR": "1", "PYTHONPATH": os.pathsep.join(sys.path)},
    )
    assert proc.returncode == 0, proc.stdout[-4000:] + proc.stderr[-2000:]
