"""The JobRepository contract: the in-memory fake, DynamoDB on moto and on DynamoDB Local."""

from __future__ import annotations

import gzip
import hashlib
from collections.abc import Callable
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from functions.core.jobs import FinalState, Job, JobError, JobStatus, StoredResult, isoformat, new_job
from functions.core.ports import FinishResult, JobRepository
from tests.contract.conftest import JobsUnderTest

T0 = datetime.now(UTC).replace(microsecond=0)  # DynamoDB Local deletes items whose TTL has passed
LEASE_SECONDS = 20


def at(seconds: float) -> datetime:
    return T0 + timedelta(seconds=seconds)


def a_new_job(**options: Any) -> Job:
    """A job as `new_job` makes it, with floats, nesting and non-ASCII text in what it carries."""
    return new_job(
        source={"type": "url", "url": "https://media.example.com/ünïcode/call 1.wav"},
        options={
            "model": "nova-3",
            "smart_format": True,
            "utt_split": 0.8,
            "keyterm": ["Zoë", "naïve café", "日本語"],
            "nested": {"threshold": 1.25e-3, "levels": [1, 2.5, "three"], "none": None},
            **options,
        },
        metadata={"customer": "Zoë — 日本語 🎙", "ticket": "42"},
        retention_days=7,
        now=T0,
    )


BODY = b'{"metadata":{"request_id":"r"},"results":{"channels":[]}}' + bytes(range(256))


def inline_result(body: bytes = BODY) -> StoredResult:
    return StoredResult(
        storage="inline",
        size_bytes=len(body),
        sha256=hashlib.sha256(body).hexdigest(),
        content_encoding="gzip",
        inline_data=gzip.compress(body, mtime=0),
    )


def s3_result(job_id: str, body: bytes = BODY) -> StoredResult:
    digest = hashlib.sha256(body).hexdigest()
    return StoredResult(
        storage="s3",
        size_bytes=len(body),
        sha256=digest,
        content_encoding="gzip",
        s3_key=f"results/{job_id}/{digest}.json.gz",
    )


SUMMARY = {
    "duration_seconds": 5.25,
    "channels": 1,
    "confidence": 0.975,
    "words": 12,
    "transcript_preview": "héllo wörld — 你好",
    "detected_language": "en",
}
DEEPGRAM_ERROR = JobError(code="deepgram_error", message="Deepgram could not decode the audio: «bad»")
SUBMIT_ERROR = JobError(code="deepgram_timeout", message="Deepgram did not answer in time")


def finished(
    job: Job,
    *,
    status: JobStatus = JobStatus.COMPLETED,
    request_id: str | None = None,
    result: StoredResult | None = None,
    at_seconds: float = 60,
) -> FinalState:
    """`job`'s final state as a callback writes it: a success with a summary, or a failure with an error."""
    completed = status is JobStatus.COMPLETED
    return FinalState(
        job_id=job.job_id,
        status=status,
        completed_at=isoformat(at(at_seconds)),
        request_id=request_id,
        result=result or inline_result(),
        summary=dict(SUMMARY) if completed else None,
        error=None if completed else DEEPGRAM_ERROR,
    )


def expected_after_finish(stored: Job, finishing: FinalState) -> Job:
    """What the port promises `get` returns once `finish(finishing)` applied to `stored`."""
    return replace(
        stored,
        status=finishing.status,
        result=finishing.result,
        summary=finishing.summary,
        error=finishing.error,
        request_id=stored.request_id or finishing.request_id,
        updated_at=finishing.completed_at,
        completed_at=finishing.completed_at,
        submit_error_ambiguous=finishing.submit_error_ambiguous,
        notified_at=None,
    )


def finish(
    repo: JobRepository, final: FinalState, token: str = "lease-1", *, until: float = LEASE_SECONDS
) -> FinishResult:
    return repo.finish(final, lease_token=token, lease_until=at(until))


def stored(repo: JobRepository, job_id: str) -> Job:
    job = repo.get(job_id)
    assert job is not None, f"job {job_id} is not stored"
    return job


def created(repo: JobRepository, **options: Any) -> Job:
    job = a_new_job(**options)
    repo.create(job)
    return job


def submitted(repo: JobRepository, request_id: str = "request-1") -> Job:
    job = created(repo)
    repo.record_submission(job.job_id, request_id, at(1))
    return stored(repo, job.job_id)


