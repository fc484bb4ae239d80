"""The callback function: authentication, durable storage, exactly-once completion and notification."""

from __future__ import annotations

import base64
import gzip
import io
import json
import threading
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError

from functions.callback import handler as callback_handler
from functions.callback.logic import CallbackRequest
from functions.core.adapters.dynamodb import DynamoJobRepository
from functions.core.callback_auth import callback_secret
from functions.core.jobs import JobError, JobStatus, StoredResult, new_job
from local.aws_resources import receive_notifications
from local.deepgram_emulator.payloads import ErrorKind, compact_json, error_body, generate_response
from local.events import LambdaContext, function_url_event
from tests.conftest import DEEPGRAM_API_KEY_ID, SIGNING_KEY, Stack
from tests.faults import AwsFaults

KB = 1024
MB = 1024 * 1024


@dataclass
class Job:
    job_id: str
    request_id: str

    @property
    def secret(self) -> str:
        return callback_secret(SIGNING_KEY, self.job_id)


class Pipeline:
    """Jobs in the moto table, deliveries to the real callback handler, what reached SQS."""

    def __init__(self, stack: Stack) -> None:
        self.stack = stack
        self.dynamodb = boto3.client("dynamodb")
        self.s3 = boto3.client("s3")
        self.repository = DynamoJobRepository(self.dynamodb, stack.resources.names.jobs_table)

    def job(self, *, record_request_id: bool = True) -> Job:
        job = new_job(
            source={"type": "url", "url": "https://example.com/a.wav"},
            options={},
            metadata={"customer": "acme"},
            retention_days=1,
            now=datetime.now(UTC),
        )
        self.repository.create(job)
        request_id = str(uuid.uuid4())
        if record_request_id:
            self.repository.record_submission(job.job_id, request_id, datetime.now(UTC))
        return Job(job.job_id, request_id)

    def body(self, job: Job, *, size: int = 2 * KB, seed: int = 0, with_extra: bool = True) -> bytes:
        extra = {"job_id": job.job_id, "callback_secret": job.secret} if with_extra else None
        return compact_json(
            generate_response(target_bytes=size, request_id=job.request_id, extra=extra, seed=seed)
        )

    def deliver(
        self,
        body: bytes,
        *,
        credentials: tuple[str, str] | None = None,
        method: str = "POST",
        headers: dict[str, str] | None = None,
        content_type: str = "application/json",
    ) -> dict[str, Any]:
        all_headers = {"content-type": content_type, "dg-token": DEEPGRAM_API_KEY_ID, **(headers or {})}
        if credentials:
            token = base64.b64encode(f"{credentials[0]}:{credentials[1]}".encode()).decode()
            all_headers["authorization"] = f"Basic {token}"
        event = function_url_event(method=method, headers=all_headers, body=body)
        response = callback_handler.lambda_handler(event, LambdaContext("callback"))
        response["json"] = json.loads(response["body"])
        return response

    def deliver_as_deepgram(self, job: Job, body: bytes, **kwargs: Any) -> dict[str, Any]:
        return self.deliver(body, credentials=(job.job_id, job.secret), **kwargs)

    def item(self, job: Job) -> dict[str, Any]:
        table = self.stack.resources.names.jobs_table
        return self.dynamodb.get_item(
            TableName=table, Key={"job_id": {"S": job.job_id}}, ConsistentRead=True
        )["Item"]

    def notifications(self) -> list[dict[str, Any]]:
        found: list[dict[str, Any]] = []
        while batch := receive_notifications(
            self.stack.resources.queue_url, region="us-east-1", wait_seconds=0
        ):
            found.extend(batch)
        return found

    def stored_body(self, job: Job) -> bytes:
        """The result body as stored, wherever it is, decoded."""
        item = self.item(job)
        result = item["result"]["M"]
        encoding = result["content_encoding"]["S"]
        if result["storage"]["S"] == "inline":
            data = item["result_data"]["B"]
        else:
            bucket = self.stack.resources.names.results_bucket
            data = self.s3.get_object(Bucket=bucket, Key=result["s3_key"]["S"])["Body"].read()
        return gzip.decompress(data) if encoding == "gzip" else data

    def s3_keys(self) -> list[str]:
        listing = self.s3.list_objects_v2(Bucket=self.stack.resources.names.results_bucket)
        return [entry["Key"] for entry in listing.get("Contents", [])]


