"""Lambda entry point for `POST /transcriptions` (API Gateway REST API, proxy integration).

Translates the HTTP request into a `SubmitRequest` (`requests.py`), runs `SubmitService`
(`logic.py`), optionally under Powertools' idempotency utility when the client sends an
`Idempotency-Key`, and shapes every outcome as JSON with the right status code.
"""

from __future__ import annotations

import functools
import os
from collections.abc import Callable
from typing import Any

from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.event_handler import APIGatewayRestResolver, Response
from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.idempotency import (
    DynamoDBPersistenceLayer,
    IdempotencyConfig,
    idempotent_function,
)
from aws_lambda_powertools.utilities.idempotency.exceptions import (
    IdempotencyAlreadyInProgressError,
    IdempotencyPersistenceLayerError,
    IdempotencyValidationError,
)
from aws_lambda_powertools.utilities.typing import LambdaContext

from functions.core import contract
from functions.core.adapters.aws import client, warm_up_in_lambda
from functions.core.adapters.dynamodb import DynamoJobRepository
from functions.core.adapters.secrets import CachedSecrets
from functions.core.api_responses import SERVICE_UNAVAILABLE, error_response, json_response
from functions.core.jobs import utc_now
from functions.core.ports import DependencyError
from functions.core.settings import SubmitSettings
from functions.submit.deepgram_gateway import DeepgramTranscriber
from functions.submit.logic import DeepgramFailure, SubmitConfig, SubmitOutcome, SubmitService
from functions.submit.requests import ParsedSubmission, RequestError, parse_submission

IDEMPOTENCY_TTL_SECONDS = 24 * 3600
MAX_IDEMPOTENCY_KEY_LENGTH = 255

logger = Logger(service=contract.Services.SUBMIT)
metrics = Metrics(namespace=contract.Metrics.NAMESPACE, service=contract.Services.SUBMIT)
app = APIGatewayRestResolver()
idempotency_config = IdempotencyConfig(
    event_key_jmespath="[caller, key]",
    payload_validation_jmespath="fingerprint",
    expires_after_seconds=IDEMPOTENCY_TTL_SECONDS,
)


class SubmissionRefused(Exception):
    """Deepgram refused the job for sure: raised inside the idempotent section so that the refusal
    is not remembered, and a retry with the same Idempotency-Key submits again."""

    def __init__(self, outcome: SubmitOutcome) -> None:
        super().__init__(outcome.failure.message if outcome.failure else "refused")
        self.outcome = outcome


class Submitter:
    """The service plus its idempotent wrapper, built once per execution environment."""

    def __init__(self, settings: SubmitSettings) -> None:
        secrets = CachedSecrets(client("secretsmanager"), settings.secrets_max_age_seconds)
        dynamodb = client("dynamodb")
        self.service = SubmitService(
            jobs=DynamoJobRepository(dynamodb, settings.jobs_table),
            transcriber=DeepgramTranscriber(
                api_key_source=lambda: secrets.get(settings.deepgram_api_key_secret_id),
                base_url=settings.deepgram_base_url,
                timeout_seconds=settings.deepgram_timeout_seconds,
                max_retries=settings.deepgram_max_retries,
            ),
            config_source=lambda: SubmitConfig(
                signing_key=secrets.get(settings.callback_signing_secret_id),
                callback_url=settings.callback_url,
                callback_method=settings.callback_method,
                retention_days=settings.retention_days,
            ),
            clock=utc_now,
        )
        persistence = DynamoDBPersistenceLayer(
            table_name=settings.idempotency_table,
            key_attr=contract.IdempotencyTable.PARTITION_KEY,
            expiry_attr=contract.IdempotencyTable.TTL_ATTRIBUTE,
            boto3_client=dynamodb,
        )
        self.submit_once: Callable[..., dict[str, Any]] = idempotent_function(
            self._submit,
            data_keyword_argument="idempotency",
            persistence_store=persistence,
            config=idempotency_config,
        )

    def submit(self, parsed: ParsedSubmission, *, idempotency_key: str | None, caller: str) -> dict[str, Any]:
        """`{"job": <public view>, "failure": <Deepgram failure or None>}`."""
        if idempotency_key is None:
            return self._submit(idempotency={}, parsed=parsed)
        idempotency = {"caller": caller, "key": idempotency_key, "fingerprint": parsed.fingerprint}
        return self.submit_once(idempotency=idempotency, parsed=parsed)

    def _submit(self, *, idempotency: dict[str, str], parsed: ParsedSubmission) -> dict[str, Any]:
        outcome = self.service.submit(parsed.request)
        failure = outcome.failure
        if failure is not None and not failure.ambiguous:
            raise SubmissionRefused(outcome)
        if not outcome.request_id_stored:
            logger.warning(
                "request_id not stored; the callback will record it", extra={"job_id": outcome.job["id"]}
            )
        # An ambiguous failure is remembered under the Idempotency-Key: Deepgram may have the job,
        # and a retry must not start a second one. The client polls the job instead.
        return {"job": outcome.job, "failure": _failure_view(failure) if failure else None}


