"""Every job ends: listing, deletion and redelivery end to end, through the local stack's REST API
(the real status and manage handlers in their own worker processes, moto, the Deepgram emulator).

- `DELETE /transcriptions/{id}`: the result is gone (the S3 object, or the inline copy in the item),
  and the kept audio; `GET` says `deleted`; one `transcription.deleted` reaches the SQS subscriber;
  a second DELETE changes nothing.
- `GET /transcriptions`: newest first, page by page with a small `limit`, filtered by `status` and
  `created_after`; a foreign cursor is `400 invalid_cursor`.
- `POST /transcriptions/{id}/notify`: a second notification, marked `redelivery: true`; `409` for a
  job still processing.
"""

from __future__ import annotations

import base64
import json
import time
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import urlencode

import boto3
import pytest

from functions.core.adapters.dynamodb import DynamoJobRepository
from local.stack import LocalStack
from tests.e2e.conftest import Pipeline, Response, http

pytestmark = pytest.mark.e2e

SYNTHETIC_SECONDS = 3.0
"""The emulator's synthetic mode: a generated transcript at once, no recognition (fast jobs)."""


@pytest.fixture(scope="module")
def stack_options() -> dict[str, Any]:
    # Uploads are kept (`audio/<job id>`), so deleting a job has its audio to delete too.
    return {"function_environment": {"KEEP_UPLOADED_AUDIO": "true"}}


def api(pipeline: Pipeline, method: str, path: str, **query: str) -> Response:
    url = f"{pipeline.stack.api_url}{path}" + (f"?{urlencode(query)}" if query else "")
    return http(method, url, b"" if method == "POST" else None)


def finished_job(pipeline: Pipeline, **metadata: str) -> dict[str, Any]:
    """An uploaded job, completed, with its `transcription.completed` notification received."""
    query = "&".join(f"metadata.{key}={value}" for key, value in metadata.items())
    job = pipeline.submit_audio(query=query)
    (notification,) = pipeline.wait_for_notifications(1)
    assert notification["message"]["job_id"] == job["id"]
    assert notification["message"]["event_type"] == "transcription.completed"
    return pipeline.job(job["id"])


def bucket_keys(stack: LocalStack, prefix: str) -> list[str]:
    s3 = boto3.client("s3", region_name=stack.region)
    listed = s3.list_objects_v2(Bucket=stack.resources.names.results_bucket, Prefix=prefix)
    return [item["Key"] for item in listed.get("Contents", [])]


def stored(stack: LocalStack, job_id: str) -> Any:
    repository = DynamoJobRepository(
        boto3.client("dynamodb", region_name=stack.region), stack.resources.names.jobs_table
    )
    return repository.get(job_id)


# --- DELETE --------------------------------------------------------------------------------------------


def test_deleting_an_s3_result_and_kept_audio(pipeline: Pipeline) -> None:
    pipeline.emulator.set_faults(pad_result_to_bytes=3_000_000, synthetic_duration_seconds=60)
    job = finished_job(pipeline, customer="acme")
    assert "result_url" in job  # stored in S3
    assert bucket_keys(pipeline.stack, f"results/{job['id']}/")
    assert bucket_keys(pipeline.stack, f"audio/{job['id']}") == [f"audio/{job['id']}"]

    deleted = api(pipeline, "DELETE", f"/transcriptions/{job['id']}")

    assert deleted.status == 200, deleted.body
    tombstone = deleted.json()
    assert tombstone["id"] == job["id"]
    assert tombstone["status"] == "deleted"
    assert tombstone["deleted_at"]
    assert bucket_keys(pipeline.stack, f"results/{job['id']}/") == []
    assert bucket_keys(pipeline.stack, f"audio/{job['id']}") == []
    read = pipeline.job(job["id"])
    assert read["status"] == "deleted"
    assert {"result", "result_url", "summary"}.isdisjoint(read)
    (notification,) = pipeline.wait_for_notifications(1)
    assert notification["message"]["event_type"] == "transcription.deleted"
    assert notification["message"]["redelivery"] is False
    assert notification["attributes"]["event_type"] == "transcription.deleted"
    assert notification["attributes"]["metadata.customer"] == "acme"

    again = api(pipeline, "DELETE", f"/transcriptions/{job['id']}")
    assert (again.status, again.json()) == (200, tombstone)
    assert pipeline.settle() == []  # exactly one transcription.deleted


def test_deleting_an_inline_result(pipeline: Pipeline) -> None:
    job = finished_job(pipeline)
    assert "result" in job  # stored inline, in the job's item
    assert stored(pipeline.stack, job["id"]).result is not None

    deleted = api(pipeline, "DELETE", f"/transcriptions/{job['id']}")

    assert (deleted.status, deleted.json()["status"]) == (200, "deleted")
    assert stored(pipeline.stack, job["id"]).result is None  # the inline copy is gone from the item
    read = pipeline.job(job["id"])
    assert (read["status"], "result" in read) == ("deleted", False)
    messages = [n["message"] for n in pipeline.wait_for_notifications(1)] + [
        n["message"] for n in pipeline.settle()
    ]
    assert [(m["job_id"], m["event_type"]) for m in messages] == [(job["id"], "transcription.deleted")]


