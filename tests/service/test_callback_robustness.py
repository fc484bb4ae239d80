"""Regression tests for the callback's robustness defects, one group per defect.

Service level on the in-memory fakes (`callback_fixtures.Harness`) unless a test says otherwise;
the moto tests go through the real DynamoDB repository or the Lambda handlers.
"""

from __future__ import annotations

import base64
import functools
import gzip
import hashlib
import json
import logging
import math
import random
import string
import sys
from datetime import UTC, datetime, timedelta
from typing import Any, cast

import boto3
import pytest

from functions.callback import handler as callback_handler
from functions.callback import telemetry as callback_telemetry
from functions.callback.logic import CallbackConfig, CallbackRequest, CallbackService
from functions.core.adapters import job_item
from functions.core.adapters.dynamodb import DynamoJobRepository
from functions.core.adapters.memory import InMemoryBlobStore, InMemoryPublisher
from functions.core.callback_auth import callback_secret
from functions.core.contract import DgTokenMode
from functions.core.jobs import FinalState, JobStatus, StoredResult, isoformat
from functions.core.transcript import MAX_LANGUAGE_CHARACTERS
from functions.status import handler as status_handler
from local.events import LambdaContext, function_url_event, rest_api_event
from tests.conftest import DEEPGRAM_API_KEY_ID as STACK_DG_KEY_ID
from tests.conftest import SIGNING_KEY as STACK_SIGNING_KEY
from tests.conftest import Stack
from tests.faults import injected_aws_faults
from tests.service.callback_fixtures import (
    KB,
    MB,
    RETRY_INTERVAL,
    Harness,
    JobRef,
    compact,
    create_job,
    failure_payload,
    nested,
    recursion_limit,
    strict_loads,
    success_payload,
    with_raw_value,
)
from tests.service.conftest import basic_authorization


@pytest.fixture
def harness() -> Harness:
    return Harness()


def assert_nothing_stored(harness: Harness, job: JobRef, before: Any) -> None:
    assert harness.snapshot() == before
    stored = harness.stored(job)
    assert stored.result is None
    assert stored.status is JobStatus.PROCESSING or stored.status is JobStatus.QUEUED


def served(harness: Harness, job: JobRef) -> str:
    """The GET answer's JSON text, checked to be strict JSON."""
    text = harness.status().describe(job.job_id).to_json()
    strict_loads(text)
    return text


# =============================================================================================
# 1. No 5xx without credentials
# =============================================================================================

LONE_SURROGATE = "\\ud800"  # a JSON escape: valid JSON text, a string UTF-8 cannot encode


@pytest.mark.parametrize("field", ["callback_secret", "job_id"])
@pytest.mark.parametrize("with_basic", [False, True], ids=["extra-only", "with-valid-basic"])
def test_lone_surrogate_in_extra_credentials_is_401(harness: Harness, field: str, with_basic: bool) -> None:
    job = harness.job()
    payload = success_payload(
        request_id=job.request_id, extra={"job_id": job.job_id, "callback_secret": job.secret}
    )
    body = with_raw_value(payload, ("metadata", "extra", field), f'"{LONE_SURROGATE}"')
    before = harness.snapshot()

    result = harness.deliver(body, authorization=job.basic if with_basic else None)

    assert result.status_code == 401, (result.reason, result.detail)
    assert result.reason == "bad_credentials"
    assert_nothing_stored(harness, job, before)


@pytest.mark.parametrize(
    "authorization",
    [
        pytest.param("Basic ÿÿÿÿ", id="non-ascii"),
        pytest.param("Basic " + "é" * 40, id="non-ascii-long"),
        pytest.param("Basic \u2603:\u2603", id="snowman"),
        pytest.param("Basic not base64 at all!", id="not-base64"),
        pytest.param("Basic ====", id="padding-only"),
        pytest.param("Basic " + base64.b64encode(b"\xff\xfe:\xff").decode(), id="base64-of-non-utf8"),
        pytest.param("Basic " + base64.b64encode(b"no-colon").decode(), id="no-separator"),
        pytest.param("Basic", id="scheme-only"),
        pytest.param("Bearer abc", id="bearer"),
    ],
)
def test_malformed_basic_header_is_401(harness: Harness, authorization: str) -> None:
    job = harness.job()
    body = compact(success_payload(request_id=job.request_id, extra=job.extra))
    before = harness.snapshot()

    result = harness.deliver(body, authorization=authorization)

    assert result.status_code == 401, (result.reason, result.detail)
    assert result.reason == "bad_credentials"
    assert_nothing_stored(harness, job, before)


