"""The callback's Lambda handler: the translation only (Function URL event → `CallbackRequest`,
`CallbackResult` → HTTP answer), its logs and metrics, and one delivery end to end on moto.

What the service decides is tested on in-memory ports in `tests/service/test_callback_service.py`.
"""

from __future__ import annotations

import base64
import gzip
import io
import json
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Any

import boto3
import pytest

from functions.callback import handler as callback_handler
from functions.callback.logic import REDACTED
from functions.callback.telemetry import logger as callback_logger
from functions.core import result_storage
from functions.core.adapters.dynamodb import DynamoJobRepository
from functions.core.callback_auth import callback_secret
from functions.core.jobs import JobStatus, new_job
from local.aws_resources import receive_notifications
from local.deepgram_emulator.payloads import compact_json, generate_response
from local.events import LambdaContext, function_url_event
from tests.conftest import DEEPGRAM_API_KEY_ID, SIGNING_KEY, Stack
from tests.faults import AwsFaults

KB = 1024
MB = 1024 * 1024


# --- event → request ---------------------------------------------------------------------------


def test_a_base64_encoded_body_is_decoded_and_the_method_kept() -> None:
    body = compact_json({"results": {}, "metadata": {"note": "ünïcode"}})
    event = function_url_event(method="PUT", headers={"Content-Type": "application/octet-stream"}, body=body)
    assert event["isBase64Encoded"] is True

    request = callback_handler.to_request(event)

    assert request.method == "PUT"
    assert request.body == body


def test_a_text_body_is_taken_as_utf8_and_header_names_are_lower_cased() -> None:
    body = compact_json({"metadata": {"note": "ünïcode"}})
    event = function_url_event(method="POST", headers={"content-type": "application/json"}, body=body)
    assert event["isBase64Encoded"] is False
    event["headers"] = {"Content-Type": "application/json", "Authorization": "Basic abc", "DG-Token": "id"}
    event["requestContext"]["http"]["method"] = "post"

    request = callback_handler.to_request(event)

    assert request.method == "POST"
    assert request.body == body
    assert dict(request.headers) == {
        "content-type": "application/json",
        "authorization": "Basic abc",
        "dg-token": "id",
    }


@pytest.mark.parametrize(
    "changes",
    [{"body": None}, {"isBase64Encoded": True, "body": "!!!not base64"}, {"headers": None}],
    ids=["no body", "bad base64", "no headers"],
)
def test_a_degenerate_event_becomes_an_empty_request_part(changes: dict[str, Any]) -> None:
    event = function_url_event(method="POST", headers={"content-type": "application/json"}, body=b"{}")
    event.update(changes)

    request = callback_handler.to_request(event)

    if "body" in changes:
        assert request.body == b""
    if "headers" in changes:
        assert dict(request.headers) == {}


# --- result → answer, end to end on moto -------------------------------------------------------


