"""The jobs table. Every state change is a conditional write, which is what makes results and
notifications exactly-once under Deepgram's retries, concurrent duplicate deliveries, the
reconciler and deletions racing each other. The item layout and the conditions' rules come from
`job_item`."""

from __future__ import annotations

import base64
import binascii
import json
import re
from datetime import UTC, datetime, timedelta
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from functions.core.adapters import job_item as item
from functions.core.adapters.aws import dependency, dependency_error, error_code
from functions.core.contract import JobsTable
from functions.core.jobs import Attempt, Delivery, FinalState, Job, JobError, JobStatus, isoformat
from functions.core.ports import FinishResult, InvalidCursor, JobPage

_PLACEHOLDER = re.compile(r"[:#][A-Za-z0-9_]+")


class _ConditionFailed(Exception):
    def __init__(self, old_item: dict[str, Any] | None) -> None:
        super().__init__("condition not met")
        self.old_item = old_item


class DynamoJobRepository:
    def __init__(self, client: Any, table_name: str) -> None:
        self._client = client
        self._table = table_name

    def create(self, job: Job) -> None:
        try:
            self._client.put_item(
                TableName=self._table,
                Item=item.new_job_item(job),
                ConditionExpression=f"attribute_not_exists(#{item.KEY})",
                ExpressionAttributeNames={f"#{item.KEY}": item.KEY},
            )
        except ClientError as failure:
            # Job ids are random: an existing item is this very write, applied by a client retry
            # whose first answer was lost.
            if error_code(failure) != "ConditionalCheckFailedException":
                raise dependency_error("DynamoDB", failure) from failure
        except BotoCoreError as failure:
            raise dependency_error("DynamoDB", failure) from failure

    def get(self, job_id: str) -> Job | None:
        with dependency("DynamoDB"):
            response = self._client.get_item(TableName=self._table, Key=item.key(job_id), ConsistentRead=True)
        found = response.get("Item")
        return item.to_job(found) if found else None

    def record_submission(
        self, job_id: str, request_id: str, at: datetime, *, result_due_at: datetime | None = None
    ) -> None:
        stamp = isoformat(at)
        sets = [
            f"{item.REQUEST_ID} = :request_id",
            f"{item.SUBMITTED_AT} = :at",
            f"{item.UPDATED_AT} = :at",
            f"#{item.STATUS} = :processing",
        ]
        values: dict[str, Any] = {
            ":request_id": request_id,
            ":at": stamp,
            ":processing": JobStatus.PROCESSING.value,
            ":queued": JobStatus.QUEUED.value,
        }
        if result_due_at is not None:
            sets += [f"#{item.ATTENTION} = :attention", f"{item.DUE_AT} = :due"]
            values |= {
                ":attention": item.attention(item.AWAITING, job_id),
                ":due": int(result_due_at.timestamp()),
            }
        moved = self._update(job_id, "SET " + ", ".join(sets), f"#{item.STATUS} = :queued", values)
        if not moved:
            # An early result already finished the job; record when Deepgram accepted it.
            self._update(
                job_id,
                f"SET {item.REQUEST_ID} = if_not_exists({item.REQUEST_ID}, :request_id),"
                f" {item.SUBMITTED_AT} = :at",
                f"attribute_exists(#{item.KEY})",
                {":request_id": request_id, ":at": stamp},
            )

    def mark_submit_failed(self, job_id: str, error: JobError, *, ambiguous: bool, at: datetime) -> None:
        """The refusal is final (ambiguous: until a late result); subscribers hear of it through the
        reconciler, which finds it due for notification at once."""
        self._update(
            job_id,
            f"SET #{item.STATUS} = :failed, #{item.ERROR} = :error, {item.UPDATED_AT} = :at,"
            f" {item.SUBMIT_ERROR_AMBIGUOUS} = :ambiguous, {item.COMPLETED_AT} = :at,"
            f" #{item.ATTENTION} = :attention, {item.DUE_AT} = :due",
            f"#{item.STATUS} = :queued",
            {
                ":failed": JobStatus.FAILED.value,
                ":queued": JobStatus.QUEUED.value,
                ":error": error.as_dict(),
                ":ambiguous": ambiguous,
                ":at": isoformat(at),
                ":attention": item.attention(item.NOTIFY, job_id),
                ":due": int(at.timestamp()),
            },
        )

    def finish(self, final: FinalState, *, lease_token: str, lease_until: datetime) -> FinishResult:
        """See `JobRepository.finish`. A job without a result is a failure the reconciler gave up
        on; `final.submit_error_ambiguous` then says whether a late result may still complete it."""
        result = final.result
        condition, values = item.awaiting_result_condition()
        sets = [
            f"#{item.STATUS} = :status",
            f"{item.UPDATED_AT} = :at",
            f"{item.COMPLETED_AT} = :at",
            f"{item.SUBMIT_ERROR_AMBIGUOUS} = :ambiguous",
            f"{item.LEASE_TOKEN} = :token",
            f"{item.LEASE_UNTIL} = :until",
            f"#{item.ATTENTION} = :attention",
            f"{item.DUE_AT} = :until",
        ]
        # A new final state is owed its own notification.
        removes = [item.NOTIFIED_AT, item.NOTIFICATION_MESSAGE_ID]
        values |= {
            ":status": final.status.value,
            ":at": final.completed_at,
            ":ambiguous": final.submit_error_ambiguous,
            ":token": lease_token,
            ":until": int(lease_until.timestamp()),
            ":attention": item.attention(item.NOTIFY, final.job_id),
        }
        if final.request_id:
            sets.append(f"{item.REQUEST_ID} = if_not_exists({item.REQUEST_ID}, :request_id)")
            values[":request_id"] = final.request_id
            condition += " AND " + item.request_condition()
        optional = {
            f"#{item.RESULT}": item.result_map(result) if result else None,
            item.RESULT_DATA: result.inline_data if result else None,
            f"#{item.SUMMARY}": item.summary_json(final.summary),
            f"#{item.ERROR}": final.error.as_dict() if final.error else None,
        }
        for attribute, value in optional.items():
            if value is None:
                removes.append(attribute)
            else:
                placeholder = ":" + attribute.lstrip("#")
                sets.append(f"{attribute} = {placeholder}")
                values[placeholder] = value
        expression = "SET " + ", ".join(sets) + " REMOVE " + ", ".join(removes)
        return self._write_under_lease(final.job_id, expression, condition, values, lease_token)

    def record_resubmission(
        self,
        job: Job,
        *,
        request_id: str,
        at: datetime,
        result_due_at: datetime,
        delivery: Delivery,
        outcome: str,
    ) -> bool:
        """Deepgram took the job again: the new request becomes current, the old one an attempt
        (whose late result is still accepted). Only while the job awaits its result under `job.request_id`."""
        previous = Attempt(
            request_id=job.request_id,
            submitted_at=job.submitted_at,
            delivery=job.delivery.value,
            outcome=outcome,
        )
        condition, values = item.awaiting_result_condition()
        values |= {
            ":request_id": request_id,
            ":at": isoformat(at),
            ":attempts": item.attempts_json((*job.attempts, previous)),
            ":delivery": delivery.value,
            ":attention": item.attention(item.AWAITING, job.job_id),
            ":due": int(result_due_at.timestamp()),
            ":processing": JobStatus.PROCESSING.value,
        }
        sets = (
            f"SET {item.REQUEST_ID} = :request_id, {item.SUBMITTED_AT} = :at, {item.UPDATED_AT} = :at,"
            f" {item.ATTEMPTS} = :attempts, {item.DELIVERY} = :delivery, #{item.ATTENTION} = :attention,"
            f" {item.DUE_AT} = :due, #{item.STATUS} = :processing"
        )
        if job.request_id:
            values[":current"] = job.request_id
            values[":previous"] = {job.request_id}
            condition += f" AND {item.REQUEST_ID} = :current"
            sets += f" ADD {item.PREVIOUS_REQUEST_IDS} :previous"
        else:
            condition += f" AND attribute_not_exists({item.REQUEST_ID})"
        return self._update(job.job_id, sets, condition, values)

    def delete(self, job: Job, *, at: datetime, lease_token: str, lease_until: datetime) -> FinishResult:
        """Leave a tombstone of `job` (as last read: `updated_at` must not have changed since),
        without its result, kept audio or summary, owed a `deleted` notification."""
        stamp = isoformat(at)
        return self._write_under_lease(
            job.job_id,
            f"SET #{item.STATUS} = :deleted, {item.DELETED_AT} = :at, {item.UPDATED_AT} = :at,"
            f" {item.LEASE_TOKEN} = :token, {item.LEASE_UNTIL} = :until,"
            f" #{item.ATTENTION} = :attention, {item.DUE_AT} = :until"
            f" REMOVE #{item.RESULT}, {item.RESULT_DATA}, #{item.SUMMARY}, {item.AUDIO_KEY},"
            f" {item.NOTIFIED_AT}, {item.NOTIFICATION_MESSAGE_ID}",
            f"{item.UPDATED_AT} = :expected AND #{item.STATUS} <> :deleted",
            {
                ":deleted": JobStatus.DELETED.value,
                ":at": stamp,
                ":expected": job.updated_at,
                ":token": lease_token,
                ":until": int(lease_until.timestamp()),
                ":attention": item.attention(item.NOTIFY, job.job_id),
            },
            lease_token,
        )

    def claim_notification(self, job_id: str, lease_token: str, *, now: datetime, until: datetime) -> bool:
        try:
            self._update(
                job_id,
                f"SET {item.LEASE_TOKEN} = :token, {item.LEASE_UNTIL} = :until, {item.DUE_AT} = :until",
                f"#{item.STATUS} IN (:completed, :failed, :deleted)"
                f" AND attribute_not_exists({item.NOTIFIED_AT})"
                f" AND (attribute_not_exists({item.LEASE_UNTIL}) OR {item.LEASE_UNTIL} < :now)",
                {
                    ":token": lease_token,
                    ":until": int(until.timestamp()),
                    ":now": int(now.timestamp()),
                    ":completed": JobStatus.COMPLETED.value,
                    ":failed": JobStatus.FAILED.value,
                    ":deleted": JobStatus.DELETED.value,
                },
                return_old_on_failure=True,
            )
        except _ConditionFailed as failed:
            return failed.old_item is not None and item.lease_token(failed.old_item) == lease_token
        return True

    def mark_notified(
        self, job_id: str, message_id: str, at: datetime, *, lease_token: str | None = None
    ) -> None:
        condition = f"attribute_exists(#{item.KEY}) AND attribute_not_exists({item.NOTIFIED_AT})"
        if lease_token is not None:
            condition += f" AND {item.LEASE_TOKEN} = :token"
        self._update(
            job_id,
            f"SET {item.NOTIFIED_AT} = :at, {item.NOTIFICATION_MESSAGE_ID} = :message_id"
            f" REMOVE {item.LEASE_TOKEN}, {item.LEASE_UNTIL}, #{item.ATTENTION}, {item.DUE_AT}",
            condition,
            {":at": isoformat(at), ":message_id": message_id, ":token": lease_token},
        )

    def release_notification(self, job_id: str, lease_token: str) -> None:
        self._update(
            job_id,
            f"REMOVE {item.LEASE_TOKEN}, {item.LEASE_UNTIL}",
            f"{item.LEASE_TOKEN} = :token",
            {":token": lease_token},
        )

    def due_for_attention(self, kind: str, *, now: datetime, limit: int) -> list[Job]:
        """Jobs of one kind (`awaiting`: result overdue; `notify`: notification owed) due by `now`,
        most overdue first, from the sparse attention index (never a scan)."""
        due: list[tuple[int, Job]] = []
        for partition in item.attention_keys(kind):
            request: dict[str, Any] = {
                "TableName": self._table,
                "IndexName": JobsTable.ATTENTION_INDEX,
                "KeyConditionExpression": f"#{item.ATTENTION} = :attention AND {item.DUE_AT} <= :now",
                "ExpressionAttributeNames": {f"#{item.ATTENTION}": item.ATTENTION},
                "ExpressionAttributeValues": item.serialize(
                    {":attention": partition, ":now": int(now.timestamp())}
                ),
                "Limit": limit,
            }
            with dependency("DynamoDB"):
                response = self._client.query(**request)
            # Sorted by the index's own due time: a `notify` job has no `result_due_at`.
            due += [(int(found[item.DUE_AT]["N"]), item.to_job(found)) for found in response.get("Items", [])]
        due.sort(key=lambda entry: entry[0])
        return [job for _, job in due[:limit]]

    def list_jobs(
        self, *, status: JobStatus | None, created_after: str | None, limit: int, cursor: str | None
    ) -> JobPage:
        """Newest first, `limit` a page, from the status index (one status) or the month index
        (every status: month by month back to the oldest month a job can still be in)."""
        position = _decode_cursor(cursor)
        index, partition = _listing_partition(status, position)
        jobs: list[Job] = []
        start_key = position.get("key")
        if start_key is not None:
            _check_start_key(start_key, index, partition)
        while True:
            key_name = JobsTable.STATUS_KEY if status is not None else JobsTable.MONTH_KEY
            condition = "#partition = :partition"
            values: dict[str, Any] = {":partition": partition}
            if created_after:
                condition += f" AND {JobsTable.CREATED_SORT_KEY} > :after"
                values[":after"] = created_after
            request: dict[str, Any] = {
                "TableName": self._table,
                "IndexName": index,
                "KeyConditionExpression": condition,
                "ExpressionAttributeNames": {"#partition": key_name},
                "ExpressionAttributeValues": item.serialize(values),
                "ScanIndexForward": False,
                "Limit": limit - len(jobs),
            }
            if start_key:
                request["ExclusiveStartKey"] = start_key
            with dependency("DynamoDB"):
                response = self._client.query(**request)
            jobs += [item.to_job(found) for found in response.get("Items", [])]
            start_key = response.get("LastEvaluatedKey")
            if start_key:
                if len(jobs) >= limit:
                    return JobPage(
                        jobs=jobs, next_cursor=_encode_cursor({"month": partition, "key": start_key})
                    )
                continue
            if status is not None:
                return JobPage(jobs=jobs, next_cursor=None)
            partition = _previous_month(partition)
            if partition < _oldest_month(created_after):
                return JobPage(jobs=jobs, next_cursor=None)
            if len(jobs) >= limit:
                return JobPage(jobs=jobs, next_cursor=_encode_cursor({"month": partition}))

    def _write_under_lease(
        self, job_id: str, expression: str, condition: str, values: dict[str, Any], lease_token: str
    ) -> FinishResult:
        """One conditional write that takes the notification lease, answered with the job as
        written (`ALL_NEW`) or, when the condition fails, as found (`ALL_OLD`): never a read."""
        try:
            written = self._update_returning_new(job_id, expression, condition, values)
        except _ConditionFailed as failed:
            if failed.old_item is None:
                return FinishResult(applied=False, current=None)
            # A retry of a write whose reply was lost finds its own lease token: the write is ours.
            applied = item.lease_token(failed.old_item) == lease_token
            return FinishResult(applied=applied, current=item.to_job(failed.old_item))
        return FinishResult(applied=True, current=item.to_job(written))

    def _update(
        self,
        job_id: str,
        update: str,
        condition: str,
        values: dict[str, Any],
        *,
        return_old_on_failure: bool = False,
    ) -> bool:
        """Run a conditional UpdateItem; False when the condition does not hold.

        With `return_old_on_failure`, a failed condition raises `_ConditionFailed` carrying the
        item as it was (None: no such item) instead, at no extra round trip."""
        request = self._update_request(job_id, update, condition, values, return_old_on_failure)
        return self._send_update(request, return_old_on_failure) is not None

    def _update_returning_new(
        self, job_id: str, update: str, condition: str, values: dict[str, Any]
    ) -> dict[str, Any]:
        """`_update` with `return_old_on_failure`, answered with the item as written (`ALL_NEW`)."""
        request = self._update_request(job_id, update, condition, values, True)
        request["ReturnValues"] = "ALL_NEW"
        written = self._send_update(request, True)
        assert written is not None  # a failed condition raised `_ConditionFailed`
        return written

    def _update_request(
        self, job_id: str, update: str, condition: str, values: dict[str, Any], return_old_on_failure: bool
    ) -> dict[str, Any]:
        placeholders = set(_PLACEHOLDER.findall(update + " " + condition))
        request: dict[str, Any] = {
            "TableName": self._table,
            "Key": item.key(job_id),
            "UpdateExpression": update,
            "ConditionExpression": condition,
            "ExpressionAttributeValues": item.serialize(
                {name: value for name, value in values.items() if name in placeholders}
            ),
        }
        names = {name: value for name, value in item.NAMES.items() if name in placeholders}
        if names:
            request["ExpressionAttributeNames"] = names
        if return_old_on_failure:
            request["ReturnValuesOnConditionCheckFailure"] = "ALL_OLD"
        return request

    def _send_update(self, request: dict[str, Any], return_old_on_failure: bool) -> dict[str, Any] | None:
        """The returned attributes (empty unless asked for); None when the condition failed."""
        try:
            response = self._client.update_item(**request)
        except ClientError as failure:
            if error_code(failure) != "ConditionalCheckFailedException":
                raise dependency_error("DynamoDB", failure) from failure
            if return_old_on_failure:
                raise _ConditionFailed(failure.response.get("Item")) from None
            return None
        except BotoCoreError as failure:
            raise dependency_error("DynamoDB", failure) from failure
        attributes: dict[str, Any] = response.get("Attributes", {})
        return attributes


