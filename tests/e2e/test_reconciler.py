"""The reconciler end to end: the real handlers in their worker processes, moto, the emulator.

The emulator is told to fail every delivery of a result (all of Deepgram's 11 attempts, 0.2 s
apart here), so the job's result is lost exactly as Deepgram loses it. Time is simulated: the
reconciler is invoked with a scheduled event whose `time` is minutes ahead
(`LocalStack.run_reconciler(at=...)`), and the handler reconciles as of that moment. SNS refusing
publishes is real too: the topic is deleted from moto (every publish answers `NotFound`) and
created again with its subscriber queue when the outage ends. Nothing sleeps for minutes.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from typing import Any

import boto3
import pytest

from local.deepgram_emulator import DEEPGRAM_MAX_DELIVERY_ATTEMPTS
from local.stack import LocalStack
from tests.e2e.conftest import Pipeline

SCHEDULE_SECONDS = 0.5
DEADLINE = timedelta(minutes=30)


@pytest.fixture(scope="module")
def stack_options() -> dict[str, Any]:
    return {"reconcile_every_seconds": SCHEDULE_SECONDS}


def lost_result_job(pipeline: Pipeline) -> tuple[str, datetime]:
    """A job Deepgram accepted and whose every callback delivery failed; and when it was submitted."""
    pipeline.emulator.set_faults(
        fail_next_deliveries=DEEPGRAM_MAX_DELIVERY_ATTEMPTS, synthetic_duration_seconds=5.0
    )
    submitted_at = datetime.now(UTC)
    job = pipeline.submit_audio()
    assert pipeline.emulator.wait_idle(30)
    deliveries = [d for d in pipeline.emulator.deliveries() if d["request_id"] == job["request_id"]]
    assert len(deliveries) == DEEPGRAM_MAX_DELIVERY_ATTEMPTS
    assert not any(d["delivered"] for d in deliveries)
    assert pipeline.job(job["id"])["status"] == "processing"
    return str(job["id"]), submitted_at


@contextmanager
def sns_refusing(stack: LocalStack) -> Iterator[None]:
    """SNS answers every publish to the notifications topic `NotFound` until the block ends."""
    sns = boto3.client("sns", region_name=stack.region)
    sqs = boto3.client("sqs", region_name=stack.region)
    topic_arn = stack.resources.topic_arn
    queue_arn = sqs.get_queue_attributes(QueueUrl=stack.resources.queue_url, AttributeNames=["QueueArn"])[
        "Attributes"
    ]["QueueArn"]
    sns.delete_topic(TopicArn=topic_arn)
    try:
        yield
    finally:
        assert sns.create_topic(Name=stack.resources.names.topic)["TopicArn"] == topic_arn
        sns.subscribe(TopicArn=topic_arn, Protocol="sqs", Endpoint=queue_arn)


def notifications_of(pipeline: Pipeline, job_id: str) -> list[dict[str, Any]]:
    return [n for n in pipeline.settle() if n["message"]["job_id"] == job_id]


def test_a_job_whose_callback_never_comes_fails_after_the_deadline_with_one_notification(
    pipeline: Pipeline,
) -> None:
    job_id, submitted_at = lost_result_job(pipeline)

    early = pipeline.stack.run_reconciler(at=submitted_at + DEADLINE - timedelta(minutes=1))
    assert early["failed"] == 0
    assert pipeline.job(job_id)["status"] == "processing"

    late = pipeline.stack.run_reconciler(at=submitted_at + DEADLINE + timedelta(minutes=1))

    assert late["failed"] == 1
    job = pipeline.job(job_id)
    assert job["status"] == "failed"
    assert job["error"]["code"] == "callback_not_received"
    assert "no_callback_received" in job["error"]["message"]
    notifications = notifications_of(pipeline, job_id)
    assert [n["attributes"]["event_type"] for n in notifications] == ["transcription.failed"]
    assert notifications[0]["message"]["error"]["code"] == "callback_not_received"

    again = pipeline.stack.run_reconciler(at=submitted_at + DEADLINE + timedelta(minutes=6))
    assert again["touched"] == 0
    assert notifications_of(pipeline, job_id) == []


def test_sns_refusing_publishes_for_ten_minutes_still_gives_exactly_one_notification(
    pipeline: Pipeline,
) -> None:
    job_id, submitted_at = lost_result_job(pipeline)
    first_run = submitted_at + DEADLINE + timedelta(minutes=1)
    outage_ends = first_run + timedelta(minutes=10)

    runs = []
    with sns_refusing(pipeline.stack):
        moment = first_run
        while moment < outage_ends:  # every 5 simulated minutes while SNS refuses
            runs.append(pipeline.stack.run_reconciler(at=moment))
            moment += timedelta(minutes=5)
        assert pipeline.job(job_id)["status"] == "failed"  # given up, its notification owed
        assert notifications_of(pipeline, job_id) == []
    runs.append(pipeline.stack.run_reconciler(at=outage_ends))
    runs.append(pipeline.stack.run_reconciler(at=outage_ends + timedelta(minutes=5)))

    assert [(run["failed"], run["notified"], run["error"]) for run in runs] == [
        (1, 0, 0),  # the give-up is written; publishing fails (counted as failed, pending notification)
        (0, 0, 1),  # still refused: the next run tries again
        (0, 1, 0),  # SNS is back
        (0, 0, 0),
    ]
    notifications = notifications_of(pipeline, job_id)
    assert [n["attributes"]["event_type"] for n in notifications] == ["transcription.failed"]


def test_the_stack_runs_the_reconciler_on_a_schedule(pipeline: Pipeline) -> None:
    before = len(pipeline.stack.scheduled_reconciler_runs)
    deadline = time.monotonic() + 10 * SCHEDULE_SECONDS
    while len(pipeline.stack.scheduled_reconciler_runs) < before + 2 and time.monotonic() < deadline:
        time.sleep(SCHEDULE_SECONDS / 5)
    scheduled = pipeline.stack.scheduled_reconciler_runs[before:]

    assert len(scheduled) >= 2
    assert all(run["as_of"] is None for run in scheduled)  # on the clock
