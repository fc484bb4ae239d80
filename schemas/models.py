"""What the API answers and what SNS delivers, as pydantic models: for documentation only.

The functions build these documents as plain dicts (`functions.core.jobs.public_view`,
`functions.status.logic.JobDescription`, `functions.core.notifications.build_notification`); these
models describe them, and `schemas.generate` turns them into the committed OpenAPI description
and JSON Schemas. The tests validate every job view and notification the code produces against
those schemas (`tests/conftest.py`), so a change on either side that the other does not follow
fails the suite.

What a client *sends* is not described here: the request models are the ones the submit function
validates with (`functions.submit.models`).

Fields the code leaves out when they do not apply (`summary`, `error`, `deleted_at`, ...) are
optional and never `null`; fields it always writes (`request_id`, `completed_at`, ...) are
required and `null` until known. The rules that tie fields to a status (a deleted job has
`deleted_at`, a failed one `error`, ...) are JSON Schema conditionals (`allOf` of `if`/`then`).
"""

from __future__ import annotations

import re
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from functions.core.contract import Api, Notification, SubmitLimits
from functions.core.jobs import Delivery, JobStatus
from functions.core.transcript import (
    MAX_ERROR_CODE_CHARACTERS,
    MAX_ERROR_MESSAGE_CHARACTERS,
    MAX_LANGUAGE_CHARACTERS,
    PREVIEW_CHARACTERS,
)
from functions.submit.models import Metadata, TranscriptionOptions

JsonDict = dict[str, Any]
"""A JSON Schema fragment (pydantic's own alias is not exported)."""

TIMESTAMP_PATTERN = r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$"
"""How every stored timestamp is written (`functions.core.jobs.isoformat`): UTC, milliseconds, `Z`."""
JOB_ID_PATTERN = r"^[0-9a-f]{32}$"
SHA256_PATTERN = r"^[0-9a-f]{64}$"
RESULT_LOCATION_PATTERN = "^" + Api.TRANSCRIPTION.replace("{id}", JOB_ID_PATTERN[1:-1]) + "$"

STATUSES = tuple(status.value for status in JobStatus)
FINAL_STATUSES = (JobStatus.COMPLETED.value, JobStatus.FAILED.value, JobStatus.DELETED.value)
EVENT_TYPES = (Notification.EVENT_COMPLETED, Notification.EVENT_FAILED, Notification.EVENT_DELETED)
EVENT_OF_STATUS = dict(zip(FINAL_STATUSES, EVENT_TYPES, strict=True))
DELIVERIES = tuple(delivery.value for delivery in Delivery)
METADATA_ATTRIBUTE_PATTERN = (
    "^"
    + re.escape(Notification.ATTR_METADATA_PREFIX)
    + f"[A-Za-z0-9][A-Za-z0-9_-]{{0,{SubmitLimits.METADATA_KEY_CHARACTERS - 1}}}$"
)

Timestamp = Annotated[
    str,
    Field(
        pattern=TIMESTAMP_PATTERN,
        json_schema_extra={"format": "date-time", "examples": ["2026-11-22T14:00:00.412Z"]},
    ),
]
JobId = Annotated[
    str, Field(pattern=JOB_ID_PATTERN, json_schema_extra={"examples": ["3f1c9a0e6b8d4c27a5e1f0d2b9c8a7e6"]})
]
Sha256 = Annotated[str, Field(pattern=SHA256_PATTERN, description="SHA-256 in lowercase hex.")]
RequestId = Annotated[
    str,
    Field(
        min_length=1,
        description="Deepgram's request id (`metadata.request_id` of its answer).",
        json_schema_extra={"examples": ["5b0a1c2e-7d3f-4e8a-9b6c-1d2e3f4a5b6c"]},
    ),
]
StatusName = Literal["queued", "processing", "completed", "failed", "deleted"]
FinalStatusName = Literal["completed", "failed", "deleted"]
EventType = Literal["transcription.completed", "transcription.failed", "transcription.deleted"]
DeliveryName = Literal["callback", "s3"]


