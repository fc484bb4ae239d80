"""Reading Deepgram callback bodies: classification, correlation fields and a summary. No AWS.

A success body has the same shape as a synchronous `/v1/listen` response (`metadata` +
`results`). Failure callbacks are undocumented; the best evidence is a body without `results`
carrying `err_code` / `err_msg` (and `request_id`), which is what this module expects.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from functions.core.jobs import JobError

PREVIEW_CHARACTERS = 280
MAX_ERROR_CODE_CHARACTERS = 64
MAX_ERROR_MESSAGE_CHARACTERS = 1024
"""Failure bodies are undocumented and unbounded: their text is cut so that it always fits the job
item and the notification."""


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
    metadata = payload.get("metadata")
    candidate = metadata.get("request_id") if isinstance(metadata, dict) else None
    candidate = candidate or payload.get("request_id")
    return candidate if isinstance(candidate, str) and candidate else None


def classify(payload: dict[str, Any]) -> CallbackOutcome:
    request_id = request_id_of(payload)
    if isinstance(payload.get("results"), dict):
        return CallbackOutcome(succeeded=True, request_id=request_id, error=None)
    code = payload.get("err_code")
    message = payload.get("err_msg")
    if isinstance(code, str) or isinstance(message, str):
        error = JobError(
            code=str(code or "DEEPGRAM_ERROR")[:MAX_ERROR_CODE_CHARACTERS],
            message=str(message or "Deepgram reported a failure")[:MAX_ERROR_MESSAGE_CHARACTERS],
        )
        return CallbackOutcome(succeeded=False, request_id=request_id, error=error)
    raise InvalidCallbackBody("body has neither 'results' nor 'err_code'/'err_msg'")


def summarize(payload: dict[str, Any]) -> dict[str, Any]:
    """A compact description of a success body, small enough for a notification."""
    metadata = _mapping(payload.get("metadata"))
    results = _mapping(payload.get("results"))
    channels = _sequence(results.get("channels"))
    first = _first_alternative(channels)
    transcript = str(first.get("transcript") or "")
    words = _sequence(first.get("words"))
    summary: dict[str, Any] = {
        "duration_seconds": _number(metadata.get("duration")),
        "channels": _number(metadata.get("channels")) or len(channels),
        "confidence": _number(first.get("confidence")),
        "words": len(words),
        "transcript_preview": _preview(transcript),
    }
    language = channels[0].get("detected_language") if channels and isinstance(channels[0], dict) else None
    if isinstance(language, str):
        summary["detected_language"] = language
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
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return value


def _preview(transcript: str) -> str:
    if len(transcript) <= PREVIEW_CHARACTERS:
        return transcript
    cut = transcript.rfind(" ", 0, PREVIEW_CHARACTERS)
    return transcript[: cut if cut > 0 else PREVIEW_CHARACTERS] + "…"
