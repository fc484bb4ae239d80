"""The JobRepository contract, continued: what the reconciler and the management API rely on.

The attention index (`due_for_attention`), giving a job up without a result, resubmission,
deletion (a tombstone) and listing, on the in-memory fake, DynamoDB on moto and DynamoDB Local.

Cases that read the attention index or list jobs see every job in their table, so they run on a
table of their own (`fresh_jobs`); the others share the suite's table (`jobs`, see conftest.py).
"""

from __future__ import annotations

import base64
import json
import random
from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from functions.core.adapters.dynamodb import DynamoJobRepository
from functions.core.adapters.memory import InMemoryJobRepository
from functions.core.jobs import Attempt, Delivery, FinalState, Job, JobError, JobStatus, isoformat, new_job
from functions.core.ports import InvalidCursor, JobRepository
from local.aws_resources import create_jobs_table
from tests.contract.conftest import (
    DYNAMODB_LOCAL,
    DYNAMODB_MOTO,
    MEMORY,
    JobsUnderTest,
    MotoAccount,
)
from tests.contract.test_job_repository import (
    LEASE_SECONDS,
    T0,
    a_new_job,
    at,
    finish,
    finished,
    inline_result,
    stored,
    submitted,
)
from tests.dynamodb_local import client_for, unique_table_name

DEADLINE = timedelta(minutes=30)
FAR_FUTURE = datetime(9999, 1, 1, tzinfo=UTC)
GIVE_UP = JobError(code="callback_not_received", message="no result from Deepgram by the deadline")
ALL = 1000  # a limit no case reaches


@pytest.fixture(params=[MEMORY, DYNAMODB_MOTO, DYNAMODB_LOCAL])
def fresh_jobs(request: pytest.FixtureRequest) -> Iterator[JobsUnderTest]:
    """Like `jobs`, on a table of this case's own (the index and the listing see only its jobs)."""
    implementation: str = request.param
    if implementation == MEMORY:
        memory = InMemoryJobRepository()
        yield JobsUnderTest(
            implementation, request.node, repo=memory, fail=memory.faults.fail, seed=lambda _: None
        )
        return
    if implementation == DYNAMODB_MOTO:
        account: MotoAccount = request.getfixturevalue("moto_account")
        dynamodb = account.dynamodb
    else:
        dynamodb = client_for(request.getfixturevalue("dynamodb_local"))
    table = unique_table_name("lifecycle")
    create_jobs_table(dynamodb, table)
    try:
        yield JobsUnderTest(
            implementation,
            request.node,
            repo=DynamoJobRepository(dynamodb, table),
            fail=lambda _: None,
            seed=lambda _: None,
        )
    finally:
        dynamodb.delete_table(TableName=table)


def ids(jobs: list[Job]) -> list[str]:
    return [job.job_id for job in jobs]


def awaiting(repo: JobRepository, now: datetime, limit: int = ALL) -> list[str]:
    return ids(repo.due_for_attention("awaiting", now=now, limit=limit))


def owed(repo: JobRepository, now: datetime, limit: int = ALL) -> list[str]:
    return ids(repo.due_for_attention("notify", now=now, limit=limit))


def awaiting_job(repo: JobRepository, *, due_in: timedelta = DEADLINE, **fields: Any) -> Job:
    """A queued job created with its result due `due_in` after T0."""
    job = replace(a_new_job(), **fields) if fields else a_new_job()
    job = replace(job, result_due_at=int((T0 + due_in).timestamp()))
    repo.create(job)
    return stored(repo, job.job_id)


def processing(repo: JobRepository, request_id: str = "request-1", *, due: datetime | None = None) -> Job:
    """A job Deepgram accepted at T0+1 s, its result due `due` (default: T0 + the deadline)."""
    job = a_new_job()
    repo.create(job)
    repo.record_submission(job.job_id, request_id, at(1), result_due_at=due or T0 + DEADLINE)
    return stored(repo, job.job_id)


def given_up(job: Job, *, seconds: float = 1800, ambiguous: bool = True) -> FinalState:
    """`job`'s final state as the reconciler writes it: no result, an error, ambiguous (a late
    result may come)."""
    return FinalState(
        job_id=job.job_id,
        status=JobStatus.FAILED,
        completed_at=isoformat(at(seconds)),
        request_id=job.request_id,
        error=GIVE_UP,
        submit_error_ambiguous=ambiguous,
    )


