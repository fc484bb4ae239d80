"""The reconciler service on the in-memory fakes, with a clock the test moves.

Every job ends and its subscribers hear of it exactly once: overdue jobs are given up (or
submitted once more), owed notifications are published, whatever failed or crashed before.
A late result after a give-up goes through the real callback service (`tests/service/conftest.py`).
"""

from __future__ import annotations

import io
import json
import logging
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from functions.core.adapters.memory import (
    FakeDeepgramRequestLog,
    FakeResubmitter,
    InMemoryJobRepository,
    InMemoryPublisher,
)
from functions.core.contract import Metrics, Notification
from functions.core.jobs import (
    Delivery,
    FinalState,
    Job,
    JobError,
    JobStatus,
    StoredResult,
    isoformat,
    new_job,
    public_view,
)
from functions.core.notifier import new_lease
from functions.core.ports import DeepgramFailure, DeepgramRecord, DependencyError
from functions.reconciler.handler import event_time
from functions.reconciler.logic import (
    CALLBACK_NOT_RECEIVED,
    Reason,
    ReconcilerConfig,
    ReconcileReport,
    ReconcilerService,
    RecoveryMode,
    Touched,
)
from functions.reconciler.telemetry import logger, metrics, observe
from tests.service.conftest import START, Callbacks, Clock, SubmittedJob

DEADLINE = timedelta(minutes=30)
RUN_EVERY = timedelta(minutes=5)


@dataclass
class Reconciler:
    """A `ReconcilerService` on fakes, the clock it reads and helpers to make jobs and run it."""

    recovery: RecoveryMode = RecoveryMode.FAIL
    with_request_log: bool = False
    clock: Clock = field(default_factory=Clock)
    jobs: InMemoryJobRepository = field(default_factory=InMemoryJobRepository)
    publisher: InMemoryPublisher = field(default_factory=InMemoryPublisher)
    request_log: FakeDeepgramRequestLog = field(default_factory=FakeDeepgramRequestLog)
    resubmitter: FakeResubmitter = field(default_factory=FakeResubmitter)
    batch_size: int = 100
    s3_delivery: bool = False

    @property
    def service(self) -> ReconcilerService:
        return ReconcilerService(
            jobs=self.jobs,
            publisher=self.publisher,
            request_log=self.request_log if self.with_request_log else None,
            resubmitter=self.resubmitter if self.recovery is RecoveryMode.RESUBMIT else None,
            config=ReconcilerConfig(
                result_deadline=DEADLINE,
                recovery=self.recovery,
                batch_size=self.batch_size,
                s3_delivery=self.s3_delivery,
            ),
            clock=self.clock,
        )

    def submitted(self, *, source: dict[str, Any] | None = None, audio_key: str | None = None) -> Job:
        """A job the submit function created and Deepgram accepted now, its result due in 30 min."""
        job = new_job(
            source=source or {"type": "url", "url": "https://media.example.com/a.wav"},
            options={"model": "nova-3"},
            metadata={"customer": "acme"},
            retention_days=7,
            now=self.clock(),
            result_due_in=DEADLINE,
            audio_key=audio_key,
        )
        self.jobs.create(job)
        self.jobs.record_submission(
            job.job_id, str(uuid.uuid4()), self.clock(), result_due_at=self.clock() + DEADLINE
        )
        return self.stored(job.job_id)

    def stored(self, job_id: str) -> Job:
        job = self.jobs.get(job_id)
        assert job is not None
        return job

    def run(self) -> ReconcileReport:
        return self.service.run()

    def advance(self, delta: timedelta) -> None:
        self.clock.advance(delta.total_seconds())

    def notifications(self, job_id: str | None = None) -> list[dict[str, Any]]:
        sent = [
            {"message": json.loads(m.notification.message), "attributes": dict(m.notification.attributes)}
            for m in self.publisher.published
        ]
        return [n for n in sent if job_id is None or n["message"]["job_id"] == job_id]


def event_types(notifications: list[dict[str, Any]]) -> list[str]:
    return [n["attributes"][Notification.ATTR_EVENT_TYPE] for n in notifications]


@pytest.fixture
def reconciler() -> Reconciler:
    return Reconciler()


# --- no result by the deadline ---------------------------------------------------------------------


