"""Accept one Deepgram callback delivery: authenticate, store durably, publish once, answer fast.

Deepgram retries a non-2xx answer up to 10 times, 30 s apart, then drops the transcript for
good, and it may deliver the same body more than once. So the rules are:

* nothing is stored for a request that fails authentication or correlation (4xx);
* the body is stored durably *before* any 2xx;
* a fault in DynamoDB, S3, SNS or Secrets Manager answers 503, so Deepgram retries and nothing
  is lost;
* the job moves to its final state by one conditional write, which also takes a short
  *notification lease*: only the lease holder publishes, and it records the publication.
  A repeated delivery of the same body answers 200 and changes nothing; a delivery that finds
  the result stored but unpublished (an earlier attempt died after storing) publishes it;
* a different body for a finished job is a conflict (409).

The lease outlives the function's timeout but expires before Deepgram's next retry (see
`contract.CallbackTiming`), so a delivery that died holding it cannot block the retry that follows.
"""

from __future__ import annotations

import hashlib
import json
import uuid
from collections.abc import Callable, Mapping
from contextlib import suppress
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from typing import Any, Literal

from functions.core import result_storage
from functions.core.callback_auth import dg_token_problem, is_valid_secret, parse_basic_authorization
from functions.core.contract import CallbackTiming
from functions.core.jobs import Job, JobStatus, is_valid_job_id, isoformat, parse_isoformat
from functions.core.notifications import build_notification
from functions.core.ports import DependencyError, JobRepository, NotificationPublisher, ResultBlobStore
from functions.core.transcript import CallbackOutcome, InvalidCallbackBody, classify, extra_fields, summarize

NOTIFICATION_LEASE = timedelta(seconds=CallbackTiming.NOTIFICATION_LEASE_SECONDS)

Outcome = Literal["accepted", "duplicate", "rejected", "retry"]


@dataclass(frozen=True)
class CallbackRequest:
    method: str
    headers: Mapping[str, str]  # lower-case names, as Lambda Function URLs deliver them
    body: bytes


@dataclass
class CallbackResult:
    status_code: int
    body: dict[str, Any]
    outcome: Outcome
    reason: str | None = None
    detail: str | None = None  # for the logs only, never for the (unauthenticated) caller
    job_id: str | None = None
    request_id: str | None = None
    seconds_since_submit: float | None = None
    job_status: str | None = None
    published: bool = False
    headers: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class CallbackConfig:
    signing_key: str
    dg_token_mode: str
    deepgram_api_key_ids: tuple[str, ...]


def _reject(status: int, reason: str, message: str, **context: Any) -> CallbackResult:
    body = {"error": {"code": reason, "message": message}}
    return CallbackResult(status_code=status, body=body, outcome="rejected", reason=reason, **context)


