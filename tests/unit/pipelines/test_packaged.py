"""The package format: which files a pipeline's code is, the digest, and refusing a changed copy."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from mloop.errors import IntegrityError
from mloop.pipelines import packaged


def write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


def test_source_files_follow_the_projects_own_imports(tmp_path: Path) -> None:
    entry = write(
        tmp_path / "pipelines" / "train.py",
        "import os\nimport polars as pl\nfrom mloop import step\n"
        "import sibling\nfrom lib.features import make\nfrom lib import models\n",
    )
    write(tmp_path / "pipelines" / "sibling.py", "from . import nothing_here\n")
    write(tmp_path / "lib" / "__init__.py", "")
    write(tmp_path / "lib" / "features.py", "from .shared import x\n")
    write(tmp_path / "lib" / "shared.py", "x = 1\n")
    write(tmp_path / "lib" / "models.py", "")
    write(tmp_path / "lib" / "unused.py", "")  # not imported: not code of the pipeline
    write(tmp_path / ".venv" / "lib" / "site-packages" / "polars.py", "")
    write(tmp_path / "pipelines" / "notes.txt", "")
    files = [p.relative_to(tmp_path).as_posix() for p in packaged.source_files(entry, tmp_path)]
    assert files == [
        "lib/__init__.py",
        "lib/features.py",
        "lib/models.py",
        "lib/shared.py",
        "pipelines/sibling.py",
        "pipelines/train.py",
    ]


def test_an_import_cycle_terminates(tmp_path: Path) -> None:
    a = write(tmp_path / "a.py", "import b\n")
    write(tmp_path / "b.py", "import a\n")
    assert [p.name for p in packaged.source_files(a, tmp_path)] == ["a.py", "b.py"]


def test_the_digest_covers_every_field_but_itself() -> None:
    base = {
        "format": 1,
        "pipeline": "p",
        "entrypoint": "p.py:p",
        "graph_version": "g",
        "spec": {},
        "code": {"p.py": "1"},
        "requirements": ["x==1"],
        "params": {"a": None},
    }
    digest = packaged.package_digest(base)
    assert packaged.package_digest({**base, "digest": "whatever"}) == digest
    for key, value in [("code", {"p.py": "2"}), ("requirements", ["x==2"]), ("params", {})]:
        assert packaged.package_digest({**base, key: value}) != digest


def _package(folder: Path) -> str:
    code = {"p.py": None}
    write(folder / "code" / "p.py", "print('hi')\n")
    from mloop._utils.hashing import sha256_file

    code = {"p.py": sha256_file(folder / "code" / "p.py")}
    manifest = {"format": 1, "pipeline": "p", "entrypoint": "p.py:p", "code": code}
    manifest["digest"] = packaged.package_digest(manifest)
    write(folder / "manifest.json", json.dumps(manifest))
    return str(manifest["digest"])


def test_verify_accepts_the_package_and_refuses_any_change(tmp_path: Path) -> None:
    digest = _package(tmp_path / "pkg")
    assert packaged.verify_package_dir(tmp_path / "pkg", digest)["digest"] == digest
    with pytest.raises(IntegrityError):
        packaged.verify_package_dir(tmp_path / "pkg", "0" * 64)  # not the recorded digest
    write(tmp_path / "pkg" / "code" / "extra.py", "")
    with pytest.raises(IntegrityError, match=r"extra\.py"):
        packaged.verify_package_dir(tmp_path / "pkg", digest)
    (tmp_path / "pkg" / "code" / "extra.py").unlink()
    write(tmp_path / "pkg" / "code" / "p.py", "print('changed')\n")
    with pytest.raises(IntegrityError, match=r"p\.py"):
        packaged.verify_package_dir(tmp_path / "pkg", digest)
