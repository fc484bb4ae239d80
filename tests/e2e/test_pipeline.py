"""The main job end to end over HTTP: submit -> Deepgram (emulator) -> callback -> DynamoDB/S3 -> SNS -> SQS.

Every request goes over loopback to the local gateway, which invokes the unchanged handlers; AWS
is moto's server, Deepgram the emulator with real offline recognition (or its synthetic mode
where recognition is beside the point).
"""

from __future__ import annotations

import base64
import hashlib
import json
import socket
from concurrent.futures import ThreadPoolExecutor
from typing import Any
from urllib.request import urlopen

import pytest

from functions.core.callback_auth import callback_secret
from tests.e2e.conftest import Pipeline

pytestmark = pytest.mark.e2e

ROBUST_WORDS = {"please", "leave", "message", "tone", "call", "back", "weather", "nice", "today"}
"""Words of the sample that PocketSphinx hears reliably: most of them must be recognised."""


def _alternative(result: dict[str, Any]) -> dict[str, Any]:
    return dict(result["results"]["channels"][0]["alternatives"][0])


def test_spoken_sample_is_transcribed_stored_and_notified(pipeline: Pipeline) -> None:
    job = pipeline.submit_audio(query="smart_format=true&metadata.customer=acme&metadata.ticket=T-42")
    assert job["status"] == "processing"
    assert job["request_id"]

    [notification] = pipeline.wait_for_notifications(1)
    message, attributes = notification["message"], notification["attributes"]
    assert attributes == {
        "event_type": "transcription.completed",
        "status": "completed",
        "metadata.customer": "acme",
        "metadata.ticket": "T-42",
    }
    assert message["job_id"] == job["id"]
    assert message["request_id"] == job["request_id"]
    assert message["metadata"] == {"customer": "acme", "ticket": "T-42"}
    assert message["summary"]["words"] > 5
    assert message["result_location"] == f"/transcriptions/{job['id']}"

    view = pipeline.job(job["id"])
    assert view["status"] == "completed"
    assert view["completed_at"] >= view["submitted_at"] >= view["created_at"]
    result = view["result"]
    assert result["metadata"]["request_id"] == job["request_id"]
    assert result["metadata"]["duration"] == pytest.approx(6.0, abs=0.5)
    alternative = _alternative(result)
    words = alternative["words"]
    heard = {word["word"] for word in words}
    assert len(heard & ROBUST_WORDS) >= 6, alternative["transcript"]
    assert alternative["transcript"].strip()
    for word in words:
        assert 0 <= word["start"] <= word["end"] <= result["metadata"]["duration"]
        assert 0.0 <= word["confidence"] <= 1.0
        assert word["punctuated_word"]  # smart_format was passed through to Deepgram
    starts = [word["start"] for word in words]
    assert starts == sorted(starts)
    assert pipeline.settle() == []  # exactly one notification


def test_callback_failing_three_times_then_succeeding_is_stored_once(pipeline: Pipeline) -> None:
    pipeline.emulator.set_faults(fail_next_deliveries=3, synthetic_duration_seconds=4)
    job = pipeline.submit_audio()

    [notification] = pipeline.wait_for_notifications(1)
    assert notification["message"]["job_id"] == job["id"]
    assert pipeline.settle() == []

    attempts = [item for item in pipeline.emulator.deliveries() if item["request_id"] == job["request_id"]]
    assert [(item["attempt"], item["injected"], item["delivered"]) for item in attempts] == [
        (1, True, False),
        (2, True, False),
        (3, True, False),
        (4, False, True),
    ]
    view = pipeline.job(job["id"])
    assert view["status"] == "completed"
    # What is stored is the delivered body with the job's 64-character secret (once, in
    # metadata.extra.callback_secret) replaced by "redacted".
    assert view["result_size_bytes"] == attempts[-1]["body_bytes"] - (64 - len("redacted"))
    assert view["result"]["metadata"]["extra"]["callback_secret"] == "redacted"


def test_duplicate_deliveries_store_one_result_and_notify_once(pipeline: Pipeline) -> None:
    pipeline.emulator.set_faults(duplicate_deliveries=True, synthetic_duration_seconds=3)
    job = pipeline.submit_audio()

    notifications = pipeline.wait_for_notifications(1) + pipeline.settle()
    assert [item["message"]["job_id"] for item in notifications] == [job["id"]]
    copies = [item for item in pipeline.emulator.deliveries() if item["request_id"] == job["request_id"]]
    assert sorted(item["copy"] for item in copies) == [1, 2]
    assert all(item["status_code"] == 200 for item in copies)  # the repeat is acknowledged too
    assert pipeline.job(job["id"])["status"] == "completed"


def test_large_result_goes_to_s3_and_downloads_through_a_presigned_url(pipeline: Pipeline) -> None:
    pipeline.emulator.set_faults(pad_result_to_bytes=3_000_000, synthetic_duration_seconds=60)
    job = pipeline.submit_audio()

    [notification] = pipeline.wait_for_notifications(1)
    assert notification["message"]["result"]["storage"] == "s3"
    view = pipeline.job(job["id"])
    assert view["status"] == "completed"
    assert "result" not in view
    assert view["result_size_bytes"] > 2_500_000
    with urlopen(view["result_url"], timeout=30) as response:  # presigned GET, served by moto's S3
        body = response.read()
    assert len(body) == view["result_size_bytes"]
    assert hashlib.sha256(body).hexdigest() == view["result_sha256"]
    result = json.loads(body)
    assert result["metadata"]["request_id"] == job["request_id"]
    assert len(_alternative(result)["words"]) > 10_000