def test_nothing_happens_before_the_deadline(reconciler: Reconciler) -> None:
    job = reconciler.submitted()
    reconciler.advance(DEADLINE - timedelta(seconds=1))

    report = reconciler.run()

    assert report.touched == []
    assert reconciler.stored(job.job_id).status is JobStatus.PROCESSING
    assert reconciler.publisher.published == []


def test_a_job_without_a_callback_by_the_deadline_fails_once_and_is_notified_once(
    reconciler: Reconciler,
) -> None:
    job = reconciler.submitted()
    reconciler.advance(DEADLINE)

    report = reconciler.run()

    assert [(t.job_id, t.action, t.reason) for t in report.touched] == [
        (job.job_id, "failed", Reason.NO_CALLBACK)
    ]
    failed = reconciler.stored(job.job_id)
    assert failed.status is JobStatus.FAILED
    assert failed.error is not None
    assert failed.error.code == CALLBACK_NOT_RECEIVED
    assert Reason.NO_CALLBACK.value in failed.error.message
    assert failed.submit_error_ambiguous
    assert failed.completed_at == isoformat(reconciler.clock())
    assert failed.notified_at is not None
    notifications = reconciler.notifications(job.job_id)
    assert event_types(notifications) == [Notification.EVENT_FAILED]
    assert notifications[0]["message"]["error"]["code"] == CALLBACK_NOT_RECEIVED

    for _ in range(3):  # later runs find nothing more to do
        reconciler.advance(RUN_EVERY)
        assert reconciler.run().touched == []
    assert len(reconciler.publisher.published) == 1


def test_without_a_project_the_request_log_is_not_asked(reconciler: Reconciler) -> None:
    reconciler.submitted()
    reconciler.advance(DEADLINE)

    reconciler.run()

    assert reconciler.request_log.lookups == []


@pytest.mark.parametrize(
    ("record", "reason"),
    [
        (DeepgramRecord(code=200, callback_code=413), Reason.RESULT_TOO_LARGE),
        (DeepgramRecord(code=400), Reason.DEEPGRAM_FAILED),
        (DeepgramRecord(code=504, callback_code=200), Reason.DEEPGRAM_FAILED),
        (DeepgramRecord(code=200, callback_code=503), Reason.CALLBACK_REFUSED),
        (DeepgramRecord(code=200, callback_code=None), Reason.NO_CALLBACK),
        (None, Reason.NO_CALLBACK),
    ],
    ids=["413-too-large", "400-failed", "504-failed", "503-refused", "no-callback-code", "no-record"],
)
def test_deepgrams_request_log_says_why(record: DeepgramRecord | None, reason: Reason) -> None:
    reconciler = Reconciler(with_request_log=True)
    job = reconciler.submitted()
    assert job.request_id is not None
    if record is not None:
        reconciler.request_log.records[job.request_id] = record
    reconciler.advance(DEADLINE)

    report = reconciler.run()

    assert [(t.action, t.reason) for t in report.touched] == [("failed", reason)]
    assert reconciler.request_log.lookups == [job.request_id]
    failed = reconciler.stored(job.job_id)
    assert failed.error is not None
    assert failed.error.code == CALLBACK_NOT_RECEIVED
    assert reason.value in failed.error.message
    if record is not None:
        assert f"code {record.code}" in failed.error.message
    assert event_types(reconciler.notifications()) == [Notification.EVENT_FAILED]


# --- resubmission ------------------------------------------------------------------------------


def test_resubmit_mode_submits_a_url_job_once_more_and_shows_the_attempt() -> None:
    reconciler = Reconciler(recovery=RecoveryMode.RESUBMIT)
    job = reconciler.submitted()
    reconciler.advance(DEADLINE)

    report = reconciler.run()

    assert [(t.action, t.reason) for t in report.touched] == [("resubmitted", Reason.NO_CALLBACK)]
    assert reconciler.resubmitter.calls == [(job.job_id, Delivery.CALLBACK)]
    again = reconciler.stored(job.job_id)
    assert again.status is JobStatus.PROCESSING
    assert again.request_id != job.request_id
    assert again.result_due_at == int((reconciler.clock() + DEADLINE).timestamp())
    view = public_view(again)
    assert view["attempts"] == [
        {
            "request_id": job.request_id,
            "submitted_at": job.submitted_at,
            "delivery": "callback",
            "outcome": Reason.NO_CALLBACK.value,
        }
    ]
    assert view["request_id"] == again.request_id
    assert reconciler.publisher.published == []  # nothing final yet


