"""Tracing a pipeline body into a graph: pure, no stores involved."""

from __future__ import annotations

import pytest

from mloop import pipeline, step
from mloop.errors import PipelineDefinitionError


@step
def load(n: int = 3) -> list[int]:
    return list(range(n))


@step
def double(xs: list[int], factor: int = 2) -> list[int]:
    return [x * factor for x in xs]


@step(outputs=("evens", "odds"))
def split(xs: list[int]) -> tuple[list[int], list[int]]:
    return [x for x in xs if x % 2 == 0], [x for x in xs if x % 2]


@pipeline
def flow(n: int = 3, factor: int = 2):
    xs = load(n)
    doubled = double(xs, factor=factor)
    evens, _odds = split(xs)
    double(evens, after=[doubled])


def test_tracing_records_inputs_params_and_order():
    graph = flow.compile(n=5)
    assert [s.name for s in graph.steps] == ["load", "double", "split", "double_2"]
    assert graph.nodes["load"].params == {"n": 5}
    assert graph.nodes["double"].inputs["xs"].step == "load"
    assert graph.nodes["double"].params == {"factor": 2}
    assert graph.nodes["double_2"].inputs["xs"].output == "evens"
    assert graph.nodes["double_2"].after == ["double"]
    assert graph.nodes["double_2"].upstream == {"split", "double"}
    assert graph.downstream_of({"split"}) == {"double_2"}


def test_version_changes_with_params_and_is_stable():
    assert flow.compile(n=3).version == flow.compile(n=3).version
    assert flow.compile(n=3).version != flow.compile(n=4).version


def test_step_called_outside_a_pipeline_is_a_plain_call():
    assert double([1, 2], factor=3) == [3, 6]
    assert split([1, 2, 3]) == ([2], [1, 3])


def test_unknown_pipeline_parameter_is_refused_with_the_known_ones():
    with pytest.raises(PipelineDefinitionError, match=r"no parameter 'm'.*'n', 'factor'"):
        flow.compile(m=1)


def test_non_json_literal_argument_is_refused():
    @pipeline
    def bad():
        double(object())

    with pytest.raises(PipelineDefinitionError, match="must be JSON-able"):
        bad.compile()


def test_branching_on_an_output_in_the_body_is_refused():
    @pipeline
    def branchy():
        xs = load()
        if xs:
            double(xs)

    with pytest.raises(PipelineDefinitionError, match="branch inside a step"):
        branchy.compile()


def test_wrong_arguments_name_the_step():
    @pipeline
    def wrong():
        double(load(), nope=1)

    with pytest.raises(PipelineDefinitionError, match="step 'double'"):
        wrong.compile()


def test_empty_pipeline_is_refused():
    @pipeline
    def empty():
        return None

    with pytest.raises(PipelineDefinitionError, match="has no steps"):
        empty.compile()


def test_after_takes_only_step_outputs():
    @pipeline
    def ordering():
        double(load(), after=["load"])

    with pytest.raises(PipelineDefinitionError, match="after= takes outputs"):
        ordering.compile()


def test_huge_integer_parameters_key_and_run_the_graph():
    graph = flow.compile(n=2**70)
    assert graph.nodes["load"].params == {"n": 2**70}
    assert len(graph.version) == 64
