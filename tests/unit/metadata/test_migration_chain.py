"""The migration scripts form one linear chain, numbered in order, ending at HEAD_REVISION."""

from __future__ import annotations

import importlib.util

from mloop.metadata.sql.schema import _VERSIONS, HEAD_REVISION


def test_migration_scripts_form_a_linear_numbered_chain():
    scripts = sorted(_VERSIONS.glob("[0-9][0-9][0-9][0-9]_*.py"))
    assert scripts, "no migration scripts found"
    previous = None
    for path in scripts:
        spec = importlib.util.spec_from_file_location(path.stem, path)
        assert spec is not None and spec.loader is not None
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        assert module.revision == path.stem, f"{path.name}: revision must equal the file name"
        assert module.down_revision == previous, f"{path.name}: down_revision must be {previous}"
        previous = module.revision
    assert previous == HEAD_REVISION
