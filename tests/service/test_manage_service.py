"""`ManageService` on the in-memory fakes: deleting a job (its stored objects, then a tombstone
owed one `transcription.deleted`, retried when the job changes underneath) and redelivering a
finished job's notification. Routing and the answers' shape are tested through the Lambda handler
in `tests/unit/test_manage_handler.py`, the whole path on the local stack in
`tests/e2e/test_job_lifecycle.py`."""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import pytest

from functions.core import result_storage
from functions.core.adapters.memory import InMemoryJobRepository, InMemoryPublisher
from functions.core.contract import Notification
from functions.core.jobs import FinalState, Job, JobError, JobStatus, isoformat, new_job
from functions.core.notifier import Notifier
from functions.core.ports import DependencyError, FinishResult
from functions.manage.logic import (
    DELETE_ATTEMPTS,
    JobKeptChanging,
    JobNotFinished,
    JobNotFound,
    ManageService,
)
from local.deepgram_emulator.payloads import compact_json, generate_response
from tests.service.conftest import Callbacks
from tests.service.submit_fixtures import Statuses, incompressible_body

S3_BODY_BYTES = 80 * 1024  # incompressible: over the 64 KB inline limit once gzipped


class RacingJobs(InMemoryJobRepository):
    """A jobs table where, just before each of the next `races` tombstone writes, another writer
    changes the job (a callback storing a result, the reconciler resubmitting)."""

    def __init__(self) -> None:
        super().__init__()
        self.races = 0
        self.change: Any = None
        self.delete_calls = 0

    def delete(self, job: Job, *, at: datetime, lease_token: str, lease_until: datetime) -> FinishResult:
        self.delete_calls += 1
        if self.races > 0:
            self.races -= 1
            self.change(job.job_id)
        return super().delete(job, at=at, lease_token=lease_token, lease_until=lease_until)


@dataclass
class World(Statuses):
    """`Statuses`' jobs in each state, plus the manage service and what it published."""

    jobs: InMemoryJobRepository = field(default_factory=RacingJobs)
    publisher: InMemoryPublisher = field(default_factory=InMemoryPublisher)
    failures: list[tuple[str, str]] = field(default_factory=list)

    @property
    def manage(self) -> ManageService:
        return ManageService(
            jobs=self.jobs,
            blobs=self.blobs,
            notifier=self.notifier,
            clock=self.clock,
            on_publish_failure=lambda job, error: self.failures.append((job.job_id, str(error))),
        )

    @property
    def notifier(self) -> Notifier:
        return Notifier(jobs=self.jobs, publisher=self.publisher, clock=self.clock)

    @property
    def racing(self) -> RacingJobs:
        assert isinstance(self.jobs, RacingJobs)
        return self.jobs

    def with_kept_audio(self) -> Job:
        """An uploaded job whose audio is kept in S3 (so the reconciler could resubmit it)."""
        job_id = uuid.uuid4().hex
        key = result_storage.audio_key(job_id)
        self.blobs.put(key, b"RIFF....WAVE", content_encoding="identity")
        job = new_job(
            source={"type": "upload", "content_type": "audio/wav", "size_bytes": 12},
            options={},
            metadata={"customer": "acme"},
            retention_days=1,
            now=self.clock(),
            job_id=job_id,
            audio_key=key,
        )
        self.jobs.create(job)
        self.jobs.record_submission(job_id, str(uuid.uuid4()), self.clock())
        return self.stored(job_id)

    def stored(self, job_id: str) -> Job:
        job = self.jobs.get(job_id)
        assert job is not None
        return job

    def messages(self) -> list[dict[str, Any]]:
        return [json.loads(sent.notification.message) for sent in self.publisher.published]

    def attributes(self) -> list[dict[str, str]]:
        return [dict(sent.notification.attributes) for sent in self.publisher.published]


@pytest.fixture
def world() -> World:
    return World()


