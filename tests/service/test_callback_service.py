"""The callback service's behaviour on in-memory ports: authentication, durable storage, exactly-once
completion and notification, dependency faults. Every case asserts on the `CallbackResult`, on the
job as the repository holds it, on the blob store and on what was published.

The Lambda translation (event in, HTTP answer out, logs and metrics) is tested in
`tests/unit/test_callback_handler.py`; DynamoDB's own write semantics in `tests/dynamodb/`.
"""

from __future__ import annotations

import json
import threading
import uuid
from typing import Any

import pytest

from functions.callback.logic import CallbackResult
from functions.core.adapters.memory import Faults, InMemoryJobRepository, InMemoryPublisher
from functions.core.callback_auth import callback_secret
from functions.core.contract import CallbackTiming, DgTokenMode
from functions.core.jobs import FinalState, JobError, JobStatus, isoformat
from functions.core.notifications import OutgoingNotification
from functions.core.ports import FinishResult
from local.deepgram_emulator.payloads import compact_json
from tests.service.conftest import (
    DEEPGRAM_API_KEY_ID,
    KB,
    MB,
    SIGNING_KEY,
    Callbacks,
    SubmittedJob,
)

# --- success path and storage ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("size", "storage"),
    [(1 * KB, "inline"), (100 * KB, "inline"), (1 * MB, "s3"), (5 * MB, "s3")],
    ids=["1KB", "100KB", "1MB", "5MB"],
)
def test_a_result_of_any_size_is_stored_intact_then_acknowledged(
    callbacks: Callbacks, size: int, storage: str
) -> None:
    job = callbacks.job()
    body = callbacks.body(job, size=size)

    result = callbacks.deliver_as_deepgram(job, body)

    assert (result.status_code, result.outcome) == (200, "accepted")
    assert result.body == {"status": "accepted", "job_id": job.job_id}
    stored = callbacks.stored(job)
    assert stored.status is JobStatus.COMPLETED
    assert stored.result is not None
    assert stored.result.storage == storage
    assert stored.result.size_bytes == len(callbacks.as_stored(job, body))
    assert callbacks.stored_body(job) == callbacks.as_stored(job, body)
    assert job.secret.encode() not in callbacks.stored_body(job)
    assert len(callbacks.s3_keys()) == (1 if storage == "s3" else 0)


def test_an_accepted_result_reports_what_the_handler_counts(callbacks: Callbacks) -> None:
    job = callbacks.job()
    callbacks.clock.advance(42)

    result = callbacks.deliver_as_deepgram(job, callbacks.body(job))

    assert result.job_id == job.job_id
    assert result.request_id == job.request_id
    assert result.seconds_since_submit == 42.0
    assert result.job_status == "completed"
    assert result.published is True
    assert callbacks.stored(job).completed_at == isoformat(callbacks.clock.now)


def test_a_success_publishes_one_compact_notification_with_filterable_attributes(
    callbacks: Callbacks,
) -> None:
    job = callbacks.job()
    body = callbacks.body(job, size=5 * MB)

    callbacks.deliver_as_deepgram(job, body)

    [notification] = callbacks.notifications()
    message = notification.message
    assert message["job_id"] == job.job_id
    assert message["request_id"] == job.request_id
    assert message["status"] == "completed"
    assert message["metadata"] == {"customer": "acme"}
    assert message["result_location"] == f"/transcriptions/{job.job_id}"
    assert message["result"]["storage"] == "s3"
    assert message["summary"]["words"] > 1000
    assert 0 < len(message["summary"]["transcript_preview"]) <= 281
    assert len(json.dumps(message)) < 4 * KB
    assert notification.attributes == {
        "event_type": "transcription.completed",
        "status": "completed",
        "metadata.customer": "acme",
    }
    assert callbacks.stored(job).notified_at is not None


def test_an_error_body_fails_the_job_with_deepgrams_reason(callbacks: Callbacks) -> None:
    job = callbacks.job()

    result = callbacks.deliver_as_deepgram(job, callbacks.error_body(job))

    assert (result.status_code, result.outcome, result.job_status) == (200, "accepted", "failed")
    stored = callbacks.stored(job)
    assert stored.status is JobStatus.FAILED
    assert stored.error is not None
    assert stored.error.code == "REMOTE_CONTENT_ERROR"
    [notification] = callbacks.notifications()
    assert notification.attributes["event_type"] == "transcription.failed"
    assert notification.message["error"]["code"] == "REMOTE_CONTENT_ERROR"


