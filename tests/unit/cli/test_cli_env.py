"""`--env` on the command line reaches the steps (issue 17.1): a step's metrics, the registry
components use and the alias push moves all belong to the run's environment, with `run --env`,
`mloop --env ... run` and MLOOP_ENV alike; one store per run, passed down, never looked up."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from mloop.cli.main import app
from mloop.metadata import connect

PIPELINE = """
import mloop
from mloop import pipeline, step


@step
def measure(x: int = 2) -> dict:
    from mloop.components.run_links import project_registry, step_environment

    mloop.log_metrics({"m": x / 4})
    registry = project_registry()
    return {"env": step_environment(), "artifacts": str(registry.artifacts.root)}


@pipeline
def p(x: int = 2):
    measure(x)
"""


@pytest.fixture
def project(project_dir: Path) -> Path:
    (project_dir / "mloop.yaml").write_text(
        "environments:\n"
        "  dev: {metadata: sqlite:///.mloop/dev.db, artifacts: .mloop/dev-art}\n"
        "  staging: {metadata: sqlite:///.mloop/staging.db, artifacts: .mloop/staging-art}\n"
    )
    (project_dir / "pipe.py").write_text(PIPELINE)
    return project_dir


@pytest.mark.parametrize(
    ("args", "env"),
    [
        (
            [
                "run",
                "pipe.py:p",
                "--env",
                "staging",
            ],
            {},
        ),
        (
            [
                "--env",
                "staging",
                "run",
                "pipe.py:p",
            ],
            {},
        ),
        (["run", "pipe.py:p"], {"MLOOP_ENV": "staging"}),
    ],
)
def test_steps_use_the_runs_environment(project: Path, args, env) -> None:
    result = CliRunner().invoke(app, args, env=env)
    assert result.exit_code == 0, result.output
    staging = connect(f"sqlite:///{project / '.mloop' / 'staging.db'}")
    (run,) = staging.search_runs(pipeline_name="p")
    run_id = run.id
    assert [m.value for m in staging.get_metrics(run_id, "m")] == [0.5]
    assert staging.get_run(run_id).environment == "staging"
    assert not (project / ".mloop" / "dev.db").exists()  # the default env was never opened
    from mloop.artifacts import connect as connect_artifacts
    from mloop.pipelines.run_handle import RunHandle

    handle = RunHandle(run_id, staging, connect_artifacts(str(project / ".mloop/staging-art")))
    seen = handle.outputs["measure"]
    assert seen["env"] == "staging" and seen["artifacts"].endswith("staging-art")


def test_the_feature_store_of_a_step_or_command_is_the_runs_environment(project: Path) -> None:
    from mloop.features.store import FeatureStore

    assert FeatureStore(project, env="staging").settings.environment == "staging"
    assert FeatureStore(project).settings.environment == "dev"
    result = CliRunner().invoke(app, ["--env", "staging", "features", "list", "--json"])
    assert result.exit_code == 0, result.output
    assert not (project / ".mloop" / "dev.db").exists()
