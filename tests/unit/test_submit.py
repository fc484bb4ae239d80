"""POST /transcriptions through the real handler and the real Deepgram SDK, against a local stub.

What is tested here is the translation: HTTP parsing, status codes, headers and the error shape,
Idempotency-Key through Powertools on moto, the query string Deepgram receives from the SDK, the
adapters' reads and writes of the jobs table, logs and metrics. What the service decides (what is
stored when, what Deepgram is asked, refusals and dependency faults) is tested on the in-memory
fakes in `tests/service/test_submit_service.py`.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import boto3
import pytest

from functions.core.callback_auth import callback_secret
from functions.core.contract import DEEPGRAM_API_KEY_PLACEHOLDER
from functions.core.jobs import JobError, JobStatus
from tests.conftest import CALLBACK_BASE_URL, DEEPGRAM_API_KEY, SIGNING_KEY, Stack
from tests.faults import AwsFaults
from tests.unit.conftest import (
    HttpAnswer,
    deliver_callback,
    get_status,
    list_jobs,
    stored_job,
    submit,
    submit_json,
    transcript_for,
)
from tests.unit.deepgram_stub import DeepgramStub

AUDIO_URL = "https://media.example.com/calls/call-1.wav"
# Bytes that are not valid UTF-8, so any text decoding on the way would corrupt them.
AUDIO_BYTES = b"RIFF\x24\x08\x00\x00WAVEfmt " + bytes(range(256)) * 4


def submit_url(**kwargs: Any) -> HttpAnswer:
    return submit_json({"url": AUDIO_URL}, **kwargs)


def accepted(answer: HttpAnswer) -> dict[str, Any]:
    assert answer.status == 202, answer.body
    return dict(answer.body)


# --- 1. What Deepgram receives --------------------------------------------------------------


def test_deepgram_receives_a_post_to_v1_listen_with_the_audio_url(
    stack: Stack, deepgram: DeepgramStub
) -> None:
    accepted(submit_url())

    assert deepgram.last.method == "POST"
    assert deepgram.last.path == "/v1/listen"
    assert deepgram.last.json() == {"url": AUDIO_URL}


def test_the_query_string_carries_the_callback_credentials_and_extra(
    stack: Stack, deepgram: DeepgramStub
) -> None:
    """The SDK's encoding of what the service builds (the building: `test_submit_service`)."""
    job = accepted(submit_url())

    secret = callback_secret(SIGNING_KEY, job["id"])
    callbacks = deepgram.last.params["callback"]
    assert len(callbacks) == 1
    assert "_" not in callbacks[0]
    callback = urlsplit(callbacks[0])
    configured = urlsplit(CALLBACK_BASE_URL)
    assert callback.scheme == configured.scheme
    assert callback.hostname == configured.hostname
    assert callback.port == configured.port
    assert callback.path == configured.path
    assert callback.username == job["id"]
    assert callback.password == secret
    assert sorted(deepgram.last.params["extra"]) == sorted(
        [f"job_id:{job['id']}", f"callback_secret:{secret}"]
    )


def test_callback_method_is_post_by_default_and_put_when_configured(
    stack: Stack, deepgram: DeepgramStub, configure: Callable[..., None]
) -> None:
    accepted(submit_url())
    assert deepgram.last.params["callback_method"] == ["post"]

    configure(CALLBACK_METHOD="PUT")
    accepted(submit_url())

    assert deepgram.last.params["callback_method"] == ["put"]


def test_client_options_reach_deepgram_as_query_parameters(stack: Stack, deepgram: DeepgramStub) -> None:
    options = {
        "model": "nova-3",
        "smart_format": True,
        "punctuate": False,
        "keyterm": ["Deepgram", "Lambda"],
        "utt_split": 0.8,
        "tag": "team-a",
    }

    accepted(submit_json({"url": AUDIO_URL, "options": options}))

    params = deepgram.last.params
    assert params["model"] == ["nova-3"]
    assert params["smart_format"] == ["true"]
    assert params["punctuate"] == ["false"]
    assert params["keyterm"] == ["Deepgram", "Lambda"]
    assert float(params["utt_split"][0]) == 0.8
    assert params["tag"] == ["team-a"]
    assert set(params) == {*options, "callback", "callback_method", "extra"}