def test_put_deliveries_are_accepted(callbacks: Callbacks) -> None:
    job = callbacks.job()
    body = callbacks.body(job)

    result = callbacks.deliver_as_deepgram(job, body, method="PUT", headers={"content-type": "text/plain"})

    assert (result.status_code, result.outcome) == (200, "accepted")
    assert callbacks.stored_body(job) == callbacks.as_stored(job, body)


def test_the_callback_secret_in_extra_alone_authenticates(callbacks: Callbacks) -> None:
    job = callbacks.job()

    result = callbacks.deliver(callbacks.body(job))

    assert (result.status_code, result.outcome) == (200, "accepted")
    assert callbacks.stored(job).status is JobStatus.COMPLETED


def test_a_callback_that_beats_the_request_id_write_still_completes_the_job(callbacks: Callbacks) -> None:
    job = callbacks.job(record_request_id=False)

    result = callbacks.deliver_as_deepgram(job, callbacks.body(job))
    callbacks.jobs.record_submission(job.job_id, job.request_id, callbacks.clock())

    assert result.status_code == 200
    stored = callbacks.stored(job)
    assert stored.status is JobStatus.COMPLETED
    assert stored.request_id == job.request_id
    assert stored.submitted_at is not None


def test_job_status_is_unchanged_by_the_request_id_write_after_completion(callbacks: Callbacks) -> None:
    job = callbacks.job(record_request_id=False)
    callbacks.deliver_as_deepgram(job, callbacks.body(job))

    callbacks.jobs.record_submission(job.job_id, job.request_id, callbacks.clock())

    assert callbacks.stored(job).status is JobStatus.COMPLETED


def test_a_late_callback_completes_a_job_whose_submission_timed_out(callbacks: Callbacks) -> None:
    job = callbacks.job(record_request_id=False)
    timeout = JobError(code="deepgram_timeout", message="Deepgram did not answer in time")
    callbacks.jobs.mark_submit_failed(job.job_id, timeout, ambiguous=True, at=callbacks.clock())

    result = callbacks.deliver_as_deepgram(job, callbacks.body(job))

    assert (result.status_code, result.outcome) == (200, "accepted")
    stored = callbacks.stored(job)
    assert stored.status is JobStatus.COMPLETED
    assert stored.error is None
    assert len(callbacks.notifications()) == 1


def test_a_job_refused_outright_at_submission_takes_no_result(callbacks: Callbacks) -> None:
    job = callbacks.job(record_request_id=False)
    refusal = JobError(code="deepgram_rejected", message="bad option")
    callbacks.jobs.mark_submit_failed(job.job_id, refusal, ambiguous=False, at=callbacks.clock())
    before = callbacks.stored(job)

    result = callbacks.deliver_as_deepgram(job, callbacks.body(job))

    assert (result.status_code, result.reason) == (409, "already_finished")
    assert callbacks.stored(job) == before
    assert before.status is JobStatus.FAILED
    assert callbacks.notifications() == []
    assert callbacks.s3_keys() == []


def test_an_error_callback_without_a_request_id_is_accepted_on_its_credentials(callbacks: Callbacks) -> None:
    job = callbacks.job()
    body = compact_json({"err_code": "SLOW_UPLOAD", "err_msg": "upload too slow"})

    result = callbacks.deliver_as_deepgram(job, body)

    assert (result.status_code, result.outcome) == (200, "accepted")
    stored = callbacks.stored(job)
    assert stored.status is JobStatus.FAILED
    assert stored.request_id == job.request_id
    assert stored.error == JobError(code="SLOW_UPLOAD", message="upload too slow")


# --- exactly once ------------------------------------------------------------------------------


