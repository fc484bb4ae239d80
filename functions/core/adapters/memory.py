"""In-memory implementations of every port, for the service tests and the benchmarks.

Each keeps the semantics of the adapter it stands for (conditional writes, leases, idempotent
creates), checked by the contract suite in `tests/contract` that runs the same cases against
both. Each has `faults`, which makes chosen operations fail with `DependencyError` as an AWS
outage would. Never used in Lambda.
"""

from __future__ import annotations

import copy
import threading
import uuid
from dataclasses import dataclass, field, replace
from datetime import datetime

from functions.core.jobs import Attempt, Delivery, FinalState, Job, JobError, JobStatus, isoformat
from functions.core.notifications import OutgoingNotification
from functions.core.ports import (
    DeepgramCall,
    DeepgramFailure,
    DeepgramRecord,
    DependencyError,
    FinishResult,
    InvalidCursor,
    JobPage,
)
from functions.core.result_storage import delivery_key


class Faults:
    """Operations that fail next: `faults.fail("finish", times=2)`; `times=None` until `stop`."""

    def __init__(self, service: str) -> None:
        self._service = service
        self._remaining: dict[str, int | None] = {}
        self._permanent: set[str] = set()
        self.injected: list[str] = []

    def fail(self, operation: str, *, times: int | None = 1, permanent: bool = False) -> None:
        """`permanent`: a refusal no retry cures (a `ValidationException`), not an outage."""
        self._remaining[operation] = times
        if permanent:
            self._permanent.add(operation)
        else:
            self._permanent.discard(operation)

    def stop(self, operation: str) -> None:
        self._remaining.pop(operation, None)

    def check(self, operation: str) -> None:
        if operation not in self._remaining:
            return
        remaining = self._remaining[operation]
        if remaining is not None:
            if remaining <= 0:
                return
            self._remaining[operation] = remaining - 1
        self.injected.append(operation)
        permanent = operation in self._permanent
        raise DependencyError(f"{self._service}: injected fault in {operation}", permanent=permanent)


@dataclass
class _Record:
    job: Job
    lease_token: str | None = None
    lease_until: int | None = None
    message_id: str | None = None
    attention: str | None = None  # "awaiting" | "notify", as the sparse index would hold it
    due_at: int | None = None