def test_deepgram_is_authorised_with_the_key_from_secrets_manager(
    stack: Stack, deepgram: DeepgramStub
) -> None:
    accepted(submit_url())

    assert deepgram.last.headers["authorization"] == f"Token {DEEPGRAM_API_KEY}"


def test_api_key_secret_may_be_a_json_object(stack: Stack, deepgram: DeepgramStub) -> None:
    boto3.client("secretsmanager").put_secret_value(
        SecretId=stack.resources.deepgram_secret_arn, SecretString=json.dumps({"api_key": "json-held-key"})
    )

    accepted(submit_url())

    assert deepgram.last.headers["authorization"] == "Token json-held-key"


def test_the_placeholder_key_is_reported_without_calling_deepgram(
    stack: Stack, deepgram: DeepgramStub
) -> None:
    boto3.client("secretsmanager").put_secret_value(
        SecretId=stack.resources.deepgram_secret_arn, SecretString=DEEPGRAM_API_KEY_PLACEHOLDER
    )

    answer = submit_url()

    assert answer.status == 502
    assert answer.error["code"] == "deepgram_key_not_configured"
    assert deepgram.requests == []


def test_no_log_line_carries_the_callback_secret(
    stack: Stack, deepgram: DeepgramStub, caplog: pytest.LogCaptureFixture, capsys: pytest.CaptureFixture[str]
) -> None:
    """httpx logs request URLs at INFO, and Deepgram's URL carries the per-job credentials."""
    caplog.set_level(logging.DEBUG)
    logging.getLogger().setLevel(logging.INFO)

    job = accepted(submit_url())

    secret = callback_secret(SIGNING_KEY, job["id"])
    captured = capsys.readouterr()
    assert secret not in caplog.text + captured.out + captured.err
    assert DEEPGRAM_API_KEY not in caplog.text + captured.out + captured.err


# --- 2. The accepted JSON submission ------------------------------------------------------------


def test_url_submission_answers_202_with_the_job_and_stores_it(stack: Stack, deepgram: DeepgramStub) -> None:
    answer = submit_json({"url": AUDIO_URL, "options": {"model": "nova-3"}, "metadata": {"customer": "acme"}})

    job = accepted(answer)
    assert job["status"] == "processing"
    assert job["request_id"] == deepgram.last.request_id
    assert job["metadata"] == {"customer": "acme"}
    assert job["options"] == {"model": "nova-3"}
    assert job["source"] == {"type": "url", "url": AUDIO_URL}
    assert answer.headers["location"] == f"/transcriptions/{job['id']}"
    stored = stored_job(stack, job["id"])
    assert stored.status is JobStatus.PROCESSING
    assert stored.request_id == deepgram.last.request_id
    assert stored.metadata == {"customer": "acme"}
    assert stored.options == {"model": "nova-3"}


# --- 3. Audio uploads -----------------------------------------------------------------------------


def test_audio_upload_sends_the_exact_bytes_to_deepgram(stack: Stack, deepgram: DeepgramStub) -> None:
    job = accepted(submit(body=AUDIO_BYTES, content_type="audio/wav"))

    assert deepgram.last.path == "/v1/listen"
    assert deepgram.last.body == AUDIO_BYTES
    assert job["source"]["type"] == "upload"
    assert job["source"]["size_bytes"] == len(AUDIO_BYTES)


def test_audio_upload_takes_options_and_metadata_from_the_query_string(
    stack: Stack, deepgram: DeepgramStub
) -> None:
    query = {
        "model": ["nova-3"],
        "smart_format": ["true"],
        "keyterm": ["alpha", "beta"],
        "metadata.customer": ["acme"],
    }

    job = accepted(submit(body=AUDIO_BYTES, content_type="audio/wav", query=query))

    params = deepgram.last.params
    assert params["model"] == ["nova-3"]
    assert params["smart_format"] == ["true"]
    assert params["keyterm"] == ["alpha", "beta"]
    assert not any(name.startswith("metadata") for name in params)
    assert job["options"] == {"model": "nova-3", "smart_format": True, "keyterm": ["alpha", "beta"]}
    assert job["metadata"] == {"customer": "acme"}