def test_ten_deliveries_of_the_same_result_store_once_and_notify_once(callbacks: Callbacks) -> None:
    job = callbacks.job()
    body = callbacks.body(job, size=3 * MB)

    results = [callbacks.deliver_as_deepgram(job, body) for _ in range(10)]

    assert [result.status_code for result in results] == [200] * 10
    assert [result.outcome for result in results] == ["accepted"] + ["duplicate"] * 9
    assert [result.body["status"] for result in results] == ["accepted"] + ["duplicate"] * 9
    assert [result.published for result in results] == [True] + [False] * 9
    assert len(callbacks.notifications()) == 1
    assert len(callbacks.s3_keys()) == 1
    assert callbacks.stored_body(job) == callbacks.as_stored(job, body)


class WritersLineUp(InMemoryJobRepository):
    """Once armed, holds the first `parties` finishing writes until all of them are ready: every
    delivery has stored its body and built its final state, and only the conditional write decides."""

    def __init__(self) -> None:
        super().__init__()
        self._line_up: threading.Barrier | None = None
        self._waiting = threading.Lock()
        self._to_hold = 0

    def arm(self, parties: int) -> None:
        self._line_up, self._to_hold = threading.Barrier(parties, timeout=10), parties

    def finish(self, final: FinalState, *, lease_token: str, lease_until: Any) -> FinishResult:
        with self._waiting:
            hold = self._to_hold > 0
            self._to_hold -= 1
        if hold and self._line_up is not None:
            self._line_up.wait()
        return super().finish(final, lease_token=lease_token, lease_until=lease_until)


@pytest.mark.parametrize("size", [50 * KB, 3 * MB])
def test_two_concurrent_deliveries_store_once_and_notify_once(size: int) -> None:
    """Meaningful on the fake: its lock serialises `finish` as DynamoDB serialises writes to one
    item, so this exercises the service's lost-race path. DynamoDB's own behaviour under
    concurrent writers is tested on DynamoDB Local (tests/dynamodb)."""
    jobs = WritersLineUp()
    callbacks = Callbacks(jobs=jobs)
    job = callbacks.job()
    body = callbacks.body(job, size=size)
    request = callbacks.request(body, credentials=(job.job_id, job.secret))
    jobs.arm(2)
    results: list[CallbackResult] = []

    def deliver() -> None:
        results.append(callbacks.service.handle(request))

    threads = [threading.Thread(target=deliver) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=20)

    assert sorted(result.status_code for result in results) == [200, 200]
    assert sorted(result.outcome for result in results) == ["accepted", "duplicate"]
    assert len(callbacks.notifications()) == 1
    assert callbacks.stored_body(job) == callbacks.as_stored(job, body)
    # The same body is the same object: the loser's upload is the winner's, and stays.
    assert len(callbacks.s3_keys()) == (1 if size > 2 * MB else 0)


def test_a_different_result_for_a_finished_job_is_a_conflict_and_changes_nothing(
    callbacks: Callbacks,
) -> None:
    job = callbacks.job()
    callbacks.deliver_as_deepgram(job, callbacks.body(job, seed=1))
    before = (callbacks.stored(job), callbacks.jobs.lease_of(job.job_id), callbacks.s3_keys())

    result = callbacks.deliver_as_deepgram(job, callbacks.body(job, seed=2))

    assert (result.status_code, result.outcome, result.reason) == (409, "rejected", "already_finished")
    assert result.body["error"]["code"] == "already_finished"
    assert (callbacks.stored(job), callbacks.jobs.lease_of(job.job_id), callbacks.s3_keys()) == before
    assert len(callbacks.notifications()) == 1


def test_a_result_of_another_request_is_refused_by_the_finishing_write_and_its_upload_deleted(
    callbacks: Callbacks,
) -> None:
    """No read comes before the write: the write's condition alone enforces the request_id."""
    job = callbacks.job()
    before = callbacks.stored(job)
    impostor = SubmittedJob(job_id=job.job_id, request_id=str(uuid.uuid4()))

    result = callbacks.deliver_as_deepgram(job, callbacks.body(impostor, size=3 * MB))

    assert (result.status_code, result.reason) == (403, "request_mismatch")
    assert callbacks.stored(job) == before
    assert before.status is JobStatus.PROCESSING
    assert callbacks.s3_keys() == []
    assert callbacks.notifications() == []


