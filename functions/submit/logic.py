"""Submitting a transcription job: record it, hand it to Deepgram, store Deepgram's request id.

The job is written *before* Deepgram is called so that a callback, which can arrive before
this function returns, always finds it. Deepgram is told where to call back with per-job
credentials (see `core.callback_auth`) and gets the job id in `extra` for correlation.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from contextlib import suppress
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any, Protocol

from functions.core.callback_auth import callback_secret, callback_url_with_credentials
from functions.core.jobs import JobError, JobStatus, isoformat, new_job, public_view
from functions.core.ports import DependencyError, JobRepository


@dataclass(frozen=True)
class AudioUrl:
    url: str


@dataclass(frozen=True)
class AudioUpload:
    data: bytes
    content_type: str


@dataclass(frozen=True)
class SubmitRequest:
    audio: AudioUrl | AudioUpload
    options: dict[str, Any]
    metadata: dict[str, str]


@dataclass(frozen=True)
class DeepgramCall:
    """Everything the Deepgram adapter needs for one `/v1/listen` request."""

    audio: AudioUrl | AudioUpload
    options: dict[str, Any]
    callback_url: str
    callback_method: str
    extra: list[str]


class DeepgramFailure(Exception):
    """Deepgram refused the request or could not be reached.

    `ambiguous` is True when Deepgram may have accepted the job anyway (a timeout, a 5xx, a
    connection dropped mid-response): the job stays open to a late callback.
    """

    def __init__(
        self,
        *,
        http_status: int,
        code: str,
        message: str,
        ambiguous: bool = False,
        retry_after: str | None = None,
    ) -> None:
        super().__init__(message)
        self.http_status = http_status
        self.code = code
        self.message = message
        self.ambiguous = ambiguous
        self.retry_after = retry_after


class Transcriber(Protocol):
    def submit(self, call: DeepgramCall) -> str:
        """Send the request; return Deepgram's request id or raise `DeepgramFailure`."""
        ...


@dataclass(frozen=True)
class SubmitConfig:
    signing_key: str
    callback_url: str
    callback_method: str
    retention_days: int


@dataclass(frozen=True)
class SubmitOutcome:
    job: dict[str, Any]
    failure: DeepgramFailure | None = None
    request_id_stored: bool = True


class SubmitService:
    def __init__(
        self,
        *,
        jobs: JobRepository,
        transcriber: Transcriber,
        config_source: Callable[[], SubmitConfig],
        clock: Callable[[], datetime],
    ) -> None:
        self._jobs = jobs
        self._transcriber = transcriber
        self._config_source = config_source
        self._clock = clock

    def submit(self, request: SubmitRequest) -> SubmitOutcome:
        """Create the job and submit it; Deepgram's refusals come back in `failure`, job marked failed."""
        config = self._config_source()
        job = new_job(
            source=_describe_source(request.audio),
            options=request.options,
            metadata=request.metadata,
            retention_days=config.retention_days,
            now=self._clock(),
        )
        self._jobs.create(job)
        secret = callback_secret(config.signing_key, job.job_id)
        call = DeepgramCall(
            audio=request.audio,
            options=request.options,
            callback_url=callback_url_with_credentials(config.callback_url, job.job_id, secret),
            callback_method=config.callback_method,
            extra=[f"job_id:{job.job_id}", f"callback_secret:{secret}"],
        )
        try:
            request_id = self._transcriber.submit(call)
        except DependencyError:
            # Deepgram was not called (its key could not be read): the job will never complete.
            unavailable = JobError(code="service_unavailable", message="a backing service failed")
            with suppress(DependencyError):
                self._jobs.mark_submit_failed(job.job_id, unavailable, ambiguous=False, at=self._clock())
            raise
        except DeepgramFailure as failure:
            error = JobError(code=failure.code, message=failure.message)
            failed = replace(
                job, status=JobStatus.FAILED, error=error, submit_error_ambiguous=failure.ambiguous
            )
            # If this write fails the client still learns of the refusal; the record expires by TTL.
            with suppress(DependencyError):
                self._jobs.mark_submit_failed(
                    job.job_id, error, ambiguous=failure.ambiguous, at=self._clock()
                )
            return SubmitOutcome(job=public_view(failed), failure=failure)
        submitted_at = self._clock()
        processing = replace(
            job,
            status=JobStatus.PROCESSING,
            request_id=request_id,
            submitted_at=isoformat(submitted_at),
            updated_at=isoformat(submitted_at),
        )
        try:
            self._jobs.record_submission(job.job_id, request_id, submitted_at)
        except DependencyError:
            # Deepgram has the job and will call back; the callback accepts a job without a stored
            # request_id, so failing the request now would only make the client submit it twice.
            return SubmitOutcome(job=public_view(processing), request_id_stored=False)
        return SubmitOutcome(job=public_view(processing))


def _describe_source(audio: AudioUrl | AudioUpload) -> dict[str, Any]:
    if isinstance(audio, AudioUrl):
        return {"type": "url", "url": audio.url}
    return {
        "type": "upload",
        "content_type": audio.content_type,
        "size_bytes": len(audio.data),
        "sha256": hashlib.sha256(audio.data).hexdigest(),
    }