# --- due_for_attention: awaiting ---------------------------------------------------------------------


def test_a_job_created_with_a_due_time_is_awaiting_once_due_and_not_before(fresh_jobs: JobsUnderTest) -> None:
    repo = fresh_jobs.repo
    job = awaiting_job(repo)
    due = T0 + DEADLINE

    assert awaiting(repo, due - timedelta(seconds=1)) == []
    found = repo.due_for_attention("awaiting", now=due, limit=ALL)
    assert ids(found) == [job.job_id]
    assert found[0] == job
    assert found[0].result_due_at == int(due.timestamp())
    assert owed(repo, FAR_FUTURE) == []


def test_a_job_without_a_due_time_never_needs_attention(fresh_jobs: JobsUnderTest) -> None:
    repo = fresh_jobs.repo
    repo.create(a_new_job())

    assert awaiting(repo, FAR_FUTURE) == []
    assert owed(repo, FAR_FUTURE) == []


def test_record_submission_sets_the_due_time(fresh_jobs: JobsUnderTest) -> None:
    repo = fresh_jobs.repo
    due = T0 + timedelta(minutes=45)
    job = processing(repo, due=due)

    assert job.result_due_at == int(due.timestamp())
    assert awaiting(repo, due - timedelta(seconds=1)) == []
    assert awaiting(repo, due) == [job.job_id]


def test_record_submission_moves_the_due_time_of_a_job_created_with_one(fresh_jobs: JobsUnderTest) -> None:
    repo = fresh_jobs.repo
    job = awaiting_job(repo, due_in=timedelta(minutes=10))
    later = T0 + timedelta(minutes=40)

    repo.record_submission(job.job_id, "request-1", at(5), result_due_at=later)

    assert awaiting(repo, T0 + timedelta(minutes=39)) == []
    assert awaiting(repo, later) == [job.job_id]


def test_finishing_moves_a_job_from_awaiting_to_owed_until_notified(fresh_jobs: JobsUnderTest) -> None:
    repo = fresh_jobs.repo
    job = processing(repo)
    lease_until = 100

    assert finish(repo, finished(job, request_id="request-1"), "finisher", until=lease_until).applied

    assert awaiting(repo, FAR_FUTURE) == []
    assert owed(repo, at(lease_until - 1)) == []  # the finisher holds the lease: not due yet
    assert owed(repo, at(lease_until)) == [job.job_id]
    assert repo.get(job.job_id) == repo.due_for_attention("notify", now=FAR_FUTURE, limit=1)[0]

    repo.mark_notified(job.job_id, "message-1", at(lease_until + 1))

    assert owed(repo, FAR_FUTURE) == []
    assert awaiting(repo, FAR_FUTURE) == []


def test_a_failed_submission_is_owed_a_notification_at_once(fresh_jobs: JobsUnderTest) -> None:
    repo = fresh_jobs.repo
    job = awaiting_job(repo)
    error = JobError(code="deepgram_timeout", message="Deepgram did not answer in time")

    repo.mark_submit_failed(job.job_id, error, ambiguous=True, at=at(3))

    assert owed(repo, at(2)) == []
    assert owed(repo, at(3)) == [job.job_id]
    assert awaiting(repo, FAR_FUTURE) == []
    repo.mark_notified(job.job_id, "message-1", at(4))
    assert owed(repo, FAR_FUTURE) == []


def test_a_claimed_lease_makes_the_job_due_again_when_it_runs_out(fresh_jobs: JobsUnderTest) -> None:
    repo = fresh_jobs.repo
    job = processing(repo)
    assert finish(repo, finished(job, request_id="request-1"), "finisher", until=20).applied
    repo.release_notification(job.job_id, "finisher")  # the finisher could not publish
    assert owed(repo, at(100)) == [job.job_id]

    assert repo.claim_notification(job.job_id, "reconciler", now=at(100), until=at(120))

    assert owed(repo, at(119)) == []  # the claimant publishes meanwhile
    assert owed(repo, at(120)) == [job.job_id]  # it died: the job is due again
    assert repo.claim_notification(job.job_id, "next", now=at(121), until=at(141))
    assert owed(repo, at(140)) == []


