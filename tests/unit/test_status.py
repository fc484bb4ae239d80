"""GET /transcriptions/{id} through the real handler on moto: routing, the 404's shape, the
inline result as the callback stored it in DynamoDB, and real presigned S3 URLs. A job's view in
each state and expiry are tested on the in-memory fakes in `tests/service/test_status_service.py`."""

from __future__ import annotations

import base64
import functools
import json
import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import parse_qs, urlsplit

import boto3
import pytest
import requests

from functions.core.callback_auth import callback_secret
from functions.core.jobs import new_job
from functions.status import handler as status_handler
from local.deepgram_emulator.payloads import compact_json, generate_response
from local.events import rest_api_event
from tests.conftest import SIGNING_KEY, Stack
from tests.faults import AwsFaults
from tests.unit.conftest import (
    HttpAnswer,
    _answer,
    deliver_callback,
    get_status,
    job_repository,
    lambda_context,
    submit_json,
    transcript_for,
)
from tests.unit.deepgram_stub import DeepgramStub

AUDIO_URL = "https://media.example.com/calls/call-1.wav"
LARGE_RESULT_BYTES = 2_200_000  # over the callback's 2 MB compression limit: stored in S3 as sent
LARGE_REQUEST_ID = "5a1d3c9e-0b7f-4e62-9d1a-3f8c2b6e4a70"
REDACTED = "redacted"  # what the callback stores in place of the job's callback secret


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


def test_unknown_job_is_404(stack: Stack) -> None:
    answer = get_status(uuid.uuid4().hex)

    assert answer.status == 404
    assert answer.error["code"] == "job_not_found"


def test_malformed_job_id_is_404_and_never_reaches_the_table(stack: Stack, aws_faults: AwsFaults) -> None:
    # Real DynamoDB refuses a key over 2048 bytes (a 5xx for us); moto does not, so prove no read happens.
    fault = aws_faults.fail("dynamodb", "GetItem", times=None, table=stack.resources.names.jobs_table)

    answer = get_status("0" * 3000)

    assert answer.status == 404
    assert answer.error["code"] == "job_not_found"
    assert fault.calls == 0


def test_a_failed_read_is_503_with_retry_after(stack: Stack, aws_faults: AwsFaults) -> None:
    aws_faults.fail("dynamodb", "GetItem", times=None, table=stack.resources.names.jobs_table)

    answer = get_status(uuid.uuid4().hex)

    assert answer.status == 503
    assert answer.error["code"] == "service_unavailable"
    assert int(answer.headers["retry-after"]) > 0


def test_completed_job_with_an_inline_result_returns_the_callback_body(
    processing_job: dict[str, Any], complete: Callable[..., dict[str, Any]]
) -> None:
    payload = complete(duration_seconds=30.0)

    answer = get_status(processing_job["id"])

    assert answer.status == 200
    assert answer.headers["content-type"] == "application/json"
    view = answer.body
    secret = callback_secret(SIGNING_KEY, processing_job["id"])
    stored = compact_json(payload).replace(secret.encode(), REDACTED.encode())
    assert view["status"] == "completed"
    assert view["result"] == json.loads(stored)
    assert view["result_size_bytes"] == len(stored)
    assert "result_url" not in view
    assert view["summary"]["words"] == len(payload["results"]["channels"][0]["alternatives"][0]["words"])


@pytest.fixture
def complete(processing_job: dict[str, Any]) -> Callable[..., dict[str, Any]]:
    """Deliver a success callback for the processing job; returns the payload delivered."""

    def deliver(**payload_options: Any) -> dict[str, Any]:
        payload = transcript_for(processing_job["id"], processing_job["request_id"], **payload_options)
        delivered = deliver_callback(processing_job["id"], payload)
        assert delivered.status == 200, delivered.body
        return payload

    return deliver


def test_completed_job_with_an_s3_result_returns_a_presigned_url(
    stack: Stack, s3_completed_job: tuple[dict[str, Any], dict[str, Any]]
) -> None:
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
    assert parse_qs(url.query).get("X-Amz-Algorithm") == ["AWS4-HMAC-SHA256"]


def test_presigned_result_url_serves_the_callback_body(
    s3_completed_job: tuple[dict[str, Any], dict[str, Any]],
) -> None:
    job, payload = s3_completed_job

    url = get_status(job["id"]).body["result_url"]

    fetched = requests.get(url, timeout=10)  # served by moto's mock under mock_aws
    assert fetched.status_code == 200
    assert fetched.json() == payload


def test_result_url_lifetime_follows_the_setting(
    s3_completed_job: tuple[dict[str, Any], dict[str, Any]], configure: Callable[..., None]
) -> None:
    job, _ = s3_completed_job
    configure(RESULT_URL_TTL_SECONDS="120")

    view = get_status(job["id"]).body

    assert view["result_url_expires_in"] == 120
    query = parse_qs(urlsplit(view["result_url"]).query)
    assert query["X-Amz-Expires"] == ["120"]


# --- GET /transcriptions ----------------------------------------------------------------------------


def list_transcriptions(**query: str) -> HttpAnswer:
    event = rest_api_event(
        method="GET",
        path="/transcriptions",
        resource="/transcriptions",
        query={name: [value] for name, value in query.items()},
    )
    return _answer(status_handler.lambda_handler(event, lambda_context("status")))