class CallbackService:
    def __init__(
        self,
        *,
        jobs: JobRepository,
        blobs: ResultBlobStore,
        publisher: NotificationPublisher,
        config_source: Callable[[], CallbackConfig],
        clock: Callable[[], datetime],
    ) -> None:
        self._jobs = jobs
        self._blobs = blobs
        self._publisher = publisher
        self._config_source = config_source
        self._clock = clock

    def handle(self, request: CallbackRequest) -> CallbackResult:
        if request.method not in ("POST", "PUT"):
            result = _reject(405, "method_not_allowed", "Deepgram callbacks are POST or PUT")
            result.headers["Allow"] = "POST, PUT"
            return result
        try:
            return self._handle(request)
        except DependencyError as error:
            return CallbackResult(
                status_code=503,
                body={"error": {"code": "temporarily_unavailable", "message": "retry later"}},
                outcome="retry",
                reason="dependency_unavailable",
                detail=str(error),
                headers={"Retry-After": str(CallbackTiming.DEEPGRAM_RETRY_INTERVAL_SECONDS)},
            )

    def _handle(self, request: CallbackRequest) -> CallbackResult:
        config = self._config_source()
        authenticated = _authenticate(config, request)
        if isinstance(authenticated, CallbackResult):
            return authenticated
        job_id, payload = authenticated
        try:
            outcome = classify(payload)
        except InvalidCallbackBody as error:
            return _reject(400, "invalid_body", str(error), job_id=job_id)
        return self._accept(job_id, outcome, payload, request.body)

    def _accept(
        self, job_id: str, outcome: CallbackOutcome, payload: dict[str, Any], body: bytes
    ) -> CallbackResult:
        context: dict[str, Any] = {"job_id": job_id, "request_id": outcome.request_id}
        job = self._jobs.get(job_id)
        if job is None:
            return _reject(404, "unknown_job", "no such job", **context)
        if _belongs_to_another_request(job, outcome):
            return _reject(403, "request_mismatch", "request_id does not belong to this job", **context)

        sha256 = hashlib.sha256(body).hexdigest()
        if not job.awaiting_result:
            return self._already_finished(job, sha256, context)

        now = self._clock()
        encoded = result_storage.encode(job_id, body, sha256)
        if encoded.stored.s3_key and encoded.object_data is not None:
            self._blobs.put(
                encoded.stored.s3_key, encoded.object_data, content_encoding=encoded.stored.content_encoding
            )
        finished = replace(
            job,
            status=JobStatus.COMPLETED if outcome.succeeded else JobStatus.FAILED,
            request_id=job.request_id or outcome.request_id,
            result=encoded.stored,
            summary=summarize(payload) if outcome.succeeded else None,
            error=outcome.error,
            completed_at=isoformat(now),
            updated_at=isoformat(now),
        )
        lease_token = uuid.uuid4().hex
        if not self._jobs.finish(finished, lease_token=lease_token, lease_until=now + NOTIFICATION_LEASE):
            return self._lost_the_race(job_id, encoded.stored.s3_key, outcome, sha256, context)

        self._publish(finished, lease_token)
        started = parse_isoformat(job.submitted_at or job.created_at)
        return CallbackResult(
            status_code=200,
            body={"status": "accepted", "job_id": job_id},
            outcome="accepted",
            seconds_since_submit=(now - started).total_seconds(),
            job_status=finished.status.value,
            published=True,
            **context,
        )

    def _lost_the_race(
        self, job_id: str, s3_key: str | None, outcome: CallbackOutcome, sha256: str, context: dict[str, Any]
    ) -> CallbackResult:
        """The conditional write failed: the job changed since it was read."""
        current = self._jobs.get(job_id)
        if current is None:
            return _reject(404, "unknown_job", "no such job", **context)
        if s3_key and (current.result is None or current.result.s3_key != s3_key):
            self._blobs.delete(s3_key)
        if current.awaiting_result or _belongs_to_another_request(current, outcome):
            # Still awaiting: the submit function stored a request_id this body does not carry.
            return _reject(403, "request_mismatch", "request_id does not belong to this job", **context)
        return self._already_finished(current, sha256, context)

    def _already_finished(self, job: Job, sha256: str, context: dict[str, Any]) -> CallbackResult:
        """A delivery for a job that already has its result: a duplicate or a conflict."""
        if job.result is None or job.result.sha256 != sha256:
            return _reject(
                409,
                "already_finished",
                f"job is already {job.status.value} with another result",
                detail=f"stored sha256 {job.result.sha256 if job.result else None}, received {sha256}",
                **context,
            )
        published = False
        if job.notified_at is None:
            now = self._clock()
            lease_token = uuid.uuid4().hex
            if self._jobs.claim_notification(
                job.job_id, lease_token, now=now, until=now + NOTIFICATION_LEASE
            ):
                self._publish(job, lease_token)
                published = True
        return CallbackResult(
            status_code=200,
            body={"status": "duplicate", "job_id": job.job_id},
            outcome="duplicate",
            published=published,
            **context,
        )

    def _publish(self, job: Job, lease_token: str) -> None:
        """Publish under the lease; on failure give the lease back so Deepgram's retry can publish."""
        try:
            message_id = self._publisher.publish(build_notification(job))
        except DependencyError:
            with suppress(DependencyError):  # if this fails too, the lease expires before the retry
                self._jobs.release_notification(job.job_id, lease_token)
            raise
        # Published and stored: answering 5xx if this fails would only make the retry publish twice.
        with suppress(DependencyError):
            self._jobs.mark_notified(job.job_id, message_id, self._clock())


