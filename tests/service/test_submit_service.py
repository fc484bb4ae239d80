"""`SubmitService` on the in-memory fakes: what is stored, what Deepgram is asked, what comes back.

HTTP parsing, Idempotency-Key, the real SDK's query string and the status codes are tested
through the Lambda handler in `tests/unit/test_submit.py`.
"""

from __future__ import annotations

import hashlib
from datetime import timedelta
from urllib.parse import urlsplit

import pytest

from functions.core.callback_auth import callback_secret
from functions.core.jobs import Job, JobError, JobStatus, isoformat
from functions.core.ports import AudioUpload, AudioUrl, DeepgramCall, DeepgramFailure, DependencyError
from functions.submit.logic import DeadlineExceeded
from functions.submit.types import SubmitFailure, SubmitRequest
from tests.service.submit_fixtures import (
    AUDIO_BYTES,
    AUDIO_URL,
    CALLBACK_URL,
    SIGNING_KEY,
    ObservingTranscriber,
    Submissions,
    job_id_of,
    upload_request,
    url_request,
)

UNAVAILABLE = JobError(code="service_unavailable", message="a backing service failed")


@pytest.fixture
def world() -> Submissions:
    return Submissions()


def refusal(*, ambiguous: bool = False, retry_after: str | None = None) -> DeepgramFailure:
    if ambiguous:
        return DeepgramFailure(
            http_status=502,
            code="deepgram_unavailable",
            message="Deepgram answered 503: oops",
            ambiguous=True,
            retry_after=retry_after,
        )
    return DeepgramFailure(
        http_status=400, code="deepgram_rejected", message="Invalid model: nova-99.", retry_after=retry_after
    )


# --- an accepted submission -----------------------------------------------------------------------


def test_an_accepted_job_is_processing_with_deepgrams_request_id(world: Submissions) -> None:
    submitted = world.submit(url_request(options={"model": "nova-3"}, metadata={"customer": "acme"}))

    assert submitted.failure is None
    assert submitted.replayed is False
    assert submitted.request_id_stored is True
    view = submitted.job
    assert view["status"] == "processing"
    assert view["request_id"]
    assert view["options"] == {"model": "nova-3"}
    assert view["metadata"] == {"customer": "acme"}
    assert view["source"] == {"type": "url", "url": AUDIO_URL}
    assert view["created_at"] == view["submitted_at"] == view["updated_at"] == isoformat(world.clock())
    assert view["completed_at"] is None
    assert "error" not in view


def test_the_accepted_job_is_stored_processing_with_its_request_id(world: Submissions) -> None:
    submitted = world.submit(url_request(metadata={"customer": "acme"}))

    job = world.stored(submitted.job["id"])
    assert job.status is JobStatus.PROCESSING
    assert job.request_id == submitted.job["request_id"]
    assert job.submitted_at == isoformat(world.clock())
    assert job.metadata == {"customer": "acme"}
    assert job.error is None
    assert job.submit_error_ambiguous is False


def test_the_job_expires_after_the_retention_period(world: Submissions) -> None:
    world.retention_days = 7

    job = world.stored(world.submit().job["id"])

    assert job.expires_at == int((world.clock() + timedelta(days=7)).timestamp())


def test_each_submission_makes_its_own_job(world: Submissions) -> None:
    first = world.submit()
    second = world.submit()

    assert first.job["id"] != second.job["id"]
    assert first.job["request_id"] != second.job["request_id"]
    assert len(world.transcriber.calls) == 2
    assert sorted(world.jobs.created) == sorted([first.job["id"], second.job["id"]])


def test_an_upload_is_described_by_its_type_size_and_digest(world: Submissions) -> None:
    submitted = world.submit(upload_request(AUDIO_BYTES, "audio/wav"))

    expected = {
        "type": "upload",
        "content_type": "audio/wav",
        "size_bytes": len(AUDIO_BYTES),
        "sha256": hashlib.sha256(AUDIO_BYTES).hexdigest(),
    }
    assert submitted.job["source"] == expected
    assert world.stored(submitted.job["id"]).source == expected


# --- what Deepgram is asked ------------------------------------------------------------------------


def test_the_job_is_recorded_queued_before_deepgram_is_called(world: Submissions) -> None:
    """A callback can arrive before the submission returns: it must find the job."""
    seen: list[Job | None] = []
    transcriber = ObservingTranscriber(
        inner=world.transcriber, before_answer=lambda call: seen.append(world.jobs.get(job_id_of(call)))
    )

    submitted = world.service(transcriber).submit(
        url_request(metadata={"customer": "acme"}), deadline=world.deadline()
    )

    [at_call] = seen
    assert at_call is not None
    assert at_call.job_id == submitted.job["id"]
    assert at_call.status is JobStatus.QUEUED
    assert at_call.request_id is None
    assert at_call.metadata == {"customer": "acme"}


