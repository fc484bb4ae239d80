"""Finish a job from a result Deepgram PUT to S3 (S3 delivery), by the callback's own rules.

S3 reports each new object under `deliveries/` (at least once). For each, the finisher reads the
object and hands it to `CallbackService.handle_delivery`, the callback's code path: the key names
the job (only the holder of that job's presigned URL could write it), correlation, redaction of
the job's secret, storage under `results/`, one conditional finish, one notification. Then:

- stored (or a duplicate, or the job was deleted): the delivery object is deleted; it is only a
  drop box, and its unredacted body must not outlive the job's secret. A repeated event then finds
  no object (`gone`), or, while the first is still running, the same body (`duplicate`);
- a dependency failed (`retry`): the object stays and the handler raises, so Lambda retries the
  event (asynchronous invocation);
- refused (not JSON, wrong secret, another request, a conflicting result): logged, not retried; the
  object stays for inspection until the `deliveries/` lifecycle rule expires it (a day).
"""

from __future__ import annotations

from dataclasses import dataclass

from functions.callback.logic import CallbackResult, CallbackService
from functions.core.ports import DependencyError, ResultBlobStore
from functions.core.result_storage import job_id_of_delivery_key
from functions.finisher.events import CreatedObject

HANDLED = ("accepted", "duplicate", "discarded")


@dataclass(frozen=True)
class Finished:
    """What became of one delivery object. `outcome`: the callback's (accepted, duplicate,
    discarded, rejected, retry), or `gone` (already handled) or `ignored` (not a delivery)."""

    key: str
    outcome: str
    job_id: str | None = None
    result: CallbackResult | None = None
    body_bytes: int | None = None
    detail: str | None = None

    @property
    def retry(self) -> bool:
        return self.outcome == "retry"


class DeliveryFinisher:
    def __init__(self, *, service: CallbackService, deliveries: ResultBlobStore, bucket: str) -> None:
        """`deliveries`: the results bucket (named `bucket`), which holds the deliveries/ prefix."""
        self._service = service
        self._deliveries = deliveries
        self._bucket = bucket

    def finish(self, created: CreatedObject) -> Finished:
        job_id = job_id_of_delivery_key(created.key)
        if created.bucket != self._bucket or job_id is None:
            return Finished(created.key, "ignored", detail=f"not a delivery of this stack: {created.bucket}")
        try:
            body = self._deliveries.get(created.key)
        except DependencyError as error:
            if error.permanent:  # NoSuchKey: an earlier event's handling deleted it
                return Finished(created.key, "gone", job_id, detail=str(error))
            return Finished(created.key, "retry", job_id, detail=str(error))
        result = self._service.handle_delivery(job_id, body)
        if result.outcome in HANDLED:
            try:
                self._deliveries.delete(created.key)
            except DependencyError as error:  # the lifecycle rule removes it; a repeat is a duplicate
                return Finished(
                    created.key, result.outcome, job_id, result, len(body), f"not deleted: {error}"
                )
        return Finished(created.key, result.outcome, job_id, result, len(body), result.detail)