def test_an_expired_lease_is_due_in_the_fake_as_time_passing_would_make_it(fresh_jobs: JobsUnderTest) -> None:
    """`InMemoryJobRepository.expire_lease` (a test helper) does what time passing does to the table."""
    repo = fresh_jobs.repo
    job = processing(repo)
    assert finish(repo, finished(job, request_id="request-1"), "crashed", until=LEASE_SECONDS).applied
    now = at(1)
    assert owed(repo, now) == []

    if isinstance(repo, InMemoryJobRepository):
        repo.expire_lease(job.job_id)
    else:
        now = at(LEASE_SECONDS + 1)

    assert owed(repo, now) == [job.job_id]
    assert repo.claim_notification(job.job_id, "reconciler", now=now, until=now + timedelta(seconds=20))


def test_awaiting_jobs_come_most_overdue_first(fresh_jobs: JobsUnderTest) -> None:
    repo = fresh_jobs.repo
    offsets = list(range(0, 600, 60))
    random.Random(7).shuffle(offsets)
    made = {seconds: processing(repo, f"request-{seconds}", due=at(seconds)) for seconds in offsets}

    assert awaiting(repo, at(600)) == [made[seconds].job_id for seconds in sorted(offsets)]
    assert awaiting(repo, at(600), limit=3) == [made[seconds].job_id for seconds in sorted(offsets)[:3]]
    assert awaiting(repo, at(150)) == [made[0].job_id, made[60].job_id, made[120].job_id]


def test_owed_notifications_come_most_overdue_first(fresh_jobs: JobsUnderTest) -> None:
    repo = fresh_jobs.repo
    offsets = list(range(20, 620, 60))
    random.Random(11).shuffle(offsets)
    made = {}
    for seconds in offsets:
        job = processing(repo, f"request-{seconds}")
        assert finish(repo, finished(job, request_id=job.request_id), "finisher", until=seconds).applied
        made[seconds] = job

    assert owed(repo, at(620)) == [made[seconds].job_id for seconds in sorted(offsets)]
    assert owed(repo, at(620), limit=4) == [made[seconds].job_id for seconds in sorted(offsets)[:4]]


def test_the_limit_bounds_each_kind_on_its_own(fresh_jobs: JobsUnderTest) -> None:
    repo = fresh_jobs.repo
    overdue = [processing(repo, f"r{n}", due=at(n)) for n in range(5)]
    for n in range(3):
        job = processing(repo, f"f{n}")
        assert finish(repo, finished(job, request_id=job.request_id), "t", until=n).applied

    assert awaiting(repo, at(10), limit=2) == ids(overdue[:2])
    assert len(owed(repo, at(10), limit=2)) == 2
    assert len(owed(repo, at(10), limit=ALL)) == 3


# --- giving a job up without a result ------------------------------------------------------------------


def test_a_give_up_fails_the_job_without_a_result_and_owes_a_notification(fresh_jobs: JobsUnderTest) -> None:
    repo = fresh_jobs.repo
    job = processing(repo)

    assert repo.finish(given_up(job), lease_token="reconciler", lease_until=at(1820)).applied

    failed = stored(repo, job.job_id)
    assert failed.status is JobStatus.FAILED
    assert failed.error == GIVE_UP
    assert failed.result is None
    assert failed.submit_error_ambiguous
    assert failed.awaiting_result  # a late result may still complete it
    assert failed.completed_at == isoformat(at(1800))
    assert awaiting(repo, FAR_FUTURE) == []
    assert owed(repo, at(1819)) == []
    assert owed(repo, at(1820)) == [job.job_id]


def test_a_late_result_after_a_give_up_completes_the_job_and_owes_a_new_notification(
    fresh_jobs: JobsUnderTest,
) -> None:
    repo = fresh_jobs.repo
    job = processing(repo)
    assert repo.finish(given_up(job), lease_token="reconciler", lease_until=at(1820)).applied
    repo.mark_notified(job.job_id, "failed-message", at(1801))
    assert owed(repo, FAR_FUTURE) == []

    late = finished(job, request_id="request-1", at_seconds=2000)
    assert repo.finish(late, lease_token="callback", lease_until=at(2020)).applied

    completed = stored(repo, job.job_id)
    assert completed.status is JobStatus.COMPLETED
    assert completed.result == inline_result()
    assert completed.error is None
    assert completed.notified_at is None
    assert not completed.awaiting_result
    assert owed(repo, at(2019)) == []
    assert owed(repo, at(2020)) == [job.job_id]
    # Completed: a second late delivery cannot change it again.
    assert not repo.finish(late, lease_token="other", lease_until=at(2100)).applied


