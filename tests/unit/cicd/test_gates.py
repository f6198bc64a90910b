"""The CD gates of an environment (issue 11.4, ADR 0024): resources declared by steps against
the environment's capacity (declared or measured), performance targets against the model
version's recorded metrics, overrides recorded with who and why, and the gates: / resources:
keys of mloop.yaml checked when the file is read."""

from __future__ import annotations

import json
import textwrap
from pathlib import Path

import pytest
import yaml
from typer.testing import CliRunner

from mloop.cicd import promotion
from mloop.cicd.environments import open_environment
from mloop.cicd.gates.metrics import metric_problems
from mloop.cicd.packages import build_package
from mloop.cli.main import app
from mloop.config import load_settings
from mloop.controller.ondemand import request_run, run_now
from mloop.errors import ConfigError, GateRefusedError, InsufficientResourcesError, ProjectFileError
from mloop.metadata.deployments import DeploymentState
from mloop.metadata.entities import RunState
from mloop.pipelines import capacity
from mloop.pipelines.capacity import Capacity, capacity_of, measure_capacity, shortfalls
from mloop.pipelines.packaged import PACKAGE_TAG, PIPELINE_TAG
from mloop.pipelines.resources import StepResources

HEAVY = """
from mloop import pipeline, step

from helpers.numbers import scale


@step(resources={"cpu": 2, "memory": "4GB"})
def load(n: int = 3) -> list:
    return list(range(n))


@step(resources={"gpu": 1})
def transform(values: list, factor: int = 1) -> dict:
    return {"total": sum(scale(v, factor) for v in values)}


@pipeline
def scoring(n: int = 3, factor: int = 1):
    transform(load(n), factor=factor)
"""


def _edit_env(project: Path, env: str, **keys: object) -> None:
    path = project / "mloop.yaml"
    data = yaml.safe_load(path.read_text())
    data["environments"][env].update(keys)
    path.write_text(yaml.safe_dump(data, sort_keys=False))


def _heavy(project: Path) -> None:
    (project / "pipelines" / "scoring.py").write_text(HEAVY.lstrip("\n"))


# -- resources ---------------------------------------------------------------------------------
def test_shortfalls_name_the_step_and_what_is_missing() -> None:
    requests = {
        "load": StepResources(cpu=2, memory=4 * 10**9),
        "fit": StepResources(cpu=1, gpu=1),
    }
    declared = {"cpu": "declared", "memory": "declared", "gpu": "declared"}
    small = Capacity(cpu=1, memory=2 * 10**9, gpu=0, source=declared)
    problems = shortfalls(requests, small)
    assert problems == [
        "step 'load' asks for 2 CPUs, declared 1 (short by 1)",
        "step 'load' asks for 4.0 GB of memory, declared 2.0 GB (short by 2.0 GB)",
        "step 'fit' asks for 1 GPUs, declared 0 (short by 1)",
    ]
    assert shortfalls(requests, Capacity(8, 32 * 10**9, 1, declared)) == []


