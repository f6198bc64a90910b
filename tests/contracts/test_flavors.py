"""Every built-in model flavor against the flavor contract (a flavor whose library is not
installed here is skipped, as its extra is optional)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from mloop import plugins
from mloop.testing.flavor_contracts import FlavorCase, FlavorContract


@pytest.fixture(scope="module")
def data() -> tuple[pd.DataFrame, np.ndarray]:
    rng = np.random.default_rng(7)
    x = pd.DataFrame({"amount": rng.uniform(1, 40, 200), "rate": rng.uniform(0.01, 0.3, 200)})
    y = ((x["amount"] / 40 + x["rate"] * 2 + rng.normal(0, 0.1, 200)) > 0.7).astype(int)
    return x, y.to_numpy()


class TestSklearnFlavor(FlavorContract):
    __test__ = True
    backend = ("model_flavors", "sklearn")

    @pytest.fixture
    def case(self, data) -> FlavorCase:
        from sklearn.linear_model import LogisticRegression

        x, y = data
        model = LogisticRegression().fit(x, y)
        return FlavorCase(model, x, model.predict(x), model.predict_proba(x))


class TestSklearnRegressorFlavor(FlavorContract):
    """A regressor: values, and no probabilities."""

    __test__ = True
    backend = ("model_flavors", "sklearn")

    @pytest.fixture
    def case(self, data) -> FlavorCase:
        from sklearn.linear_model import Ridge

        x, _ = data
        model = Ridge().fit(x, x["amount"] * 0.5)
        return FlavorCase(model, x, model.predict(x))


class TestLightGBMFlavor(FlavorContract):
    __test__ = True
    backend = ("model_flavors", "lightgbm")

    @pytest.fixture
    def case(self, data) -> FlavorCase:
        lightgbm = pytest.importorskip("lightgbm")
        x, y = data
        model = lightgbm.LGBMClassifier(n_estimators=10, verbose=-1).fit(x, y)
        return FlavorCase(model, x, model.predict(x), model.predict_proba(x))


class TestXGBoostFlavor(FlavorContract):
    __test__ = True
    backend = ("model_flavors", "xgboost")

    @pytest.fixture
    def case(self, data) -> FlavorCase:
        xgboost = pytest.importorskip("xgboost")
        x, y = data
        model = xgboost.XGBClassifier(n_estimators=10, max_depth=3).fit(x, y)
        return FlavorCase(model, x, model.predict(x), model.predict_proba(x))


class TestTorchFlavor(FlavorContract):
    __test__ = True
    backend = ("model_flavors", "torch")

    @pytest.fixture
    def case(self, data) -> FlavorCase:
        torch = pytest.importorskip("torch")
        x, _ = data
        torch.manual_seed(0)
        net = torch.nn.Sequential(torch.nn.Linear(2, 4), torch.nn.Tanh(), torch.nn.Linear(4, 1))
        frame = (x / x.max()).astype("float32")
        with torch.no_grad():
            expected = net(torch.tensor(frame.to_numpy())).numpy()[:, 0]
        return FlavorCase(net, frame, expected, rtol=1e-5)


class TestOnnxFlavor(FlavorContract):
    __test__ = True
    backend = ("model_flavors", "onnx")

    @pytest.fixture
    def case(self, data) -> FlavorCase:
        pytest.importorskip("onnxruntime")
        skl2onnx = pytest.importorskip("skl2onnx")
        from sklearn.linear_model import LogisticRegression

        x, y = data
        model = LogisticRegression().fit(x.to_numpy(np.float32), y)
        proto = skl2onnx.to_onnx(
            model, x.to_numpy(np.float32)[:1], options={id(model): {"zipmap": False}}
        )
        frame = x.astype("float32")
        expected = model.predict(frame.to_numpy())
        return FlavorCase(proto, frame, expected, model.predict_proba(frame.to_numpy()), 1e-4)


def test_every_builtin_flavor_has_a_contract_test_here() -> None:
    covered = {
        cls.backend[1]
        for cls in globals().values()
        if isinstance(cls, type) and issubclass(cls, FlavorContract) and cls is not FlavorContract
    }
    assert covered == set(plugins.builtins("model_flavors"))
