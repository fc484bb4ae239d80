"""What a client may send to `POST /transcriptions`, validated with pydantic.

pydantic ships with the Deepgram SDK in this function's asset anyway; the callback function,
which must stay light, never imports this module.

`TranscriptionOptions` is an allow-list: every field is a `/v1/listen` parameter of the SDK's
`transcribe_url`/`transcribe_file` (a test keeps it that way), typed, and anything else is
refused with a 400 that names it. `callback`, `callback_method` and `extra` belong to the
service (they carry the per-job credentials) and are refused too.
"""

from __future__ import annotations

import json
from typing import Annotated, Any, Literal
from urllib.parse import urlsplit

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    StringConstraints,
    ValidationError,
    model_validator,
)

from functions.core.contract import SubmitLimits

RESERVED_OPTIONS = frozenset({"callback", "callback_method", "extra"})
MAX_METADATA_PAIRS = SubmitLimits.METADATA_PAIRS
MAX_TERM_CHARACTERS = 256

MAX_OPTIONS_JSON_BYTES = 16 * 1024
"""Options are stored on the job item, whose size must stay far under DynamoDB's 400 KB."""

# No control characters: SNS refuses them in message attributes, and Deepgram in query values.
_PRINTABLE = r"^[^\x00-\x1f\x7f]+$"


def _text(max_length: int) -> StringConstraints:
    return StringConstraints(min_length=1, max_length=max_length, strip_whitespace=True, pattern=_PRINTABLE)


ShortText = Annotated[str, _text(MAX_TERM_CHARACTERS)]
Name = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9][A-Za-z0-9.-]{0,63}$")]
Terms = ShortText | Annotated[list[ShortText], Field(min_length=1, max_length=100)]
Tag = Annotated[str, StringConstraints(min_length=1, max_length=SubmitLimits.TAG_CHARACTERS)]
Tags = Annotated[list[Tag], Field(min_length=1, max_length=SubmitLimits.TAGS)]
MetadataKey = Annotated[
    str,
    StringConstraints(pattern=rf"^[A-Za-z0-9][A-Za-z0-9_-]{{0,{SubmitLimits.METADATA_KEY_CHARACTERS - 1}}}$"),
]
MetadataValue = Annotated[str, _text(SubmitLimits.METADATA_VALUE_CHARACTERS)]


def _check_audio_url(value: str) -> str:
    parts = urlsplit(value)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError("must be an absolute http(s) URL")
    return value


AudioUrlText = Annotated[
    str, StringConstraints(max_length=SubmitLimits.AUDIO_URL_CHARACTERS), AfterValidator(_check_audio_url)
]


class TranscriptionOptions(BaseModel):
    """Deepgram `/v1/listen` options a client may set (see Deepgram's API reference for each)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    model: Name | None = None
    version: Name | None = None
    language: Name | None = None
    language_hint: Terms | None = None
    detect_language: bool | None = None
    encoding: Name | None = None
    multichannel: bool | None = None
    punctuate: bool | None = None
    smart_format: bool | None = None
    diarize: bool | None = None
    diarize_model: Name | None = None
    utterances: bool | None = None
    utt_split: Annotated[float, Field(gt=0, le=60)] | None = None
    paragraphs: bool | None = None
    numerals: bool | None = None
    measurements: bool | None = None
    dictation: bool | None = None
    filler_words: bool | None = None
    profanity_filter: bool | None = None
    redact: Name | None = None
    replace: Terms | None = None
    search: Terms | None = None
    keyterm: Terms | None = None
    keywords: Terms | None = None
    detect_entities: bool | None = None
    summarize: Literal["v2"] | bool | None = None
    topics: bool | None = None
    custom_topic: Terms | None = None
    custom_topic_mode: Literal["extended", "strict"] | None = None
    intents: bool | None = None
    custom_intent: Terms | None = None
    custom_intent_mode: Literal["extended", "strict"] | None = None
    sentiment: bool | None = None
    tag: Tag | Tags | None = None
    mip_opt_out: bool | None = None

    @model_validator(mode="after")
    def _bounded(self) -> TranscriptionOptions:
        if len(json.dumps(self.as_query())) > MAX_OPTIONS_JSON_BYTES:
            raise ValueError(f"options take more than {MAX_OPTIONS_JSON_BYTES // 1024} KB as JSON")
        return self

    def as_query(self) -> dict[str, Any]:
        """The options that were set, as keyword arguments for the SDK."""
        return self.model_dump(exclude_none=True)


Metadata = Annotated[dict[MetadataKey, MetadataValue], Field(max_length=SubmitLimits.METADATA_PAIRS)]


DeliveryChoice = Literal["callback", "s3"]
"""How Deepgram hands the result over: the callback function, or a presigned S3 URL (any size)."""


class UrlSubmission(BaseModel):
    """The JSON body of `POST /transcriptions` for audio Deepgram fetches itself."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    url: AudioUrlText
    options: TranscriptionOptions = TranscriptionOptions()
    metadata: Metadata = Field(default_factory=dict)
    delivery: DeliveryChoice | None = None


class UploadParameters(BaseModel):
    """Options and metadata of an audio upload, taken from the query string."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    options: TranscriptionOptions = TranscriptionOptions()
    metadata: Metadata = Field(default_factory=dict)
    delivery: DeliveryChoice | None = None


def describe(error: ValidationError) -> str:
    """One readable line naming each invalid field, e.g. `options.punctuate: Input should be ...`."""
    problems: dict[str, str] = {}
    for detail in error.errors(include_url=False):
        # Deeper parts name pydantic's union members ("list[...]"), which mean nothing to a client.
        location = ".".join(str(part) for part in detail["loc"][:2])
        if detail["type"] == "extra_forbidden":
            name = str(detail["loc"][-1])
            message = (
                f"'{name}' is set by the service and cannot be given"
                if name in RESERVED_OPTIONS
                else f"unknown option '{name}'"
            )
        else:
            message = detail["msg"]
        problems.setdefault(location, message)
    return "; ".join(
        f"{location}: {message}" if location else message for location, message in problems.items()
    )