def test_deleting_an_unknown_job_is_404(pipeline: Pipeline) -> None:
    answer = api(pipeline, "DELETE", f"/transcriptions/{'0' * 32}")

    assert answer.status == 404
    assert answer.json()["error"]["code"] == "job_not_found"


# --- GET /transcriptions -------------------------------------------------------------------------------


def test_listing_pages_newest_first_and_filters(pipeline: Pipeline) -> None:
    since = (datetime.now(UTC) - timedelta(milliseconds=5)).isoformat()
    pipeline.emulator.set_faults(synthetic_duration_seconds=SYNTHETIC_SECONDS)
    completed = []
    for _ in range(3):
        completed.append(finished_job(pipeline)["id"])
        time.sleep(0.01)  # distinct creation times
    pipeline.emulator.set_faults(fail_next_deliveries=1000)  # this one's result never arrives
    processing = pipeline.submit_audio()["id"]
    newest_first = [processing, *reversed(completed)]

    seen: list[str] = []
    query = {"created_after": since, "limit": "2"}
    pages = 0
    while True:
        page = api(pipeline, "GET", "/transcriptions", **query)
        assert page.status == 200, page.body
        body = page.json()
        assert set(body) == {"items", "next_cursor"}
        assert len(body["items"]) <= 2
        assert all("result" not in item and "result_url" not in item for item in body["items"])
        seen += [item["id"] for item in body["items"]]
        pages += 1
        if body["next_cursor"] is None:
            break
        query = {**query, "cursor": body["next_cursor"]}
    assert seen == newest_first
    assert pages >= 2

    def ids(**filters: str) -> list[str]:
        answer = api(pipeline, "GET", "/transcriptions", **filters)
        assert answer.status == 200, answer.body
        return [item["id"] for item in answer.json()["items"]]

    assert ids(status="completed", created_after=since) == list(reversed(completed))
    assert ids(status="processing", created_after=since) == [processing]
    third = pipeline.job(completed[1])["created_at"]
    assert ids(created_after=third) == [processing, completed[2]]
    assert set(completed) <= set(ids(status="completed", limit="100"))  # and older ones


def test_listing_refuses_bad_parameters_and_foreign_cursors(pipeline: Pipeline) -> None:
    for query in ({"limit": "0"}, {"limit": "101"}, {"status": "done"}, {"created_after": "soon"}):
        answer = api(pipeline, "GET", "/transcriptions", **query)
        assert answer.status == 400, query
        assert answer.json()["error"]["code"] == "invalid_request"
    # Well-formed, but naming a start key no listing of the by-month index gave.
    position = json.dumps({"month": "2026-11", "key": {"job_id": {"S": "x"}}}).encode()
    cursor = base64.urlsafe_b64encode(position).decode().rstrip("=")
    for bad in ("not-a-cursor!", cursor):
        answer = api(pipeline, "GET", "/transcriptions", cursor=bad)
        assert answer.status == 400, bad
        assert answer.json()["error"]["code"] == "invalid_cursor"


# --- POST .../notify -----------------------------------------------------------------------------------


def test_redelivery_publishes_a_second_notification_marked_as_such(pipeline: Pipeline) -> None:
    pipeline.emulator.set_faults(synthetic_duration_seconds=SYNTHETIC_SECONDS)
    job = finished_job(pipeline, customer="acme")

    answer = api(pipeline, "POST", f"/transcriptions/{job['id']}/notify")

    assert answer.status == 202, answer.body
    body = answer.json()
    assert body["job_id"] == job["id"]
    assert body["event_type"] == "transcription.completed"
    assert body["message_id"]
    (again,) = pipeline.wait_for_notifications(1)
    assert again["message"]["job_id"] == job["id"]
    assert again["message"]["event_type"] == "transcription.completed"
    assert again["message"]["redelivery"] is True
    assert again["attributes"]["metadata.customer"] == "acme"
    assert pipeline.job(job["id"])["status"] == "completed"  # nothing changed


def test_redelivery_of_a_processing_job_is_409(pipeline: Pipeline) -> None:
    pipeline.emulator.set_faults(fail_next_deliveries=1000)
    job = pipeline.submit_audio()

    answer = api(pipeline, "POST", f"/transcriptions/{job['id']}/notify")

    assert answer.status == 409
    error = answer.json()["error"]
    assert (error["code"], error["job_id"]) == ("job_not_finished", job["id"])
    assert api(pipeline, "POST", f"/transcriptions/{'0' * 32}/notify").status == 404
