"""The request-error log: failed inference requests are written beside the prediction log."""

from __future__ import annotations

from pathlib import Path

import polars as pl

from mloop.errors import ModelNotFoundError
from mloop.serving.http.app import create_app
from mloop.serving.logs.error_log import MAX_MESSAGE_CHARS, RequestErrorRecord, error_rows
from mloop.serving.settings import ServingConfig


def _errors(log_dir: Path) -> pl.DataFrame:
    files = sorted((log_dir / "errors").rglob("part-*.parquet"))
    return pl.concat([pl.read_parquet(f) for f in files]) if files else pl.DataFrame()


def test_failures_before_a_model_is_loaded_name_the_uri(tmp_path: Path, kit) -> None:
    def never(uri: str):
        raise ModelNotFoundError(uri, "not registered")

    config = ServingConfig("models:/credit@production", log_dir=tmp_path, poll_interval_s=0)

    async def main():
        async with kit.serving(create_app(config, loader=never), wait_ready=False) as c:
            answers = [
                await c.post("/v2/models/credit/infer", json=kit.oip_body([kit.row])),
                await c.post("/invocations", json={"inputs": [kit.row]}),
            ]
            assert (await c.get("/v2/health/ready")).status_code == 503  # not logged
            return answers

    answers = kit.run(main())
    assert [a.status_code for a in answers] == [503, 503]
    errors = _errors(tmp_path)
    assert errors["model"].to_list() == ["credit", "credit"]
    assert errors["version"].to_list() == ["", ""]
    assert errors["error_code"].to_list() == ["not_ready", "not_ready"]
    assert sorted(errors["protocol"].to_list()) == ["mlflow", "oip"]


def test_failed_request_of_a_package_keeps_its_answer(packages, tmp_path: Path, kit) -> None:
    config = ServingConfig(str(packages["credit"]), log_dir=tmp_path, poll_interval_s=0)

    async def main():
        async with kit.serving(create_app(config)) as c:
            bad = kit.oip_body([kit.row])
            bad["inputs"] = bad["inputs"][:2]  # city and member missing
            return await c.post("/v2/models/credit/infer", json=bad, headers={"x-request-id": "q"})

    answer = kit.run(main())
    assert answer.status_code == 422 and answer.json()["error_code"] == "invalid_input"
    (row,) = _errors(tmp_path).to_dicts()
    assert row["request_id"] == "q" and row["status"] == 422 and row["route"] == "champion"
    assert row["model"] == "credit" and len(row["version"]) == 12  # the digest's first 12
    assert row["message"] == answer.json()["message"]


def test_long_messages_are_cut() -> None:
    record = RequestErrorRecord(
        "m", "1", "champion", "oip", "r", 0.0, 500, "internal", 1.0, "x" * 9
    )
    assert error_rows(record)[2]["message"] == ["x" * 9]
    long = RequestErrorRecord(
        "m", "1", "champion", "oip", "r", 0.0, 500, "internal", 1.0, "y" * 9999
    )
    assert error_rows(long)[2]["message"] == ["y" * MAX_MESSAGE_CHARS]
