"""``@step(resources=...)``: checked when declared, kept out of the pipeline version."""

from __future__ import annotations

import pytest

from mloop import pipeline, step
from mloop.errors import PipelineDefinitionError
from mloop.pipelines.resources import StepResources, parse_memory, parse_resources


@pytest.mark.parametrize(
    ("text", "size"),
    [
        ("4GB", 4 * 10**9),
        ("4 gb", 4 * 10**9),
        ("512MiB", 512 * 2**20),
        ("1.5G", 1_500_000_000),
        ("2Gi", 2 * 2**30),
        (1024, 1024),
        ("0", 0),
    ],
)
def test_memory_sizes(text, size):
    assert parse_memory("s", text) == size


@pytest.mark.parametrize("bad", ["4 parsecs", "-1GB", "GB", "", True, None, [4], float("nan")])
def test_bad_memory_names_step_and_key(bad):
    with pytest.raises(PipelineDefinitionError, match=r"step 's': resources\['memory'\]"):
        parse_memory("s", bad)


def test_defaults_and_custom_resources():
    assert parse_resources("s", None) == StepResources(cpu=1.0, gpu=0.0, memory=None)
    got = parse_resources("s", {"cpu": 2, "memory": "4GB", "gpu": 0.5, "accelerator_x": 1})
    assert got == StepResources(cpu=2.0, gpu=0.5, memory=4 * 10**9, custom={"accelerator_x": 1.0})
    assert got.as_dict() == {"cpu": 2.0, "gpu": 0.5, "memory": 4 * 10**9, "accelerator_x": 1.0}


@pytest.mark.parametrize(
    "bad", [{"cpu": -1}, {"cpu": "two"}, {"gpu": True}, {"cpu": float("inf")}, ["cpu", 2]]
)
def test_bad_requests_fail_at_declaration(bad):
    with pytest.raises(PipelineDefinitionError, match="step 'train'"):

        @step(resources=bad)
        def train() -> int:
            return 1


def test_resources_do_not_change_the_pipeline_version():
    @step
    def a() -> int:
        return 1

    @pipeline
    def p():
        a()

    before = p.compile().version
    a_big = step(resources={"cpu": 8, "memory": "64GB"})(a.func)

    @pipeline
    def p():
        a_big()

    assert p.compile().version == before
    assert a_big.resources.cpu == 8.0 and a_big.resources.memory == 64 * 10**9


def test_the_local_runner_ignores_requests_it_cannot_meet(project_dir):
    @step(resources={"cpu": 512, "gpu": 8})
    def huge() -> int:
        return 7

    @pipeline
    def big():
        huge()

    assert big.run().outputs["huge"] == 7


def test_ray_is_a_runner_and_importing_it_needs_no_ray():
    from mloop import plugins
    from mloop.pipelines.runners.ray import RayRunner

    assert plugins.load("runners", "ray") is RayRunner


def test_step_errors_survive_the_trip_back_from_a_ray_worker():
    """mloop errors take keyword fields in __init__, which plain exception pickling cannot call
    again; the Ray runner sends them back in a portable form, cause included."""
    import pickle

    from mloop.errors import StepExecutionError, StepTimeoutError
    from mloop.pipelines.runners.ray import _PortableError

    with pytest.raises(TypeError):  # what Ray would hit without the portable form
        pickle.loads(pickle.dumps(StepExecutionError("train", "run1", "boom", attempts=3)))

    class Local(Exception):  # defined in a function: cannot be pickled
        pass

    error = StepTimeoutError("train", "run1", "timed out after 2 s", attempts=2)
    error.__cause__ = Local("deep")
    back = pickle.loads(pickle.dumps(_PortableError.of(error))).restore()
    assert type(back) is StepTimeoutError and str(back) == str(error)
    assert (back.step_name, back.run_id, back.attempts) == ("train", "run1", 2)
    assert isinstance(back.__cause__, RuntimeError) and "Local: deep" in str(back.__cause__)
    plain = StepExecutionError("a", "r", "x")
    plain.__cause__ = ValueError("kept as is")
    again = pickle.loads(pickle.dumps(_PortableError.of(plain))).restore()
    assert type(again.__cause__) is ValueError and str(again.__cause__) == "kept as is"