@pytest.fixture
def pipeline(aws: Stack) -> Pipeline:
    return Pipeline(aws)


# --- success path and storage ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("size", "storage"),
    [(1 * KB, "inline"), (100 * KB, "inline"), (1 * MB, "s3"), (5 * MB, "s3")],
    ids=["1KB", "100KB", "1MB", "5MB"],
)
def test_a_result_of_any_size_is_stored_intact_then_acknowledged(
    pipeline: Pipeline, size: int, storage: str
) -> None:
    job = pipeline.job()
    body = pipeline.body(job, size=size)

    response = pipeline.deliver_as_deepgram(job, body)

    assert response["statusCode"] == 200
    assert response["json"]["status"] == "accepted"
    item = pipeline.item(job)
    assert item["status"]["S"] == "completed"
    assert item["result"]["M"]["storage"]["S"] == storage
    assert int(item["result"]["M"]["size_bytes"]["N"]) == len(body)
    assert pipeline.stored_body(job) == body


def test_a_success_publishes_one_compact_notification_with_filterable_attributes(pipeline: Pipeline) -> None:
    job = pipeline.job()
    body = pipeline.body(job, size=5 * MB)

    pipeline.deliver_as_deepgram(job, body)

    [notification] = pipeline.notifications()
    message = notification["message"]
    assert message["job_id"] == job.job_id
    assert message["request_id"] == job.request_id
    assert message["status"] == "completed"
    assert message["metadata"] == {"customer": "acme"}
    assert message["result_location"] == f"/transcriptions/{job.job_id}"
    assert message["summary"]["words"] > 1000
    assert 0 < len(message["summary"]["transcript_preview"]) <= 281
    assert len(json.dumps(message)) < 4 * KB
    assert notification["attributes"] == {
        "event_type": "transcription.completed",
        "status": "completed",
        "metadata.customer": "acme",
    }


def test_an_error_body_fails_the_job_with_deepgrams_reason(pipeline: Pipeline) -> None:
    job = pipeline.job()
    body = compact_json({**error_body(ErrorKind.REMOTE_CONTENT, request_id=job.request_id), "metadata": {}})

    response = pipeline.deliver_as_deepgram(job, body)

    assert response["statusCode"] == 200
    item = pipeline.item(job)
    assert item["status"]["S"] == "failed"
    assert item["error"]["M"]["code"]["S"] == "REMOTE_CONTENT_ERROR"
    [notification] = pipeline.notifications()
    assert notification["attributes"]["event_type"] == "transcription.failed"
    assert notification["message"]["error"]["code"] == "REMOTE_CONTENT_ERROR"


def test_put_deliveries_and_base64_bodies_are_accepted(pipeline: Pipeline) -> None:
    job = pipeline.job()
    body = pipeline.body(job)

    response = pipeline.deliver_as_deepgram(job, body, method="PUT", content_type="application/octet-stream")

    assert response["statusCode"] == 200
    assert pipeline.stored_body(job) == body


def test_the_callback_secret_in_extra_alone_authenticates(pipeline: Pipeline) -> None:
    job = pipeline.job()

    response = pipeline.deliver(pipeline.body(job))

    assert response["statusCode"] == 200
    assert pipeline.item(job)["status"]["S"] == "completed"


def test_a_callback_that_beats_the_request_id_write_still_completes_the_job(pipeline: Pipeline) -> None:
    job = pipeline.job(record_request_id=False)

    response = pipeline.deliver_as_deepgram(job, pipeline.body(job))
    pipeline.repository.record_submission(job.job_id, job.request_id, datetime.now(UTC))

    assert response["statusCode"] == 200
    item = pipeline.item(job)
    assert item["status"]["S"] == "completed"
    assert item["request_id"]["S"] == job.request_id
    assert "submitted_at" in item


