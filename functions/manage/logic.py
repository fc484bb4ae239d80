"""Managing a job after the fact: deleting it (`DELETE /transcriptions/{id}`) and publishing its
notification again (`POST /transcriptions/{id}/notify`). Pure logic over the ports.

Deletion removes what the job stored (its result: the S3 object, or the inline copy in the item;
its kept audio) and leaves a `deleted` tombstone until the job's TTL, so a late callback is
acknowledged and discarded instead of reviving it. The objects go first and the tombstone last,
so a crash in between never leaves a tombstone pointing at objects that still exist (the client's
retry finishes the deletion). The tombstone is written only if the job is still as it was read
(`JobRepository.delete`); if a callback or the reconciler changed it meanwhile, it is read again
(and whatever it stored since deleted too), a few times. The write takes the notification lease,
under which `transcription.deleted` is published once; if SNS fails, the tombstone stays owed its
notification and the reconciler publishes it later, so the client still gets its 200.
"""

from __future__ import annotations

from collections.abc import Callable
from contextlib import suppress
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from functions.core.api_errors import ApiError
from functions.core.jobs import Job, JobStatus, is_valid_job_id, public_view
from functions.core.notifications import EVENT_TYPES
from functions.core.notifier import Notifier, new_lease
from functions.core.ports import DependencyError, JobRepository, ResultBlobStore

DELETE_ATTEMPTS = 4
"""Tombstone writes tried before giving up on a job that keeps changing (a result arriving, the
reconciler resubmitting): each failed write has read the job as it now is."""

RETRY_DELETE_AFTER_SECONDS = "1"


class JobNotFound(ApiError):
    def __init__(self) -> None:
        super().__init__(404, "job_not_found", "no transcription job with this id")


class JobNotFinished(ApiError):
    def __init__(self, job: Job) -> None:
        super().__init__(
            409,
            "job_not_finished",
            f"the job is {job.status.value}: it has no notification yet",
            job_id=job.job_id,
        )


class JobKeptChanging(ApiError):
    def __init__(self, job_id: str) -> None:
        super().__init__(
            409,
            "job_changed",
            "the job changed while it was being deleted; retry",
            job_id=job_id,
            retry_after=RETRY_DELETE_AFTER_SECONDS,
        )


@dataclass(frozen=True)
class Deletion:
    """A deleted job's tombstone view; `notified`: `transcription.deleted` was published by this
    request (False: an earlier request deleted it, or SNS failed and the reconciler publishes)."""

    view: dict[str, Any]
    already_deleted: bool = False
    notified: bool = False
    objects_deleted: int = 0


@dataclass(frozen=True)
class Redelivery:
    job_id: str
    message_id: str
    event_type: str

    def as_dict(self) -> dict[str, str]:
        return {"job_id": self.job_id, "message_id": self.message_id, "event_type": self.event_type}


class ManageService:
    def __init__(
        self,
        *,
        jobs: JobRepository,
        blobs: ResultBlobStore,
        notifier: Notifier,
        clock: Callable[[], datetime],
        on_publish_failure: Callable[[Job, DependencyError], None] = lambda job, error: None,
    ) -> None:
        self._jobs = jobs
        self._blobs = blobs
        self._notifier = notifier
        self._clock = clock
        self._on_publish_failure = on_publish_failure

    def delete(self, job_id: str) -> Deletion:
        """Delete the job's stored objects, then leave its tombstone and publish
        `transcription.deleted`. Idempotent: an already deleted job answers its tombstone.
        Raises `JobNotFound`, `JobKeptChanging`, `DependencyError`."""
        job = self._read(job_id)
        objects_deleted = 0
        for _ in range(DELETE_ATTEMPTS):
            if job.status is JobStatus.DELETED:
                return Deletion(public_view(job), already_deleted=True, objects_deleted=objects_deleted)
            for key in stored_objects(job):
                self._blobs.delete(key)
                objects_deleted += 1
            now = self._clock()
            lease_token, lease_until = new_lease(now)
            outcome = self._jobs.delete(job, at=now, lease_token=lease_token, lease_until=lease_until)
            if outcome.applied and outcome.current is not None:
                tombstone = outcome.current  # the job as the write left it
                self._delete_late_copies(job)
                notified = self._publish(tombstone, lease_token)
                return Deletion(public_view(tombstone), notified=notified, objects_deleted=objects_deleted)
            if outcome.current is None:  # gone meanwhile (DynamoDB's TTL)
                raise JobNotFound()
            job = outcome.current  # the job as it now is: delete what it stored since, and retry
        raise JobKeptChanging(job_id)

    def redeliver(self, job_id: str) -> Redelivery:
        """Publish a finished job's notification again, marked `redelivery: true`.
        Raises `JobNotFound`, `JobNotFinished` (no final state yet), `DependencyError`."""
        job = self._read(job_id)
        if not job.finished or job.status not in EVENT_TYPES:
            raise JobNotFinished(job)
        message_id = self._notifier.redeliver(job)
        return Redelivery(job_id=job.job_id, message_id=message_id, event_type=EVENT_TYPES[job.status])

    def _delete_late_copies(self, job: Job) -> None:
        """Delete the job's objects once more, now that the tombstone stands: a repeated delivery
        of its result may have uploaded the same object again (the callback uploads a large body
        before its finishing write, which then finds the job finished and keeps what the job
        holds) between the first deletion and the tombstone. Any delivery after the tombstone finds
        no result and deletes its own upload. Best effort: the bucket's lifecycle rule removes
        what a failure here leaves."""
        for key in stored_objects(job):
            with suppress(DependencyError):
                self._blobs.delete(key)

    def _read(self, job_id: str) -> Job:
        job = self._jobs.get(job_id) if is_valid_job_id(job_id) else None
        # DynamoDB's TTL deletes expired items days late: an expired job is already gone.
        if job is None or job.expires_at <= self._clock().timestamp():
            raise JobNotFound()
        return job

    def _publish(self, tombstone: Job, lease_token: str) -> bool:
        """`transcription.deleted` under the lease the tombstone write took. A failure is not the
        client's: the tombstone is owed its notification, which the reconciler publishes."""
        try:
            return self._notifier.publish_under_lease(tombstone, lease_token)
        except DependencyError as failure:
            self._on_publish_failure(tombstone, failure)
            return False


def stored_objects(job: Job) -> list[str]:
    """The S3 keys of what `job` stored: its result (unless inline) and its kept audio."""
    keys = []
    if job.result is not None and job.result.s3_key:
        keys.append(job.result.s3_key)
    if job.audio_key:
        keys.append(job.audio_key)
    return keys