def with_result_and_no_lease(repo: JobRepository) -> Job:
    """A finished job whose finishing write's lease was released: nobody holds the lease."""
    job = submitted(repo)
    assert finish(repo, finished(job, request_id=job.request_id), "finisher").applied
    repo.release_notification(job.job_id, "finisher")
    return stored(repo, job.job_id)


# --- create and get ---------------------------------------------------------------------------------


def test_create_then_get_round_trips_every_field_of_a_new_job(jobs: JobsUnderTest) -> None:
    job = a_new_job()

    jobs.repo.create(job)

    assert jobs.repo.get(job.job_id) == job


def test_create_stores_a_new_job_not_later_state_passed_along(jobs: JobsUnderTest) -> None:
    new = a_new_job()
    later = replace(
        new,
        status=JobStatus.COMPLETED,
        request_id="request-1",
        result=inline_result(),
        completed_at=isoformat(at(60)),
        submitted_at=isoformat(at(1)),
        submit_error_ambiguous=True,
        notified_at=isoformat(at(61)),
    )

    jobs.repo.create(later)

    assert jobs.repo.get(new.job_id) == replace(new, status=later.status)


def _types(value: Any) -> Any:
    """`value` with every number replaced by its type: 2.0 and 2 differ here, unlike under ==."""
    if isinstance(value, dict):
        return {name: _types(inner) for name, inner in value.items()}
    if isinstance(value, list):
        return [_types(inner) for inner in value]
    return type(value) if isinstance(value, int | float) else value


def test_options_keep_the_type_of_their_numbers(jobs: JobsUnderTest) -> None:
    job = created(jobs.repo, utt_split=1.0, count=3, ratio=0.5, nested_float=[2.0, {"x": 0.0}])

    back = stored(jobs.repo, job.job_id)

    assert _types(back.options) == _types(job.options)
    assert back.options["utt_split"] == 1.0
    assert isinstance(back.options["utt_split"], float)


def test_a_summary_keeps_the_type_of_its_numbers(jobs: JobsUnderTest) -> None:
    job = submitted(jobs.repo)
    summary = {**SUMMARY, "duration_seconds": 5.0, "confidence": 1.0}
    assert finish(jobs.repo, replace(finished(job), summary=summary)).applied

    back = stored(jobs.repo, job.job_id)

    assert back.summary is not None
    assert _types(back.summary) == _types(summary)


def test_create_twice_is_not_an_error_and_does_not_overwrite(jobs: JobsUnderTest) -> None:
    job = created(jobs.repo)
    jobs.repo.record_submission(job.job_id, "request-1", at(1))
    before = stored(jobs.repo, job.job_id)

    jobs.repo.create(job)
    jobs.repo.create(replace(job, metadata={"other": "value"}))

    assert jobs.repo.get(job.job_id) == before


def test_get_of_a_missing_job_is_none(jobs: JobsUnderTest) -> None:
    assert jobs.repo.get(a_new_job().job_id) is None


# --- record_submission and mark_submit_failed -------------------------------------------------------


def test_record_submission_moves_a_queued_job_to_processing(jobs: JobsUnderTest) -> None:
    job = created(jobs.repo)

    jobs.repo.record_submission(job.job_id, "request-1", at(1))

    stamp = isoformat(at(1))
    assert jobs.repo.get(job.job_id) == replace(
        job, status=JobStatus.PROCESSING, request_id="request-1", submitted_at=stamp, updated_at=stamp
    )


def test_record_submission_after_an_early_finish_keeps_the_outcome_and_adds_the_request_id(
    jobs: JobsUnderTest,
) -> None:
    job = created(jobs.repo)
    assert finish(jobs.repo, finished(job)).applied  # the callback beat the submit function's write
    done = stored(jobs.repo, job.job_id)

    jobs.repo.record_submission(job.job_id, "request-1", at(2))

    assert jobs.repo.get(job.job_id) == replace(done, request_id="request-1", submitted_at=isoformat(at(2)))


def test_record_submission_after_an_early_finish_keeps_the_request_id_it_stored(jobs: JobsUnderTest) -> None:
    job = created(jobs.repo)
    assert finish(jobs.repo, finished(job, request_id="request-1")).applied
    done = stored(jobs.repo, job.job_id)

    jobs.repo.record_submission(job.job_id, "request-2", at(2))  # a retried POST's second Deepgram job

    assert jobs.repo.get(job.job_id) == replace(done, submitted_at=isoformat(at(2)))