def invoke_callback(body: bytes, headers: dict[str, str], *, method: str = "POST") -> dict[str, Any]:
    event = function_url_event(method=method, headers=headers, body=body)
    response = callback_handler.lambda_handler(event, LambdaContext("callback"))
    assert isinstance(response, dict)
    return response


def stack_job(stack: Stack) -> tuple[DynamoJobRepository, JobRef]:
    repository = DynamoJobRepository(boto3.client("dynamodb"), stack.resources.names.jobs_table)
    return repository, create_job(repository, datetime.now(UTC))


def stack_secret(job: JobRef) -> str:
    return callback_secret(STACK_SIGNING_KEY, job.job_id)


@pytest.mark.parametrize(
    "authorization",
    [
        pytest.param("Basic ÿÿÿÿ", id="non-ascii"),
        pytest.param("Basic not base64 at all!", id="not-base64"),
    ],
)
def test_malformed_basic_header_through_the_lambda_handler_is_401(aws: Stack, authorization: str) -> None:
    repository, job = stack_job(aws)
    extra = {"job_id": job.job_id, "callback_secret": stack_secret(job)}
    body = compact(success_payload(request_id=job.request_id, extra=extra))

    response = invoke_callback(
        body,
        {"content-type": "application/json", "dg-token": STACK_DG_KEY_ID, "authorization": authorization},
    )

    assert response["statusCode"] == 401, response
    assert json.loads(response["body"])["error"]["code"] == "bad_credentials"
    stored = repository.get(job.job_id)
    assert stored is not None
    assert stored.result is None


# =============================================================================================
# 2. Numbers
# =============================================================================================

NUMBER_TEXTS = {
    "nan": "NaN",
    "infinity": "Infinity",
    "minus-infinity": "-Infinity",
    "1e400": "1e400",
    "1E+0400": "1E+0400",
    "400-digit-float": "1" * 400 + ".5",  # no exponent, yet no float holds it
    "1e-200": "1e-200",
    "40-digits": "1" + "2345678901" * 3 + "234567890",
    "5000-digits": "9" * 5000,
}
NUMBER_PLACES: dict[str, tuple[str | int, ...]] = {
    "duration": ("metadata", "duration"),
    "channels": ("metadata", "channels"),
    "confidence": ("results", "channels", 0, "alternatives", 0, "confidence"),
    "deep": ("results", "channels", 0, "alternatives", 0, "words", 1, "confidence"),
}
SUMMARY_FIELD = {"duration": "duration_seconds", "channels": "channels", "confidence": "confidence"}


def number_body(job: JobRef, place: str, text: str) -> bytes:
    payload = success_payload(request_id=job.request_id, extra=job.extra)
    return with_raw_value(payload, NUMBER_PLACES[place], text)


def assert_summary_number_is_sane(summary: dict[str, Any], place: str) -> None:
    for value in summary.values():
        if isinstance(value, float):
            assert math.isfinite(value), summary
            assert abs(value) <= 1e15, summary
    if place in SUMMARY_FIELD:
        value = summary[SUMMARY_FIELD[place]]
        if place == "channels":
            assert value == 1  # left out: the number of channels in the body instead
        else:
            assert value is None or value == 0.0, summary


@pytest.mark.parametrize("place", list(NUMBER_PLACES))
@pytest.mark.parametrize("number", list(NUMBER_TEXTS))
def test_out_of_range_numbers_complete_the_job_with_strict_json_everywhere(
    harness: Harness, number: str, place: str
) -> None:
    job = harness.job()
    body = number_body(job, place, NUMBER_TEXTS[number])

    result = harness.deliver(body, authorization=job.basic)

    assert (result.status_code, result.outcome) == (200, "accepted"), (result.reason, result.detail)
    stored = harness.stored(job)
    assert stored.status is JobStatus.COMPLETED
    assert stored.summary is not None
    assert_summary_number_is_sane(stored.summary, place)
    strict_loads(harness.stored_body(job))
    [message] = harness.notifications()
    strict_loads(message)
    strict_loads(served(harness, job))