def test_a_late_callback_completes_a_job_whose_submission_timed_out(pipeline: Pipeline) -> None:
    job = pipeline.job(record_request_id=False)
    timeout = JobError(code="deepgram_timeout", message="Deepgram did not answer in time")
    pipeline.repository.mark_submit_failed(job.job_id, timeout, ambiguous=True, at=datetime.now(UTC))

    response = pipeline.deliver_as_deepgram(job, pipeline.body(job))

    assert response["statusCode"] == 200
    item = pipeline.item(job)
    assert item["status"]["S"] == "completed"
    assert "error" not in item


def test_a_job_refused_outright_at_submission_takes_no_result(pipeline: Pipeline) -> None:
    job = pipeline.job(record_request_id=False)
    refusal = JobError(code="deepgram_rejected", message="bad option")
    pipeline.repository.mark_submit_failed(job.job_id, refusal, ambiguous=False, at=datetime.now(UTC))

    response = pipeline.deliver_as_deepgram(job, pipeline.body(job))

    assert response["statusCode"] == 409
    assert pipeline.item(job)["status"]["S"] == "failed"
    assert pipeline.notifications() == []


# --- exactly once ------------------------------------------------------------------------------


def test_ten_deliveries_of_the_same_result_store_once_and_notify_once(pipeline: Pipeline) -> None:
    job = pipeline.job()
    body = pipeline.body(job, size=3 * MB)

    responses = [pipeline.deliver_as_deepgram(job, body) for _ in range(10)]

    assert [response["statusCode"] for response in responses] == [200] * 10
    assert [response["json"]["status"] for response in responses] == ["accepted"] + ["duplicate"] * 9
    assert len(pipeline.notifications()) == 1
    assert len(pipeline.s3_keys()) == 1


def test_two_concurrent_deliveries_store_once_and_notify_once(pipeline: Pipeline) -> None:
    """Both deliveries read the job as awaiting before either writes: the conditional write decides."""
    job = pipeline.job()
    body = pipeline.body(job, size=50 * KB)
    service = callback_handler.callback_service()
    both_read = threading.Barrier(2, timeout=10)
    repository = service._jobs  # the service's own repository, wrapped to line the readers up
    original_get = repository.get
    reads = 0

    def get_then_wait(job_id: str) -> Any:
        nonlocal reads
        found = original_get(job_id)
        reads += 1
        if reads <= 2:
            both_read.wait()
        return found

    # moto evaluates a condition and applies the update without a lock, so two threads can both
    # pass it; DynamoDB serialises writes to one item. The lock restores that guarantee.
    original_finish = repository.finish
    item_lock = threading.Lock()

    def atomic_finish(*args: Any, **kwargs: Any) -> bool:
        with item_lock:
            return original_finish(*args, **kwargs)

    repository.get = get_then_wait  # type: ignore[method-assign]
    repository.finish = atomic_finish  # type: ignore[method-assign]
    request = CallbackRequest(
        method="POST",
        headers={
            "authorization": "Basic " + base64.b64encode(f"{job.job_id}:{job.secret}".encode()).decode(),
            "dg-token": DEEPGRAM_API_KEY_ID,
        },
        body=body,
    )
    results: list[Any] = []
    threads = [threading.Thread(target=lambda: results.append(service.handle(request))) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=20)

    assert sorted(result.status_code for result in results) == [200, 200]
    assert sorted(result.outcome for result in results) == ["accepted", "duplicate"]
    assert len(pipeline.notifications()) == 1
    assert pipeline.stored_body(job) == body


def test_a_different_result_for_a_finished_job_is_a_conflict_and_changes_nothing(pipeline: Pipeline) -> None:
    job = pipeline.job()
    first = pipeline.body(job, seed=1)
    pipeline.deliver_as_deepgram(job, first)
    pipeline.notifications()
    before = pipeline.item(job)

    response = pipeline.deliver_as_deepgram(job, pipeline.body(job, seed=2))

    assert response["statusCode"] == 409
    assert response["json"]["error"]["code"] == "already_finished"
    assert pipeline.item(job) == before
    assert pipeline.notifications() == []


