"""The jobs table's item layout: the only module that knows it.

A job is one item keyed by its id (`contract.JobsTable`). This module turns a `Job` into
DynamoDB attribute values and back, names every attribute once, and builds the conditions the
repository's writes depend on from the domain's own rules (`jobs.AWAITING_STATUSES`,
`jobs.REOPENED_BY_AMBIGUITY`). Tests and benchmarks go through the repository, never the raw item.

Layout::

    job_id (S, key)  status (S)  created_at / updated_at / submitted_at / completed_at (S, ISO-8601)
    expires_at (N, TTL)  source / metadata (M)  options / summary (S, JSON)  request_id (S)
    error (M {code, message})  submit_error_ambiguous (BOOL)
    result (M {storage, size_bytes, sha256, content_encoding[, s3_key]})  result_data (B, inline body)
    notify_lease_token (S)  notify_lease_until (N, epoch s)  notified_at (S)  notification_message_id (S)
    delivery (S)  attempts (S, JSON)  previous_request_ids (SS)  audio_key (S)  deleted_at (S)
    attention (S, `awaiting#<shard>` | `notify#<shard>`)  due_at (N, epoch s)  created_month (S)

`attention` and `due_at` exist only while the reconciler has something to do for the job: a
result overdue (`awaiting`), or a final state not yet notified (`notify`, due when the
notification lease runs out). They key the sparse attention index; listing uses the status and
month indexes (`contract.JobsTable`).
"""

from __future__ import annotations

import json
import zlib
from decimal import Decimal
from typing import Any, Final

from boto3.dynamodb.types import Binary, TypeDeserializer, TypeSerializer

from functions.core.contract import JobsTable
from functions.core.jobs import (
    AWAITING_STATUSES,
    REOPENED_BY_AMBIGUITY,
    Attempt,
    Delivery,
    Job,
    JobError,
    JobStatus,
    StoredResult,
)

KEY: Final = JobsTable.PARTITION_KEY
TTL: Final = JobsTable.TTL_ATTRIBUTE
STATUS: Final = "status"
CREATED_AT: Final = "created_at"
UPDATED_AT: Final = "updated_at"
SUBMITTED_AT: Final = "submitted_at"
COMPLETED_AT: Final = "completed_at"
SOURCE: Final = "source"
OPTIONS: Final = "options"
METADATA: Final = "metadata"
REQUEST_ID: Final = "request_id"
ERROR: Final = "error"
SUBMIT_ERROR_AMBIGUOUS: Final = "submit_error_ambiguous"
SUMMARY: Final = "summary"
RESULT: Final = "result"
RESULT_DATA: Final = "result_data"
LEASE_TOKEN: Final = "notify_lease_token"  # noqa: S105 (an attribute name)
LEASE_UNTIL: Final = "notify_lease_until"
NOTIFIED_AT: Final = "notified_at"
NOTIFICATION_MESSAGE_ID: Final = "notification_message_id"
DELIVERY: Final = "delivery"
ATTEMPTS: Final = "attempts"
PREVIOUS_REQUEST_IDS: Final = "previous_request_ids"
AUDIO_KEY: Final = "audio_key"
DELETED_AT: Final = "deleted_at"
ATTENTION: Final = JobsTable.ATTENTION_KEY
DUE_AT: Final = JobsTable.ATTENTION_SORT_KEY
CREATED_MONTH: Final = JobsTable.MONTH_KEY

AWAITING: Final = "awaiting"
NOTIFY: Final = "notify"

NAMES: Final = {f"#{name}": name for name in (KEY, STATUS, RESULT, ERROR, SUMMARY, JobsTable.ATTENTION_KEY)}
"""Placeholders for attribute names that are DynamoDB reserved words (or may become one)."""

_serializer = TypeSerializer()
_deserializer = TypeDeserializer()


def key(job_id: str) -> dict[str, Any]:
    return {KEY: {"S": job_id}}


def attention(kind: str, job_id: str) -> str:
    """The attention index's partition key of a job: its kind and a stable shard."""
    return f"{kind}#{zlib.crc32(job_id.encode()) % JobsTable.ATTENTION_SHARDS}"


def attention_keys(kind: str) -> list[str]:
    """Every partition key of one kind, to query them all."""
    return [f"{kind}#{shard}" for shard in range(JobsTable.ATTENTION_SHARDS)]


def request_condition() -> str:
    """The result names this job's current request, an earlier attempt's, or (`:request_id`
    absent from the values) the job has no request yet (`Job.accepts_request`)."""
    return (
        f"(attribute_not_exists({REQUEST_ID}) OR {REQUEST_ID} = :request_id"
        f" OR contains({PREVIOUS_REQUEST_IDS}, :request_id))"
    )


def awaiting_result_condition() -> tuple[str, dict[str, Any]]:
    """`Job.awaiting_result` as a condition expression, with its values (not yet serialised)."""
    statuses = sorted(status.value for status in AWAITING_STATUSES)
    placeholders = [f":awaiting{index}" for index in range(len(statuses))]
    expression = (
        f"(#{STATUS} IN ({', '.join(placeholders)})"
        f" OR (#{STATUS} = :reopened AND {SUBMIT_ERROR_AMBIGUOUS} = :true"
        f" AND attribute_not_exists(#{RESULT})))"
    )
    values: dict[str, Any] = dict(zip(placeholders, statuses, strict=True))
    values.update({":reopened": REOPENED_BY_AMBIGUITY.value, ":true": True})
    return expression, values