def test_the_measured_capacity_is_this_machine_and_never_needs_nvidia_smi(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import os

    monkeypatch.setattr(capacity.shutil, "which", lambda name: None)  # no nvidia-smi here
    measured = measure_capacity()
    assert measured.cpu == len(os.sched_getaffinity(0))
    assert measured.memory is not None and measured.memory > 10**8  # bytes of physical memory
    assert measured.gpu >= 0
    partly = capacity_of({"cpu": 64, "memory": None, "gpu": None})
    assert partly.cpu == 64 and partly.source == {
        "cpu": "declared",
        "memory": "measured",
        "gpu": "measured",
    }
    assert partly.memory == measured.memory


def test_nvidia_smi_lines_are_counted_as_gpus(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    fake = tmp_path / "nvidia-smi"
    fake.write_text("#!/bin/sh\necho 'GPU 0: A100 (UUID: x)'\necho 'GPU 1: A100 (UUID: y)'\n")
    fake.chmod(0o755)
    monkeypatch.setattr(capacity.shutil, "which", lambda name: str(fake))
    assert measure_capacity().gpu == 2


def test_deploy_refuses_steps_larger_than_the_declared_capacity_and_records_why(
    cicd_project: Path,
) -> None:
    _heavy(cicd_project)
    _edit_env(cicd_project, "test", resources={"cpu": 1, "memory": "2GB", "gpu": 0})
    build_package(open_environment(cicd_project, "test"), "scoring", created_by="alice")
    with pytest.raises(GateRefusedError) as refused:
        promotion.deploy(cicd_project, "scoring", "test", reason="r", actor="alice")
    message = str(refused.value)
    assert "step 'load' asks for 2 CPUs, declared 1" in message
    assert "step 'transform' asks for 1 GPUs, declared 0" in message
    assert "--override-gate" in message
    test = open_environment(cicd_project, "test")
    assert test.deployments.active_deployment("test", "scoring") is None
    [rejected] = test.deployments.list_deployments(environment="test", pipeline="scoring")
    assert rejected.state is DeploymentState.REJECTED
    assert rejected.id == refused.value.deployment_id
    assert rejected.decision_reason == "CD gates failed: resources"
    gates = {g["name"]: g for g in rejected.details["gates"]}
    assert gates["libraries"]["status"] == "passed"
    assert gates["resources"]["status"] == "failed"
    assert gates["resources"]["facts"]["requests"]["load"]["memory"] == 4 * 10**9
    assert gates["metrics"]["status"] == "skipped"

    _edit_env(cicd_project, "test", resources={"cpu": 8, "memory": "32GB", "gpu": 1})
    done = promotion.deploy(cicd_project, "scoring", "test", reason="r", actor="alice")
    assert done.deployment.state is DeploymentState.ACTIVE
    assert {g["name"]: g["status"] for g in done.deployment.details["gates"]}["resources"] == (
        "passed"
    )


def test_the_measured_machine_is_the_capacity_when_none_is_declared(
    cicd_project: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _heavy(cicd_project)
    monkeypatch.setattr(capacity.shutil, "which", lambda name: None)
    monkeypatch.setattr(capacity.importlib.util, "find_spec", lambda name: None)  # no torch
    build_package(open_environment(cicd_project, "test"), "scoring", created_by="alice")
    with pytest.raises(GateRefusedError, match=r"asks for 1 GPUs, measured 0"):
        promotion.deploy(cicd_project, "scoring", "test", reason="r", actor="alice")


def test_an_override_is_recorded_and_the_launcher_honours_it_or_refuses(
    cicd_project: Path,
) -> None:
    _heavy(cicd_project)
    _edit_env(cicd_project, "test", resources={"cpu": 1, "memory": "2GB", "gpu": 0})
    build_package(open_environment(cicd_project, "test"), "scoring", created_by="alice")
    with pytest.raises(ConfigError, match="libraries gate cannot be overridden"):
        promotion.deploy(cicd_project, "scoring", "test", reason="r", override_gates=["libraries"])
    with pytest.raises(ConfigError, match="names no gate"):
        promotion.deploy(cicd_project, "scoring", "test", reason="r", override_gates=["speed"])
    done = promotion.deploy(
        cicd_project,
        "scoring",
        "test",
        reason="the nodes were resized; mloop.yaml lags",
        actor="olga",
        override_gates=["resources"],
    )
    assert done.deployment.state is DeploymentState.ACTIVE
    [gate] = [g for g in done.deployment.details["gates"] if g["name"] == "resources"]
    assert gate["status"] == "overridden"
    assert gate["by"] == "olga" and gate["why"] == "the nodes were resized; mloop.yaml lags"
    assert "step 'load' asks for 2 CPUs" in gate["detail"]

    test = open_environment(cicd_project, "test")
    event = request_run(test.store, test.settings, "scoring", reason="overridden")
    assert run_now(test.store, test.settings, event).state.value == "succeeded"

    # a deployment that passed the gate, on a machine now smaller than it needs: refused
    _edit_env(cicd_project, "test", resources={"cpu": 8, "memory": "32GB", "gpu": 1})
    (cicd_project / "helpers" / "numbers.py").write_text(
        "def scale(value: int, factor: int) -> int:\n    return value * factor * 1\n"
    )
    build_package(open_environment(cicd_project, "test"), "scoring", created_by="alice")
    promotion.deploy(cicd_project, "scoring", "test", reason="r2", actor="alice")
    _edit_env(cicd_project, "test", resources={"cpu": 1, "memory": "2GB", "gpu": 0})
    test = open_environment(cicd_project, "test")
    event = request_run(test.store, test.settings, "scoring", reason="too small")
    finished = run_now(test.store, test.settings, event)
    assert finished.state.value == "failed"
    assert "InsufficientResourcesError" in (finished.error or "")
    assert "step 'transform' asks for 1 GPUs, declared 0" in (finished.error or "")


def test_the_launcher_error_names_the_environment() -> None:
    error = InsufficientResourcesError("environment prod", ["step 'a' asks for 2 CPUs"])
    assert "environment prod cannot hold" in str(error) and "resources:" in str(error)


# -- metrics ----------------------------------------------------------------------------------
def test_metric_targets_compare_and_a_missing_metric_fails() -> None:
    targets = {"accuracy": ">= 0.85", "rmse": "<= 3.0"}
    assert metric_problems(targets, {"accuracy": 0.9, "rmse": 3.0}) == []
    assert metric_problems(targets, {"accuracy": 0.84, "rmse": 2.0}) == [
        "accuracy = 0.84, target >= 0.85"
    ]
    (missing,) = metric_problems(targets, {"accuracy": 0.9})
    assert missing.startswith("rmse is not recorded") and "recorded: accuracy" in missing
    assert metric_problems({"auc": "> 0.5"}, {"auc": float("nan")}) == ["auc = nan, target > 0.5"]


def _model_of_package(project: Path, env: str, metrics: dict[str, float], name: str = "scorer"):  # type: ignore[no-untyped-def]
    """Register in ``env`` a real sklearn model version from a succeeded run of the package
    active there (as its push step would); the ModelVersion."""
    import numpy as np
    import pandas as pd
    from sklearn.linear_model import LinearRegression

    from mloop.models import save_model
    from mloop.registry.registry import ModelRegistry

    target = open_environment(project, env)
    active = target.deployments.active_deployment(env, "scoring")
    assert active is not None
    run = target.store.create_run(
        "scoring", tags={PACKAGE_TAG: active.package_digest, PIPELINE_TAG: "scoring"}
    )
    target.store.finish_run(run.id, RunState.SUCCEEDED)
    x = pd.DataFrame({"a": np.arange(20.0), "b": np.arange(20.0) % 3})
    model = LinearRegression().fit(x, 2.0 * x["a"] + x["b"])
    package = save_model(model, project / f"pkg-{env}-{run.id}", input_example=x.head(3))
    registry = ModelRegistry(target.store, target.artifacts)
    return registry.register_model(name, package, run_id=run.id, metrics=metrics)


def test_promote_checks_the_targets_against_the_source_model_version(cicd_project: Path) -> None:
    _edit_env(cicd_project, "staging", gates={"metrics": {"r2": ">= 0.9", "rmse": "<= 0.5"}})
    build_package(open_environment(cicd_project, "test"), "scoring", created_by="alice")
    promotion.deploy(cicd_project, "scoring", "test", reason="r", actor="alice")

    with pytest.raises(GateRefusedError, match="no model version registered"):
        promotion.promote(cicd_project, "scoring", source="test", target="staging", reason="r")

    version = _model_of_package(cicd_project, "test", {"r2": 0.95})
    with pytest.raises(GateRefusedError) as refused:
        promotion.promote(cicd_project, "scoring", source="test", target="staging", reason="r")
    assert f"{version.model_uri} (in test): rmse is not recorded" in str(refused.value)

    _model_of_package(cicd_project, "test", {"r2": 0.95, "rmse": 0.7})
    with pytest.raises(GateRefusedError, match=r"rmse = 0\.7, target <= 0\.5"):
        promotion.promote(cicd_project, "scoring", source="test", target="staging", reason="r")

    good = _model_of_package(cicd_project, "test", {"r2": 0.95, "rmse": 0.2})
    done = promotion.promote(
        cicd_project, "scoring", source="test", target="staging", reason="r", actor="bob"
    )
    assert done.deployment.state is DeploymentState.PENDING_APPROVAL
    [gate] = [g for g in done.deployment.details["gates"] if g["name"] == "metrics"]
    assert gate["status"] == "passed"
    assert gate["facts"]["models"] == {good.model_uri: {"r2": 0.95, "rmse": 0.2}}


def test_deployments_list_and_show_tell_the_gates(cicd_project: Path) -> None:
    _edit_env(cicd_project, "staging", gates={"metrics": {"r2": ">= 0.9"}})
    build_package(open_environment(cicd_project, "test"), "scoring", created_by="alice")
    promotion.deploy(cicd_project, "scoring", "test", reason="r", actor="alice")
    _model_of_package(cicd_project, "test", {"r2": 0.5})
    runner = CliRunner()
    args = ["--project-dir", str(cicd_project)]
    refused = runner.invoke(
        app, [*args, "promote", "scoring", "--from", "test", "--to", "staging", "-r", "go"]
    )
    assert refused.exit_code != 0
    assert "r2 = 0.5, target >= 0.9" in refused.output
    listed = runner.invoke(app, [*args, "deployments", "list", "--json"])
    assert listed.exit_code == 0, listed.output
    rows = json.loads(listed.output)
    [rejected] = [r for r in rows if r["environment"] == "staging"]
    assert rejected["state"] == "rejected"
    assert {g["name"]: g["status"] for g in rejected["gates"]} == {
        "libraries": "passed",
        "resources": "passed",
        "data_validation": "skipped",
        "expected_outputs": "skipped",
        "metrics": "failed",
        "loadtest": "skipped",
    }
    shown = runner.invoke(app, [*args, "deployments", "show", rejected["id"][:8]])
    assert shown.exit_code == 0, shown.output
    assert "gate metrics failed" in shown.output and "r2 = 0.5" in shown.output
    forced = runner.invoke(
        app,
        [
            *args,
            *"promote scoring --from test --to staging -r known --json".split(),
            "--override-gate",
            "metrics",
        ],
        env={"MLOOP_USER": "rui"},
    )
    assert forced.exit_code == 0, forced.output
    [gate] = [g for g in json.loads(forced.output)["gates"] if g["name"] == "metrics"]
    assert (gate["status"], gate["by"], gate["why"]) == (
        "overridden",
        "rui",
        "known",
    )


# -- mloop.yaml -------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("block", "wanted"),
    [
        ("gates: {metrics: {accuracy: '>= 0.85'}, speed: 3}", "unknown setting"),
        ("gates: {metrics: {accuracy: 'at least 0.85'}}", "not a comparison"),
        ("resources: {cpu: 8, disk: 10GB}", "unknown setting"),
        ("resources: {memory: lots}", "not a size"),
    ],
)
def test_gate_settings_are_checked_when_the_file_is_read(
    project_dir: Path, block: str, wanted: str
) -> None:
    (project_dir / "mloop.yaml").write_text(
        textwrap.dedent(
            f"""
            environments:
              prod:
                {block}
            """
        )
    )
    with pytest.raises(ProjectFileError, match=wanted) as error:
        load_settings(project_dir, env="prod")
    assert "line 4" in str(error.value) or error.value.line == 4  # type: ignore[attr-defined]


def test_valid_gate_settings_are_read(project_dir: Path) -> None:
    (project_dir / "mloop.yaml").write_text(
        "environments:\n  prod:\n    resources: {cpu: 8, memory: 32GB, gpu: 1}\n"
        "    gates: {metrics: {accuracy: '>= 0.85', rmse: '<= 3.0'}, "
        "expected_outputs: examples.csv, tolerance: 1.0e-6}\n"
    )
    settings = load_settings(project_dir, env="prod")
    assert settings.resources is not None and settings.resources.memory == "32GB"
    assert settings.gates.metrics == {"accuracy": ">= 0.85", "rmse": "<= 3.0"}
    assert settings.gates.expected_outputs == "examples.csv"
    assert capacity_of(settings.resources).memory == 32 * 10**9


# -- expected outputs (the served path: tests/integration/test_gates_outputs.py) ---------------
def test_outputs_compare_within_the_tolerance_and_name_the_rows(tmp_path: Path) -> None:
    from mloop.cicd.gates.outputs import compare_outputs, read_examples
    from mloop.errors import ValidationError

    assert compare_outputs([1.0, "bad"], [1.0 + 1e-9, "bad"], 1e-6, "prediction") == []
    assert compare_outputs([1.0, 2.0, "bad"], [1.1, 2.0, "good"], 1e-6, "prediction") == [
        "row 0: prediction expected 1.0, got 1.1",
        "row 2: prediction expected 'bad', got 'good'",
    ]
    assert compare_outputs([1.0], [1.0, 2.0], 0.0, "p") == ["2 answers for 1 example rows"]
    assert compare_outputs([float("nan")], [float("nan")], 0.0, "p") == []
    path = tmp_path / "examples.csv"
    path.write_text("a,b,prediction\n1,x,0.5\n2,y,0.25\n")
    frame, expected = read_examples(path, "prediction")
    assert list(frame.columns) == ["a", "b"] and expected == [0.5, 0.25]
    with pytest.raises(ValidationError, match="no 'label' column"):
        read_examples(path, "label")
    with pytest.raises(ValidationError, match="does not exist"):
        read_examples(tmp_path / "missing.csv", "prediction")


def test_a_saved_model_records_its_answers_on_its_input_example(tmp_path: Path) -> None:
    import numpy as np
    import pandas as pd
    from sklearn.linear_model import LogisticRegression

    from mloop.models import open_package, save_model

    x = pd.DataFrame({"a": np.arange(12.0), "b": np.arange(12.0) % 2})
    y = np.where(x["a"] > 5, "bad", "good")
    package = save_model(LogisticRegression().fit(x, y), tmp_path / "m", input_example=x.iloc[4:8])
    reopened = open_package(tmp_path / "m")  # the file is part of the verified package
    assert reopened.expected_output() == list(package.load().predict(x.iloc[4:8]))
    assert "expected_output.json" in reopened.manifest.files


def test_a_package_whose_code_fails_to_compile_here_is_refused_and_recorded(
    cicd_project: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    body = "def scoring(n: int = 3, factor: int = 1):\n"
    broken = HEAVY.replace(
        body,
        body + "    import os\n    if os.environ.get('GATES_BREAK'):\n        raise "
        "RuntimeError('needs SECRET_TOKEN')\n",
    )
    (cicd_project / "pipelines" / "scoring.py").write_text(broken.lstrip("\n"))
    _edit_env(cicd_project, "test", resources={"cpu": 8, "memory": "32GB", "gpu": 1})
    build_package(open_environment(cicd_project, "test"), "scoring", created_by="alice")
    monkeypatch.setenv("GATES_BREAK", "1")  # the body reads its environment (as the demo's does)
    with pytest.raises(GateRefusedError, match="RuntimeError: needs SECRET_TOKEN"):
        promotion.deploy(cicd_project, "scoring", "test", reason="r", actor="alice")
    [rejected] = open_environment(cicd_project, "test").deployments.list_deployments()
    assert rejected.state is DeploymentState.REJECTED


def test_a_ray_environment_without_declared_resources_leaves_it_to_the_cluster() -> None:
    from mloop.pipelines.capacity import capacity_applies

    assert not capacity_applies(None, {"type": "ray", "address": "ray://head:10001"})
    assert capacity_applies({"cpu": 4}, {"type": "ray"})
    assert capacity_applies(None, {"type": "local"})


# -- loadtest ----------------------------------------------------------------------------------
def _load_test(project: Path, env: str, version, qps: float, error_rate: float = 0.0) -> str:  # type: ignore[no-untyped-def]
    """Record a load test of ``version`` in ``env`` as ``mloop loadtest`` does; its run id."""
    from mloop.cicd.loadtest.record import TestedModel, record_loadtest
    from mloop.cicd.loadtest.run import LoadResult
    from mloop.registry.registry import ModelRegistry

    target = open_environment(project, env)
    result = LoadResult(
        url="http://127.0.0.1:1",
        concurrency=8,
        rows=1,
        duration_s=2.0,
        requests=int(qps * 2),
        errors=0,
        qps=qps,
        p50_ms=4.0,
        p99_ms=9.0,
        error_rate=error_rate,
    )
    tested = TestedModel(version.model_uri, version.name, version.version)
    registry = ModelRegistry(target.store, target.artifacts)
    return record_loadtest(result, tested, [], store=target.store, registry=registry)


def test_the_loadtest_gate_needs_a_recorded_test_within_the_budget(cicd_project: Path) -> None:
    path = cicd_project / "mloop.yaml"
    data = yaml.safe_load(path.read_text())
    data["loadtest"] = {"min_qps": 100, "max_error_rate": 0.01}
    data["environments"]["staging"]["gates"] = {"loadtest": True}
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    build_package(open_environment(cicd_project, "test"), "scoring", created_by="alice")
    promotion.deploy(cicd_project, "scoring", "test", reason="r", actor="alice")
    version = _model_of_package(cicd_project, "test", {"r2": 0.95})

    with pytest.raises(GateRefusedError, match="has no recorded load test: run `mloop loadtest"):
        promotion.promote(cicd_project, "scoring", source="test", target="staging", reason="r")

    _load_test(cicd_project, "test", version, qps=50.0)
    with pytest.raises(GateRefusedError, match=r"QPS 50\.0 is below min_qps 100"):
        promotion.promote(cicd_project, "scoring", source="test", target="staging", reason="r")

    _load_test(cicd_project, "test", version, qps=400.0, error_rate=0.02)  # the latest counts
    with pytest.raises(GateRefusedError, match=r"error rate 0\.0200 is over max_error_rate"):
        promotion.promote(cicd_project, "scoring", source="test", target="staging", reason="r")

    run_id = _load_test(cicd_project, "test", version, qps=400.0)
    done = promotion.promote(
        cicd_project, "scoring", source="test", target="staging", reason="r", actor="bob"
    )
    [gate] = [g for g in done.deployment.details["gates"] if g["name"] == "loadtest"]
    assert gate["status"] == "passed"
    assert gate["facts"]["models"][version.model_uri]["run_id"] == run_id
    assert gate["facts"]["models"][version.model_uri]["qps"] == 400.0


def test_an_environment_without_the_loadtest_gate_skips_it(cicd_project: Path) -> None:
    build_package(open_environment(cicd_project, "test"), "scoring", created_by="alice")
    done = promotion.deploy(cicd_project, "scoring", "test", reason="r", actor="alice")
    [gate] = [g for g in done.deployment.details["gates"] if g["name"] == "loadtest"]
    assert gate["status"] == "skipped"


# -- gates again at approval -------------------------------------------------------------------
def _pending_in_staging(project: Path) -> str:
    """A package promoted test -> staging (review) whose model meets r2 >= 0.9; its id."""
    _edit_env(project, "staging", gates={"metrics": {"r2": ">= 0.9"}})
    build_package(open_environment(project, "test"), "scoring", created_by="alice")
    promotion.deploy(project, "scoring", "test", reason="r", actor="alice")
    _model_of_package(project, "test", {"r2": 0.95})
    asked = promotion.promote(
        project, "scoring", source="test", target="staging", reason="r", actor="alice"
    )
    assert asked.deployment.state is DeploymentState.PENDING_APPROVAL
    return asked.deployment.id


def test_approval_runs_the_gates_again_and_a_failure_rejects_it(cicd_project: Path) -> None:
    """The target rose while the deployment waited: the approval is refused and recorded."""
    deployment_id = _pending_in_staging(cicd_project)
    _edit_env(cicd_project, "staging", gates={"metrics": {"r2": ">= 0.99"}})

    with pytest.raises(GateRefusedError, match=r"r2 = 0\.95, target >= 0\.99"):
        promotion.approve(cicd_project, deployment_id, reason="looks fine", actor="bob")

    staging = open_environment(cicd_project, "staging")
    done = staging.deployments.get_deployment(deployment_id)
    assert done.state is DeploymentState.REJECTED
    assert done.decided_by == "mloop gates"
    assert done.decision_reason == "CD gates failed at approval: metrics"
    [gate] = [g for g in done.details["approval_gates"] if g["name"] == "metrics"]
    assert gate["status"] == "failed"
    assert [g["status"] for g in done.details["gates"] if g["name"] == "metrics"] == ["passed"]
    assert staging.deployments.active_deployment("staging", "scoring") is None


def test_approval_records_its_gates_and_an_approvers_override(cicd_project: Path) -> None:
    deployment_id = _pending_in_staging(cicd_project)
    live = promotion.approve(cicd_project, deployment_id, reason="checked", actor="bob")
    assert live.deployment.state is DeploymentState.ACTIVE
    statuses = {g["name"]: g["status"] for g in live.deployment.details["approval_gates"]}
    assert statuses["metrics"] == "passed" and statuses["libraries"] == "passed"

    again = _pending_in_staging(cicd_project)  # a second request, same package
    _edit_env(cicd_project, "staging", gates={"metrics": {"r2": ">= 0.99"}})
    with pytest.raises(ConfigError, match="names no gate"):
        promotion.approve(cicd_project, again, reason="x", actor="bob", override_gates=["r2"])
    done = promotion.approve(
        cicd_project, again, reason="0.95 is enough", actor="carol", override_gates=["metrics"]
    )
    [gate] = [g for g in done.deployment.details["approval_gates"] if g["name"] == "metrics"]
    assert (gate["status"], gate["by"], gate["why"]) == ("overridden", "carol", "0.95 is enough")


def test_an_override_at_the_request_holds_at_approval_credited_to_its_author(
    cicd_project: Path,
) -> None:
    _edit_env(cicd_project, "staging", gates={"metrics": {"r2": ">= 0.99"}})
    build_package(open_environment(cicd_project, "test"), "scoring", created_by="alice")
    promotion.deploy(cicd_project, "scoring", "test", reason="r", actor="alice")
    _model_of_package(cicd_project, "test", {"r2": 0.95})
    asked = promotion.promote(
        cicd_project,
        "scoring",
        source="test",
        target="staging",
        reason="known gap",
        actor="alice",
        override_gates=["metrics"],
    )
    done = promotion.approve(cicd_project, asked.deployment.id, reason="ok", actor="bob")
    assert done.deployment.state is DeploymentState.ACTIVE
    [gate] = [g for g in done.deployment.details["approval_gates"] if g["name"] == "metrics"]
    assert (gate["status"], gate["by"], gate["why"]) == ("overridden", "alice", "known gap")


def test_mloop_approve_takes_override_gate_and_refuses_it_with_reject(
    cicd_project: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    deployment_id = _pending_in_staging(cicd_project)
    _edit_env(cicd_project, "staging", gates={"metrics": {"r2": ">= 0.99"}})
    monkeypatch.chdir(cicd_project)
    runner = CliRunner()
    refused = runner.invoke(
        app, ["approve", deployment_id, "--reason", "r", "--reject", "--override-gate", "metrics"]
    )
    assert refused.exit_code == 2, refused.output
    assert "not a rejection" in refused.output
    ok = runner.invoke(
        app,
        ["approve", deployment_id, "--reason", "enough", "--override-gate", "metrics", "--json"],
    )
    assert ok.exit_code == 0, ok.output
    shown = json.loads(ok.output)
    assert shown["state"] == "active"
