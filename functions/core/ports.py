"""The plain interfaces the logic modules depend on; `core.adapters` implements them with boto3.

Logic code only sees these protocols, so tests and benchmarks can substitute in-memory or
fault-injecting implementations, and the logic never imports an AWS SDK.
"""

from __future__ import annotations

from datetime import datetime
from typing import Protocol

from functions.core.jobs import Job, JobError
from functions.core.notifications import OutgoingNotification


class DependencyError(RuntimeError):
    """An AWS service failed or could not be reached: the caller should answer so the sender retries."""


class JobRepository(Protocol):
    def create(self, job: Job) -> None: ...

    def get(self, job_id: str) -> Job | None: ...

    def record_submission(self, job_id: str, request_id: str, at: datetime) -> None: ...

    def mark_submit_failed(self, job_id: str, error: JobError, *, ambiguous: bool, at: datetime) -> None: ...

    def finish(self, job: Job, *, lease_token: str, lease_until: datetime) -> bool:
        """Store `job`'s final state and take the notification lease, in one conditional write.

        Applies only while the stored job awaits a result and its request_id, once known, is
        `job.request_id`. Returns False, changing nothing, otherwise."""
        ...

    def claim_notification(self, job_id: str, lease_token: str, *, now: datetime, until: datetime) -> bool:
        """Take the right to publish the job's notification unless it is published or leased."""
        ...

    def mark_notified(self, job_id: str, message_id: str, at: datetime) -> None: ...

    def release_notification(self, job_id: str, lease_token: str) -> None: ...


class ResultBlobStore(Protocol):
    def put(self, key: str, data: bytes, *, content_encoding: str) -> None: ...

    def delete(self, key: str) -> None: ...

    def presigned_get_url(self, key: str, expires_in: int) -> str: ...


class NotificationPublisher(Protocol):
    def publish(self, notification: OutgoingNotification) -> str:
        """Publish and return the message id."""
        ...
