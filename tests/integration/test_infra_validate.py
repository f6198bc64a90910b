"""Infrastructure validation: the candidate is served from a fresh process on a loopback port
and must answer real requests exactly as in-process, within memory and latency budgets."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from mloop.components.infra_validate import validate_infra
from mloop.models import save_model

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def frame() -> pd.DataFrame:
    rng = np.random.default_rng(2)
    n = 120
    data = pd.DataFrame(
        {
            "kind": rng.choice(["a", "b", "c"], n).astype(object),
            "amount": rng.integers(0, 1000, n).astype("int64"),
            "rate": rng.uniform(0, 1, n),
        }
    )
    data.loc[3, "rate"] = np.nan  # travels as null, comes back NaN
    return data


@pytest.fixture(scope="module")
def package(frame, tmp_path_factory):
    from sklearn.compose import ColumnTransformer
    from sklearn.ensemble import HistGradientBoostingClassifier
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import OneHotEncoder

    y = ((frame["rate"].fillna(0.5) > 0.5) ^ (frame["kind"] == "a")).astype(int)
    model = Pipeline(
        [
            (
                "encode",
                ColumnTransformer(
                    [("k", OneHotEncoder(handle_unknown="ignore"), ["kind"])],
                    remainder="passthrough",
                ),
            ),
            ("gbm", HistGradientBoostingClassifier(max_iter=20)),
        ]
    ).fit(frame, y)
    folder = tmp_path_factory.mktemp("pkg") / "model"
    return save_model(model, folder, input_example=frame.head(5))


@pytest.mark.parametrize("server", ["mloop", "minimal"])
def test_a_good_package_is_infra_blessed(package, frame, server):
    # generous latency budget: the machine may be busy; the budget check has its own test
    result = validate_infra(
        package, frame, server=server, single_requests=5, batch_rows=100, max_p95_ms=5000
    )
    assert result.blessed, result.reasons
    assert result.requests == 1 + 5 + 1 and result.mismatches == 0
    assert result.rss_mb is not None and 20 < result.rss_mb < 1024
    assert 0 < result.latency_p50_ms <= result.latency_p95_ms


def test_budgets_are_enforced(package, frame):
    result = validate_infra(
        package, frame, server="minimal", single_requests=2, max_rss_mb=1.0, max_p95_ms=0.001
    )
    assert not result.blessed
    assert any("over the budget of 1.0 MB" in r for r in result.reasons)
    assert any("p95 latency" in r for r in result.reasons)


def test_a_server_that_cannot_start_is_not_blessed(package, frame, monkeypatch):
    import mloop.components.infra_validate as infra

    monkeypatch.setattr(infra, "SERVER_MODULE", "mloop.components.no_such_server")
    result = validate_infra(
        package, frame, server="minimal", single_requests=1, startup_timeout_s=30
    )
    assert not result.blessed and result.requests == 0
    assert "exited (exit code 1) before it was ready" in result.reasons[0]
    assert "No module named" in result.reasons[0]  # the server's own error is quoted


def test_a_corrupt_package_is_not_blessed_and_never_served(package, frame, tmp_path):
    broken = package.copy_to(tmp_path / "broken")
    (broken.path / "model.joblib").write_bytes(b"not a model")  # fails the digest check
    result = validate_infra(broken, frame, server="mloop", single_requests=1, startup_timeout_s=60)
    assert not result.blessed and result.requests == 0
    assert "corrupt or was modified" in result.reasons[0]


CUSTOM = '''
from sklearn.linear_model import LogisticRegression


class LocalModel(LogisticRegression):
    """Importable only where this file is on sys.path: the pipeline's process, not a server."""
'''


@pytest.mark.parametrize("server", ["mloop", "minimal"])
def test_an_unloadable_candidate_fails_as_soon_as_its_server_exits(
    server, frame, tmp_path, monkeypatch
):
    """The package loads in-process but not in the fresh server process: the validation fails
    with the server's own reason once the server has exited, not after the ready timeout (120 s
    here: a test that waited it out would run into pytest's timeout)."""
    import importlib

    code = tmp_path / f"code_{server}"
    code.mkdir()
    module_name = f"local_model_{server}"
    (code / f"{module_name}.py").write_text(CUSTOM)
    monkeypatch.syspath_prepend(str(code))
    module = importlib.import_module(module_name)
    x = frame[["amount", "rate"]].fillna(0.5)
    model = module.LocalModel(max_iter=500).fit(x, (x["rate"] > 0.5).astype(int))
    package = save_model(model, tmp_path / "local", input_example=x.head(5))
    assert package.load().predict(x.head(2)).shape == (2,)  # fine in this process

    result = validate_infra(package, x, server=server, single_requests=1, startup_timeout_s=120)
    assert not result.blessed and result.requests == 0
    (reason,) = result.reasons
    assert "exited (exit code 2) before it was ready" in reason
    assert f"No module named '{module_name}'" in reason


def test_a_candidate_without_signature_fails_with_the_servers_reason(frame, tmp_path):
    """``mloop serve`` refuses a package without a signature; validation quotes why."""
    from sklearn.linear_model import LogisticRegression

    x = frame[["amount", "rate"]].fillna(0.5)
    model = LogisticRegression(max_iter=500).fit(x, (x["rate"] > 0.5).astype(int))
    package = save_model(model, tmp_path / "bare")  # no input example: no signature
    result = validate_infra(package, x, server="mloop", single_requests=1, startup_timeout_s=120)
    assert not result.blessed and result.requests == 0
    assert "exited (exit code 2) before it was ready" in result.reasons[0]
    assert "has no signature" in result.reasons[0]