def test_another_result_for_a_finished_job_deletes_the_object_it_uploaded(callbacks: Callbacks) -> None:
    job = callbacks.job()
    callbacks.deliver_as_deepgram(job, callbacks.body(job, size=1 * MB, seed=0))
    [winner_key] = callbacks.s3_keys()
    finished = callbacks.stored(job)

    result = callbacks.deliver_as_deepgram(job, callbacks.body(job, size=1 * MB, seed=1))

    assert (result.status_code, result.reason) == (409, "already_finished")
    assert callbacks.s3_keys() == [winner_key]
    assert callbacks.stored(job) == finished
    assert len(callbacks.notifications()) == 1


def test_a_failed_clean_up_of_a_refused_upload_does_not_change_the_answer(callbacks: Callbacks) -> None:
    """A 503 would make Deepgram retry, upload and fail again; the bucket's lifecycle rule removes
    the orphan."""
    job = callbacks.job()
    callbacks.deliver_as_deepgram(job, callbacks.body(job, size=1 * MB, seed=0))
    callbacks.blobs.faults.fail("delete")

    result = callbacks.deliver_as_deepgram(job, callbacks.body(job, size=1 * MB, seed=1))

    assert (result.status_code, result.reason) == (409, "already_finished")
    assert callbacks.blobs.faults.injected == ["delete"]
    assert len(callbacks.s3_keys()) == 2  # the winner's, and the orphan
    assert len(callbacks.notifications()) == 1


class FinishAppliedAnswerLost(InMemoryJobRepository):
    """`finish` as a client retry makes it when the first attempt was applied but its answer lost:
    the retry finds the job finished under its own lease token."""

    def finish(self, final: FinalState, *, lease_token: str, lease_until: Any) -> FinishResult:
        super().finish(final, lease_token=lease_token, lease_until=lease_until)
        return super().finish(final, lease_token=lease_token, lease_until=lease_until)


def test_a_finishing_write_whose_answer_was_lost_still_counts_as_won() -> None:
    callbacks = Callbacks(jobs=FinishAppliedAnswerLost())
    job = callbacks.job()

    result = callbacks.deliver_as_deepgram(job, callbacks.body(job))

    assert (result.status_code, result.outcome) == (200, "accepted")
    assert len(callbacks.notifications()) == 1


# --- authentication and correlation: forged callbacks change nothing ---------------------------


