"""The objects an event says were created: S3's "Object Created" event through EventBridge (how the
stack routes it, `infra/delivery.py`) or an S3 event notification's records (the same fact in S3's
own format). Pure Python."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import unquote_plus

OBJECT_CREATED = "Object Created"


@dataclass(frozen=True)
class CreatedObject:
    bucket: str
    key: str
    size: int | None = None


def created_objects(event: Mapping[str, Any]) -> list[CreatedObject]:
    """Every object the event reports created; nothing for an event of another kind."""
    if event.get("detail-type") == OBJECT_CREATED:
        detail = event.get("detail") or {}
        bucket, found = (detail.get("bucket") or {}).get("name"), detail.get("object") or {}
        if isinstance(bucket, str) and isinstance(found.get("key"), str):
            return [CreatedObject(bucket, found["key"], _size(found.get("size")))]
        return []
    objects = []
    for record in event.get("Records") or []:
        if not str(record.get("eventName", "")).startswith("ObjectCreated:"):
            continue
        s3 = record.get("s3") or {}
        bucket, found = (s3.get("bucket") or {}).get("name"), s3.get("object") or {}
        if isinstance(bucket, str) and isinstance(found.get("key"), str):
            # Keys in S3 event notifications are URL-encoded (a space as '+').
            objects.append(CreatedObject(bucket, unquote_plus(found["key"]), _size(found.get("size"))))
    return objects


def _size(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None