# --- authentication and correlation: forged callbacks change nothing ---------------------------


def _forgeries(pipeline: Pipeline, job: Job, other: Job) -> dict[str, tuple[int, dict[str, Any]]]:
    body = pipeline.body(job)
    bare = pipeline.body(job, with_extra=False)
    wrong_request = compact_json(
        generate_response(
            target_bytes=2 * KB,
            request_id=str(uuid.uuid4()),
            extra={"job_id": job.job_id, "callback_secret": job.secret},
        )
    )
    return {
        "no credentials": (401, pipeline.deliver(bare)),
        "wrong password": (401, pipeline.deliver(body, credentials=(job.job_id, "0" * 64))),
        "wrong extra secret": (
            401,
            pipeline.deliver(
                compact_json(
                    generate_response(
                        target_bytes=2 * KB,
                        request_id=job.request_id,
                        extra={"job_id": job.job_id, "callback_secret": other.secret},
                    )
                )
            ),
        ),
        "another job's credentials": (401, pipeline.deliver(body, credentials=(other.job_id, other.secret))),
        "valid Basic, extra naming another job with a wrong secret": (
            401,
            pipeline.deliver(
                compact_json(
                    generate_response(
                        target_bytes=2 * KB,
                        request_id=job.request_id,
                        extra={"job_id": other.job_id, "callback_secret": "0" * 64},
                    )
                ),
                credentials=(job.job_id, job.secret),
            ),
        ),
        "deeply nested JSON": (401, pipeline.deliver(b"[" * 100_000 + b"]" * 100_000)),
        "another job's credentials, no extra": (
            403,
            pipeline.deliver(bare, credentials=(other.job_id, other.secret)),
        ),
        "wrong request_id": (403, pipeline.deliver_as_deepgram(job, wrong_request)),
        "malformed authorization": (
            401,
            pipeline.deliver(bare, headers={"authorization": "Basic !!!not-base64"}),
        ),
        "wrong dg-token": (
            401,
            pipeline.deliver_as_deepgram(job, body, headers={"dg-token": "someone-else"}),
        ),
        "not JSON, no credentials": (401, pipeline.deliver(b"<html>hello</html>", content_type="text/html")),
        "not JSON": (400, pipeline.deliver_as_deepgram(job, b"not json", content_type="text/plain")),
        "neither results nor error": (
            400,
            pipeline.deliver_as_deepgram(job, compact_json({"metadata": {"request_id": job.request_id}})),
        ),
        "GET": (405, pipeline.deliver_as_deepgram(job, body, method="GET")),
    }


def test_forged_or_malformed_callbacks_are_rejected_and_change_nothing(pipeline: Pipeline) -> None:
    job, other = pipeline.job(), pipeline.job()
    before = (pipeline.item(job), pipeline.item(other))

    outcomes = _forgeries(pipeline, job, other)

    assert {name: response["statusCode"] for name, (_, response) in outcomes.items()} == {
        name: expected for name, (expected, _) in outcomes.items()
    }
    for _, response in outcomes.values():
        assert set(response["json"]["error"]) == {"code", "message"}
    assert (pipeline.item(job), pipeline.item(other)) == before
    assert pipeline.notifications() == []
    assert pipeline.s3_keys() == []


def test_credentials_for_an_unknown_job_are_not_found(pipeline: Pipeline) -> None:
    ghost = Job(job_id=uuid.uuid4().hex, request_id=str(uuid.uuid4()))

    response = pipeline.deliver_as_deepgram(ghost, pipeline.body(ghost))

    assert response["statusCode"] == 404