@functools.cache
def submitter() -> Submitter:
    return Submitter(SubmitSettings.from_environ(os.environ))


def _failure_view(failure: DeepgramFailure) -> dict[str, Any]:
    return {
        "http_status": failure.http_status,
        "code": failure.code,
        "message": failure.message,
        "retry_after": failure.retry_after,
    }


def _caller(identity: Any) -> str:
    """Who the Idempotency-Key belongs to: the IAM principal, without an assumed role's session
    name (each retry may come from a new session of the same role)."""
    arn = identity.user_arn or identity.caller or "anonymous"
    if ":assumed-role/" in arn:
        arn = arn.rsplit("/", 1)[0]
    return str(arn)


@app.post(contract.Api.TRANSCRIPTIONS)
def create_transcription() -> Response[Any]:
    event = app.current_event
    idempotency_key = event.headers.get("Idempotency-Key") or event.headers.get("idempotency-key")
    if idempotency_key is not None and not 0 < len(idempotency_key) <= MAX_IDEMPOTENCY_KEY_LENGTH:
        raise RequestError(400, "invalid_idempotency_key", "Idempotency-Key must be 1 to 255 characters")
    parsed = parse_submission(
        content_type=event.headers.get("Content-Type") or event.headers.get("content-type") or "",
        body=event.body,
        is_base64_encoded=bool(event.is_base64_encoded),
        query=event.multi_value_query_string_parameters or {},
    )
    submitted = submitter().submit(
        parsed, idempotency_key=idempotency_key, caller=_caller(event.request_context.identity)
    )
    job, failure = submitted["job"], submitted["failure"]
    logger.append_keys(job_id=job["id"], request_id=job.get("request_id"))
    if failure is not None:
        return _refusal(job["id"], failure, ambiguous=True)
    metrics.add_metric(name=contract.Metrics.JOBS_SUBMITTED, unit=MetricUnit.Count, value=1)
    logger.info("job submitted", extra={"status": job["status"], "source_type": job["source"]["type"]})
    return json_response(202, job, {"Location": contract.Api.TRANSCRIPTION.format(id=job["id"])})


def _error(
    status: int, code: str, message: str, *, job_id: str | None = None, retry_after: str | None = None
) -> Response[Any]:
    metrics.add_metric(name=contract.Metrics.SUBMIT_ERRORS, unit=MetricUnit.Count, value=1)
    return error_response(status, code, message, job_id=job_id, retry_after=retry_after)


@app.exception_handler(RequestError)
def on_bad_request(error: RequestError) -> Response[Any]:
    logger.info("request refused", extra={"code": error.code, "status": error.status})
    return _error(error.status, error.code, error.message)


@app.exception_handler(SubmissionRefused)
def on_deepgram_refusal(error: SubmissionRefused) -> Response[Any]:
    failure = error.outcome.failure
    assert failure is not None  # SubmissionRefused is only raised with a failure
    return _refusal(error.outcome.job["id"], _failure_view(failure), ambiguous=False)


def _refusal(job_id: str, failure: dict[str, Any], *, ambiguous: bool) -> Response[Any]:
    logger.append_keys(job_id=job_id)
    metrics.add_metric(name=contract.Metrics.JOBS_FAILED, unit=MetricUnit.Count, value=1)
    logger.warning("Deepgram did not take the job", extra={"code": failure["code"], "ambiguous": ambiguous})
    return _error(
        failure["http_status"],
        failure["code"],
        failure["message"],
        job_id=job_id,
        retry_after=failure["retry_after"],
    )


@app.exception_handler(IdempotencyValidationError)
def on_idempotency_key_reuse(_: IdempotencyValidationError) -> Response[Any]:
    return _error(422, "idempotency_key_reused", "this Idempotency-Key was used with a different request")


@app.exception_handler(IdempotencyAlreadyInProgressError)
def on_idempotency_in_progress(_: IdempotencyAlreadyInProgressError) -> Response[Any]:
    return _error(
        409, "request_in_progress", "a request with this Idempotency-Key is in progress", retry_after="1"
    )


@app.exception_handler(DependencyError)
@app.exception_handler(IdempotencyPersistenceLayerError)
def on_dependency_error(error: Exception) -> Response[Any]:
    logger.exception("dependency failed")
    return _error(503, *SERVICE_UNAVAILABLE, retry_after="2")


@app.not_found
def on_not_found(_: Exception) -> Response[Any]:
    return _error(404, "not_found", "no such resource")


@metrics.log_metrics
@logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_REST, clear_state=True)
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    idempotency_config.register_lambda_context(context)
    return app.resolve(event, context)


warm_up_in_lambda(submitter)
