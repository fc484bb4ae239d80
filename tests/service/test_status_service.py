"""`StatusService` on the in-memory fakes: a job's view in each state, expiry, and its result
inline or as a presigned URL. Routing, the 404's shape and real presigned S3 URLs are tested
through the Lambda handler in `tests/unit/test_status.py`."""

from __future__ import annotations

import json
import uuid
from datetime import timedelta

import pytest

from functions.core.jobs import JobError, JobStatus
from functions.core.ports import DependencyError
from functions.status.logic import (
    InvalidListing,
    InvalidListingCursor,
    JobListing,
    JobNotFound,
    ListQuery,
)
from local.deepgram_emulator.payloads import compact_json, generate_response
from tests.service.submit_fixtures import (
    AUDIO_URL,
    RESULT_URL_TTL_SECONDS,
    Statuses,
    incompressible_body,
)

RESULT_FIELDS = {"result", "result_url", "result_url_expires_in", "result_size_bytes", "result_sha256"}
S3_BODY_BYTES = 80 * 1024  # incompressible: over the 64 KB inline limit once gzipped


@pytest.fixture
def world() -> Statuses:
    return Statuses()


def transcript() -> bytes:
    return compact_json(generate_response(duration_seconds=5.0, request_id=str(uuid.uuid4())))


# --- not found -------------------------------------------------------------------------------------


def test_an_unknown_job_is_not_found(world: Statuses) -> None:
    with pytest.raises(JobNotFound) as raised:
        world.describe(uuid.uuid4().hex)

    assert (raised.value.status, raised.value.code) == (404, "job_not_found")


@pytest.mark.parametrize(
    "job_id",
    ["not-a-job", "A" * 32, "0" * 31, "0" * 33, "g" * 32, "0" * 3000],
    ids=lambda job_id: job_id[:40],
)
def test_a_malformed_job_id_is_not_found_without_reading_the_table(world: Statuses, job_id: str) -> None:
    # Real DynamoDB refuses a key over 2048 bytes (a 5xx for us): no read may happen.
    world.jobs.faults.fail("get", times=None)

    with pytest.raises(JobNotFound):
        world.describe(job_id)

    assert world.jobs.faults.injected == []


def test_an_expired_job_is_not_found_even_before_its_record_is_deleted(world: Statuses) -> None:
    """DynamoDB's TTL deletes items days late; the results bucket's lifecycle rule does not wait."""
    job = world.queued(retention_days=1)

    world.clock.advance(timedelta(days=1) - timedelta(seconds=1))
    assert world.describe(job.job_id).view["id"] == job.job_id
    world.clock.advance(timedelta(seconds=1))  # expires_at reached
    with pytest.raises(JobNotFound):
        world.describe(job.job_id)
    assert world.jobs.get(job.job_id) is not None


def test_a_failed_read_is_a_dependency_error(world: Statuses) -> None:
    job = world.queued()
    world.jobs.faults.fail("get")

    with pytest.raises(DependencyError):
        world.describe(job.job_id)


# --- jobs without a result -------------------------------------------------------------------------


def test_a_queued_job_has_no_result_fields(world: Statuses) -> None:
    job = world.queued()

    described = world.describe(job.job_id)

    view = described.view
    assert view["id"] == job.job_id
    assert view["status"] == "queued"
    assert view["request_id"] is None
    assert RESULT_FIELDS.isdisjoint(view)
    assert "error" not in view
    assert described.result_json is None


def test_a_processing_job_shows_its_request_and_no_result_fields(world: Statuses) -> None:
    job = world.processing()

    described = world.describe(job.job_id)

    view = described.as_dict()
    assert view["status"] == "processing"
    assert view["request_id"] == job.request_id
    assert view["submitted_at"] == job.submitted_at
    assert view["metadata"] == {"customer": "acme"}
    assert view["options"] == {"model": "nova-3"}
    assert view["source"] == {"type": "url", "url": AUDIO_URL}
    assert RESULT_FIELDS.isdisjoint(view)
    assert "error" not in view


def test_a_job_refused_at_submit_shows_the_error(world: Statuses) -> None:
    job = world.refused_at_submit(JobError(code="deepgram_rejected", message="Invalid model: nova-99."))

    view = world.describe(job.job_id).as_dict()

    assert view["status"] == "failed"
    assert view["error"] == {"code": "deepgram_rejected", "message": "Invalid model: nova-99."}
    assert RESULT_FIELDS.isdisjoint(view)


