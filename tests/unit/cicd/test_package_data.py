"""Data files in pipeline packages: declared ``mloop.FileInput`` values and ``package.include``
globs are packaged content-addressed, listed by show/diff, read from the package by a
deployment, refused when tampered with, and limited in size."""

from __future__ import annotations

import json
import textwrap
from pathlib import Path

import pytest
from typer.testing import CliRunner

from mloop.cicd import promotion
from mloop.cicd.environments import open_environment
from mloop.cicd.packages import build_package, copy_package, diff_packages
from mloop.controller.ondemand import request_run, run_now
from mloop.errors import ConfigError, IntegrityError
from mloop.pipelines import packaged

PROJECT = """
environments:
  test:
    metadata: sqlite:///.mloop/test.db
    artifacts: .mloop/test-artifacts
  prod:
    metadata: sqlite:///.mloop/prod.db
    artifacts: .mloop/prod-artifacts
pipelines:
  reading:
    entrypoint: pipelines/reading.py:reading
    package: {include: ["config/*.json"]}
"""

PIPELINE = """
import csv
import json

import mloop
from mloop import pipeline, step


@step
def load(path: mloop.FileInput = "data/rows.csv") -> list:
    with open(path, newline="") as f:
        return [int(row["value"]) for row in csv.DictReader(f)]


@step
def score(values: list, thresholds: str = "config/thresholds.json") -> dict:
    with open(thresholds) as f:
        limit = json.load(f)["limit"]
    return {"total": sum(values), "over": sum(v > limit for v in values)}


@pipeline
def reading(source: str = "data/rows.csv"):
    score(load(source))
"""


@pytest.fixture
def data_project(project_dir: Path) -> Path:
    (project_dir / "pipelines").mkdir()
    (project_dir / "data").mkdir()
    (project_dir / "config").mkdir()
    (project_dir / "mloop.yaml").write_text(textwrap.dedent(PROJECT).lstrip(), encoding="utf-8")
    (project_dir / "pipelines" / "reading.py").write_text(PIPELINE.lstrip(), encoding="utf-8")
    (project_dir / "data" / "rows.csv").write_text("value\n1\n5\n9\n", encoding="utf-8")
    (project_dir / "config" / "thresholds.json").write_text('{"limit": 4}', encoding="utf-8")
    return project_dir


def run_once(project: Path) -> dict:
    """Run the deployed pipeline as the controller does; the ``score`` step's output."""
    env = open_environment(project, "test")
    done = run_now(
        env.store, env.settings, request_run(env.store, env.settings, "reading", reason="test")
    )
    assert done.state.value == "succeeded", done.error
    [ex] = [e for e in env.store.list_executions(done.run_id) if e.step_name == "score"]
    [event] = [e for e in env.store.list_events(execution_id=ex.id) if e.kind.value == "output"]
    with env.artifacts.open_local(env.store.get_artifact(event.artifact_id).uri) as folder:
        return dict(json.loads(next(folder.glob("*.json")).read_text()))


def test_declared_and_listed_files_are_packaged_by_digest(data_project: Path) -> None:
    from mloop._utils.hashing import sha256_file

    env = open_environment(data_project, "test")
    first = build_package(env, "reading")
    assert first.manifest["data"] == {
        "config/thresholds.json": sha256_file(data_project / "config" / "thresholds.json"),
        "data/rows.csv": sha256_file(data_project / "data" / "rows.csv"),
    }
    assert "data/rows.csv" not in first.manifest["code"]
    with env.artifacts.open_local(first.uri) as folder:
        assert (folder / "data" / "data" / "rows.csv").read_text() == "value\n1\n5\n9\n"
    assert build_package(env, "reading").id == first.id  # unchanged bytes: the same package
    (data_project / "data" / "rows.csv").write_text("value\n1\n5\n8\n", encoding="utf-8")
    second = build_package(env, "reading")
    assert second.digest != first.digest and second.code_digest == first.code_digest
    diff = diff_packages(first, second)
    assert diff["data"] == {"added": [], "removed": [], "changed": ["data/rows.csv"]}
    assert diff["code"] == {"added": [], "removed": [], "changed": []}
    # another environment's copy is checked against the digest, data files included
    prod = open_environment(data_project, "prod")
    assert copy_package(env, prod, second).digest == second.digest
    stored = Path(env.settings.artifact_root) / first.uri / "data" / "data" / "rows.csv"
    stored.write_text("value\n0\n", encoding="utf-8")
    with pytest.raises(IntegrityError, match="corrupt or was modified"):
        copy_package(env, prod, first)  # the store's folder digest covers data/ too


