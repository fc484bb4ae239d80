"""Submitting a transcription job: record it, hand it to Deepgram, store Deepgram's request id.

The job is written *before* Deepgram is called so that a callback, which can arrive before
this function returns, always finds it. Deepgram is told where to call back with per-job
credentials (see `core.callback_auth`) and gets the job id in `extra` for correlation; with S3
delivery (`"delivery": "s3"`, or `resultDelivery=s3`) the result goes to a presigned S3 URL
instead (`core.deepgram_calls`, the same request building the reconciler uses). An uploaded job's
audio is kept under `audio/<job id>` when `keepUploadedAudio` is on, so it can be submitted again.

Every request has one `Deadline` (API Gateway's 29 s, the Lambda's remaining time). Before each
step the service checks that the worst case of that step and of those that must follow it
(`SubmitBudget`) still fits: with too little time it refuses (503, `deadline_exceeded`, retry)
before creating the job, or marks the job failed instead of calling Deepgram; Deepgram gets what
remains after the time kept back for recording its answer; `request_id` is not recorded when that
would not fit (the callback records it).
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from contextlib import suppress
from dataclasses import replace
from datetime import datetime
from typing import Any

from functions.core.api_errors import ApiError
from functions.core.deadline import API_GATEWAY_TIMEOUT_SECONDS, SAFETY_MARGIN_SECONDS, Deadline
from functions.core.deepgram_calls import CallbackTarget, deepgram_call
from functions.core.jobs import (
    Delivery,
    Job,
    JobError,
    JobStatus,
    isoformat,
    new_job,
    new_job_id,
    public_view,
)
from functions.core.ports import (
    AudioUpload,
    AudioUrl,
    DeepgramFailure,
    DeliverySigner,
    DependencyError,
    JobRepository,
    ResultBlobStore,
    Transcriber,
)
from functions.core.result_storage import audio_key
from functions.submit.types import (
    SubmitBudget,
    SubmitConfig,
    SubmitFailure,
    SubmitRequest,
    Submitted,
)


class DeadlineExceeded(ApiError):
    """Too little time is left to submit the job; nothing was stored, the client retries."""

    def __init__(self) -> None:
        failure = SubmitFailure.deadline_exceeded()
        super().__init__(failure.http_status, failure.code, failure.message, retry_after=failure.retry_after)


class DeliveryUnavailable(ApiError):
    """The job asks for S3 delivery, which this deployment has no signer for; nothing was stored."""

    def __init__(self) -> None:
        super().__init__(400, "invalid_request", "delivery: S3 delivery is not configured in this deployment")


class SubmitService:
    def __init__(
        self,
        *,
        jobs: JobRepository,
        transcriber: Transcriber,
        config_source: Callable[[], SubmitConfig],
        clock: Callable[[], datetime],
        budget: SubmitBudget | None = None,
        signer: DeliverySigner | None = None,
        audio_store: ResultBlobStore | None = None,
    ) -> None:
        """`budget`: the worst case of each step (`wiring.py` gives the clients' own); without
        one, steps are taken as instant and only Deepgram's time is fitted to the deadline.
        `signer`: presigned S3 URLs for S3 delivery (None: S3 delivery is refused). `audio_store`:
        where uploads are kept when `SubmitConfig.keep_uploaded_audio` (None: they are not)."""
        self._jobs = jobs
        self._transcriber = transcriber
        self._config_source = config_source
        self._clock = clock
        self._budget = budget or SubmitBudget(aws_call_seconds=0.0, deepgram_minimum_seconds=0.0)
        self._signer = signer
        self._audio_store = audio_store

    def submit(self, request: SubmitRequest, *, deadline: Deadline | None = None) -> Submitted:
        """Create the job and submit it; Deepgram's refusals come back in `failure`, job marked failed.

        `deadline`: when the answer is due (default: API Gateway's budget from now). Raises
        `DeadlineExceeded` if too little is left to start."""
        budget = self._budget
        if deadline is None:
            deadline = Deadline.after(API_GATEWAY_TIMEOUT_SECONDS - SAFETY_MARGIN_SECONDS)
        if not deadline.allows(budget.from_secrets_seconds):
            raise DeadlineExceeded
        config = self._config_source()
        delivery = request.delivery or config.default_delivery
        if delivery is Delivery.S3 and self._signer is None:
            raise DeliveryUnavailable
        upload = request.audio if isinstance(request.audio, AudioUpload) else None
        audio_store = self._audio_store if upload is not None and config.keep_uploaded_audio else None
        # Signing an S3 delivery URL (AssumeRole) is one more AWS call before Deepgram.
        signing_seconds = budget.aws_call_seconds if delivery is Delivery.S3 else 0.0
        # Keeping the audio, the job, the Deepgram key, Deepgram's minimum and what follows Deepgram.
        keeping_seconds = budget.aws_call_seconds if audio_store is not None else 0.0
        if not deadline.allows(
            budget.from_secrets_seconds - budget.aws_call_seconds + signing_seconds + keeping_seconds
        ):
            raise DeadlineExceeded
        job_id = new_job_id()
        kept_audio_key = None
        if audio_store is not None and upload is not None:
            # Stored before the job, so a job never names audio that is not there.
            kept_audio_key = audio_key(job_id)
            audio_store.put(
                kept_audio_key, upload.data, content_encoding="identity", content_type=upload.content_type
            )
        job = new_job(
            job_id=job_id,
            source=_describe_source(request.audio),
            options=request.options,
            metadata=request.metadata,
            retention_days=config.retention_days,
            now=self._clock(),
            result_due_in=config.result_deadline,
            delivery=delivery,
            audio_key=kept_audio_key,
        )
        self._jobs.create(job)
        # The Deepgram key (one AWS call unless cached), the delivery URL, Deepgram's minimum, what
        # follows Deepgram.
        before_deepgram = budget.aws_call_seconds + signing_seconds + budget.deepgram_minimum_seconds
        if not deadline.allows(before_deepgram + budget.after_deepgram_seconds):
            return self._fail(job, SubmitFailure.deadline_exceeded())
        try:
            call = deepgram_call(
                job.job_id,
                request.audio,
                request.options,
                target=CallbackTarget(
                    signing_key=config.signing_key,
                    callback_url=config.callback_url,
                    callback_method=config.callback_method,
                ),
                delivery=delivery,
                signer=self._signer,
                attempt=1,
                deadline=deadline.earlier_by(budget.after_deepgram_seconds),
            )
            request_id = self._transcriber.submit(call)
        except DependencyError:
            # Deepgram was not called (its key could not be read, or the delivery URL could not be
            # signed): the job will never complete.
            unavailable = JobError(code="service_unavailable", message="a backing service failed")
            with suppress(DependencyError):
                self._jobs.mark_submit_failed(job.job_id, unavailable, ambiguous=False, at=self._clock())
            raise
        except DeepgramFailure as failure:
            return self._fail(job, SubmitFailure.from_deepgram(failure))
        submitted_at = self._clock()
        processing = replace(
            job,
            status=JobStatus.PROCESSING,
            request_id=request_id,
            submitted_at=isoformat(submitted_at),
            updated_at=isoformat(submitted_at),
        )
        # Deepgram has the job and will call back; the callback accepts a job without a stored
        # request_id, so failing the request now would only make the client submit it twice.
        # Recording it must leave time for the idempotency record's update that follows.
        if not deadline.allows(budget.after_deepgram_seconds):
            return Submitted(job=public_view(processing), request_id_stored=False)
        try:
            self._jobs.record_submission(
                job.job_id, request_id, submitted_at, result_due_at=submitted_at + config.result_deadline
            )
        except DependencyError:
            return Submitted(job=public_view(processing), request_id_stored=False)
        return Submitted(job=public_view(processing))

    def _fail(self, job: Job, failure: SubmitFailure) -> Submitted:
        """Deepgram did not take the job (or was not called): mark it failed and say why."""
        error = JobError(code=failure.code, message=failure.message)
        failed = replace(job, status=JobStatus.FAILED, error=error, submit_error_ambiguous=failure.ambiguous)
        # If this write fails the client still learns of the refusal; the record expires by TTL.
        with suppress(DependencyError):
            self._jobs.mark_submit_failed(job.job_id, error, ambiguous=failure.ambiguous, at=self._clock())
        return Submitted(job=public_view(failed), failure=failure)


def _describe_source(audio: AudioUrl | AudioUpload) -> dict[str, Any]:
    if isinstance(audio, AudioUrl):
        return {"type": "url", "url": audio.url}
    return {
        "type": "upload",
        "content_type": audio.content_type,
        "size_bytes": len(audio.data),
        "sha256": hashlib.sha256(audio.data).hexdigest(),
    }
