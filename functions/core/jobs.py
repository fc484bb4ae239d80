"""The transcription job: its states, its record and its public view. Pure Python, no AWS.

State machine::

    queued ──(Deepgram accepted, request_id stored)──> processing ──(result)──> completed | failed
       │                                                  │              ^
       │                                                  │              └──(late result)──┐
       ├──(Deepgram refused at submit)──> failed          └──(no result by the deadline:    │
       │       (ambiguous refusal: a timeout, a 5xx) ──────── reconciler)──> failed ─────────┘
       │                                                         (or resubmitted once)
    any state ──(DELETE)──> deleted (a tombstone until the TTL)

A result arrives by the callback or, with S3 delivery, as an S3 object; both take the same path.
A job may get its result before the submit function has stored the `request_id` (Deepgram can be
faster than our second DynamoDB write), so `queued` jobs also accept results. A job failed for an
ambiguous reason (an ambiguous refusal, or no result by the deadline) still accepts a late result,
which completes it. Every final state is notified exactly once (`notified_at`).
"""

from __future__ import annotations

import re
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from typing import Any

JOB_ID_PATTERN = re.compile(r"^[0-9a-f]{32}$")


class JobStatus(StrEnum):
    QUEUED = "queued"
    PROCESSING = "processing"
    COMPLETED = "completed"
    FAILED = "failed"
    DELETED = "deleted"


AWAITING_STATUSES = frozenset({JobStatus.QUEUED, JobStatus.PROCESSING})
"""A job in one of these states accepts its result."""

REOPENED_BY_AMBIGUITY = JobStatus.FAILED
"""A job that failed *ambiguously* (Deepgram may have the job anyway: a submit timeout or 5xx, or
no result by the deadline) also accepts its result, as long as it has none. The jobs table's
finishing condition is built from these two rules (`core.adapters.job_item`), so the domain and
the database cannot disagree."""


class Delivery(StrEnum):
    """How Deepgram hands a result over: POST/PUT to the callback Function URL, or PUT to a
    presigned S3 URL (results of any size; see `core.adapters.delivery`)."""

    CALLBACK = "callback"
    S3 = "s3"


@dataclass(frozen=True)
class JobError:
    code: str
    message: str

    def as_dict(self) -> dict[str, str]:
        return {"code": self.code, "message": self.message}


@dataclass(frozen=True)
class StoredResult:
    """Where a callback body is kept: inline in the job item (gzip) or as an S3 object."""

    storage: str  # "inline" | "s3"
    size_bytes: int  # size of the body as Deepgram sent it
    sha256: str  # of the body as Deepgram sent it; identifies a repeated delivery
    content_encoding: str  # "zstd" | "gzip" | "identity": how `inline_data` / the S3 object is encoded
    s3_key: str | None = None
    inline_data: bytes | None = None


@dataclass(frozen=True)
class Attempt:
    """An earlier Deepgram request of a job that was submitted again (`recoverLostCallbacks`)."""

    request_id: str | None
    submitted_at: str | None
    delivery: str
    outcome: str  # why it was given up, e.g. "callback_not_received"

    def as_dict(self) -> dict[str, Any]:
        return {
            "request_id": self.request_id,
            "submitted_at": self.submitted_at,
            "delivery": self.delivery,
            "outcome": self.outcome,
        }


