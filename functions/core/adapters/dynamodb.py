"""The jobs table: one item per job. Every state change is a conditional write, which is what
makes the callback exactly-once under Deepgram's retries and concurrent duplicate deliveries."""

from __future__ import annotations

import re
from datetime import datetime
from decimal import Decimal
from typing import Any

from boto3.dynamodb.types import Binary, TypeDeserializer, TypeSerializer
from botocore.exceptions import BotoCoreError, ClientError

from functions.core.adapters.aws import dependency, error_code
from functions.core.contract import JobsTable
from functions.core.jobs import Job, JobError, JobStatus, StoredResult, isoformat
from functions.core.ports import DependencyError

_serializer = TypeSerializer()
_deserializer = TypeDeserializer()

_AWAITING_RESULT = (
    "(#status IN (:queued, :processing)"
    " OR (#status = :failed AND submit_error_ambiguous = :true AND attribute_not_exists(#result)))"
)
_PLACEHOLDER = re.compile(r"[:#][A-Za-z0-9_]+")


class DynamoJobRepository:
    def __init__(self, client: Any, table_name: str) -> None:
        self._client = client
        self._table = table_name
        self._key_name = JobsTable.PARTITION_KEY

    def create(self, job: Job) -> None:
        try:
            self._client.put_item(
                TableName=self._table,
                Item=_serialize(_job_to_item(job)),
                ConditionExpression="attribute_not_exists(#key)",
                ExpressionAttributeNames={"#key": self._key_name},
            )
        except ClientError as failure:
            # Job ids are random: an existing item is this very write, applied by a client retry
            # whose first answer was lost.
            if error_code(failure) != "ConditionalCheckFailedException":
                raise DependencyError(f"DynamoDB: {error_code(failure)}") from failure
        except BotoCoreError as failure:
            raise DependencyError(f"DynamoDB: {type(failure).__name__}") from failure

    def get(self, job_id: str) -> Job | None:
        with dependency("DynamoDB"):
            response = self._client.get_item(
                TableName=self._table, Key=self._key(job_id), ConsistentRead=True
            )
        item = response.get("Item")
        return _item_to_job(_deserialize(item)) if item else None

    def record_submission(self, job_id: str, request_id: str, at: datetime) -> None:
        stamp = isoformat(at)
        moved = self._update(
            job_id,
            "SET request_id = :request_id, submitted_at = :at, updated_at = :at, #status = :processing",
            "#status = :queued",
            {":request_id": request_id, ":at": stamp, ":processing": "processing", ":queued": "queued"},
            names={"#status": "status"},
        )
        if not moved:
            # An early callback already finished the job; record when Deepgram accepted it.
            self._update(
                job_id,
                "SET request_id = if_not_exists(request_id, :request_id), submitted_at = :at",
                "attribute_exists(#key)",
                {":request_id": request_id, ":at": stamp},
                names={"#key": self._key_name},
            )

    def mark_submit_failed(self, job_id: str, error: JobError, *, ambiguous: bool, at: datetime) -> None:
        stamp = isoformat(at)
        self._update(
            job_id,
            "SET #status = :failed, #error = :error, submit_error_ambiguous = :ambiguous,"
            " updated_at = :at, completed_at = :at",
            "#status = :queued",
            {
                ":failed": "failed",
                ":queued": "queued",
                ":error": error.as_dict(),
                ":ambiguous": ambiguous,
                ":at": stamp,
            },
            names={"#status": "status", "#error": "error"},
        )

    def finish(self, job: Job, *, lease_token: str, lease_until: datetime) -> bool:
        result = job.result
        if result is None or job.completed_at is None:
            raise ValueError("a finished job has a result and a completion time")
        sets = [
            "#status = :status",
            "#result = :result",
            "updated_at = :at",
            "completed_at = :at",
            "submit_error_ambiguous = :false",
            "notify_lease_token = :token",
            "notify_lease_until = :until",
        ]
        removes: list[str] = []
        values: dict[str, Any] = {
            ":status": job.status.value,
            ":result": _result_to_item(result),
            ":at": job.completed_at,
            ":false": False,
            ":true": True,
            ":token": lease_token,
            ":until": int(lease_until.timestamp()),
            ":queued": "queued",
            ":processing": "processing",
            ":failed": "failed",
        }
        condition = _AWAITING_RESULT
        if job.request_id:
            sets.append("request_id = if_not_exists(request_id, :request_id)")
            values[":request_id"] = job.request_id
            condition += " AND (attribute_not_exists(request_id) OR request_id = :request_id)"
        if result.inline_data is not None:
            sets.append("result_data = :data")
            values[":data"] = result.inline_data
        for attribute, value in (
            ("summary", job.summary),
            ("#error", job.error.as_dict() if job.error else None),
        ):
            if value is None:
                removes.append(attribute)
            else:
                placeholder = ":" + attribute.lstrip("#")
                sets.append(f"{attribute} = {placeholder}")
                values[placeholder] = value
        expression = "SET " + ", ".join(sets) + (" REMOVE " + ", ".join(removes) if removes else "")
        names = {"#status": "status", "#result": "result", "#error": "error"}
        applied = self._update(job.job_id, expression, condition, values, names=names)
        return applied or self._holds_lease(job.job_id, lease_token)

    def claim_notification(self, job_id: str, lease_token: str, *, now: datetime, until: datetime) -> bool:
        applied = self._update(
            job_id,
            "SET notify_lease_token = :token, notify_lease_until = :until",
            "attribute_exists(#result) AND attribute_not_exists(notified_at)"
            " AND (attribute_not_exists(notify_lease_until) OR notify_lease_until < :now)",
            {":token": lease_token, ":until": int(until.timestamp()), ":now": int(now.timestamp())},
            names={"#result": "result"},
        )
        return applied or self._holds_lease(job_id, lease_token)

    def mark_notified(self, job_id: str, message_id: str, at: datetime) -> None:
        self._update(
            job_id,
            "SET notified_at = :at, notification_message_id = :message_id"
            " REMOVE notify_lease_token, notify_lease_until",
            "attribute_not_exists(notified_at)",
            {":at": isoformat(at), ":message_id": message_id},
        )

    def release_notification(self, job_id: str, lease_token: str) -> None:
        self._update(
            job_id,
            "REMOVE notify_lease_token, notify_lease_until",
            "notify_lease_token = :token",
            {":token": lease_token},
        )

    def _holds_lease(self, job_id: str, lease_token: str) -> bool:
        """Whether a write that reported a failed condition had in fact been applied.

        The client retries a write whose answer was lost (a timeout, a 5xx); if the first attempt
        was applied, the retry's condition fails. The lease token is unique to this delivery, so
        finding it on the item proves the write is ours."""
        with dependency("DynamoDB"):
            response = self._client.get_item(
                TableName=self._table,
                Key=self._key(job_id),
                ConsistentRead=True,
                ProjectionExpression="notify_lease_token",
            )
        token = response.get("Item", {}).get("notify_lease_token", {}).get("S")
        return bool(token == lease_token)

    def _key(self, job_id: str) -> dict[str, Any]:
        return {self._key_name: {"S": job_id}}

    def _update(
        self,
        job_id: str,
        update: str,
        condition: str,
        values: dict[str, Any],
        *,
        names: dict[str, str] | None = None,
    ) -> bool:
        """Run a conditional UpdateItem; False when the condition does not hold."""
        placeholders = set(_PLACEHOLDER.findall(update + " " + condition))
        used_names = {name: value for name, value in (names or {}).items() if name in placeholders}
        used_values = {name: value for name, value in values.items() if name in placeholders}
        request: dict[str, Any] = {
            "TableName": self._table,
            "Key": self._key(job_id),
            "UpdateExpression": update,
            "ConditionExpression": condition,
            "ExpressionAttributeValues": _serialize(used_values),
        }
        if used_names:
            request["ExpressionAttributeNames"] = used_names
        try:
            self._client.update_item(**request)
        except ClientError as failure:
            if error_code(failure) == "ConditionalCheckFailedException":
                return False
            raise DependencyError(f"DynamoDB: {error_code(failure)}") from failure
        except BotoCoreError as failure:
            raise DependencyError(f"DynamoDB: {type(failure).__name__}") from failure
        return True