def transcript() -> bytes:
    return compact_json(generate_response(duration_seconds=5.0, request_id=str(uuid.uuid4())))


# --- deletion ----------------------------------------------------------------------------------------


def test_deleting_a_job_with_an_inline_result_leaves_a_tombstone_and_publishes_deleted_once(
    world: World,
) -> None:
    job = world.finished(transcript(), summary={"words": 12})
    world.clock.advance(timedelta(minutes=5))

    deletion = world.manage.delete(job.job_id)

    stamp = isoformat(world.clock())
    assert deletion.view["status"] == "deleted"
    assert deletion.view["deleted_at"] == deletion.view["updated_at"] == stamp
    assert deletion.view["request_id"] == job.request_id
    assert "summary" not in deletion.view
    assert (deletion.already_deleted, deletion.notified) == (False, True)
    stored = world.stored(job.job_id)
    assert stored.status is JobStatus.DELETED
    assert (stored.result, stored.summary) == (None, None)
    assert stored.notified_at == stamp
    (message,) = world.messages()
    assert message["event_type"] == Notification.EVENT_DELETED
    assert message["status"] == "deleted"
    assert message["redelivery"] is False
    assert message["deleted_at"] == stamp
    assert "result" not in message
    assert "summary" not in message
    assert world.attributes() == [
        {"event_type": "transcription.deleted", "status": "deleted", "metadata.customer": "acme"}
    ]
    assert world.jobs.lease_of(job.job_id) == (None, None)  # published and recorded


def test_a_result_uploaded_again_before_the_tombstone_is_deleted_after_it(world: World) -> None:
    """A repeated delivery of a large result uploads its object again before its finishing write
    (which then finds the job finished and keeps the object): landing between the deletion of the
    objects and the tombstone, it would outlive the job; it is deleted once the tombstone stands."""
    job = world.finished(incompressible_body(S3_BODY_BYTES))
    result = job.result
    assert result is not None
    assert result.s3_key is not None
    key, data = result.s3_key, world.blobs.get(result.s3_key)

    def delivered_again(_job_id: str) -> None:
        world.blobs.put(key, data, content_encoding=result.content_encoding)

    world.racing.races, world.racing.change = 1, delivered_again

    world.manage.delete(job.job_id)

    assert world.racing.delete_calls == 1  # the tombstone went in at once
    assert world.blobs.objects == {}
    assert world.stored(job.job_id).status is JobStatus.DELETED


def test_deleting_a_job_with_an_s3_result_deletes_the_object(world: World) -> None:
    other = world.finished(incompressible_body(S3_BODY_BYTES))
    job = world.finished(incompressible_body(S3_BODY_BYTES))
    assert job.result is not None
    assert job.result.s3_key in world.blobs.objects

    deletion = world.manage.delete(job.job_id)

    assert deletion.objects_deleted == 1
    assert job.result.s3_key not in world.blobs.objects
    assert other.result is not None
    assert list(world.blobs.objects) == [other.result.s3_key]
    assert world.stored(job.job_id).result is None
    assert [m["event_type"] for m in world.messages()] == ["transcription.deleted"]


def test_deleting_a_job_deletes_its_kept_audio(world: World) -> None:
    job = world.with_kept_audio()
    assert job.audio_key in world.blobs.objects

    deletion = world.manage.delete(job.job_id)

    assert deletion.objects_deleted == 1
    assert world.blobs.objects == {}
    assert world.stored(job.job_id).audio_key is None
    assert deletion.view["status"] == "deleted"


@pytest.mark.parametrize("state", ["queued", "processing", "failed"])
def test_a_job_in_any_state_can_be_deleted(world: World, state: str) -> None:
    makers: dict[str, Callable[[], Job]] = {
        "queued": world.queued,
        "processing": world.processing,
        "failed": lambda: world.refused_at_submit(JobError("deepgram_rejected", "Invalid model")),
    }
    job = makers[state]()

    deletion = world.manage.delete(job.job_id)

    assert deletion.view["status"] == "deleted"
    assert world.stored(job.job_id).status is JobStatus.DELETED
    if state == "failed":
        assert deletion.view["error"] == {"code": "deepgram_rejected", "message": "Invalid model"}
    assert [m["event_type"] for m in world.messages()] == ["transcription.deleted"]