def _closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.mark.parametrize("source", ["unreachable url", "undecodable audio"])
def test_a_deepgram_error_callback_fails_the_job(pipeline: Pipeline, source: str) -> None:
    if source == "unreachable url":
        job = pipeline.submit_url(f"http://127.0.0.1:{_closed_port()}/missing.wav", metadata={"case": "url"})
    else:
        job = pipeline.submit_audio(b"this is not a WAV file", query="metadata.case=audio")

    [notification] = pipeline.wait_for_notifications(1)
    assert notification["attributes"]["event_type"] == "transcription.failed"
    assert notification["attributes"]["status"] == "failed"
    assert notification["message"]["error"]["code"]
    view = pipeline.job(job["id"])
    assert view["status"] == "failed"
    assert view["error"] == notification["message"]["error"]
    assert "result" not in view
    assert pipeline.settle() == []


def test_forged_callbacks_are_rejected_and_change_nothing(pipeline: Pipeline) -> None:
    # Genuine deliveries fail (without being sent) so both jobs stay open while the forger tries.
    pipeline.emulator.set_faults(fail_next_deliveries=1000, synthetic_duration_seconds=1)
    job_a, job_b = pipeline.submit_audio(), pipeline.submit_audio()
    key = pipeline.signing_key()
    secret_a = callback_secret(key, job_a["id"])

    def basic(username: str, password: str) -> dict[str, str]:
        return {"Authorization": "Basic " + base64.b64encode(f"{username}:{password}".encode()).decode()}

    def body(request_id: str, **extra: str) -> bytes:
        result = {"channels": [{"alternatives": [{"transcript": "forged", "confidence": 1.0, "words": []}]}]}
        return json.dumps(
            {"metadata": {"request_id": request_id, "extra": extra}, "results": result}
        ).encode()

    forged = {
        "no credentials": (body(job_b["request_id"], job_id=job_b["id"]), {}),
        "wrong password": (body(job_b["request_id"]), basic(job_b["id"], "0" * 64)),
        "another job's secret in extra": (
            body(job_b["request_id"], job_id=job_b["id"], callback_secret=secret_a),
            {},
        ),
        "another job's basic credentials": (body(job_b["request_id"]), basic(job_a["id"], secret_a)),
        "wrong dg-token": (
            body(job_a["request_id"]),
            {**basic(job_a["id"], secret_a), "dg-token": "other-key-id"},
        ),
    }
    answers = {name: pipeline.callback(data, headers) for name, (data, headers) in forged.items()}
    codes = {name: (answer.status, answer.json()["error"]["code"]) for name, answer in answers.items()}
    assert codes == {
        "no credentials": (401, "missing_credentials"),
        "wrong password": (401, "bad_credentials"),
        "another job's secret in extra": (401, "bad_credentials"),
        "another job's basic credentials": (403, "request_mismatch"),
        "wrong dg-token": (401, "dg_token_mismatch"),
    }
    assert pipeline.callback(b"", method="GET").status == 405

    for job in (job_a, job_b):
        view = pipeline.job(job["id"])
        assert view["status"] == "processing"
        assert "result" not in view
    assert pipeline.stack.receive_notifications(wait_seconds=0) == []

    # The same endpoint accepts the genuine article: job A's credentials with job A's result.
    genuine = pipeline.callback(
        body(job_a["request_id"]), {**basic(job_a["id"], secret_a), "dg-token": "local-key-id"}
    )
    assert genuine.status == 200, genuine.body
    [notification] = pipeline.wait_for_notifications(1)
    assert notification["message"]["job_id"] == job_a["id"]
    assert pipeline.job(job_b["id"])["status"] == "processing"


def test_fifty_concurrent_jobs_all_complete_once(pipeline: Pipeline) -> None:
    pipeline.emulator.set_faults(synthetic_duration_seconds=2)
    count = 50
    with ThreadPoolExecutor(max_workers=count) as pool:
        jobs = list(pool.map(lambda n: pipeline.submit_audio(query=f"metadata.n={n}"), range(count)))
    submitted = {job["id"] for job in jobs}
    assert len(submitted) == count

    notifications = pipeline.wait_for_notifications(count, timeout=90) + pipeline.settle()
    notified = [item["message"]["job_id"] for item in notifications]
    assert len(notified) == count
    assert set(notified) == submitted
    assert {item["attributes"]["metadata.n"] for item in notifications} == {str(n) for n in range(count)}
    with ThreadPoolExecutor(max_workers=8) as pool:
        statuses = list(pool.map(lambda job_id: pipeline.job(job_id)["status"], submitted))
    assert statuses == ["completed"] * count
    delivered = [item for item in pipeline.emulator.deliveries() if item["delivered"]]
    assert len(delivered) == count
