"""The project file and settings: defaults, environments, precedence, errors with a line."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from mloop.config import find_project_dir, load_settings, read_project_file
from mloop.errors import ConfigError, ProjectFileError


def write_project(folder: Path, text: str) -> Path:
    path = folder / "mloop.yaml"
    path.write_text(textwrap.dedent(text).lstrip("\n"), encoding="utf-8")
    return path


TWO_ENVS = """
project: lending
environments:
  dev:
    metadata: sqlite:///.mloop/dev.db
    artifacts: .mloop/dev-artifacts
  staging:
    metadata: postgresql+psycopg://db.internal/mloop
    artifacts: s3://bucket/mloop
    runner: {type: ray, address: auto}
"""


def test_no_project_file_puts_everything_under_dot_mloop(project_dir: Path) -> None:
    settings = load_settings()
    assert settings.project_dir == project_dir.resolve()
    assert settings.project_file is None
    assert settings.environment == "dev"
    assert settings.metadata_url == f"sqlite:///{project_dir.resolve() / '.mloop' / 'mloop.db'}"
    assert Path(settings.artifact_root) == project_dir.resolve() / ".mloop" / "artifacts"
    assert settings.runner == {"type": "local"}
    assert settings.state_dir == project_dir.resolve() / ".mloop"


def test_empty_project_file_is_the_defaults(project_dir: Path) -> None:
    write_project(project_dir, "# nothing yet\n")
    settings = load_settings()
    assert settings.project_file == project_dir.resolve() / "mloop.yaml"
    assert settings.metadata_url.endswith("/.mloop/mloop.db")


def test_environment_is_picked_by_mloop_env(
    project_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    write_project(project_dir, TWO_ENVS)
    assert load_settings().environment == "dev"  # "dev" is the default when defined
    monkeypatch.setenv("MLOOP_ENV", "staging")
    settings = load_settings()
    assert settings.environment == "staging"
    assert settings.project == "lending"
    assert settings.metadata_url == "postgresql+psycopg://db.internal/mloop"
    assert settings.artifact_root == "s3://bucket/mloop"
    assert settings.runner == {"type": "ray", "address": "auto"}


def test_argument_beats_mloop_env(project_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    write_project(project_dir, TWO_ENVS)
    monkeypatch.setenv("MLOOP_ENV", "staging")
    settings = load_settings(env="dev")
    assert settings.environment == "dev"
    assert settings.metadata_url == f"sqlite:///{project_dir.resolve() / '.mloop' / 'dev.db'}"


def test_default_environment_key_is_used_when_nothing_else_says(project_dir: Path) -> None:
    write_project(project_dir, TWO_ENVS + "default_environment: staging\n")
    assert load_settings().environment == "staging"


def test_unknown_environment_is_a_config_error_naming_the_choices(project_dir: Path) -> None:
    write_project(project_dir, TWO_ENVS)
    with pytest.raises(ConfigError) as caught:
        load_settings(env="prod")
    message = str(caught.value)
    assert "'prod'" in message and "dev" in message and "staging" in message
    assert not isinstance(caught.value, ProjectFileError)


def test_variables_and_arguments_override_the_file(
    project_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    write_project(project_dir, TWO_ENVS)
    monkeypatch.setenv("MLOOP_METADATA_URL", "sqlite:////tmp/from-env.db")
    monkeypatch.setenv("MLOOP_ARTIFACT_ROOT", "/tmp/from-env-artifacts")
    settings = load_settings()
    assert settings.metadata_url == "sqlite:////tmp/from-env.db"
    assert settings.artifact_root == "/tmp/from-env-artifacts"
    settings = load_settings(metadata_url="sqlite:///arg.db", artifact_root="arg-artifacts")
    assert settings.metadata_url == f"sqlite:///{project_dir.resolve() / 'arg.db'}"
    assert settings.artifact_root == str(project_dir.resolve() / "arg-artifacts")


def test_relative_sqlite_path_is_resolved_against_the_project_not_the_cwd(
    project_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    write_project(project_dir, TWO_ENVS)
    below = project_dir / "pipelines" / "deep"
    below.mkdir(parents=True)
    monkeypatch.chdir(below)
    assert find_project_dir() == project_dir.resolve()
    settings = load_settings()
    assert settings.project_dir == project_dir.resolve()
    assert settings.metadata_url == f"sqlite:///{project_dir.resolve() / '.mloop' / 'dev.db'}"
    assert settings.artifact_root == str(project_dir.resolve() / ".mloop" / "dev-artifacts")


def test_absolute_and_memory_sqlite_urls_are_kept(project_dir: Path) -> None:
    write_project(
        project_dir,
        """
        environments:
          a: {metadata: "sqlite:////var/tmp/abs.db"}
          b: {metadata: "sqlite:///:memory:"}
        """,
    )
    assert load_settings(env="a").metadata_url == "sqlite:////var/tmp/abs.db"
    assert load_settings(env="b").metadata_url == "sqlite:///:memory:"


def test_variables_are_expanded_inside_values(
    project_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("DB_PASSWORD", "s3cret")
    monkeypatch.setenv("BUCKET", "models")
    write_project(
        project_dir,
        """
        environments:
          prod:
            metadata: postgresql+psycopg://mloop:${DB_PASSWORD}@db/mloop
            artifacts: s3://${BUCKET}/mloop
        """,
    )
    settings = load_settings(env="prod")
    assert settings.metadata_url == "postgresql+psycopg://mloop:s3cret@db/mloop"
    assert settings.artifact_root == "s3://models/mloop"


def test_an_unset_variable_is_a_project_file_error_naming_it(
    project_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("MLOOP_TEST_UNSET_VARIABLE", raising=False)
    path = write_project(
        project_dir,
        """
        environments:
          dev: {metadata: "postgresql://u:${MLOOP_TEST_UNSET_VARIABLE}@db/x"}
        """,
    )
    with pytest.raises(ProjectFileError) as caught:
        load_settings()
    assert "MLOOP_TEST_UNSET_VARIABLE" in str(caught.value)
    assert caught.value.path == str(path)


def test_malformed_yaml_names_the_file_and_line(project_dir: Path) -> None:
    path = write_project(
        project_dir,
        """
        project: lending
        environments:
          dev:
            metadata: sqlite:///a.db
           artifacts: [unclosed
        """,
    )
    with pytest.raises(ProjectFileError) as caught:
        load_settings()
    error = caught.value
    assert error.path == str(path)
    assert error.line == 5
    assert str(error).startswith(f"{path}:5")
    assert "YAML" in str(error)


def test_unknown_key_names_the_file_line_and_key(project_dir: Path) -> None:
    path = write_project(
        project_dir,
        """
        project: lending
        environments:
          dev:
            metadata: sqlite:///a.db
            artefacts: .mloop/artifacts
        """,
    )
    with pytest.raises(ProjectFileError) as caught:
        load_settings()
    error = caught.value
    assert (error.path, error.line, error.key) == (str(path), 5, "environments.dev.artefacts")
    assert f"{path}:5" in str(error) and "environments.dev.artefacts" in str(error)
    assert "unknown setting" in str(error)


def test_unknown_top_level_key_points_at_its_line(project_dir: Path) -> None:
    path = write_project(project_dir, "project: lending\n\npipeline:\n  x: 1\n")
    with pytest.raises(ProjectFileError) as caught:
        read_project_file(path)
    assert (caught.value.line, caught.value.key) == (3, "pipeline")


def test_wrong_type_names_the_file_line_and_key(project_dir: Path) -> None:
    path = write_project(
        project_dir,
        """
        project: lending
        environments:
          dev:
            metadata: sqlite:///a.db
        pipelines:
          training:
            entrypoint: pipelines/training.py:training
            triggers: nightly
        """,
    )
    with pytest.raises(ProjectFileError) as caught:
        load_settings()
    error = caught.value
    assert (error.path, error.line, error.key) == (str(path), 8, "pipelines.training.triggers")
    assert f"{path}:8" in str(error)


def test_missing_required_key_points_at_its_parent(project_dir: Path) -> None:
    write_project(
        project_dir,
        """
        pipelines:
          training:
            params: {a: 1}
        """,
    )
    with pytest.raises(ProjectFileError) as caught:
        load_settings()
    assert caught.value.key == "pipelines.training.entrypoint"
    assert caught.value.line == 2  # the deepest existing node: "training:"
    assert "missing" in str(caught.value)


def test_a_list_at_the_top_is_refused(project_dir: Path) -> None:
    path = write_project(project_dir, "- a\n- b\n")
    with pytest.raises(ProjectFileError) as caught:
        load_settings()
    assert caught.value.path == str(path) and caught.value.line == 1


def test_pipelines_section_is_carried_into_settings(project_dir: Path) -> None:
    write_project(
        project_dir,
        """
        pipelines:
          training:
            entrypoint: pipelines/training.py:training
            params: {n_estimators: 50}
            triggers:
              - schedule: "0 3 * * *"
        """,
    )
    training = load_settings().pipelines["training"]
    assert training.entrypoint == "pipelines/training.py:training"
    assert training.params == {"n_estimators": 50}
    assert training.triggers == [{"schedule": "0 3 * * *"}]


def test_the_demo_project_file_is_valid(project_dir: Path) -> None:
    demo = Path(__file__).resolve().parents[2] / "examples" / "lending_club"
    settings = load_settings(demo, env="dev")
    assert settings.project == "lending_club"
    assert settings.metadata_url == f"sqlite:///{demo / '.mloop' / 'mloop.db'}"
    assert "training" in settings.pipelines


def test_promotion_policy_per_environment(project_dir: Path) -> None:
    write_project(
        project_dir,
        """
        environments:
          test: {metadata: sqlite:///t.db}
          staging:
            metadata: sqlite:///s.db
            promotion: {from: test, approval: review}
          prod:
            metadata: sqlite:///p.db
            promotion: {from: staging, approval: manual, min_successful_runs: 3}
        """,
    )
    test = load_settings(env="test")
    prod = load_settings(env="prod")
    assert (test.promotion.source, test.promotion.approval) == (None, "auto")
    assert test.promotion.min_successful_runs == 0
    assert (prod.promotion.source, prod.promotion.approval) == ("staging", "manual")
    assert prod.promotion.min_successful_runs == 3
    assert prod.environments == ("test", "staging", "prod")


def test_an_approval_key_outside_promotion_points_at_the_promotion_policy(
    project_dir: Path,
) -> None:
    write_project(
        project_dir,
        """
        environments:
          prod:
            metadata: sqlite:///p.db
            approval: manual
        """,
    )
    with pytest.raises(ProjectFileError) as caught:
        load_settings()
    assert caught.value.key == "environments.prod.approval"
    assert "promotion:" in str(caught.value)


@pytest.mark.parametrize(
    "policy",
    ["{approval: sometimes}", "{min_successful_runs: -1}", "{from: test, approvers: 2}"],
)
def test_a_bad_promotion_policy_is_refused(project_dir: Path, policy: str) -> None:
    write_project(
        project_dir,
        f"""
        environments:
          prod:
            metadata: sqlite:///p.db
            promotion: {policy}
        """,
    )
    with pytest.raises(ProjectFileError) as caught:
        load_settings()
    assert (caught.value.key or "").startswith("environments.prod.promotion")