def _never_null(schema: JsonDict) -> None:
    """The schema of a field that is either absent or set: without pydantic's `null` and default."""
    schema.pop("default", None)
    variants = schema.get("anyOf")
    if isinstance(variants, list) and {"type": "null"} in variants:
        kept = [variant for variant in variants if variant != {"type": "null"}]
        del schema["anyOf"]
        if len(kept) == 1 and isinstance(kept[0], dict):
            schema.update(kept[0])
        else:
            schema["anyOf"] = kept


def _absent(description: str) -> Any:
    """An optional field the code leaves out (rather than writing `null`) when it does not apply."""
    return Field(default=None, description=description, json_schema_extra=_never_null)


def _if_status(status: str, then: JsonDict, *, field: str = "status") -> JsonDict:
    return {"if": {"properties": {field: {"const": status}}, "required": [field]}, "then": then}


def _forbidden(*names: str) -> JsonDict:
    return {"not": {"anyOf": [{"required": [name]} for name in names]}}


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class JobError(Strict):
    """Why a job failed: Deepgram's error (`err_code`/`err_msg` of a failure callback), its refusal
    at submission (the same codes as the `POST` answer's), or the service's own (e.g.
    `callback_not_received` when no result came by the deadline)."""

    code: Annotated[str, Field(min_length=1, max_length=MAX_ERROR_CODE_CHARACTERS)]
    message: Annotated[str, Field(max_length=MAX_ERROR_MESSAGE_CHARACTERS)]


class Summary(Strict):
    """A compact description of a completed job's transcript (`functions.core.transcript.summarize`).

    The service writes `duration_seconds`, `channels`, `confidence`, `words` and
    `transcript_preview` on every summary (`detected_language` when Deepgram detected it); numbers
    Deepgram sent out of a sensible range are `null`. None is required here, so that a reader
    tolerates a summary written by another version of the service."""

    duration_seconds: float | None = Field(default=None, description="The audio's duration.")
    channels: Annotated[float, Field(ge=0)] | None = _absent("Audio channels.")
    confidence: float | None = Field(default=None, description="The first alternative's confidence.")
    words: Annotated[int, Field(ge=0)] | None = _absent("Words in the first channel's transcript.")
    transcript_preview: Annotated[str, Field(max_length=PREVIEW_CHARACTERS + 1)] | None = _absent(
        f"The transcript's first {PREVIEW_CHARACTERS} characters, cut at a word and followed by `…` "
        "when longer."
    )
    detected_language: Annotated[str, Field(min_length=1, max_length=MAX_LANGUAGE_CHARACTERS)] | None = (
        _absent("Set when Deepgram detected the language (`detect_language`).")
    )


class UrlSource(Strict):
    """Audio Deepgram fetched itself."""

    type: Literal["url"]
    url: Annotated[str, Field(max_length=SubmitLimits.AUDIO_URL_CHARACTERS)]


class UploadSource(Strict):
    """Audio sent as the request body."""

    type: Literal["upload"]
    content_type: str
    size_bytes: Annotated[int, Field(ge=1)]
    sha256: Sha256 | None = _absent("Of the audio (written on every upload since format version 1).")


Source = Annotated[UrlSource | UploadSource, Field(discriminator="type")]


class Attempt(Strict):
    """An earlier Deepgram request of a job that was submitted again (`recoverLostCallbacks`)."""

    request_id: RequestId | None
    submitted_at: Timestamp | None
    delivery: DeliveryName
    outcome: Annotated[str, Field(description="Why it was given up, e.g. `no_callback_received`.")]


_JOB_RULES: list[Any] = [
    _if_status("deleted", {"required": ["deleted_at"], **_forbidden("summary")}),
    _if_status("failed", {"required": ["error"]}),
    _if_status(
        "completed", {"properties": {"completed_at": {"type": "string"}}, **_forbidden("error", "deleted_at")}
    ),
    _if_status("queued", {**_forbidden("summary", "deleted_at")}),
    _if_status("processing", {**_forbidden("summary", "deleted_at")}),
]


