"""One deadline for a submission: `SubmitService` on the in-memory fakes and a fake monotonic clock.

Each dependency fake advances the clock by how long it "takes", so a test puts the request at
any point of its budget. Budget here: 4 s per AWS call, Deepgram's minimum 2 s, so 8 s are kept
back while Deepgram is called (its answer recorded, the idempotency record updated).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import pytest
from aws_lambda_powertools.utilities.idempotency import BasePersistenceLayer
from aws_lambda_powertools.utilities.idempotency.exceptions import IdempotencyItemAlreadyExistsError
from aws_lambda_powertools.utilities.idempotency.persistence.datarecord import DataRecord

from functions.core.adapters.memory import FakeTranscriber, InMemoryJobRepository, InMemorySecrets
from functions.core.deadline import Deadline
from functions.core.jobs import Job, JobStatus
from functions.core.ports import AudioUrl, DeepgramCall
from functions.submit.idempotency import IdempotentSubmitter
from functions.submit.logic import DeadlineExceeded, SubmitService
from functions.submit.types import (
    DEADLINE_EXCEEDED,
    ParsedSubmission,
    SubmitBudget,
    SubmitConfig,
    SubmitRequest,
)

AWS_CALL = 4.0
DEEPGRAM_MINIMUM = 2.0
BUDGET = SubmitBudget(aws_call_seconds=AWS_CALL, deepgram_minimum_seconds=DEEPGRAM_MINIMUM)
AFTER_DEEPGRAM = 2 * AWS_CALL
SIGNING_SECRET_ID = "callback-signing"
REQUEST = SubmitRequest(audio=AudioUrl(url="https://media.example.com/a.wav"), options={}, metadata={})


class Monotonic:
    """A monotonic clock that moves only when a fake dependency takes time."""

    def __init__(self) -> None:
        self.now = 1_000.0

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


class SlowSecrets(InMemorySecrets):
    def __init__(self, clock: Monotonic) -> None:
        super().__init__({SIGNING_SECRET_ID: "signing-key"})
        self.clock = clock
        self.seconds = 0.0

    def get(self, secret_id: str) -> str:
        self.clock.advance(self.seconds)
        return super().get(secret_id)


class SlowJobs(InMemoryJobRepository):
    def __init__(self, clock: Monotonic) -> None:
        super().__init__()
        self.clock = clock
        self.create_seconds = 0.0
        self.created: list[str] = []

    def create(self, job: Job) -> None:
        self.clock.advance(self.create_seconds)
        super().create(job)
        self.created.append(job.job_id)


@dataclass
class SlowTranscriber(FakeTranscriber):
    clock: Monotonic = field(default_factory=Monotonic)
    seconds: float = 0.0
    remaining_when_called: list[float] = field(default_factory=list)

    def submit(self, call: DeepgramCall) -> str:
        assert call.deadline is not None
        self.remaining_when_called.append(call.deadline.remaining())
        self.clock.advance(self.seconds)
        return super().submit(call)


class World:
    def __init__(self) -> None:
        self.clock = Monotonic()
        self.secrets = SlowSecrets(self.clock)
        self.jobs = SlowJobs(self.clock)
        self.transcriber = SlowTranscriber(clock=self.clock)
        self.service = SubmitService(
            jobs=self.jobs,
            transcriber=self.transcriber,
            config_source=lambda: SubmitConfig(
                signing_key=self.secrets.get(SIGNING_SECRET_ID),
                callback_url="https://callback.example.com/",
                callback_method="POST",
                retention_days=1,
            ),
            clock=lambda: datetime(2026, 3, 1, tzinfo=UTC),
            budget=BUDGET,
        )

    def deadline(self, seconds: float) -> Deadline:
        return Deadline.after(seconds, self.clock)

    def stored(self, job_id: str) -> Job:
        job = self.jobs.get(job_id)
        assert job is not None
        return job


@pytest.fixture
def world() -> World:
    return World()


def test_with_time_to_spare_deepgram_gets_all_but_what_is_kept_for_after_it(world: World) -> None:
    submitted = world.service.submit(REQUEST, deadline=world.deadline(27))

    assert submitted.failure is None
    assert submitted.request_id_stored
    assert world.transcriber.remaining_when_called == [27 - AFTER_DEEPGRAM]


def test_slow_secrets_leave_too_little_to_start_nothing_is_stored(world: World) -> None:
    world.secrets.seconds = 10.0  # 27 - 10 = 17 s < job + key + Deepgram's minimum + after (18 s)

    with pytest.raises(DeadlineExceeded) as refused:
        world.service.submit(REQUEST, deadline=world.deadline(27))

    assert (refused.value.status, refused.value.code, refused.value.retry_after) == (
        503,
        DEADLINE_EXCEEDED,
        "2",
    )
    assert world.jobs.created == []
    assert world.transcriber.calls == []


def test_too_little_time_at_the_start_reads_no_secret(world: World) -> None:
    world.secrets.faults.fail("get", times=None)  # would raise DependencyError if read

    with pytest.raises(DeadlineExceeded):
        world.service.submit(
            REQUEST, deadline=world.deadline(3 * AWS_CALL + DEEPGRAM_MINIMUM + AFTER_DEEPGRAM - 0.1)
        )

    assert world.secrets.faults.injected == []


def test_slow_job_creation_marks_the_job_failed_instead_of_calling_deepgram(world: World) -> None:
    world.jobs.create_seconds = 14.0  # 27 - 14 = 13 s < key + Deepgram's minimum + after (14 s)

    submitted = world.service.submit(REQUEST, deadline=world.deadline(27))

    assert world.transcriber.calls == []
    failure = submitted.failure
    assert failure is not None
    assert (failure.http_status, failure.code, failure.ambiguous, failure.retry_after) == (
        503,
        DEADLINE_EXCEEDED,
        False,
        "2",
    )
    job = world.stored(submitted.job["id"])
    assert job.status is JobStatus.FAILED
    assert job.error is not None
    assert job.error.code == DEADLINE_EXCEEDED
    assert job.submit_error_ambiguous is False


def test_deepgram_is_bounded_by_what_remains_after_slow_steps(world: World) -> None:
    world.secrets.seconds = 3.0
    world.jobs.create_seconds = 3.5

    world.service.submit(REQUEST, deadline=world.deadline(27))

    assert world.transcriber.remaining_when_called == [27 - 3.0 - 3.5 - AFTER_DEEPGRAM]


def test_a_slow_deepgram_answer_leaves_the_request_id_to_the_callback(world: World) -> None:
    world.transcriber.seconds = 27 - AFTER_DEEPGRAM + 0.5  # past the time kept back for after it

    submitted = world.service.submit(REQUEST, deadline=world.deadline(27))

    assert submitted.failure is None
    assert submitted.request_id_stored is False
    stored = world.stored(submitted.job["id"])
    assert (stored.status, stored.request_id) == (JobStatus.QUEUED, None)  # the callback records it


class InMemoryIdempotencyStore(BasePersistenceLayer):
    """Powertools' persistence layer in a dict (enough for one caller's keys in a test)."""

    def __init__(self) -> None:
        super().__init__()  # type: ignore[no-untyped-call]
        self.records: dict[str, DataRecord] = {}

    def _get_record(self, idempotency_key: str) -> DataRecord:
        return self.records[idempotency_key]

    def _put_record(self, data_record: DataRecord) -> None:
        existing = self.records.get(data_record.idempotency_key)
        if existing is not None:
            raise IdempotencyItemAlreadyExistsError(old_data_record=existing)
        self.records[data_record.idempotency_key] = data_record

    def _update_record(self, data_record: DataRecord) -> None:
        self.records[data_record.idempotency_key] = data_record

    def _delete_record(self, data_record: DataRecord) -> None:
        self.records.pop(data_record.idempotency_key, None)


@pytest.mark.parametrize("slow_step", ["secrets", "create"])
def test_a_deadline_refusal_is_not_remembered_under_its_idempotency_key(world: World, slow_step: str) -> None:
    store = InMemoryIdempotencyStore()
    submitter = IdempotentSubmitter(world.service, store)
    parsed = ParsedSubmission(request=REQUEST, fingerprint="f")
    key: dict[str, Any] = {"idempotency_key": "key-1", "caller": "arn:aws:iam::123456789012:user/a"}
    if slow_step == "secrets":
        world.secrets.seconds = 10.0
        with pytest.raises(DeadlineExceeded):
            submitter.submit(parsed, deadline=world.deadline(27), **key)
    else:
        world.jobs.create_seconds = 14.0
        refused = submitter.submit(parsed, deadline=world.deadline(27), **key)
        assert refused.failure is not None
        assert refused.failure.code == DEADLINE_EXCEEDED

    assert store.records == {}
    world.secrets.seconds = world.jobs.create_seconds = 0.0
    retried = submitter.submit(parsed, deadline=world.deadline(27), **key)
    assert retried.failure is None
    assert retried.replayed is False
    assert len(world.transcriber.calls) == 1