@pytest.mark.parametrize(
    "request_",
    [url_request(), upload_request()],
    ids=["url", "upload"],
)
def test_the_callback_url_carries_the_jobs_basic_credentials(
    world: Submissions, request_: SubmitRequest
) -> None:
    job_id = world.submit(request_).job["id"]

    callback = urlsplit(world.last_call.callback_url)
    configured = urlsplit(CALLBACK_URL)
    assert (callback.scheme, callback.hostname, callback.port, callback.path) == (
        configured.scheme,
        configured.hostname,
        configured.port,
        configured.path,
    )
    assert callback.username == job_id
    assert callback.password == callback_secret(SIGNING_KEY, job_id)
    assert "_" not in world.last_call.callback_url  # Deepgram refuses callback URLs with one


def test_extra_carries_exactly_the_job_id_and_the_callback_secret(world: Submissions) -> None:
    job_id = world.submit().job["id"]

    secret = callback_secret(SIGNING_KEY, job_id)
    assert sorted(world.last_call.extra) == sorted([f"job_id:{job_id}", f"callback_secret:{secret}"])


@pytest.mark.parametrize("method", ["POST", "PUT"])
def test_the_callback_method_is_the_configured_one(world: Submissions, method: str) -> None:
    world.callback_method = method

    world.submit()

    assert world.last_call.callback_method == method


def test_the_audio_and_options_reach_deepgram_unchanged(world: Submissions) -> None:
    options = {"model": "nova-3", "smart_format": True, "keyterm": ["Deepgram", "Lambda"], "utt_split": 0.8}

    world.submit(url_request(options=options, metadata={"customer": "acme"}))
    world.submit(upload_request(AUDIO_BYTES, "audio/wav", options={"model": "nova-3"}))

    by_url, by_upload = world.transcriber.calls
    assert by_url.audio == AudioUrl(url=AUDIO_URL)
    assert by_url.options == options
    assert by_upload.audio == AudioUpload(data=AUDIO_BYTES, content_type="audio/wav")
    assert by_upload.options == {"model": "nova-3"}
    # Metadata stays with the job; Deepgram only sees the two `extra` values.
    assert all(len(call.extra) == 2 for call in (by_url, by_upload))


def test_each_job_gets_its_own_callback_secret(world: Submissions) -> None:
    world.submit()
    world.submit()

    first, second = world.transcriber.calls
    assert urlsplit(first.callback_url).password != urlsplit(second.callback_url).password


# --- Deepgram's refusals ---------------------------------------------------------------------------


@pytest.mark.parametrize("request_", [url_request(), upload_request()], ids=["url", "upload"])
def test_a_clear_refusal_fails_the_job(world: Submissions, request_: SubmitRequest) -> None:
    world.transcriber.refuse_with = refusal()
    world.clock.advance(timedelta(seconds=3))  # the job is created and failed at this moment

    submitted = world.submit(request_)

    assert submitted.failure == SubmitFailure(
        http_status=400, code="deepgram_rejected", message="Invalid model: nova-99.", ambiguous=False
    )
    assert submitted.job["status"] == "failed"
    assert submitted.job["error"] == {"code": "deepgram_rejected", "message": "Invalid model: nova-99."}
    assert submitted.job["request_id"] is None
    job = world.stored(submitted.job["id"])
    assert job.status is JobStatus.FAILED
    assert job.error == JobError(code="deepgram_rejected", message="Invalid model: nova-99.")
    assert job.submit_error_ambiguous is False
    assert job.completed_at == job.updated_at == isoformat(world.clock())
    assert not job.awaiting_result  # a late callback cannot complete it


def test_an_ambiguous_refusal_fails_the_job_but_keeps_it_open_to_a_late_callback(
    world: Submissions,
) -> None:
    world.transcriber.refuse_with = refusal(ambiguous=True, retry_after="5")

    submitted = world.submit()

    assert submitted.failure == SubmitFailure(
        http_status=502,
        code="deepgram_unavailable",
        message="Deepgram answered 503: oops",
        ambiguous=True,
        retry_after="5",
    )
    job = world.stored(submitted.job["id"])
    assert job.status is JobStatus.FAILED
    assert job.submit_error_ambiguous is True
    assert job.awaiting_result


def test_a_refusals_retry_after_is_passed_on(world: Submissions) -> None:
    world.transcriber.refuse_with = DeepgramFailure(
        http_status=429, code="deepgram_rate_limited", message="slow down", retry_after="17"
    )

    failure = world.submit().failure

    assert failure is not None
    assert (failure.http_status, failure.retry_after) == (429, "17")


