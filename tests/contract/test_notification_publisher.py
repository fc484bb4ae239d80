"""The NotificationPublisher contract: the in-memory fake and SNS on moto, read by an SQS subscriber."""

from __future__ import annotations

import json

import pytest

from functions.core.contract import Notification
from functions.core.notifications import OutgoingNotification
from functions.core.ports import DependencyError
from tests.contract.conftest import Delivered, PublisherUnderTest

NOTIFICATION = OutgoingNotification(
    message=json.dumps(
        {
            "version": 1,
            "job_id": "0123",
            "summary": {"transcript_preview": "héllo — 日本語 🎙", "confidence": 0.9},
        },
        separators=(",", ":"),
        ensure_ascii=False,
    ),
    attributes={
        Notification.ATTR_EVENT_TYPE: Notification.EVENT_COMPLETED,
        Notification.ATTR_STATUS: "completed",
        Notification.ATTR_METADATA_PREFIX + "customer": "Zoë — 日本語",
        Notification.ATTR_METADATA_PREFIX + "ticket-id": "42",
    },
)


def test_publish_returns_the_id_of_the_message_that_arrives_intact(publishers: PublisherUnderTest) -> None:
    message_id = publishers.publisher.publish(NOTIFICATION)

    assert isinstance(message_id, str)
    assert message_id
    assert publishers.delivered() == [Delivered(message_id, NOTIFICATION.message, NOTIFICATION.attributes)]


def test_each_publication_is_a_message_of_its_own(publishers: PublisherUnderTest) -> None:
    first = publishers.publisher.publish(NOTIFICATION)
    second = publishers.publisher.publish(NOTIFICATION)

    assert first != second
    assert sorted(sent.message_id for sent in publishers.delivered()) == sorted([first, second])


def test_a_message_attribute_with_an_empty_value_is_refused(publishers: PublisherUnderTest) -> None:
    with pytest.raises(DependencyError):
        publishers.publisher.publish(OutgoingNotification(message="{}", attributes={"metadata.empty": ""}))
    assert publishers.delivered() == []