@pytest.mark.parametrize(
    ("mode", "token", "expected"),
    [
        ("if-present", None, 200),
        ("if-present", "someone-else", 401),
        ("required", None, 401),
        ("required", DEEPGRAM_API_KEY_ID, 200),
        ("off", "someone-else", 200),
    ],
)
def test_dg_token_modes(
    pipeline: Pipeline, monkeypatch: pytest.MonkeyPatch, mode: str, token: str | None, expected: int
) -> None:
    monkeypatch.setenv("DG_TOKEN_MODE", mode)
    callback_handler.callback_service.cache_clear()
    job = pipeline.job()
    event_headers = {"dg-token": token} if token else {}
    body = pipeline.body(job)
    if token is None:
        response = _deliver_without_dg_token(pipeline, job, body)
    else:
        response = pipeline.deliver_as_deepgram(job, body, headers=event_headers)

    assert response["statusCode"] == expected


def _deliver_without_dg_token(pipeline: Pipeline, job: Job, body: bytes) -> dict[str, Any]:
    token = base64.b64encode(f"{job.job_id}:{job.secret}".encode()).decode()
    event = function_url_event(
        method="POST",
        headers={"content-type": "application/json", "authorization": f"Basic {token}"},
        body=body,
    )
    return callback_handler.lambda_handler(event, LambdaContext("callback"))


# --- dependency faults: 5xx, then a retry ends in exactly one result and one notification ------


@pytest.mark.parametrize(
    ("service", "operation", "size"),
    [
        ("dynamodb", "GetItem", 2 * KB),
        ("dynamodb", "UpdateItem", 2 * KB),
        ("s3", "PutObject", 5 * MB),
        ("sns", "Publish", 2 * KB),
        ("secretsmanager", "GetSecretValue", 2 * KB),
    ],
)
def test_a_dependency_fault_answers_503_and_the_retry_stores_and_notifies_once(
    pipeline: Pipeline, aws_faults: AwsFaults, service: str, operation: str, size: int
) -> None:
    job = pipeline.job()
    body = pipeline.body(job, size=size)
    aws_faults.fail(service, operation)

    failed = pipeline.deliver_as_deepgram(job, body)
    retried = pipeline.deliver_as_deepgram(job, body)
    again = pipeline.deliver_as_deepgram(job, body)

    assert aws_faults.injected == [(service, operation)]
    assert failed["statusCode"] == 503
    assert failed["headers"]["Retry-After"] == "30"
    assert retried["statusCode"] == 200
    assert again["json"]["status"] == "duplicate"
    assert pipeline.stored_body(job) == body
    assert len(pipeline.notifications()) == 1
    assert len(pipeline.s3_keys()) == (1 if size > 2 * MB else 0)


def test_a_result_stored_but_unpublished_is_published_by_the_next_delivery(
    pipeline: Pipeline, aws_faults: AwsFaults
) -> None:
    job = pipeline.job()
    body = pipeline.body(job)
    aws_faults.fail("sns", "Publish")

    assert pipeline.deliver_as_deepgram(job, body)["statusCode"] == 503
    assert pipeline.item(job)["status"]["S"] == "completed"
    assert pipeline.notifications() == []

    assert pipeline.deliver_as_deepgram(job, body)["json"]["status"] == "duplicate"
    assert len(pipeline.notifications()) == 1


def test_a_publication_lease_left_by_a_crashed_delivery_expires_before_deepgrams_retry(
    pipeline: Pipeline,
) -> None:
    """A delivery that died after storing but before publishing holds the lease; the retry 30 s
    later must find it expired and publish."""
    job = pipeline.job()
    service = callback_handler.callback_service()
    body = pipeline.body(job)
    crashed_at = datetime.now(UTC)
    service._clock = lambda: crashed_at  # type: ignore[method-assign]
    service._publisher.publish = _crash  # type: ignore[method-assign]
    with pytest.raises(RuntimeError):
        pipeline.deliver_as_deepgram(job, body)
    assert pipeline.item(job)["status"]["S"] == "completed"

    del service._publisher.publish
    service._clock = lambda: crashed_at + timedelta(seconds=5)  # type: ignore[method-assign]
    assert pipeline.deliver_as_deepgram(job, body)["json"]["status"] == "duplicate"
    assert pipeline.notifications() == []  # a live lease: the first delivery may still be publishing

    service._clock = lambda: crashed_at + timedelta(seconds=30)  # type: ignore[method-assign]
    retried = pipeline.deliver_as_deepgram(job, body)

    assert retried["json"]["status"] == "duplicate"
    assert len(pipeline.notifications()) == 1