def test_deleting_a_deleted_job_again_answers_the_tombstone_and_publishes_nothing(world: World) -> None:
    job = world.finished(incompressible_body(S3_BODY_BYTES))
    first = world.manage.delete(job.job_id)
    world.clock.advance(timedelta(minutes=1))

    again = world.manage.delete(job.job_id)

    assert again.already_deleted
    assert again.view == first.view
    assert len(world.publisher.published) == 1


@pytest.mark.parametrize("job_id", ["not-a-job", "0" * 3000, uuid.uuid4().hex])
def test_deleting_an_unknown_or_malformed_job_is_not_found(world: World, job_id: str) -> None:
    with pytest.raises(JobNotFound) as raised:
        world.manage.delete(job_id)
    assert (raised.value.status, raised.value.code) == (404, "job_not_found")
    assert world.publisher.published == []


def test_deleting_an_expired_job_is_not_found(world: World) -> None:
    job = world.finished(incompressible_body(S3_BODY_BYTES))
    world.clock.advance(timedelta(days=1))

    with pytest.raises(JobNotFound):
        world.manage.delete(job.job_id)
    assert world.stored(job.job_id).status is JobStatus.COMPLETED


def test_when_sns_fails_the_tombstone_stays_owed_its_notification_and_is_published_once_later(
    world: World,
) -> None:
    job = world.finished(transcript())
    world.publisher.faults.fail("publish")

    deletion = world.manage.delete(job.job_id)

    assert deletion.view["status"] == "deleted"
    assert deletion.notified is False
    assert world.failures
    assert world.failures[0][0] == job.job_id
    stored = world.stored(job.job_id)
    assert (stored.status, stored.notified_at) == (JobStatus.DELETED, None)
    assert world.jobs.lease_of(job.job_id) == (None, None)  # given back: the reconciler may claim it
    world.clock.advance(timedelta(seconds=21))  # due when the lease the write took would have run out
    due = world.jobs.due_for_attention("notify", now=world.clock(), limit=10)
    assert [j.job_id for j in due] == [job.job_id]

    # What the reconciler does with a job owed its notification.
    assert world.notifier.publish_if_owed(due[0])
    assert not world.notifier.publish_if_owed(world.stored(job.job_id))
    assert [m["event_type"] for m in world.messages()] == ["transcription.deleted"]


def test_a_permanent_sns_refusal_also_answers_the_tombstone(world: World) -> None:
    job = world.finished(transcript())
    world.publisher.faults.fail("publish", permanent=True)

    deletion = world.manage.delete(job.job_id)

    assert (deletion.view["status"], deletion.notified) == ("deleted", False)
    assert world.stored(job.job_id).notified_at is None


def test_objects_are_deleted_before_the_tombstone_is_written(world: World) -> None:
    job = world.finished(incompressible_body(S3_BODY_BYTES))
    world.blobs.faults.fail("delete")

    with pytest.raises(DependencyError):
        world.manage.delete(job.job_id)

    # No tombstone pointing at objects that still exist.
    assert world.stored(job.job_id).status is JobStatus.COMPLETED
    assert world.publisher.published == []


def test_a_failed_tombstone_write_is_finished_by_the_clients_retry(world: World) -> None:
    job = world.finished(incompressible_body(S3_BODY_BYTES))
    world.jobs.faults.fail("delete")

    with pytest.raises(DependencyError):
        world.manage.delete(job.job_id)
    # The object is gone, the job still says where it was: GET would give a URL to nothing, but
    # never a tombstone with objects left behind; the retry completes the deletion.
    assert world.blobs.objects == {}
    assert world.stored(job.job_id).status is JobStatus.COMPLETED

    deletion = world.manage.delete(job.job_id)

    assert deletion.view["status"] == "deleted"
    assert [m["event_type"] for m in world.messages()] == ["transcription.deleted"]


