"""Building packages: content addressing, locked requirements, diff, copies between stores."""

from __future__ import annotations

from pathlib import Path

import pytest

from mloop.cicd.environments import open_environment
from mloop.cicd.packages import build_package, copy_package, diff_packages, locked_requirements
from mloop.errors import ConfigError, IntegrityError


def test_requirements_are_locked_from_this_interpreter() -> None:
    import importlib.metadata

    reqs = locked_requirements()
    assert [r.split("==")[0] for r in reqs] == sorted(r.split("==")[0] for r in reqs)
    assert f"pyyaml=={importlib.metadata.version('pyyaml')}" in reqs


def test_build_is_content_addressed_and_diff_names_what_changed(cicd_project: Path) -> None:
    env = open_environment(cicd_project, "test")
    first = build_package(env, "scoring", created_by="a")
    assert build_package(env, "scoring").id == first.id
    assert first.manifest["params"] == {"n": 3, "factor": 2}  # mloop.yaml over the defaults
    assert first.manifest["entrypoint"] == "pipelines/scoring.py:scoring"
    assert env.artifacts.exists(first.uri)
    (cicd_project / "helpers" / "numbers.py").write_text(
        "def scale(value: int, factor: int) -> int:\n    return value + factor\n"
    )
    second = build_package(env, "scoring", params={"n": 5})
    assert second.version == 2 and second.digest != first.digest
    diff = diff_packages(first, second)
    assert diff["code"] == {"added": [], "removed": [], "changed": ["helpers/numbers.py"]}
    assert diff["params"] == {"n": {"a": 3, "b": 5}}
    # load: its parameter n changed; transform: the helper it calls changed (helpers join the
    # step's code digest)
    assert diff["steps"]["changed"] == ["load", "transform"]
    assert diff_packages(first, first)["same"] is True


def test_an_unknown_pipeline_or_outside_entrypoint_is_refused(cicd_project: Path) -> None:
    env = open_environment(cicd_project, "test")
    with pytest.raises(ConfigError, match="no pipeline 'nope'"):
        build_package(env, "nope")
    text = (cicd_project / "mloop.yaml").read_text()
    (cicd_project / "mloop.yaml").write_text(
        text.replace("pipelines/scoring.py:scoring", "/etc/hosts.py:scoring")
    )
    with pytest.raises(ConfigError, match="not inside the project folder"):
        build_package(open_environment(cicd_project, "test"), "scoring")


def test_a_copy_to_another_environment_is_checked(cicd_project: Path) -> None:
    test, staging = (
        open_environment(cicd_project, "test"),
        open_environment(cicd_project, "staging"),
    )
    package = build_package(test, "scoring")
    copied = copy_package(test, staging, package)
    assert (copied.digest, copied.version) == (package.digest, package.version)
    assert staging.artifacts.exists(copied.uri)
    assert copy_package(test, staging, package).id == copied.id
    prod = open_environment(cicd_project, "prod")
    root = Path(test.settings.artifact_root) / package.uri / "code" / "helpers" / "numbers.py"
    root.write_text("tampered = True\n")
    with pytest.raises(IntegrityError):
        copy_package(test, prod, package)


def test_a_package_whose_steps_compile_to_other_code_is_refused(cicd_project: Path) -> None:
    import json
    import shutil

    from mloop.errors import PackageIntegrityError
    from mloop.pipelines import packaged

    env = open_environment(cicd_project, "test")
    package = build_package(env, "scoring")
    pipeline, _ = packaged.load_packaged_pipeline(
        env.artifacts, package.uri, package.digest, cicd_project / "cache"
    )
    assert pipeline.name == "scoring"
    # a manifest that is self-consistent (its digest matches) but claims other step code
    staging = env.artifacts.new_staging_dir()
    with env.artifacts.open_local(package.uri) as local:
        shutil.copytree(local, staging, dirs_exist_ok=True)
    manifest = json.loads((staging / "manifest.json").read_text())
    manifest["spec"]["steps"]["transform"]["code"] = "0" * 64
    manifest["digest"] = packaged.package_digest(manifest)
    (staging / "manifest.json").write_text(json.dumps(manifest))
    env.artifacts.put_dir(staging, "packages/forged")
    with pytest.raises(PackageIntegrityError, match=r"\['transform'\]"):
        packaged.load_packaged_pipeline(
            env.artifacts, "packages/forged", manifest["digest"], cicd_project / "cache"
        )
