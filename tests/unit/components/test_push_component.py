"""push registers and promotes only when blessed AND infra-blessed, says why it refused, and
does nothing when the alias already serves the candidate."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from mloop.artifacts import connect as connect_artifacts
from mloop.components.infra_validate import InfraBlessing
from mloop.components.push import alias_for_environment, push_model
from mloop.evaluation import Blessing, Check
from mloop.metadata import connect
from mloop.models import save_model
from mloop.registry import ModelRegistry

OK = Blessing(
    True, (Check("floor", "roc_auc", 0.8, 0.6, True, "fine"),), None, None, {"roc_auc": 0.8}
)
BAD = Blessing(False, (Check("slice", "roc_auc", 0.5, 0.02, False, "worse in region=south"),))
INFRA_OK = InfraBlessing(True, [], 5, 0, 1.0, 3.0, 4.0, 150.0)
INFRA_BAD = InfraBlessing(False, ["p95 latency 900.0 ms is over the budget of 250 ms"], 5, 0)


@pytest.fixture
def registry(tmp_path):
    return ModelRegistry(
        connect(f"sqlite:///{tmp_path}/m.db"), connect_artifacts(str(tmp_path / "art"))
    )


@pytest.fixture
def packages(tmp_path):
    from sklearn.linear_model import LogisticRegression

    x = pd.DataFrame({"a": np.linspace(0, 1, 30)})
    y = (x["a"] > 0.5).astype(int)
    return [
        save_model(LogisticRegression(C=c).fit(x, y), tmp_path / f"p{c}", input_example=x.head(2))
        for c in (1.0, 0.1)
    ]


def test_refused_without_either_blessing_and_nothing_registered(registry, packages):
    decision = push_model(
        packages[0], BAD, INFRA_BAD, name="m", alias="production", registry=registry
    )
    assert decision.outcome == "refused" and not decision.pushed
    assert decision.reasons == [
        "model validation: worse in region=south",
        "infra validation: p95 latency 900.0 ms is over the budget of 250 ms",
    ]
    assert registry.search_models() == []
    only_infra = push_model(
        packages[0], OK, INFRA_BAD, name="m", alias="production", registry=registry
    )
    assert only_infra.outcome == "refused" and len(only_infra.reasons) == 1


def test_promotes_then_unchanged_then_moves_the_alias(registry, packages):
    first = push_model(
        packages[0],
        OK,
        INFRA_OK,
        name="m",
        alias="production",
        registry=registry,
        run_id=None,
        actor="ci",
    )
    assert (first.outcome, first.version, first.previous_version) == ("promoted", 1, None)
    version = registry.get_alias("m", "production")
    assert version.version == 1 and version.metrics == {"roc_auc": 0.8}
    assert version.tags == {"blessed": "true", "infra_blessed": "true"}
    (change,) = registry.alias_history("m", "production")
    assert change.actor == "ci" and "infra-blessed" in change.reason

    again = push_model(packages[0], OK, INFRA_OK, name="m", alias="production", registry=registry)
    assert again.outcome == "unchanged" and "already serves" in again.reasons[0]
    assert len(registry.list_versions("m")) == 1

    second = push_model(packages[1], OK, INFRA_OK, name="m", alias="production", registry=registry)
    assert (second.outcome, second.version, second.previous_version) == ("promoted", 2, 1)
    assert registry.alias_version("m", "production") == 2


def test_environment_aliases():
    assert alias_for_environment("prod") == "production"
    assert alias_for_environment("Staging") == "staging"
    assert alias_for_environment("dev") == "dev"
