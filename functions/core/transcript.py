"""Reading Deepgram callback bodies: classification, correlation fields and a summary. No AWS.

A success body has the same shape as a synchronous `/v1/listen` response (`metadata` +
`results`). Failure callbacks are undocumented; the best evidence is a body without `results`
carrying `err_code` / `err_msg` (and `request_id`), which is what this module expects.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from functions.core.jobs import JobError

PREVIEW_CHARACTERS = 280
MAX_ERROR_CODE_CHARACTERS = 64
MAX_ERROR_MESSAGE_CHARACTERS = 1024
"""Failure bodies are undocumented and unbounded: their text is cut so that it always fits the job
item and the notification."""
MAX_REQUEST_ID_CHARACTERS = 128
MAX_LANGUAGE_CHARACTERS = 32
"""Every field the job item takes from a body is bounded, so the item stays far under DynamoDB's
400 KB whatever Deepgram (or a bug of Deepgram's) sends."""

MAX_SUMMARY_MAGNITUDE = 1e15
MIN_SUMMARY_MAGNITUDE = 1e-9
"""Numbers DynamoDB and strict JSON hold exactly: finite, at most 38 significant digits, magnitude
between 1e-130 and 1e125. A summary keeps a number only inside this far narrower, sensible range
(a duration, a count, a confidence); anything else is left out, never stored or published."""


class InvalidCallbackBody(ValueError):
    """The body is JSON but neither a transcript nor an error report."""


@dataclass(frozen=True)
class CallbackOutcome:
    succeeded: bool
    request_id: str | None
    error: JobError | None


def extra_fields(payload: dict[str, Any]) -> dict[str, Any]:
    """`metadata.extra` as Deepgram echoes the submit's `extra=key:value` pairs."""
    metadata = payload.get("metadata")
    extra = metadata.get("extra") if isinstance(metadata, dict) else None
    return extra if isinstance(extra, dict) else {}


def request_id_of(payload: dict[str, Any]) -> str | None:
    """The request id the body names, or None; `InvalidCallbackBody` if it cannot be one of Deepgram's."""
    metadata = payload.get("metadata")
    candidate = metadata.get("request_id") if isinstance(metadata, dict) else None
    candidate = candidate or payload.get("request_id")
    if not isinstance(candidate, str) or not candidate:
        return None
    if len(candidate) > MAX_REQUEST_ID_CHARACTERS or not candidate.isprintable() or not _encodable(candidate):
        raise InvalidCallbackBody("request_id is not a Deepgram request id")
    return candidate


def classify(payload: dict[str, Any]) -> CallbackOutcome:
    request_id = request_id_of(payload)
    if isinstance(payload.get("results"), dict):
        return CallbackOutcome(succeeded=True, request_id=request_id, error=None)
    code = payload.get("err_code")
    message = payload.get("err_msg")
    if isinstance(code, str) or isinstance(message, str):
        error = JobError(
            code=_text(code, MAX_ERROR_CODE_CHARACTERS) or "DEEPGRAM_ERROR",
            message=_text(message, MAX_ERROR_MESSAGE_CHARACTERS) or "Deepgram reported a failure",
        )
        return CallbackOutcome(succeeded=False, request_id=request_id, error=error)
    raise InvalidCallbackBody("body has neither 'results' nor 'err_code'/'err_msg'")


def summarize(payload: dict[str, Any]) -> dict[str, Any]:
    """A compact description of a success body, small enough for a notification."""
    metadata = _mapping(payload.get("metadata"))
    results = _mapping(payload.get("results"))
    channels = _sequence(results.get("channels"))
    first = _first_alternative(channels)
    transcript = first.get("transcript")
    words = _sequence(first.get("words"))
    summary: dict[str, Any] = {
        "duration_seconds": _number(metadata.get("duration")),
        "channels": _number(metadata.get("channels")) or len(channels),
        "confidence": _number(first.get("confidence")),
        "words": len(words),
        "transcript_preview": _preview(transcript if isinstance(transcript, str) else ""),
    }
    language = channels[0].get("detected_language") if channels and isinstance(channels[0], dict) else None
    if isinstance(language, str) and (bounded := _text(language, MAX_LANGUAGE_CHARACTERS)):
        summary["detected_language"] = bounded
    return summary


def _mapping(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _sequence(value: Any) -> list[Any]:
    return value if isinstance(value, list) else []


def _first_alternative(channels: list[Any]) -> dict[str, Any]:
    if channels and isinstance(channels[0], dict):
        alternatives = channels[0].get("alternatives")
        if isinstance(alternatives, list) and alternatives and isinstance(alternatives[0], dict):
            return alternatives[0]
    return {}


def _number(value: Any) -> float | int | None:
    """A finite number in the summary's range, else None (NaN, infinities, 1e400, 1e-200, 40 digits)."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    if isinstance(value, int):
        return value if abs(value) <= MAX_SUMMARY_MAGNITUDE else None
    if not math.isfinite(value) or abs(value) > MAX_SUMMARY_MAGNITUDE:
        return None
    return 0.0 if abs(value) < MIN_SUMMARY_MAGNITUDE else value


def _encodable(text: str) -> bool:
    """Whether UTF-8 can encode `text` (a JSON `\\ud800` escape gives a lone surrogate it cannot)."""
    try:
        text.encode()
    except UnicodeEncodeError:
        return False
    return True


def _text(value: Any, limit: int) -> str:
    """`value` as storable text: a string cut to `limit`, without what UTF-8 cannot encode."""
    if not isinstance(value, str):
        try:
            return "" if value is None else _text(str(value), limit)
        except ValueError:  # an integer too long to print
            return ""
    return value[:limit].encode("utf-8", "replace").decode()


def _preview(transcript: str) -> str:
    transcript = _text(transcript, PREVIEW_CHARACTERS + 1)
    if len(transcript) <= PREVIEW_CHARACTERS:
        return transcript
    cut = transcript.rfind(" ", 0, PREVIEW_CHARACTERS)
    return transcript[: cut if cut > 0 else PREVIEW_CHARACTERS] + "…"
