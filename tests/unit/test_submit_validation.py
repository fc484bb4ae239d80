"""POST /transcriptions refuses invalid submissions with a 4xx naming the problem, before any
Deepgram call and without storing a job; the options allow-list stays within the SDK's parameters."""

from __future__ import annotations

import inspect
from collections.abc import Iterator
from typing import Any

import pytest
from deepgram.listen.v1.media.client import MediaClient

from functions.submit.models import RESERVED_OPTIONS, TranscriptionOptions
from tests.conftest import Stack
from tests.unit.conftest import HttpAnswer, scan_jobs, submit, submit_json
from tests.unit.deepgram_stub import DeepgramStub

AUDIO_URL = "https://media.example.com/calls/call-1.wav"
AUDIO_BYTES = b"RIFF\x24\x08\x00\x00WAVEfmt " + bytes(range(256))


@pytest.fixture
def no_side_effects(stack: Stack, deepgram: DeepgramStub) -> Iterator[None]:
    """A refused submission leaves Deepgram uncalled and the jobs table empty."""
    yield
    assert deepgram.requests == []
    assert scan_jobs(stack) == []


def refused(answer: HttpAnswer, status: int = 400) -> dict[str, Any]:
    assert answer.status == status, answer.body
    return answer.error


# --- options ---------------------------------------------------------------------------------------


def test_unknown_option_is_refused_by_name(no_side_effects: None):
    error = refused(submit_json({"url": AUDIO_URL, "options": {"fancy_mode": True}}))

    assert error["code"] == "invalid_request"
    assert "fancy_mode" in error["message"]


@pytest.mark.parametrize("name", sorted(RESERVED_OPTIONS))
def test_reserved_option_is_refused_by_name(name: str, no_side_effects: None):
    error = refused(submit_json({"url": AUDIO_URL, "options": {name: "https://attacker.example/"}}))

    assert f"'{name}'" in error["message"]
    assert "set by the service" in error["message"]


@pytest.mark.parametrize("name", sorted(RESERVED_OPTIONS))
def test_reserved_option_in_an_upload_query_is_refused_by_name(name: str, no_side_effects: None):
    answer = submit(body=AUDIO_BYTES, content_type="audio/wav", query={name: ["https://attacker.example/"]})

    error = refused(answer)
    assert f"'{name}'" in error["message"]


def test_unknown_option_in_an_upload_query_is_refused_by_name(no_side_effects: None):
    answer = submit(body=AUDIO_BYTES, content_type="audio/wav", query={"fancy_mode": ["true"]})

    assert "fancy_mode" in refused(answer)["message"]


@pytest.mark.parametrize(
    ("field", "value"),
    [("punctuate", "yes"), ("utt_split", "x"), ("keyterm", [1]), ("smart_format", 1), ("model", "a b")],
)
def test_option_of_the_wrong_type_is_refused_naming_the_field(field: str, value: Any, no_side_effects: None):
    error = refused(submit_json({"url": AUDIO_URL, "options": {field: value}}))

    assert error["code"] == "invalid_request"
    assert f"options.{field}" in error["message"]


def test_option_of_the_wrong_type_in_an_upload_query_is_refused_naming_the_field(no_side_effects: None):
    answer = submit(body=AUDIO_BYTES, content_type="audio/wav", query={"punctuate": ["maybe"]})

    assert "options.punctuate" in refused(answer)["message"]


def test_options_must_be_an_object(no_side_effects: None):
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
        "https://media.example.com/" + "a" * 2048,
    ],
)
def test_bad_audio_url_is_refused(url: str, no_side_effects: None):
    error = refused(submit_json({"url": url}))

    assert error["code"] == "invalid_request"
    assert "url" in error["message"]


def test_missing_audio_url_is_refused(no_side_effects: None):
    assert "url" in refused(submit_json({"options": {"model": "nova-3"}}))["message"]


def test_audio_url_must_be_a_string(no_side_effects: None):
    assert "url" in refused(submit_json({"url": ["https://media.example.com/a.wav"]}))["message"]


def test_unknown_top_level_field_is_refused_by_name(no_side_effects: None):
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
def test_invalid_metadata_is_refused(metadata: Any, no_side_effects: None):
    error = refused(submit_json({"url": AUDIO_URL, "metadata": metadata}))

    assert error["code"] == "invalid_request"
    assert "metadata" in error["message"]


def test_invalid_metadata_in_an_upload_query_is_refused(no_side_effects: None):
    answer = submit(body=AUDIO_BYTES, content_type="audio/wav", query={"metadata.bad key": ["v"]})

    assert "metadata" in refused(answer)["message"]


def test_too_many_metadata_pairs_in_an_upload_query_are_refused(no_side_effects: None):
    query = {f"metadata.key{index}": ["v"] for index in range(9)}

    answer = submit(body=AUDIO_BYTES, content_type="audio/wav", query=query)

    assert "metadata" in refused(answer)["message"]


# --- the body itself ------------------------------------------------------------------------------


@pytest.mark.parametrize("document", [[AUDIO_URL], AUDIO_URL, 42, None, True])
def test_json_body_that_is_not_an_object_is_refused(document: Any, no_side_effects: None):
    error = refused(submit_json(document))

    assert error["code"] == "invalid_request"


@pytest.mark.parametrize("body", [b"{not json", b'{"url": ', b"\xff\xfe"])
def test_invalid_json_is_refused(body: bytes, no_side_effects: None):
    error = refused(submit(body=body))

    assert error["code"] == "invalid_json"


def test_json_without_a_body_is_refused(no_side_effects: None):
    assert refused(submit(body=b""))["code"] == "invalid_json"


def test_request_without_a_content_type_is_415(no_side_effects: None):
    refused(submit(body=b'{"url": "https://media.example.com/a.wav"}', content_type=None), 415)


# --- the allow-list matches the SDK ---------------------------------------------------------------


@pytest.mark.parametrize("method", ["transcribe_url", "transcribe_file"])
def test_every_allowed_option_is_a_keyword_parameter_of_the_sdk(method: str):
    parameters = inspect.signature(getattr(MediaClient, method)).parameters

    missing = [
        name
        for name in TranscriptionOptions.model_fields
        if name not in parameters or parameters[name].kind is not inspect.Parameter.KEYWORD_ONLY
    ]
    assert missing == []


def test_no_reserved_option_is_an_allowed_option():
    assert RESERVED_OPTIONS.isdisjoint(TranscriptionOptions.model_fields)


@pytest.mark.parametrize("value", ["line\nbreak", "bell\x07", "nul\x00"])
def test_metadata_values_with_control_characters_are_refused(value: str):
    """SNS refuses control characters in message attributes: the notification could never be sent."""
    answer = submit_json({"url": "https://example.com/a.wav", "metadata": {"customer": value}})

    assert answer.status == 400
    assert "metadata.customer" in answer.error["message"]


def test_options_too_large_for_the_job_record_are_refused():
    terms = ["t" * 250] * 100
    answer = submit_json(
        {"url": "https://example.com/a.wav", "options": {"keyterm": terms, "keywords": terms}}
    )

    assert answer.status == 400
    assert "options" in answer.error["message"]
