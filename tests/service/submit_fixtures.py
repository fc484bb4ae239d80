"""The submit and status services on the in-memory fakes: no moto, no Lambda event, no HTTP.

`Submissions` builds a `SubmitService` from `InMemoryJobRepository`, `FakeTranscriber`, a config
read (as `submit/wiring.py` reads it) from `InMemorySecrets`, and a `FixedClock` the test moves.
`Statuses` builds a `StatusService` from `InMemoryJobRepository`, `InMemoryBlobStore` and the same
clock, and puts jobs in each state through the repository port, as the submit and callback
functions do. Tests read what was stored through the ports' fakes, never a raw item.

Kept apart from `tests/service/conftest.py` (the callback service's); the test modules wrap
these builders in their own fixtures.
"""

from __future__ import annotations

import hashlib
import random
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from functions.core import result_storage
from functions.core.adapters.memory import (
    FakeTranscriber,
    InMemoryBlobStore,
    InMemoryJobRepository,
    InMemorySecrets,
)
from functions.core.deadline import API_GATEWAY_TIMEOUT_SECONDS, SAFETY_MARGIN_SECONDS, Deadline
from functions.core.jobs import FinalState, Job, JobError, JobStatus, isoformat, new_job
from functions.core.ports import AudioUpload, AudioUrl, DeepgramCall, Transcriber
from functions.status.logic import JobDescription, StatusConfig, StatusService
from functions.submit.logic import SubmitService
from functions.submit.types import SubmitBudget, SubmitConfig, SubmitRequest, Submitted

SIGNING_KEY = "test-signing-key-0123456789abcdef0123456789abcdef"
SIGNING_SECRET_ID = "arn:aws:secretsmanager:us-east-1:123456789012:secret:callback-signing-AbCdEf"
CALLBACK_URL = "https://abc123.lambda-url.us-east-1.on.aws/"
AUDIO_URL = "https://media.example.com/calls/call-1.wav"
# Bytes that are not valid UTF-8, so any text decoding on the way would corrupt them.
AUDIO_BYTES = b"RIFF\x24\x08\x00\x00WAVEfmt " + bytes(range(256)) * 4
START = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
RESULT_URL_TTL_SECONDS = 900
BUDGET = SubmitBudget(aws_call_seconds=1.0, deepgram_minimum_seconds=2.0)
FULL_BUDGET_SECONDS = API_GATEWAY_TIMEOUT_SECONDS - SAFETY_MARGIN_SECONDS


class FixedClock:
    """The services' clock: stands still until the test moves it."""

    def __init__(self, now: datetime = START) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now

    def advance(self, delta: timedelta) -> None:
        self.now += delta


class Monotonic:
    """A monotonic clock (seconds) for request deadlines: stands still until the test moves it."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


class RecordingJobRepository(InMemoryJobRepository):
    """`InMemoryJobRepository` that remembers which jobs were created, so a test can list them
    (the `JobRepository` port has no listing)."""

    def __init__(self) -> None:
        super().__init__()
        self.created: list[str] = []
        self.after_create: Callable[[], None] = lambda: None

    def create(self, job: Job) -> None:
        super().create(job)
        self.after_create()
        if job.job_id not in self.created:
            self.created.append(job.job_id)

    def all(self) -> list[Job]:
        jobs = [self.get(job_id) for job_id in self.created]
        return [job for job in jobs if job is not None]


@dataclass
class ObservingTranscriber:
    """`FakeTranscriber` with a hook that sees each call before Deepgram answers it (to check
    what is stored at the moment Deepgram is called)."""

    inner: FakeTranscriber
    before_answer: Callable[[DeepgramCall], None]

    def submit(self, call: DeepgramCall) -> str:
        self.before_answer(call)
        return self.inner.submit(call)


def job_id_of(call: DeepgramCall) -> str:
    """The job id a Deepgram call carries in `extra`."""
    [job_id] = [item.removeprefix("job_id:") for item in call.extra if item.startswith("job_id:")]
    return job_id


def url_request(
    url: str = AUDIO_URL,
    *,
    options: dict[str, Any] | None = None,
    metadata: dict[str, str] | None = None,
) -> SubmitRequest:
    return SubmitRequest(audio=AudioUrl(url=url), options=dict(options or {}), metadata=dict(metadata or {}))


def upload_request(
    data: bytes = AUDIO_BYTES,
    content_type: str = "audio/wav",
    *,
    options: dict[str, Any] | None = None,
    metadata: dict[str, str] | None = None,
) -> SubmitRequest:
    return SubmitRequest(
        audio=AudioUpload(data=data, content_type=content_type),
        options=dict(options or {}),
        metadata=dict(metadata or {}),
    )


@dataclass
class Submissions:
    """A `SubmitService` on in-memory ports."""

    jobs: RecordingJobRepository = field(default_factory=RecordingJobRepository)
    transcriber: FakeTranscriber = field(default_factory=FakeTranscriber)
    secrets: InMemorySecrets = field(
        default_factory=lambda: InMemorySecrets({SIGNING_SECRET_ID: SIGNING_KEY})
    )
    clock: FixedClock = field(default_factory=FixedClock)
    callback_url: str = CALLBACK_URL
    callback_method: str = "POST"
    retention_days: int = 30
    budget: SubmitBudget = BUDGET
    monotonic: Monotonic = field(default_factory=Monotonic)
    seconds_left: float = FULL_BUDGET_SECONDS
    """What the next submission's deadline leaves, as the handler computes it for a request."""

    def config(self) -> SubmitConfig:
        """Read on every submission, as `wiring.py` reads it (the signing key from its secret)."""
        return SubmitConfig(
            signing_key=self.secrets.get(SIGNING_SECRET_ID),
            callback_url=self.callback_url,
            callback_method=self.callback_method,
            retention_days=self.retention_days,
        )

    def service(self, transcriber: Transcriber | None = None) -> SubmitService:
        return SubmitService(
            jobs=self.jobs,
            transcriber=transcriber if transcriber is not None else self.transcriber,
            config_source=self.config,
            clock=self.clock,
            budget=self.budget,
        )

    def deadline(self) -> Deadline:
        return Deadline.after(self.seconds_left, clock=self.monotonic)

    def submit(self, request: SubmitRequest | None = None) -> Submitted:
        return self.service().submit(
            request if request is not None else url_request(), deadline=self.deadline()
        )

    @property
    def last_call(self) -> DeepgramCall:
        assert self.transcriber.calls, "Deepgram was not called"
        return self.transcriber.calls[-1]

    def stored(self, job_id: str) -> Job:
        job = self.jobs.get(job_id)
        assert job is not None, f"job {job_id} is not stored"
        return job


