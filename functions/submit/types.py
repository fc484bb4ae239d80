"""The values the submit function's layers exchange: the parsed request, the service's settings
and its typed result. Pure Python; the Deepgram-facing values live with the ports
(`core.ports`: `AudioUrl`, `AudioUpload`, `DeepgramCall`, `DeepgramFailure`)."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from datetime import timedelta
from typing import Any, ClassVar

from functions.core.jobs import Delivery
from functions.core.ports import AudioUpload, AudioUrl, DeepgramFailure


@dataclass(frozen=True)
class SubmitRequest:
    audio: AudioUrl | AudioUpload
    options: dict[str, Any]
    metadata: dict[str, str]
    delivery: Delivery | None = None  # None: the deployment's default (`resultDelivery`)


@dataclass(frozen=True)
class ParsedSubmission:
    request: SubmitRequest
    fingerprint: str  # identifies the submission's content, for Idempotency-Key reuse checks


@dataclass(frozen=True)
class SubmitConfig:
    signing_key: str
    callback_url: str
    callback_method: str
    retention_days: int
    result_deadline: timedelta = timedelta(minutes=30)  # then the reconciler acts on a missing result
    default_delivery: Delivery = Delivery.CALLBACK
    keep_uploaded_audio: bool = False  # store uploads under audio/<job id>, to submit them again


DEADLINE_EXCEEDED = "deadline_exceeded"
DEADLINE_RETRY_AFTER_SECONDS = "2"


@dataclass(frozen=True)
class SubmitBudget:
    """The worst case of each step of a submission, for checking the request's deadline.

    A submission makes at most `AWS_CALLS` AWS calls, each within `aws_call_seconds` (the
    clients' `ClientPolicy`): the idempotency record (written before the service runs, updated
    or deleted after), the callback signing key and the Deepgram key (Secrets Manager, usually
    cached), the job (created before Deepgram; after it, its request_id or its failure).
    Deepgram is not called with less than `deepgram_minimum_seconds` left. S3 delivery adds one
    call (AssumeRole, to sign the delivery URL) and a kept upload one more (PutObject); the service
    checks those against the deadline as it goes (`SubmitService.submit`), not in `AWS_CALLS`."""

    AWS_CALLS: ClassVar[int] = 6
    aws_call_seconds: float
    deepgram_minimum_seconds: float

    @property
    def after_deepgram_seconds(self) -> float:
        """Kept back while Deepgram is called: recording its answer (the request_id, or the job's
        failure) and the idempotency record's update."""
        return 2 * self.aws_call_seconds

    @property
    def from_secrets_seconds(self) -> float:
        """The service's worst case from its first step: the signing key, the job, the Deepgram
        key, Deepgram's minimum, then what follows Deepgram."""
        return 3 * self.aws_call_seconds + self.deepgram_minimum_seconds + self.after_deepgram_seconds

    @property
    def worst_case_seconds(self) -> float:
        """A whole submission when every call takes its worst case and Deepgram its minimum."""
        return self.AWS_CALLS * self.aws_call_seconds + self.deepgram_minimum_seconds


@dataclass(frozen=True)
class SubmitFailure:
    """Why Deepgram did not take the job, as the API answers it (JSON-able: it may be replayed
    from the idempotency store)."""

    http_status: int
    code: str
    message: str
    ambiguous: bool
    retry_after: str | None = None

    @classmethod
    def deadline_exceeded(cls) -> SubmitFailure:
        """Too little time was left to call Deepgram, which was not called: retry at once."""
        return cls(
            http_status=503,
            code=DEADLINE_EXCEEDED,
            message="the request ran out of time before Deepgram could be called; retry",
            ambiguous=False,
            retry_after=DEADLINE_RETRY_AFTER_SECONDS,
        )

    @classmethod
    def from_deepgram(cls, failure: DeepgramFailure) -> SubmitFailure:
        return cls(
            http_status=failure.http_status,
            code=failure.code,
            message=failure.message,
            ambiguous=failure.ambiguous,
            retry_after=failure.retry_after,
        )


@dataclass(frozen=True)
class Submitted:
    """The job's public view, and the failure if Deepgram did not take it.

    `replayed`: the answer of an earlier request with the same Idempotency-Key, not a new job.
    `request_id_stored`: False when Deepgram took the job but recording its request_id failed
    (the callback records it)."""

    job: dict[str, Any]
    failure: SubmitFailure | None = None
    replayed: bool = False
    request_id_stored: bool = True

    def to_json(self) -> dict[str, Any]:
        return {
            "job": self.job,
            "failure": asdict(self.failure) if self.failure else None,
            "request_id_stored": self.request_id_stored,
        }

    @classmethod
    def from_json(cls, document: dict[str, Any], *, replayed: bool) -> Submitted:
        failure = document.get("failure")
        return cls(
            job=document["job"],
            failure=SubmitFailure(**failure) if failure else None,
            replayed=replayed,
            request_id_stored=bool(document.get("request_id_stored", True)),
        )
