"""The transcription job: its states, its record and its public view. Pure Python, no AWS.

State machine::

    queued ──(Deepgram accepted, request_id stored)──> processing ──(callback)──> completed | failed
       │                                                                   ^
       └──(Deepgram refused at submit)──> failed ──(late callback, only if ──┘
                                            the refusal was ambiguous: a timeout or 5xx)

A callback may arrive before the submit function has stored the `request_id` (Deepgram can be
faster than our second DynamoDB write), so `queued` jobs also accept results.
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
    content_encoding: str  # "gzip" | "identity": how `inline_data` / the S3 object is encoded
    s3_key: str | None = None
    inline_data: bytes | None = None


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

    @property
    def awaiting_result(self) -> bool:
        """True while a callback may still complete or fail this job."""
        if self.status in (JobStatus.QUEUED, JobStatus.PROCESSING):
            return True
        return self.status is JobStatus.FAILED and self.submit_error_ambiguous and self.result is None


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
) -> Job:
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
    if job.summary is not None:
        view["summary"] = job.summary
    if job.error is not None:
        view["error"] = job.error.as_dict()
    return view