def test_empty_audio_upload_is_400(stack: Stack, deepgram: DeepgramStub) -> None:
    answer = submit(body=b"", content_type="audio/wav")

    assert answer.status == 400
    assert answer.error["code"] == "empty_audio"
    assert deepgram.requests == []
    assert list_jobs(stack) == []


def test_unsupported_content_type_is_415(stack: Stack, deepgram: DeepgramStub) -> None:
    answer = submit(body=b"hello", content_type="text/plain")

    assert answer.status == 415
    assert answer.error["code"] == "unsupported_media_type"
    assert deepgram.requests == []
    assert list_jobs(stack) == []


def test_json_body_with_query_options_is_400(stack: Stack, deepgram: DeepgramStub) -> None:
    answer = submit_json({"url": AUDIO_URL}, query={"model": ["nova-3"]})

    assert answer.status == 400
    assert answer.error["code"] == "invalid_request"
    assert deepgram.requests == []
    assert list_jobs(stack) == []


# --- 4. Idempotency-Key -------------------------------------------------------------------------


def test_same_idempotency_key_and_body_return_the_same_job_with_one_deepgram_call(
    stack: Stack, deepgram: DeepgramStub
) -> None:
    first = submit_url(headers={"Idempotency-Key": "key-1"})
    second = submit_url(headers={"Idempotency-Key": "key-1"})

    assert accepted(second) == accepted(first)
    assert second.headers["location"] == first.headers["location"]
    assert len(deepgram.requests) == 1
    assert [job.job_id for job in list_jobs(stack)] == [accepted(first)["id"]]


def test_same_idempotency_key_with_a_different_body_is_422(stack: Stack, deepgram: DeepgramStub) -> None:
    accepted(submit_url(headers={"Idempotency-Key": "key-1"}))

    answer = submit_json(
        {"url": AUDIO_URL, "options": {"model": "nova-3"}}, headers={"Idempotency-Key": "key-1"}
    )

    assert answer.status == 422
    assert answer.error["code"] == "idempotency_key_reused"
    assert len(deepgram.requests) == 1


def test_same_idempotency_key_from_different_callers_makes_two_jobs(
    stack: Stack, deepgram: DeepgramStub
) -> None:
    alice = accepted(
        submit_url(headers={"Idempotency-Key": "shared"}, user_arn="arn:aws:iam::123456789012:user/alice")
    )
    bob = accepted(
        submit_url(headers={"Idempotency-Key": "shared"}, user_arn="arn:aws:iam::123456789012:user/bob")
    )

    assert alice["id"] != bob["id"]
    assert len(deepgram.requests) == 2


def test_idempotency_keys_of_an_assumed_role_survive_a_new_session(
    stack: Stack, deepgram: DeepgramStub
) -> None:
    role = "arn:aws:sts::123456789012:assumed-role/transcriber"

    first = accepted(submit_url(headers={"Idempotency-Key": "k"}, user_arn=f"{role}/session-1"))
    second = accepted(submit_url(headers={"Idempotency-Key": "k"}, user_arn=f"{role}/session-2"))

    assert first["id"] == second["id"]
    assert len(deepgram.requests) == 1


def test_without_idempotency_key_each_submission_makes_a_job(stack: Stack, deepgram: DeepgramStub) -> None:
    first = accepted(submit_url())
    second = accepted(submit_url())

    assert first["id"] != second["id"]
    assert len(deepgram.requests) == 2
    assert sorted(job.job_id for job in list_jobs(stack)) == sorted([first["id"], second["id"]])


def test_a_clear_refusal_is_not_remembered_under_the_idempotency_key(
    stack: Stack, deepgram: DeepgramStub
) -> None:
    deepgram.respond(400, {"err_code": "REMOTE_CONTENT_ERROR", "err_msg": "could not fetch the audio"})
    assert submit_url(headers={"Idempotency-Key": "key-1"}).status == 400
    deepgram.respond(200)

    retried = accepted(submit_url(headers={"Idempotency-Key": "key-1"}))

    assert len(deepgram.requests) == 2
    assert retried["request_id"] == deepgram.last.request_id


