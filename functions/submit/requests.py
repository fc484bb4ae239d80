"""Turning an HTTP request into a validated `SubmitRequest`, or a clear 4xx.

Two forms are accepted:

* `Content-Type: application/json` with `{"url", "options", "metadata"}`;
* the audio itself (`audio/*`, `video/*` or `application/octet-stream`; API Gateway hands binary
  bodies over base64-encoded) with options in the query string (`?model=nova-3&smart_format=true`,
  repeat a key for a list) and metadata as `metadata.<key>=<value>`.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from pydantic import ValidationError

from functions.submit.logic import AudioUpload, AudioUrl, SubmitRequest
from functions.submit.models import UploadParameters, UrlSubmission, describe

METADATA_QUERY_PREFIX = "metadata."
AUDIO_CONTENT_TYPES = ("audio/", "video/", "application/octet-stream")


class RequestError(Exception):
    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message


@dataclass(frozen=True)
class ParsedSubmission:
    request: SubmitRequest
    fingerprint: str  # identifies the submission's content, for Idempotency-Key reuse checks


def parse_submission(
    *,
    content_type: str,
    body: str | None,
    is_base64_encoded: bool,
    query: Mapping[str, Sequence[str]],
) -> ParsedSubmission:
    media_type = content_type.split(";", 1)[0].strip().lower()
    raw = _body_bytes(body, is_base64_encoded)
    if media_type == "application/json":
        if query:
            raise RequestError(
                400, "invalid_request", "with a JSON body, options go in the body, not the query"
            )
        return _parse_json(raw)
    if media_type.startswith(AUDIO_CONTENT_TYPES):
        return _parse_upload(raw, media_type, query)
    raise RequestError(
        415,
        "unsupported_media_type",
        "send application/json with an audio URL, or the audio itself as audio/* or application/octet-stream",
    )


def _body_bytes(body: str | None, is_base64_encoded: bool) -> bytes:
    if not body:
        return b""
    if not is_base64_encoded:
        return body.encode()
    try:
        return base64.b64decode(body, validate=True)
    except (binascii.Error, ValueError):
        raise RequestError(400, "invalid_request", "body is not valid base64") from None


def _parse_json(raw: bytes) -> ParsedSubmission:
    try:
        document = json.loads(raw)
    except (ValueError, UnicodeDecodeError):
        raise RequestError(400, "invalid_json", "body is not valid JSON") from None
    if not isinstance(document, dict):
        raise RequestError(400, "invalid_request", "body must be a JSON object")
    try:
        submission = UrlSubmission.model_validate(document, strict=True)
    except ValidationError as error:
        raise RequestError(400, "invalid_request", describe(error)) from None
    request = SubmitRequest(
        audio=AudioUrl(url=submission.url),
        options=submission.options.as_query(),
        metadata=dict(submission.metadata),
    )
    return ParsedSubmission(request=request, fingerprint=_fingerprint({"url": submission.url}, request))


def _parse_upload(raw: bytes, media_type: str, query: Mapping[str, Sequence[str]]) -> ParsedSubmission:
    if not raw:
        raise RequestError(400, "empty_audio", "the request body holds no audio")
    options: dict[str, Any] = {}
    metadata: dict[str, Any] = {}
    for name, values in query.items():
        value = values[0] if len(values) == 1 else list(values)
        if name.startswith(METADATA_QUERY_PREFIX):
            metadata[name.removeprefix(METADATA_QUERY_PREFIX)] = value
        else:
            options[name] = value
    try:
        parameters = UploadParameters.model_validate({"options": options, "metadata": metadata})
    except ValidationError as error:
        raise RequestError(400, "invalid_request", describe(error)) from None
    request = SubmitRequest(
        audio=AudioUpload(data=raw, content_type=media_type),
        options=parameters.options.as_query(),
        metadata=dict(parameters.metadata),
    )
    audio_digest = hashlib.sha256(raw).hexdigest()
    return ParsedSubmission(
        request=request, fingerprint=_fingerprint({"audio_sha256": audio_digest}, request)
    )


def _fingerprint(source: dict[str, str], request: SubmitRequest) -> str:
    canonical = json.dumps(
        {"source": source, "options": request.options, "metadata": request.metadata}, sort_keys=True
    )
    return hashlib.sha256(canonical.encode()).hexdigest()