class JobView(Strict):
    """A job as the API shows it, without its result: the `POST /transcriptions` answer, the items
    of `GET /transcriptions`, the `DELETE` answer (`functions.core.jobs.public_view`)."""

    model_config = ConfigDict(json_schema_extra={"allOf": _JOB_RULES})

    id: JobId
    status: StatusName
    request_id: RequestId | None = Field(description="`null` until Deepgram accepted the job.")
    created_at: Timestamp
    updated_at: Timestamp
    submitted_at: Timestamp | None = Field(description="When Deepgram accepted the job.")
    completed_at: Timestamp | None = Field(description="When the job completed or failed.")
    metadata: Metadata
    options: TranscriptionOptions = Field(description="The Deepgram options the job was submitted with.")
    source: Source
    delivery: DeliveryName = Field(
        description="How Deepgram hands the result over: the callback URL, or a presigned S3 URL."
    )
    attempts: Annotated[list[Attempt], Field(min_length=1)] | None = _absent(
        "Earlier Deepgram requests of a job submitted again; absent when there were none."
    )
    summary: Summary | None = _absent("Once completed (never on a deleted job).")
    error: JobError | None = _absent("Why the job failed.")
    deleted_at: Timestamp | None = _absent("When the job was deleted (`status` is `deleted`).")


_DETAIL_RULES: list[Any] = [
    *_JOB_RULES,
    {"not": {"required": ["result", "result_url"]}},
    {
        "if": {"anyOf": [{"required": ["result"]}, {"required": ["result_url"]}]},
        "then": {
            "required": ["result_size_bytes", "result_sha256"],
            "properties": {"status": {"const": "completed"}},
        },
    },
    {"if": {"required": ["result_url"]}, "then": {"required": ["result_url_expires_in"]}},
    {"if": {"required": ["result_url_expires_in"]}, "then": {"required": ["result_url"]}},
    {"if": {"required": ["result_size_bytes"]}, "then": {"required": ["result_sha256"]}},
]


class JobDetail(JobView):
    """`GET /transcriptions/{id}`: the job's view and, once completed, its result: `result` (the
    Deepgram answer itself) when it was stored inline, else `result_url`, a presigned S3 URL valid
    for `result_url_expires_in` seconds. A deleted job has neither (`functions.status.logic`)."""

    model_config = ConfigDict(json_schema_extra={"allOf": _DETAIL_RULES})

    result_size_bytes: Annotated[int, Field(ge=0)] | None = _absent(
        "Size of the result as Deepgram sent it (a completed job with a stored result)."
    )
    result_sha256: Sha256 | None = _absent("SHA-256 of the result as Deepgram sent it.")
    result: dict[str, Any] | None = _absent(
        "Deepgram's `/v1/listen` answer (`metadata`, `results`), when stored inline."
    )
    result_url: Annotated[str, Field(min_length=1)] | None = _absent(
        "Presigned S3 URL (SigV4) of the result, when stored in S3; the object may be gzip-encoded "
        "(`Content-Encoding: gzip`)."
    )
    result_url_expires_in: Annotated[int, Field(ge=1)] | None = _absent("Seconds `result_url` stays valid.")


class JobList(Strict):
    """`GET /transcriptions`: a page of jobs, newest first, without their results."""

    items: list[JobView]
    next_cursor: str | None = Field(description="Pass as `cursor` for the next page; `null` on the last.")


class Redelivery(Strict):
    """`POST /transcriptions/{id}/notify`: the notification was published again."""

    job_id: JobId
    message_id: Annotated[str, Field(min_length=1, description="SNS message id.")]
    event_type: EventType


class ErrorDetail(Strict):
    code: Annotated[str, Field(min_length=1, description="Stable, machine-readable; see each answer.")]
    message: str
    job_id: JobId | None = _absent("The job the error concerns, when there is one (the client may poll it).")


