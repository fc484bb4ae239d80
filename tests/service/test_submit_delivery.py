"""Submitting with S3 delivery and kept audio, and submitting again (the reconciler's
`DeepgramResubmitter`), on the in-memory fakes: both build Deepgram's request the same way."""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any

import pytest

from functions.core.adapters.memory import FakeDeliverySigner, FakeTranscriber, InMemoryBlobStore
from functions.core.api_errors import ApiError
from functions.core.callback_auth import callback_secret
from functions.core.deepgram_calls import CallbackTarget
from functions.core.jobs import Attempt, Delivery, JobStatus
from functions.core.ports import AudioUrl, DeepgramFailure
from functions.reconciler.resubmit import AUDIO_URL_EXPIRES_SECONDS, DeepgramResubmitter
from functions.submit.logic import SubmitService
from functions.submit.requests import parse_submission
from functions.submit.types import SubmitConfig, SubmitRequest
from tests.service.submit_fixtures import (
    AUDIO_BYTES,
    AUDIO_URL,
    CALLBACK_URL,
    SIGNING_KEY,
    SIGNING_SECRET_ID,
    Submissions,
    job_id_of,
    upload_request,
    url_request,
)


@dataclass
class DeliverySubmissions(Submissions):
    """`Submissions` with a delivery signer, a bucket for kept audio and the deployment's choices."""

    signer: FakeDeliverySigner | None = field(default_factory=FakeDeliverySigner)
    audio: InMemoryBlobStore = field(default_factory=InMemoryBlobStore)
    default_delivery: Delivery = Delivery.CALLBACK
    keep_uploaded_audio: bool = False

    def config(self) -> SubmitConfig:
        return replace(
            super().config(),
            default_delivery=self.default_delivery,
            keep_uploaded_audio=self.keep_uploaded_audio,
        )

    def service(self, transcriber: Any = None) -> SubmitService:
        return SubmitService(
            jobs=self.jobs,
            transcriber=transcriber if transcriber is not None else self.transcriber,
            config_source=self.config,
            clock=self.clock,
            budget=self.budget,
            signer=self.signer,
            audio_store=self.audio,
        )


@pytest.fixture
def submissions() -> DeliverySubmissions:
    return DeliverySubmissions()


def with_delivery(request: SubmitRequest, delivery: Delivery | None) -> SubmitRequest:
    return replace(request, delivery=delivery)


def test_s3_delivery_sends_a_presigned_put_url_with_callback_method_put(
    submissions: DeliverySubmissions,
) -> None:
    submitted = submissions.submit(with_delivery(url_request(), Delivery.S3))

    call = submissions.last_call
    job_id = submitted.job["id"]
    assert submissions.signer is not None
    assert submissions.signer.signed == [(job_id, 1)]
    assert call.callback_method == "PUT"
    assert f"deliveries/{job_id}/1.json" in call.callback_url
    assert "_" not in call.callback_url
    assert "@" not in call.callback_url  # no Basic credentials for S3
    assert submitted.job["delivery"] == "s3"
    assert submissions.stored(job_id).delivery is Delivery.S3


def test_s3_delivery_keeps_the_job_id_and_secret_in_extra(submissions: DeliverySubmissions) -> None:
    submissions.submit(with_delivery(url_request(), Delivery.S3))

    call = submissions.last_call
    job_id = job_id_of(call)
    assert call.extra == [f"job_id:{job_id}", f"callback_secret:{callback_secret(SIGNING_KEY, job_id)}"]


def test_the_deployments_default_delivery_applies_unless_the_job_asks(
    submissions: DeliverySubmissions,
) -> None:
    submissions.default_delivery = Delivery.S3
    submissions.submit(url_request())
    by_default = submissions.last_call
    submissions.submit(with_delivery(url_request(), Delivery.CALLBACK))
    asked = submissions.last_call

    assert by_default.callback_method == "PUT"
    assert "deliveries/" in by_default.callback_url
    assert asked.callback_url.startswith("https://")
    assert "lambda-url" in asked.callback_url


def test_s3_delivery_without_a_signer_is_refused_before_a_job_exists() -> None:
    submissions = DeliverySubmissions(signer=None)

    with pytest.raises(ApiError) as refused:
        submissions.submit(with_delivery(url_request(), Delivery.S3))

    assert refused.value.status == 400
    assert submissions.transcriber.calls == []
    assert submissions.jobs.list_jobs(status=None, created_after=None, limit=10, cursor=None).jobs == []