def test_a_retry_after_an_ambiguous_failure_returns_the_same_job_without_resubmitting(
    stack: Stack, deepgram: DeepgramStub
) -> None:
    """After a 5xx Deepgram may hold the job: the same Idempotency-Key must not start a second one."""
    deepgram.respond(503, {"err_code": "UNAVAILABLE", "err_msg": "try later"})

    first = submit_url(headers={"Idempotency-Key": "retry-me"})
    deepgram.respond(200, {"request_id": "0f0f0f0f-0000-4000-8000-000000000000"})
    second = submit_url(headers={"Idempotency-Key": "retry-me"})

    assert first.status == second.status == 502
    assert first.error == second.error
    assert second.headers["retry-after"] == first.headers["retry-after"]
    assert len(deepgram.requests) == 1


def test_overlong_idempotency_key_is_400(stack: Stack, deepgram: DeepgramStub) -> None:
    answer = submit_url(headers={"Idempotency-Key": "k" * 256})

    assert answer.status == 400
    assert answer.error["code"] == "invalid_idempotency_key"
    assert deepgram.requests == []


# --- 5. Metrics and logs: a replay is not a new job ---------------------------------------------


@dataclass(frozen=True)
class Emitted:
    """What one invocation printed: its EMF metric names and its log messages."""

    metrics: list[str]
    messages: list[str]


def emitted(capsys: pytest.CaptureFixture[str], caplog: pytest.LogCaptureFixture) -> Emitted:
    """The EMF lines printed to stdout since the last call, and the submit function's log messages."""
    metrics: list[str] = []
    for line in capsys.readouterr().out.splitlines():
        document = json.loads(line) if line.startswith("{") else {}
        for directive in document.get("_aws", {}).get("CloudWatchMetrics", []):
            metrics += [metric["Name"] for metric in directive["Metrics"] for _ in document[metric["Name"]]]
    messages = [record.getMessage() for record in caplog.records if record.name == "submit"]
    caplog.clear()
    return Emitted(metrics=metrics, messages=messages)


