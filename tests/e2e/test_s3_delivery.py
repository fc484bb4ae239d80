"""S3 delivery end to end: the submit function signs a presigned S3 PUT URL (a role session of its
own per job), the Deepgram emulator PUTs the result to moto's S3, S3's "Object Created" event
reaches the finisher (`local.deliveries`), which stores the result by the callback's rules and
notifies once. Results of 20 MB and 100 MB go the same way, far beyond a Function URL's 6 MB.

The large results are generated (the emulator's synthetic mode: no speech recognition) with
diarization, utterances and paragraphs, about 0.8 KB of JSON per second of "audio".
"""

from __future__ import annotations

import hashlib
import time
from typing import Any
from urllib.request import urlopen

import boto3
import pytest

from functions.core.callback_auth import callback_secret
from tests.e2e.conftest import SAMPLE_WAV, Pipeline

pytestmark = pytest.mark.e2e

DIARIZED = {"diarize": True, "utterances": True, "paragraphs": True, "punctuate": True}
BYTES_PER_SECOND = 770  # compact JSON per second of synthetic diarized speech (measured: 780-803)
MB = 1_000_000


def audio_url(pipeline: Pipeline) -> str:
    """The sample, served by moto's S3 through a presigned GET URL (Deepgram fetches URL jobs)."""
    s3 = boto3.client("s3", region_name=pipeline.stack.region)
    bucket = pipeline.stack.resources.names.results_bucket
    s3.put_object(Bucket=bucket, Key="media/sample.wav", Body=SAMPLE_WAV.read_bytes())
    url: str = s3.generate_presigned_url("get_object", Params={"Bucket": bucket, "Key": "media/sample.wav"})
    return url


def deliveries_of(pipeline: Pipeline, job: dict[str, Any]) -> list[Any]:
    return [item for item in pipeline.emulator.deliveries() if item["request_id"] == job["request_id"]]


def delivery_objects(pipeline: Pipeline) -> list[str]:
    s3 = boto3.client("s3", region_name=pipeline.stack.region)
    listed = s3.list_objects_v2(Bucket=pipeline.stack.resources.names.results_bucket, Prefix="deliveries/")
    return [item["Key"] for item in listed.get("Contents", [])]


def download(view: dict[str, Any]) -> bytes:
    with urlopen(view["result_url"], timeout=60) as response:  # presigned GET, served by moto's S3
        body: bytes = response.read()
    return body


def test_a_url_job_asking_for_s3_delivery_completes_through_s3_and_is_notified_once(
    pipeline: Pipeline,
) -> None:
    pipeline.emulator.set_faults(synthetic_duration_seconds=5)

    job = pipeline.submit_url(audio_url(pipeline), delivery="s3", metadata={"case": "s3"})

    assert job["delivery"] == "s3"
    [notification] = pipeline.wait_for_notifications(1)
    assert notification["message"]["job_id"] == job["id"]
    assert notification["attributes"]["status"] == "completed"
    assert pipeline.settle() == []  # nothing more: one notification
    [delivery] = deliveries_of(pipeline, job)
    assert (delivery["method"], delivery["status_code"]) == ("PUT", 200)
    assert delivery["path"].endswith(f"/deliveries/{job['id']}/1.json")
    view = pipeline.job(job["id"])
    assert view["status"] == "completed"
    assert view["result"]["metadata"]["request_id"] == job["request_id"]
    assert view["result"]["metadata"]["extra"] == {"job_id": job["id"], "callback_secret": "redacted"}
    assert delivery_objects(pipeline) == []  # the drop box is emptied once the result is stored


def test_the_url_deepgram_gets_is_a_presigned_put_with_no_underscore(pipeline: Pipeline) -> None:
    pipeline.emulator.set_faults(synthetic_duration_seconds=2)

    job = pipeline.submit_audio(query="delivery=s3")

    pipeline.wait_for_notifications(1)
    [emulator_job] = [item for item in pipeline.emulator.jobs() if item["request_id"] == job["request_id"]]
    assert emulator_job["callback_method"] == "PUT"
    assert str(emulator_job["callback"]).endswith(f"/deliveries/{job['id']}/1.json?***")  # query masked
    assert pipeline.job(job["id"])["status"] == "completed"


def test_a_repeated_delivery_is_a_duplicate_and_notified_once(pipeline: Pipeline) -> None:
    pipeline.emulator.set_faults(synthetic_duration_seconds=2, duplicate_deliveries=True)

    job = pipeline.submit_url(audio_url(pipeline), delivery="s3")

    notifications = pipeline.wait_for_notifications(1)
    assert [item for item in deliveries_of(pipeline, job) if item["status_code"] == 200]
    time.sleep(2)  # both PUTs' events reach the finisher
    notifications += pipeline.settle()
    assert [item["message"]["job_id"] for item in notifications] == [job["id"]]
    assert len(deliveries_of(pipeline, job)) == 2
    assert pipeline.job(job["id"])["status"] == "completed"


def _large_result(pipeline: Pipeline, size_bytes: int) -> tuple[dict[str, Any], dict[str, Any], float]:
    pipeline.emulator.set_faults(synthetic_duration_seconds=size_bytes / BYTES_PER_SECOND)
    started = time.monotonic()
    job = pipeline.submit_url(audio_url(pipeline), delivery="s3", options=DIARIZED)
    [notification] = pipeline.wait_for_notifications(1, timeout=120)
    elapsed = time.monotonic() - started
    assert notification["message"]["job_id"] == job["id"]
    return job, pipeline.job(job["id"]), elapsed


def _check_large(pipeline: Pipeline, job: dict[str, Any], view: dict[str, Any], size_bytes: int) -> None:
    assert view["status"] == "completed"
    assert view["result_size_bytes"] > size_bytes
    [delivery] = deliveries_of(pipeline, job)
    assert delivery["body_bytes"] > size_bytes
    body = download(view)
    assert len(body) == view["result_size_bytes"]
    assert hashlib.sha256(body).hexdigest() == view["result_sha256"]
    assert b"callback_secret" in body
    assert f'"callback_secret":"{_secret_of(pipeline, job)}"'.encode() not in body
    assert f'"request_id":"{job["request_id"]}"'.encode() in body[:4096]  # metadata comes first
    assert b'"speaker":1' in body
    assert view["summary"]["words"] > size_bytes // 400  # about 300 bytes a word, utterances repeating it
    assert delivery_objects(pipeline) == []
    assert pipeline.settle() == []


def _secret_of(pipeline: Pipeline, job: dict[str, Any]) -> str:
    return callback_secret(pipeline.signing_key(), job["id"])


def test_a_20_mb_diarized_result_is_delivered_through_s3(pipeline: Pipeline) -> None:
    job, view, _ = _large_result(pipeline, 20 * MB)

    _check_large(pipeline, job, view, 20 * MB)


@pytest.mark.large
def test_a_100_mb_diarized_result_is_delivered_through_s3(pipeline: Pipeline) -> None:
    """LARGE: 100 MB through the emulator, moto's S3 and the finisher (about 30 s here)."""
    job, view, elapsed = _large_result(pipeline, 100 * MB)

    _check_large(pipeline, job, view, 100 * MB)
    assert elapsed < 90, f"took {elapsed:.0f} s"