@pytest.mark.parametrize("place", ["duration", "channels", "confidence"])
@pytest.mark.parametrize("number", list(NUMBER_TEXTS))
def test_out_of_range_numbers_are_accepted_by_the_real_dynamodb_repository(
    aws: Stack, number: str, place: str
) -> None:
    repository, job = stack_job(aws)
    publisher = InMemoryPublisher()
    service = CallbackService(
        jobs=repository,
        blobs=InMemoryBlobStore(),
        publisher=publisher,
        config_source=lambda: CallbackConfig(
            signing_key=STACK_SIGNING_KEY, dg_token_mode=DgTokenMode.OFF, deepgram_api_key_ids=()
        ),
        clock=lambda: datetime.now(UTC),
    )
    extra = {"job_id": job.job_id, "callback_secret": stack_secret(job)}
    body = with_raw_value(
        success_payload(request_id=job.request_id, extra=extra), NUMBER_PLACES[place], NUMBER_TEXTS[number]
    )
    authorization = basic_authorization(job.job_id, stack_secret(job))
    result = service.handle(
        CallbackRequest(method="POST", headers={"authorization": authorization}, body=body)
    )

    assert (result.status_code, result.outcome) == (200, "accepted"), (result.reason, result.detail)
    assert result.detail is None, "the summary must fit the item: no degraded (minimal item) finish"
    stored = repository.get(job.job_id)
    assert stored is not None
    assert stored.status is JobStatus.COMPLETED
    assert stored.summary is not None
    assert_summary_number_is_sane(stored.summary, place)
    raw = boto3.client("dynamodb").get_item(
        TableName=aws.resources.names.jobs_table, Key=job_item.key(job.job_id), ConsistentRead=True
    )["Item"]
    assert job_item.to_job(raw).summary == stored.summary
    assert len(publisher.published) == 1
    strict_loads(publisher.published[0].notification.message)


# =============================================================================================
# 3. Permanent vs transient faults, bounded items
# =============================================================================================


def big_body(job: JobRef, size: int = 400 * KB) -> bytes:
    """A body whose gzip is larger than the item's inline limit: it goes to the blob store."""
    return compact(success_payload(request_id=job.request_id, extra=job.extra, transcript=random_words(size)))