def test_a_result_too_large_for_the_callback_is_resubmitted_with_s3_delivery() -> None:
    reconciler = Reconciler(recovery=RecoveryMode.RESUBMIT, with_request_log=True, s3_delivery=True)
    job = reconciler.submitted()
    assert job.request_id is not None
    reconciler.request_log.records[job.request_id] = DeepgramRecord(code=200, callback_code=413)
    reconciler.advance(DEADLINE)

    report = reconciler.run()

    assert [(t.action, t.reason) for t in report.touched] == [("resubmitted", Reason.RESULT_TOO_LARGE)]
    assert reconciler.resubmitter.calls == [(job.job_id, Delivery.S3)]
    again = reconciler.stored(job.job_id)
    assert again.delivery is Delivery.S3
    assert public_view(again)["delivery"] == "s3"
    assert public_view(again)["attempts"][0]["outcome"] == Reason.RESULT_TOO_LARGE.value


def test_with_s3_delivery_any_lost_result_is_asked_for_again_through_s3() -> None:
    """Without Deepgram's log nobody knows why the result did not come (a 413 never reaches the
    code): S3 delivery is the way neither size nor the callback endpoint can stop."""
    reconciler = Reconciler(recovery=RecoveryMode.RESUBMIT, s3_delivery=True)
    job = reconciler.submitted()
    reconciler.advance(DEADLINE)

    report = reconciler.run()

    assert [(t.action, t.reason) for t in report.touched] == [("resubmitted", Reason.NO_CALLBACK)]
    assert reconciler.resubmitter.calls == [(job.job_id, Delivery.S3)]
    assert reconciler.stored(job.job_id).delivery is Delivery.S3


def test_a_second_overdue_fails_the_job_without_a_second_resubmission() -> None:
    reconciler = Reconciler(recovery=RecoveryMode.RESUBMIT)
    job = reconciler.submitted()
    reconciler.advance(DEADLINE)
    reconciler.run()

    reconciler.advance(DEADLINE - timedelta(seconds=1))
    assert reconciler.run().touched == []  # the new request has its own 30 minutes
    reconciler.advance(timedelta(seconds=1))
    report = reconciler.run()

    assert [t.action for t in report.touched] == ["failed"]
    assert len(reconciler.resubmitter.calls) == 1
    failed = reconciler.stored(job.job_id)
    assert failed.status is JobStatus.FAILED
    assert len(failed.attempts) == 1
    assert event_types(reconciler.notifications()) == [Notification.EVENT_FAILED]


def test_an_upload_without_kept_audio_cannot_be_resubmitted_and_fails() -> None:
    reconciler = Reconciler(recovery=RecoveryMode.RESUBMIT)
    job = reconciler.submitted(source={"type": "upload", "content_type": "audio/wav", "size_bytes": 1024})
    reconciler.advance(DEADLINE)

    report = reconciler.run()

    assert [t.action for t in report.touched] == ["failed"]
    assert reconciler.resubmitter.calls == []
    assert reconciler.stored(job.job_id).status is JobStatus.FAILED


def test_an_upload_with_kept_audio_is_resubmitted() -> None:
    reconciler = Reconciler(recovery=RecoveryMode.RESUBMIT)
    job = reconciler.submitted(source={"type": "upload"}, audio_key=f"audio/{uuid.uuid4().hex}")
    reconciler.advance(DEADLINE)

    assert [t.action for t in reconciler.run().touched] == ["resubmitted"]
    assert reconciler.resubmitter.calls == [(job.job_id, Delivery.CALLBACK)]


def test_deepgram_refusing_the_resubmission_fails_the_job() -> None:
    reconciler = Reconciler(recovery=RecoveryMode.RESUBMIT)
    reconciler.resubmitter.refuse_with = DeepgramFailure(
        http_status=402, code="x", message="payment required"
    )
    job = reconciler.submitted()
    reconciler.advance(DEADLINE)

    assert [t.action for t in reconciler.run().touched] == ["failed"]
    assert reconciler.stored(job.job_id).attempts == ()
    assert event_types(reconciler.notifications()) == [Notification.EVENT_FAILED]


