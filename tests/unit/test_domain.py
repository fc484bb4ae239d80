"""Pure domain modules: callback credentials, callback body reading, notification format."""

from __future__ import annotations

import base64
import json
from dataclasses import replace
from datetime import UTC, datetime
from urllib.parse import urlsplit

import pytest

from functions.core.callback_auth import (
    callback_secret,
    callback_url_with_credentials,
    dg_token_problem,
    is_valid_secret,
    parse_basic_authorization,
)
from functions.core.jobs import JobError, JobStatus, StoredResult, is_valid_job_id, new_job, new_job_id
from functions.core.notifications import build_notification
from functions.core.transcript import PREVIEW_CHARACTERS, InvalidCallbackBody, classify, summarize
from local.deepgram_emulator.payloads import generate_response

KEY = "signing-key"


def test_job_ids_are_hex_without_underscores() -> None:
    job_id = new_job_id()
    assert is_valid_job_id(job_id)
    assert "_" not in job_id
    assert not is_valid_job_id("../" + job_id[3:])


def test_callback_secrets_are_per_job_and_per_key() -> None:
    job = new_job_id()
    assert callback_secret(KEY, job) == callback_secret(KEY, job)
    assert callback_secret(KEY, job) != callback_secret(KEY, new_job_id())
    assert callback_secret(KEY, job) != callback_secret("another-key", job)
    assert is_valid_secret(KEY, job, callback_secret(KEY, job))
    assert not is_valid_secret(KEY, job, callback_secret(KEY, job)[:-1])


@pytest.mark.parametrize(
    ("base", "host", "port", "path"),
    [
        ("https://abc.lambda-url.us-east-1.on.aws/", "abc.lambda-url.us-east-1.on.aws", None, "/"),
        ("https://abc.lambda-url.us-east-1.on.aws", "abc.lambda-url.us-east-1.on.aws", None, "/"),
        ("http://127.0.0.1:8080/", "127.0.0.1", 8080, "/"),
        ("https://hooks.example.com/deepgram/callback", "hooks.example.com", None, "/deepgram/callback"),
    ],
)
def test_callback_url_carries_the_credentials_before_the_host(
    base: str, host: str, port: int | None, path: str
) -> None:
    job = new_job_id()
    secret = callback_secret(KEY, job)

    url = urlsplit(callback_url_with_credentials(base, job, secret))

    assert (url.username, url.password, url.hostname, url.port, url.path) == (job, secret, host, port, path)
    assert "_" not in url.geturl()


def _basic(raw: str) -> str:
    return "Basic " + base64.b64encode(raw.encode()).decode()


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        (_basic("job:secret"), ("job", "secret")),
        (_basic("job:sec:ret"), ("job", "sec:ret")),
        ("basic " + base64.b64encode(b"job:secret").decode(), ("job", "secret")),
        (None, None),
        ("", None),
        ("Bearer abc", None),
        ("Basic", None),
        ("Basic !!!", None),
        (_basic("no-separator"), None),
        ("Basic " + base64.b64encode(b"\xff\xfe:x").decode(), None),
    ],
)
def test_basic_authorization_parsing(header: str | None, expected: tuple[str, str] | None) -> None:
    parsed = parse_basic_authorization(header)
    assert (None if parsed is None else (parsed.username, parsed.password)) == expected


@pytest.mark.parametrize(
    ("mode", "presented", "problem"),
    [
        ("off", None, None),
        ("off", "wrong", None),
        ("if-present", None, None),
        ("if-present", "key-id", None),
        ("if-present", "wrong", "dg_token_mismatch"),
        ("required", None, "dg_token_missing"),
        ("required", "key-id", None),
        ("required", "wrong", "dg_token_mismatch"),
    ],
)
def test_dg_token_modes(mode: str, presented: str | None, problem: str | None) -> None:
    assert dg_token_problem(mode, ("key-id",), presented) == problem


def test_a_success_body_is_classified_with_its_request_id() -> None:
    outcome = classify(generate_response(duration_seconds=5, request_id="r-1"))
    assert (outcome.succeeded, outcome.request_id, outcome.error) == (True, "r-1", None)


def test_an_error_body_is_classified_as_a_failure_with_deepgrams_reason() -> None:
    outcome = classify({"err_code": "SLOW_UPLOAD", "err_msg": "too slow", "request_id": "r-2"})
    assert not outcome.succeeded
    assert outcome.request_id == "r-2"
    assert outcome.error == JobError(code="SLOW_UPLOAD", message="too slow")


def test_a_body_that_is_neither_is_invalid() -> None:
    with pytest.raises(InvalidCallbackBody):
        classify({"metadata": {"request_id": "r-3"}})


def test_the_summary_is_small_whatever_the_transcript_length() -> None:
    summary = summarize(generate_response(duration_seconds=3600))
    assert summary["words"] > 5000
    assert summary["duration_seconds"] == pytest.approx(3600, rel=0.05)
    assert summary["channels"] == 1
    assert 0 <= summary["confidence"] <= 1
    assert len(summary["transcript_preview"]) <= PREVIEW_CHARACTERS + 1
    assert summary["transcript_preview"].endswith("…")


def test_a_summary_of_a_malformed_success_body_does_not_raise() -> None:
    summary = summarize({"results": {"channels": "not-a-list"}, "metadata": None})
    assert summary["words"] == 0
    assert summary["transcript_preview"] == ""


def test_notifications_carry_event_type_status_and_metadata_attributes() -> None:
    job = new_job(
        source={"type": "url", "url": "https://example.com/a.wav"},
        options={},
        metadata={"customer": "acme", "priority": "high"},
        retention_days=1,
        now=datetime.now(UTC),
    )
    failed = replace(job, status=JobStatus.FAILED, error=JobError("SLOW_UPLOAD", "too slow"))

    notification = build_notification(failed)

    assert notification.attributes == {
        "event_type": "transcription.failed",
        "status": "failed",
        "metadata.customer": "acme",
        "metadata.priority": "high",
    }
    message = json.loads(notification.message)
    assert message["error"] == {"code": "SLOW_UPLOAD", "message": "too slow"}
    assert message["result_location"] == f"/transcriptions/{job.job_id}"


def test_a_notification_stays_far_below_the_sns_limit() -> None:
    job = new_job(
        source={"type": "url", "url": "https://example.com/a.wav"},
        options={},
        metadata={f"key{index}": "v" * 256 for index in range(8)},
        retention_days=1,
        now=datetime.now(UTC),
    )
    completed = replace(
        job,
        status=JobStatus.COMPLETED,
        summary=summarize(generate_response(duration_seconds=7200)),
        result=StoredResult(storage="s3", size_bytes=6_000_000, sha256="0" * 64, content_encoding="identity"),
    )

    assert len(build_notification(completed).message.encode()) < 8 * 1024


def test_any_of_several_key_ids_is_accepted_during_a_key_rotation() -> None:
    assert dg_token_problem("required", ("old-id", "new-id"), "new-id") is None
    assert dg_token_problem("required", ("old-id", "new-id"), "old-id") is None
    assert dg_token_problem("required", ("old-id", "new-id"), "other") == "dg_token_mismatch"


def test_failure_text_from_deepgram_is_bounded() -> None:
    outcome = classify({"err_code": "X" * 500, "err_msg": "y" * 300_000})
    assert outcome.error is not None
    assert len(outcome.error.code) <= 64
    assert len(outcome.error.message) <= 1024
