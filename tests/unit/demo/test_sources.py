"""The demos find their projects where a wheel puts them (``mloop/demo/projects/<name>``, the
force-include targets of pyproject.toml), else in the checkout's ``examples/<name>``."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from mloop.demo import flights, sources
from mloop.errors import ConfigError

ROOT = Path(__file__).resolve().parents[3]


def test_the_wheel_carries_every_demo_file_where_the_demos_look() -> None:
    text = (ROOT / "pyproject.toml").read_text(encoding="utf-8")
    targets = re.findall(r'^"examples/[^"]+" = "([^"]+)"$', text, flags=re.MULTILINE)
    assert len(targets) >= 10  # the Lending Club project and the flights demo
    packaged = sources.PACKAGED.relative_to(ROOT / "src").as_posix()
    assert packaged == "mloop/demo/projects"
    for target in targets:
        assert target.startswith(packaged + "/"), target
        source = ROOT / "examples" / target.removeprefix(packaged + "/")
        assert source.is_file(), f"{target} is copied from {source}, which is missing"


def test_a_packaged_project_is_preferred_to_the_checkout(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert sources.demo_source() == ROOT / "examples" / "lending_club"  # a checkout's copy
    assert flights.flights_source() == ROOT / "examples" / "flights"
    (tmp_path / "lending_club").mkdir()
    (tmp_path / "lending_club" / "mloop.yaml").write_text("project: x\n", encoding="utf-8")
    (tmp_path / "flights").mkdir()
    (tmp_path / "flights" / "demo.py").write_text("", encoding="utf-8")
    monkeypatch.setattr(sources, "PACKAGED", tmp_path)
    monkeypatch.setattr(flights, "PACKAGED", tmp_path)
    assert sources.demo_source() == tmp_path / "lending_club"
    assert flights.flights_source() == tmp_path / "flights"


def test_no_project_anywhere_is_one_clear_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(sources, "PACKAGED", tmp_path / "none")
    monkeypatch.setattr(sources, "CHECKOUT", tmp_path)
    with pytest.raises(ConfigError, match="reinstall mloop"):
        sources.demo_source()