# --- a late result after the give-up ----------------------------------------------------------------


def test_a_late_result_after_the_give_up_completes_the_job_and_is_published() -> None:
    reconciler = Reconciler()
    callbacks = Callbacks(jobs=reconciler.jobs, publisher=reconciler.publisher)
    job = reconciler.submitted()
    reconciler.advance(DEADLINE)
    reconciler.run()
    assert reconciler.stored(job.job_id).status is JobStatus.FAILED

    reconciler.advance(timedelta(minutes=3))
    callbacks.clock.now = reconciler.clock()
    assert job.request_id is not None
    late = SubmittedJob(job.job_id, job.request_id)
    result = callbacks.deliver_as_deepgram(late, callbacks.body(late))

    assert result.status_code == 200
    completed = reconciler.stored(job.job_id)
    assert completed.status is JobStatus.COMPLETED
    assert completed.error is None
    assert event_types(reconciler.notifications(job.job_id)) == [
        Notification.EVENT_FAILED,
        Notification.EVENT_COMPLETED,
    ]
    reconciler.advance(RUN_EVERY)
    assert reconciler.run().touched == []
    assert len(reconciler.publisher.published) == 2


# --- notifications owed ---------------------------------------------------------------------------


def test_sns_refusing_for_ten_minutes_still_gives_exactly_one_notification(reconciler: Reconciler) -> None:
    job = reconciler.submitted()
    reconciler.advance(DEADLINE)
    outage_ends = reconciler.clock() + timedelta(minutes=10)
    reconciler.publisher.faults.fail("publish", times=None)

    actions = []
    for _ in range(6):  # every 5 simulated minutes, for 25 minutes
        if reconciler.clock() >= outage_ends:
            reconciler.publisher.faults.stop("publish")
        actions.append([t.action for t in reconciler.run().touched])
        reconciler.advance(RUN_EVERY)

    # The give-up is written (and counted) at once; publishing waits for SNS.
    assert actions == [["failed"], ["error"], ["notified"], [], [], []]
    assert reconciler.publisher.faults.injected == ["publish", "publish"]
    assert event_types(reconciler.notifications(job.job_id)) == [Notification.EVENT_FAILED]
    assert reconciler.stored(job.job_id).notified_at is not None


def test_a_permanent_sns_refusal_leaves_the_notification_owed_until_it_is_cured(
    reconciler: Reconciler,
) -> None:
    job = reconciler.submitted()
    reconciler.advance(DEADLINE)
    reconciler.publisher.faults.fail("publish", times=None, permanent=True)

    first = reconciler.run()
    reconciler.advance(RUN_EVERY)
    second = reconciler.run()
    reconciler.publisher.faults.stop("publish")
    reconciler.advance(RUN_EVERY)
    third = reconciler.run()

    assert [t.detail for t in first.touched] == ["notification pending"]
    assert [t.action for t in second.touched] == ["skipped"]
    assert [t.action for t in third.touched] == ["notified"]
    assert len(reconciler.notifications(job.job_id)) == 1


def test_a_crashed_publishers_lease_is_published_by_the_reconciler_once_it_expires(
    reconciler: Reconciler,
) -> None:
    """A callback stored the result (taking the lease) and died before publishing."""
    job = reconciler.submitted()
    reconciler.advance(timedelta(minutes=2))
    token, until = new_lease(reconciler.clock())
    completed = _completed(job, at=reconciler.clock())
    assert reconciler.jobs.finish(completed, lease_token=token, lease_until=until).applied

    assert reconciler.run().touched == []  # the lease still lives: its holder may be publishing
    reconciler.jobs.expire_lease(job.job_id)
    report = reconciler.run()

    assert [(t.action, t.reason) for t in report.touched] == [("notified", Reason.NOTIFICATION_OWED)]
    assert event_types(reconciler.notifications(job.job_id)) == [Notification.EVENT_COMPLETED]
    reconciler.advance(RUN_EVERY)
    assert reconciler.run().touched == []
    assert len(reconciler.publisher.published) == 1


