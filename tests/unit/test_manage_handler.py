"""DELETE /transcriptions/{id} and POST /transcriptions/{id}/notify through the real manage
handler on moto: routing, the answers and their error shapes, what is left in DynamoDB and S3,
and the notifications that reach the SNS topic's SQS subscriber. The service's rules (races,
retries, the order of deletions) are tested on the in-memory fakes in
`tests/service/test_manage_service.py`."""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError

from functions.core import result_storage
from functions.core.jobs import FinalState, JobStatus, isoformat, new_job, utc_now
from functions.manage import handler as manage_handler
from functions.manage import wiring as manage_wiring
from local.aws_resources import receive_notifications
from local.events import rest_api_event
from tests.conftest import Stack
from tests.faults import AwsFaults
from tests.service.submit_fixtures import incompressible_body
from tests.unit.conftest import (
    HttpAnswer,
    _answer,
    deliver_callback,
    get_status,
    job_repository,
    lambda_context,
    stored_job,
    submit_json,
    transcript_for,
)
from tests.unit.deepgram_stub import DeepgramStub

AUDIO_URL = "https://media.example.com/calls/call-1.wav"


@pytest.fixture
def manage(stack: Stack) -> Iterator[Stack]:
    """The moto stack, with the manage function's cached service dropped before and after."""
    manage_wiring.service.cache_clear()
    yield stack
    manage_wiring.service.cache_clear()


def invoke(method: str, path: str, resource: str, job_id: str) -> HttpAnswer:
    event = rest_api_event(method=method, path=path, resource=resource, path_parameters={"id": job_id})
    return _answer(manage_handler.lambda_handler(event, lambda_context("manage")))


def delete(job_id: str) -> HttpAnswer:
    return invoke("DELETE", f"/transcriptions/{job_id}", "/transcriptions/{id}", job_id)


def notify(job_id: str) -> HttpAnswer:
    return invoke("POST", f"/transcriptions/{job_id}/notify", "/transcriptions/{id}/notify", job_id)


def notifications(stack: Stack) -> list[dict[str, Any]]:
    received: list[dict[str, Any]] = []
    while batch := receive_notifications(stack.resources.queue_url, region="us-east-1", wait_seconds=0):
        received += batch
    return received


def completed_job(deepgram: DeepgramStub) -> dict[str, Any]:
    """A job submitted through the submit function and completed by its callback (inline result)."""
    answer = submit_json({"url": AUDIO_URL, "metadata": {"customer": "acme"}})
    assert answer.status == 202, answer.body
    delivered = deliver_callback(
        answer.body["id"], transcript_for(answer.body["id"], answer.body["request_id"])
    )
    assert delivered.status == 200, delivered.body
    return dict(answer.body)


def s3_completed_job(stack: Stack) -> tuple[str, str, str]:
    """A completed job whose result is an S3 object, and kept audio: (job id, result key, audio key)."""
    s3 = boto3.client("s3")
    bucket = stack.resources.names.results_bucket
    jobs = job_repository(stack)
    job_id = uuid.uuid4().hex
    audio_key = result_storage.audio_key(job_id)
    s3.put_object(Bucket=bucket, Key=audio_key, Body=b"RIFF....WAVE")
    now = utc_now()
    job = new_job(
        source={"type": "upload", "content_type": "audio/wav", "size_bytes": 12},
        options={},
        metadata={},
        retention_days=1,
        now=now,
        job_id=job_id,
        audio_key=audio_key,
    )
    jobs.create(job)
    jobs.record_submission(job_id, str(uuid.uuid4()), now)
    body = incompressible_body(80 * 1024)
    encoded = result_storage.encode(job_id, body, hashlib.sha256(body).hexdigest())
    assert encoded.object_data is not None
    assert encoded.stored.s3_key is not None
    s3.put_object(Bucket=bucket, Key=encoded.stored.s3_key, Body=encoded.object_data)
    current = stored_job(stack, job_id)
    finished = FinalState(
        job_id=current.job_id, status=JobStatus.COMPLETED, result=encoded.stored, completed_at=isoformat(now)
    )
    assert jobs.finish(finished, lease_token="t", lease_until=now + timedelta(seconds=20)).applied
    jobs.mark_notified(job_id, "m-1", now)
    return job_id, encoded.stored.s3_key, audio_key


def object_exists(stack: Stack, key: str) -> bool:
    try:
        boto3.client("s3").head_object(Bucket=stack.resources.names.results_bucket, Key=key)
    except ClientError:
        return False
    return True


# --- DELETE ---------------------------------------------------------------------------------------------