def test_a_delivery_url_that_cannot_be_signed_fails_the_job_without_calling_deepgram(
    submissions: DeliverySubmissions,
) -> None:
    assert submissions.signer is not None
    submissions.signer.faults.fail("presigned_put_url")

    with pytest.raises(Exception, match="STS"):
        submissions.submit(with_delivery(url_request(), Delivery.S3))

    assert submissions.transcriber.calls == []
    [job] = submissions.jobs.list_jobs(status=None, created_after=None, limit=10, cursor=None).jobs
    assert job.status is JobStatus.FAILED


def test_uploads_are_kept_when_asked_and_the_job_names_them(submissions: DeliverySubmissions) -> None:
    submissions.keep_uploaded_audio = True

    submitted = submissions.submit(upload_request())

    job = submissions.stored(submitted.job["id"])
    assert job.audio_key == f"audio/{job.job_id}"
    stored = submissions.audio.objects[job.audio_key]
    assert (stored.data, stored.content_type) == (AUDIO_BYTES, "audio/wav")


def test_uploads_are_not_kept_by_default_nor_urls_ever(submissions: DeliverySubmissions) -> None:
    upload = submissions.submit(upload_request())
    submissions.keep_uploaded_audio = True
    url = submissions.submit(url_request())

    assert submissions.stored(upload.job["id"]).audio_key is None
    assert submissions.stored(url.job["id"]).audio_key is None
    assert submissions.audio.objects == {}


@pytest.mark.parametrize(
    ("body", "delivery"),
    [
        (b'{"url": "https://e.com/a.wav", "delivery": "s3"}', Delivery.S3),
        (b'{"url": "https://e.com/a.wav"}', None),
    ],
)
def test_a_json_submission_may_ask_for_a_delivery(body: bytes, delivery: Delivery | None) -> None:
    parsed = parse_submission(
        content_type="application/json", body=body.decode(), is_base64_encoded=False, query={}
    )

    assert parsed.request.delivery is delivery


def test_an_upload_asks_for_a_delivery_in_the_query_and_it_is_not_an_option() -> None:
    parsed = parse_submission(
        content_type="audio/wav",
        body="abc",
        is_base64_encoded=False,
        query={"delivery": ["s3"], "model": ["nova-3"]},
    )

    assert parsed.request.delivery is Delivery.S3
    assert parsed.request.options == {"model": "nova-3"}


def test_an_unknown_delivery_is_a_400() -> None:
    with pytest.raises(ApiError) as refused:
        parse_submission(
            content_type="application/json",
            body='{"url": "https://e.com/a.wav", "delivery": "email"}',
            is_base64_encoded=False,
            query={},
        )
    assert refused.value.status == 400
    assert "delivery" in refused.value.message


def test_the_delivery_changes_the_idempotency_fingerprint_only_when_asked() -> None:
    def fingerprint(body: str) -> str:
        return parse_submission(
            content_type="application/json", body=body, is_base64_encoded=False, query={}
        ).fingerprint

    plain = fingerprint('{"url": "https://e.com/a.wav"}')
    assert fingerprint('{"url": "https://e.com/a.wav", "delivery": "s3"}') != plain
    assert fingerprint('{"url": "https://e.com/a.wav", "delivery": "callback"}') != plain


# --- the reconciler's resubmitter ---------------------------------------------------------------


@dataclass
class Resubmissions:
    transcriber: FakeTranscriber = field(default_factory=FakeTranscriber)
    signer: FakeDeliverySigner | None = field(default_factory=FakeDeliverySigner)
    audio: InMemoryBlobStore = field(default_factory=InMemoryBlobStore)
    callback_method: str = "POST"

    def resubmitter(self) -> DeepgramResubmitter:
        return DeepgramResubmitter(
            transcriber=self.transcriber,
            target_source=lambda: CallbackTarget(
                signing_key=SIGNING_KEY, callback_url=CALLBACK_URL, callback_method=self.callback_method
            ),
            signer=self.signer,
            audio=self.audio,
        )


def submitted_job(submissions: DeliverySubmissions, request: SubmitRequest) -> Any:
    return submissions.stored(submissions.submit(request).job["id"])