def _month(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m")


def _previous_month(month: str) -> str:
    first = datetime.strptime(month + "-01", "%Y-%m-%d").replace(tzinfo=UTC)
    return _month(first - timedelta(days=1))


MAX_LISTED_MONTHS = 121
"""How far back an unfiltered listing walks: DynamoDB's TTL keeps no job longer than the longest
retention (3650 days)."""


def _oldest_month(created_after: str | None) -> str:
    if created_after:
        return created_after[:7]
    return _month(datetime.now(UTC) - timedelta(days=31 * MAX_LISTED_MONTHS))


def _encode_cursor(position: dict[str, Any]) -> str:
    return base64.urlsafe_b64encode(json.dumps(position, separators=(",", ":")).encode()).decode().rstrip("=")


_MONTH = re.compile(r"^\d{4}-(0[1-9]|1[0-2])$")


def _decode_cursor(cursor: str | None) -> dict[str, Any]:
    if not cursor:
        return {}
    try:
        position = json.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
    except (binascii.Error, ValueError) as error:
        raise InvalidCursor("cursor is not one this API gave") from error
    # A month that is not YYYY-MM would fail `_previous_month` (a 500), a malformed key DynamoDB
    # (a ValidationException, a 503): both are the client's cursor, refused here.
    if not isinstance(position, dict) or set(position) - {"month", "key"}:
        raise InvalidCursor("cursor is not one this API gave")
    month, key = position.get("month"), position.get("key")
    if (month is not None and not isinstance(month, str)) or (key is not None and not isinstance(key, dict)):
        raise InvalidCursor("cursor is not one this API gave")
    return position


def _listing_partition(status: JobStatus | None, position: dict[str, Any]) -> tuple[str, str]:
    """The index a listing reads and the partition it starts in (the cursor's, if it gives one)."""
    if status is not None:
        # A cursor of a listing by status names that status where the month would be.
        if position.get("month") not in (None, status.value):
            raise InvalidCursor("cursor is not one this API gave")
        return JobsTable.STATUS_INDEX, status.value
    month = position.get("month") or _month(datetime.now(UTC))
    if not _MONTH.match(month):
        raise InvalidCursor("cursor is not one this API gave")
    return JobsTable.MONTH_INDEX, month


def _check_start_key(key: dict[str, Any], index: str, partition: str) -> None:
    """A start key must be one of `index`'s, in the partition being read (a cursor of a listing
    by status given to a listing of another status, or of every status, is not)."""
    partition_key = JobsTable.STATUS_KEY if index == JobsTable.STATUS_INDEX else JobsTable.MONTH_KEY
    expected = {JobsTable.PARTITION_KEY, partition_key, JobsTable.CREATED_SORT_KEY}
    strings = all(
        isinstance(value, dict) and set(value) == {"S"} and isinstance(value["S"], str)
        for value in key.values()
    )
    if set(key) != expected or not strings or key[partition_key]["S"] != partition:
        raise InvalidCursor("cursor is not one this API gave")