def test_delete_leaves_a_tombstone_get_says_deleted_and_one_deleted_notification(
    manage: Stack, deepgram: DeepgramStub
) -> None:
    job = completed_job(deepgram)
    assert [n["message"]["event_type"] for n in notifications(manage)] == ["transcription.completed"]

    answer = delete(job["id"])

    assert answer.status == 200, answer.body
    assert answer.body["id"] == job["id"]
    assert answer.body["status"] == "deleted"
    assert answer.body["deleted_at"] == answer.body["updated_at"]
    assert "result" not in answer.body
    assert stored_job(manage, job["id"]).result is None
    (deleted,) = notifications(manage)
    assert deleted["message"]["event_type"] == "transcription.deleted"
    assert deleted["message"]["redelivery"] is False
    assert deleted["attributes"] == {
        "event_type": "transcription.deleted",
        "status": "deleted",
        "metadata.customer": "acme",
    }
    assert stored_job(manage, job["id"]).notified_at is not None
    read = get_status(job["id"])
    assert read.status == 200
    assert read.body["status"] == "deleted"
    assert {"result", "result_url", "summary"}.isdisjoint(read.body)


def test_delete_removes_the_s3_result_and_the_kept_audio(manage: Stack) -> None:
    job_id, result_key, audio_key = s3_completed_job(manage)
    assert object_exists(manage, result_key)
    assert object_exists(manage, audio_key)

    answer = delete(job_id)

    assert (answer.status, answer.body["status"]) == (200, "deleted")
    assert not object_exists(manage, result_key)
    assert not object_exists(manage, audio_key)
    stored = stored_job(manage, job_id)
    assert (stored.result, stored.audio_key) == (None, None)


def test_delete_is_idempotent(manage: Stack, deepgram: DeepgramStub) -> None:
    job = completed_job(deepgram)
    first = delete(job["id"])
    notifications(manage)

    again = delete(job["id"])

    assert again.status == 200
    assert again.body == first.body
    assert notifications(manage) == []


@pytest.mark.parametrize("job_id", [uuid.uuid4().hex, "not-a-job"])
def test_delete_of_an_unknown_job_is_404(manage: Stack, job_id: str) -> None:
    answer = delete(job_id)

    assert answer.status == 404
    assert answer.error["code"] == "job_not_found"


def test_when_sns_fails_delete_still_answers_200_and_the_tombstone_owes_its_notification(
    manage: Stack, deepgram: DeepgramStub, aws_faults: AwsFaults
) -> None:
    job = completed_job(deepgram)
    notifications(manage)
    aws_faults.fail("sns", "Publish", times=None)

    answer = delete(job["id"])

    assert (answer.status, answer.body["status"]) == (200, "deleted")
    stored = stored_job(manage, job["id"])
    assert (stored.status, stored.notified_at) == (JobStatus.DELETED, None)
    assert notifications(manage) == []


def test_a_failed_read_is_503_with_retry_after(manage: Stack, aws_faults: AwsFaults) -> None:
    aws_faults.fail("dynamodb", "GetItem", times=None, table=manage.resources.names.jobs_table)

    answer = delete(uuid.uuid4().hex)

    assert answer.status == 503
    assert answer.error["code"] == "service_unavailable"
    assert answer.headers["retry-after"] == "2"


# --- POST .../notify --------------------------------------------------------------------------------------


def test_notify_redelivers_a_finished_jobs_notification(manage: Stack, deepgram: DeepgramStub) -> None:
    job = completed_job(deepgram)
    (first,) = notifications(manage)

    answer = notify(job["id"])

    assert answer.status == 202, answer.body
    assert set(answer.body) == {"job_id", "message_id", "event_type"}
    assert answer.body["job_id"] == job["id"]
    assert answer.body["event_type"] == "transcription.completed"
    (again,) = notifications(manage)
    assert again["message"]["redelivery"] is True
    assert first["message"]["redelivery"] is False
    assert {k: v for k, v in again["message"].items() if k != "redelivery"} == {
        k: v for k, v in first["message"].items() if k != "redelivery"
    }
    assert again["attributes"] == first["attributes"]


def test_notify_of_a_job_awaiting_its_result_is_409(manage: Stack, deepgram: DeepgramStub) -> None:
    answer = submit_json({"url": AUDIO_URL})
    assert answer.status == 202

    refused = notify(answer.body["id"])

    assert refused.status == 409
    assert refused.error["code"] == "job_not_finished"
    assert refused.error["job_id"] == answer.body["id"]
    assert notifications(manage) == []


def test_notify_of_an_unknown_job_is_404(manage: Stack) -> None:
    answer = notify(uuid.uuid4().hex)

    assert answer.status == 404
    assert answer.error["code"] == "job_not_found"


def test_an_unknown_route_is_404(manage: Stack) -> None:
    job_id = uuid.uuid4().hex
    answer = invoke("PUT", f"/transcriptions/{job_id}", "/transcriptions/{id}", job_id)

    assert answer.status == 404
    assert answer.error["code"] == "not_found"
