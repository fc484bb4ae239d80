"""Reading a job back: its state and, once completed, its result (Deepgram has no polling API)."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from functions.core import result_storage
from functions.core.jobs import JobStatus, is_valid_job_id, public_view
from functions.core.ports import JobRepository, ResultBlobStore


@dataclass(frozen=True)
class StatusConfig:
    result_url_ttl_seconds: int


class JobNotFound(Exception):
    pass


class StatusService:
    def __init__(
        self,
        *,
        jobs: JobRepository,
        blobs: ResultBlobStore,
        config: StatusConfig,
        clock: Callable[[], datetime],
    ) -> None:
        self._jobs = jobs
        self._blobs = blobs
        self._config = config
        self._clock = clock

    def describe(self, job_id: str) -> dict[str, Any]:
        """The job's public view; a completed job's result inline when stored inline, else a
        short-lived presigned S3 URL."""
        job = self._jobs.get(job_id) if is_valid_job_id(job_id) else None
        # DynamoDB's TTL deletes expired items days late, the results' lifecycle rule on time.
        if job is None or job.expires_at <= self._clock().timestamp():
            raise JobNotFound(job_id)
        view = public_view(job)
        stored = job.result
        if job.status is not JobStatus.COMPLETED or stored is None:
            return view
        view["result_size_bytes"] = stored.size_bytes
        view["result_sha256"] = stored.sha256
        if stored.inline_data is not None:
            view["result"] = json.loads(result_storage.decode_inline(stored))
        elif stored.s3_key:
            view["result_url"] = self._blobs.presigned_get_url(
                stored.s3_key, self._config.result_url_ttl_seconds
            )
            view["result_url_expires_in"] = self._config.result_url_ttl_seconds
        return view
