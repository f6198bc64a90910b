"""Fixtures for the serving tests: small scikit-learn packages saved with mloop.models, and an
in-process client that runs the app's startup and shutdown."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Coroutine
from pathlib import Path
from types import SimpleNamespace
from typing import Any, TypeVar

import httpx
import numpy as np
import pandas as pd
import pytest

T = TypeVar("T")


def training_frame(n: int = 120, seed: int = 0) -> tuple[pd.DataFrame, np.ndarray]:
    rng = np.random.default_rng(seed)
    frame = pd.DataFrame(
        {
            "age": rng.integers(18, 80, n).astype("int64"),
            "income": rng.normal(50.0, 10.0, n),
            "city": rng.choice(["paris", "lyon", "nice"], n).astype(object),
            "member": rng.random(n) > 0.5,
        }
    )
    labels = (frame["income"] > 50.0).astype(int).to_numpy()
    return frame, labels


def save_package(folder: Path, *, constant: int | None = None) -> Path:
    """A ColumnTransformer + classifier package (a constant classifier when ``constant``)."""
    from sklearn.compose import ColumnTransformer
    from sklearn.dummy import DummyClassifier
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import OneHotEncoder, StandardScaler

    import mloop.models

    frame, labels = training_frame()
    prep = ColumnTransformer(
        [
            ("num", StandardScaler(), ["age", "income"]),
            ("cat", OneHotEncoder(handle_unknown="ignore"), ["city"]),
            ("flag", "passthrough", ["member"]),
        ]
    )
    clf = (
        DummyClassifier(strategy="constant", constant=constant)
        if constant is not None
        else LogisticRegression()
    )
    model = Pipeline([("prep", prep), ("clf", clf)]).fit(frame, labels)
    mloop.models.save_model(model, folder, input_example=frame.head(8))
    return folder


@pytest.fixture(scope="session")
def packages(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """Three packages: ``credit`` (logistic regression), ``ones`` and ``zeros`` (constant)."""
    root = tmp_path_factory.mktemp("packages")
    return {
        "credit": save_package(root / "credit"),
        "ones": save_package(root / "ones", constant=1),
        "zeros": save_package(root / "zeros", constant=0),
    }


def run(coro: Coroutine[Any, Any, T]) -> T:
    return asyncio.run(coro)


@contextlib.asynccontextmanager
async def serving(app: Any, *, wait_ready: bool = True) -> AsyncIterator[httpx.AsyncClient]:
    """An httpx client talking to ``app`` in-process, between its startup and shutdown."""
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://serving") as client:
            if wait_ready:
                for _ in range(200):
                    if (await client.get("/v2/health/ready")).status_code == 200:
                        break
                    await asyncio.sleep(0.02)
            yield client


def oip_body(rows: list[dict[str, Any]], **extra: Any) -> dict[str, Any]:
    types = {"age": "INT64", "income": "FP64", "city": "BYTES", "member": "BOOL"}
    inputs = [
        {"name": c, "shape": [len(rows)], "datatype": t, "data": [r[c] for r in rows]}
        for c, t in types.items()
    ]
    return {"inputs": inputs, **extra}


ROW = {"age": 30, "income": 62.5, "city": "paris", "member": True}


@pytest.fixture
def kit() -> SimpleNamespace:
    """The helpers above, for test modules (conftest modules cannot be imported by name)."""
    return SimpleNamespace(
        run=run,
        serving=serving,
        oip_body=oip_body,
        row=dict(ROW),
        training_frame=training_frame,
        save_package=save_package,
    )