@dataclass
class Statuses:
    """A `StatusService` on in-memory ports, and jobs put in each state through the repository."""

    jobs: InMemoryJobRepository = field(default_factory=InMemoryJobRepository)
    blobs: InMemoryBlobStore = field(default_factory=InMemoryBlobStore)
    clock: FixedClock = field(default_factory=FixedClock)
    result_url_ttl_seconds: int = RESULT_URL_TTL_SECONDS

    @property
    def service(self) -> StatusService:
        return StatusService(
            jobs=self.jobs,
            blobs=self.blobs,
            config=StatusConfig(result_url_ttl_seconds=self.result_url_ttl_seconds),
            clock=self.clock,
        )

    def describe(self, job_id: str) -> JobDescription:
        return self.service.describe(job_id)

    def queued(self, *, created: datetime | None = None, retention_days: int = 1) -> Job:
        """A job as the submit function creates it, before Deepgram is called."""
        job = new_job(
            source={"type": "url", "url": AUDIO_URL},
            options={"model": "nova-3"},
            metadata={"customer": "acme"},
            retention_days=retention_days,
            now=created or self.clock(),
        )
        self.jobs.create(job)
        return job

    def processing(self) -> Job:
        """A job Deepgram accepted, awaiting its callback."""
        job = self.queued()
        self.jobs.record_submission(job.job_id, str(uuid.uuid4()), self.clock())
        return self._stored(job.job_id)

    def refused_at_submit(self, error: JobError, *, ambiguous: bool = False) -> Job:
        job = self.queued()
        self.jobs.mark_submit_failed(job.job_id, error, ambiguous=ambiguous, at=self.clock())
        return self._stored(job.job_id)

    def finished(
        self,
        body: bytes,
        *,
        status: JobStatus = JobStatus.COMPLETED,
        error: JobError | None = None,
        summary: dict[str, Any] | None = None,
    ) -> Job:
        """A processing job finished by a callback with `body`, stored as the callback stores it
        (`result_storage.encode`: inline when small, else an S3 object)."""
        job = self.processing()
        encoded = result_storage.encode(job.job_id, body, _sha256(body))
        if encoded.object_data is not None:
            assert encoded.stored.s3_key is not None
            self.blobs.put(
                encoded.stored.s3_key, encoded.object_data, content_encoding=encoded.stored.content_encoding
            )
        now = self.clock()
        finished = FinalState(
            job_id=job.job_id,
            status=status,
            completed_at=isoformat(now),
            request_id=job.request_id,
            result=encoded.stored,
            error=error,
            summary=summary,
        )
        outcome = self.jobs.finish(
            finished, lease_token=uuid.uuid4().hex, lease_until=now + timedelta(minutes=5)
        )
        assert outcome.applied
        return self._stored(job.job_id)

    def _stored(self, job_id: str) -> Job:
        job = self.jobs.get(job_id)
        assert job is not None
        return job


def incompressible_body(size: int) -> bytes:
    """Bytes gzip cannot shrink, so a body of this size is kept in S3 rather than inline."""
    return random.Random(size).randbytes(size)


def _sha256(body: bytes) -> str:
    return hashlib.sha256(body).hexdigest()