class Deliveries:
    """Jobs in the moto table, deliveries through the real handler, what reached SQS."""

    def __init__(self, stack: Stack) -> None:
        self.stack = stack
        self.repository = DynamoJobRepository(boto3.client("dynamodb"), stack.resources.names.jobs_table)

    def job(self) -> tuple[str, str]:
        job = new_job(
            source={"type": "url", "url": "https://example.com/a.wav"},
            options={},
            metadata={"customer": "acme"},
            retention_days=1,
            now=datetime.now(UTC),
        )
        self.repository.create(job)
        request_id = str(uuid.uuid4())
        self.repository.record_submission(job.job_id, request_id, datetime.now(UTC))
        return job.job_id, request_id

    @staticmethod
    def body(job_id: str, request_id: str, *, size: int = 2 * KB) -> bytes:
        extra = {"job_id": job_id, "callback_secret": callback_secret(SIGNING_KEY, job_id)}
        return compact_json(generate_response(target_bytes=size, request_id=request_id, extra=extra))

    @staticmethod
    def deliver(
        body: bytes,
        *,
        job_id: str | None = None,
        password: str | None = None,
        method: str = "POST",
        content_type: str = "application/json",
    ) -> dict[str, Any]:
        headers = {"Content-Type": content_type, "dg-token": DEEPGRAM_API_KEY_ID}
        if job_id:
            secret = password or callback_secret(SIGNING_KEY, job_id)
            headers["Authorization"] = "Basic " + base64.b64encode(f"{job_id}:{secret}".encode()).decode()
        event = function_url_event(method=method, headers=headers, body=body)
        response: dict[str, Any] = callback_handler.lambda_handler(event, LambdaContext("callback"))
        return response

    def stored_body(self, job_id: str) -> bytes:
        job = self.repository.get(job_id)
        assert job is not None
        assert job.result is not None
        if job.result.storage == "inline":
            return result_storage.decode_inline(job.result)
        s3 = boto3.client("s3")
        data = s3.get_object(Bucket=self.stack.resources.names.results_bucket, Key=job.result.s3_key)
        raw: bytes = data["Body"].read()
        return gzip.decompress(raw) if job.result.content_encoding == "gzip" else raw

    def notifications(self) -> list[dict[str, Any]]:
        found: list[dict[str, Any]] = []
        queue_url = self.stack.resources.queue_url
        while batch := receive_notifications(queue_url, region="us-east-1", wait_seconds=0):
            found.extend(batch)
        return found


@pytest.fixture
def deliveries(shared_botocore_models: None, aws: Stack) -> Deliveries:
    return Deliveries(aws)


@pytest.mark.parametrize(("size", "storage"), [(2 * KB, "inline"), (1 * MB, "s3")], ids=["inline", "s3"])
def test_an_accepted_delivery_is_stored_and_its_notification_reaches_the_queue(
    deliveries: Deliveries, size: int, storage: str
) -> None:
    job_id, request_id = deliveries.job()
    body = deliveries.body(job_id, request_id, size=size)

    response = deliveries.deliver(body, job_id=job_id, method="PUT", content_type="application/octet-stream")

    assert response["statusCode"] == 200
    assert response["headers"] == {"Content-Type": "application/json"}
    assert json.loads(response["body"]) == {"status": "accepted", "job_id": job_id}
    stored = deliveries.repository.get(job_id)
    assert stored is not None
    assert stored.status is JobStatus.COMPLETED
    assert stored.result is not None
    assert stored.result.storage == storage
    secret = callback_secret(SIGNING_KEY, job_id).encode()
    assert deliveries.stored_body(job_id) == body.replace(secret, REDACTED)
    [notification] = deliveries.notifications()
    assert notification["message"]["job_id"] == job_id
    assert notification["message"]["request_id"] == request_id
    assert notification["attributes"] == {
        "event_type": "transcription.completed",
        "status": "completed",
        "metadata.customer": "acme",
    }


def test_a_rejection_answers_json_and_a_wrong_method_names_the_allowed_ones(deliveries: Deliveries) -> None:
    job_id, request_id = deliveries.job()

    response = deliveries.deliver(deliveries.body(job_id, request_id), job_id=job_id, method="GET")

    assert response["statusCode"] == 405
    assert response["headers"] == {"Content-Type": "application/json", "Allow": "POST, PUT"}
    assert json.loads(response["body"])["error"]["code"] == "method_not_allowed"
    assert deliveries.notifications() == []


# --- logs and metrics --------------------------------------------------------------------------


def _emitted(output: str) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """(log lines, EMF metric documents) printed by Powertools."""
    documents = [json.loads(line) for line in output.splitlines() if line.startswith("{")]
    return [d for d in documents if "_aws" not in d], [d for d in documents if "_aws" in d]