@pytest.mark.parametrize("ambiguous", [True, False], ids=["ambiguous", "definite"])
def test_mark_submit_failed_fails_a_queued_job(jobs: JobsUnderTest, ambiguous: bool) -> None:
    job = created(jobs.repo)

    jobs.repo.mark_submit_failed(job.job_id, SUBMIT_ERROR, ambiguous=ambiguous, at=at(3))

    stamp = isoformat(at(3))
    assert jobs.repo.get(job.job_id) == replace(
        job,
        status=JobStatus.FAILED,
        error=SUBMIT_ERROR,
        submit_error_ambiguous=ambiguous,
        updated_at=stamp,
        completed_at=stamp,
    )


def test_mark_submit_failed_leaves_a_job_that_is_not_queued_alone(jobs: JobsUnderTest) -> None:
    processing = submitted(jobs.repo)
    completed = created(jobs.repo)
    assert finish(jobs.repo, finished(completed)).applied
    before = [stored(jobs.repo, job.job_id) for job in (processing, completed)]

    for job in (processing, completed):
        jobs.repo.mark_submit_failed(job.job_id, SUBMIT_ERROR, ambiguous=True, at=at(3))

    assert [jobs.repo.get(job.job_id) for job in (processing, completed)] == before


# --- finish -----------------------------------------------------------------------------------------


def _queued(repo: JobRepository) -> Job:
    return created(repo)


def _failed_ambiguously(repo: JobRepository) -> Job:
    job = created(repo)
    repo.mark_submit_failed(job.job_id, SUBMIT_ERROR, ambiguous=True, at=at(3))
    return stored(repo, job.job_id)


AWAITING: dict[str, Callable[[JobRepository], Job]] = {
    "queued": _queued,
    "processing": submitted,
    "failed-ambiguously-without-result": _failed_ambiguously,
}


@pytest.mark.parametrize("status", [JobStatus.COMPLETED, JobStatus.FAILED])
@pytest.mark.parametrize("state", list(AWAITING))
def test_finish_applies_while_the_job_awaits_its_result(
    jobs: JobsUnderTest, state: str, status: JobStatus
) -> None:
    before = AWAITING[state](jobs.repo)
    assert before.awaiting_result  # the domain's rule and the write's condition state one rule
    finishing = finished(before, status=status, request_id=before.request_id)

    outcome = finish(jobs.repo, finishing)

    # Answered with the job as written: what its notification is built from, without a read.
    assert outcome == FinishResult(applied=True, current=expected_after_finish(before, finishing))
    assert jobs.repo.get(before.job_id) == outcome.current


def _completed(jobs: JobsUnderTest) -> Job:
    job = submitted(jobs.repo)
    assert finish(jobs.repo, finished(job, request_id=job.request_id), "first").applied
    return job


def _failed_definitely(jobs: JobsUnderTest) -> Job:
    job = created(jobs.repo)
    jobs.repo.mark_submit_failed(job.job_id, SUBMIT_ERROR, ambiguous=False, at=at(3))
    return job


def _failed_ambiguously_with_result(jobs: JobsUnderTest) -> Job:
    """Not reachable through the port (finishing clears the flag), so seeded: still final."""
    job = replace(
        a_new_job(),
        status=JobStatus.FAILED,
        error=SUBMIT_ERROR,
        submit_error_ambiguous=True,
        result=inline_result(),
        completed_at=isoformat(at(3)),
    )
    jobs.seed(job)
    return job


FINAL: dict[str, Callable[[JobsUnderTest], Job]] = {
    "completed": _completed,
    "failed-definitely": _failed_definitely,
    "failed-ambiguously-with-result": _failed_ambiguously_with_result,
}


@pytest.mark.parametrize("state", list(FINAL))
def test_finish_is_refused_once_the_job_has_its_outcome(jobs: JobsUnderTest, state: str) -> None:
    job = FINAL[state](jobs)
    before = stored(jobs.repo, job.job_id)
    assert not before.awaiting_result

    outcome = finish(jobs.repo, finished(before, request_id=before.request_id, at_seconds=90), "second")

    assert outcome == FinishResult(applied=False, current=before)
    assert jobs.repo.get(job.job_id) == before


def test_finish_is_refused_for_another_request_id(jobs: JobsUnderTest) -> None:
    before = submitted(jobs.repo, "request-1")

    outcome = finish(jobs.repo, finished(before, request_id="request-2"))

    assert outcome == FinishResult(applied=False, current=before)
    assert jobs.repo.get(before.job_id) == before


