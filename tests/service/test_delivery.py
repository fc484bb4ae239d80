"""S3 delivery on the in-memory fakes: a result Deepgram PUT to `deliveries/<job id>/<n>.json` is
finished by the callback's own rules (`CallbackService.handle_delivery`), through the finisher
(`DeliveryFinisher`), which deletes the delivery object once the result is stored."""

from __future__ import annotations

import pytest

from functions.core.jobs import JobStatus
from functions.core.result_storage import delivery_key, job_id_of_delivery_key
from functions.finisher.events import CreatedObject, created_objects
from functions.finisher.logic import DeliveryFinisher
from tests.service.conftest import MB, Callbacks, SubmittedJob

BUCKET = "results"


class Deliveries:
    """The finisher over the callbacks' fakes: results are PUT into the same bucket's deliveries/."""

    def __init__(self, callbacks: Callbacks) -> None:
        self.callbacks = callbacks
        self.finisher = DeliveryFinisher(service=callbacks.service, deliveries=callbacks.blobs, bucket=BUCKET)

    def put(self, job: SubmittedJob, body: bytes, attempt: int = 1) -> CreatedObject:
        """Deepgram's PUT to the presigned URL, and the event S3 reports for it."""
        key = delivery_key(job.job_id, attempt)
        self.callbacks.blobs.put(key, body, content_encoding="identity")
        return CreatedObject(bucket=BUCKET, key=key, size=len(body))


@pytest.fixture
def deliveries(callbacks: Callbacks) -> Deliveries:
    return Deliveries(callbacks)


def test_a_delivered_result_completes_the_job_and_is_notified_once(
    callbacks: Callbacks, deliveries: Deliveries
) -> None:
    job = callbacks.job()
    body = callbacks.body(job)

    finished = deliveries.finisher.finish(deliveries.put(job, body))

    assert (finished.outcome, finished.job_id) == ("accepted", job.job_id)
    assert callbacks.stored(job).status is JobStatus.COMPLETED
    assert callbacks.stored(job).summary is not None
    assert len(callbacks.notifications()) == 1
    assert callbacks.stored_body(job) == callbacks.as_stored(job, body)


def test_the_stored_result_is_redacted_and_the_delivery_object_deleted(
    callbacks: Callbacks, deliveries: Deliveries
) -> None:
    job = callbacks.job()
    body = callbacks.body(job, size=3 * MB)  # too big for the item: stored under results/
    created = deliveries.put(job, body)

    deliveries.finisher.finish(created)

    assert job.secret.encode() in body
    assert job.secret.encode() not in callbacks.stored_body(job)
    assert callbacks.stored(job).result is not None
    assert callbacks.s3_keys() == [callbacks.stored(job).result.s3_key]  # type: ignore[union-attr]
    assert created.key not in callbacks.blobs.objects


def test_a_failure_body_fails_the_job_once(callbacks: Callbacks, deliveries: Deliveries) -> None:
    job = callbacks.job()

    finished = deliveries.finisher.finish(deliveries.put(job, callbacks.error_body(job)))

    assert finished.outcome == "accepted"
    stored = callbacks.stored(job)
    assert stored.status is JobStatus.FAILED
    assert stored.error is not None
    [notification] = callbacks.notifications()
    assert notification.attributes["status"] == "failed"


def test_a_body_with_another_jobs_secret_is_refused_and_kept(
    callbacks: Callbacks, deliveries: Deliveries
) -> None:
    job, other = callbacks.job(), callbacks.job()
    body = callbacks.body(job, extra={"job_id": job.job_id, "callback_secret": other.secret})
    created = deliveries.put(job, body)

    finished = deliveries.finisher.finish(created)

    assert finished.outcome == "rejected"
    assert finished.result is not None
    assert finished.result.reason == "bad_credentials"
    assert callbacks.stored(job).status is JobStatus.PROCESSING
    assert callbacks.notifications() == []
    assert created.key in callbacks.blobs.objects  # left to the lifecycle rule, for inspection


def test_a_body_naming_another_job_is_refused(callbacks: Callbacks, deliveries: Deliveries) -> None:
    job, other = callbacks.job(), callbacks.job()
    body = callbacks.body(other, request_id=job.request_id)  # other's valid credentials

    finished = deliveries.finisher.finish(deliveries.put(job, body))

    assert finished.result is not None
    assert finished.result.reason == "bad_credentials"
    assert callbacks.stored(job).status is JobStatus.PROCESSING


def test_a_body_naming_another_request_is_refused(callbacks: Callbacks, deliveries: Deliveries) -> None:
    job = callbacks.job()
    body = callbacks.body(job, request_id="00000000-0000-4000-8000-000000000000")

    finished = deliveries.finisher.finish(deliveries.put(job, body))

    assert finished.result is not None
    assert finished.result.status_code == 403
    assert callbacks.notifications() == []