def test_a_refusal_is_answered_even_when_the_job_cannot_be_marked_failed(world: Submissions) -> None:
    world.transcriber.refuse_with = refusal()
    world.jobs.faults.fail("mark_submit_failed")

    submitted = world.submit()

    assert submitted.failure is not None
    assert submitted.failure.code == "deepgram_rejected"
    assert submitted.job["status"] == "failed"
    # The stored job stays queued and expires by TTL.
    assert world.stored(submitted.job["id"]).status is JobStatus.QUEUED


# --- dependency faults -------------------------------------------------------------------------------


def test_an_unreadable_signing_key_fails_before_any_job_or_deepgram_call(world: Submissions) -> None:
    world.secrets.faults.fail("get")

    with pytest.raises(DependencyError):
        world.submit()

    assert world.jobs.created == []
    assert world.transcriber.calls == []


def test_a_failed_job_write_fails_without_calling_deepgram(world: Submissions) -> None:
    world.jobs.faults.fail("create")

    with pytest.raises(DependencyError):
        world.submit()

    assert world.jobs.created == []
    assert world.transcriber.calls == []


def test_an_unreadable_deepgram_key_fails_the_job_it_created(world: Submissions) -> None:
    """The Deepgram key is read after the job is created: the job must not stay queued forever."""
    world.transcriber.faults.fail("submit")

    with pytest.raises(DependencyError):
        world.submit()

    assert world.transcriber.calls == []
    [job] = world.jobs.all()
    assert job.status is JobStatus.FAILED
    assert job.error == UNAVAILABLE
    assert job.submit_error_ambiguous is False


def test_an_unreadable_deepgram_key_still_raises_when_the_job_cannot_be_marked_failed(
    world: Submissions,
) -> None:
    world.transcriber.faults.fail("submit")
    world.jobs.faults.fail("mark_submit_failed")

    with pytest.raises(DependencyError, match="Secrets Manager"):
        world.submit()

    [job] = world.jobs.all()
    assert job.status is JobStatus.QUEUED


def test_a_failed_request_id_write_still_answers_the_accepted_job(world: Submissions) -> None:
    """Deepgram has the job and will call back; failing now would only make the client resubmit."""
    world.jobs.faults.fail("record_submission")

    submitted = world.submit()

    assert submitted.failure is None
    assert submitted.request_id_stored is False
    assert submitted.job["status"] == "processing"
    assert submitted.job["request_id"]
    assert len(world.transcriber.calls) == 1
    job = world.stored(submitted.job["id"])
    assert job.status is JobStatus.QUEUED
    assert job.request_id is None
    assert job.awaiting_result  # the callback records the request_id


# --- the request's deadline (BUDGET: 1 s per AWS call, Deepgram's minimum 2 s) ----------------------


def test_with_too_little_time_to_start_nothing_is_stored_or_called(world: Submissions) -> None:
    world.seconds_left = world.budget.from_secrets_seconds - 0.1
    world.secrets.faults.fail("get", times=None)  # proves the signing key is not even read

    with pytest.raises(DeadlineExceeded) as raised:
        world.submit()

    assert (raised.value.status, raised.value.code) == (503, "deadline_exceeded")
    assert raised.value.retry_after
    assert world.jobs.created == []
    assert world.transcriber.calls == []


def test_a_job_created_too_late_for_deepgram_is_failed_without_calling_it(world: Submissions) -> None:
    world.seconds_left = world.budget.from_secrets_seconds
    world.jobs.after_create = lambda: setattr(world.monotonic, "now", world.monotonic.now + 2.5)

    submitted = world.submit()

    assert submitted.failure == SubmitFailure.deadline_exceeded()
    assert world.transcriber.calls == []
    job = world.stored(submitted.job["id"])
    assert job.status is JobStatus.FAILED
    assert job.error == JobError(code=submitted.failure.code, message=submitted.failure.message)
    assert job.submit_error_ambiguous is False


def test_deepgram_gets_the_deadline_less_the_time_kept_for_recording_its_answer(
    world: Submissions,
) -> None:
    world.seconds_left = 20.0

    world.submit()

    deadline = world.last_call.deadline
    assert deadline is not None
    assert deadline.remaining() == pytest.approx(20.0 - world.budget.after_deepgram_seconds)


def test_the_request_id_is_not_recorded_when_deepgram_used_up_the_time(world: Submissions) -> None:
    def slow_deepgram(call: DeepgramCall) -> None:
        assert call.deadline is not None
        world.monotonic.now = call.deadline.at + 0.5  # past Deepgram's share of the deadline

    transcriber = ObservingTranscriber(inner=world.transcriber, before_answer=slow_deepgram)
    world.jobs.faults.fail("record_submission", times=None)  # proves no write is attempted

    submitted = world.service(transcriber).submit(url_request(), deadline=world.deadline())

    assert submitted.failure is None
    assert submitted.request_id_stored is False
    assert world.jobs.faults.injected == []
    assert world.stored(submitted.job["id"]).status is JobStatus.QUEUED