def _forgeries(callbacks: Callbacks, job: SubmittedJob, other: SubmittedJob) -> dict[str, Any]:
    """name → (expected status, expected reason, result)."""
    body = callbacks.body(job)
    bare = callbacks.body(job, with_extra=False)
    own = (job.job_id, job.secret)
    not_a_job_id = "not-a-job"
    return {
        "no credentials": (401, "missing_credentials", callbacks.deliver(bare)),
        "wrong password": (
            401,
            "bad_credentials",
            callbacks.deliver(body, credentials=(job.job_id, "0" * 64)),
        ),
        "wrong extra secret": (
            401,
            "bad_credentials",
            callbacks.deliver(
                callbacks.body(job, extra={"job_id": job.job_id, "callback_secret": other.secret})
            ),
        ),
        "secret derived from another signing key": (
            401,
            "bad_credentials",
            callbacks.deliver(body, credentials=(job.job_id, callback_secret("another-key", job.job_id))),
        ),
        "another job's credentials": (
            401,
            "credentials_conflict",
            callbacks.deliver(body, credentials=(other.job_id, other.secret)),
        ),
        "valid Basic, extra naming another job with a wrong secret": (
            401,
            "bad_credentials",
            callbacks.deliver(
                callbacks.body(job, extra={"job_id": other.job_id, "callback_secret": "0" * 64}),
                credentials=own,
            ),
        ),
        "extra job_id without a secret": (
            401,
            "missing_credentials",
            callbacks.deliver(callbacks.body(job, extra={"job_id": job.job_id})),
        ),
        "a user name that is not a job id": (
            401,
            "bad_credentials",
            callbacks.deliver(bare, credentials=(not_a_job_id, callback_secret(SIGNING_KEY, not_a_job_id))),
        ),
        "deeply nested JSON": (
            401,
            "missing_credentials",
            callbacks.deliver(b"[" * 100_000 + b"]" * 100_000),
        ),
        "another job's credentials, no extra": (
            403,
            "request_mismatch",
            callbacks.deliver(bare, credentials=(other.job_id, other.secret)),
        ),
        "wrong request_id": (
            403,
            "request_mismatch",
            callbacks.deliver_as_deepgram(job, callbacks.body(job, request_id=str(uuid.uuid4()))),
        ),
        "malformed authorization": (
            401,
            "bad_credentials",
            callbacks.deliver(bare, headers={"authorization": "Basic !!!not-base64"}),
        ),
        "authorization without a password": (
            401,
            "bad_credentials",
            callbacks.deliver(bare, headers={"authorization": "Basic " + "bm9jb2xvbg=="}),  # "nocolon"
        ),
        "bearer authorization": (
            401,
            "bad_credentials",
            callbacks.deliver(body, headers={"authorization": f"Bearer {job.secret}"}),
        ),
        "empty authorization": (
            401,
            "bad_credentials",
            callbacks.deliver(body, headers={"authorization": ""}),
        ),
        "wrong dg-token": (
            401,
            "dg_token_mismatch",
            callbacks.deliver_as_deepgram(job, body, dg_token="someone-else"),
        ),
        "not JSON, no credentials": (401, "missing_credentials", callbacks.deliver(b"<html>hello</html>")),
        "not JSON": (400, "invalid_body", callbacks.deliver_as_deepgram(job, b"not json")),
        "a JSON array": (400, "invalid_body", callbacks.deliver_as_deepgram(job, b"[]")),
        "neither results nor error": (
            400,
            "invalid_body",
            callbacks.deliver_as_deepgram(job, compact_json({"metadata": {"request_id": job.request_id}})),
        ),
        "GET": (405, "method_not_allowed", callbacks.deliver_as_deepgram(job, body, method="GET")),
    }


def test_forged_or_malformed_callbacks_are_rejected_and_change_nothing(callbacks: Callbacks) -> None:
    job, other = callbacks.job(), callbacks.job()
    before = (callbacks.stored(job), callbacks.stored(other))

    outcomes = _forgeries(callbacks, job, other)

    assert {name: (result.status_code, result.reason) for name, (_, _, result) in outcomes.items()} == {
        name: (status, reason) for name, (status, reason, _) in outcomes.items()
    }
    for _, reason, result in outcomes.values():
        assert result.outcome == "rejected"
        assert set(result.body) == {"error"}
        assert set(result.body["error"]) == {"code", "message"}
        assert result.body["error"]["code"] == reason
        assert result.published is False
    assert outcomes["GET"][2].headers == {"Allow": "POST, PUT"}
    assert (callbacks.stored(job), callbacks.stored(other)) == before
    assert callbacks.jobs.lease_of(job.job_id) == callbacks.jobs.lease_of(other.job_id) == (None, None)
    assert callbacks.notifications() == []
    assert callbacks.s3_keys() == []


def test_credentials_for_an_unknown_job_are_not_found(callbacks: Callbacks) -> None:
    ghost = SubmittedJob(job_id=uuid.uuid4().hex, request_id=str(uuid.uuid4()))

    result = callbacks.deliver_as_deepgram(ghost, callbacks.body(ghost, size=1 * MB))

    assert (result.status_code, result.reason) == (404, "unknown_job")
    assert callbacks.s3_keys() == []
    assert callbacks.notifications() == []