def test_a_crashed_publishers_lease_runs_out_with_time_too(reconciler: Reconciler) -> None:
    job = reconciler.submitted()
    token, until = new_lease(reconciler.clock())
    assert reconciler.jobs.finish(
        _completed(job, at=reconciler.clock()), lease_token=token, lease_until=until
    ).applied

    reconciler.advance(timedelta(seconds=19))
    assert reconciler.run().touched == []
    reconciler.advance(timedelta(seconds=2))
    assert [t.action for t in reconciler.run().touched] == ["notified"]
    assert len(reconciler.publisher.published) == 1


def test_a_failed_submission_is_notified_by_the_reconciler(reconciler: Reconciler) -> None:
    """The submit function marks the refusal and leaves the notification to the reconciler."""
    job = new_job(
        source={"type": "url", "url": "u"}, options={}, metadata={}, retention_days=1, now=reconciler.clock()
    )
    reconciler.jobs.create(job)
    reconciler.jobs.mark_submit_failed(
        job.job_id,
        JobError(code="deepgram_rejected", message="bad audio"),
        ambiguous=False,
        at=reconciler.clock(),
    )

    assert [t.action for t in reconciler.run().touched] == ["notified"]
    assert event_types(reconciler.notifications(job.job_id)) == [Notification.EVENT_FAILED]


# --- one job's fault does not stop the others ------------------------------------------------------


def test_one_jobs_dependency_fault_does_not_stop_the_others(reconciler: Reconciler) -> None:
    jobs = [reconciler.submitted() for _ in range(3)]
    reconciler.advance(DEADLINE)
    reconciler.jobs.faults.fail("finish", times=1)  # the first job's give-up cannot be written

    report = reconciler.run()

    assert sorted(t.action for t in report.touched) == ["error", "failed", "failed"]
    errored = next(t for t in report.touched if t.action == "error")
    assert errored.reason == "dependency_unavailable"
    assert "injected fault" in errored.detail
    assert len(reconciler.publisher.published) == 2

    reconciler.advance(RUN_EVERY)  # the next run finishes the job it could not
    assert [t.action for t in reconciler.run().touched] == ["failed"]
    assert all(reconciler.stored(job.job_id).status is JobStatus.FAILED for job in jobs)
    assert len(reconciler.publisher.published) == 3


class UnreachableRequestLog(FakeDeepgramRequestLog):
    def lookup(self, request_id: str) -> DeepgramRecord | None:
        raise DependencyError("Secrets Manager: down")


def test_a_dependency_failure_while_asking_why_leaves_the_job_to_the_next_run() -> None:
    reconciler = Reconciler(with_request_log=True, request_log=UnreachableRequestLog())
    jobs = [reconciler.submitted() for _ in range(2)]
    reconciler.advance(DEADLINE)

    report = reconciler.run()

    assert [t.action for t in report.touched] == ["error", "error"]
    assert all(reconciler.stored(job.job_id).status is JobStatus.PROCESSING for job in jobs)
    reconciler.request_log = FakeDeepgramRequestLog()
    assert [t.action for t in reconciler.run().touched] == ["failed", "failed"]


def test_the_batch_size_bounds_a_run_and_the_next_run_takes_the_rest() -> None:
    reconciler = Reconciler(batch_size=2)
    jobs = [reconciler.submitted() for _ in range(5)]
    reconciler.advance(DEADLINE)

    counts = []
    for _ in range(3):
        counts.append(reconciler.run().count("failed"))
    assert counts == [2, 2, 1]
    assert len(reconciler.notifications()) == 5
    assert {reconciler.stored(job.job_id).status for job in jobs} == {JobStatus.FAILED}


# --- the oldest awaiting job ------------------------------------------------------------------------


def test_the_age_of_the_oldest_job_awaiting_its_result(reconciler: Reconciler) -> None:
    assert reconciler.run().oldest_awaiting_age_seconds is None
    reconciler.submitted()
    reconciler.advance(timedelta(minutes=7))
    reconciler.submitted()
    reconciler.advance(timedelta(minutes=3))

    assert reconciler.run().oldest_awaiting_age_seconds == 600.0


def test_the_oldest_age_forgets_jobs_once_they_end(reconciler: Reconciler) -> None:
    reconciler.submitted()
    reconciler.advance(timedelta(minutes=10))
    reconciler.submitted()
    reconciler.advance(DEADLINE - timedelta(minutes=10))

    report = reconciler.run()  # the first is given up; the second is 20 minutes old

    assert report.count("failed") == 1
    assert report.oldest_awaiting_age_seconds == 20 * 60.0