def test_a_late_result_of_another_request_is_refused_after_a_give_up(jobs: JobsUnderTest) -> None:
    job = submitted(jobs.repo)
    assert jobs.repo.finish(given_up(job), lease_token="reconciler", lease_until=at(1820)).applied

    outcome = jobs.repo.finish(finished(job, request_id="request-9"), lease_token="x", lease_until=at(2020))

    assert not outcome.applied
    assert outcome.current == stored(jobs.repo, job.job_id)


def test_an_unambiguous_give_up_refuses_a_late_result(jobs: JobsUnderTest) -> None:
    job = submitted(jobs.repo)
    assert jobs.repo.finish(given_up(job, ambiguous=False), lease_token="r", lease_until=at(1820)).applied

    assert not stored(jobs.repo, job.job_id).awaiting_result
    assert not finish(jobs.repo, finished(job, request_id="request-1"), "callback").applied


# --- record_resubmission ---------------------------------------------------------------------------


def test_record_resubmission_makes_the_new_request_current_and_the_old_one_an_attempt(
    fresh_jobs: JobsUnderTest,
) -> None:
    repo = fresh_jobs.repo
    job = processing(repo)
    new_due = at(3700)

    assert repo.record_resubmission(
        job,
        request_id="request-2",
        at=at(1800),
        result_due_at=new_due,
        delivery=Delivery.S3,
        outcome="result_too_large",
    )

    again = stored(repo, job.job_id)
    assert again == replace(
        job,
        status=JobStatus.PROCESSING,
        request_id="request-2",
        submitted_at=isoformat(at(1800)),
        updated_at=isoformat(at(1800)),
        delivery=Delivery.S3,
        result_due_at=int(new_due.timestamp()),
        attempts=(
            Attempt(
                request_id="request-1",
                submitted_at=isoformat(at(1)),
                delivery=Delivery.CALLBACK.value,
                outcome="result_too_large",
            ),
        ),
    )
    assert awaiting(repo, at(3699)) == []
    assert awaiting(repo, new_due) == [job.job_id]


@pytest.mark.parametrize("request_id", ["request-1", "request-2"])
def test_a_resubmitted_job_accepts_the_result_of_either_request(jobs: JobsUnderTest, request_id: str) -> None:
    job = submitted(jobs.repo)
    assert jobs.repo.record_resubmission(
        job,
        request_id="request-2",
        at=at(1800),
        result_due_at=at(3600),
        delivery=Delivery.CALLBACK,
        outcome="o",
    )

    assert finish(jobs.repo, finished(job, request_id=request_id), "callback").applied
    done = stored(jobs.repo, job.job_id)
    assert done.status is JobStatus.COMPLETED
    assert done.request_id == "request-2"  # the current request stays current
    assert len(done.attempts) == 1


def test_a_resubmitted_job_refuses_a_result_of_a_request_it_never_made(jobs: JobsUnderTest) -> None:
    job = submitted(jobs.repo)
    assert jobs.repo.record_resubmission(
        job,
        request_id="request-2",
        at=at(1800),
        result_due_at=at(3600),
        delivery=Delivery.CALLBACK,
        outcome="o",
    )

    assert not finish(jobs.repo, finished(job, request_id="request-3"), "callback").applied


def test_record_resubmission_is_refused_once_the_job_has_its_result(jobs: JobsUnderTest) -> None:
    job = submitted(jobs.repo)
    assert finish(jobs.repo, finished(job, request_id="request-1"), "callback").applied
    done = stored(jobs.repo, job.job_id)

    assert not jobs.repo.record_resubmission(
        job, request_id="request-2", at=at(1800), result_due_at=at(3600), delivery=Delivery.S3, outcome="o"
    )
    assert stored(jobs.repo, job.job_id) == done


def test_record_resubmission_is_refused_for_a_job_resubmitted_meanwhile(jobs: JobsUnderTest) -> None:
    job = submitted(jobs.repo)
    assert jobs.repo.record_resubmission(
        job, request_id="request-2", at=at(1800), result_due_at=at(3600), delivery=Delivery.S3, outcome="o"
    )
    current = stored(jobs.repo, job.job_id)

    assert not jobs.repo.record_resubmission(
        job, request_id="request-3", at=at(1801), result_due_at=at(3601), delivery=Delivery.S3, outcome="o"
    )
    assert stored(jobs.repo, job.job_id) == current