@pytest.mark.parametrize(
    ("mode", "token", "expected", "reason"),
    [
        (DgTokenMode.IF_PRESENT, None, 200, None),
        (DgTokenMode.IF_PRESENT, "someone-else", 401, "dg_token_mismatch"),
        (DgTokenMode.IF_PRESENT, DEEPGRAM_API_KEY_ID, 200, None),
        (DgTokenMode.REQUIRED, None, 401, "dg_token_missing"),
        (DgTokenMode.REQUIRED, "", 401, "dg_token_missing"),
        (DgTokenMode.REQUIRED, DEEPGRAM_API_KEY_ID, 200, None),
        (DgTokenMode.OFF, "someone-else", 200, None),
    ],
)
def test_dg_token_modes(
    callbacks: Callbacks, mode: str, token: str | None, expected: int, reason: str | None
) -> None:
    callbacks.dg_token_mode = mode
    job = callbacks.job()

    result = callbacks.deliver_as_deepgram(job, callbacks.body(job), dg_token=token)

    assert (result.status_code, result.reason) == (expected, reason)
    assert callbacks.stored(job).status is (JobStatus.COMPLETED if expected == 200 else JobStatus.PROCESSING)


def test_either_key_id_is_accepted_while_the_key_is_rotated(callbacks: Callbacks) -> None:
    callbacks.dg_token_mode = DgTokenMode.REQUIRED
    callbacks.deepgram_api_key_ids = ("old-key-id", "new-key-id")
    first, second = callbacks.job(), callbacks.job()

    old = callbacks.deliver_as_deepgram(first, callbacks.body(first), dg_token="old-key-id")
    new = callbacks.deliver_as_deepgram(second, callbacks.body(second), dg_token="new-key-id")

    assert (old.status_code, new.status_code) == (200, 200)


# --- dependency faults: 503, then a retry ends in exactly one result and one notification ------


def _faults(callbacks: Callbacks, port: str) -> Faults:
    return {
        "jobs": callbacks.jobs.faults,
        "blobs": callbacks.blobs.faults,
        "publisher": callbacks.publisher.faults,
        "secrets": callbacks.secrets.faults,
    }[port]


@pytest.mark.parametrize(
    ("port", "operation", "size", "retry_outcome"),
    [
        ("jobs", "finish", 2 * KB, "accepted"),
        ("jobs", "finish", 5 * MB, "accepted"),
        ("blobs", "put", 5 * MB, "accepted"),
        ("publisher", "publish", 2 * KB, "duplicate"),
        ("secrets", "get", 2 * KB, "accepted"),
    ],
    ids=["jobs.finish", "jobs.finish-s3", "blobs.put", "publisher.publish", "secrets.get"],
)
def test_a_dependency_fault_answers_503_and_the_retry_stores_and_notifies_once(
    callbacks: Callbacks, port: str, operation: str, size: int, retry_outcome: str
) -> None:
    dependency = {"jobs": "DynamoDB", "blobs": "S3", "publisher": "SNS", "secrets": "Secrets Manager"}[port]
    job = callbacks.job()
    body = callbacks.body(job, size=size)
    _faults(callbacks, port).fail(operation)

    failed = callbacks.deliver_as_deepgram(job, body)
    retried = callbacks.deliver_as_deepgram(job, body)
    again = callbacks.deliver_as_deepgram(job, body)

    injected = {name: _faults(callbacks, name).injected for name in ("jobs", "blobs", "publisher", "secrets")}
    assert injected == {name: [operation] if name == port else [] for name in injected}
    assert (failed.status_code, failed.outcome, failed.reason) == (503, "retry", "dependency_unavailable")
    assert failed.headers == {"Retry-After": str(CallbackTiming.DEEPGRAM_RETRY_INTERVAL_SECONDS)}
    assert failed.headers["Retry-After"] == "30"
    assert failed.body == {"error": {"code": "temporarily_unavailable", "message": "retry later"}}
    assert failed.detail is not None
    assert failed.detail.startswith(f"{dependency}: ")
    assert (retried.status_code, retried.outcome) == (200, retry_outcome)
    assert (again.status_code, again.outcome) == (200, "duplicate")
    assert callbacks.stored_body(job) == callbacks.as_stored(job, body)
    assert len(callbacks.notifications()) == 1
    assert len(callbacks.s3_keys()) == (1 if size > 2 * MB else 0)