def test_finish_accepts_a_job_with_no_request_id_yet_and_stores_it(jobs: JobsUnderTest) -> None:
    before = created(jobs.repo)
    finishing = finished(before, request_id="request-1")

    assert finish(jobs.repo, finishing).applied

    after = stored(jobs.repo, before.job_id)
    assert after.request_id == "request-1"
    assert after == expected_after_finish(before, finishing)


def test_finish_without_a_request_id_keeps_the_stored_one(jobs: JobsUnderTest) -> None:
    before = submitted(jobs.repo, "request-1")

    assert finish(jobs.repo, finished(before, request_id=None)).applied

    assert stored(jobs.repo, before.job_id).request_id == "request-1"


def test_a_retried_finish_with_the_same_lease_token_reports_applied(jobs: JobsUnderTest) -> None:
    before = submitted(jobs.repo)
    finishing = finished(before, request_id=before.request_id)
    assert finish(jobs.repo, finishing, "token-1").applied
    after = stored(jobs.repo, before.job_id)

    # The same write again, as a retry whose first answer was lost would send it.
    assert finish(jobs.repo, finishing, "token-1") == FinishResult(applied=True, current=after)
    # Another delivery's write (another token) is refused and sees the stored job.
    assert finish(jobs.repo, finishing, "token-2") == FinishResult(applied=False, current=after)
    assert jobs.repo.get(before.job_id) == after


def test_finish_of_a_missing_job_is_not_applied(jobs: JobsUnderTest) -> None:
    assert finish(jobs.repo, finished(a_new_job())) == FinishResult(applied=False, current=None)
    assert jobs.repo.get(a_new_job().job_id) is None


def test_a_final_state_is_completed_with_a_result_or_failed() -> None:
    job = a_new_job()

    with pytest.raises(ValueError, match="completed with a result, or failed"):
        replace(finished(job), result=None)
    for status in (JobStatus.QUEUED, JobStatus.PROCESSING, JobStatus.DELETED):
        with pytest.raises(ValueError, match="completed with a result, or failed"):
            finished(job, status=status)
    assert finished(job, status=JobStatus.FAILED).status is JobStatus.FAILED


@pytest.mark.parametrize("storage", ["inline", "s3"])
def test_the_result_descriptor_and_inline_bytes_round_trip(jobs: JobsUnderTest, storage: str) -> None:
    before = submitted(jobs.repo)
    result = inline_result() if storage == "inline" else s3_result(before.job_id)

    assert finish(jobs.repo, finished(before, result=result)).applied

    back = stored(jobs.repo, before.job_id).result
    assert back == result
    if storage == "inline":
        assert back is not None
        assert isinstance(back.inline_data, bytes)
        assert gzip.decompress(back.inline_data) == BODY


def test_finishing_a_failed_submission_as_completed_sets_the_summary_and_removes_the_error(
    jobs: JobsUnderTest,
) -> None:
    before = _failed_ambiguously(jobs.repo)
    assert before.error == SUBMIT_ERROR

    assert finish(jobs.repo, finished(before, status=JobStatus.COMPLETED)).applied

    after = stored(jobs.repo, before.job_id)
    assert (after.status, after.summary, after.error) == (JobStatus.COMPLETED, SUMMARY, None)
    assert after.submit_error_ambiguous is False


def test_finishing_as_failed_sets_the_error_and_no_summary(jobs: JobsUnderTest) -> None:
    before = submitted(jobs.repo)

    assert finish(jobs.repo, finished(before, status=JobStatus.FAILED)).applied

    after = stored(jobs.repo, before.job_id)
    assert (after.status, after.summary, after.error) == (JobStatus.FAILED, None, DEEPGRAM_ERROR)


# --- the notification lease -------------------------------------------------------------------------


def test_a_claim_succeeds_once_and_excludes_other_tokens_while_the_lease_lives(jobs: JobsUnderTest) -> None:
    job = with_result_and_no_lease(jobs.repo)

    assert jobs.repo.claim_notification(job.job_id, "a", now=at(100), until=at(120))
    assert not jobs.repo.claim_notification(job.job_id, "b", now=at(101), until=at(121))
    assert not jobs.repo.claim_notification(job.job_id, "b", now=at(120), until=at(140))  # not yet past


