"""The SNS notification published once per finished job. Pure Python, no AWS.

The message is a compact JSON document, far below SNS's 256 KB limit whatever the transcript's
size: it names the job and says where the full result is (the status endpoint), with a short
summary. Message attributes carry the event type, the status and each job metadata pair, so
subscribers can filter with subscription filter policies without parsing the body.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from functions.core.contract import Api, Notification
from functions.core.jobs import Job, JobStatus

MAX_MESSAGE_BYTES = 64 * 1024  # well under SNS's 256 KB; metadata and summary are bounded far below it


@dataclass(frozen=True)
class OutgoingNotification:
    message: str
    attributes: dict[str, str]


EVENT_TYPES = {
    JobStatus.COMPLETED: Notification.EVENT_COMPLETED,
    JobStatus.FAILED: Notification.EVENT_FAILED,
    JobStatus.DELETED: Notification.EVENT_DELETED,
}


def build_notification(job: Job, *, redelivery: bool = False) -> OutgoingNotification:
    """The notification of a job's final state; `redelivery`: asked for again by a client
    (`POST /transcriptions/{id}/notify`), for subscribers that missed the first."""
    event_type = EVENT_TYPES[job.status]
    body: dict[str, Any] = {
        "version": Notification.FORMAT_VERSION,
        "event_type": event_type,
        "job_id": job.job_id,
        "request_id": job.request_id,
        "status": job.status.value,
        "metadata": job.metadata,
        "created_at": job.created_at,
        "submitted_at": job.submitted_at,
        "completed_at": job.completed_at,
        "result_location": Api.TRANSCRIPTION.format(id=job.job_id),
        "redelivery": redelivery,
    }
    if job.deleted_at is not None:
        body["deleted_at"] = job.deleted_at
    if job.attempts:
        body["attempts"] = len(job.attempts) + 1
    if job.summary is not None:
        body["summary"] = job.summary
    if job.error is not None:
        body["error"] = job.error.as_dict()
    if job.result is not None:
        body["result"] = {
            "size_bytes": job.result.size_bytes,
            "sha256": job.result.sha256,
            "storage": job.result.storage,
        }
    message = json.dumps(body, separators=(",", ":"), ensure_ascii=False, allow_nan=False)
    if len(message.encode()) > MAX_MESSAGE_BYTES:
        body.pop("summary", None)
        message = json.dumps(body, separators=(",", ":"), ensure_ascii=False, allow_nan=False)
    attributes = {Notification.ATTR_EVENT_TYPE: event_type, Notification.ATTR_STATUS: job.status.value}
    attributes.update({Notification.ATTR_METADATA_PREFIX + key: value for key, value in job.metadata.items()})
    return OutgoingNotification(message=message, attributes=attributes)