def test_record_resubmission_of_a_missing_job_creates_nothing(jobs: JobsUnderTest) -> None:
    job = a_new_job()

    assert not jobs.repo.record_resubmission(
        job, request_id="request-2", at=at(1), result_due_at=at(2), delivery=Delivery.S3, outcome="o"
    )
    assert jobs.repo.get(job.job_id) is None


# --- delete: a tombstone -------------------------------------------------------------------------------


def test_delete_leaves_a_tombstone_owed_a_notification(fresh_jobs: JobsUnderTest) -> None:
    repo = fresh_jobs.repo
    job = replace(a_new_job(), audio_key="audio/kept.wav")
    repo.create(job)
    repo.record_submission(job.job_id, "request-1", at(1), result_due_at=at(1800))
    assert finish(repo, finished(stored(repo, job.job_id), request_id="request-1"), "callback").applied
    repo.mark_notified(job.job_id, "completed-message", at(61))
    done = stored(repo, job.job_id)
    assert done.audio_key == "audio/kept.wav"

    outcome = repo.delete(done, at=at(500), lease_token="deleter", lease_until=at(520))

    assert outcome.applied
    tombstone = stored(repo, job.job_id)
    assert tombstone == replace(
        done,
        status=JobStatus.DELETED,
        deleted_at=isoformat(at(500)),
        updated_at=isoformat(at(500)),
        result=None,
        summary=None,
        audio_key=None,
        notified_at=None,
    )
    assert owed(repo, at(519)) == []
    assert owed(repo, at(520)) == [job.job_id]
    assert not repo.claim_notification(job.job_id, "other", now=at(510), until=at(530))
    assert repo.claim_notification(job.job_id, "deleter", now=at(510), until=at(520))


def test_delete_of_an_awaiting_job_takes_it_off_the_awaiting_list(fresh_jobs: JobsUnderTest) -> None:
    repo = fresh_jobs.repo
    job = processing(repo)

    assert repo.delete(job, at=at(5), lease_token="deleter", lease_until=at(25)).applied

    assert awaiting(repo, FAR_FUTURE) == []
    assert owed(repo, at(25)) == [job.job_id]
    assert not finish(repo, finished(job, request_id="request-1"), "callback").applied  # a late result


def test_delete_is_refused_when_the_job_changed_since_it_was_read(jobs: JobsUnderTest) -> None:
    read = jobs.repo.get(submitted(jobs.repo).job_id)
    assert read is not None
    assert finish(jobs.repo, finished(read, request_id="request-1"), "callback").applied
    current = stored(jobs.repo, read.job_id)

    outcome = jobs.repo.delete(read, at=at(500), lease_token="deleter", lease_until=at(520))

    assert not outcome.applied
    assert outcome.current == current
    assert stored(jobs.repo, read.job_id) == current


def test_delete_of_a_deleted_job_is_refused_but_its_own_retry_is_applied(jobs: JobsUnderTest) -> None:
    job = submitted(jobs.repo)
    assert jobs.repo.delete(job, at=at(5), lease_token="first", lease_until=at(25)).applied
    tombstone = stored(jobs.repo, job.job_id)

    retried = jobs.repo.delete(job, at=at(5), lease_token="first", lease_until=at(25))
    again = jobs.repo.delete(tombstone, at=at(6), lease_token="second", lease_until=at(26))

    assert retried.applied  # the same write again, its first reply lost
    assert not again.applied
    assert again.current == tombstone
    assert stored(jobs.repo, job.job_id) == tombstone


def test_delete_of_a_missing_job_is_not_applied(jobs: JobsUnderTest) -> None:
    job = a_new_job()

    outcome = jobs.repo.delete(job, at=at(1), lease_token="d", lease_until=at(21))

    assert not outcome.applied
    assert outcome.current is None
    assert jobs.repo.get(job.job_id) is None


# --- list_jobs -------------------------------------------------------------------------------------

NOW = datetime.now(UTC).replace(microsecond=0)


def listed_job(minutes_ago: float) -> Job:
    """A job created `minutes_ago` before now (the listing walks months back from the real clock)."""
    return new_job(
        source={"type": "url", "url": "https://media.example.com/a.wav"},
        options={},
        metadata={},
        retention_days=7,
        now=NOW - timedelta(minutes=minutes_ago),
    )