def test_a_repeated_event_while_the_object_is_still_there_is_a_duplicate(
    callbacks: Callbacks, deliveries: Deliveries
) -> None:
    job = callbacks.job()
    body = callbacks.body(job)
    created = deliveries.put(job, body)
    callbacks.blobs.faults.fail("delete")  # the first handling could not delete the object

    first = deliveries.finisher.finish(created)
    again = deliveries.finisher.finish(created)

    assert (first.outcome, again.outcome) == ("accepted", "duplicate")
    assert len(callbacks.notifications()) == 1
    assert created.key not in callbacks.blobs.objects  # the duplicate's handling deleted it


def test_a_repeated_event_after_the_object_was_deleted_is_gone(
    callbacks: Callbacks, deliveries: Deliveries
) -> None:
    job = callbacks.job()
    created = deliveries.put(job, callbacks.body(job))

    deliveries.finisher.finish(created)
    again = deliveries.finisher.finish(created)

    assert again.outcome == "gone"
    assert not again.retry
    assert len(callbacks.notifications()) == 1


def test_the_same_result_by_callback_then_by_s3_is_a_duplicate(
    callbacks: Callbacks, deliveries: Deliveries
) -> None:
    job = callbacks.job()
    body = callbacks.body(job)
    assert callbacks.deliver_as_deepgram(job, body).outcome == "accepted"

    finished = deliveries.finisher.finish(deliveries.put(job, body))

    assert finished.outcome == "duplicate"
    assert len(callbacks.notifications()) == 1


def test_a_failing_dependency_asks_for_a_retry_and_keeps_the_object(
    callbacks: Callbacks, deliveries: Deliveries
) -> None:
    job = callbacks.job()
    created = deliveries.put(job, callbacks.body(job))
    callbacks.jobs.faults.fail("finish")

    first = deliveries.finisher.finish(created)

    assert first.retry
    assert created.key in callbacks.blobs.objects
    retried = deliveries.finisher.finish(created)  # Lambda's retry of the event
    assert retried.outcome == "accepted"
    assert len(callbacks.notifications()) == 1


def test_an_unreadable_object_asks_for_a_retry(callbacks: Callbacks, deliveries: Deliveries) -> None:
    job = callbacks.job()
    created = deliveries.put(job, callbacks.body(job))
    callbacks.blobs.faults.fail("get")

    assert deliveries.finisher.finish(created).retry


def test_a_body_that_is_not_json_is_refused_without_retry(
    callbacks: Callbacks, deliveries: Deliveries
) -> None:
    job = callbacks.job()

    finished = deliveries.finisher.finish(deliveries.put(job, b"<html>not json</html>"))

    assert finished.outcome == "rejected"
    assert not finished.retry


def test_objects_that_are_not_deliveries_of_this_stack_are_ignored(
    callbacks: Callbacks, deliveries: Deliveries
) -> None:
    job = callbacks.job()
    created = deliveries.put(job, callbacks.body(job))

    other_bucket = deliveries.finisher.finish(CreatedObject(bucket="elsewhere", key=created.key))
    other_key = deliveries.finisher.finish(CreatedObject(bucket=BUCKET, key=f"results/{job.job_id}/x.json"))

    assert (other_bucket.outcome, other_key.outcome) == ("ignored", "ignored")
    assert callbacks.stored(job).status is JobStatus.PROCESSING


def test_handle_delivery_refuses_a_key_that_names_no_job(callbacks: Callbacks) -> None:
    result = callbacks.service.handle_delivery("not-a-job", b"{}")

    assert (result.outcome, result.reason) == ("rejected", "invalid_key")


@pytest.mark.parametrize(
    ("key", "job_id"),
    [
        ("deliveries/0123456789abcdef0123456789abcdef/1.json", "0123456789abcdef0123456789abcdef"),
        ("deliveries/0123456789abcdef0123456789abcdef/12.json", "0123456789abcdef0123456789abcdef"),
        ("deliveries/0123456789abcdef0123456789abcdef/x.json", None),
        ("deliveries/0123456789ABCDEF0123456789abcdef/1.json", None),
        ("results/0123456789abcdef0123456789abcdef/1.json", None),
        ("x/deliveries/0123456789abcdef0123456789abcdef/1.json", None),
    ],
)
def test_the_job_of_a_delivery_key(key: str, job_id: str | None) -> None:
    assert job_id_of_delivery_key(key) == job_id


def test_object_created_events_from_eventbridge_and_from_s3_notifications() -> None:
    key = "deliveries/0123456789abcdef0123456789abcdef/1.json"
    eventbridge = {
        "detail-type": "Object Created",
        "source": "aws.s3",
        "detail": {"bucket": {"name": BUCKET}, "object": {"key": key, "size": 12}},
    }
    notification = {
        "Records": [
            {"eventName": "ObjectCreated:Put", "s3": {"bucket": {"name": BUCKET}, "object": {"key": key}}},
            {"eventName": "ObjectRemoved:Delete", "s3": {"bucket": {"name": BUCKET}, "object": {"key": key}}},
        ]
    }

    assert created_objects(eventbridge) == [CreatedObject(BUCKET, key, 12)]
    assert created_objects(notification) == [CreatedObject(BUCKET, key)]
    assert created_objects({"detail-type": "Object Deleted", "detail": {}}) == []