def test_a_claim_succeeds_for_another_token_once_the_lease_has_run_out(jobs: JobsUnderTest) -> None:
    job = with_result_and_no_lease(jobs.repo)
    assert jobs.repo.claim_notification(job.job_id, "a", now=at(100), until=at(120))

    assert jobs.repo.claim_notification(job.job_id, "b", now=at(121), until=at(141))
    assert not jobs.repo.claim_notification(job.job_id, "a", now=at(122), until=at(142))


def test_a_claim_with_the_same_token_again_succeeds(jobs: JobsUnderTest) -> None:
    job = with_result_and_no_lease(jobs.repo)
    assert jobs.repo.claim_notification(job.job_id, "a", now=at(100), until=at(120))

    assert jobs.repo.claim_notification(job.job_id, "a", now=at(101), until=at(121))


def test_the_finishing_write_takes_the_lease(jobs: JobsUnderTest) -> None:
    job = submitted(jobs.repo)
    assert finish(jobs.repo, finished(job), "finisher", until=LEASE_SECONDS).applied

    assert jobs.repo.claim_notification(job.job_id, "finisher", now=at(1), until=at(21))
    assert not jobs.repo.claim_notification(job.job_id, "other", now=at(5), until=at(25))
    assert jobs.repo.claim_notification(job.job_id, "other", now=at(LEASE_SECONDS + 1), until=at(41))


def test_no_claim_on_a_job_without_result_or_a_missing_job(jobs: JobsUnderTest) -> None:
    job = submitted(jobs.repo)

    assert not jobs.repo.claim_notification(job.job_id, "a", now=at(100), until=at(120))
    assert not jobs.repo.claim_notification(a_new_job().job_id, "a", now=at(100), until=at(120))
    assert jobs.repo.get(job.job_id) == job


def test_mark_notified_sets_notified_at_and_frees_the_lease(jobs: JobsUnderTest) -> None:
    job = with_result_and_no_lease(jobs.repo)
    assert jobs.repo.claim_notification(job.job_id, "a", now=at(100), until=at(120))

    jobs.repo.mark_notified(job.job_id, "message-1", at(101))

    assert jobs.repo.get(job.job_id) == replace(job, notified_at=isoformat(at(101)))
    # The lease is gone: its token no longer holds it (a held lease would answer True).
    assert not jobs.repo.claim_notification(job.job_id, "a", now=at(102), until=at(122))


def test_no_claim_once_notified_and_a_second_mark_changes_nothing(jobs: JobsUnderTest) -> None:
    job = with_result_and_no_lease(jobs.repo)
    assert jobs.repo.claim_notification(job.job_id, "a", now=at(100), until=at(120))
    jobs.repo.mark_notified(job.job_id, "message-1", at(101))
    notified = stored(jobs.repo, job.job_id)

    assert not jobs.repo.claim_notification(job.job_id, "b", now=at(1000), until=at(1020))
    jobs.repo.mark_notified(job.job_id, "message-2", at(102))

    assert jobs.repo.get(job.job_id) == notified


def test_release_notification_frees_the_lease_only_for_its_token(jobs: JobsUnderTest) -> None:
    job = with_result_and_no_lease(jobs.repo)
    assert jobs.repo.claim_notification(job.job_id, "a", now=at(100), until=at(120))

    jobs.repo.release_notification(job.job_id, "b")
    assert not jobs.repo.claim_notification(job.job_id, "c", now=at(101), until=at(121))

    jobs.repo.release_notification(job.job_id, "a")
    assert jobs.repo.claim_notification(job.job_id, "c", now=at(102), until=at(122))
    assert jobs.repo.get(job.job_id) == job


# --- a missing job ----------------------------------------------------------------------------------

WRITES: dict[str, Callable[[JobRepository, str], object]] = {
    "record_submission": lambda repo, job_id: repo.record_submission(job_id, "request-1", at(1)),
    "mark_submit_failed": lambda repo, job_id: repo.mark_submit_failed(
        job_id, SUBMIT_ERROR, ambiguous=True, at=at(1)
    ),
    "claim_notification": lambda repo, job_id: repo.claim_notification(job_id, "a", now=at(1), until=at(21)),
    "mark_notified": lambda repo, job_id: repo.mark_notified(job_id, "message-1", at(1)),
    "release_notification": lambda repo, job_id: repo.release_notification(job_id, "a"),
}


@pytest.mark.parametrize("operation", list(WRITES))
def test_a_write_to_a_missing_job_creates_nothing(jobs: JobsUnderTest, operation: str) -> None:
    job_id = a_new_job().job_id

    WRITES[operation](jobs.repo, job_id)

    assert jobs.repo.get(job_id) is None