def jobs_created(
    stack: Stack, moments: list[datetime], *, status_of: Callable[[int], str] | None = None
) -> list[str]:
    """A job created at each moment (through the repository, as the submit function creates one);
    every `status_of(i) == "processing"` one accepted by Deepgram. Their ids, in `moments`' order."""
    jobs = job_repository(stack)
    ids = []
    for i, moment in enumerate(moments):
        job = new_job(
            source={"type": "url", "url": AUDIO_URL}, options={}, metadata={}, retention_days=30, now=moment
        )
        jobs.create(job)
        if status_of is not None and status_of(i) == "processing":
            jobs.record_submission(job.job_id, str(uuid.uuid4()), moment)
        ids.append(job.job_id)
    return ids


def cursor(position: dict[str, Any]) -> str:
    return base64.urlsafe_b64encode(json.dumps(position).encode()).decode().rstrip("=")


def test_list_pages_newest_first_from_the_indexes_never_a_scan(stack: Stack, aws_faults: AwsFaults) -> None:
    now = datetime.now(UTC)
    ids = jobs_created(stack, [now - timedelta(minutes=10 - i) for i in range(5)])
    scan = aws_faults.fail("dynamodb", "Scan", times=None)

    seen: list[str] = []
    query: dict[str, str] = {"limit": "2"}
    for _ in range(5):
        answer = list_transcriptions(**query)
        assert answer.status == 200, answer.body
        assert set(answer.body) == {"items", "next_cursor"}
        assert len(answer.body["items"]) <= 2
        seen += [item["id"] for item in answer.body["items"]]
        if answer.body["next_cursor"] is None:
            break
        query = {"limit": "2", "cursor": answer.body["next_cursor"]}

    assert seen == list(reversed(ids))
    assert scan.calls == 0


def test_list_by_status_and_creation_time(stack: Stack) -> None:
    now = datetime.now(UTC)
    moments = [now - timedelta(hours=3), now - timedelta(minutes=30), now - timedelta(minutes=20)]
    old, processing, queued = jobs_created(
        stack, moments, status_of=lambda i: "processing" if i == 1 else "queued"
    )

    def ids(**query: str) -> list[str]:
        answer = list_transcriptions(**query)
        assert answer.status == 200, answer.body
        return [item["id"] for item in answer.body["items"]]

    assert ids(status="queued") == [queued, old]
    assert ids(status="processing") == [processing]
    hour_ago = (now - timedelta(hours=1)).isoformat()
    assert ids(created_after=hour_ago) == [queued, processing]
    assert ids(created_after=hour_ago, status="queued") == [queued]
    page = list_transcriptions(status="queued", limit="1")
    assert [item["id"] for item in page.body["items"]] == [queued]
    assert ids(status="queued", limit="1", cursor=page.body["next_cursor"]) == [old]


def test_listed_jobs_carry_no_result(stack: Stack, deepgram: DeepgramStub) -> None:
    answer = submit_json({"url": AUDIO_URL})
    job_id, request_id = answer.body["id"], answer.body["request_id"]
    assert deliver_callback(job_id, transcript_for(job_id, request_id)).status == 200

    (item,) = list_transcriptions(status="completed").body["items"]

    assert item["id"] == job_id
    assert item["status"] == "completed"
    assert {"result", "result_url", "result_size_bytes", "result_sha256"}.isdisjoint(item)


@pytest.mark.parametrize(
    "query",
    [{"status": "done"}, {"limit": "0"}, {"limit": "101"}, {"limit": "x"}, {"created_after": "last week"}],
    ids=lambda query: "-".join(f"{k}={v}" for k, v in query.items()),
)
def test_list_with_an_invalid_parameter_is_400(stack: Stack, query: dict[str, str]) -> None:
    answer = list_transcriptions(**query)

    assert answer.status == 400
    assert answer.error["code"] == "invalid_request"
    assert next(iter(query)) in answer.error["message"]


@pytest.mark.parametrize(
    ("query", "position"),
    [
        ({}, None),
        ({}, {"month": "2026-13"}),
        ({}, {"month": 7}),
        ({}, {"key": "job"}),
        ({}, {"month": "2026-11", "key": {"job_id": {"S": "x"}}}),
        (
            {},
            {
                "month": "2026-11",
                "key": {"job_id": {"N": "1"}, "created_month": {"S": "2026-11"}, "created_at": {"S": "x"}},
            },
        ),
        (
            {"status": "queued"},
            {"key": {"job_id": {"S": "x"}, "status": {"S": "failed"}, "created_at": {"S": "x"}}},
        ),
        (
            {"status": "queued"},
            {"key": {"job_id": {"S": "x"}, "created_month": {"S": "2026-11"}, "created_at": {"S": "x"}}},
        ),
        ({}, {"month": "2026-11", "extra": 1}),
    ],
    ids=range(9),
)
def test_a_cursor_this_api_did_not_give_is_400_invalid_cursor(
    stack: Stack, aws_faults: AwsFaults, query: dict[str, str], position: dict[str, Any] | None
) -> None:
    jobs_created(stack, [datetime.now(UTC)])
    scan = aws_faults.fail("dynamodb", "Scan", times=None)

    answer = list_transcriptions(**query, cursor="%%not base64" if position is None else cursor(position))

    assert answer.status == 400, answer.body
    assert answer.error["code"] == "invalid_cursor"
    assert scan.calls == 0


def test_a_failed_listing_is_503(stack: Stack, aws_faults: AwsFaults) -> None:
    aws_faults.fail("dynamodb", "Query", times=None, table=stack.resources.names.jobs_table)

    answer = list_transcriptions()

    assert answer.status == 503
    assert answer.error["code"] == "service_unavailable"
