"""POST /transcriptions refuses invalid submissions with a 4xx naming the problem, before any
Deepgram call and without storing a job; the options allow-list stays within the SDK's parameters.

The handler parses the request before it asks `wiring.submitter()` for the submitter, so a refused
request never reaches it: `no_side_effects` replaces it with one that fails the test when asked,
which proves no job, no idempotency record and no Deepgram call without moto (the same refusals on
moto, with the table checked: `test_submit.py`, section 3)."""

from __future__ import annotations

import inspect
from collections.abc import Iterator
from typing import Any

import pytest
from deepgram.listen.v1.media.client import MediaClient

from functions.core.contract import SubmitLimits
from functions.submit import wiring
from functions.submit.idempotency import IdempotentSubmitter
from functions.submit.models import RESERVED_OPTIONS, TranscriptionOptions
from tests.unit.conftest import HttpAnswer, submit, submit_json

AUDIO_URL = "https://media.example.com/calls/call-1.wav"
AUDIO_BYTES = b"RIFF\x24\x08\x00\x00WAVEfmt " + bytes(range(256))


@pytest.fixture(autouse=True)
def no_side_effects(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """A refused submission never reaches the submitter (so no job, no Deepgram call)."""
    asked: list[str] = []

    def submitter() -> IdempotentSubmitter:
        asked.append("submitter")
        raise AssertionError("a refused submission reached the submitter")

    monkeypatch.setattr(wiring, "submitter", submitter)
    yield
    assert asked == []


def refused(answer: HttpAnswer, status: int = 400) -> dict[str, Any]:
    assert answer.status == status, answer.body
    return answer.error


# --- options ---------------------------------------------------------------------------------------


def test_unknown_option_is_refused_by_name() -> None:
    error = refused(submit_json({"url": AUDIO_URL, "options": {"fancy_mode": True}}))

    assert error["code"] == "invalid_request"
    assert "fancy_mode" in error["message"]


@pytest.mark.parametrize("name", sorted(RESERVED_OPTIONS))
def test_reserved_option_is_refused_by_name(name: str) -> None:
    error = refused(submit_json({"url": AUDIO_URL, "options": {name: "https://attacker.example/"}}))

    assert f"'{name}'" in error["message"]
    assert "set by the service" in error["message"]


@pytest.mark.parametrize("name", sorted(RESERVED_OPTIONS))
def test_reserved_option_in_an_upload_query_is_refused_by_name(name: str) -> None:
    answer = submit(body=AUDIO_BYTES, content_type="audio/wav", query={name: ["https://attacker.example/"]})

    error = refused(answer)
    assert f"'{name}'" in error["message"]


def test_unknown_option_in_an_upload_query_is_refused_by_name() -> None:
    answer = submit(body=AUDIO_BYTES, content_type="audio/wav", query={"fancy_mode": ["true"]})

    assert "fancy_mode" in refused(answer)["message"]


@pytest.mark.parametrize(
    ("field", "value"),
    [("punctuate", "yes"), ("utt_split", "x"), ("keyterm", [1]), ("smart_format", 1), ("model", "a b")],
)
def test_option_of_the_wrong_type_is_refused_naming_the_field(field: str, value: Any) -> None:
    error = refused(submit_json({"url": AUDIO_URL, "options": {field: value}}))

    assert error["code"] == "invalid_request"
    assert f"options.{field}" in error["message"]


def test_option_of_the_wrong_type_in_an_upload_query_is_refused_naming_the_field() -> None:
    answer = submit(body=AUDIO_BYTES, content_type="audio/wav", query={"punctuate": ["maybe"]})

    assert "options.punctuate" in refused(answer)["message"]


def test_options_must_be_an_object() -> None:
    error = refused(submit_json({"url": AUDIO_URL, "options": ["punctuate"]}))

    assert "options" in error["message"]


# --- the audio URL ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "url",
    [
        "ftp://media.example.com/a.wav",
        "file:///etc/passwd",
        "https://",
        "https:///a.wav",
        "media.example.com/a.wav",
        "https://media.example.com/" + "a" * SubmitLimits.AUDIO_URL_CHARACTERS,  # too long
    ],
)
def test_bad_audio_url_is_refused(url: str) -> None:
    error = refused(submit_json({"url": url}))

    assert error["code"] == "invalid_request"
    assert "url" in error["message"]