class InMemoryJobRepository:
    """The jobs table in a dict; one lock serialises writes, as DynamoDB does for one item."""

    def __init__(self) -> None:
        self._records: dict[str, _Record] = {}
        self._lock = threading.Lock()
        self.faults = Faults("DynamoDB")

    def create(self, job: Job) -> None:
        self.faults.check("create")
        with self._lock:
            if job.job_id not in self._records:
                # What the table's create writes: a new job's fields only.
                new = Job(
                    job_id=job.job_id,
                    status=job.status,
                    created_at=job.created_at,
                    updated_at=job.updated_at,
                    expires_at=job.expires_at,
                    source=copy.deepcopy(job.source),
                    options=copy.deepcopy(job.options),
                    metadata=dict(job.metadata),
                    delivery=job.delivery,
                    audio_key=job.audio_key,
                )
                awaiting = "awaiting" if job.result_due_at is not None else None
                self._records[job.job_id] = _Record(job=new, attention=awaiting, due_at=job.result_due_at)

    def get(self, job_id: str) -> Job | None:
        self.faults.check("get")
        with self._lock:
            record = self._records.get(job_id)
            return self._view(record) if record else None

    def record_submission(
        self, job_id: str, request_id: str, at: datetime, *, result_due_at: datetime | None = None
    ) -> None:
        self.faults.check("record_submission")
        stamp = isoformat(at)
        with self._lock:
            record = self._records.get(job_id)
            if record is None:
                return
            job = record.job
            if job.status is JobStatus.QUEUED:
                record.job = replace(
                    job,
                    status=JobStatus.PROCESSING,
                    request_id=request_id,
                    submitted_at=stamp,
                    updated_at=stamp,
                )
                if result_due_at is not None:
                    record.attention, record.due_at = "awaiting", int(result_due_at.timestamp())
            else:
                record.job = replace(job, request_id=job.request_id or request_id, submitted_at=stamp)

    def mark_submit_failed(self, job_id: str, error: JobError, *, ambiguous: bool, at: datetime) -> None:
        self.faults.check("mark_submit_failed")
        stamp = isoformat(at)
        with self._lock:
            record = self._records.get(job_id)
            if record is not None and record.job.status is JobStatus.QUEUED:
                record.job = replace(
                    record.job,
                    status=JobStatus.FAILED,
                    error=error,
                    submit_error_ambiguous=ambiguous,
                    updated_at=stamp,
                    completed_at=stamp,
                )
                record.attention, record.due_at = "notify", int(at.timestamp())

    def finish(self, final: FinalState, *, lease_token: str, lease_until: datetime) -> FinishResult:
        self.faults.check("finish")
        with self._lock:
            record = self._records.get(final.job_id)
            if record is None:
                return FinishResult(applied=False, current=None)
            stored = record.job
            same_request = final.request_id is None or stored.accepts_request(final.request_id)
            if not (stored.awaiting_result and same_request):
                return self._lost(record, lease_token)
            record.job = replace(
                stored,
                status=final.status,
                result=final.result,
                summary=copy.deepcopy(final.summary),
                error=final.error,
                request_id=stored.request_id or final.request_id,
                updated_at=final.completed_at,
                completed_at=final.completed_at,
                submit_error_ambiguous=final.submit_error_ambiguous,
                notified_at=None,
            )
            self._lease(record, lease_token, lease_until)
            record.message_id = None
            return FinishResult(applied=True, current=self._view(record))

    def record_resubmission(
        self,
        job: Job,
        *,
        request_id: str,
        at: datetime,
        result_due_at: datetime,
        delivery: Delivery,
        outcome: str,
    ) -> bool:
        self.faults.check("record_resubmission")
        with self._lock:
            record = self._records.get(job.job_id)
            if record is None or not record.job.awaiting_result or record.job.request_id != job.request_id:
                return False
            stored = record.job
            previous = Attempt(
                request_id=stored.request_id,
                submitted_at=stored.submitted_at,
                delivery=stored.delivery.value,
                outcome=outcome,
            )
            stamp = isoformat(at)
            record.job = replace(
                stored,
                status=JobStatus.PROCESSING,
                request_id=request_id,
                submitted_at=stamp,
                updated_at=stamp,
                delivery=delivery,
                attempts=(*stored.attempts, previous),
            )
            record.attention, record.due_at = "awaiting", int(result_due_at.timestamp())
            return True

    def delete(self, job: Job, *, at: datetime, lease_token: str, lease_until: datetime) -> FinishResult:
        self.faults.check("delete")
        with self._lock:
            record = self._records.get(job.job_id)
            if record is None:
                return FinishResult(applied=False, current=None)
            stored = record.job
            if stored.updated_at != job.updated_at or stored.status is JobStatus.DELETED:
                return self._lost(record, lease_token)
            stamp = isoformat(at)
            record.job = replace(
                stored,
                status=JobStatus.DELETED,
                deleted_at=stamp,
                updated_at=stamp,
                result=None,
                summary=None,
                audio_key=None,
                notified_at=None,
            )
            self._lease(record, lease_token, lease_until)
            record.message_id = None
            return FinishResult(applied=True, current=self._view(record))

    def claim_notification(self, job_id: str, lease_token: str, *, now: datetime, until: datetime) -> bool:
        self.faults.check("claim_notification")
        with self._lock:
            record = self._records.get(job_id)
            if record is None:
                return False
            free = record.lease_until is None or record.lease_until < int(now.timestamp())
            if record.job.finished and record.job.notified_at is None and free:
                record.lease_token, record.lease_until = lease_token, int(until.timestamp())
                record.due_at = record.lease_until
                return True
            return record.lease_token == lease_token

    def mark_notified(
        self, job_id: str, message_id: str, at: datetime, *, lease_token: str | None = None
    ) -> None:
        self.faults.check("mark_notified")
        with self._lock:
            record = self._records.get(job_id)
            holds = lease_token is None or (record is not None and record.lease_token == lease_token)
            if record is not None and record.job.notified_at is None and holds:
                record.job = replace(record.job, notified_at=isoformat(at))
                record.message_id = message_id
                record.lease_token = record.lease_until = None
                record.attention = record.due_at = None

    def release_notification(self, job_id: str, lease_token: str) -> None:
        self.faults.check("release_notification")
        with self._lock:
            record = self._records.get(job_id)
            if record is not None and record.lease_token == lease_token:
                record.lease_token = record.lease_until = None

    def due_for_attention(self, kind: str, *, now: datetime, limit: int) -> list[Job]:
        self.faults.check("due_for_attention")
        moment = int(now.timestamp())
        with self._lock:
            due = [
                record
                for record in self._records.values()
                if record.attention == kind and record.due_at is not None and record.due_at <= moment
            ]
            due.sort(key=lambda record: record.due_at or 0)
            return [self._view(record) for record in due[:limit]]

    def list_jobs(
        self, *, status: JobStatus | None, created_after: str | None, limit: int, cursor: str | None
    ) -> JobPage:
        self.faults.check("list_jobs")
        with self._lock:
            jobs = sorted(
                (
                    self._view(record)
                    for record in self._records.values()
                    if (status is None or record.job.status is status)
                    and (created_after is None or record.job.created_at > created_after)
                ),
                key=lambda job: (job.created_at, job.job_id),
                reverse=True,
            )
        if cursor:
            if not cursor.startswith("memory:"):
                raise InvalidCursor("cursor is not one this API gave")
            last = cursor.removeprefix("memory:")
            jobs = [job for job in jobs if f"{job.created_at}|{job.job_id}" < last]
        page = jobs[:limit]
        more = len(jobs) > limit
        return JobPage(
            jobs=page, next_cursor=f"memory:{page[-1].created_at}|{page[-1].job_id}" if more else None
        )

    def lease_of(self, job_id: str) -> tuple[str | None, int | None]:
        """The job's notification lease (token, until): for tests that age or inspect it."""
        record = self._records[job_id]
        return record.lease_token, record.lease_until

    def expire_lease(self, job_id: str) -> None:
        """Let the job's lease run out, as time passing would."""
        with self._lock:
            record = self._records[job_id]
            if record.lease_until is not None:
                record.lease_until = 0
                record.due_at = 0

    def _lease(self, record: _Record, lease_token: str, lease_until: datetime) -> None:
        record.lease_token, record.lease_until = lease_token, int(lease_until.timestamp())
        record.attention, record.due_at = "notify", record.lease_until

    def _lost(self, record: _Record, lease_token: str) -> FinishResult:
        # The same write again (its reply was lost) finds its own lease: it was ours.
        return FinishResult(applied=record.lease_token == lease_token, current=self._view(record))

    @staticmethod
    def _view(record: _Record) -> Job:
        job = copy.deepcopy(record.job)
        awaiting_due = record.due_at if record.attention == "awaiting" else None
        return replace(job, result_due_at=awaiting_due)


