"""Every port operation, made to fail as an outage would, raises DependencyError naming the service:
through the fake's `faults`, or a botocore ClientError injected into the real adapter's client.
A failed call changes nothing, and the next call goes through."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace

import pytest

from functions.core.jobs import Job
from functions.core.notifications import OutgoingNotification
from functions.core.ports import AudioUrl, DependencyError, JobRepository
from tests.contract.conftest import (
    DYNAMODB_OPERATIONS,
    BlobsUnderTest,
    JobsUnderTest,
    PublisherUnderTest,
    SecretsUnderTest,
    TranscriberUnderTest,
)
from tests.contract.test_job_repository import SUBMIT_ERROR, a_new_job, at, finished, submitted
from tests.contract.test_transcriber import a_call

JOB_OPERATIONS: dict[str, Callable[[JobRepository, Job], object]] = {
    "create": lambda repo, job: repo.create(replace(a_new_job(), job_id=job.job_id)),
    "get": lambda repo, job: repo.get(job.job_id),
    "record_submission": lambda repo, job: repo.record_submission(job.job_id, "request-2", at(2)),
    "mark_submit_failed": lambda repo, job: repo.mark_submit_failed(
        job.job_id, SUBMIT_ERROR, ambiguous=True, at=at(2)
    ),
    "finish": lambda repo, job: repo.finish(finished(job), lease_token="a", lease_until=at(20)),
    "claim_notification": lambda repo, job: repo.claim_notification(job.job_id, "a", now=at(1), until=at(21)),
    "mark_notified": lambda repo, job: repo.mark_notified(job.job_id, "message-1", at(2)),
    "release_notification": lambda repo, job: repo.release_notification(job.job_id, "a"),
}
assert set(JOB_OPERATIONS) == set(DYNAMODB_OPERATIONS)


@pytest.mark.parametrize("operation", list(JOB_OPERATIONS))
def test_a_failing_job_repository_operation_raises_dependency_error(
    jobs: JobsUnderTest, operation: str
) -> None:
    job = submitted(jobs.repo)
    jobs.fail(operation)

    with pytest.raises(DependencyError, match=r"^DynamoDB: "):
        JOB_OPERATIONS[operation](jobs.repo, job)

    assert jobs.repo.get(job.job_id) == job


BLOB_OPERATIONS: dict[str, Callable[[BlobsUnderTest, str], object]] = {
    "put": lambda blobs, key: blobs.store.put(key, b"new", content_encoding="identity"),
    "delete": lambda blobs, key: blobs.store.delete(key),
    "presigned_get_url": lambda blobs, key: blobs.store.presigned_get_url(key, 60),
}


@pytest.mark.parametrize("operation", list(BLOB_OPERATIONS))
def test_a_failing_blob_store_operation_raises_dependency_error(
    blobs: BlobsUnderTest, operation: str
) -> None:
    key = "results/faults/object.json"
    blobs.store.put(key, b"old", content_encoding="identity")
    before = blobs.read(key)
    blobs.fail(operation)

    with pytest.raises(DependencyError, match=r"^S3: "):
        BLOB_OPERATIONS[operation](blobs, key)

    assert blobs.read(key) == before
    BLOB_OPERATIONS[operation](blobs, key)  # the fault has passed


def test_a_failing_publish_raises_dependency_error(publishers: PublisherUnderTest) -> None:
    notification = OutgoingNotification(message='{"job_id":"0123"}', attributes={"status": "completed"})
    publishers.fail("publish")

    with pytest.raises(DependencyError, match=r"^SNS: "):
        publishers.publisher.publish(notification)

    assert publishers.delivered() == []
    message_id = publishers.publisher.publish(notification)
    assert [sent.message_id for sent in publishers.delivered()] == [message_id]


def test_a_failing_secret_read_raises_dependency_error(secrets: SecretsUnderTest) -> None:
    secret_id = secrets.store("signing-key", "s3cr3t")
    secrets.fail("get")

    with pytest.raises(DependencyError, match=r"^Secrets Manager: "):
        secrets.source.get(secret_id)

    assert secrets.source.get(secret_id) == "s3cr3t"


def test_a_failing_key_secret_makes_submit_raise_dependency_error(transcribers: TranscriberUnderTest) -> None:
    transcribers.fail("submit")

    with pytest.raises(DependencyError, match=r"^Secrets Manager: "):
        transcribers.transcriber.submit(a_call(AudioUrl("https://media.example.com/a.wav")))

    assert transcribers.sent() == []
    assert transcribers.transcriber.submit(a_call(AudioUrl("https://media.example.com/a.wav")))
