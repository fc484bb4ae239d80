"""The DynamoDB write semantics the project relies on, checked on Amazon's DynamoDB Local.

* Conditional writes to one item are serialised: of several identical conditional UpdateItems
  released at once, exactly one succeeds (moto's server can let two or three through).
* A failed condition with `ReturnValuesOnConditionCheckFailure=ALL_OLD` returns the stored item.
* An item over 400 KB is refused with a ValidationException.
"""

from __future__ import annotations

import functools
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
from botocore.exceptions import ClientError

from functions.core.contract import JobsTable
from tests.dynamodb_local import LocalTable

KEY = JobsTable.PARTITION_KEY
WRITERS = 8
TRIALS = 25
ITEM_LIMIT_BYTES = 400 * 1024


def error_code(failure: ClientError) -> str:
    return str(failure.response.get("Error", {}).get("Code", ""))


def all_at_once(count: int, action: Callable[[int], bool]) -> list[bool]:
    """Run `action(0..count-1)` on `count` threads released together by a barrier; no lock."""
    barrier = threading.Barrier(count, timeout=10)

    def run(index: int) -> bool:
        barrier.wait()
        return action(index)

    with ThreadPoolExecutor(max_workers=count) as pool:
        return list(pool.map(run, range(count)))


def finish_once(table: LocalTable, job_id: str, token: str) -> bool:
    """The shape of the callback's finishing write: applies only while the job awaits a result."""
    try:
        table.client.update_item(
            TableName=table.table_name,
            Key={KEY: {"S": job_id}},
            UpdateExpression="SET #status = :completed, winner = :token",
            ConditionExpression="#status IN (:queued, :processing)",
            ExpressionAttributeNames={"#status": "status"},
            ExpressionAttributeValues={
                ":completed": {"S": "completed"},
                ":token": {"S": token},
                ":queued": {"S": "queued"},
                ":processing": {"S": "processing"},
            },
        )
    except ClientError as failure:
        if error_code(failure) == "ConditionalCheckFailedException":
            return False
        raise
    return True


def finish_as(table: LocalTable, job_id: str, writer: int) -> bool:
    return finish_once(table, job_id, str(writer))


def test_concurrent_identical_conditional_updates_have_exactly_one_winner(
    dynamodb_local_jobs_table: LocalTable,
) -> None:
    table = dynamodb_local_jobs_table
    winners_per_trial: list[int] = []
    for trial in range(TRIALS):
        job_id = f"race-{trial}"
        table.client.put_item(
            TableName=table.table_name, Item={KEY: {"S": job_id}, "status": {"S": "processing"}}
        )

        outcomes = all_at_once(WRITERS, functools.partial(finish_as, table, job_id))

        winners_per_trial.append(sum(outcomes))
        stored = table.client.get_item(
            TableName=table.table_name, Key={KEY: {"S": job_id}}, ConsistentRead=True
        )["Item"]
        assert stored["status"] == {"S": "completed"}
        assert outcomes[int(stored["winner"]["S"])] is True  # the stored write is the winner's
    assert winners_per_trial == [1] * TRIALS


def test_a_failed_condition_returns_the_stored_item_when_asked(dynamodb_local_jobs_table: LocalTable) -> None:
    table = dynamodb_local_jobs_table
    item = {KEY: {"S": "finished"}, "status": {"S": "completed"}, "result": {"M": {"sha256": {"S": "ab"}}}}
    table.client.put_item(TableName=table.table_name, Item=item)

    with pytest.raises(ClientError) as raised:
        table.client.update_item(
            TableName=table.table_name,
            Key={KEY: {"S": "finished"}},
            UpdateExpression="SET #status = :failed",
            ConditionExpression="#status = :processing",
            ExpressionAttributeNames={"#status": "status"},
            ExpressionAttributeValues={":failed": {"S": "failed"}, ":processing": {"S": "processing"}},
            ReturnValuesOnConditionCheckFailure="ALL_OLD",
        )

    assert error_code(raised.value) == "ConditionalCheckFailedException"
    returned: dict[str, Any] = dict(raised.value.response.get("Item", {}))
    assert returned == item


def test_an_item_over_400_kb_is_refused(dynamodb_local_jobs_table: LocalTable) -> None:
    table = dynamodb_local_jobs_table
    fits = {KEY: {"S": "fits"}, "data": {"B": b"x" * (ITEM_LIMIT_BYTES - 1024)}}
    too_big = {KEY: {"S": "too-big"}, "data": {"B": b"x" * (ITEM_LIMIT_BYTES + 1)}}

    table.client.put_item(TableName=table.table_name, Item=fits)
    with pytest.raises(ClientError) as raised:
        table.client.put_item(TableName=table.table_name, Item=too_big)

    assert error_code(raised.value) == "ValidationException"
    assert "size" in str(raised.value).lower()
    assert "Item" not in table.client.get_item(TableName=table.table_name, Key={KEY: {"S": "too-big"}})
