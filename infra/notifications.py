"""Job notifications: an encrypted SNS topic and the optional subscribers chosen in the context.

The callback function publishes one message per finished job, with the message attributes in
`contract.Notification` (event type, status, the job's metadata), so each subscriber can carry
an SNS filter policy and receive only what it wants.

Encryption: the topic uses a customer managed KMS key rather than the AWS managed `aws/sns`
key, because only a customer managed key has a policy we can extend: to let an AWS service or
another account publish, or, for the queue, to let SNS encrypt what it delivers. The optional
queue and its dead-letter queue get a key of their own, which SNS may use only on behalf of
this topic (a condition on the topic's ARN; on the topic's own key that condition would make
the key and the topic depend on each other) and which consumers are granted `kms:Decrypt` on.
Both keys rotate yearly. Topic and queue policies deny any request not made over TLS.

Optional subscribers (see infra/config.py): an email address, an SQS queue with its dead-letter
queue (messages a consumer failed five times, and messages SNS could not deliver), and an HTTPS
endpoint.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import aws_cdk as cdk
from aws_cdk import aws_kms as kms
from aws_cdk import aws_sns as sns
from aws_cdk import aws_sns_subscriptions as subscriptions
from aws_cdk import aws_sqs as sqs
from constructs import Construct

from infra.config import Settings
from infra.retention import removal_policy

QUEUE_MAX_RECEIVE_COUNT = 5
QUEUE_RETENTION = cdk.Duration.days(14)


def filter_policy(policy: Mapping[str, list[Any]]) -> dict[str, sns.SubscriptionFilter] | None:
    """An SNS message-attribute filter policy from its JSON form (`{"status": ["failed"]}`)."""
    if not policy:
        return None
    return {
        attribute: sns.SubscriptionFilter(conditions=conditions) for attribute, conditions in policy.items()
    }


class Notifications(Construct):
    """The notifications topic, its key, and the subscriptions configured in the context."""

    def __init__(self, scope: Construct, construct_id: str, *, settings: Settings) -> None:
        super().__init__(scope, construct_id)
        self._settings = settings
        self.key = self._key("Key", "Encrypts the job notifications topic.")
        self.topic = sns.Topic(
            self,
            "Topic",
            display_name="Deepgram transcription notifications",
            master_key=self.key,
            enforce_ssl=True,
        )

        self.queue: sqs.Queue | None = None
        self.dead_letter_queue: sqs.Queue | None = None
        if settings.notify_email:
            self.topic.add_subscription(
                subscriptions.EmailSubscription(
                    settings.notify_email.endpoint,
                    filter_policy=filter_policy(settings.notify_email.filter_policy),
                )
            )
        self.queue_key: kms.Key | None = None
        if settings.notify_queue:
            self.queue_key = self._key(
                "QueueKey", "Encrypts the job notifications queue and its dead-letter queue."
            )
            self.dead_letter_queue = self._queue("DeadLetterQueue", self.queue_key)
            self.queue = self._queue(
                "Queue",
                self.queue_key,
                dead_letter_queue=sqs.DeadLetterQueue(
                    max_receive_count=QUEUE_MAX_RECEIVE_COUNT, queue=self.dead_letter_queue
                ),
            )
            self.topic.add_subscription(
                subscriptions.SqsSubscription(
                    self.queue,
                    dead_letter_queue=self.dead_letter_queue,
                    filter_policy=filter_policy(settings.notify_queue.filter_policy),
                )
            )
        if settings.notify_https:
            self.topic.add_subscription(
                subscriptions.UrlSubscription(
                    settings.notify_https.endpoint,
                    protocol=sns.SubscriptionProtocol.HTTPS,
                    filter_policy=filter_policy(settings.notify_https.filter_policy),
                )
            )

    def _key(self, construct_id: str, description: str) -> kms.Key:
        return kms.Key(
            self,
            construct_id,
            description=description,
            enable_key_rotation=True,
            removal_policy=removal_policy(self._settings),
        )

    def _queue(
        self, construct_id: str, key: kms.IKey, *, dead_letter_queue: sqs.DeadLetterQueue | None = None
    ) -> sqs.Queue:
        return sqs.Queue(
            self,
            construct_id,
            encryption=sqs.QueueEncryption.KMS,
            encryption_master_key=key,
            enforce_ssl=True,
            retention_period=QUEUE_RETENTION,
            dead_letter_queue=dead_letter_queue,
        )
