"""The plain interfaces the services depend on, and the values that cross them.

`core.adapters` implements each port for AWS (boto3) and Deepgram (the SDK);
`core.adapters.memory` implements each one in memory for the service tests and the benchmarks.
One contract suite (`tests/contract`) runs the same cases against both, so a fake cannot drift
from the adapter it stands for. The services never import an AWS or Deepgram SDK.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol

from functions.core.deadline import Deadline
from functions.core.jobs import Delivery, FinalState, Job, JobError, JobStatus
from functions.core.notifications import OutgoingNotification


class DependencyError(RuntimeError):
    """An AWS service failed or could not be reached.

    Transient (the default: throttling, timeouts, 5xx, connection errors): the caller answers so
    the sender retries. `permanent`: the service refused the request as invalid (a DynamoDB
    `ValidationException`, an item over 400 KB) and the same request will always be refused, so
    asking Deepgram to retry would only burn its 10 tries; the caller must take another way."""

    def __init__(self, message: str, *, permanent: bool = False) -> None:
        super().__init__(message)
        self.permanent = permanent


@dataclass(frozen=True)
class FinishResult:
    """What the one conditional write that finishes (or deletes) a job did.

    `applied`: this write took effect (also when an earlier attempt of the same write was applied
    and its reply lost), and `current` is the job as written: what its notification is built
    from. Otherwise `current` is the job as stored (None: no such job), so the caller can tell a
    duplicate, a conflict and a lost race apart. Either way, without reading the job first."""

    applied: bool
    current: Job | None = None


@dataclass(frozen=True)
class JobPage:
    jobs: list[Job]
    next_cursor: str | None  # opaque; None on the last page


class InvalidCursor(ValueError):
    """A listing cursor this API did not give."""


class JobRepository(Protocol):
    def create(self, job: Job) -> None:
        """Store a new job; storing the same job twice (a retried write) is not an error."""
        ...

    def get(self, job_id: str) -> Job | None: ...

    def record_submission(
        self, job_id: str, request_id: str, at: datetime, *, result_due_at: datetime | None = None
    ) -> None:
        """Deepgram accepted the job: store its request_id and move `queued` to `processing`
        (with the time the reconciler looks for a result that has not come).

        A job an early result already finished keeps its state and gains the request_id."""
        ...

    def mark_submit_failed(self, job_id: str, error: JobError, *, ambiguous: bool, at: datetime) -> None:
        """Deepgram did not take the job (a `queued` job only); its notification is then due."""
        ...

    def finish(self, final: FinalState, *, lease_token: str, lease_until: datetime) -> FinishResult:
        """Store the job's final state and take the notification lease, in one conditional write.

        Applies only while the stored job awaits a result (`Job.awaiting_result`) and, when
        `final.request_id` is given and the job's request_id is known, the two are the same
        request (or an earlier attempt's: `Job.accepts_request`). The job keeps a request_id it
        has, and takes `final.request_id` if it has none. A job given up without a result is
        `failed` with no `result`."""
        ...

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
        """Deepgram took the job again under `request_id`; False if the job changed meanwhile."""
        ...

    def delete(self, job: Job, *, at: datetime, lease_token: str, lease_until: datetime) -> FinishResult:
        """Turn `job` (unchanged since read) into a tombstone owed a notification, under the lease."""
        ...

    def due_for_attention(self, kind: str, *, now: datetime, limit: int) -> list[Job]:
        """Jobs the reconciler must look at: `awaiting` (result overdue) or `notify` (owed a
        notification whose lease, if any, ran out), due by `now`, most overdue first."""
        ...

    def list_jobs(
        self, *, status: JobStatus | None, created_after: str | None, limit: int, cursor: str | None
    ) -> JobPage:
        """Jobs newest first; `InvalidCursor` for a cursor this repository did not give."""
        ...

    def claim_notification(self, job_id: str, lease_token: str, *, now: datetime, until: datetime) -> bool:
        """Take the right to publish the job's notification unless it is published or leased."""
        ...

    def mark_notified(
        self, job_id: str, message_id: str, at: datetime, *, lease_token: str | None = None
    ) -> None:
        """Record the publication (and free the lease); with `lease_token`, only while that lease
        is held: a publication made under a lease that was lost (a deletion, a new final state
        took it) must not mark the new state as notified."""
        ...

    def release_notification(self, job_id: str, lease_token: str) -> None: ...


class ResultBlobStore(Protocol):
    def put(
        self, key: str, data: bytes, *, content_encoding: str, content_type: str = "application/json"
    ) -> None: ...

    def get(self, key: str) -> bytes:
        """The object's bytes as stored (not decoded)."""
        ...

    def delete(self, key: str) -> None:
        """Delete the object; deleting a missing object is not an error."""
        ...

    def presigned_get_url(self, key: str, expires_in: int) -> str: ...


class DeliverySigner(Protocol):
    def presigned_put_url(self, job_id: str, attempt: int) -> str:
        """A URL Deepgram can PUT attempt `attempt` of the job's result to (S3 delivery), valid
        for `contract.DeliveryTiming.URL_EXPIRES_SECONDS` and for that one object only; with no
        underscore (Deepgram refuses callback URLs that have one). `DependencyError` if it cannot
        be signed."""
        ...


class NotificationPublisher(Protocol):
    def publish(self, notification: OutgoingNotification) -> str:
        """Publish and return the message id."""
        ...


class SecretSource(Protocol):
    def get(self, secret_id: str) -> str:
        """The secret's string value (cached by the adapter); `DependencyError` if unreadable."""
        ...


@dataclass(frozen=True)
class AudioUrl:
    url: str


@dataclass(frozen=True)
class AudioUpload:
    data: bytes
    content_type: str


@dataclass(frozen=True)
class DeepgramCall:
    """Everything the transcriber needs for one `/v1/listen` request."""

    audio: AudioUrl | AudioUpload
    options: dict[str, Any]
    callback_url: str
    callback_method: str
    extra: list[str]
    deadline: Deadline | None = None
    """When the request must be over, SDK retries included (None: the transcriber's own timeout)."""


class DeepgramFailure(Exception):
    """Deepgram refused the request or could not be reached.

    `http_status` is what this service answers its client. `ambiguous` is True when Deepgram may
    have accepted the job anyway (a timeout, a 5xx, a connection dropped mid-response): the job
    then stays open to a late callback.
    """

    def __init__(
        self,
        *,
        http_status: int,
        code: str,
        message: str,
        ambiguous: bool = False,
        retry_after: str | None = None,
    ) -> None:
        super().__init__(message)
        self.http_status = http_status
        self.code = code
        self.message = message
        self.ambiguous = ambiguous
        self.retry_after = retry_after


class Transcriber(Protocol):
    def submit(self, call: DeepgramCall) -> str:
        """Send the request; return Deepgram's request id or raise `DeepgramFailure`."""
        ...


@dataclass(frozen=True)
class DeepgramRecord:
    """What Deepgram's request log says of one request (`manage.v1.projects.requests.get`).

    `code`: the HTTP status Deepgram gave the request; `callback_code`: the status the callback
    URL answered Deepgram, where the log reports it (413: the result was too big for it)."""

    code: int | None
    callback_code: int | None = None


class DeepgramRequestLog(Protocol):
    def lookup(self, request_id: str) -> DeepgramRecord | None:
        """The request's record, or None if Deepgram has none (or cannot say)."""
        ...


class Resubmitter(Protocol):
    def resubmit(self, job: Job, *, delivery: Delivery) -> str:
        """Submit `job`'s audio to Deepgram again (results by `delivery`); the new request id.
        Raises `DeepgramFailure` or `DependencyError`."""
        ...