@functools.cache
def random_words(size: int) -> str:
    rng = random.Random(7)
    return " ".join(
        "".join(rng.choices(string.ascii_lowercase, k=rng.randint(2, 9))) for _ in range(size // 6)
    )


def test_permanent_finish_refusal_completes_with_a_minimal_item(harness: Harness) -> None:
    job = harness.job()
    body = compact(success_payload(request_id=job.request_id, extra=job.extra))
    harness.jobs.faults.fail("finish", permanent=True)

    result = harness.deliver(body, authorization=job.basic)

    assert (result.status_code, result.outcome) == (200, "accepted"), (result.reason, result.detail)
    stored = harness.stored(job)
    assert stored.status is JobStatus.COMPLETED
    assert stored.summary is None
    assert stored.result is not None
    assert stored.result.storage == "s3"
    assert stored.result.inline_data is None
    assert stored.result.s3_key in harness.blobs.objects
    assert harness.stored_body(job) == body.replace(job.secret.encode(), b"redacted")
    assert len(harness.notifications()) == 1
    assert stored.notified_at is not None


def test_permanent_publish_refusal_answers_200_and_releases_the_lease(harness: Harness) -> None:
    job = harness.job()
    body = compact(success_payload(request_id=job.request_id, extra=job.extra))
    harness.publisher.faults.fail("publish", permanent=True)

    result = harness.deliver(body, authorization=job.basic)

    assert result.status_code == 200, (result.reason, result.detail)
    assert result.published is False
    stored = harness.stored(job)
    assert stored.status is JobStatus.COMPLETED
    assert stored.result is not None
    assert stored.notified_at is None
    assert harness.notifications() == []
    assert harness.jobs.lease_of(job.job_id) == (None, None)


TRANSIENT_FAULTS = [
    pytest.param("secrets", "get", False, id="secrets.get"),
    pytest.param("blobs", "put", True, id="blobs.put"),
    pytest.param("jobs", "finish", False, id="jobs.finish"),
    pytest.param("jobs", "finish", True, id="jobs.finish-s3"),
    pytest.param("publisher", "publish", False, id="publisher.publish"),
]


def faults_of(harness: Harness, port: str) -> Any:
    return getattr(harness, port).faults


@pytest.mark.parametrize(("port", "operation", "large"), TRANSIENT_FAULTS)
def test_transient_fault_answers_503_and_the_retry_completes_exactly_once(
    harness: Harness, port: str, operation: str, large: bool
) -> None:
    job = harness.job()
    body = big_body(job) if large else compact(success_payload(request_id=job.request_id, extra=job.extra))
    faults_of(harness, port).fail(operation)

    first = harness.deliver(body, authorization=job.basic)

    assert first.status_code == 503, (first.reason, first.detail)
    assert first.headers.get("Retry-After") == str(RETRY_INTERVAL)
    assert faults_of(harness, port).injected == [operation]
    assert harness.notifications() == []

    harness.clock.advance(RETRY_INTERVAL)
    retry = harness.deliver(body, authorization=job.basic)

    assert retry.status_code == 200, (retry.reason, retry.detail)
    assert retry.published
    stored = harness.stored(job)
    assert stored.status is JobStatus.COMPLETED
    assert stored.notified_at is not None
    assert len(harness.notifications()) == 1
    assert len(harness.blobs.objects) == (1 if large else 0)

    again = harness.deliver(body, authorization=job.basic)
    assert (again.status_code, again.outcome, again.published) == (200, "duplicate", False)
    assert len(harness.notifications()) == 1


def test_transient_claim_fault_after_a_publish_fault_still_publishes_once(harness: Harness) -> None:
    job = harness.job()
    body = compact(success_payload(request_id=job.request_id, extra=job.extra))
    harness.publisher.faults.fail("publish")
    assert harness.deliver(body, authorization=job.basic).status_code == 503
    harness.jobs.faults.fail("claim_notification")
    harness.clock.advance(RETRY_INTERVAL)
    assert harness.deliver(body, authorization=job.basic).status_code == 503
    harness.clock.advance(RETRY_INTERVAL)

    final = harness.deliver(body, authorization=job.basic)

    assert (final.status_code, final.outcome, final.published) == (200, "duplicate", True)
    assert len(harness.notifications()) == 1


def test_publish_and_release_both_failing_do_not_block_the_next_retry(harness: Harness) -> None:
    job = harness.job()
    body = compact(success_payload(request_id=job.request_id, extra=job.extra))
    harness.publisher.faults.fail("publish")
    harness.jobs.faults.fail("release_notification")
    assert harness.deliver(body, authorization=job.basic).status_code == 503
    harness.clock.advance(RETRY_INTERVAL)  # the lease (20 s) has run out by Deepgram's retry

    final = harness.deliver(body, authorization=job.basic)

    assert (final.status_code, final.published) == (200, True)
    assert len(harness.notifications()) == 1


def test_mark_notified_fault_is_not_a_5xx(harness: Harness) -> None:
    job = harness.job()
    body = compact(success_payload(request_id=job.request_id, extra=job.extra))
    harness.jobs.faults.fail("mark_notified")

    result = harness.deliver(body, authorization=job.basic)

    assert (result.status_code, result.published) == (200, True)
    assert len(harness.notifications()) == 1
    assert harness.deliver(body, authorization=job.basic).status_code == 200
    # Within the lease a repeated delivery must not publish again.
    assert len(harness.notifications()) == 1


def test_megabyte_detected_language_keeps_the_item_bounded(harness: Harness) -> None:
    job = harness.job()
    body = compact(success_payload(request_id=job.request_id, extra=job.extra, detected_language="x" * MB))

    result = harness.deliver(body, authorization=job.basic)

    assert result.status_code == 200, (result.reason, result.detail)
    stored = harness.stored(job)
    assert stored.summary is not None
    assert len(stored.summary["detected_language"]) <= MAX_LANGUAGE_CHARACTERS
    assert len(json.dumps(stored.summary)) < 2 * KB
    assert stored.result is not None
    assert len(stored.result.inline_data or b"") <= 64 * KB
    [message] = harness.notifications()
    assert len(message) < 4 * KB


@pytest.mark.parametrize("where", ["metadata", "top-level"])
def test_megabyte_request_id_is_400_and_stores_nothing(harness: Harness, where: str) -> None:
    job = harness.job(record_request_id=False)
    huge = "r" * MB
    if where == "metadata":
        payload = success_payload(request_id=huge, extra=job.extra)
    else:
        payload = failure_payload(request_id=huge, extra=job.extra)
    before = harness.snapshot()

    result = harness.deliver(compact(payload), authorization=job.basic)

    assert (result.status_code, result.reason) == (400, "invalid_body")
    assert_nothing_stored(harness, job, before)


# =============================================================================================
# 4. GET never breaks on a stored result
# =============================================================================================


def deep_body(job: JobRef, depth: int) -> bytes:
    payload = success_payload(request_id=job.request_id, extra=job.extra)
    return with_raw_value(payload, ("results", "deep"), nested(depth, '{"leaf":1}'))


@pytest.mark.parametrize("depth", [200, 800, 1000, 5000])
def test_deep_result_delivered_then_read(harness: Harness, depth: int) -> None:
    job = harness.job()
    body = deep_body(job, depth)
    before = harness.snapshot()

    result = harness.deliver(body, authorization=job.basic)

    if result.status_code != 200:  # too deep to read: refused outright, never half-stored
        assert (result.status_code, result.reason) == (400, "invalid_body"), (result.reason, result.detail)
        assert_nothing_stored(harness, job, before)
        assert depth >= 800
        return
    text = harness.status().describe(job.job_id).to_json()
    assert body.replace(job.secret.encode(), b"redacted").decode() in text
    strict_loads(text)


@pytest.mark.parametrize("depth", [1000, 5000])
def test_deep_stored_result_is_served(harness: Harness, depth: int) -> None:
    """However the result got there (an older version, a higher recursion limit), GET serves it."""
    job = harness.job()
    body = deep_body(job, depth).replace(job.secret.encode(), b"redacted")
    store_result_directly(harness, job, body)

    text = harness.status().describe(job.job_id).to_json()

    assert body.decode() in text
    strict_loads(text)


def store_result_directly(harness: Harness, job: JobRef, body: bytes) -> None:
    digest = hashlib.sha256(body).hexdigest()
    data = gzip.compress(body, mtime=0)
    finished = FinalState(
        job_id=harness.stored(job).job_id,
        status=JobStatus.COMPLETED,
        result=StoredResult("inline", len(body), digest, "gzip", inline_data=data),
        completed_at=isoformat(harness.clock()),
    )
    assert harness.jobs.finish(
        finished, lease_token="t", lease_until=harness.clock() + timedelta(seconds=20)
    ).applied


def get_through_status_handler(job_id: str) -> dict[str, Any]:
    event = rest_api_event(
        method="GET",
        path=f"/transcriptions/{job_id}",
        resource="/transcriptions/{id}",
        path_parameters={"id": job_id},
    )
    response = status_handler.lambda_handler(event, cast(Any, LambdaContext("status")))
    assert isinstance(response, dict)
    return response


@pytest.mark.parametrize("depth", [800, 1000, 5000])
def test_deep_result_through_the_lambda_handlers(aws: Stack, depth: int) -> None:
    repository, job = stack_job(aws)
    secret = stack_secret(job)
    extra = {"job_id": job.job_id, "callback_secret": secret}
    body = with_raw_value(
        success_payload(request_id=job.request_id, extra=extra), ("results", "deep"), nested(depth, "1")
    )

    answer = invoke_callback(
        body,
        {
            "content-type": "application/json",
            "dg-token": STACK_DG_KEY_ID,
            "authorization": basic_authorization(job.job_id, secret),
        },
    )

    assert answer["statusCode"] in (200, 400), answer
    stored = repository.get(job.job_id)
    assert stored is not None
    if answer["statusCode"] == 400:
        assert stored.result is None
        # A result that is stored anyway (by an older version) is served all the same.
        redacted = body.replace(secret.encode(), b"redacted")
        finished = FinalState(
            job_id=stored.job_id,
            status=JobStatus.COMPLETED,
            result=StoredResult(
                "inline",
                len(redacted),
                hashlib.sha256(redacted).hexdigest(),
                "gzip",
                inline_data=gzip.compress(redacted, mtime=0),
            ),
            completed_at=isoformat(datetime.now(UTC)),
        )
        assert repository.finish(finished, lease_token="t", lease_until=datetime.now(UTC)).applied

    response = get_through_status_handler(job.job_id)

    assert response["statusCode"] == 200, response
    text = response["body"]
    assert body.replace(secret.encode(), b"redacted").decode() in text
    strict_loads(text)


# =============================================================================================
# 5. No credential in what is served or published
# =============================================================================================


@pytest.mark.parametrize("size", ["inline", "s3"])
def test_secret_is_nowhere_in_what_is_stored_served_or_published(harness: Harness, size: str) -> None:
    job = harness.job()
    body = (
        big_body(job)
        if size == "s3"
        else compact(success_payload(request_id=job.request_id, extra=job.extra))
    )
    assert job.secret.encode() in body

    result = harness.deliver(body, authorization=job.basic)

    assert result.status_code == 200
    stored = harness.stored(job)
    assert stored.result is not None
    assert stored.result.storage == size
    assert_secret_absent(harness, job)


def assert_secret_absent(harness: Harness, job: JobRef) -> None:
    secret = job.secret
    stored_body = harness.stored_body(job)
    assert secret.encode() not in stored_body
    assert secret not in json.dumps(strict_loads(stored_body))  # also not behind JSON escapes
    for blob in harness.blobs.objects.values():
        data = gzip.decompress(blob.data) if blob.content_encoding == "gzip" else blob.data
        assert secret.encode() not in data
    text = served(harness, job)
    assert secret not in text
    assert secret not in json.dumps(strict_loads(text))
    for sent in harness.publisher.published:
        assert secret not in sent.notification.message
        assert secret not in json.dumps(sent.notification.attributes)
    assert secret not in json.dumps(harness.stored(job).summary)


@pytest.mark.parametrize("lenient", [False, True], ids=["strict-body", "lenient-body"])
def test_secret_in_a_failure_body_is_redacted_from_the_stored_body(harness: Harness, lenient: bool) -> None:
    job = harness.job()
    payload = failure_payload(request_id=job.request_id, extra=job.extra)
    body = with_raw_value(payload, ("x",), "NaN") if lenient else compact(payload)

    result = harness.deliver(body, authorization=job.basic)

    assert result.status_code == 200
    assert harness.stored(job).status is JobStatus.FAILED
    assert_secret_absent(harness, job)


SECRET_ECHOES = {
    # Deepgram's error text may quote the callback URL, credentials included.
    "err_msg": lambda job: (
        failure_payload(request_id=job.request_id, extra=job.extra)
        | {"err_msg": f"could not POST to https://{job.job_id}:{job.secret}@cb.example/"}
    ),
    "transcript": lambda job: success_payload(
        request_id=job.request_id, extra=job.extra, transcript=f"the code is {job.secret}"
    ),
}


@pytest.mark.parametrize("where", list(SECRET_ECHOES))
def test_secret_echoed_in_a_summarised_field_is_not_served_or_published(harness: Harness, where: str) -> None:
    job = harness.job()
    body = compact(SECRET_ECHOES[where](job))

    result = harness.deliver(body, authorization=job.basic)

    assert result.status_code == 200, (result.reason, result.detail)
    assert_secret_absent(harness, job)
    error = harness.stored(job).error
    assert error is None or job.secret not in error.message


def test_secret_written_with_json_escapes_is_redacted(harness: Harness) -> None:
    job = harness.job()
    escaped = "".join(f"\\u{ord(char):04x}" for char in job.secret)
    payload = success_payload(request_id=job.request_id, extra={"job_id": job.job_id, "callback_secret": "@"})
    body = with_raw_value(payload, ("metadata", "extra", "callback_secret"), f'"{escaped}"')

    result = harness.deliver(body, authorization=job.basic)

    assert result.status_code == 200, (result.reason, result.detail)
    assert_secret_absent(harness, job)


# =============================================================================================
# 6. The 503 log line names the dependency and the error
# =============================================================================================


class CurrentStdout:
    """Writes to whatever `sys.stdout` is at the time (capsys's during a test)."""

    def write(self, text: str) -> int:
        return sys.stdout.write(text)

    def flush(self) -> None:
        sys.stdout.flush()


@pytest.fixture
def callback_log(capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> Any:
    """The callback function's log lines (Powertools JSON on stdout), parsed."""
    handlers = [h for h in callback_telemetry.logger.handlers if isinstance(h, logging.StreamHandler)]
    assert handlers
    for handler in handlers:  # the handler kept the stdout of import time: point it at capsys's
        monkeypatch.setattr(handler, "stream", CurrentStdout())

    def lines() -> list[dict[str, Any]]:
        out = capsys.readouterr().out
        return [json.loads(line) for line in out.splitlines() if line.startswith("{")]

    return lines


@pytest.mark.parametrize(
    ("code", "expected"),
    [
        ("InternalServerError", "DynamoDB: InternalServerError"),
        ("ThrottlingException", "DynamoDB: ThrottlingException"),
    ],
)
def test_503_log_line_names_the_dependency_and_the_error(
    aws: Stack, callback_log: Any, code: str, expected: str
) -> None:
    _, job = stack_job(aws)
    secret = stack_secret(job)
    extra = {"job_id": job.job_id, "callback_secret": secret}
    body = compact(success_payload(request_id=job.request_id, extra=extra))
    headers = {
        "content-type": "application/json",
        "dg-token": STACK_DG_KEY_ID,
        "authorization": basic_authorization(job.job_id, secret),
    }
    with injected_aws_faults() as faults:
        faults.fail("dynamodb", "UpdateItem", code=code, message=f"injected, not {secret}")
        response = invoke_callback(body, headers)

    assert response["statusCode"] == 503, response
    assert faults.injected == [("dynamodb", "UpdateItem")]
    [line] = [entry for entry in callback_log() if "dependency failed" in str(entry.get("message"))]
    assert line["level"] == "ERROR"
    assert line["error"] == expected
    assert secret not in json.dumps(line)


def test_permanent_dynamodb_refusal_through_the_lambda_handler_finishes_with_a_minimal_item(
    aws: Stack,
) -> None:
    repository, job = stack_job(aws)
    secret = stack_secret(job)
    body = compact(
        success_payload(request_id=job.request_id, extra={"job_id": job.job_id, "callback_secret": secret})
    )
    headers = {
        "content-type": "application/json",
        "dg-token": STACK_DG_KEY_ID,
        "authorization": basic_authorization(job.job_id, secret),
    }
    with injected_aws_faults() as faults:
        faults.fail("dynamodb", "UpdateItem", code="ValidationException")
        response = invoke_callback(body, headers)

    assert response["statusCode"] == 200, response
    stored = repository.get(job.job_id)
    assert stored is not None
    assert stored.status is JobStatus.COMPLETED
    assert stored.summary is None
    assert stored.result is not None
    assert stored.result.storage == "s3"
    s3 = boto3.client("s3")
    data = s3.get_object(Bucket=aws.resources.names.results_bucket, Key=stored.result.s3_key)["Body"].read()
    assert gzip.decompress(data) == body.replace(secret.encode(), b"redacted")


# =============================================================================================
# Found while writing these (fixed): lenient bodies re-serialised as strict JSON
# =============================================================================================


def test_lenient_body_with_a_lone_surrogate_is_stored_as_strict_json(harness: Harness) -> None:
    job = harness.job()
    payload = success_payload(request_id=job.request_id, extra=job.extra, transcript="caf\u00e9")
    body = with_raw_value(payload, ("metadata", "duration"), "NaN")
    body = body.replace(b"caf\xc3\xa9", f"caf{LONE_SURROGATE}".encode())

    result = harness.deliver(body, authorization=job.basic)

    assert result.status_code == 200, (result.reason, result.detail)
    strict_loads(harness.stored_body(job))
    strict_loads(served(harness, job))


def test_lenient_deep_body_is_stored_as_strict_json(harness: Harness) -> None:
    job = harness.job()
    payload = success_payload(request_id=job.request_id, extra=job.extra)
    body = with_raw_value(payload, ("results", "deep"), nested(600, "NaN"))

    result = harness.deliver(body, authorization=job.basic)

    assert result.status_code == 200, (result.reason, result.detail)
    with recursion_limit(25_000):
        strict_loads(harness.stored_body(job))
    strict_loads(served(harness, job))