def test_show_and_diff_list_the_data_files(data_project: Path) -> None:
    from mloop.cli.main import app

    runner = CliRunner()
    env = open_environment(data_project, "test")
    build_package(env, "reading")
    (data_project / "config" / "extra.json").write_text("{}", encoding="utf-8")
    build_package(env, "reading")
    shown = runner.invoke(app, ["pipeline", "show", "reading:1", "--env", "test", "--json"])
    assert shown.exit_code == 0, shown.output
    assert json.loads(shown.stdout)["data"] == ["config/thresholds.json", "data/rows.csv"]
    text = runner.invoke(app, ["pipeline", "show", "reading:1", "--env", "test"])
    assert "data/rows.csv" in text.stdout
    diff = runner.invoke(app, ["pipeline", "diff", "reading:1", "reading:2", "--env", "test"])
    assert diff.exit_code == 0 and "data added: config/extra.json" in diff.stdout


def test_a_deployment_reads_the_packaged_copy_and_refuses_a_tampered_one(
    data_project: Path,
) -> None:
    env = open_environment(data_project, "test")
    package = build_package(env, "reading")
    promotion.deploy(data_project, "reading", "test", reason="first", actor="alice")
    # the project folder's data change after the build: the deployment reads what was packaged
    (data_project / "data" / "rows.csv").write_text("value\n100\n", encoding="utf-8")
    (data_project / "config" / "thresholds.json").write_text('{"limit": 0}', encoding="utf-8")
    assert run_once(data_project) == {"total": 15, "over": 2}
    cached = data_project / ".mloop" / "packages" / package.digest / "data" / "data" / "rows.csv"
    cached.write_text("value\n2\n", encoding="utf-8")
    done = run_now(
        env.store, env.settings, request_run(env.store, env.settings, "reading", reason="test")
    )
    assert done.state.value == "failed" and "data files changed" in (done.error or "")
    cached.unlink()
    with pytest.raises(IntegrityError, match="data files changed"):
        packaged.verify_package_dir(cached.parents[2], package.digest)


def test_a_param_naming_other_data_reads_it_from_the_run_folder(data_project: Path) -> None:
    env = open_environment(data_project, "test")
    package = build_package(env, "reading")
    pipeline, _ = packaged.load_packaged_pipeline(
        env.artifacts, package.uri, package.digest, data_project / "cache"
    )
    root = (data_project / "cache" / package.digest / "data").resolve()
    graph = pipeline.compile()
    assert graph.nodes["load"].params["path"] == str(root / "data" / "rows.csv")
    assert graph.nodes["score"].params["thresholds"] == str(root / "config" / "thresholds.json")
    other = pipeline.compile(source="data/other.csv")
    assert other.nodes["load"].params["path"] == "data/other.csv"


def test_limits_and_mistakes_are_refused_with_the_reason(data_project: Path) -> None:
    project_file = data_project / "mloop.yaml"

    def build_with(package: str) -> None:
        text = textwrap.dedent(PROJECT).lstrip().replace('{include: ["config/*.json"]}', package)
        project_file.write_text(text, encoding="utf-8")
        build_package(open_environment(data_project, "test"), "reading")

    (data_project / "data" / "rows.csv").write_bytes(b"value\n" + b"1\n" * 600_000)  # 1.2 MB
    with pytest.raises(ConfigError, match=r"data/rows.csv is 1\.1 MB.*artifact or data store"):
        build_with("{max_file_mb: 1}")
    with pytest.raises(ConfigError, match="together, over the limit of 1 MB"):
        build_with("{max_file_mb: 2, max_total_mb: 1}")
    build_with("{max_file_mb: 2}")
    with pytest.raises(ConfigError, match="matches no file"):
        build_with('{include: ["data/*.parquet"]}')
    with pytest.raises(ConfigError, match="stay inside"):
        build_with('{include: ["../*.csv"]}')
    with pytest.raises(ConfigError, match="unknown key"):
        build_with("{exclude: []}")
    (data_project / "data" / "rows.csv").unlink()
    with pytest.raises(ConfigError, match=r"declared mloop\.FileInput but 'data/rows\.csv'"):
        build_with("{}")


def test_external_paths_stay_out_and_old_packages_keep_their_digest(
    data_project: Path, tmp_path_factory: pytest.TempPathFactory
) -> None:
    outside = tmp_path_factory.mktemp("external") / "rows.csv"
    outside.write_text("value\n3\n", encoding="utf-8")
    text = (data_project / "mloop.yaml").read_text(encoding="utf-8")
    (data_project / "mloop.yaml").write_text(
        text.replace('{include: ["config/*.json"]}', "{}")
        + f"    params: {{source: {json.dumps(str(outside))}}}\n",
        encoding="utf-8",
    )
    package = build_package(open_environment(data_project, "test"), "reading")
    assert "data" not in package.manifest  # an external file is read where it is
    # a manifest without data files digests as before data files existed
    fields = {k: package.manifest[k] for k in packaged._DIGESTED}
    from mloop._utils.hashing import digest_json

    assert package.digest == digest_json(fields)
    assert packaged.package_digest({**package.manifest, "data": {}}) == package.digest