@pytest.mark.parametrize("size", [2 * KB, 5 * MB])
def test_a_delivery_finishes_the_job_without_reading_it_first(callbacks: Callbacks, size: int) -> None:
    """One conditional write, answered with the job as written: no read before it (a round trip
    fewer on every callback), for a duplicate, a conflict and another request's result either."""
    job = callbacks.job()
    body = callbacks.body(job, size=size)
    callbacks.jobs.faults.fail("get", times=None)

    accepted = callbacks.deliver_as_deepgram(job, body)
    duplicate = callbacks.deliver_as_deepgram(job, body)
    conflict = callbacks.deliver_as_deepgram(job, callbacks.body(job, size=size, seed=7))

    assert (accepted.status_code, accepted.outcome, accepted.published) == (200, "accepted", True)
    assert (duplicate.status_code, duplicate.outcome) == (200, "duplicate")
    assert (conflict.status_code, conflict.reason) == (409, "already_finished")
    assert callbacks.jobs.faults.injected == []
    callbacks.jobs.faults.stop("get")
    assert callbacks.stored_body(job) == callbacks.as_stored(job, body)
    assert len(callbacks.notifications()) == 1
    assert len(callbacks.s3_keys()) == (1 if size > 2 * MB else 0)


def test_a_result_stored_but_unpublished_is_published_by_the_next_delivery(callbacks: Callbacks) -> None:
    job = callbacks.job()
    body = callbacks.body(job)
    callbacks.publisher.faults.fail("publish")

    assert callbacks.deliver_as_deepgram(job, body).status_code == 503
    assert callbacks.stored(job).status is JobStatus.COMPLETED
    assert callbacks.stored(job).notified_at is None
    assert callbacks.jobs.lease_of(job.job_id) == (None, None)  # given back for the retry
    assert callbacks.notifications() == []

    retried = callbacks.deliver_as_deepgram(job, body)

    assert (retried.outcome, retried.published) == ("duplicate", True)
    assert len(callbacks.notifications()) == 1
    assert callbacks.stored(job).notified_at is not None


class FunctionDied(BaseException):
    """Lambda ending the function mid-call (a timeout): nothing in the function catches it."""


class DiesOnFirstPublish(InMemoryPublisher):
    def __init__(self) -> None:
        super().__init__()
        self.died = False

    def publish(self, notification: OutgoingNotification) -> str:
        if not self.died:
            self.died = True
            raise FunctionDied
        return super().publish(notification)


def test_a_publication_lease_left_by_a_crashed_delivery_expires_before_deepgrams_retry() -> None:
    """A delivery that died after storing but before publishing holds the lease; the retry 30 s
    later must find it expired and publish."""
    callbacks = Callbacks(publisher=DiesOnFirstPublish())
    job = callbacks.job()
    body = callbacks.body(job)
    crashed_at = callbacks.clock.now

    with pytest.raises(FunctionDied):
        callbacks.deliver_as_deepgram(job, body)
    assert callbacks.stored(job).status is JobStatus.COMPLETED
    token, until = callbacks.jobs.lease_of(job.job_id)
    assert token is not None
    assert until == int(crashed_at.timestamp()) + CallbackTiming.NOTIFICATION_LEASE_SECONDS

    callbacks.clock.advance(5)
    early = callbacks.deliver_as_deepgram(job, body)
    assert (early.outcome, early.published) == ("duplicate", False)
    assert callbacks.notifications() == []  # a live lease: the first delivery may still be publishing

    callbacks.clock.advance(CallbackTiming.DEEPGRAM_RETRY_INTERVAL_SECONDS - 5)
    retried = callbacks.deliver_as_deepgram(job, body)

    assert (retried.status_code, retried.outcome, retried.published) == (200, "duplicate", True)
    assert len(callbacks.notifications()) == 1
    assert callbacks.stored(job).notified_at == isoformat(callbacks.clock.now)
    assert callbacks.jobs.lease_of(job.job_id) == (None, None)


def test_a_fault_answer_tells_an_anonymous_caller_nothing_about_the_account(callbacks: Callbacks) -> None:
    callbacks.secrets.values.clear()  # unreadable: the error names the secret's ARN

    result = callbacks.deliver(b"{}")

    assert (result.status_code, result.outcome) == (503, "retry")
    assert result.detail is not None
    assert result.detail.startswith("Secrets Manager: ")
    answer = json.dumps(result.body) + json.dumps(result.headers)
    assert "arn:" not in answer
    assert "secret" not in answer.lower()