class ErrorResponse(Strict):
    """Every error answer, the functions' and API Gateway's own alike."""

    error: ErrorDetail


class NotificationResult(Strict):
    """Where and how the job's result is stored (read a completed job's with `GET result_location`).
    A failed job's is the failure body Deepgram sent, when it sent one: `GET` does not serve it."""

    size_bytes: Annotated[int, Field(ge=0)]
    sha256: Sha256
    storage: Literal["inline", "s3"]


_EVENT_OF_STATUS_RULES: list[Any] = [
    _if_status(status, {"properties": {"event_type": {"const": event}}})
    for status, event in EVENT_OF_STATUS.items()
]

_NOTIFICATION_RULES: list[Any] = [
    *_EVENT_OF_STATUS_RULES,
    _if_status("completed", {"required": ["result"], **_forbidden("error", "deleted_at")}),
    _if_status("failed", {"required": ["error"], **_forbidden("summary", "deleted_at")}),
    _if_status("deleted", {"required": ["deleted_at"], **_forbidden("summary", "result")}),
]

MESSAGE_ATTRIBUTES_DESCRIPTION = (
    "SNS message attributes of every notification (all of SNS type `String`), for subscription "
    f"filter policies: `{Notification.ATTR_EVENT_TYPE}`, `{Notification.ATTR_STATUS}` and "
    f"`{Notification.ATTR_METADATA_PREFIX}<key>` for each metadata pair (at most "
    f"{SubmitLimits.METADATA_PAIRS}). Described by `$defs/MessageAttributes` as a map of name to value; "
    'SNS delivers each as `{"Type": "String", "Value": ...}` (SQS: `{"DataType": "String", '
    '"StringValue": ...}`).'
)


class NotificationMessage(Strict):
    """The JSON document of an SNS notification's `Message`: one per job that Deepgram accepted,
    when it completes or fails, and one when it is deleted (`functions.core.notifications`). A few
    KB whatever the transcript's size: the full result is read with `GET result_location`."""

    model_config = ConfigDict(json_schema_extra={"allOf": _NOTIFICATION_RULES})

    version: Literal[1] = Field(description="Format version; a breaking change increments it.")
    event_type: EventType
    job_id: JobId
    request_id: RequestId | None
    status: FinalStatusName
    metadata: Metadata
    created_at: Timestamp
    submitted_at: Timestamp | None
    completed_at: Timestamp | None
    result_location: Annotated[
        str,
        Field(
            pattern=RESULT_LOCATION_PATTERN,
            description="The job's path, relative to the API's base URL (which includes the stage).",
        ),
    ]
    redelivery: bool = Field(
        description="`true` only on copies asked for with `POST /transcriptions/{id}/notify`."
    )
    deleted_at: Timestamp | None = _absent("When the job was deleted (`transcription.deleted`).")
    attempts: Annotated[int, Field(ge=2)] | None = _absent(
        "How many Deepgram requests the job took, when it was submitted again."
    )
    summary: Summary | None = _absent(
        "A completed job's summary (left out if the message would otherwise exceed 64 KB)."
    )
    error: JobError | None = _absent("Why the job failed.")
    result: NotificationResult | None = _absent(
        "The stored result: always on a completed job; on a failed one, Deepgram's failure body."
    )


class MessageAttributes(Strict):
    """SNS message attributes (name -> string value); see the schema's description."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "patternProperties": {
                METADATA_ATTRIBUTE_PATTERN: {
                    "type": "string",
                    "minLength": 1,
                    "maxLength": SubmitLimits.METADATA_VALUE_CHARACTERS,
                }
            },
            "maxProperties": 2 + SubmitLimits.METADATA_PAIRS,
            "allOf": _EVENT_OF_STATUS_RULES,
        },
    )

    event_type: EventType
    status: FinalStatusName


RESPONSE_MODELS: tuple[type[BaseModel], ...] = (
    JobView,
    JobDetail,
    JobList,
    Redelivery,
    ErrorResponse,
)