def new_job_item(job: Job) -> dict[str, Any]:
    """The item `create` writes: a job before Deepgram has answered."""
    values: dict[str, Any] = {
        KEY: job.job_id,
        STATUS: job.status.value,
        CREATED_AT: job.created_at,
        CREATED_MONTH: job.created_at[:7],
        UPDATED_AT: job.updated_at,
        TTL: job.expires_at,
        SOURCE: job.source,
        # JSON text, not a map: DynamoDB keeps numbers without their type (1.0 comes back as 1),
        # and a Deepgram option such as `utt_split` must come back a float.
        OPTIONS: json.dumps(job.options, separators=(",", ":"), sort_keys=True),
        METADATA: job.metadata,
        DELIVERY: job.delivery.value,
    }
    if job.audio_key:
        values[AUDIO_KEY] = job.audio_key
    if job.result_due_at is not None:
        values[ATTENTION] = attention(AWAITING, job.job_id)
        values[DUE_AT] = job.result_due_at
    return serialize(values)


def result_map(result: StoredResult) -> dict[str, Any]:
    """The `result` attribute: where the body is and what identifies it (the body itself apart)."""
    described: dict[str, Any] = {
        "storage": result.storage,
        "size_bytes": result.size_bytes,
        "sha256": result.sha256,
        "content_encoding": result.content_encoding,
    }
    if result.s3_key:
        described["s3_key"] = result.s3_key
    return described


def lease_token(item: dict[str, Any]) -> str | None:
    """The notification lease token on a raw item, if any."""
    token = item.get(LEASE_TOKEN, {}).get("S")
    return str(token) if token is not None else None


def to_job(raw_item: dict[str, Any]) -> Job:
    item = {name: _from_dynamo(_deserializer.deserialize(value)) for name, value in raw_item.items()}
    result_item = item.get(RESULT)
    result = None
    if isinstance(result_item, dict):
        data = item.get(RESULT_DATA)
        result = StoredResult(
            storage=result_item["storage"],
            size_bytes=int(result_item["size_bytes"]),
            sha256=result_item["sha256"],
            content_encoding=result_item["content_encoding"],
            s3_key=result_item.get("s3_key"),
            inline_data=data.value if isinstance(data, Binary) else data,
        )
    error_item = item.get(ERROR)
    return Job(
        job_id=item[KEY],
        status=JobStatus(item[STATUS]),
        created_at=item[CREATED_AT],
        updated_at=item[UPDATED_AT],
        expires_at=int(item[TTL]),
        source=item.get(SOURCE) or {},
        options=_options(item.get(OPTIONS)),
        metadata=item.get(METADATA) or {},
        request_id=item.get(REQUEST_ID),
        submitted_at=item.get(SUBMITTED_AT),
        completed_at=item.get(COMPLETED_AT),
        error=JobError(**error_item) if isinstance(error_item, dict) else None,
        submit_error_ambiguous=bool(item.get(SUBMIT_ERROR_AMBIGUOUS, False)),
        result=result,
        summary=_summary(item.get(SUMMARY)),
        notified_at=item.get(NOTIFIED_AT),
        delivery=Delivery(item.get(DELIVERY, Delivery.CALLBACK.value)),
        result_due_at=int(item[DUE_AT]) if item.get(ATTENTION, "").startswith(AWAITING) else None,
        attempts=tuple(Attempt(**attempt) for attempt in json.loads(item.get(ATTEMPTS) or "[]")),
        audio_key=item.get(AUDIO_KEY),
        deleted_at=item.get(DELETED_AT),
    )


def attempts_json(attempts: tuple[Attempt, ...]) -> str:
    return json.dumps([attempt.as_dict() for attempt in attempts], separators=(",", ":"))


def summary_json(summary: dict[str, Any] | None) -> str | None:
    """The summary as JSON text, like the options: its numbers keep their type (5.0 stays a float)."""
    return None if summary is None else json.dumps(summary, separators=(",", ":"), allow_nan=False)


def _summary(stored: Any) -> dict[str, Any] | None:
    if isinstance(stored, str):
        summary: dict[str, Any] = json.loads(stored)
        return summary
    return stored if isinstance(stored, dict) else None


def _options(stored: Any) -> dict[str, Any]:
    """Options as JSON text; items written before that kept them as a map."""
    if isinstance(stored, str):
        options: dict[str, Any] = json.loads(stored)
        return options
    return stored if isinstance(stored, dict) else {}


def serialize(values: dict[str, Any]) -> dict[str, Any]:
    return {name: _serializer.serialize(_to_dynamo(value)) for name, value in values.items()}


def _to_dynamo(value: Any) -> Any:
    """DynamoDB has no float type: numbers travel as Decimal."""
    if isinstance(value, float):
        return Decimal(repr(value))
    if isinstance(value, dict):
        return {name: _to_dynamo(inner) for name, inner in value.items()}
    if isinstance(value, list | tuple):
        return [_to_dynamo(inner) for inner in value]
    return value


def _from_dynamo(value: Any) -> Any:
    if isinstance(value, Decimal):
        return int(value) if value == value.to_integral_value() else float(value)
    if isinstance(value, dict):
        return {name: _from_dynamo(inner) for name, inner in value.items()}
    if isinstance(value, list):
        return [_from_dynamo(inner) for inner in value]
    return value
