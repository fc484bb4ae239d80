"""A result too big for the callback URL, recovered by the reconciler through S3 delivery.

The emulator makes a diarized synthetic result of about 7.5 MB and delivers it by callback; the
local Function URL answers 413 to each of Deepgram's 11 attempts (0.2 s apart here) before any
code runs, as AWS does past Lambda's 6 MB, and the emulator drops the result. Nothing in the stack
ever learns why (no Deepgram project is configured, so no request log). With
`RECOVER_LOST_CALLBACKS=resubmit` and S3 delivery available (the local stack sets
`DELIVERY_ROLE_ARN`), the reconciler, run as of a simulated moment past the deadline, submits the
job once more by S3 delivery: the emulator PUTs the result to the presigned URL in moto's S3 and
the finisher completes the job. Nothing sleeps for minutes.
"""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime, timedelta
from typing import Any

import boto3
import pytest

from functions.core.contract import Env
from local.deepgram_emulator import DEEPGRAM_MAX_DELIVERY_ATTEMPTS
from local.function_process import LAMBDA_MAX_PAYLOAD_BYTES
from tests.e2e.conftest import SAMPLE_WAV, Pipeline, http

pytestmark = pytest.mark.e2e

DIARIZED = {"diarize": True, "utterances": True, "paragraphs": True, "punctuate": True}
BYTES_PER_SECOND = 770  # compact JSON per second of synthetic diarized speech (see test_s3_delivery)
RESULT_BYTES = 7_500_000  # well past the Function URL's 6 MiB
DEADLINE = timedelta(minutes=30)  # callbackDeadlineMinutes' default


@pytest.fixture(scope="module")
def stack_options() -> dict[str, Any]:
    return {"function_environment": {Env.RECOVER_LOST_CALLBACKS: "resubmit"}}


def audio_url(pipeline: Pipeline) -> str:
    """The sample behind a presigned GET URL of moto's S3: a URL job, which can be submitted again."""
    s3 = boto3.client("s3", region_name=pipeline.stack.region)
    bucket = pipeline.stack.resources.names.results_bucket
    s3.put_object(Bucket=bucket, Key="media/lost-large.wav", Body=SAMPLE_WAV.read_bytes())
    url: str = s3.generate_presigned_url(
        "get_object", Params={"Bucket": bucket, "Key": "media/lost-large.wav"}, ExpiresIn=3600
    )
    return url


def deliveries_of(pipeline: Pipeline, request_id: str) -> list[Any]:
    return [item for item in pipeline.emulator.deliveries() if item["request_id"] == request_id]


def test_a_result_too_big_for_the_callback_url_is_resubmitted_through_s3_and_completes_once(
    pipeline: Pipeline,
) -> None:
    pipeline.emulator.set_faults(synthetic_duration_seconds=RESULT_BYTES / BYTES_PER_SECOND)
    submitted_at = datetime.now(UTC)
    job = pipeline.submit_url(audio_url(pipeline), options=DIARIZED)
    assert job["delivery"] == "callback"

    # Deepgram's 1 + 10 attempts, each refused by the Function URL's front door; then it gives up.
    assert pipeline.emulator.wait_idle(60)
    refused = deliveries_of(pipeline, job["request_id"])
    assert [(d["method"], d["status_code"]) for d in refused] == [
        ("POST", 413)
    ] * DEEPGRAM_MAX_DELIVERY_ATTEMPTS
    assert all(d["body_bytes"] > LAMBDA_MAX_PAYLOAD_BYTES for d in refused)
    assert pipeline.job(job["id"])["status"] == "processing"
    assert pipeline.settle() == []  # nothing published yet

    run = pipeline.stack.run_reconciler(at=submitted_at + DEADLINE + timedelta(minutes=1))

    assert (run["resubmitted"], run["failed"]) == (1, 0)
    [notification] = pipeline.wait_for_notifications(1, timeout=60)
    assert notification["message"]["job_id"] == job["id"]
    assert notification["attributes"]["event_type"] == "transcription.completed"
    assert pipeline.stack.settle_deliveries()
    assert pipeline.settle() == []  # exactly one notification

    view = pipeline.job(job["id"])
    assert view["status"] == "completed"
    assert view["delivery"] == "s3"
    [attempt] = view["attempts"]
    assert attempt["request_id"] == job["request_id"]
    assert (attempt["delivery"], attempt["outcome"]) == ("callback", "no_callback_received")  # no 413 seen
    assert view["request_id"] != job["request_id"]
    [put] = deliveries_of(pipeline, view["request_id"])
    assert (put["method"], put["status_code"]) == ("PUT", 200)
    assert put["path"].endswith(f"/deliveries/{job['id']}/2.json")
    assert put["body_bytes"] > LAMBDA_MAX_PAYLOAD_BYTES
    assert view["result_size_bytes"] > LAMBDA_MAX_PAYLOAD_BYTES
    assert "result" not in view  # too big to be inline: a presigned URL instead
    body = http("GET", view["result_url"]).body
    assert len(body) == view["result_size_bytes"]
    assert hashlib.sha256(body).hexdigest() == view["result_sha256"]
    assert f'"request_id":"{view["request_id"]}"'.encode() in body[:4096]

    later = pipeline.stack.run_reconciler(at=submitted_at + 2 * DEADLINE + timedelta(minutes=2))
    assert later["touched"] == 0
    assert pipeline.settle() == []