def test_a_job_failed_by_its_callback_shows_the_error_and_not_the_body(world: Statuses) -> None:
    body = compact_json({"err_code": "SLOW_UPLOAD", "err_msg": "the audio arrived too slowly"})
    job = world.finished(
        body,
        status=JobStatus.FAILED,
        error=JobError(code="SLOW_UPLOAD", message="the audio arrived too slowly"),
    )

    described = world.describe(job.job_id)

    view = described.as_dict()
    assert view["status"] == "failed"
    assert view["error"] == {"code": "SLOW_UPLOAD", "message": "the audio arrived too slowly"}
    assert RESULT_FIELDS.isdisjoint(view)
    assert described.result_json is None


# --- completed jobs --------------------------------------------------------------------------------


def test_a_completed_job_with_an_inline_result_returns_the_body(world: Statuses) -> None:
    body = transcript()
    job = world.finished(body, summary={"words": 12, "duration_seconds": 5.0})
    assert job.result is not None
    assert job.result.storage == "inline"

    described = world.describe(job.job_id)

    assert described.result_json == body
    view = described.as_dict()
    assert view["status"] == "completed"
    assert view["result"] == json.loads(body)
    assert view["result_size_bytes"] == len(body)
    assert view["result_sha256"] == job.result.sha256
    assert view["summary"] == {"words": 12, "duration_seconds": 5.0}
    assert {"result_url", "result_url_expires_in"}.isdisjoint(view)
    assert world.blobs.objects == {}


def test_the_inline_result_is_spliced_into_the_answer_unparsed(world: Statuses) -> None:
    body = b'{"metadata":{"request_id":"r-1"},"results":{"channels":[]}}'
    job = world.finished(body)

    text = world.describe(job.job_id).to_json()

    assert text.endswith(', "result": ' + body.decode() + "}")
    assert json.loads(text)["result"] == json.loads(body)


def test_a_completed_job_with_an_s3_result_returns_a_presigned_url(world: Statuses) -> None:
    body = incompressible_body(S3_BODY_BYTES)
    job = world.finished(body)
    assert job.result is not None
    assert job.result.storage == "s3"
    assert job.result.s3_key is not None
    assert job.result.s3_key.startswith(f"results/{job.job_id}/")

    described = world.describe(job.job_id)

    view = described.as_dict()
    assert view["status"] == "completed"
    assert "result" not in view
    assert described.result_json is None
    assert view["result_url"] == world.blobs.presigned_get_url(job.result.s3_key, RESULT_URL_TTL_SECONDS)
    assert view["result_url_expires_in"] == RESULT_URL_TTL_SECONDS
    assert view["result_size_bytes"] == len(body)
    assert view["result_sha256"] == job.result.sha256


def test_the_result_url_lifetime_follows_the_configuration(world: Statuses) -> None:
    world.result_url_ttl_seconds = 120
    job = world.finished(incompressible_body(S3_BODY_BYTES))

    view = world.describe(job.job_id).view

    assert view["result_url_expires_in"] == 120
    assert view["result_url"].endswith("?expires_in=120")


def test_a_failed_presign_is_a_dependency_error(world: Statuses) -> None:
    job = world.finished(incompressible_body(S3_BODY_BYTES))
    world.blobs.faults.fail("presigned_get_url")

    with pytest.raises(DependencyError):
        world.describe(job.job_id)


# --- listing ---------------------------------------------------------------------------------------


def listing_world(world: Statuses, count: int) -> list[str]:
    """`count` queued jobs created a minute apart (the last is the newest): their ids, oldest first."""
    start = world.clock()
    ids = [world.queued(created=start + timedelta(minutes=i)).job_id for i in range(count)]
    world.clock.advance(timedelta(minutes=count))
    return ids


def list_jobs(world: Statuses, **query: str) -> JobListing:
    return world.service.list(ListQuery.parse(query))


def test_the_listing_query_defaults() -> None:
    assert ListQuery.parse({}) == ListQuery(status=None, created_after=None, limit=20, cursor=None)
    assert ListQuery.parse({"status": "", "limit": "", "cursor": ""}) == ListQuery()


@pytest.mark.parametrize(
    ("text", "stored"),
    [
        ("2026-03-01", "2026-03-01T00:00:00.000Z"),
        ("2026-03-01T12:00:00Z", "2026-03-01T12:00:00.000Z"),
        ("2026-03-01T12:00:00", "2026-03-01T12:00:00.000Z"),  # no offset: UTC
        ("2026-03-01T14:30:00+02:30", "2026-03-01T12:00:00.000Z"),
        ("2026-03-01T12:00:00.123456Z", "2026-03-01T12:00:00.123Z"),
        ("20260301T120000Z", "2026-03-01T12:00:00.000Z"),
    ],
)
def test_created_after_is_normalised_to_the_stored_format(text: str, stored: str) -> None:
    assert ListQuery.parse({"created_after": text}).created_after == stored


