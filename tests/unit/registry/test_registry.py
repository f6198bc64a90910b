"""Registry: numbered versions linked to their run and data, aliases whose every move is kept
with who and why, rollback through that history, search, and ``models:/`` URIs."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from mloop.errors import IntegrityError, ModelNotFoundError, ValidationError
from mloop.registry import parse_model_uri


def test_versions_are_numbered_and_linked(registry, make_package):
    store = registry.store
    run = store.create_run("exp")
    first = registry.register_model(
        "lending", make_package(1.0), run_id=run.id, metrics={"roc_auc": 0.8}, tags={"team": "risk"}
    )
    second = registry.register_model("lending", make_package(0.1).path)
    assert (first.version, second.version) == (1, 2)
    assert first.run_id == run.id and first.metrics == {"roc_auc": 0.8}
    assert first.flavor == "sklearn" and first.signature["inputs"][0]["name"] == "a"
    assert registry.artifacts.exists(first.uri)
    assert [v.version for v in registry.list_versions("lending")] == [2, 1]
    assert registry.get_model("lending").latest_version == 2


def test_the_same_bytes_are_stored_once(registry, make_package):
    pkg = make_package()
    a = registry.register_model("m", pkg)
    b = registry.register_model("m", pkg)
    assert a.uri == b.uri and (a.version, b.version) == (1, 2)


def test_aliases_keep_a_full_history(registry, make_package):
    for c in (1.0, 0.5, 0.1):
        registry.register_model("m", make_package(c))
    registry.set_alias("m", "production", 1, reason="first", actor="alice")
    registry.set_alias("m", "production", 2, reason="better AUC", actor="ci")
    registry.set_alias("m", "staging", 3, reason="try it", actor="bob")
    assert registry.get_alias("m", "production").version == 2
    assert registry.alias_version("m", "staging") == 3
    assert registry.get_alias("m", "nope") is None
    history = registry.alias_history("m", "production")
    assert [(h.from_version, h.to_version, h.actor, h.reason) for h in history] == [
        (None, 1, "alice", "first"),
        (1, 2, "ci", "better AUC"),
    ]
    assert len(registry.alias_history("m")) == 3
    assert registry.get_model_version("m", 2).aliases == ("production",)
    assert registry.get_model("m").aliases == {"production": 2, "staging": 3}


def test_rollback_walks_back_through_promotions(registry, make_package):
    for c in (1.0, 0.5, 0.1):
        registry.register_model("m", make_package(c))
    for v in (1, 2, 3):
        registry.set_alias("m", "production", v, reason=f"promote v{v}")
    back = registry.rollback("m", "production", reason="v3 misbehaves", actor="oncall")
    assert (back.from_version, back.to_version, back.kind) == (3, 2, "rollback")
    again = registry.rollback("m", "production", reason="v2 too")
    assert again.to_version == 1  # not back to v3
    with pytest.raises(ValidationError, match="no earlier version"):
        registry.rollback("m", "production", reason="nothing left")
    assert registry.alias_history("m", "production")[-1].reason == "v2 too"


def test_rollback_and_alias_errors(registry, make_package):
    registry.register_model("m", make_package())
    with pytest.raises(ModelNotFoundError, match="alias is not set"):
        registry.rollback("m", "production", reason="x")
    with pytest.raises(ModelNotFoundError, match="no such version"):
        registry.set_alias("m", "production", 9, reason="x")
    with pytest.raises(ModelNotFoundError, match="'other'"):
        registry.set_alias("other", "production", 1, reason="x")
    with pytest.raises(ValidationError, match="reason"):
        registry.set_alias("m", "production", 1, reason="  ")
    with pytest.raises(ValidationError, match="version number"):
        registry.set_alias("m", "7", 1, reason="x")
    registry.set_alias("m", "production", 1, reason="x")
    registry.delete_alias("m", "production", reason="retired")
    assert registry.get_alias("m", "production") is None
    assert registry.alias_history("m")[-1].kind == "delete"


def test_uris_resolve_to_versions(registry, make_package):
    registry.register_model("m", make_package(1.0))
    registry.register_model("m", make_package(0.1))
    registry.set_alias("m", "production", 1, reason="x")
    assert registry.resolve("models:/m/2").version == 2
    assert registry.resolve("models:/m/latest").version == 2
    assert registry.resolve("models:/m@production").version == 1
    with pytest.raises(ModelNotFoundError):
        registry.resolve("models:/m/5")
    with pytest.raises(ModelNotFoundError, match="staging"):
        registry.resolve("models:/m@staging")
    with pytest.raises(ModelNotFoundError):
        registry.resolve("models:/unknown@production")


@pytest.mark.parametrize("bad", ["models:/", "models:/a/b/c", "runs:/x", "models:/a@", "m/1"])
def test_malformed_uris_are_refused(bad):
    with pytest.raises(ValidationError, match="not a model URI"):
        parse_model_uri(bad)


def test_search_description_and_tags(registry, make_package):
    registry.register_model("lending_lr", make_package())
    registry.register_model("lending_gbm", make_package())
    registry.register_model("churn", make_package())
    registry.set_tags("lending_lr", {"team": "risk"})
    registry.set_description("lending_lr", "logistic baseline")
    registry.set_tags("lending_lr", {"stage": "ok"}, version=1)
    assert [m.name for m in registry.search_models("lending")] == ["lending_gbm", "lending_lr"]
    assert [m.name for m in registry.search_models(tags={"team": "risk"})] == ["lending_lr"]
    assert registry.search_models("_") != []  # LIKE wildcards are escaped, still matched
    assert registry.get_model("lending_lr").description == "logistic baseline"
    assert registry.get_model_version("lending_lr", 1).tags == {"stage": "ok"}


def test_open_package_verifies_the_registry_digest(registry, make_package):
    version = registry.register_model("m", make_package())
    x = pd.DataFrame({"a": [0.1, 0.9], "b": [0.0, 1.0]})
    model = registry.load_model("models:/m/1")
    assert list(model.predict(x)) == [0, 1]
    stored = Path(registry.artifacts.root) / version.uri / "model.joblib"  # tamper behind its back
    stored.write_bytes(stored.read_bytes() + b"junk")
    with pytest.raises(IntegrityError):
        registry.open_package("models:/m/1")


def test_names_are_checked(registry, make_package):
    with pytest.raises(ValidationError, match="not valid"):
        registry.register_model("a/b", make_package())


def test_set_alias_without_a_reason_records_that_none_was_given(project_dir, tmp_path) -> None:
    """reason is optional (issue 16.5); the history says plainly that none was given."""
    import numpy as np
    from sklearn.linear_model import LogisticRegression

    import mloop.models
    from mloop import registry

    x = np.arange(20, dtype=float).reshape(-1, 1)
    model = LogisticRegression().fit(x, (x[:, 0] > 9).astype(int))
    mloop.models.save_model(model, tmp_path / "pkg")
    version = registry.register_model("noreason", tmp_path / "pkg")
    change = registry.set_alias("noreason", "production", version.version)
    assert change.reason == registry.NO_REASON == "(no reason given)"
    registry.set_alias("noreason", "staging", version.version, reason="checked by hand")
    history = registry.alias_history("noreason")
    assert [c.reason for c in history] == [registry.NO_REASON, "checked by hand"]


def test_registry_calls_are_found_where_users_look() -> None:
    import mloop
    import mloop.models
    from mloop import registry

    assert mloop.register_model is registry.register_model
    assert mloop.set_alias is registry.set_alias
    with pytest.raises(AttributeError, match=r"registry calls are in mloop\.registry"):
        mloop.models.register_model  # noqa: B018
