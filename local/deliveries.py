"""S3 delivery, locally: the signer role, and S3's "Object Created" events for `deliveries/`
handed to the finisher as EventBridge would hand them.

In AWS (`infra/delivery.py`) the results bucket sends its events to EventBridge and a rule sends
those for `deliveries/` to the finisher, invoked asynchronously (Lambda retries a failed invocation
twice). moto has no EventBridge-to-Lambda path, but its S3 does send event notifications to SQS.
So `DeliveryEvents` configures the bucket to notify a queue of objects created under
`deliveries/`, polls it, turns each record into the EventBridge "Object Created" event the rule
would deliver, and invokes the finisher with it, retrying a failed invocation twice as Lambda
would (`retry_interval_seconds` apart instead of Lambda's minutes). At least once, like S3.
"""

from __future__ import annotations

import json
import logging
import threading
import uuid
from datetime import UTC, datetime
from typing import Any
from urllib.parse import unquote_plus

import boto3

from functions.core.contract import ResultsBucket
from local.events import ACCOUNT_ID, REGION
from local.function_process import InvocationError, LocalFunction

SIGNER_ROLE_NAME = "transcription-delivery-signer"
QUEUE_NAME = "transcription-deliveries"
LAMBDA_ASYNC_RETRIES = 2

logger = logging.getLogger(__name__)


def create_signer_role(region: str = REGION) -> str:
    """The role the submit function and the reconciler assume to sign delivery URLs; its ARN."""
    iam = boto3.client("iam", region_name=region)
    trust = {
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Principal": {"AWS": ACCOUNT_ID}, "Action": "sts:AssumeRole"}],
    }
    role = iam.create_role(RoleName=SIGNER_ROLE_NAME, AssumeRolePolicyDocument=json.dumps(trust))
    return str(role["Role"]["Arn"])


def object_created_event(
    bucket: str, key: str, *, size: int, etag: str = "", region: str = REGION
) -> dict[str, Any]:
    """S3's "Object Created" event as EventBridge delivers it to a rule's Lambda target."""
    return {
        "version": "0",
        "id": str(uuid.uuid4()),
        "detail-type": "Object Created",
        "source": "aws.s3",
        "account": ACCOUNT_ID,
        "time": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "region": region,
        "resources": [f"arn:aws:s3:::{bucket}"],
        "detail": {
            "version": "0",
            "bucket": {"name": bucket},
            "object": {"key": key, "size": size, "etag": etag, "sequencer": uuid.uuid4().hex[:18].upper()},
            "request-id": uuid.uuid4().hex[:16].upper(),
            "requester": ACCOUNT_ID,
            "reason": "PutObject",
        },
    }


class DeliveryEvents:
    """Polls the bucket's event queue and invokes the finisher with each "Object Created" event."""

    def __init__(
        self,
        *,
        bucket: str,
        finisher: LocalFunction,
        region: str = REGION,
        retry_interval_seconds: float = 0.5,
    ) -> None:
        self._bucket = bucket
        self._finisher = finisher
        self._region = region
        self._retry_interval = retry_interval_seconds
        self._sqs = boto3.client("sqs", region_name=region)
        self._queue_url = ""
        self._stop = threading.Event()
        self._idle = threading.Event()
        self._received_since_settled = False
        self._thread: threading.Thread | None = None
        self.invocations: list[dict[str, Any]] = []
        """Each finisher invocation: key, attempt, outcome (its answer, or the error)."""

    def start(self) -> DeliveryEvents:
        """Create the queue, point the bucket's notifications at it, and start polling."""
        self._queue_url = self._sqs.create_queue(QueueName=QUEUE_NAME)["QueueUrl"]
        arn = self._sqs.get_queue_attributes(QueueUrl=self._queue_url, AttributeNames=["QueueArn"])
        boto3.client("s3", region_name=self._region).put_bucket_notification_configuration(
            Bucket=self._bucket,
            NotificationConfiguration={
                "QueueConfigurations": [
                    {
                        "QueueArn": arn["Attributes"]["QueueArn"],
                        "Events": ["s3:ObjectCreated:*"],
                        "Filter": {
                            "Key": {
                                "FilterRules": [{"Name": "prefix", "Value": ResultsBucket.DELIVERIES_PREFIX}]
                            }
                        },
                    }
                ]
            },
        )
        self._thread = threading.Thread(target=self._run, name="local-delivery-events", daemon=True)
        self._thread.start()
        return self

    def stop(self, timeout: float = 10.0) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout)
            self._thread = None

    def settle(self, timeout: float = 30.0) -> bool:
        """Wait until every event so far was handled (a poll found the queue empty); at once if
        no event came since the last time. False if still busy after `timeout` seconds."""
        if not self._received_since_settled and not self._queued():
            return True
        self._idle.clear()
        settled = self._idle.wait(timeout)
        if settled:
            self._received_since_settled = False
        return settled

    def _queued(self) -> int:
        names = ["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"]
        attributes = self._sqs.get_queue_attributes(QueueUrl=self._queue_url, AttributeNames=names)[
            "Attributes"
        ]
        return sum(int(attributes.get(name, 0)) for name in names)

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                messages = self._sqs.receive_message(
                    QueueUrl=self._queue_url, MaxNumberOfMessages=10, WaitTimeSeconds=1
                ).get("Messages", [])
            except Exception:  # moto stopping under us: the stack is shutting down
                if not self._stop.wait(0.2):
                    logger.warning("reading the deliveries queue failed", exc_info=True)
                continue
            if not messages:
                self._idle.set()
                continue
            self._received_since_settled = True
            for message in messages:
                self._handle(json.loads(message["Body"]))
                self._sqs.delete_message(QueueUrl=self._queue_url, ReceiptHandle=message["ReceiptHandle"])

    def _handle(self, notification: dict[str, Any]) -> None:
        for record in notification.get("Records", []):  # none in S3's initial s3:TestEvent
            found = record.get("s3", {}).get("object", {})
            # S3 notifications URL-encode the key; EventBridge's "Object Created" events do not.
            key, size, etag = (
                unquote_plus(found.get("key", "")),
                int(found.get("size") or 0),
                found.get("eTag", ""),
            )
            event = object_created_event(self._bucket, key, size=size, etag=etag, region=self._region)
            for attempt in range(1, LAMBDA_ASYNC_RETRIES + 2):
                try:
                    answer = self._finisher.invoke(event)
                except InvocationError as error:
                    self.invocations.append({"key": key, "attempt": attempt, "error": str(error)})
                    if self._stop.wait(self._retry_interval):
                        return
                    continue
                self.invocations.append({"key": key, "attempt": attempt, "result": answer})
                break
            else:
                logger.error("finisher failed on %s %d times; the event is dropped", key, attempt)