@pytest.fixture
def listed(fresh_jobs: JobsUnderTest) -> list[Job]:
    """Six jobs, newest first: 1..5 minutes old, and one 40 days old (an earlier month); the
    2- and 4-minute-old ones completed."""
    made = [listed_job(minutes) for minutes in (1, 2, 3, 4, 5, 40 * 24 * 60)]
    for job in reversed(made):
        fresh_jobs.repo.create(job)
    for job in (made[1], made[3]):
        fresh_jobs.repo.record_submission(job.job_id, "request-1", NOW)
        done = finished(stored(fresh_jobs.repo, job.job_id), request_id="request-1")
        assert fresh_jobs.repo.finish(done, lease_token="t", lease_until=NOW).applied
    return [stored(fresh_jobs.repo, job.job_id) for job in made]


def every_page(repo: JobRepository, *, limit: int, **query: Any) -> list[list[Job]]:
    pages, cursor = [], None
    for _ in range(20):
        page = repo.list_jobs(
            status=query.get("status"), created_after=query.get("created_after"), limit=limit, cursor=cursor
        )
        pages.append(page.jobs)
        cursor = page.next_cursor
        if cursor is None:
            return pages
    raise AssertionError("the listing never ended")


def test_list_jobs_newest_first(fresh_jobs: JobsUnderTest, listed: list[Job]) -> None:
    page = fresh_jobs.repo.list_jobs(status=None, created_after=None, limit=100, cursor=None)

    assert page.jobs == listed
    assert page.next_cursor is None


def test_list_jobs_of_one_status(fresh_jobs: JobsUnderTest, listed: list[Job]) -> None:
    completed = fresh_jobs.repo.list_jobs(
        status=JobStatus.COMPLETED, created_after=None, limit=100, cursor=None
    )
    queued = fresh_jobs.repo.list_jobs(status=JobStatus.QUEUED, created_after=None, limit=100, cursor=None)

    assert completed.jobs == [listed[1], listed[3]]
    assert queued.jobs == [listed[0], listed[2], listed[4], listed[5]]
    assert (
        fresh_jobs.repo.list_jobs(status=JobStatus.DELETED, created_after=None, limit=100, cursor=None).jobs
        == []
    )


def test_list_jobs_created_after(fresh_jobs: JobsUnderTest, listed: list[Job]) -> None:
    after = listed[3].created_at

    page = fresh_jobs.repo.list_jobs(status=None, created_after=after, limit=100, cursor=None)
    of_status = fresh_jobs.repo.list_jobs(
        status=JobStatus.QUEUED, created_after=after, limit=100, cursor=None
    )

    assert page.jobs == listed[:3]  # strictly after
    assert of_status.jobs == [listed[0], listed[2]]


@pytest.mark.parametrize("limit", [1, 2, 4])
def test_list_jobs_pages_through_every_job_once(
    fresh_jobs: JobsUnderTest, listed: list[Job], limit: int
) -> None:
    pages = every_page(fresh_jobs.repo, limit=limit)

    assert [job for page in pages for job in page] == listed
    assert all(len(page) <= limit for page in pages)
    assert all(len(page) == limit for page in pages[:-1] if page)


def test_list_jobs_of_one_status_pages(fresh_jobs: JobsUnderTest, listed: list[Job]) -> None:
    pages = every_page(fresh_jobs.repo, limit=3, status=JobStatus.QUEUED)

    assert [job for page in pages for job in page] == [listed[0], listed[2], listed[4], listed[5]]
    assert len(pages[0]) == 3


def _encoded(position: Any) -> str:
    return base64.urlsafe_b64encode(json.dumps(position).encode()).decode().rstrip("=")


INVALID_CURSORS = {
    "garbage": "not a cursor!",
    "json-list": _encoded([1, 2]),
    "month-not-text": _encoded({"month": 5}),
    "month-not-a-month": _encoded({"month": "not-a-month"}),
}


@pytest.mark.parametrize("cursor", INVALID_CURSORS.values(), ids=INVALID_CURSORS.keys())
def test_an_invalid_cursor_is_refused(fresh_jobs: JobsUnderTest, listed: list[Job], cursor: str) -> None:
    with pytest.raises(InvalidCursor):
        fresh_jobs.repo.list_jobs(status=None, created_after=None, limit=2, cursor=cursor)