def test_a_url_job_is_submitted_again_exactly_as_the_first_time(submissions: DeliverySubmissions) -> None:
    job = submitted_job(submissions, url_request(options={"model": "nova-3", "diarize": True}))
    first = submissions.last_call
    again = Resubmissions()

    request_id = again.resubmitter().resubmit(job, delivery=Delivery.CALLBACK)

    [call] = again.transcriber.calls
    assert request_id
    assert call.audio == AudioUrl(AUDIO_URL)
    assert (call.options, call.callback_url, call.callback_method, call.extra) == (
        first.options,
        first.callback_url,
        first.callback_method,
        first.extra,
    )


def test_a_resubmission_with_s3_delivery_signs_the_next_attempts_key(
    submissions: DeliverySubmissions,
) -> None:
    job = submitted_job(submissions, url_request())
    job = replace(
        job, attempts=(Attempt(request_id="r1", submitted_at=None, delivery="callback", outcome="x"),)
    )
    again = Resubmissions()

    again.resubmitter().resubmit(job, delivery=Delivery.S3)

    [call] = again.transcriber.calls
    assert again.signer is not None
    assert again.signer.signed == [(job.job_id, 3)]
    assert call.callback_method == "PUT"
    assert f"deliveries/{job.job_id}/3.json" in call.callback_url
    assert f"job_id:{job.job_id}" in call.extra


def test_a_kept_upload_is_submitted_again_by_a_presigned_url(submissions: DeliverySubmissions) -> None:
    submissions.keep_uploaded_audio = True
    job = submitted_job(submissions, upload_request())
    again = Resubmissions(audio=submissions.audio)

    again.resubmitter().resubmit(job, delivery=Delivery.CALLBACK)

    [call] = again.transcriber.calls
    assert call.audio == AudioUrl(
        f"memory://results/audio/{job.job_id}?expires_in={AUDIO_URL_EXPIRES_SECONDS}"
    )


def test_an_upload_whose_audio_was_not_kept_cannot_be_submitted_again(
    submissions: DeliverySubmissions,
) -> None:
    job = submitted_job(submissions, upload_request())
    again = Resubmissions()

    with pytest.raises(DeepgramFailure) as refused:
        again.resubmitter().resubmit(job, delivery=Delivery.CALLBACK)

    assert refused.value.code == "audio_unavailable"
    assert again.transcriber.calls == []


def test_s3_delivery_without_a_signer_is_a_refusal_the_reconciler_fails_the_job_on(
    submissions: DeliverySubmissions,
) -> None:
    job = submitted_job(submissions, url_request())
    again = Resubmissions(signer=None)

    with pytest.raises(DeepgramFailure):
        again.resubmitter().resubmit(job, delivery=Delivery.S3)


def test_deepgrams_refusal_of_a_resubmission_is_passed_on(submissions: DeliverySubmissions) -> None:
    job = submitted_job(submissions, url_request())
    again = Resubmissions()
    again.transcriber.refuse_with = DeepgramFailure(
        http_status=429, code="deepgram_rate_limited", message="x"
    )

    with pytest.raises(DeepgramFailure):
        again.resubmitter().resubmit(job, delivery=Delivery.CALLBACK)


def test_from_settings_builds_a_resubmitter(monkeypatch: pytest.MonkeyPatch) -> None:
    from functions.core.adapters.memory import InMemorySecrets  # noqa: PLC0415
    from functions.core.settings import ReconcilerSettings  # noqa: PLC0415

    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    settings = ReconcilerSettings.from_environ(
        {
            "JOBS_TABLE_NAME": "jobs",
            "RESULTS_BUCKET_NAME": "results",
            "NOTIFICATIONS_TOPIC_ARN": "arn:aws:sns:us-east-1:123456789012:n",
            "DEEPGRAM_API_KEY_SECRET_ID": "deepgram",
            "CALLBACK_SIGNING_SECRET_ID": SIGNING_SECRET_ID,
            "CALLBACK_URL": CALLBACK_URL,
            "DELIVERY_SIGNER_ROLE_ARN": "arn:aws:iam::123456789012:role/signer",
        }
    )

    resubmitter = DeepgramResubmitter.from_settings(
        settings, InMemorySecrets({SIGNING_SECRET_ID: SIGNING_KEY})
    )

    assert isinstance(resubmitter, DeepgramResubmitter)