def _crash(*_: Any) -> str:
    raise RuntimeError("the function died mid-publish")


def test_job_status_is_unchanged_by_the_request_id_write_after_completion(pipeline: Pipeline) -> None:
    job = pipeline.job(record_request_id=False)
    pipeline.deliver_as_deepgram(job, pipeline.body(job))

    pipeline.repository.record_submission(job.job_id, job.request_id, datetime.now(UTC))

    stored = pipeline.repository.get(job.job_id)
    assert stored is not None
    assert stored.status is JobStatus.COMPLETED


# --- review fixes -------------------------------------------------------------------------------


def test_a_finishing_write_whose_answer_was_lost_still_counts_as_won(pipeline: Pipeline) -> None:
    """botocore retries a write whose answer was lost; if the first attempt was applied, the retry's
    condition fails. The delivery must still see the job as its own and publish."""
    job = pipeline.job()
    client = callback_handler.callback_service()._jobs._client  # type: ignore[attr-defined]
    real_update = client.update_item
    lost: list[str] = []

    def update_whose_answer_is_lost(**request: Any) -> Any:
        answer = real_update(**request)
        if "notify_lease_token = :token" in request["UpdateExpression"] and not lost:
            lost.append(request["UpdateExpression"])
            raise ClientError({"Error": {"Code": "ConditionalCheckFailedException"}}, "UpdateItem")
        return answer

    client.update_item = update_whose_answer_is_lost

    response = pipeline.deliver_as_deepgram(job, pipeline.body(job))

    assert lost
    assert response["json"]["status"] == "accepted"
    assert len(pipeline.notifications()) == 1


def test_an_error_callback_without_a_request_id_is_accepted_on_its_credentials(pipeline: Pipeline) -> None:
    job = pipeline.job()
    body = compact_json({"err_code": "SLOW_UPLOAD", "err_msg": "upload too slow"})

    response = pipeline.deliver_as_deepgram(job, body)

    assert response["statusCode"] == 200
    assert pipeline.item(job)["status"]["S"] == "failed"


def test_a_request_id_stored_after_the_read_is_still_enforced(pipeline: Pipeline) -> None:
    """The submit function may store the request_id between the callback's read and its write."""
    job = pipeline.job()
    service = callback_handler.callback_service()
    stale = replace(pipeline.repository.get(job.job_id), request_id=None)  # type: ignore[type-var]
    real_get = service._jobs.get
    reads: list[str] = []

    def stale_first_read(job_id: str) -> Any:
        reads.append(job_id)
        return stale if len(reads) == 1 else real_get(job_id)

    service._jobs.get = stale_first_read  # type: ignore[method-assign]
    impostor = Job(job_id=job.job_id, request_id=str(uuid.uuid4()))

    response = pipeline.deliver_as_deepgram(job, pipeline.body(impostor, size=3 * MB))

    assert response["statusCode"] == 403
    assert pipeline.item(job)["status"]["S"] == "processing"
    assert pipeline.s3_keys() == []
    assert pipeline.notifications() == []


def test_a_fault_answer_tells_an_anonymous_caller_nothing_about_the_account(
    pipeline: Pipeline, aws_faults: AwsFaults
) -> None:
    aws_faults.fail("secretsmanager", "GetSecretValue")

    response = pipeline.deliver(b"{}")

    assert response["statusCode"] == 503
    assert "arn:" not in response["body"]
    assert "secret" not in response["body"].lower()


def _emitted(output: str) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """(log lines, EMF metric documents) printed by Powertools."""
    documents = [json.loads(line) for line in output.splitlines() if line.startswith("{")]
    return [d for d in documents if "_aws" not in d], [d for d in documents if "_aws" in d]


