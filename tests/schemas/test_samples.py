"""Sample outputs of every job status and every notification event type, produced by the real code
(`public_view`, `StatusService.describe`, `build_notification`, `ManageService`), validated
against the committed schemas. (The session hook in tests/conftest.py validates them too; these
tests name each case, and check that invalid documents are caught.)"""

from __future__ import annotations

import hashlib
import json
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from functions.core import result_storage
from functions.core.adapters.memory import InMemoryBlobStore, InMemoryJobRepository, InMemoryPublisher
from functions.core.contract import Notification
from functions.core.jobs import Attempt, Delivery, Job, JobError, JobStatus, isoformat, new_job, public_view
from functions.core.notifications import build_notification
from functions.core.notifier import Notifier
from functions.core.transcript import summarize
from functions.manage.logic import ManageService
from functions.status.logic import JobDescription, StatusConfig, StatusService
from local.deepgram_emulator.payloads import compact_json, generate_response
from tests.schemas.validation import SchemaRecorder, Validators

NOW = datetime(2026, 11, 22, 14, 0, tzinfo=UTC)
URL_TTL = 900


@pytest.fixture(scope="module")
def validators() -> Validators:
    return Validators()


def _valid(validators: Validators, validator: Any, document: Any) -> None:
    problems = validators.problems(validator, document)
    assert not problems, "\n".join(problems)


class _Jobs:
    """Just what `StatusService.describe` reads."""

    def __init__(self, job: Job) -> None:
        self.job = job

    def get(self, job_id: str) -> Job | None:
        return self.job if job_id == self.job.job_id else None


def _queued(*, upload: bool = False, delivery: Delivery = Delivery.CALLBACK) -> Job:
    audio = b"RIFF....WAVEfmt "
    source: dict[str, Any] = (
        {
            "type": "upload",
            "content_type": "audio/wav",
            "size_bytes": len(audio),
            "sha256": hashlib.sha256(audio).hexdigest(),
        }
        if upload
        else {"type": "url", "url": "https://example.com/call.wav"}
    )
    return new_job(
        source=source,
        options={"model": "nova-3", "smart_format": True, "keyterm": ["Acme", "refund"]},
        metadata={"customer": "acme", "ticket": "T-1234"},
        retention_days=30,
        now=NOW,
        delivery=delivery,
        result_due_in=timedelta(minutes=30),
    )


def _processing(job: Job) -> Job:
    stamp = isoformat(NOW + timedelta(milliseconds=412))
    return replace(
        job,
        status=JobStatus.PROCESSING,
        request_id="5b0a1c2e-7d3f-4e8a-9b6c-1d2e3f4a5b6c",
        submitted_at=stamp,
        updated_at=stamp,
    )


def _completed(job: Job, body: bytes, *, allow_inline: bool = True) -> tuple[Job, bytes | None]:
    encoded = result_storage.encode(
        job.job_id, body, hashlib.sha256(body).hexdigest(), allow_inline=allow_inline
    )
    stamp = isoformat(NOW + timedelta(seconds=9))
    finished = replace(
        _processing(job),
        status=JobStatus.COMPLETED,
        completed_at=stamp,
        updated_at=stamp,
        result=encoded.stored,
        summary=summarize(json.loads(body)),
    )
    return finished, encoded.object_data


def _failed(job: Job) -> Job:
    stamp = isoformat(NOW + timedelta(seconds=9))
    return replace(
        _processing(job),
        status=JobStatus.FAILED,
        completed_at=stamp,
        updated_at=stamp,
        error=JobError(code="REMOTE_CONTENT_ERROR", message="The remote server failed to return valid data."),
    )


def _describe(job: Job, blobs: InMemoryBlobStore | None = None) -> JobDescription:
    service = StatusService(
        jobs=_Jobs(job),  # type: ignore[arg-type]
        blobs=blobs or InMemoryBlobStore(),
        config=StatusConfig(result_url_ttl_seconds=URL_TTL),
        clock=lambda: NOW,
    )
    return service.describe(job.job_id)


def _body() -> bytes:
    return compact_json(generate_response(duration_seconds=6.0))


# --- job views ----------------------------------------------------------------------------------


@pytest.mark.parametrize("upload", [False, True], ids=["url", "upload"])
def test_a_queued_job(validators: Validators, upload: bool) -> None:
    job = _queued(upload=upload)
    _valid(validators, validators.job_view, public_view(job))
    described = _describe(job).as_dict()
    assert described["status"] == "queued"
    assert described["request_id"] is None
    _valid(validators, validators.job_detail, described)


def test_a_processing_job(validators: Validators) -> None:
    job = _processing(_queued(delivery=Delivery.S3))
    _valid(validators, validators.job_view, public_view(job))
    _valid(validators, validators.job_detail, _describe(job).as_dict())


def test_a_completed_job_with_its_result_inline(validators: Validators) -> None:
    job, _ = _completed(_queued(), _body())
    assert job.result is not None
    assert job.result.storage == "inline"
    described = _describe(job).as_dict()
    assert {"result", "result_size_bytes", "result_sha256", "summary"} <= set(described)
    assert "result_url" not in described
    _valid(validators, validators.job_detail, described)
    _valid(validators, validators.job_view, public_view(job))


