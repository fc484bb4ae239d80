"""Publishing job notifications to the SNS topic."""

from __future__ import annotations

from typing import Any

from functions.core.adapters.aws import call
from functions.core.notifications import OutgoingNotification


class SnsNotificationPublisher:
    def __init__(self, client: Any, topic_arn: str) -> None:
        self._client = client
        self._topic_arn = topic_arn

    def publish(self, notification: OutgoingNotification) -> str:
        response = call(
            "SNS",
            self._client.publish,
            TopicArn=self._topic_arn,
            Message=notification.message,
            MessageAttributes={
                name: {"DataType": "String", "StringValue": value}
                for name, value in notification.attributes.items()
            },
        )
        return str(response["MessageId"])
