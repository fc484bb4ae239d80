"""The callback service under truly concurrent deliveries for one job, on Amazon's DynamoDB Local.

Deepgram may deliver the same result more than once, and deliveries may overlap. Eight threads
deliver at once with nothing serialising them but DynamoDB's own conditional writes: each thread
reads the job as still awaiting its result before any of them writes, so all eight race the one
finishing write. Exactly one must win, publish once and complete the job; the others answer
200 `duplicate` (same body) or 409 (another body).

Only the jobs table is real here; results blobs and notifications go to in-memory recorders.
"""

from __future__ import annotations

import base64
import json
import threading
import uuid
from collections import Counter
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from typing import Any

import pytest

from functions.callback.logic import CallbackConfig, CallbackRequest, CallbackResult, CallbackService
from functions.core.adapters.dynamodb import DynamoJobRepository
from functions.core.callback_auth import callback_secret
from functions.core.contract import DgTokenMode
from functions.core.jobs import Job, JobStatus, new_job, utc_now
from functions.core.notifications import OutgoingNotification
from local.deepgram_emulator.payloads import compact_json, generate_response
from tests.dynamodb_local import LocalTable

SIGNING_KEY = "race-test-signing-key-0123456789abcdef0123456789"
DELIVERIES = 8
TRIALS = 20


class BlobRecorder:
    """Stands in for the results bucket: keeps what is put, forgets what is deleted."""

    def __init__(self) -> None:
        self.objects: dict[str, bytes] = {}
        self._guard = threading.Lock()  # guards the dict only; DynamoDB writes are never locked

    def put(
        self, key: str, data: bytes, *, content_encoding: str, content_type: str = "application/json"
    ) -> None:
        with self._guard:
            self.objects[key] = data

    def get(self, key: str) -> bytes:
        with self._guard:
            return self.objects[key]

    def delete(self, key: str) -> None:
        with self._guard:
            self.objects.pop(key, None)

    def presigned_get_url(self, key: str, expires_in: int) -> str:
        return f"https://results.invalid/{key}?expires_in={expires_in}"


class PublishRecorder:
    """Stands in for the SNS topic: counts what is published."""

    def __init__(self) -> None:
        self.published: list[OutgoingNotification] = []
        self._guard = threading.Lock()

    def publish(self, notification: OutgoingNotification) -> str:
        with self._guard:
            self.published.append(notification)
        return uuid.uuid4().hex


class ReadsLinedUp(DynamoJobRepository):
    """The real repository, except that each delivery's first read of the job waits until every
    delivery has read it: all of them then see the job awaiting its result, and all race the
    finishing write. Lines up reads only; the writes go to DynamoDB Local as they come."""

    def __init__(self, client: Any, table_name: str, parties: int) -> None:
        super().__init__(client, table_name)
        self._all_read = threading.Barrier(parties, timeout=20)
        self._has_read = threading.local()

    def get(self, job_id: str) -> Job | None:
        found = super().get(job_id)
        if not getattr(self._has_read, "done", False):
            self._has_read.done = True
            self._all_read.wait()
        return found


def build_service(
    jobs: DynamoJobRepository, blobs: BlobRecorder, publisher: PublishRecorder
) -> CallbackService:
    """The one place that knows how a CallbackService is assembled (adapt here if it changes)."""
    config = CallbackConfig(signing_key=SIGNING_KEY, dg_token_mode=DgTokenMode.OFF, deepgram_api_key_ids=())
    return CallbackService(
        jobs=jobs, blobs=blobs, publisher=publisher, config_source=lambda: config, clock=utc_now
    )


class Trial:
    """One job on DynamoDB Local and a service whose deliveries all race for it."""

    def __init__(self, table: LocalTable) -> None:
        self.jobs = ReadsLinedUp(table.client, table.table_name, DELIVERIES)
        self.blobs = BlobRecorder()
        self.publisher = PublishRecorder()
        self.service = build_service(self.jobs, self.blobs, self.publisher)
        plain = DynamoJobRepository(table.client, table.table_name)
        job = new_job(
            source={"type": "url", "url": "https://example.com/a.wav"},
            options={},
            metadata={"customer": "acme"},
            retention_days=1,
            now=datetime.now(UTC),
        )
        plain.create(job)
        self.request_id = str(uuid.uuid4())
        plain.record_submission(job.job_id, self.request_id, datetime.now(UTC))
        self.job_id = job.job_id
        self._reader = plain

    def body(self, seed: int) -> bytes:
        """A realistic Deepgram success body for this job (as `transcript_for` builds it)."""
        extra = {"job_id": self.job_id, "callback_secret": callback_secret(SIGNING_KEY, self.job_id)}
        return compact_json(
            generate_response(duration_seconds=5.0, request_id=self.request_id, extra=extra, seed=seed)
        )

    def request(self, body: bytes) -> CallbackRequest:
        secret = callback_secret(SIGNING_KEY, self.job_id)
        token = base64.b64encode(f"{self.job_id}:{secret}".encode()).decode()
        return CallbackRequest(
            method="POST",
            headers={"authorization": f"Basic {token}", "content-type": "application/json"},
            body=body,
        )

    def deliver_all_at_once(self, bodies: list[bytes]) -> list[CallbackResult]:
        """Each body on its own thread, released together; no lock anywhere."""
        start = threading.Barrier(len(bodies), timeout=20)
        requests = [self.request(body) for body in bodies]

        def deliver(request: CallbackRequest) -> CallbackResult:
            start.wait()
            return self.service.handle(request)

        with ThreadPoolExecutor(max_workers=len(bodies)) as pool:
            return list(pool.map(deliver, requests))

    def stored(self) -> Job:
        job = self._reader.get(self.job_id)
        assert job is not None
        return job


def run_trials(
    table: LocalTable, bodies_for: Callable[[Trial], list[bytes]]
) -> list[tuple[Trial, list[CallbackResult]]]:
    runs = []
    for _ in range(TRIALS):
        trial = Trial(table)
        runs.append((trial, trial.deliver_all_at_once(bodies_for(trial))))
    return runs


@pytest.mark.parametrize("kind", ["same body", "different bodies"])
def test_concurrent_deliveries_finish_the_job_once_and_publish_once(
    dynamodb_local_jobs_table: LocalTable, kind: str
) -> None:
    def bodies_for(trial: Trial) -> list[bytes]:
        if kind == "same body":
            return [trial.body(seed=1)] * DELIVERIES
        return [trial.body(seed=seed) for seed in range(DELIVERIES)]

    runs = run_trials(dynamodb_local_jobs_table, bodies_for)

    loser = (200, "duplicate") if kind == "same body" else (409, "rejected")
    expected = Counter({(200, "accepted"): 1, loser: DELIVERIES - 1})
    for trial, results in runs:
        assert Counter((result.status_code, result.outcome) for result in results) == expected, results
        assert len(trial.publisher.published) == 1
        assert sum(result.published for result in results) == 1
        stored = trial.stored()
        assert stored.status is JobStatus.COMPLETED
        assert stored.notified_at is not None
        assert stored.result is not None
        announced = json.loads(trial.publisher.published[0].message)  # it announces what is stored
        assert announced["result"]["sha256"] == stored.result.sha256
        if kind == "different bodies":
            rejected = [result for result in results if result.outcome == "rejected"]
            assert {result.reason for result in rejected} == {"already_finished"}