# --- the run's clock -----------------------------------------------------------------------------


def test_a_run_as_of_a_later_moment_acts_as_if_that_time_had_come(reconciler: Reconciler) -> None:
    job = reconciler.submitted()
    later = reconciler.clock() + DEADLINE + timedelta(minutes=1)

    report = reconciler.service.run(as_of=later)

    assert [t.action for t in report.touched] == ["failed"]
    assert reconciler.stored(job.job_id).completed_at == isoformat(later)
    assert report.oldest_awaiting_age_seconds is None


def test_a_run_as_of_an_earlier_moment_runs_on_the_clock(reconciler: Reconciler) -> None:
    job = reconciler.submitted()
    reconciler.advance(DEADLINE)

    report = reconciler.service.run(as_of=START)

    assert [t.action for t in report.touched] == ["failed"]
    assert reconciler.stored(job.job_id).completed_at == isoformat(reconciler.clock())


def _completed(job: Job, *, at: datetime) -> FinalState:
    """`job`'s final state as a callback writes it (a result stored inline)."""
    return FinalState(
        job_id=job.job_id,
        status=JobStatus.COMPLETED,
        result=StoredResult(
            storage="inline", size_bytes=2, sha256="0" * 64, content_encoding="identity", inline_data=b"{}"
        ),
        summary={"words": 0},
        completed_at=isoformat(at),
    )


# --- the handler's reading of the scheduled event's time --------------------------------------------


@pytest.mark.parametrize(
    ("time", "expected"),
    [
        ("2026-03-01T12:31:00Z", datetime(2026, 3, 1, 12, 31, tzinfo=UTC)),
        ("2026-03-01T13:00:00+01:00", None),  # the same moment as the clock: nothing to do
        ("2026-03-01T11:59:00Z", None),  # earlier: the clock wins
        ("2026-03-03T12:00:00Z", None),  # over a day ahead: not honoured
        ("2026-03-01T12:05:00", datetime(2026, 3, 1, 12, 5, tzinfo=UTC)),  # no zone: UTC
        ("not a time", None),
        (None, None),
    ],
)
def test_the_handler_reconciles_as_of_a_later_event_time_only(
    time: str | None, expected: datetime | None
) -> None:
    event = {"source": "aws.events", "detail-type": "Scheduled Event", "time": time}

    assert event_time(event, now=START) == expected


# --- what a run logs and counts ----------------------------------------------------------------------


def test_each_job_touched_is_logged_and_counted_under_the_alarms_reason(
    capsys: pytest.CaptureFixture[str],
) -> None:
    report = ReconcileReport(
        touched=[
            Touched("a", Reason.RESULT_TOO_LARGE, "failed"),
            Touched("b", Reason.NO_CALLBACK, "resubmitted", "delivery=callback"),
            Touched("c", Reason.NOTIFICATION_OWED, "notified"),
            Touched("d", "dependency_unavailable", "error", "DynamoDB: down"),
            Touched("e", "not_awaiting", "skipped"),
        ],
        oldest_awaiting_age_seconds=42.0,
    )

    handler = logger.registered_handler
    assert isinstance(handler, logging.StreamHandler)
    log = io.StringIO()
    previous = handler.setStream(log)
    try:
        observe(report)
    finally:
        handler.setStream(previous)
    metrics.flush_metrics()  # EMF goes to standard output

    output = (log.getvalue() + capsys.readouterr().out).splitlines()
    lines = [json.loads(line) for line in output if line.startswith("{")]
    counted = sorted(
        line["reason"]
        for line in lines
        if Metrics.JOBS_RECONCILED in line and line.get("service") == "reconciler"
    )
    assert counted == sorted([CALLBACK_NOT_RECEIVED, "resubmitted", Reason.NOTIFICATION_OWED.value])
    assert any(line.get(Metrics.OLDEST_AWAITING_JOB_AGE) in (42.0, [42.0]) for line in lines)
    logged = {line["job_id"]: line for line in lines if "job_id" in line}
    assert set(logged) == {"a", "b", "c", "d", "e"}
    assert logged["a"]["reason"] == Reason.RESULT_TOO_LARGE.value
    assert logged["d"]["level"] == "ERROR"
    assert logged["b"]["detail"] == "delivery=callback"