@pytest.mark.filterwarnings("ignore:No application metrics to publish")
def test_an_idempotent_replay_is_neither_counted_nor_logged_as_a_new_job(
    stack: Stack, deepgram: DeepgramStub, capsys: pytest.CaptureFixture[str], caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    emitted(capsys, caplog)

    first = accepted(submit_url(headers={"Idempotency-Key": "count-once"}))
    original = emitted(capsys, caplog)
    replay = accepted(submit_url(headers={"Idempotency-Key": "count-once"}))
    replayed = emitted(capsys, caplog)

    assert replay["id"] == first["id"]
    assert original.metrics == ["JobsSubmitted"]
    assert "job submitted" in original.messages
    assert "JobsSubmitted" not in replayed.metrics
    assert "JobsFailed" not in replayed.metrics
    assert "job submitted" not in replayed.messages
    assert "idempotent replay" in replayed.messages


def test_a_replayed_ambiguous_failure_counts_one_failed_job(
    stack: Stack, deepgram: DeepgramStub, capsys: pytest.CaptureFixture[str], caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    deepgram.respond(503, {"err_code": "UNAVAILABLE", "err_msg": "try later"})
    emitted(capsys, caplog)

    first = submit_url(headers={"Idempotency-Key": "fail-once"})
    original = emitted(capsys, caplog)
    replay = submit_url(headers={"Idempotency-Key": "fail-once"})
    replayed = emitted(capsys, caplog)

    assert first.status == replay.status == 502
    assert original.metrics.count("JobsFailed") == 1
    assert "Deepgram did not take the job" in original.messages
    assert "JobsFailed" not in replayed.metrics
    assert "JobsSubmitted" not in original.metrics + replayed.metrics
    assert "Deepgram did not take the job" not in replayed.messages
    assert "idempotent replay" in replayed.messages
    assert len(deepgram.requests) == 1


# --- 6. Deepgram's errors ------------------------------------------------------------------------


def refused(
    stack: Stack, answer: HttpAnswer, status: int, code: str, *, ambiguous: bool = False
) -> dict[str, Any]:
    """The error of a submission Deepgram refused; checks the job is stored failed with it."""
    assert answer.status == status, answer.body
    error = answer.error
    assert error["code"] == code
    job = stored_job(stack, error["job_id"])
    assert job.status is JobStatus.FAILED
    assert job.error == JobError(code=error["code"], message=error["message"])
    assert job.submit_error_ambiguous is ambiguous
    return error


def test_deepgram_invalid_query_parameter_is_a_400_carrying_deepgrams_message(
    stack: Stack, deepgram: DeepgramStub
) -> None:
    deepgram.respond(
        400,
        {"err_code": "INVALID_QUERY_PARAMETER", "err_msg": "Invalid model: nova-99.", "request_id": "r-1"},
    )

    error = refused(stack, submit_url(), 400, "deepgram_rejected")

    assert error["message"] == "Invalid model: nova-99."


def test_deepgram_refusal_of_an_upload_is_a_400_carrying_deepgrams_message(
    stack: Stack, deepgram: DeepgramStub
) -> None:
    deepgram.respond(400, {"err_code": "Bad Request", "err_msg": "corrupt or unsupported data"})

    error = refused(stack, submit(body=AUDIO_BYTES, content_type="audio/wav"), 400, "deepgram_rejected")

    assert error["message"] == "corrupt or unsupported data"


def test_a_refused_job_reads_back_failed_through_the_status_function(
    stack: Stack, deepgram: DeepgramStub
) -> None:
    deepgram.respond(400, {"err_code": "REMOTE_CONTENT_ERROR", "err_msg": "could not fetch the audio"})

    error = refused(stack, submit_url(), 400, "deepgram_rejected")

    assert error["message"] == "could not fetch the audio"
    view = get_status(error["job_id"])
    assert view.status == 200
    assert view.body["status"] == "failed"
    assert view.body["error"] == {"code": error["code"], "message": error["message"]}


def test_deepgram_401_is_a_502_that_does_not_reveal_the_key(stack: Stack, deepgram: DeepgramStub) -> None:
    deepgram.respond(401, {"err_code": "INVALID_AUTH", "err_msg": f"Invalid credentials: {DEEPGRAM_API_KEY}"})

    answer = submit_url()

    refused(stack, answer, 502, "deepgram_auth_failed")
    assert DEEPGRAM_API_KEY not in json.dumps(answer.body)
    assert DEEPGRAM_API_KEY not in json.dumps(answer.headers)
    assert DEEPGRAM_API_KEY not in json.dumps(get_status(answer.error["job_id"]).body)


@pytest.mark.parametrize(
    ("deepgram_status", "err_code", "code"),
    [
        (402, "ASR_PAYMENT_REQUIRED", "deepgram_payment_required"),
        (403, "INSUFFICIENT_PERMISSIONS", "deepgram_forbidden"),
    ],
)
def test_deepgram_account_problems_are_502(
    stack: Stack, deepgram: DeepgramStub, deepgram_status: int, err_code: str, code: str
) -> None:
    deepgram.respond(deepgram_status, {"err_code": err_code, "err_msg": "no"})

    refused(stack, submit_url(), 502, code)


def test_deepgram_429_is_passed_on_with_deepgrams_retry_after(stack: Stack, deepgram: DeepgramStub) -> None:
    deepgram.respond(
        429, {"err_code": "TOO_MANY_REQUESTS", "err_msg": "slow down"}, headers={"Retry-After": "17"}
    )

    answer = submit_url()

    refused(stack, answer, 429, "deepgram_rate_limited")
    assert answer.headers["retry-after"] == "17"
    assert len(deepgram.requests) == 1


def test_deepgram_429_without_retry_after_still_gets_one(stack: Stack, deepgram: DeepgramStub) -> None:
    deepgram.respond(429, {"err_code": "TOO_MANY_REQUESTS", "err_msg": "slow down"})

    answer = submit_url()

    assert answer.status == 429
    assert int(answer.headers["retry-after"]) > 0


@pytest.mark.parametrize("deepgram_status", [500, 503])
def test_deepgram_5xx_is_an_ambiguous_502_that_is_made_once(
    stack: Stack, deepgram: DeepgramStub, deepgram_status: int
) -> None:
    deepgram.respond(deepgram_status, {"err_code": "INTERNAL", "err_msg": "oops"})

    refused(stack, submit_url(), 502, "deepgram_unavailable", ambiguous=True)

    assert len(deepgram.requests) == 1


def test_after_a_deepgram_5xx_the_job_stays_open_to_a_late_callback(
    stack: Stack, deepgram: DeepgramStub
) -> None:
    deepgram.respond(503, {"err_code": "INTERNAL", "err_msg": "oops"})
    job_id = refused(stack, submit_url(), 502, "deepgram_unavailable", ambiguous=True)["job_id"]

    delivered = deliver_callback(job_id, transcript_for(job_id, "late-request-id"))

    assert delivered.status == 200
    assert get_status(job_id).body["status"] == "completed"


def test_deepgram_timeout_is_a_504_and_the_job_stays_open(
    stack: Stack, deepgram: DeepgramStub, configure: Callable[..., None]
) -> None:
    configure(DEEPGRAM_TIMEOUT_SECONDS="1")
    deepgram.respond(200, delay_seconds=5)

    refused(stack, submit_url(), 504, "deepgram_timeout", ambiguous=True)

    assert len(deepgram.requests) == 1


def test_deepgram_408_is_an_ambiguous_timeout(stack: Stack, deepgram: DeepgramStub) -> None:
    deepgram.respond(408, {"err_code": "TIMEOUT", "err_msg": "slow upload"})

    refused(stack, submit_url(), 504, "deepgram_timeout", ambiguous=True)


def test_deepgram_unreachable_is_a_502_that_is_not_ambiguous(stack: Stack, deepgram: DeepgramStub) -> None:
    deepgram.close()

    refused(stack, submit_url(), 502, "deepgram_unreachable", ambiguous=False)


def test_an_unreadable_deepgram_answer_is_an_ambiguous_502(stack: Stack, deepgram: DeepgramStub) -> None:
    deepgram.respond(200, ["not", "an", "object"])  # type: ignore[arg-type]

    answer = submit_url()

    assert answer.status == 502
    assert stored_job(stack, answer.error["job_id"]).submit_error_ambiguous is True


def test_deepgrams_message_never_echoes_callback_credentials(stack: Stack, deepgram: DeepgramStub) -> None:
    deepgram.respond(
        400,
        {"err_msg": "bad callback https://abc:0123abcd@host/ with extra callback_secret:0123abcdef"},
    )

    answer = submit_url()

    assert "0123abcd" not in json.dumps(answer.body)
    assert "[redacted]" in answer.error["message"]


# --- 7. Dependency faults ------------------------------------------------------------------------


def test_jobs_table_write_failure_is_503_without_calling_deepgram(
    stack: Stack, deepgram: DeepgramStub, aws_faults: AwsFaults
) -> None:
    fault = aws_faults.fail("dynamodb", "PutItem", times=None, table=stack.resources.names.jobs_table)

    answer = submit_url()

    assert answer.status == 503
    assert answer.error["code"] == "service_unavailable"
    assert int(answer.headers["retry-after"]) > 0
    assert fault.calls >= 1
    assert deepgram.requests == []
    assert list_jobs(stack) == []


def test_idempotency_table_failure_is_503_without_calling_deepgram(
    stack: Stack, deepgram: DeepgramStub, aws_faults: AwsFaults
) -> None:
    fault = aws_faults.fail("dynamodb", "PutItem", times=None, table=stack.resources.names.idempotency_table)

    answer = submit_url(headers={"Idempotency-Key": "key-1"})

    assert answer.status == 503
    assert answer.error["code"] == "service_unavailable"
    assert int(answer.headers["retry-after"]) > 0
    assert fault.calls >= 1
    assert deepgram.requests == []


def test_a_job_whose_request_id_was_not_recorded_answers_202_and_accepts_its_callback(
    stack: Stack, deepgram: DeepgramStub, aws_faults: AwsFaults
) -> None:
    fault = aws_faults.fail("dynamodb", "UpdateItem", times=None, table=stack.resources.names.jobs_table)
    job = accepted(submit_url())
    fault.stop()

    assert fault.calls >= 1
    assert job["status"] == "processing"
    assert job["request_id"] == deepgram.last.request_id
    stored = stored_job(stack, job["id"])
    assert stored.status is JobStatus.QUEUED
    assert stored.request_id is None

    delivered = deliver_callback(job["id"], transcript_for(job["id"], job["request_id"]))

    assert delivered.status == 200
    view = get_status(job["id"]).body
    assert view["status"] == "completed"
    assert view["request_id"] == job["request_id"]
