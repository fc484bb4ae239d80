"""Reading a job back: its state and, once completed, its result (Deepgram has no polling API)."""

from __future__ import annotations

import gzip
import json
from dataclasses import dataclass
from typing import Any

from functions.core.jobs import JobStatus, is_valid_job_id, public_view
from functions.core.ports import JobRepository, ResultBlobStore


@dataclass(frozen=True)
class StatusConfig:
    result_url_ttl_seconds: int


class JobNotFound(Exception):
    pass


class StatusService:
    def __init__(self, *, jobs: JobRepository, blobs: ResultBlobStore, config: StatusConfig) -> None:
        self._jobs = jobs
        self._blobs = blobs
        self._config = config

    def describe(self, job_id: str) -> dict[str, Any]:
        """The job's public view; a completed job's result inline when stored inline, else a
        short-lived presigned S3 URL."""
        job = self._jobs.get(job_id) if is_valid_job_id(job_id) else None
        if job is None:
            raise JobNotFound(job_id)
        view = public_view(job)
        stored = job.result
        if job.status is not JobStatus.COMPLETED or stored is None:
            return view
        view["result_size_bytes"] = stored.size_bytes
        view["result_sha256"] = stored.sha256
        if stored.inline_data is not None:
            data = stored.inline_data
            view["result"] = json.loads(gzip.decompress(data) if stored.content_encoding == "gzip" else data)
        elif stored.s3_key:
            view["result_url"] = self._blobs.presigned_get_url(
                stored.s3_key, self._config.result_url_ttl_seconds
            )
            view["result_url_expires_in"] = self._config.result_url_ttl_seconds
        return view
