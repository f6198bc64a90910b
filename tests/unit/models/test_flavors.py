"""Each flavor saves in its library's own format and predicts the same after loading: LightGBM
and XGBoost without pickle, PyTorch as a torch.export program (skipped without torch)."""

from __future__ import annotations

import numpy as np
import pytest

from mloop.errors import ValidationError
from mloop.models import load_model, save_model
from mloop.models.flavors import flavor_by_name, flavor_for


def test_lightgbm_classifier_round_trip_without_pickle(numeric, tmp_path):
    lightgbm = pytest.importorskip("lightgbm")
    x, y = numeric
    model = lightgbm.LGBMClassifier(n_estimators=15, verbose=-1).fit(x, y)
    pkg = save_model(model, tmp_path / "m", input_example=x.head(3))
    assert pkg.flavor == "lightgbm"
    assert sorted(pkg.manifest.files) == [
        "expected_output.json",
        "input_example.json",
        "model.lgb.txt",
    ]
    loaded = load_model(tmp_path / "m")
    np.testing.assert_allclose(loaded.predict_proba(x), model.predict_proba(x), rtol=1e-12)
    np.testing.assert_array_equal(loaded.predict(x), model.predict(x))


def test_lightgbm_regressor_round_trip(numeric, tmp_path):
    lightgbm = pytest.importorskip("lightgbm")
    x, _ = numeric
    target = x["rate"] * 2.0
    model = lightgbm.LGBMRegressor(n_estimators=10, verbose=-1).fit(x, target)
    loaded = save_model(model, tmp_path / "m", input_example=x.head(3)).load()
    np.testing.assert_allclose(loaded.predict(x), model.predict(x))
    assert not loaded.has_proba


def test_xgboost_classifier_round_trip_without_pickle(numeric, tmp_path):
    xgboost = pytest.importorskip("xgboost")
    x, y = numeric
    model = xgboost.XGBClassifier(n_estimators=10, max_depth=3).fit(x, y)
    pkg = save_model(model, tmp_path / "m", input_example=x.head(3))
    assert pkg.flavor == "xgboost" and "model.ubj" in pkg.manifest.files
    loaded = load_model(tmp_path / "m")
    np.testing.assert_allclose(loaded.predict_proba(x), model.predict_proba(x), rtol=1e-6)
    np.testing.assert_array_equal(loaded.predict(x), model.predict(x))


@pytest.mark.slow
def test_torch_module_round_trip_as_exported_program(numeric, tmp_path):
    torch = pytest.importorskip("torch")
    x, _ = numeric
    torch.manual_seed(0)
    net = torch.nn.Sequential(torch.nn.Linear(2, 4), torch.nn.Tanh(), torch.nn.Linear(4, 1))
    scaled = x / x.max()
    pkg = save_model(net, tmp_path / "m", input_example=scaled.head(4))
    assert pkg.flavor == "torch" and "model.pt2" in pkg.manifest.files
    loaded = load_model(tmp_path / "m")
    with torch.no_grad():
        expected = net(torch.tensor(scaled.to_numpy(), dtype=torch.float32)).numpy()[:, 0]
    np.testing.assert_allclose(loaded.predict(scaled), expected, rtol=1e-5, atol=1e-6)
    with pytest.raises(ValidationError, match="input_example"):
        save_model(net, tmp_path / "n")


def test_flavor_lookup_prefers_native_formats(sk_pipeline):
    lightgbm = pytest.importorskip("lightgbm")
    assert flavor_for(lightgbm.LGBMClassifier(n_estimators=2)).name == "lightgbm"
    assert flavor_for(sk_pipeline).name == "sklearn"
    with pytest.raises(ValidationError, match="unknown model flavor"):
        flavor_by_name("no-such-flavor")
