"""GET /transcriptions/{id}: a job's state and, once completed, its result inline or as a URL."""

from __future__ import annotations

import functools
import uuid
from collections.abc import Callable
from datetime import timedelta
from typing import Any
from urllib.parse import parse_qs, urlsplit

import boto3
import pytest
import requests

from functions.core.adapters.dynamodb import DynamoJobRepository
from functions.core.jobs import new_job, utc_now
from local.deepgram_emulator.payloads import compact_json, generate_response
from tests.conftest import Stack
from tests.faults import AwsFaults
from tests.unit.conftest import deliver_callback, get_status, submit_json, transcript_for
from tests.unit.deepgram_stub import DeepgramStub

AUDIO_URL = "https://media.example.com/calls/call-1.wav"
RESULT_FIELDS = {"result", "result_url", "result_url_expires_in", "result_size_bytes", "result_sha256"}
LARGE_RESULT_BYTES = 2_200_000  # over the callback's 2 MB compression limit: stored in S3 as sent
LARGE_REQUEST_ID = "5a1d3c9e-0b7f-4e62-9d1a-3f8c2b6e4a70"


@functools.cache
def large_transcript() -> dict[str, Any]:
    """One large success body, built once (it takes a while); the job's Basic credentials suffice."""
    return generate_response(target_bytes=LARGE_RESULT_BYTES, request_id=LARGE_REQUEST_ID)


@pytest.fixture
def processing_job(stack: Stack, deepgram: DeepgramStub) -> dict[str, Any]:
    """A job Deepgram accepted (through the submit function), awaiting its callback."""
    answer = submit_json({"url": AUDIO_URL, "metadata": {"customer": "acme"}})
    assert answer.status == 202, answer.body
    return dict(answer.body)


@pytest.fixture
def s3_completed_job(stack: Stack, deepgram: DeepgramStub) -> tuple[dict[str, Any], dict[str, Any]]:
    """A job completed by a callback whose body is large enough to be kept in S3: (job, body)."""
    deepgram.respond(200, {"request_id": LARGE_REQUEST_ID})
    answer = submit_json({"url": AUDIO_URL})
    assert answer.status == 202, answer.body
    payload = large_transcript()
    delivered = deliver_callback(answer.body["id"], payload)
    assert delivered.status == 200, delivered.body
    return dict(answer.body), payload


@pytest.fixture
def complete(processing_job: dict[str, Any]) -> Callable[..., dict[str, Any]]:
    """Deliver a success callback for the processing job; returns the payload delivered."""

    def deliver(**payload_options: Any) -> dict[str, Any]:
        payload = transcript_for(processing_job["id"], processing_job["request_id"], **payload_options)
        delivered = deliver_callback(processing_job["id"], payload)
        assert delivered.status == 200, delivered.body
        return payload

    return deliver


def test_unknown_job_is_404(stack: Stack):
    answer = get_status(uuid.uuid4().hex)

    assert answer.status == 404
    assert answer.error["code"] == "job_not_found"


@pytest.mark.parametrize(
    "job_id",
    ["not-a-job", "A" * 32, "0" * 31, "0" * 33, "g" * 32, "0" * 3000],
    ids=lambda job_id: job_id[:40],
)
def test_malformed_job_id_is_404(stack: Stack, job_id: str):
    answer = get_status(job_id)

    assert answer.status == 404
    assert answer.error["code"] == "job_not_found"


def test_malformed_job_id_never_reaches_the_table(stack: Stack, aws_faults: AwsFaults):
    # Real DynamoDB refuses a key over 2048 bytes (a 5xx for us); moto does not, so prove no read happens.
    fault = aws_faults.fail("dynamodb", "GetItem", times=None, table=stack.resources.names.jobs_table)

    answer = get_status("0" * 3000)

    assert answer.status == 404
    assert fault.calls == 0


def test_queued_job_has_no_result_fields(stack: Stack):
    job = new_job(
        source={"type": "url", "url": AUDIO_URL}, options={}, metadata={}, retention_days=1, now=utc_now()
    )
    DynamoJobRepository(boto3.client("dynamodb"), stack.resources.names.jobs_table).create(job)

    view = get_status(job.job_id).body

    assert view["status"] == "queued"
    assert view["id"] == job.job_id
    assert RESULT_FIELDS.isdisjoint(view)
    assert "error" not in view