def test_a_result_stored_while_deleting_is_deleted_too(world: World) -> None:
    job = world.processing()
    body = incompressible_body(S3_BODY_BYTES)
    stored_key: list[str] = []

    def callback_finishes(job_id: str) -> None:
        current = world.stored(job_id)
        encoded = result_storage.encode(job_id, body, uuid.uuid4().hex * 2)
        assert encoded.object_data is not None
        assert encoded.stored.s3_key is not None
        world.blobs.put(encoded.stored.s3_key, encoded.object_data, content_encoding="identity")
        stored_key.append(encoded.stored.s3_key)
        now = world.clock() + timedelta(milliseconds=1)
        finished = FinalState(
            job_id=current.job_id,
            status=JobStatus.COMPLETED,
            result=encoded.stored,
            completed_at=isoformat(now),
        )
        assert world.jobs.finish(
            finished, lease_token="callback", lease_until=now + timedelta(seconds=20)
        ).applied

    world.racing.races, world.racing.change = 1, callback_finishes

    deletion = world.manage.delete(job.job_id)

    assert world.racing.delete_calls == 2  # the first write found the job changed
    assert stored_key
    assert world.blobs.objects == {}
    assert deletion.view["status"] == "deleted"
    assert world.stored(job.job_id).result is None
    assert [m["event_type"] for m in world.messages()] == ["transcription.deleted"]


def test_a_job_deleted_concurrently_answers_its_tombstone(world: World) -> None:
    job = world.finished(transcript())

    def someone_else_deletes(job_id: str) -> None:
        world.racing.races = 0
        world.manage.delete(job_id)

    world.racing.races, world.racing.change = 1, someone_else_deletes

    deletion = world.manage.delete(job.job_id)

    assert deletion.already_deleted
    assert deletion.view["status"] == "deleted"
    assert [m["event_type"] for m in world.messages()] == ["transcription.deleted"]  # once


def test_a_job_that_keeps_changing_is_409_and_left_as_it_is(world: World) -> None:
    job = world.processing()

    def resubmitted(job_id: str) -> None:
        current = world.stored(job_id)
        world.clock.advance(timedelta(milliseconds=1))
        assert world.jobs.record_resubmission(
            current,
            request_id=str(uuid.uuid4()),
            at=world.clock(),
            result_due_at=world.clock() + timedelta(minutes=30),
            delivery=current.delivery,
            outcome="callback_not_received",
        )

    world.racing.races, world.racing.change = DELETE_ATTEMPTS, resubmitted

    with pytest.raises(JobKeptChanging) as raised:
        world.manage.delete(job.job_id)

    assert (raised.value.status, raised.value.code, raised.value.retry_after) == (409, "job_changed", "1")
    assert world.stored(job.job_id).status is JobStatus.PROCESSING
    assert world.publisher.published == []


def test_a_job_that_vanishes_while_deleting_is_not_found(world: World) -> None:
    job = world.processing()
    records = world.jobs._records
    world.racing.races, world.racing.change = 1, records.pop

    with pytest.raises(JobNotFound):
        world.manage.delete(job.job_id)


def test_a_deleted_job_reads_as_deleted_without_its_result(world: World) -> None:
    job = world.finished(transcript(), summary={"words": 12})
    world.manage.delete(job.job_id)

    described = world.describe(job.job_id)

    view = described.as_dict()
    assert view["status"] == "deleted"
    assert "deleted_at" in view
    assert described.result_json is None
    assert {"result", "result_url", "result_size_bytes", "result_sha256", "summary"}.isdisjoint(view)


