"""``/feedback`` refuses labels for request ids the service never answered (issue 17.6):
404 naming the ids, nothing recorded; every id it did answer is accepted, whichever worker
answered and across restarts (signed ids, caller ids in memory and in the prediction log)."""

from __future__ import annotations

from pathlib import Path

import pyarrow.dataset as ds

from mloop.serving.http.app import create_app
from mloop.serving.logs.request_ids import KEY_FILE, RequestIds, load_key
from mloop.serving.settings import ServingConfig


def config(packages: dict[str, Path], **kw) -> ServingConfig:
    return ServingConfig(model_uri=str(packages["credit"]), poll_interval_s=0, **kw)


def test_signed_ids_are_told_apart_from_others(tmp_path: Path) -> None:
    key = load_key(tmp_path)
    assert (tmp_path / KEY_FILE).stat().st_mode & 0o777 == 0o600
    assert load_key(tmp_path) == key  # every worker and restart reads the same key
    ids = RequestIds(key)
    made = [ids.next() for _ in range(1000)]
    assert len(set(made)) == 1000 and all(len(i) == 32 for i in made)
    assert all(RequestIds(key).issued(i) for i in made)
    forged = made[0][:-1] + ("0" if made[0][-1] != "0" else "1")
    assert not ids.issued(forged) and not ids.issued("req-1") and not ids.issued("")
    assert not RequestIds(load_key(None)).issued(made[1])  # another key
    failed = RequestIds(key, purpose=b"failed").next()
    assert not ids.issued(failed)  # an id of a failed request never passes for an answer


def test_feedback_for_ids_never_answered_is_refused(packages, kit, tmp_path) -> None:
    async def main():
        app = create_app(config(packages, log_dir=tmp_path, log_flush_interval_s=60))
        async with kit.serving(app) as c:
            mine = await c.post(
                "/v2/models/credit/infer", json=kit.oip_body([kit.row], id="client-7")
            )
            served = await c.post("/invocations", json={"dataframe_records": [kit.row]})
            failed = await c.post(
                "/invocations",
                json={"dataframe_records": [{"age": "x"}]},
                headers={"x-request-id": "failed-1"},
            )
            ok = await c.post(
                "/feedback",
                json=[
                    {"request_id": "client-7", "label": 1},
                    {"request_id": served.headers["x-request-id"], "label": 0},
                ],
            )
            typo = await c.post(
                "/feedback",
                json=[
                    {"request_id": "client-7", "label": 1},
                    {"request_id": "client-8", "label": 1},
                ],
            )
            of_failure = await c.post("/feedback", json={"request_id": "failed-1", "label": 1})
            return mine, served, failed, ok, typo, of_failure

    mine, served, failed, ok, typo, of_failure = kit.run(main())
    assert mine.status_code == served.status_code == 200 and failed.status_code == 422
    assert ok.status_code == 200 and ok.json() == {"recorded": 2}
    assert typo.status_code == 404 and typo.json()["error_code"] == "not_found"
    assert "'client-8'" in typo.json()["message"] and "'client-7'" not in typo.json()["message"]
    assert "nothing of this feedback was recorded" in typo.json()["message"]
    assert of_failure.status_code == 404
    feedback = ds.dataset(tmp_path / "feedback", format="parquet").to_table().to_pandas()
    assert sorted(feedback["request_id"]) == sorted(["client-7", served.headers["x-request-id"]])


def test_ids_answered_before_a_restart_are_accepted(packages, kit, tmp_path) -> None:
    async def serve_then(feedback_for=None):
        app = create_app(config(packages, log_dir=tmp_path))
        async with kit.serving(app) as c:
            if feedback_for is None:
                own = await c.post("/v2/models/credit/infer", json=kit.oip_body([kit.row], id="c1"))
                signed = await c.post("/invocations", json={"dataframe_records": [kit.row]})
                return own.json()["id"], signed.headers["x-request-id"]
            return [
                (await c.post("/feedback", json={"request_id": rid, "label": 1})).status_code
                for rid in feedback_for
            ]

    own, signed = kit.run(serve_then())  # shutdown flushes the prediction log
    assert kit.run(serve_then([own, signed, "never"])) == [200, 200, 404]
