"""Turning an HTTP request into a validated `SubmitRequest`, or a clear 4xx.

Two forms are accepted:

* `Content-Type: application/json` with `{"url", "options", "metadata", "delivery"}`;
* the audio itself (`audio/*`, `video/*` or `application/octet-stream`; API Gateway hands binary
  bodies over base64-encoded) with options in the query string (`?model=nova-3&smart_format=true`,
  repeat a key for a list), metadata as `metadata.<key>=<value>` and `delivery=callback|s3`.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
from collections.abc import Mapping, Sequence
from typing import Any

from pydantic import ValidationError

from functions.core.api_errors import ApiError
from functions.core.jobs import Delivery
from functions.core.ports import AudioUpload, AudioUrl
from functions.submit.models import UploadParameters, UrlSubmission, describe
from functions.submit.types import ParsedSubmission, SubmitRequest

METADATA_QUERY_PREFIX = "metadata."
DELIVERY_QUERY_PARAMETER = "delivery"
AUDIO_CONTENT_TYPES = ("audio/", "video/", "application/octet-stream")


class RequestError(ApiError):
    """The request itself is invalid (4xx)."""


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
        delivery=Delivery(submission.delivery) if submission.delivery else None,
    )
    return ParsedSubmission(request=request, fingerprint=_fingerprint({"url": submission.url}, request))


def _parse_upload(raw: bytes, media_type: str, query: Mapping[str, Sequence[str]]) -> ParsedSubmission:
    if not raw:
        raise RequestError(400, "empty_audio", "the request body holds no audio")
    options: dict[str, Any] = {}
    metadata: dict[str, Any] = {}
    delivery: dict[str, Any] = {}
    for name, values in query.items():
        value = values[0] if len(values) == 1 else list(values)
        if name.startswith(METADATA_QUERY_PREFIX):
            metadata[name.removeprefix(METADATA_QUERY_PREFIX)] = value
        elif name == DELIVERY_QUERY_PARAMETER:
            delivery[name] = value
        else:
            options[name] = value
    try:
        parameters = UploadParameters.model_validate({"options": options, "metadata": metadata, **delivery})
    except ValidationError as error:
        raise RequestError(400, "invalid_request", describe(error)) from None
    request = SubmitRequest(
        audio=AudioUpload(data=raw, content_type=media_type),
        options=parameters.options.as_query(),
        metadata=dict(parameters.metadata),
        delivery=Delivery(parameters.delivery) if parameters.delivery else None,
    )
    audio_digest = hashlib.sha256(raw).hexdigest()
    return ParsedSubmission(
        request=request, fingerprint=_fingerprint({"audio_sha256": audio_digest}, request)
    )


def _fingerprint(source: dict[str, str], request: SubmitRequest) -> str:
    described: dict[str, Any] = {"source": source, "options": request.options, "metadata": request.metadata}
    if (
        request.delivery is not None
    ):  # only when asked: the fingerprints of earlier requests stay as they were
        described["delivery"] = request.delivery.value
    canonical = json.dumps(described, sort_keys=True)
    return hashlib.sha256(canonical.encode()).hexdigest()