@contextmanager
def callback_output(capsys: pytest.CaptureFixture[str]) -> Iterator[list[str]]:
    """Everything the callback function prints: its log lines (whose stream the Powertools Logger
    bound at import, out of capsys's reach) and its EMF metrics (printed to stdout)."""
    handler = callback_logger.registered_handler
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
    deliveries: Deliveries, capsys: pytest.CaptureFixture[str]
) -> None:
    job_id, request_id = deliveries.job()
    body = deliveries.body(job_id, request_id)
    transcript_words = json.loads(body)["results"]["channels"][0]["alternatives"][0]["transcript"].split()[:8]

    with callback_output(capsys) as printed:
        deliveries.deliver(body, job_id=job_id)

    output = printed[0]
    logs, metrics = _emitted(output)
    assert set(_metric_names(metrics)) >= {
        "CallbacksAccepted",
        "SecondsFromSubmitToCallback",
        "NotificationsPublished",
    }
    assert logs
    assert all(line["job_id"] == job_id and line["request_id"] == request_id for line in logs)
    assert callback_secret(SIGNING_KEY, job_id) not in output
    assert " ".join(transcript_words) not in output


def test_a_duplicate_callback_is_counted_as_such(
    deliveries: Deliveries, capsys: pytest.CaptureFixture[str]
) -> None:
    job_id, request_id = deliveries.job()
    body = deliveries.body(job_id, request_id)
    deliveries.deliver(body, job_id=job_id)

    with callback_output(capsys) as printed:
        response = deliveries.deliver(body, job_id=job_id)

    assert json.loads(response["body"])["status"] == "duplicate"
    _, metrics = _emitted(printed[0])
    names = _metric_names(metrics)
    assert "CallbacksDuplicate" in names
    assert "CallbacksAccepted" not in names
    assert "NotificationsPublished" not in names


def test_a_rejected_callback_is_counted_with_its_reason(
    deliveries: Deliveries, capsys: pytest.CaptureFixture[str]
) -> None:
    job_id, request_id = deliveries.job()

    with callback_output(capsys) as printed:
        deliveries.deliver(deliveries.body(job_id, request_id), job_id=job_id, password="0" * 64)

    logs, metrics = _emitted(printed[0])
    names = _metric_names(metrics)
    assert names["CallbacksRejected"] == [["service"]]
    assert names["CallbacksRejectedByReason"] == [["service", "reason"]]
    assert any(document.get("reason") == "bad_credentials" for document in metrics)
    rejections = [line for line in logs if line.get("message") == "callback rejected"]
    assert [line["reason"] for line in rejections] == ["bad_credentials"]
    assert "0" * 64 not in json.dumps(logs)


@pytest.mark.parametrize(
    ("fault", "logged_error"),
    [
        (("dynamodb", "UpdateItem"), "DynamoDB: InternalServerError"),
        (("secretsmanager", "GetSecretValue"), "Secrets Manager: cannot read secret"),
    ],
    ids=["dynamodb", "secretsmanager"],
)
def test_a_dependency_fault_answers_503_with_retry_after_and_logs_the_dependency(
    deliveries: Deliveries,
    aws_faults: AwsFaults,
    capsys: pytest.CaptureFixture[str],
    fault: tuple[str, str],
    logged_error: str,
) -> None:
    job_id, request_id = deliveries.job()
    aws_faults.fail(*fault)

    with callback_output(capsys) as printed:
        response = deliveries.deliver(deliveries.body(job_id, request_id), job_id=job_id)

    assert aws_faults.injected == [fault]
    assert response["statusCode"] == 503
    assert response["headers"] == {"Content-Type": "application/json", "Retry-After": "30"}
    assert json.loads(response["body"])["error"]["code"] == "temporarily_unavailable"
    # The caller is not authenticated yet: the answer names no account resource.
    assert "arn:" not in response["body"]
    assert "secret" not in response["body"].lower()
    logs, metrics = _emitted(printed[0])
    assert "CallbackFaults" in _metric_names(metrics)
    [line] = [line for line in logs if line["level"] == "ERROR"]
    assert line["error"].startswith(logged_error)
    assert line["status_code"] == 503
    assert callback_secret(SIGNING_KEY, job_id) not in printed[0]