def test_a_completed_job_with_its_result_in_s3(validators: Validators) -> None:
    job, data = _completed(_queued(), _body(), allow_inline=False)
    assert job.result is not None
    assert job.result.s3_key is not None
    assert data is not None
    blobs = InMemoryBlobStore()
    blobs.put(job.result.s3_key, data, content_encoding=job.result.content_encoding)
    described = _describe(job, blobs).as_dict()
    assert described["result_url_expires_in"] == URL_TTL
    assert "result" not in described
    _valid(validators, validators.job_detail, described)


def test_a_failed_job(validators: Validators) -> None:
    job = _failed(_queued())
    described = _describe(job).as_dict()
    assert described["error"]["code"] == "REMOTE_CONTENT_ERROR"
    _valid(validators, validators.job_detail, described)


def test_a_job_submitted_again(validators: Validators) -> None:
    first = _processing(_queued())
    attempt = Attempt(
        request_id=first.request_id,
        submitted_at=first.submitted_at,
        delivery=Delivery.CALLBACK.value,
        outcome="no_callback_received",
    )
    job, _ = _completed(replace(first, attempts=(attempt,), delivery=Delivery.S3), _body())
    described = _describe(job).as_dict()
    assert described["attempts"][0]["outcome"] == "no_callback_received"
    _valid(validators, validators.job_detail, described)
    _valid(validators, validators.notification, json.loads(build_notification(job).message))


def _deleted(job: Job) -> tuple[dict[str, Any], list[Any]]:
    """`job` deleted by the manage service: its tombstone view and what it published."""
    jobs = InMemoryJobRepository()
    jobs.create(job)
    publisher = InMemoryPublisher()
    service = ManageService(
        jobs=jobs,
        blobs=InMemoryBlobStore(),
        notifier=Notifier(jobs=jobs, publisher=publisher, clock=lambda: NOW),
        clock=lambda: NOW + timedelta(hours=1),
    )
    deletion = service.delete(job.job_id)
    return deletion.view, [published.notification for published in publisher.published]


def test_a_deleted_job(validators: Validators) -> None:
    view, published = _deleted(_queued())
    assert view["status"] == "deleted"
    _valid(validators, validators.job_view, view)
    _valid(validators, validators.job_detail, view)
    (notification,) = published
    message = json.loads(notification.message)
    assert message["event_type"] == Notification.EVENT_DELETED
    _valid(validators, validators.notification, message)
    _valid(validators, validators.message_attributes, notification.attributes)


# --- notifications ------------------------------------------------------------------------------


def _notifications() -> dict[str, Job]:
    completed, _ = _completed(_queued(), _body())
    completed_s3, _ = _completed(_queued(upload=True), _body(), allow_inline=False)
    return {
        "completed-inline": completed,
        "completed-s3": completed_s3,
        "failed": _failed(_queued()),
        "deleted": replace(
            _failed(_queued()),
            status=JobStatus.DELETED,
            deleted_at=isoformat(NOW + timedelta(hours=1)),
        ),
    }


@pytest.mark.parametrize("redelivery", [False, True], ids=["first", "redelivery"])
@pytest.mark.parametrize("case", ["completed-inline", "completed-s3", "failed", "deleted"])
def test_every_event_type(validators: Validators, case: str, redelivery: bool) -> None:
    job = _notifications()[case]
    outgoing = build_notification(job, redelivery=redelivery)
    message = json.loads(outgoing.message)
    assert message["redelivery"] is redelivery
    _valid(validators, validators.notification, message)
    _valid(validators, validators.message_attributes, outgoing.attributes)
    assert outgoing.attributes["metadata.customer"] == "acme"


def test_the_event_types_are_the_contracts() -> None:
    events = {json.loads(build_notification(job).message)["event_type"] for job in _notifications().values()}
    assert events == {Notification.EVENT_COMPLETED, Notification.EVENT_FAILED, Notification.EVENT_DELETED}


# --- invalid documents are caught -----------------------------------------------------------------


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        (lambda m: m.pop("job_id"), "'job_id' is a required property"),
        (lambda m: m.update(event_type="transcription.failed"), "const"),
        (lambda m: m.update(status="processing"), "status"),
        (lambda m: m.update(extra=1), "Additional properties"),
        (lambda m: m.pop("result"), "result"),
        (lambda m: m.update(created_at="2026-11-22 14:00:00"), "created_at"),
    ],
    ids=["no-job-id", "event-of-another-status", "unfinished-status", "unknown-field", "no-result", "time"],
)
def test_a_notification_that_breaks_the_schema_is_caught(
    validators: Validators, change: Any, expected: str
) -> None:
    job, _ = _completed(_queued(), _body())
    message = json.loads(build_notification(job).message)
    change(message)
    problems = validators.problems(validators.notification, message)
    assert problems
    assert any(expected in problem for problem in problems), problems


def test_a_job_view_that_breaks_the_schema_is_caught(validators: Validators) -> None:
    view = public_view(_failed(_queued()))
    del view["error"]  # a failed job says why
    assert validators.problems(validators.job_view, view)
    completed, _ = _completed(_queued(), _body())
    detail = _describe(completed).as_dict()
    detail["result_url"] = "https://example.com/result"  # never both
    assert validators.problems(validators.job_detail, detail)


def test_the_hook_records_violations_without_raising() -> None:
    recorder = SchemaRecorder()
    recorder.on_job_view({"id": "not-a-job"})
    recorder.on_job_detail("not json", None)
    (view, detail) = recorder.take()
    assert view.kind == "job view"
    assert detail.kind == "job detail"
    assert recorder.counts == {"job view": 1, "job detail": 1}
    assert recorder.take() == []
