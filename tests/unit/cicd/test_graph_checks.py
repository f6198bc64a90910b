"""Declared-artifact and integration checks on hand-made run records."""

from __future__ import annotations

from mloop.cicd.ci.graph_checks import RecordedRun, check_declared_outputs, check_integration

SPEC = {
    "steps": {
        "ingest": {"inputs": {}, "outputs": ["output"]},
        "split": {"inputs": {"data": ["ingest", "output"]}, "outputs": ["train", "test"]},
        "train": {"inputs": {"data": ["split", "train"]}, "outputs": ["output"]},
    }
}


def good_run() -> RecordedRun:
    return RecordedRun(
        states={"ingest": "succeeded", "split": "succeeded", "train": "succeeded"},
        outputs={
            "ingest": {"output": "a1"},
            "split": {"train": "a2", "test": "a3"},
            "train": {"output": "a4"},
        },
        inputs={"ingest": {}, "split": {"data": "a1"}, "train": {"data": "a2"}},
        uris={"a1": "u1", "a2": "u2", "a3": "u3", "a4": "u4"},
    )


def test_a_complete_run_passes_both_checks() -> None:
    assert check_declared_outputs(SPEC, good_run(), lambda uri: True) == []
    assert check_integration(SPEC, good_run()) == (2, [])


def test_a_missing_declared_output_and_a_failed_step_are_reported() -> None:
    run = good_run()
    run = RecordedRun(
        states={**run.states, "train": "failed"},
        outputs={**run.outputs, "split": {"train": "a2"}},
        inputs=run.inputs,
        uris=run.uris,
    )
    problems = check_declared_outputs(SPEC, run, lambda uri: True)
    assert problems == [
        "step 'split' did not record its declared output 'test'",
        "step 'train' ended failed: it produced no outputs",
    ]


def test_an_output_deleted_from_the_artifact_store_is_reported() -> None:
    problems = check_declared_outputs(SPEC, good_run(), lambda uri: uri != "u3")
    assert len(problems) == 1 and "missing from the artifact store (u3)" in problems[0]


def test_a_step_that_never_ran_is_reported() -> None:
    run = good_run()
    states = {k: v for k, v in run.states.items() if k != "train"}
    problems = check_declared_outputs(
        SPEC, RecordedRun(states, run.outputs, run.inputs, run.uris), lambda uri: True
    )
    assert problems == ["step 'train' never ran"]


def test_a_consumer_reading_another_artifact_breaks_integration() -> None:
    run = good_run()
    wrong = RecordedRun(run.states, run.outputs, {**run.inputs, "train": {"data": "a3"}}, run.uris)
    checked, problems = check_integration(SPEC, wrong)
    assert checked == 2
    assert problems == ["step 'train' consumed artifact a3 as 'data', but split.train produced a2"]
    missing = RecordedRun(run.states, run.outputs, {**run.inputs, "split": {}}, run.uris)
    assert check_integration(SPEC, missing)[1] == [
        "step 'split' recorded no input 'data' (from ingest)"
    ]