def _belongs_to_another_request(job: Job, outcome: CallbackOutcome) -> bool:
    """Once the job's request_id is known, a body naming another one is not this job's result.

    A body naming none (failure callbacks are undocumented) is accepted on its credentials."""
    return bool(job.request_id and outcome.request_id and outcome.request_id != job.request_id)


def _authenticate(
    config: CallbackConfig, request: CallbackRequest
) -> tuple[str, dict[str, Any]] | CallbackResult:
    """The job id the request proves it may write to, with the parsed body; or the rejection.

    Proof is the job's Basic Auth credentials, or its `callback_secret` in `metadata.extra`.
    Credentials that are presented must be valid, and both proofs must name the same job. The
    cheap checks (dg-token, Basic) come before the body is parsed."""
    basic_job_id = _check_headers(config, request.headers)
    if isinstance(basic_job_id, CallbackResult):
        return basic_job_id
    payload = _parse_json_object(request.body)
    if payload is None:
        if basic_job_id is None:
            return _reject(401, "missing_credentials", "no valid callback credentials")
        return _reject(400, "invalid_body", "callback body is not a JSON object", job_id=basic_job_id)
    job_id = _check_extra(config, extra_fields(payload), basic_job_id)
    if isinstance(job_id, CallbackResult):
        return job_id
    return job_id, payload


def _check_headers(config: CallbackConfig, headers: Mapping[str, str]) -> str | CallbackResult | None:
    """The job named by valid Basic credentials (None if there are none), or the rejection."""
    token_problem = dg_token_problem(
        config.dg_token_mode, config.deepgram_api_key_ids, headers.get("dg-token")
    )
    if token_problem:
        return _reject(401, token_problem, "dg-token header does not match the configured API key id")
    if "authorization" not in headers:
        return None
    basic = parse_basic_authorization(headers["authorization"])
    if basic is None or not _proves_job(config.signing_key, basic.username, basic.password):
        return _reject(401, "bad_credentials", "callback credentials are not valid")
    return basic.username


def _check_extra(
    config: CallbackConfig, extra: dict[str, Any], basic_job_id: str | None
) -> str | CallbackResult:
    """The authenticated job id, given what `metadata.extra` proves; or the rejection."""
    secret_job_id: str | None = None
    if "callback_secret" in extra:  # a job_id alone proves nothing and is not a credential
        if not _proves_job(config.signing_key, extra.get("job_id"), extra.get("callback_secret")):
            return _reject(401, "bad_credentials", "callback credentials are not valid")
        secret_job_id = str(extra["job_id"])
    if basic_job_id and secret_job_id and basic_job_id != secret_job_id:
        return _reject(401, "credentials_conflict", "credentials name two different jobs")
    job_id = basic_job_id or secret_job_id
    return job_id if job_id else _reject(401, "missing_credentials", "no valid callback credentials")


def _proves_job(signing_key: str, job_id: Any, secret: Any) -> bool:
    return (
        isinstance(job_id, str)
        and isinstance(secret, str)
        and is_valid_job_id(job_id)
        and is_valid_secret(signing_key, job_id, secret)
    )


def _parse_json_object(body: bytes) -> dict[str, Any] | None:
    try:
        payload = json.loads(body)
    except (ValueError, UnicodeDecodeError, RecursionError):
        return None
    return payload if isinstance(payload, dict) else None