@dataclass(frozen=True)
class Job:
    job_id: str
    status: JobStatus
    created_at: str
    updated_at: str
    expires_at: int
    source: dict[str, Any]
    options: dict[str, Any] = field(default_factory=dict)
    metadata: dict[str, str] = field(default_factory=dict)
    request_id: str | None = None
    submitted_at: str | None = None
    completed_at: str | None = None
    error: JobError | None = None
    submit_error_ambiguous: bool = False
    result: StoredResult | None = None
    summary: dict[str, Any] | None = None
    notified_at: str | None = None
    delivery: Delivery = Delivery.CALLBACK
    result_due_at: int | None = None  # epoch s: past it, the reconciler acts on an awaiting job
    attempts: tuple[Attempt, ...] = ()
    audio_key: str | None = None  # uploaded audio kept in S3, so the job can be submitted again
    deleted_at: str | None = None

    @property
    def awaiting_result(self) -> bool:
        """True while a result may still complete or fail this job (see `AWAITING_STATUSES`)."""
        if self.status in AWAITING_STATUSES:
            return True
        return self.status is REOPENED_BY_AMBIGUITY and self.submit_error_ambiguous and self.result is None

    @property
    def finished(self) -> bool:
        return self.status not in AWAITING_STATUSES

    def accepts_request(self, request_id: str | None) -> bool:
        """Whether a result naming `request_id` may be this job's: any request of this job (the
        current one or an earlier attempt's); a result naming none is judged on its credentials."""
        if not request_id or not self.request_id:
            return True
        return request_id == self.request_id or any(a.request_id == request_id for a in self.attempts)


@dataclass(frozen=True)
class FinalState:
    """What the one write that finishes a job stores (`JobRepository.finish`).

    Everything a finisher knows without reading the job first: the callback builds it from the
    delivery alone, and the write's condition (the job awaits a result, under `request_id`)
    decides; the repository answers with the job as written, or as it found it."""

    job_id: str
    status: JobStatus  # completed (with a result) or failed
    completed_at: str
    request_id: str | None = None  # the request the result answers; None: judged on credentials
    result: StoredResult | None = None
    summary: dict[str, Any] | None = None
    error: JobError | None = None
    submit_error_ambiguous: bool = False  # a failure a late result may still complete

    def __post_init__(self) -> None:
        completed = self.status is JobStatus.COMPLETED and self.result is not None
        if not (completed or self.status is JobStatus.FAILED):
            raise ValueError("a final state is completed with a result, or failed")


def new_job_id() -> str:
    """A random 128-bit id in hex: no underscore (Deepgram refuses such callback URLs), URL-safe."""
    return uuid.uuid4().hex


def is_valid_job_id(value: str) -> bool:
    return bool(JOB_ID_PATTERN.fullmatch(value))


def utc_now() -> datetime:
    return datetime.now(UTC)


def isoformat(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def parse_isoformat(value: str) -> datetime:
    return datetime.fromisoformat(value.replace("Z", "+00:00"))


def new_job(
    *,
    source: dict[str, Any],
    options: dict[str, Any],
    metadata: dict[str, str],
    retention_days: int,
    now: datetime,
    job_id: str | None = None,
    delivery: Delivery = Delivery.CALLBACK,
    result_due_in: timedelta | None = None,
    audio_key: str | None = None,
) -> Job:
    """A queued job; `result_due_in`: how long until the reconciler looks for its missing result."""
    timestamp = isoformat(now)
    return Job(
        job_id=job_id or new_job_id(),
        status=JobStatus.QUEUED,
        created_at=timestamp,
        updated_at=timestamp,
        expires_at=int((now + timedelta(days=retention_days)).timestamp()),
        source=source,
        options=options,
        metadata=metadata,
        delivery=delivery,
        result_due_at=int((now + result_due_in).timestamp()) if result_due_in else None,
        audio_key=audio_key,
    )


def public_view(job: Job) -> dict[str, Any]:
    """The job as the API shows it, without the result body (the status function adds that)."""
    view: dict[str, Any] = {
        "id": job.job_id,
        "status": job.status.value,
        "request_id": job.request_id,
        "created_at": job.created_at,
        "updated_at": job.updated_at,
        "submitted_at": job.submitted_at,
        "completed_at": job.completed_at,
        "metadata": job.metadata,
        "options": job.options,
        "source": job.source,
    }
    view["delivery"] = job.delivery.value
    if job.attempts:
        view["attempts"] = [attempt.as_dict() for attempt in job.attempts]
    if job.summary is not None:
        view["summary"] = job.summary
    if job.error is not None:
        view["error"] = job.error.as_dict()
    if job.deleted_at is not None:
        view["deleted_at"] = job.deleted_at
    return view