@contextmanager
def callback_output(capsys: pytest.CaptureFixture[str]) -> Iterator[list[str]]:
    """Everything the callback function prints: its log lines (whose stream the Powertools Logger
    bound at import, out of capsys's reach) and its EMF metrics (printed to stdout)."""
    handler = callback_handler.logger.registered_handler
    logs = io.StringIO()
    previous = handler.setStream(logs)  # type: ignore[attr-defined]
    capsys.readouterr()
    output: list[str] = []
    try:
        yield output
    finally:
        handler.setStream(previous)  # type: ignore[attr-defined]
        output.append(logs.getvalue() + capsys.readouterr().out)


def _metric_names(documents: list[dict[str, Any]]) -> dict[str, list[list[str]]]:
    return {
        metric["Name"]: directive["Dimensions"]
        for document in documents
        for directive in document["_aws"]["CloudWatchMetrics"]
        for metric in directive["Metrics"]
    }


def test_an_accepted_callback_emits_its_metrics_and_clean_log_lines(
    pipeline: Pipeline, capsys: pytest.CaptureFixture[str]
) -> None:
    job = pipeline.job()
    body = pipeline.body(job)
    transcript_words = json.loads(body)["results"]["channels"][0]["alternatives"][0]["transcript"].split()[:8]

    with callback_output(capsys) as printed:
        pipeline.deliver_as_deepgram(job, body)

    output = printed[0]
    logs, metrics = _emitted(output)
    assert set(_metric_names(metrics)) >= {
        "CallbacksAccepted",
        "SecondsFromSubmitToCallback",
        "NotificationsPublished",
    }
    assert logs
    assert all(line["job_id"] == job.job_id and line["request_id"] == job.request_id for line in logs)
    assert job.secret not in output
    assert " ".join(transcript_words) not in output


def test_a_rejected_callback_is_counted_with_its_reason(
    pipeline: Pipeline, capsys: pytest.CaptureFixture[str]
) -> None:
    job = pipeline.job()

    with callback_output(capsys) as printed:
        pipeline.deliver(pipeline.body(job), credentials=(job.job_id, "0" * 64))

    logs, metrics = _emitted(printed[0])
    names = _metric_names(metrics)
    assert names["CallbacksRejected"] == [["service"]]
    assert names["CallbacksRejectedByReason"] == [["service", "reason"]]
    assert any(document.get("reason") == "bad_credentials" for document in metrics)
    assert "0" * 64 not in json.dumps(logs)


@pytest.mark.parametrize(
    ("status", "ambiguous", "has_result"),
    [
        (status, ambiguous, has_result)
        for status in JobStatus
        for ambiguous in (False, True)
        for has_result in (False, True)
        if not (status in (JobStatus.QUEUED, JobStatus.PROCESSING) and has_result)
    ],
)
def test_the_conditional_write_accepts_exactly_the_jobs_the_domain_calls_awaiting(
    pipeline: Pipeline, status: JobStatus, ambiguous: bool, has_result: bool
) -> None:
    """`Job.awaiting_result` (domain) and the finishing write's condition (adapter) state one rule."""
    job = pipeline.job()
    stored = pipeline.repository.get(job.job_id)
    assert stored is not None
    now = datetime.now(UTC)
    result = StoredResult(
        storage="inline", size_bytes=2, sha256="0" * 64, content_encoding="identity", inline_data=b"{}"
    )
    shaped = replace(
        stored, status=status, submit_error_ambiguous=ambiguous, result=result if has_result else None
    )
    item = pipeline.item(job)
    item["status"] = {"S": status.value}
    item["submit_error_ambiguous"] = {"BOOL": ambiguous}
    if has_result:
        item["result"] = {"M": {"storage": {"S": "inline"}}}
    pipeline.dynamodb.put_item(TableName=pipeline.stack.resources.names.jobs_table, Item=item)
    finished = replace(stored, status=JobStatus.COMPLETED, result=result, completed_at="2026-01-01T00:00:00Z")

    applied = pipeline.repository.finish(finished, lease_token="t", lease_until=now)

    assert applied is shaped.awaiting_result