def test_processing_job_shows_its_request_and_no_result_fields(processing_job: dict[str, Any]):
    answer = get_status(processing_job["id"])

    assert answer.status == 200
    view = answer.body
    assert view["status"] == "processing"
    assert view["request_id"] == processing_job["request_id"]
    assert view["metadata"] == {"customer": "acme"}
    assert view["source"] == {"type": "url", "url": AUDIO_URL}
    assert RESULT_FIELDS.isdisjoint(view)
    assert "error" not in view


def test_completed_job_with_an_inline_result_returns_the_callback_body(
    processing_job: dict[str, Any], complete: Callable[..., dict[str, Any]]
):
    payload = complete(duration_seconds=30.0)

    view = get_status(processing_job["id"]).body

    assert view["status"] == "completed"
    assert view["result"] == payload
    assert view["result_size_bytes"] == len(compact_json(payload))
    assert "result_url" not in view
    assert view["summary"]["words"] == len(payload["results"]["channels"][0]["alternatives"][0]["words"])


def test_completed_job_with_an_s3_result_returns_a_presigned_url(
    stack: Stack, s3_completed_job: tuple[dict[str, Any], dict[str, Any]]
):
    job, payload = s3_completed_job

    view = get_status(job["id"]).body

    assert view["status"] == "completed"
    assert "result" not in view
    assert view["result_url_expires_in"] == 900
    url = urlsplit(view["result_url"])
    assert url.hostname is not None
    assert url.hostname.startswith(stack.resources.names.results_bucket + ".")
    key = url.path.lstrip("/")
    assert key.startswith(f"results/{job['id']}/")
    stored = boto3.client("s3").get_object(Bucket=stack.resources.names.results_bucket, Key=key)
    assert stored["Body"].read() == compact_json(payload)


def test_presigned_result_url_serves_the_callback_body(
    s3_completed_job: tuple[dict[str, Any], dict[str, Any]],
):
    job, payload = s3_completed_job

    url = get_status(job["id"]).body["result_url"]

    fetched = requests.get(url, timeout=10)  # served by moto's mock under mock_aws
    assert fetched.status_code == 200
    assert fetched.json() == payload


def test_result_url_lifetime_follows_the_setting(
    s3_completed_job: tuple[dict[str, Any], dict[str, Any]], configure: Callable[..., None]
):
    job, _ = s3_completed_job
    configure(RESULT_URL_TTL_SECONDS="120")

    view = get_status(job["id"]).body

    assert view["result_url_expires_in"] == 120
    query = parse_qs(urlsplit(view["result_url"]).query)
    assert query["X-Amz-Expires"] == ["120"]


def test_presigned_result_url_is_signed_with_sigv4(s3_completed_job: tuple[dict[str, Any], dict[str, Any]]):
    job, _ = s3_completed_job

    url = get_status(job["id"]).body["result_url"]

    assert parse_qs(urlsplit(url).query).get("X-Amz-Algorithm") == ["AWS4-HMAC-SHA256"]


def test_job_failed_by_its_callback_shows_the_error(stack: Stack, processing_job: dict[str, Any]):
    failure = {
        "err_code": "SLOW_UPLOAD",
        "err_msg": "the audio arrived too slowly",
        "request_id": processing_job["request_id"],
    }
    delivered = deliver_callback(processing_job["id"], failure)
    assert delivered.status == 200, delivered.body

    view = get_status(processing_job["id"]).body

    assert view["status"] == "failed"
    assert view["error"] == {"code": "SLOW_UPLOAD", "message": "the audio arrived too slowly"}
    assert {"result", "result_url"}.isdisjoint(view)


def test_job_refused_at_submit_shows_the_error(stack: Stack, deepgram: DeepgramStub):
    deepgram.respond(400, {"err_code": "INVALID_QUERY_PARAMETER", "err_msg": "Invalid model: nova-99."})
    job_id = submit_json({"url": AUDIO_URL}).error["job_id"]

    view = get_status(job_id).body

    assert view["status"] == "failed"
    assert view["error"] == {"code": "deepgram_rejected", "message": "Invalid model: nova-99."}
    assert RESULT_FIELDS.isdisjoint(view)


def test_an_expired_job_is_not_found_even_before_dynamodb_deletes_it(stack: Stack):
    """DynamoDB's TTL deletes items days late; the results bucket's lifecycle rule does not wait."""
    long_ago = utc_now() - timedelta(days=3)
    job = new_job(
        source={"type": "url", "url": "https://e.com/a.wav"},
        options={},
        metadata={},
        retention_days=1,
        now=long_ago,
    )
    DynamoJobRepository(boto3.client("dynamodb"), stack.resources.names.jobs_table).create(job)

    assert get_status(job.job_id).status == 404