@pytest.mark.parametrize(
    ("query", "names"),
    [
        ({"status": "done"}, "status"),
        ({"status": "COMPLETED"}, "status"),
        ({"limit": "0"}, "limit"),
        ({"limit": "101"}, "limit"),
        ({"limit": "-1"}, "limit"),
        ({"limit": "ten"}, "limit"),
        ({"limit": "1e2"}, "limit"),
        ({"limit": "٣"}, "limit"),  # a digit, but not an ASCII one
        ({"created_after": "yesterday"}, "created_after"),
        ({"created_after": "2026-13-01"}, "created_after"),
        ({"createdAfter": "2026-03-01"}, "createdAfter"),
    ],
)
def test_an_invalid_listing_query_is_400_naming_the_parameter(query: dict[str, str], names: str) -> None:
    with pytest.raises(InvalidListing) as raised:
        ListQuery.parse(query)

    assert (raised.value.status, raised.value.code) == (400, "invalid_request")
    assert names in raised.value.message


def test_every_status_is_accepted() -> None:
    for status in JobStatus:
        assert ListQuery.parse({"status": status.value}).status is status


def test_jobs_are_listed_newest_first_page_by_page(world: Statuses) -> None:
    ids = listing_world(world, 5)

    seen: list[str] = []
    cursor: str | None = None
    pages = 0
    while True:
        page = list_jobs(world, limit="2", **({"cursor": cursor} if cursor else {}))
        pages += 1
        assert len(page.items) <= 2
        seen += [item["id"] for item in page.items]
        cursor = page.next_cursor
        if cursor is None:
            break

    assert seen == list(reversed(ids))
    assert pages == 3


def test_listed_jobs_are_views_without_results(world: Statuses) -> None:
    job = world.finished(transcript(), summary={"words": 12})

    (item,) = list_jobs(world).items

    assert item["id"] == job.job_id
    assert item["status"] == "completed"
    assert item["summary"] == {"words": 12}
    assert RESULT_FIELDS.isdisjoint(item)
    assert json.loads(json.dumps(list_jobs(world).as_dict())) == {"items": [item], "next_cursor": None}


def test_the_listing_filters_by_status_and_creation_time(world: Statuses) -> None:
    older = world.queued(created=world.clock() - timedelta(hours=2))
    processing = world.processing()
    world.clock.advance(timedelta(minutes=1))
    queued = world.queued()

    assert [i["id"] for i in list_jobs(world, status="queued").items] == [queued.job_id, older.job_id]
    assert [i["id"] for i in list_jobs(world, status="processing").items] == [processing.job_id]
    assert list_jobs(world, status="completed").items == []
    after = (world.clock() - timedelta(hours=1)).isoformat()
    assert [i["id"] for i in list_jobs(world, created_after=after).items] == [
        queued.job_id,
        processing.job_id,
    ]
    assert [i["id"] for i in list_jobs(world, status="queued", created_after=after).items] == [queued.job_id]
    # Strictly after: a job created at that very millisecond is not listed.
    assert list_jobs(world, created_after=queued.created_at).items == []


def test_expired_jobs_are_not_listed(world: Statuses) -> None:
    expired = world.queued(created=world.clock() - timedelta(days=2))
    kept = world.queued()

    assert [i["id"] for i in list_jobs(world).items] == [kept.job_id]
    assert world.jobs.get(expired.job_id) is not None


def test_a_cursor_this_api_did_not_give_is_400_invalid_cursor(world: Statuses) -> None:
    listing_world(world, 2)

    with pytest.raises(InvalidListingCursor) as raised:
        list_jobs(world, cursor="not-a-cursor")

    assert (raised.value.status, raised.value.code) == (400, "invalid_cursor")


def test_a_failed_listing_is_a_dependency_error(world: Statuses) -> None:
    world.jobs.faults.fail("list_jobs")

    with pytest.raises(DependencyError):
        list_jobs(world)


# --- deleted jobs ----------------------------------------------------------------------------------


def test_a_deleted_job_says_deleted_without_its_result(world: Statuses) -> None:
    job = world.finished(incompressible_body(S3_BODY_BYTES), summary={"words": 3})
    now = world.clock()
    assert world.jobs.delete(job, at=now, lease_token="t", lease_until=now + timedelta(seconds=20)).applied

    described = world.describe(job.job_id)

    view = described.as_dict()
    assert view["status"] == "deleted"
    assert view["deleted_at"] == view["updated_at"]
    assert described.result_json is None
    assert RESULT_FIELDS.isdisjoint(view)
    assert "summary" not in view
    assert [i["status"] for i in list_jobs(world, status="deleted").items] == ["deleted"]