def test_missing_audio_url_is_refused() -> None:
    assert "url" in refused(submit_json({"options": {"model": "nova-3"}}))["message"]


def test_audio_url_must_be_a_string() -> None:
    assert "url" in refused(submit_json({"url": ["https://media.example.com/a.wav"]}))["message"]


def test_unknown_top_level_field_is_refused_by_name() -> None:
    assert "priority" in refused(submit_json({"url": AUDIO_URL, "priority": "high"}))["message"]


# --- metadata -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "metadata",
    [
        pytest.param({f"key{index}": "v" for index in range(9)}, id="too-many-pairs"),
        pytest.param({"bad key": "v"}, id="key-with-space"),
        pytest.param({"-leading": "v"}, id="key-leading-dash"),
        pytest.param({"k" * 65: "v"}, id="key-too-long"),
        pytest.param({"customer": ""}, id="empty-value"),
        pytest.param({"customer": "   "}, id="blank-value"),
        pytest.param({"customer": "v" * 257}, id="value-too-long"),
        pytest.param({"customer": 5}, id="number-value"),
        pytest.param({"customer": ["a"]}, id="list-value"),
        pytest.param(["customer"], id="not-an-object"),
    ],
)
def test_invalid_metadata_is_refused(metadata: Any) -> None:
    error = refused(submit_json({"url": AUDIO_URL, "metadata": metadata}))

    assert error["code"] == "invalid_request"
    assert "metadata" in error["message"]


def test_invalid_metadata_in_an_upload_query_is_refused() -> None:
    answer = submit(body=AUDIO_BYTES, content_type="audio/wav", query={"metadata.bad key": ["v"]})

    assert "metadata" in refused(answer)["message"]


def test_too_many_metadata_pairs_in_an_upload_query_are_refused() -> None:
    query = {f"metadata.key{index}": ["v"] for index in range(9)}

    answer = submit(body=AUDIO_BYTES, content_type="audio/wav", query=query)

    assert "metadata" in refused(answer)["message"]


# --- the body itself ------------------------------------------------------------------------------


@pytest.mark.parametrize("document", [[AUDIO_URL], AUDIO_URL, 42, None, True])
def test_json_body_that_is_not_an_object_is_refused(document: Any) -> None:
    error = refused(submit_json(document))

    assert error["code"] == "invalid_request"


@pytest.mark.parametrize("body", [b"{not json", b'{"url": ', b"\xff\xfe"])
def test_invalid_json_is_refused(body: bytes) -> None:
    error = refused(submit(body=body))

    assert error["code"] == "invalid_json"


def test_json_without_a_body_is_refused() -> None:
    assert refused(submit(body=b""))["code"] == "invalid_json"


def test_request_without_a_content_type_is_415() -> None:
    refused(submit(body=b'{"url": "https://media.example.com/a.wav"}', content_type=None), 415)


# --- the allow-list matches the SDK ---------------------------------------------------------------


@pytest.mark.parametrize("method", ["transcribe_url", "transcribe_file"])
def test_every_allowed_option_is_a_keyword_parameter_of_the_sdk(method: str) -> None:
    parameters = inspect.signature(getattr(MediaClient, method)).parameters

    missing = [
        name
        for name in TranscriptionOptions.model_fields
        if name not in parameters or parameters[name].kind is not inspect.Parameter.KEYWORD_ONLY
    ]
    assert missing == []


def test_no_reserved_option_is_an_allowed_option() -> None:
    assert RESERVED_OPTIONS.isdisjoint(TranscriptionOptions.model_fields)


@pytest.mark.parametrize("value", ["line\nbreak", "bell\x07", "nul\x00"])
def test_metadata_values_with_control_characters_are_refused(value: str) -> None:
    """SNS refuses control characters in message attributes: the notification could never be sent."""
    answer = submit_json({"url": "https://example.com/a.wav", "metadata": {"customer": value}})

    assert answer.status == 400
    assert "metadata.customer" in answer.error["message"]


def test_options_too_large_for_the_job_record_are_refused() -> None:
    terms = ["t" * 250] * 100
    answer = submit_json(
        {"url": "https://example.com/a.wav", "options": {"keyterm": terms, "keywords": terms}}
    )

    assert answer.status == 400
    assert "options" in answer.error["message"]