@pytest.mark.parametrize("size", [100 * 1024, 3 * 1024 * 1024], ids=["inline", "s3"])
def test_a_callback_for_a_deleted_job_is_acknowledged_and_discarded(callbacks: Callbacks, size: int) -> None:
    job = callbacks.job()
    manage = ManageService(
        jobs=callbacks.jobs,
        blobs=callbacks.blobs,
        notifier=Notifier(jobs=callbacks.jobs, publisher=callbacks.publisher, clock=callbacks.clock),
        clock=callbacks.clock,
    )
    manage.delete(job.job_id)
    callbacks.clock.advance(5)

    result = callbacks.deliver_as_deepgram(job, callbacks.body(job, size=size))

    assert result.outcome == "discarded"
    assert result.status_code == 200
    assert result.body == {"status": "discarded", "job_id": job.job_id}
    stored = callbacks.stored(job)
    assert (stored.status, stored.result) == (JobStatus.DELETED, None)
    assert callbacks.s3_keys() == []  # nothing kept of the discarded body
    assert [n.message["event_type"] for n in callbacks.notifications()] == ["transcription.deleted"]


# --- redelivery ----------------------------------------------------------------------------------------


def test_a_completed_jobs_notification_is_redelivered_marked_as_such(world: World) -> None:
    job = world.finished(transcript(), summary={"words": 12})

    redelivery = world.manage.redeliver(job.job_id)

    (sent,) = world.publisher.published
    assert redelivery.as_dict() == {
        "job_id": job.job_id,
        "message_id": sent.message_id,
        "event_type": "transcription.completed",
    }
    message = json.loads(sent.notification.message)
    assert message["redelivery"] is True
    assert message["status"] == "completed"
    assert message["summary"] == {"words": 12}
    assert sent.notification.attributes["event_type"] == "transcription.completed"
    # A redelivery changes nothing stored (no lease, no notified_at).
    assert world.stored(job.job_id) == job


def test_every_redelivery_is_a_new_message(world: World) -> None:
    job = world.finished(transcript())

    first, second = world.manage.redeliver(job.job_id), world.manage.redeliver(job.job_id)

    assert first.message_id != second.message_id
    assert len(world.publisher.published) == 2


def test_failed_and_deleted_jobs_are_redelivered_with_their_event(world: World) -> None:
    failed = world.refused_at_submit(JobError("deepgram_rejected", "Invalid model"))
    deleted = world.finished(transcript())
    world.manage.delete(deleted.job_id)

    assert world.manage.redeliver(failed.job_id).event_type == "transcription.failed"
    assert world.manage.redeliver(deleted.job_id).event_type == "transcription.deleted"
    assert [m["redelivery"] for m in world.messages()] == [False, True, True]


@pytest.mark.parametrize("state", ["queued", "processing"])
def test_a_job_still_awaiting_its_result_has_nothing_to_redeliver(world: World, state: str) -> None:
    job = world.queued() if state == "queued" else world.processing()

    with pytest.raises(JobNotFinished) as raised:
        world.manage.redeliver(job.job_id)

    assert (raised.value.status, raised.value.code, raised.value.job_id) == (
        409,
        "job_not_finished",
        job.job_id,
    )
    assert world.publisher.published == []


def test_redelivering_an_unknown_or_expired_job_is_not_found(world: World) -> None:
    job = world.finished(transcript())
    with pytest.raises(JobNotFound):
        world.manage.redeliver(uuid.uuid4().hex)
    world.clock.advance(timedelta(days=1))
    with pytest.raises(JobNotFound):
        world.manage.redeliver(job.job_id)
    assert world.publisher.published == []


def test_a_failed_redelivery_is_a_dependency_error(world: World) -> None:
    job = world.finished(transcript())
    world.publisher.faults.fail("publish")

    with pytest.raises(DependencyError):
        world.manage.redeliver(job.job_id)