def _job_to_item(job: Job) -> dict[str, Any]:
    item: dict[str, Any] = {
        JobsTable.PARTITION_KEY: job.job_id,
        "status": job.status.value,
        "created_at": job.created_at,
        "updated_at": job.updated_at,
        JobsTable.TTL_ATTRIBUTE: job.expires_at,
        "source": job.source,
        "options": job.options,
        "metadata": job.metadata,
    }
    return item


def _result_to_item(result: StoredResult) -> dict[str, Any]:
    item: dict[str, Any] = {
        "storage": result.storage,
        "size_bytes": result.size_bytes,
        "sha256": result.sha256,
        "content_encoding": result.content_encoding,
    }
    if result.s3_key:
        item["s3_key"] = result.s3_key
    return item


def _item_to_job(item: dict[str, Any]) -> Job:
    result_item = item.get("result")
    result = None
    if isinstance(result_item, dict):
        data = item.get("result_data")
        result = StoredResult(
            storage=result_item["storage"],
            size_bytes=int(result_item["size_bytes"]),
            sha256=result_item["sha256"],
            content_encoding=result_item["content_encoding"],
            s3_key=result_item.get("s3_key"),
            inline_data=data.value if isinstance(data, Binary) else data,
        )
    error_item = item.get("error")
    return Job(
        job_id=item[JobsTable.PARTITION_KEY],
        status=JobStatus(item["status"]),
        created_at=item["created_at"],
        updated_at=item["updated_at"],
        expires_at=int(item[JobsTable.TTL_ATTRIBUTE]),
        source=item.get("source") or {},
        options=item.get("options") or {},
        metadata=item.get("metadata") or {},
        request_id=item.get("request_id"),
        submitted_at=item.get("submitted_at"),
        completed_at=item.get("completed_at"),
        error=JobError(**error_item) if isinstance(error_item, dict) else None,
        submit_error_ambiguous=bool(item.get("submit_error_ambiguous", False)),
        result=result,
        summary=item.get("summary"),
        notified_at=item.get("notified_at"),
    )


def _serialize(values: dict[str, Any]) -> dict[str, Any]:
    return {key: _serializer.serialize(_to_dynamo(value)) for key, value in values.items()}


def _deserialize(item: dict[str, Any]) -> dict[str, Any]:
    return {key: _from_dynamo(_deserializer.deserialize(value)) for key, value in item.items()}


def _to_dynamo(value: Any) -> Any:
    """DynamoDB has no float type: numbers travel as Decimal."""
    if isinstance(value, float):
        return Decimal(repr(value))
    if isinstance(value, dict):
        return {key: _to_dynamo(inner) for key, inner in value.items()}
    if isinstance(value, list | tuple):
        return [_to_dynamo(inner) for inner in value]
    return value


def _from_dynamo(value: Any) -> Any:
    if isinstance(value, Decimal):
        return int(value) if value == value.to_integral_value() else float(value)
    if isinstance(value, dict):
        return {key: _from_dynamo(inner) for key, inner in value.items()}
    if isinstance(value, list):
        return [_from_dynamo(inner) for inner in value]
    return value