@dataclass(frozen=True)
class StoredObject:
    data: bytes
    content_encoding: str
    content_type: str = "application/json"


class InMemoryBlobStore:
    def __init__(self, bucket: str = "results") -> None:
        self.bucket = bucket
        self.objects: dict[str, StoredObject] = {}
        self.faults = Faults("S3")

    def put(
        self, key: str, data: bytes, *, content_encoding: str, content_type: str = "application/json"
    ) -> None:
        self.faults.check("put")
        self.objects[key] = StoredObject(
            data=bytes(data), content_encoding=content_encoding, content_type=content_type
        )

    def get(self, key: str) -> bytes:
        self.faults.check("get")
        stored = self.objects.get(key)
        if stored is None:
            raise DependencyError(f"S3: NoSuchKey {key}", permanent=True)
        return stored.data

    def delete(self, key: str) -> None:
        self.faults.check("delete")
        self.objects.pop(key, None)

    def presigned_get_url(self, key: str, expires_in: int) -> str:
        self.faults.check("presigned_get_url")
        return f"memory://{self.bucket}/{key}?expires_in={expires_in}"


@dataclass(frozen=True)
class PublishedMessage:
    message_id: str
    notification: OutgoingNotification


class InMemoryPublisher:
    def __init__(self) -> None:
        self.published: list[PublishedMessage] = []
        self.faults = Faults("SNS")

    def publish(self, notification: OutgoingNotification) -> str:
        self.faults.check("publish")
        if any(not value for value in notification.attributes.values()):
            raise DependencyError("SNS: InvalidParameter (empty message attribute)", permanent=True)
        message_id = str(uuid.uuid4())
        self.published.append(PublishedMessage(message_id=message_id, notification=notification))
        return message_id


class InMemorySecrets:
    def __init__(self, values: dict[str, str] | None = None) -> None:
        self.values = dict(values or {})
        self.faults = Faults("Secrets Manager")

    def get(self, secret_id: str) -> str:
        self.faults.check("get")
        value = self.values.get(secret_id)
        if not value:
            raise DependencyError(f"Secrets Manager: cannot read secret {secret_id!r}")
        return value


@dataclass
class FakeTranscriber:
    """Deepgram's `/v1/listen`: records each call and answers a new request id, or `refuse_with`."""

    calls: list[DeepgramCall] = field(default_factory=list)
    refuse_with: DeepgramFailure | None = None
    faults: Faults = field(default_factory=lambda: Faults("Secrets Manager"))

    def submit(self, call: DeepgramCall) -> str:
        self.faults.check("submit")  # the adapter's dependency is the key's secret
        self.calls.append(call)
        if self.refuse_with is not None:
            raise self.refuse_with
        return str(uuid.uuid4())


@dataclass
class FakeDeepgramRequestLog:
    """Deepgram's request log: `records[request_id]`; unknown requests have no record."""

    records: dict[str, DeepgramRecord] = field(default_factory=dict)
    lookups: list[str] = field(default_factory=list)

    def lookup(self, request_id: str) -> DeepgramRecord | None:
        self.lookups.append(request_id)
        return self.records.get(request_id)


@dataclass
class FakeResubmitter:
    """Submits again: records (job id, delivery) and answers a new request id, or `refuse_with`."""

    calls: list[tuple[str, Delivery]] = field(default_factory=list)
    refuse_with: DeepgramFailure | None = None

    def resubmit(self, job: Job, *, delivery: Delivery) -> str:
        self.calls.append((job.job_id, delivery))
        if self.refuse_with is not None:
            raise self.refuse_with
        return str(uuid.uuid4())


@dataclass
class FakeDeliverySigner:
    """Presigned S3 PUT URLs: records (job id, attempt) and answers a URL naming the delivery key."""

    bucket: str = "results"
    signed: list[tuple[str, int]] = field(default_factory=list)
    faults: Faults = field(default_factory=lambda: Faults("STS"))

    def presigned_put_url(self, job_id: str, attempt: int) -> str:
        self.faults.check("presigned_put_url")
        self.signed.append((job_id, attempt))
        return f"https://{self.bucket}.s3.amazonaws.com/{delivery_key(job_id, attempt)}?X-Amz-Signature=fake"
