"""Submitting a job to Deepgram again (`recoverLostCallbacks=resubmit`), exactly as the submit
function did the first time: the same request building (`core.deepgram_calls`), the same
transcriber, the same per-job credentials. Only the audio and the attempt number differ:

- a URL job: Deepgram fetches the stored URL again;
- an upload: Deepgram fetches the audio the submit function kept (`keepUploadedAudio`,
  `audio/<job id>`) through a presigned GET URL, valid for `AUDIO_URL_EXPIRES_SECONDS` (Deepgram
  fetches the audio as it starts the job);
- the result goes to the callback, or with `delivery=s3` to a presigned PUT URL for
  `deliveries/<job id>/<attempt>.json` (a result too big for the callback).
"""

from __future__ import annotations

from collections.abc import Callable

from functions.core.adapters.aws import LazyClient, client
from functions.core.adapters.delivery import StsDeliverySigner
from functions.core.adapters.s3 import S3ResultBlobStore
from functions.core.deepgram_calls import CallbackTarget, deepgram_call
from functions.core.jobs import Delivery, Job
from functions.core.ports import (
    AudioUrl,
    DeepgramFailure,
    DeliverySigner,
    ResultBlobStore,
    SecretSource,
    Transcriber,
)
from functions.core.settings import ReconcilerSettings

AUDIO_URL_EXPIRES_SECONDS = 900


class DeepgramResubmitter:
    def __init__(
        self,
        *,
        transcriber: Transcriber,
        target_source: Callable[[], CallbackTarget],
        signer: DeliverySigner | None,
        audio: ResultBlobStore,
    ) -> None:
        """`audio`: the results bucket, which holds kept uploads (`audio/<job id>`)."""
        self._transcriber = transcriber
        self._target_source = target_source
        self._signer = signer
        self._audio = audio

    @classmethod
    def from_settings(cls, settings: ReconcilerSettings, secrets: SecretSource) -> DeepgramResubmitter:
        # The SDK is imported only when resubmission is configured.
        from functions.submit.deepgram_gateway import DeepgramTranscriber  # noqa: PLC0415

        return cls(
            transcriber=DeepgramTranscriber(
                api_key_source=lambda: secrets.get(settings.deepgram_api_key_secret_id),
                base_url=settings.deepgram_base_url,
                timeout_seconds=settings.deepgram_timeout_seconds,
                max_retries=0,  # a retried POST can start a second Deepgram job; the next run retries
            ),
            target_source=lambda: CallbackTarget(
                signing_key=secrets.get(settings.callback_signing_secret_id),
                callback_url=settings.callback_url,
                callback_method=settings.callback_method,
            ),
            signer=(
                StsDeliverySigner(
                    sts=client("sts"), bucket=settings.results_bucket, role_arn=settings.delivery_role_arn
                )
                if settings.delivery_role_arn
                else None
            ),
            audio=S3ResultBlobStore(LazyClient("s3"), settings.results_bucket),
        )

    def resubmit(self, job: Job, *, delivery: Delivery) -> str:
        if delivery is Delivery.S3 and self._signer is None:
            raise DeepgramFailure(
                http_status=400,
                code="s3_delivery_unavailable",
                message="S3 delivery is not configured in this deployment",
            )
        call = deepgram_call(
            job.job_id,
            self._audio_of(job),
            job.options,
            target=self._target_source(),
            delivery=delivery,
            signer=self._signer,
            attempt=len(job.attempts) + 2,  # the first submission was attempt 1
        )
        return self._transcriber.submit(call)

    def _audio_of(self, job: Job) -> AudioUrl:
        url = job.source.get("url")
        if job.source.get("type") == "url" and isinstance(url, str):
            return AudioUrl(url=url)
        if job.audio_key:
            return AudioUrl(url=self._audio.presigned_get_url(job.audio_key, AUDIO_URL_EXPIRES_SECONDS))
        raise DeepgramFailure(
            http_status=400,
            code="audio_unavailable",
            message="the job's audio was not kept (keepUploadedAudio), so it cannot be submitted again",
        )
