"""The target-infrastructure CD gate (issue 11.4): a package whose code imports a library the
target lacks, or has at another major version, is refused by `mloop deploy` and by the launcher
that would run it, with each library named."""

from __future__ import annotations

import importlib.metadata
from pathlib import Path

import pytest

from mloop.cicd import promotion
from mloop.cicd.environments import open_environment
from mloop.cicd.packages import build_package
from mloop.errors import IncompatibleEnvironmentError, PromotionRefusedError
from mloop.pipelines import package_requirements
from mloop.pipelines.package_requirements import requirement_problems, used_distributions
from mloop.pipelines.packaged import load_packaged_pipeline


def _code(tmp_path: Path) -> Path:
    root = tmp_path / "code"
    (root / "helpers").mkdir(parents=True)
    (root / "helpers" / "__init__.py").write_text("")
    (root / "flow.py").write_text(
        "import json, os.path\nimport numpy as np\nfrom sklearn.linear_model import Ridge\n"
        "from helpers import x\nfrom . import y\n"
    )
    return root


def test_the_imports_of_the_packaged_code_name_its_libraries(tmp_path: Path) -> None:
    used = used_distributions(_code(tmp_path))
    assert set(used) == {"numpy", "scikit-learn"}  # not the stdlib, not its own modules
    assert used["scikit-learn"] == {"sklearn"}


def test_a_missing_library_or_another_major_version_is_a_problem(tmp_path: Path) -> None:
    code = _code(tmp_path)
    numpy_here = importlib.metadata.version("numpy")
    same = {
        "requirements": [
            f"numpy=={numpy_here}",
            "scikit-learn==" + importlib.metadata.version("scikit-learn"),
        ]
    }
    assert requirement_problems(same, code) == []
    older = {
        "requirements": [
            "numpy==0.9.8",
            "scikit-learn==" + importlib.metadata.version("scikit-learn"),
        ]
    }
    (problem,) = requirement_problems(older, code)
    assert "numpy is" in problem and "built with 0.9.8" in problem


def _without_numpy(monkeypatch: pytest.MonkeyPatch) -> None:
    real = importlib.metadata.distributions

    def distributions():  # type: ignore[no-untyped-def]
        return [d for d in real() if (d.name or "").lower() != "numpy"]

    monkeypatch.setattr(package_requirements.importlib.metadata, "distributions", distributions)


def test_deploy_and_the_launcher_refuse_a_package_the_target_cannot_run(
    cicd_project: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    helper = cicd_project / "helpers" / "numbers.py"
    helper.write_text(
        "import numpy as np\n\ndef scale(value: int, factor: int) -> int:\n"
        "    return int(np.int64(value) * factor)\n"
    )
    test = open_environment(cicd_project, "test")
    package = build_package(test, "scoring", created_by="alice")
    _without_numpy(monkeypatch)
    with pytest.raises(
        PromotionRefusedError, match=r"numpy \(imported as numpy\) is not installed"
    ):
        promotion.deploy(cicd_project, "scoring", "test", reason="r", actor="alice")
    assert test.deployments.active_deployment("test", "scoring") is None
    with pytest.raises(IncompatibleEnvironmentError, match="cannot run in this environment"):
        load_packaged_pipeline(
            test.artifacts, package.uri, package.digest, test.settings.state_dir / "packages"
        )
    monkeypatch.undo()
    result = promotion.deploy(cicd_project, "scoring", "test", reason="r", actor="alice")
    assert result.deployment.state.value == "active"
